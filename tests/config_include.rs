//! `include:` on the real binary: a conf.d directory's tail inputs join the main file's,
//! `tally check` validates the merged config and names both places of a duplicate, and SIGHUP
//! re-reads the included files (a new file's input starts; a broken one is rejected and the
//! running inputs go on).

use crate::util::*;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const PARSER: &str = "\
name: hits
rules:
  - regex: '^hit (?P<n>\\d+)'
    metrics:
      - { name: hits, type: counter }
";

fn tail_file(log: &Path, prefix: &str) -> String {
    format!(
        "# {prefix}\ninputs:\n  tail:\n    - paths: [{}]\n      parsers: [hits]\n      prefix: {prefix}\n      start_at: beginning\n",
        log.display()
    )
}

fn append(log: &Path, n: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    for i in 0..n {
        writeln!(f, "hit {i}").unwrap();
    }
}

fn wait_hits(d: &Daemon, prefix: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = d.get_json(&format!(
            "/render?target={prefix}.hits:sum&from=-1h&until=now"
        ));
        let got: f64 = points(&v, 0).iter().map(|p| p.0).sum();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{prefix}.hits: {got}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn check(config: &Path) -> (bool, String) {
    let out = tally().args(["check", "-c"]).arg(config).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn conf_d_inputs_join_and_reload_rereads_them() {
    let dir = TestDir::new();
    std::fs::create_dir_all(dir.path().join("parsers")).unwrap();
    std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
    dir.write("parsers/hits.yaml", PARSER);
    let (app, other) = (dir.path().join("app.log"), dir.path().join("other.log"));
    dir.write("conf.d/10-app.yaml", &tail_file(&app, "app"));
    // The include is relative to the main file's directory; parser_dirs may come from a
    // conf.d file too.
    let parsers = dir.path().join("parsers");
    dir.write(
        "conf.d/00-parsers.yaml",
        &format!("parser_dirs: ['{}']\n", parsers.display()),
    );
    let config = dir.config("include: conf.d/*.yaml\n");
    let (ok, text) = check(&config);
    assert!(ok && text.contains("1 tail input(s)"), "{text}");

    append(&app, 5);
    let d = Daemon::start(&config);
    wait_hits(&d, "app", 5.0);

    // A new conf.d file: reload starts its input, the first one goes on.
    dir.write("conf.d/20-other.yaml", &tail_file(&other, "other"));
    append(&other, 3);
    d.signal("HUP");
    assert!(
        d.wait_log("Config reloaded", Duration::from_secs(30))
            .is_some()
    );
    wait_hits(&d, "other", 3.0);
    append(&app, 2);
    wait_hits(&d, "app", 7.0);

    // A duplicate across files: check names both places; a reload is rejected.
    dir.write("conf.d/30-dup.yaml", &tail_file(&app, "dup"));
    let (ok, text) = check(&config);
    assert!(!ok, "{text}");
    let dup = dir.path().join("conf.d/30-dup.yaml");
    let first = dir.path().join("conf.d/10-app.yaml");
    assert!(
        text.contains(&format!("{}:4:", dup.display()))
            && text.contains("tailed twice")
            && text.contains(&format!("also at {}:4:", first.display())),
        "{text}"
    );
    d.signal("HUP");
    assert!(
        d.wait_log("Reload rejected", Duration::from_secs(30))
            .is_some()
    );
    append(&other, 1);
    wait_hits(&d, "other", 4.0);
}
