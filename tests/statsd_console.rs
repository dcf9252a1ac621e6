//! etsy's management console on the real daemon: help, health, stats, counters/timers/gauges
//! (compared with what node's own `util.inspect` prints for the same object, when node is
//! installed; required under CI=true), deletions and quit.

use crate::util::peers::require;
use crate::util::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

fn ask(conn: &mut BufReader<TcpStream>, command: &str, until: &str) -> String {
    conn.get_mut()
        .write_all(format!("{command}\n").as_bytes())
        .unwrap();
    let mut text = String::new();
    while !text.ends_with(until) {
        let mut line = String::new();
        assert!(
            conn.read_line(&mut line).unwrap() > 0,
            "closed after {text:?}"
        );
        text.push_str(&line);
    }
    text
}

/// `util.inspect(JSON.parse(json))` by node.
fn node_inspect(node: &std::path::Path, json: &str) -> String {
    let out = Command::new(node)
        .args([
            "-e",
            "process.stdout.write(require('util').inspect(JSON.parse(process.argv[1])))",
            json,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_management_console_answers_as_etsy_does() {
    // The hourly flush comes at the turn of the hour and resets what the console shows: a test
    // started in the last minute before it waits for it to pass.
    let to_hour = 3600 - unix_now().rem_euclid(3600);
    if to_hour < 60 {
        std::thread::sleep(Duration::from_secs(to_hour as u64 + 1));
    }
    let dir = TestDir::new();
    let text = format!(
        "data_dir: {}
http: {{ listen: 127.0.0.1:0 }}
inputs:
  system: {{ enabled: false }}
  carbon: {{ enabled: false }}
  statsd:
    listen: 127.0.0.1:0
    management: {{ listen: 127.0.0.1:0 }}
outputs:
  - {{ type: carbon, destinations: ['127.0.0.1:9'], statsd: {{ flush_interval: 1h }} }}
",
        dir.path().join("data").display()
    );
    let d = Daemon::start(&dir.write("tally.yaml", &text));
    let mut conn = BufReader::new(
        TcpStream::connect(d.statsd_management.expect("management address logged")).unwrap(),
    );
    assert!(ask(&mut conn, "help", "\n\n").starts_with("Commands: stats, counters, timers"));
    assert_eq!(ask(&mut conn, "health", "\n"), "health: up\n");
    assert_eq!(ask(&mut conn, "health down", "\n"), "health: down\n");
    assert_eq!(ask(&mut conn, "health", "\n"), "health: down\n");
    assert_eq!(ask(&mut conn, "nonsense", "\n"), "ERROR\n");

    // Timer values: ten (node groups them in columns) and 120 (node shows 100 and the rest
    // as "... 20 more items").
    let lat: Vec<String> = (0..10)
        .map(|i| format!("lat:{}|ms", i * 37 % 101))
        .collect();
    let big: Vec<String> = (0..120).map(|i| format!("big:{i}|ms")).collect();
    let packet = format!(
        "api.hits:3|c\napi.errors:1|c\ntemp:-2.5|g\nbroken\n{}\n{}",
        lat.join("\n"),
        big.join("\n")
    );
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(packet.as_bytes(), d.statsd_udp.unwrap())
        .unwrap();
    // The console shows the carbon output's etsy state (flushed hourly, so not reset here).
    let deadline = Instant::now() + Duration::from_secs(20);
    let (counters, timers, gauges) = loop {
        let c = ask(&mut conn, "counters", "END\n\n");
        let t = ask(&mut conn, "timers", "END\n\n");
        let g = ask(&mut conn, "gauges", "END\n\n");
        if c.contains("'api.hits': 3") && t.contains("big") && g.contains("temp") {
            break (c, t, g);
        }
        assert!(Instant::now() < deadline, "the packet never showed: {c}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stats = ask(&mut conn, "stats", "END\n\n");
    assert!(stats.starts_with("uptime: "), "{stats}");
    assert!(stats.contains("\nmessages.bad_lines_seen: 1\n"), "{stats}");

    if let Some(node) = require("node") {
        let lines = 4 + lat.len() + big.len();
        let want = node_inspect(
            &node,
            &format!(
                r#"{{"statsd.bad_lines_seen":1,"statsd.packets_received":1,"statsd.metrics_received":{lines},"api.errors":1,"api.hits":3}}"#
            ),
        );
        assert_eq!(counters, format!("{want}\nEND\n\n"));
        let lat_values: Vec<String> = (0..10).map(|i| (i * 37 % 101).to_string()).collect();
        let big_values: Vec<String> = (0..120).map(|i| i.to_string()).collect();
        let want = node_inspect(
            &node,
            &format!(
                r#"{{"big":[{}],"lat":[{}]}}"#,
                big_values.join(","),
                lat_values.join(",")
            ),
        );
        assert_eq!(timers, format!("{want}\nEND\n\n"));
        let want = node_inspect(&node, r#"{"temp":-2.5}"#);
        assert_eq!(gauges, format!("{want}\nEND\n\n"));
    }

    assert_eq!(
        ask(&mut conn, "delcounters api.* nothing", "END\n\n"),
        "deleted: api.errors\ndeleted: api.hits\nmetric nothing not found\nEND\n\n"
    );
    assert!(!ask(&mut conn, "counters", "END\n\n").contains("api."));
    conn.get_mut().write_all(b"quit\n").unwrap();
    let mut rest = String::new();
    conn.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");
}
