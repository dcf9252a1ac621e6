//! Several tallies behind one real graphite-web 1.1.10 (PyPI, installed by scripts/test.sh into
//! target/peers/graphite-web): its `CLUSTER_SERVERS` are two tallies holding different hosts'
//! series, and it answers `/metrics/find` and `/render` (a glob over both, a `sumSeries` across
//! both) as one tally holding every series does. graphite-web sends its cluster requests as
//! `REMOTE_STORE_USE_POST` makes them (multipart POST: `local=1`, `format=pickle`, `noCache`,
//! `now`); the GET form is checked on a tally directly.

use crate::util::peers::{Peer, free_port, get_json, wait_until};
use crate::util::{Daemon, TestDir, unix_now};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const HOSTS_A: [&str; 2] = ["web1", "web2"];
const HOSTS_B: [&str; 1] = ["db1"];

/// The venv scripts/test.sh makes, or `None` outside CI when it is missing.
fn graphite_web() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/peers/graphite-web");
    if venv.join("bin/waitress-serve").exists() {
        return Some(venv);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "graphite-web is not installed in {}: scripts/test.sh installs it (CI=true: failing, not skipping)",
        venv.display()
    );
    eprintln!("SKIPPED: graphite-web is not installed (run scripts/test.sh to install the peers)");
    None
}

fn tally(dir: &TestDir, name: &str) -> Daemon {
    let text = format!(
        "data_dir: {}\nhostname: {name}\nhttp:\n  listen: 127.0.0.1:0\ninputs:\n  system:\n    enabled: false\n  carbon:\n    listen: 127.0.0.1:0\n    udp: false\nstorage:\n  schemas:\n    - {{ name: all, pattern: '.*', retentions: [10s:1d, 1m:7d] }}\n",
        dir.path().join(name).display()
    );
    Daemon::start(&dir.write(&format!("{name}.yaml"), &text))
}

/// 60 points 10 s apart per host: `servers.<host>.cpu` and `.mem` (every third point missing).
fn lines(hosts: &[&str], t0: i64) -> String {
    let mut out = String::new();
    for (k, host) in hosts.iter().enumerate() {
        for i in 0..60i64 {
            let t = t0 + i * 10;
            let cpu = (i % 7) as f64 * 1.5 + k as f64 * 10.0;
            out.push_str(&format!("servers.{host}.cpu {cpu} {t}\n"));
            if i % 3 != 0 {
                out.push_str(&format!("servers.{host}.mem {} {t}\n", 100 + i + k as i64));
            }
        }
    }
    out
}

