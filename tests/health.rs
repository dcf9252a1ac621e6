//! `/-/healthy`, `/-/ready` and `/-/metrics` on the real binary.

use crate::util::*;
use std::time::{Duration, Instant};

fn wait_status(d: &Daemon, path: &str, want: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = d.get(path);
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: still {status} after 20 s: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn healthy_ready_and_own_metrics_for_prometheus() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    assert_eq!(d.get("/-/healthy"), (200, "healthy\n".to_string()));
    assert_eq!(wait_status(&d, "/-/ready", 200), "ready\n");
    d.send_carbon("health.test 1 -1\n");
    let text = loop {
        let (status, text) = d.get("/-/metrics");
        assert_eq!(status, 200);
        if text.contains("tally_carbon_lines_total 1\n") {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        text.contains("# TYPE tally_carbon_lines counter\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE tally_store_series gauge\n"), "{text}");
    // Every sample line is `name{labels} number`, as Prometheus' text format wants.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').expect(line);
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let bare = name.split('{').next().unwrap();
        assert!(
            bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
    }
    d.stop(Duration::from_secs(30));
}

#[test]
fn not_ready_while_an_output_cannot_deliver() {
    let dir = TestDir::new();
    // Nothing listens on a free port outside the ephemeral range (a port a closed `bind(0)`
    // listener had could be given to another test's daemon meanwhile, and delivery succeed).
    let port = crate::util::peers::free_port();
    let cfg = dir.config(&format!(
        "outputs:\n  - {{ type: remote_write, name: prom, url: 'http://127.0.0.1:{port}/api/v1/write', grace: 1s }}\n"
    ));
    // The http section of the test config gets the lag bound.
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "http:\n  listen: 127.0.0.1:0\n",
        "http:\n  listen: 127.0.0.1:0\n  ready_max_spool_lag: 2s\n",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let d = Daemon::start(&cfg);
    for i in 0..20 {
        d.send_carbon(&format!("health.undelivered {i} -1\n"));
        std::thread::sleep(Duration::from_millis(300));
        if d.get("/-/ready").0 == 503 {
            break;
        }
    }
    let body = wait_status(&d, "/-/ready", 503);
    assert!(
        body.starts_with("not ready:\n") && body.contains("output prom:"),
        "{body}"
    );
    d.stop(Duration::from_secs(30));
}
