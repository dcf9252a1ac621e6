//! Startup on a busy host: carbon's port is already taken (by a plain socket here, a
//! carbon-cache in life). tally starts anyway: `tally check` warns about the address, the log
//! tailing runs, `/-/ready` says not ready naming the listener and its address, the failed binds
//! are counted; once the port is freed the listener binds, carbon lines arrive and tally is
//! ready again.

use crate::util::*;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !check() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sum(d: &Daemon, target: &str) -> f64 {
    let v = d.get_json(&format!("/render?target={target}&from=-1h&until=now"));
    points(&v, 0).iter().map(|p| p.0).sum()
}

#[test]
fn a_taken_carbon_port_is_retried_while_the_rest_runs() {
    let dir = TestDir::new();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let busy_udp = UdpSocket::bind(addr).unwrap();
    std::fs::create_dir_all(dir.path().join("parsers")).unwrap();
    dir.write(
        "parsers/hits.yaml",
        "name: hits\nrules:\n  - regex: '^hit'\n    metrics:\n      - { name: hits, type: counter }\n",
    );
    let log = dir.path().join("app.log");
    std::fs::write(&log, "hit\nhit\nhit\n").unwrap();
    let config = dir.write(
        "tally.yaml",
        &format!(
            "data_dir: {}\nself_metrics: {{ interval: 1s }}\nhttp: {{ listen: 127.0.0.1:0 }}\nparser_dirs: ['{}']\ninputs:\n  system: {{ enabled: false }}\n  carbon: {{ listen: '{addr}' }}\n  tail:\n    - {{ paths: ['{}'], parsers: [hits], prefix: app, start_at: beginning }}\n",
            dir.path().join("data").display(),
            dir.path().join("parsers").display(),
            log.display()
        ),
    );
    let out = tally().args(["check", "-c"]).arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a taken port is a warning: {stderr}");
    for proto in ["tcp", "udp"] {
        assert!(
            stderr.contains(&format!(
                "warning: {}: inputs.carbon.listen: {proto} {addr} cannot be bound now",
                config.display()
            )),
            "{stderr}"
        );
    }

    let d = Daemon::start(&config);
    // Everything else runs: the tail input, the store, HTTP.
    wait_for("the tailed lines", || sum(&d, "app.hits:sum") == 3.0);
    let mut body = String::new();
    wait_for("not ready, naming the listener", || {
        let (status, b) = d.get("/-/ready");
        body = b;
        status == 503
            && body.contains(&format!(
                "listener inputs.carbon.listen (tcp {addr}) not bound"
            ))
            && body.contains(&format!("listener inputs.carbon.listen (udp {addr})"))
    });
    wait_for("counted", || {
        let (_, m) = d.get("/-/metrics");
        m.contains("tally_listen_unbound 2")
    });
    assert!(sum(&d, "tally.listen.bind_failures:sum") >= 2.0);

    // The port frees: carbon binds, data arrives, tally is ready.
    drop(busy);
    drop(busy_udp);
    assert!(
        d.wait_log("Carbon listening on tcp.", Duration::from_secs(30))
            .is_some()
    );
    wait_for("a carbon line over TCP", || {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            let _ = s.write_all(format!("busy.x 7 {}\n", unix_now()).as_bytes());
        }
        std::thread::sleep(Duration::from_millis(300));
        sum(&d, "busy.x") > 0.0
    });
    wait_for("ready again", || d.get("/-/ready").0 == 200);
    let (_, m) = d.get("/-/metrics");
    assert!(m.contains("tally_listen_unbound 0"), "{m}");
}
