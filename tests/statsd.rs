//! The StatsD input end to end: UDP and TCP into the real daemon, read back through /render
//! views; and the carbon output's etsy flush received by a local "Graphite".

use crate::util::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn config(dir: &TestDir, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "data_dir: {}
hostname: testhost
self_metrics:
  interval: 1s
http:
  listen: 127.0.0.1:0
storage:
  schemas:
    - {{name: all, pattern: '.*', retentions: ['1h:1d']}}
inputs:
  system:
    enabled: false
  carbon:
    enabled: false
  statsd:
    listen: 127.0.0.1:0
{extra}",
        dir.path().join("data").display()
    );
    dir.write("tally.yaml", &text)
}

fn total(d: &Daemon, target: &str) -> f64 {
    let v = d.get_json(&format!(
        "/render?target={target}&from=-2h&until=now&format=json"
    ));
    points(&v, 0).iter().map(|p| p.0).sum()
}

fn wait_total(d: &Daemon, target: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = total(d, target);
        if (got - want).abs() <= want.abs() * 1e-9 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{target}: got {got}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn udp_and_tcp_statsd_come_back_through_views() {
    let dir = TestDir::new();
    let d = Daemon::start(&config(&dir, ""));
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = d.statsd_udp.expect("statsd udp address logged");
    let timers: Vec<String> = (1..=100).map(|v| format!("api.lat:{v}|ms")).collect();
    for packet in [
        "hits:2|c|@0.5\nhits:3|c\nbroken line\nhits:x|c",
        "temp:10|g\ntemp:+5|g\ntemp:-3|g",
        "users:alice|s\nusers:bob|s\nusers:alice|s",
        "sampled:7|ms|@0.25",
        "req:1|c|#env:prod,dc:eu",
        &timers[..50].join("\n"),
        &timers[50..].join("\n"),
    ] {
        udp.send_to(packet.as_bytes(), to).unwrap();
    }
    let mut tcp = TcpStream::connect(d.statsd.expect("statsd tcp address logged")).unwrap();
    tcp.write_all(b"tcp.hits:4|c\ntcp.hits:6|c:1|c\ntcp.gauge:3|g\n")
        .unwrap();
    drop(tcp);

    wait_total(&d, "hits:sum", 7.0);
    wait_total(&d, "hits:obvs", 2.0);
    wait_total(&d, "tcp.hits:sum", 11.0);
    wait_total(&d, "api.lat:obvs", 100.0);
    wait_total(&d, "sampled:obvs", 4.0);
    wait_total(&d, "req;dc=eu;env=prod:sum", 1.0);
    wait_total(&d, "temp:last", 12.0);
    wait_total(&d, "temp:max", 15.0);
    wait_total(&d, "tcp.gauge", 3.0);
    wait_total(&d, "users", 2.0);
    // One bucket of an hour holds all of it (unless the hour turned meanwhile).
    let p90 = total(&d, "api.lat:p90");
    assert!((p90 - 90.0).abs() <= 1.0 || p90 > 100.0, "p90 {p90}");
    let rate = total(&d, "hits:sumrate");
    assert!(
        (rate - 7.0 / 3600.0).abs() < 1e-9 || rate > 0.0,
        "sumrate {rate}"
    );
    // Bad lines are counted (the rest of their packet went in), and every packet: self-metrics
    // are recorded once a second, so both are waited for.
    let deadline = Instant::now() + Duration::from_secs(30);
    while total(&d, "tally.statsd.bad_lines:sum") < 2.0
        || total(&d, "tally.statsd.packets:sum") < 8.0
    {
        assert!(
            Instant::now() < deadline,
            "bad lines {} (want 2), packets {} (want 8)",
            total(&d, "tally.statsd.bad_lines:sum"),
            total(&d, "tally.statsd.packets:sum")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_carbon_output_sends_etsys_flush() {
    let graphite = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = TestDir::new();
    let d = Daemon::start(&config(
        &dir,
        &format!(
            "outputs:
  - type: carbon
    name: graphite
    destinations: ['{}']
    reconnect_min: 20ms
    statsd: {{flush_interval: 500ms, legacy_namespace: false, percent_threshold: [90, -50]}}
",
            graphite.local_addr().unwrap()
        ),
    ));
    let (conn, _) = graphite.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(
        b"c:5|c|@0.5\nt:1|ms\nt:3|ms\nt:2|ms|@0.5\ng:4|g\ns:a|s\nbad",
        d.statsd_udp.unwrap(),
    )
    .unwrap();
    let mut seen = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in BufReader::new(conn).lines() {
        let line = line.unwrap();
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 3, "{line}");
        if f[1] != "0" || !seen.contains_key(f[0]) {
            seen.insert(f[0].to_string(), f[1].to_string());
        }
        let flush_done = f[0].ends_with("graphiteStats.flush_length");
        if (flush_done
            && seen
                .get("stats.counters.c.count")
                .is_some_and(|v| v == "10"))
            || Instant::now() > deadline
        {
            break;
        }
    }
    for (name, value) in [
        ("stats.counters.c.count", "10"),
        ("stats.counters.c.rate", "20"),
        ("stats.timers.t.count", "4"),
        ("stats.timers.t.count_ps", "8"),
        ("stats.timers.t.upper_90", "3"),
        ("stats.timers.t.lower_top50", "2"),
        ("stats.timers.t.sum_top50", "5"),
        ("stats.timers.t.median", "2"),
        ("stats.gauges.g", "4"),
        ("stats.sets.s.count", "1"),
        ("stats.counters.statsd.bad_lines_seen.count", "1"),
    ] {
        assert_eq!(
            seen.get(name).map(String::as_str),
            Some(value),
            "{name}: {seen:?}"
        );
    }
}

/// Issue 18, item 6: stopping tally during or just after an etsy flush sent a second flush
/// with the same timestamp and every counter zero, which overwrote the real one in Graphite.
/// The stop flush is stamped with the end of the interval it carries, so every flush has its
/// own timestamp and the counts add up to what was sent.
#[test]
fn a_stop_just_after_a_flush_sends_no_second_flush_with_its_timestamp() {
    for delay_ms in [0u64, 150, 600] {
        let graphite = TcpListener::bind("127.0.0.1:0").unwrap();
        let dir = TestDir::new();
        let d = Daemon::start(&config(
            &dir,
            &format!(
                "outputs:
  - type: carbon
    name: graphite
    destinations: ['{}']
    reconnect_min: 20ms
    statsd: {{flush_interval: 1s, legacy_namespace: false}}
",
                graphite.local_addr().unwrap()
            ),
        ));
        let (conn, _) = graphite.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = d.statsd_udp.unwrap();
        // (timestamp of the flush, stats.counters.c.count) for every flush received.
        let mut flushes: Vec<(i64, f64)> = Vec::new();
        let mut count = 0.0;
        let mut sent = 0u64;
        let mut stopping = None;
        for line in BufReader::new(conn).lines() {
            let Ok(line) = line else { break };
            let f: Vec<&str> = line.split(' ').collect();
            if f[0] == "stats.counters.c.count" {
                count = f[1].parse().unwrap();
            }
            if !f[0].ends_with("graphiteStats.flush_length") {
                continue;
            }
            flushes.push((f[2].parse().unwrap(), count));
            count = 0.0;
            if stopping.is_none() {
                // Traffic in every interval; after the third flush, stop `delay_ms` later.
                udp.send_to(b"c:1|c", addr).unwrap();
                sent += 1;
                if flushes.len() == 3 {
                    std::thread::sleep(Duration::from_millis(delay_ms));
                    udp.send_to(b"c:1|c", addr).unwrap();
                    sent += 1;
                    std::thread::sleep(Duration::from_millis(50));
                    d.signal("TERM");
                    stopping = Some(Instant::now());
                }
            }
        }
        let stamps: Vec<i64> = flushes.iter().map(|f| f.0).collect();
        assert!(
            stamps.windows(2).all(|w| w[0] < w[1]),
            "stop {delay_ms} ms after a flush: flush timestamps {stamps:?}"
        );
        let total: f64 = flushes.iter().map(|f| f.1).sum();
        assert_eq!(total, sent as f64, "{flushes:?}");
        drop(d);
    }
}
