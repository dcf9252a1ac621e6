//! Log files end to end: the real daemon tails files through a parser into the store, across
//! the real `logrotate` and across `kill -9`.

use crate::util::*;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PARSER: &str = "\
name: hits
rules:
  - regex: '^hit (?P<n>\\d+)'
    metrics:
      - { name: hits, type: counter }
";

fn config(dir: &TestDir, log: &Path, extra: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.path().join("parsers")).unwrap();
    dir.write("parsers/hits.yaml", PARSER);
    dir.config(&format!(
        "  tail:\n    - paths: [{}]\n      parsers: [hits]\n      prefix: app\n      start_at: beginning\nparser_dirs: [{}]\n{extra}",
        log.display(),
        dir.path().join("parsers").display()
    ))
}

fn total_hits(d: &Daemon) -> f64 {
    let v = d.get_json("/render?target=app.hits:sum&from=-1h&until=now");
    points(&v, 0).iter().map(|p| p.0).sum()
}

fn wait_total(d: &Daemon, want: f64, timeout: Duration) -> f64 {
    let deadline = Instant::now() + timeout;
    loop {
        let got = total_hits(d);
        if got >= want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn kill_9_mid_file_and_restart_counts_every_line_once() {
    let dir = TestDir::new();
    let log = dir.path().join("big.log");
    let n = 300_000;
    let text: String = (0..n)
        .map(|i| format!("hit {i} some padding to make the line longer\n"))
        .collect();
    std::fs::write(&log, text).unwrap();
    let config = config(&dir, &log, "storage:\n  commit_interval: 100ms\n");
    let d = Daemon::start(&config);
    // Kill as soon as part of the file is committed, before all of it is.
    let deadline = Instant::now() + Duration::from_secs(30);
    while total_hits(&d) == 0.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = total_hits(&d);
    d.kill9();
    eprintln!("committed before kill -9: {before} of {n}");
    let d = Daemon::start(&config);
    let got = wait_total(&d, n as f64, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500)); // anything counted twice would show now
    assert_eq!(total_hits(&d), n as f64, "after restart: got {got}");
}

fn logrotate_or_fail() -> Option<std::path::PathBuf> {
    let found = [
        "/usr/sbin/logrotate",
        "/sbin/logrotate",
        "/usr/bin/logrotate",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "logrotate is required in CI (apt-get install logrotate)"
        );
        eprintln!("SKIP: logrotate not installed");
    }
    found
}

#[test]
fn logrotate_create_while_writing_loses_nothing() {
    let Some(logrotate) = logrotate_or_fail() else {
        return;
    };
    let dir = TestDir::new();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let config = config(&dir, &log, "storage:\n  commit_interval: 200ms\n");
    let d = Daemon::start(&config);
    let rotate_conf = dir.write(
        "logrotate.conf",
        &format!(
            "{} {{\n  rotate 5\n  create\n  missingok\n  nocompress\n}}\n",
            log.display()
        ),
    );
    let state = dir.path().join("logrotate.state");
    let written = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, written, stop) = (log.clone(), written.clone(), stop.clone());
        std::thread::spawn(move || {
            // Like a daemon that reopens its log by name for each write batch.
            while !stop.load(Ordering::SeqCst) {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap();
                for _ in 0..50 {
                    let i = written.fetch_add(1, Ordering::SeqCst);
                    writeln!(f, "hit {i}").unwrap();
                }
                drop(f);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(400));
        let out = std::process::Command::new(&logrotate)
            .arg("-f")
            .arg("-s")
            .arg(&state)
            .arg(&rotate_conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "logrotate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let n = written.load(Ordering::SeqCst) as f64;
    assert!(dir.path().join("app.log.1").exists(), "logrotate rotated");
    let got = wait_total(&d, n, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(total_hits(&d), n, "lines written {n}, counted {got}");
}

/// SIGHUP re-reads the parser files and restarts the tail inputs from where they are: a changed
/// parser applies to the lines after the reload, and no line is lost or counted twice across
/// the switch while a writer keeps appending. A broken parser file is rejected and the running
/// parsers go on.
#[test]
fn sighup_reloads_parsers_without_losing_or_repeating_a_line() {
    let dir = TestDir::new();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let config = config(&dir, &log, "storage:\n  commit_interval: 100ms\n");
    let d = Daemon::start(&config);
    // The writer appends on until the reload has happened and a few batches more, so lines are
    // read both before and after the switch however slow the reload is (a fixed count of lines
    // could all be read before, or after, a reload that was late or early on a loaded machine).
    let reloaded = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, reloaded) = (log.clone(), reloaded.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            let (mut i, mut after) = (0, 0);
            while i < 20_000 || after < 3 {
                for _ in 0..500 {
                    writeln!(f, "hit {i}").unwrap();
                    i += 1;
                }
                std::thread::sleep(Duration::from_millis(40));
                if reloaded.load(Ordering::SeqCst) {
                    after += 1;
                }
            }
            i
        })
    };
    // Some lines read by the old parser first.
    let read_before = wait_total(&d, 1.0, Duration::from_secs(30));
    if read_before < 1.0 {
        reloaded.store(true, Ordering::SeqCst); // the writer stops
        panic!("nothing read within 30 s");
    }
    dir.write(
        "parsers/hits.yaml",
        &format!("{PARSER}      - {{ name: hits_after_reload, type: counter }}\n"),
    );
    d.signal("HUP");
    let line = d.wait_log("Config reloaded", Duration::from_secs(30));
    reloaded.store(true, Ordering::SeqCst);
    assert!(
        line.as_deref()
            .is_some_and(|l| l.contains("inputs.tail and parsers")),
        "{line:?}"
    );
    let n = writer.join().unwrap();
    let got = wait_total(&d, n as f64, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500)); // anything counted twice would show now
    assert_eq!(total_hits(&d), n as f64, "got {got}");
    let v = d.get_json("/render?target=app.hits_after_reload:sum&from=-1h&until=now");
    let after: f64 = points(&v, 0).iter().map(|p| p.0).sum();
    assert!(after > 0.0 && after < n as f64, "{after}");

    // A parser file that no longer loads: rejected, the old parsers keep counting.
    dir.write(
        "parsers/hits.yaml",
        "name: hits\nrules:\n  - regex: '(unclosed'\n",
    );
    d.signal("HUP");
    assert!(
        d.wait_log("not reloaded", Duration::from_secs(30))
            .is_some(),
        "a broken parser is rejected"
    );
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for i in 0..10 {
        writeln!(f, "hit {i}").unwrap();
    }
    let got = wait_total(&d, n as f64 + 10.0, Duration::from_secs(30));
    assert_eq!(got, n as f64 + 10.0);
}