fn start_graphite_web(dir: &TestDir, venv: &std::path::Path, cluster: &[SocketAddr]) -> Peer {
    let root = dir.path().join("graphite");
    for d in ["conf", "whisper", "log/webapp", "py"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let servers: Vec<String> = cluster.iter().map(|a| format!("'{a}'")).collect();
    std::fs::write(
        root.join("py/fleet_settings.py"),
        format!(
            "SECRET_KEY = 'test'\nTIME_ZONE = 'UTC'\nCLUSTER_SERVERS = [{}]\nREMOTE_STORE_USE_POST = True\nFIND_CACHE_DURATION = 0\n",
            servers.join(", ")
        ),
    )
    .unwrap();
    let env = [
        ("GRAPHITE_STORAGE_DIR", root.clone()),
        ("GRAPHITE_CONF_DIR", root.join("conf")),
        ("GRAPHITE_SETTINGS_MODULE", "fleet_settings".into()),
        ("PYTHONPATH", root.join("py")),
    ];
    let migrate = Command::new(venv.join("bin/django-admin"))
        .args([
            "migrate",
            "-v0",
            "--run-syncdb",
            "--settings=graphite.settings",
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("django-admin migrate");
    assert!(migrate.status.success(), "migrate: {migrate:?}");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    Peer::start(
        "graphite-web",
        ["env".to_string()]
            .into_iter()
            .chain(env.iter().map(|(k, v)| format!("{k}={}", v.display())))
            .chain([
                venv.join("bin/waitress-serve").display().to_string(),
                format!("--listen={addr}"),
                "--threads=2".into(),
                "graphite.wsgi:application".into(),
            ])
            .collect(),
        addr,
        root.join("graphite.log"),
    )
}

/// `(path, is_leaf)` of a `/metrics/find?format=json` answer (graphite-web's or tally's).
fn found(v: &Value) -> BTreeSet<(String, bool)> {
    v.as_array()
        .expect("find list")
        .iter()
        .map(|n| {
            let leaf = n["is_leaf"].as_bool().expect("is_leaf");
            (n["path"].as_str().expect("path").to_string(), leaf)
        })
        .collect()
}

/// A series' name and its points `(value, ts)`, nulls kept.
type Rendered = (String, Vec<(Option<f64>, i64)>);

/// Every series of a `/render` JSON answer, sorted by name.
fn rendered(v: &Value) -> Vec<Rendered> {
    let mut out: Vec<_> = v
        .as_array()
        .expect("render list")
        .iter()
        .map(|s| {
            let points = s["datapoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64(), p[1].as_i64().unwrap()))
                .collect();
            (s["target"].as_str().unwrap().to_string(), points)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn graphite_web_cluster_of_two_tallies_answers_like_one() {
    let Some(venv) = graphite_web() else {
        return;
    };
    let dir = TestDir::new();
    let (a, b, one) = (tally(&dir, "a"), tally(&dir, "b"), tally(&dir, "one"));
    let t0 = (unix_now() - 900) / 60 * 60;
    a.send_carbon(&lines(&HOSTS_A, t0));
    b.send_carbon(&lines(&HOSTS_B, t0));
    one.send_carbon(&lines(&HOSTS_A, t0));
    one.send_carbon(&lines(&HOSTS_B, t0));
    let last = t0 + 590;
    let range = format!("from={}&until={}&format=json", t0 - 60, t0 + 660);
    // Every series complete (cpu and mem: a host's last mem line comes after its last cpu line
    // and can land in a later commit).
    for (d, n) in [(&a, 4), (&b, 2), (&one, 6)] {
        d.wait_render(&format!("/render?target=servers.*.*&{range}"), |v| {
            rendered(v).len() == n
                && rendered(v)
                    .iter()
                    .all(|s| s.1.iter().any(|p| p.1 == last && p.0.is_some()))
        });
    }

    // The GET form of the cluster's find, read back by Python's pickle.
    let (status, content_type, body) =
        a.get_raw("/metrics/find/?local=1&format=pickle&query=servers.*.cpu");
    assert_eq!((status, content_type.as_str()), (200, "application/pickle"));
    let decoded = Command::new("python3")
        .args([
            "-c",
            "import pickle,sys,json; print(json.dumps(pickle.loads(sys.stdin.buffer.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&body)?;
            c.wait_with_output()
        })
        .expect("python3 pickle");
    let nodes: Value = serde_json::from_slice(&decoded.stdout).expect("pickle as json");
    assert_eq!(nodes.as_array().unwrap().len(), 2, "{nodes}");
    for n in nodes.as_array().unwrap() {
        assert_eq!(n["is_leaf"], true);
        let i = &n["intervals"][0];
        assert!(
            i[0].as_i64().unwrap() <= t0 && i[1].as_i64().unwrap() >= last,
            "{n}"
        );
    }

    let gw = start_graphite_web(&dir, &venv, &[a.http, b.http]);
    wait_until("graphite-web answers", Duration::from_secs(60), || {
        crate::util::http(gw.addr, "GET", "/version", "", "").0 == 200
    });
    for query in [
        "servers.*",
        "servers.*.*",
        "servers.{web1,db1}.mem",
        "servers.*.nothing",
    ] {
        let path = format!("/metrics/find?format=json&query={query}");
        let cluster = found(&get_json(gw.addr, &path));
        assert_eq!(cluster, found(&one.get_json(&path)), "find {query}");
        if query == "servers.*.*" {
            assert_eq!(cluster.len(), 6, "{cluster:?}");
        }
    }
    for target in [
        "servers.*.cpu",
        "servers.*.mem",
        "sumSeries(servers.*.cpu)",
        "sumSeries(servers.*.mem)",
        "maxSeries(servers.{web2,db1}.cpu)",
        "aliasByNode(servers.db1.cpu,1)",
    ] {
        let path = format!("/render?target={target}&{range}");
        let cluster = rendered(&get_json(gw.addr, &path));
        assert_eq!(cluster, rendered(&one.get_json(&path)), "render {target}");
        assert!(
            cluster.iter().all(|s| s.1.iter().any(|p| p.0.is_some())),
            "{target}: {cluster:?}"
        );
    }
}
