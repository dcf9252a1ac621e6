//! remote_write to a real Prometheus (remote-write receiver on) and a real VictoriaMetrics:
//! the series read back through their HTTP APIs equal tally's views, an outage of the peer
//! plus a `kill -9` of tally lose nothing, and neither does a batch resent after a lost ack.

use crate::ship::{feeder, host_config, render, totals, wait_fed_stored};
use crate::util::peers::{Peer, free_port, get_json, require, urlencode, wait_until};
use crate::util::{Daemon, TestDir};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn prometheus(dir: &TestDir) -> Option<Peer> {
    let bin = require("prometheus")?;
    let port = free_port();
    let cfg = dir.write("prometheus.yml", "global:\n  scrape_interval: 1m\n");
    let data = dir.path().join("prometheus-data");
    let cmd = vec![
        bin.display().to_string(),
        format!("--config.file={}", cfg.display()),
        format!("--storage.tsdb.path={}", data.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".into(),
    ];
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let peer = Peer::start("prometheus", cmd, addr, dir.path().join("prometheus.log"));
    wait_until("prometheus ready", Duration::from_secs(30), || {
        crate::util::http(addr, "GET", "/-/ready", "", "").0 == 200
    });
    Some(peer)
}

fn victoria(dir: &TestDir) -> Option<Peer> {
    let bin = require("victoria-metrics")?;
    let port = free_port();
    let cmd = vec![
        bin.display().to_string(),
        format!("-storageDataPath={}", dir.path().join("vm-data").display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-retentionPeriod=1".into(),
    ];
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    Some(Peer::start(
        "victoria-metrics",
        cmd,
        addr,
        dir.path().join("vm.log"),
    ))
}

/// `(ts seconds, value)` of every raw sample Prometheus has for the metric.
pub fn prom_samples(addr: SocketAddr, metric: &str) -> BTreeMap<i64, f64> {
    let now = crate::util::unix_now() + 60;
    let q = urlencode(&format!("{metric}[15m]"));
    let v = get_json(addr, &format!("/api/v1/query?query={q}&time={now}"));
    let mut out = BTreeMap::new();
    for series in v["data"]["result"].as_array().into_iter().flatten() {
        for p in series["values"].as_array().into_iter().flatten() {
            let ts = p[0].as_f64().unwrap() as i64;
            let val: f64 = p[1].as_str().unwrap().parse().unwrap();
            assert!(out.insert(ts, val).is_none(), "one sample per time");
        }
    }
    out
}

/// The labels Prometheus has for the metric (first series).
fn prom_labels(addr: SocketAddr, metric: &str) -> serde_json::Value {
    let v = get_json(
        addr,
        &format!("/api/v1/series?match[]={}", urlencode(metric)),
    );
    v["data"][0].clone()
}

/// Every raw sample VictoriaMetrics exports for the metric, duplicates kept.
fn vm_samples(addr: SocketAddr, metric: &str) -> Vec<(i64, f64)> {
    // Make what was just written searchable.
    let _ = crate::util::http(addr, "GET", "/internal/force_flush", "", "");
    let path = format!("/api/v1/export?match[]={}", urlencode(metric));
    let (status, body) = crate::util::http(addr, "GET", &path, "", "");
    assert_eq!(status, 200, "{body}");
    let mut out = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = v["timestamps"].as_array().unwrap();
        let vals = v["values"].as_array().unwrap();
        for (t, x) in ts.iter().zip(vals) {
            out.push((t.as_i64().unwrap() / 1000, x.as_f64().unwrap()));
        }
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn tally_view(host: &Daemon, target: &str) -> BTreeMap<i64, f64> {
    render(host.http, target, "-15min")
        .into_iter()
        .map(|(v, t)| (t, v))
        .collect()
}

/// Sends `n` timer lines over `n / 8 × 250 ms`, then waits until the host has stored them all (a
/// view read right after the last send could miss a commit that was late on a loaded machine,
/// and the peers, which got it, then never equal that view).
fn send_timers(host: &Daemon, path: &str, n: usize) {
    let stored = || -> f64 { tally_view(host, &format!("{path}:obvs")).values().sum() };
    let before = stored();
    for chunk in 0..n / 8 {
        let mut lines = String::new();
        for i in 0..8 {
            lines.push_str(&format!("{path} {} -1\n", (chunk * 8 + i) as f64 * 0.25));
        }
        host.send_carbon(&lines);
        std::thread::sleep(Duration::from_millis(250));
    }
    let want = before + (n / 8 * 8) as f64;
    wait_until(
        &format!("the host stored {want} observations of {path}"),
        Duration::from_secs(30),
        || stored() == want,
    );
}

fn rw_output(port: u16, path: &str) -> String {
    format!(
        "  - {{ type: remote_write, naming: views, url: 'http://127.0.0.1:{port}{path}', grace: 1s, include: [ship], labels: {{ job: tally }}, path_label: graphite_path, timeout: 2s }}\n"
    )
}

/// Two remote_write outputs, `prom` and `vm`, to Prometheus's and VictoriaMetrics's receivers.
fn prom_and_vm_outputs(prom_port: u16, vm_port: u16) -> String {
    let named = |port, name| {
        rw_output(port, "/api/v1/write").replacen(
            "remote_write,",
            &format!("remote_write, name: {name},"),
            1,
        )
    };
    format!("{}{}", named(prom_port, "prom"), named(vm_port, "vm"))
}

#[test]
fn prometheus_and_victoria_metrics_get_the_same_numbers() {
    let dir = TestDir::new();
    let (Some(prom), Some(vm)) = (prometheus(&dir), victoria(&dir)) else {
        return;
    };
    let outputs = prom_and_vm_outputs(prom.addr.port(), vm.addr.port());
    let host = Daemon::start(&host_config(&dir, &outputs));
    send_timers(&host, "ship.r", 48);
    wait_until("host has 48 observations", Duration::from_secs(30), || {
        tally_view(&host, "ship.r:obvs").values().sum::<f64>() == 48.0
    });
    let pairs = [
        ("ship_r_count", "ship.r:obvs"),
        ("ship_r_mean", "ship.r:avg"),
        ("ship_r_upper", "ship.r:max"),
        ("ship_r_lower", "ship.r:min"),
        ("ship_r_p99", "ship.r:p99"),
    ];
    for (metric, view) in pairs {
        let want = tally_view(&host, view);
        wait_until(
            &format!("prometheus has {metric}"),
            Duration::from_secs(30),
            || prom_samples(prom.addr, metric) == want,
        );
        wait_until(
            &format!("victoria-metrics has {metric}"),
            Duration::from_secs(30),
            || {
                // VictoriaMetrics keeps values as decimals of limited precision: 1e-9 relative.
                let got = vm_samples(vm.addr, metric);
                got.len() == want.len()
                    && got
                        .iter()
                        .zip(&want)
                        .all(|((t, v), (wt, wv))| t == wt && (v - wv).abs() <= wv.abs() * 1e-9)
            },
        );
    }
    let labels = prom_labels(prom.addr, "ship_r_count");
    assert_eq!(labels["job"], "tally", "{labels}");
    assert_eq!(labels["graphite_path"], "ship.r.count", "{labels}");
    drop(host);
    drop((prom, vm));
}

#[test]
fn prometheus_outage_and_kill9_lose_nothing() {
    let dir = TestDir::new();
    let Some(mut prom) = prometheus(&dir) else {
        return;
    };
    let cfg = host_config(&dir, &rw_output(prom.addr.port(), "/api/v1/write"));
    let mut host = Daemon::start(&cfg);
    let to = Arc::new(Mutex::new(host.carbon));
    let stop = Arc::new(AtomicBool::new(false));
    let feed = feeder(
        "ship.p",
        to.clone(),
        stop.clone(),
        Duration::from_millis(40),
    );
    std::thread::sleep(Duration::from_secs(2));
    prom.stop();
    assert!(
        host.wait_log("Delivery failed; will retry.", Duration::from_secs(30))
            .is_some()
    );
    std::thread::sleep(Duration::from_secs(1));
    host.kill9();
    host = Daemon::start(&cfg);
    let before = totals(host.http, "ship.p").0;
    *to.lock().unwrap() = host.carbon;
    std::thread::sleep(Duration::from_secs(2));
    prom.restart();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let fed = feed.join().unwrap();
    wait_fed_stored(&host, "ship.p", before, &fed);
    let want = tally_view(&host, "ship.p:obvs");
    assert!(want.len() >= 5, "{want:?}");
    wait_until(
        "prometheus has every point",
        Duration::from_secs(20),
        || prom_samples(prom.addr, "ship_p_count") == want,
    );
    assert_eq!(
        prom_samples(prom.addr, "ship_p_mean"),
        tally_view(&host, "ship.p:avg")
    );
}

/// A batch delivered whose ack was lost (a crash between the 2xx and the ack write) is sent
/// again at the next start, in one request with records never delivered. Prometheus refuses
/// that request whole (its old samples are out of order now); tally then sends its records
/// one at a time, so the new ones arrive and nothing is lost. VictoriaMetrics takes it (and
/// keeps copies of the resent samples).
#[test]
fn a_batch_resent_after_a_lost_ack_loses_nothing() {
    let dir = TestDir::new();
    let (Some(mut prom), Some(mut vm)) = (prometheus(&dir), victoria(&dir)) else {
        return;
    };
    let outputs = prom_and_vm_outputs(prom.addr.port(), vm.addr.port());
    let cfg = host_config(&dir, &outputs);
    let host = Daemon::start(&cfg);
    // Over two seconds at least: the resent samples are then older than the newest one.
    send_timers(&host, "ship.a", 72);
    let first = tally_view(&host, "ship.a:obvs");
    assert!(first.len() >= 2, "{first:?}");
    wait_until("both have the first part", Duration::from_secs(30), || {
        prom_samples(prom.addr, "ship_a_count") == first
            && vm_samples(vm.addr, "ship_a_count").len() == first.len()
    });
    // The second part is spooled, not delivered: the peers are down.
    prom.stop();
    vm.stop();
    send_timers(&host, "ship.a", 32);
    assert!(
        host.wait_log("Delivery failed; will retry.", Duration::from_secs(30))
            .is_some()
    );
    std::thread::sleep(Duration::from_secs(2));
    host.kill9();
    // As if the acks of the first part had not reached the disk before the crash.
    let spool = dir.path().join("data/spool");
    for name in ["prom", "vm"] {
        let ack = spool.join(name).join("ack");
        assert!(ack.exists(), "{}", ack.display());
        std::fs::remove_file(ack).unwrap();
    }
    prom.restart();
    vm.restart();
    let host = Daemon::start(&cfg);
    let want = tally_view(&host, "ship.a:obvs");
    assert!(want.len() > first.len(), "{want:?}");
    wait_until(
        "prometheus has every point",
        Duration::from_secs(60),
        || prom_samples(prom.addr, "ship_a_count") == want,
    );
    // It did refuse the resent request (tally logs the split before it says it is running).
    assert!(
        prom.log().contains("Out of order sample from remote write"),
        "{}",
        prom.log()
    );
    let want: Vec<(i64, f64)> = want.into_iter().collect();
    wait_until(
        "victoria-metrics has every point",
        Duration::from_secs(60),
        || {
            // VictoriaMetrics 1.79 stores the resent samples again (equal time and value; its
            // -dedup.minScrapeInterval removes such copies).
            let mut got = vm_samples(vm.addr, "ship_a_count");
            got.dedup();
            got == want
        },
    );
}
