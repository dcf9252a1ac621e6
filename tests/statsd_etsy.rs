//! Side by side with the real etsy statsd (npm `statsd`, installed by scripts/test.sh into
//! target/peers/statsd): both get the same randomized UDP traffic — every type, sample rates,
//! tags, multi-value lines, bad lines, idle windows — and flush to a local "Graphite" each; the
//! flushes are compared window by window, names exactly and values to float precision.
//!
//! Windows are aligned by timing: both flush every 2 s (etsy from its start, tally on wall-clock
//! multiples); the test watches when each flushes and sends every burst at the point of the
//! cycle farthest from both, so each burst lands in the same window of both.
//! Without node or the package the test fails under CI=true and is skipped (with a message)
//! otherwise.

use crate::util::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(2);
/// Cycles with traffic (and the idle ones after it) compared.
const WINDOWS: usize = 6;
const BUSY: [bool; WINDOWS] = [true, true, false, true, true, false];

fn etsy_stats_js() -> Option<PathBuf> {
    let path = std::env::var_os("TALLY_ETSY_STATSD")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/peers/statsd/node_modules/statsd/stats.js")
        });
    let node = Command::new("node").arg("--version").output().is_ok();
    (node && path.is_file()).then_some(path)
}

struct Etsy(Child);

impl Drop for Etsy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines from every connection to a listener, stamped with their arrival.
fn graphite(listener: TcpListener) -> mpsc::Receiver<(Instant, String)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(conn).lines().map_while(Result::ok) {
                    if tx.send((Instant::now(), line)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    rx
}

/// Flushes: lines grouped by arrival (a flush arrives at once; flushes are 2 s apart).
fn collect(rx: &mpsc::Receiver<(Instant, String)>, flushes: &mut Vec<(Instant, Vec<String>)>) {
    while let Ok((at, line)) = rx.try_recv() {
        match flushes.last_mut() {
            Some((start, lines)) if at.duration_since(*start) < Duration::from_millis(700) => {
                lines.push(line)
            }
            _ => flushes.push((at, vec![line])),
        }
    }
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn random_line(r: &mut Rng) -> String {
    let rate = |r: &mut Rng| r.pick(&["", "", "", "|@0.5", "|@0.1", "|@0.25", "|@1"]);
    let number = |r: &mut Rng| match r.below(3) {
        0 => r.below(1000).to_string(),
        1 => format!("{}.{}", r.below(100), r.below(100)),
        _ => (r.below(20) as f64 / 4.0).to_string(),
    };
    match r.below(12) {
        0 | 1 => {
            let key = r.pick(&["app.hits", "app.bytes", "fo/o b+ar", "h.hist", "x.unknown"]);
            let ty = match key {
                "h.hist" => "h",
                "x.unknown" => "zz",
                _ => "c",
            };
            format!("{key}:{}|{ty}{}", number(r), rate(r))
        }
        2 => format!(
            "tagged:{}|c{}|#env:{},role:web",
            r.below(10),
            rate(r),
            r.pick(&["prod", "dev"])
        ),
        3..=5 => format!(
            "{}:{}|ms{}",
            r.pick(&["api.lat", "db.query;shard=1", "lat.small"]),
            number(r),
            rate(r)
        ),
        6 | 7 => {
            let sign = r.pick(&["", "", "+", "-"]);
            format!(
                "{}:{sign}{}|g",
                r.pick(&["temp", "queue.depth", "zero"]),
                number(r)
            )
        }
        8 => format!(
            "{}:{}|s",
            r.pick(&["users", "ips"]),
            r.pick(&["alice", "bob", "carol", "10.0.0.1", "42"])
        ),
        9 => format!("mv:{}|c:{}|ms:{}|g", r.below(5), number(r), r.below(9)),
        10 => r
            .pick(&[
                "badline",
                "x:abc|c",
                "t:-1|ms",
                "y:1|c|@abc",
                "z:1",
                "g:x|g",
                "k::2|c",
            ])
            .to_string(),
        _ => "zero:0|g".to_string(),
    }
}

fn burst(r: &mut Rng) -> Vec<String> {
    (0..1 + r.below(6))
        .map(|_| {
            (0..1 + r.below(8))
                .map(|_| random_line(r))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// Names whose values depend on timing: their names must match, their values need not.
fn timing(name: &str) -> bool {
    [
        "processing_time",
        "calculationtime",
        "graphiteStats.last_flush",
        "graphiteStats.last_exception",
        "graphiteStats.flush_time",
        "graphiteStats.flush_length",
        "timestamp_lag",
    ]
    .iter()
    .any(|t| name.contains(t))
}

fn parse_flush(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "not a Graphite line: {l:?}");
            (f[0].to_string(), f[1].to_string())
        })
        .collect()
}

fn same_value(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => false,
    }
}

/// Runs one scenario: `etsy_config` (JavaScript object members) and the equivalent tally
/// `statsd:` block.
fn side_by_side(seed: u64, etsy_config: &str, tally_flush: &str) {
    let Some(stats_js) = etsy_stats_js() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "node or the npm statsd package is missing (scripts/test.sh installs it into target/peers/statsd)"
        );
        eprintln!("SKIPPED: etsy statsd not installed (run scripts/test.sh)");
        return;
    };
    let dir = TestDir::new();
    let etsy_graphite = TcpListener::bind("127.0.0.1:0").unwrap();
    let tally_graphite = TcpListener::bind("127.0.0.1:0").unwrap();
    // Ports below the ephemeral range, free for TCP and UDP both (a `bind(0)` port freed and
    // handed to etsy could be given to another test's socket before etsy binds it).
    let etsy_port = crate::util::peers::free_port();
    let config = format!(
        "{{ port: {etsy_port}, address: \"127.0.0.1\", mgmt_address: \"127.0.0.1\", mgmt_port: {},
           graphiteHost: \"127.0.0.1\", graphitePort: {}, flushInterval: {}, {etsy_config} }}",
        crate::util::peers::free_port(),
        etsy_graphite.local_addr().unwrap().port(),
        INTERVAL.as_millis()
    );
    let config_path = dir.write("etsy.js", &config);
    let mut child = Command::new("node")
        .arg(&stats_js)
        .arg(&config_path)
        .current_dir(stats_js.parent().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    let stdout = child.stdout.take().unwrap();
    let mut etsy = Etsy(child);
    let (up_tx, up_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("server is up") {
                let _ = up_tx.send(());
            }
        }
    });
    up_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("etsy statsd did not start");

    let tally_config = format!(
        "data_dir: {}
http: {{listen: 127.0.0.1:0}}
inputs:
  system: {{enabled: false}}
  carbon: {{enabled: false}}
  statsd: {{listen: 127.0.0.1:0, tcp: false}}
outputs:
  - type: carbon
    destinations: ['{}']
    statsd: {{flush_interval: {}ms, {tally_flush}}}
",
        dir.path().join("data").display(),
        tally_graphite.local_addr().unwrap(),
        INTERVAL.as_millis()
    );
    let tally = Daemon::start(&dir.write("tally.yaml", &tally_config));
    let tally_addr = tally.statsd_udp.expect("statsd udp address");
    let etsy_addr: std::net::SocketAddr = format!("127.0.0.1:{etsy_port}").parse().unwrap();
    let (etsy_rx, tally_rx) = (graphite(etsy_graphite), graphite(tally_graphite));
    let (mut etsy_flushes, mut tally_flushes) = (Vec::new(), Vec::new());

    // Learn when each flushes.
    // Generous: under a loaded CI machine the first flushes can come late.
    let deadline = Instant::now() + INTERVAL * 30;
    while etsy_flushes.len() < 2 || tally_flushes.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no idle flushes seen: etsy {}, tally {}",
            etsy_flushes.len(),
            tally_flushes.len()
        );
        if let Ok(Some(status)) = etsy.0.try_wait() {
            panic!("etsy statsd exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
        collect(&etsy_rx, &mut etsy_flushes);
        collect(&tally_rx, &mut tally_flushes);
    }
    let origin = etsy_flushes.last().unwrap().0;
    let period = INTERVAL.as_secs_f64();
    let phase = |t: Instant| {
        let d = t.saturating_duration_since(origin).as_secs_f64()
            - origin.saturating_duration_since(t).as_secs_f64();
        d.rem_euclid(period)
    };
    let (pe, pt): (f64, f64) = (0.0, phase(tally_flushes.last().unwrap().0));
    // The point of the cycle farthest from both flush phases.
    let (lo, hi) = (pe.min(pt), pe.max(pt));
    let send_phase = if hi - lo >= period - (hi - lo) {
        (lo + hi) / 2.0
    } else {
        (hi + (lo + period)) / 2.0 % period
    };
    let margin = [pe, pt]
        .iter()
        .map(|p| {
            let d = (send_phase - p).rem_euclid(period);
            d.min(period - d)
        })
        .fold(f64::MAX, f64::min);
    eprintln!(
        "flush phases: etsy 0, tally {pt:.3} s; bursts at {send_phase:.3} s (margin {margin:.3} s)"
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = Rng(seed);
    let mut sent_at = Vec::new();
    let mut cycle_start = origin + Duration::from_secs_f64(period * 2.0 + send_phase);
    while cycle_start < Instant::now() + Duration::from_millis(100) {
        cycle_start += INTERVAL;
    }
    for busy in BUSY {
        std::thread::sleep(cycle_start.saturating_duration_since(Instant::now()));
        sent_at.push(Instant::now());
        if busy {
            for packet in burst(&mut rng) {
                sock.send_to(packet.as_bytes(), etsy_addr).unwrap();
                sock.send_to(packet.as_bytes(), tally_addr).unwrap();
            }
        }
        cycle_start += INTERVAL;
    }
    std::thread::sleep(INTERVAL + Duration::from_millis(700));
    collect(&etsy_rx, &mut etsy_flushes);
    collect(&tally_rx, &mut tally_flushes);
    drop(etsy);
    drop(tally);

    let first_after = |flushes: &[(Instant, Vec<String>)]| {
        flushes
            .iter()
            .position(|(t, _)| *t > sent_at[0])
            .expect("a flush after the first burst")
    };
    let (e0, t0) = (first_after(&etsy_flushes), first_after(&tally_flushes));
    assert!(
        etsy_flushes.len() >= e0 + WINDOWS && tally_flushes.len() >= t0 + WINDOWS,
        "not enough flushes: etsy {} from {e0}, tally {} from {t0}",
        etsy_flushes.len(),
        tally_flushes.len()
    );
    let mut compared = 0;
    for w in 0..WINDOWS {
        let e = parse_flush(&etsy_flushes[e0 + w].1);
        let t = parse_flush(&tally_flushes[t0 + w].1);
        let only_etsy: Vec<_> = e.keys().filter(|k| !t.contains_key(*k)).collect();
        let only_tally: Vec<_> = t.keys().filter(|k| !e.contains_key(*k)).collect();
        assert!(
            only_etsy.is_empty() && only_tally.is_empty(),
            "window {w}: names only etsy sent {only_etsy:?}, only tally sent {only_tally:?}"
        );
        for (name, ev) in &e {
            if !timing(name) {
                assert!(
                    same_value(ev, &t[name]),
                    "window {w}: {name}: etsy {ev}, tally {}",
                    t[name]
                );
                compared += 1;
            }
        }
    }
    eprintln!("compared {compared} values over {WINDOWS} windows");
    assert!(compared > 100, "too little compared: {compared}");
}

#[test]
fn etsy_statsd_and_tally_flush_the_same_legacy_namespace() {
    side_by_side(0x5eed_0001, "", "legacy_namespace: true");
}

#[test]
fn etsy_statsd_and_tally_flush_the_same_with_options() {
    side_by_side(
        0x5eed_0002,
        "percentThreshold: [90, -25, 50.5], histogram: [{metric: \"lat\", bins: [5, 50.5, \"inf\"]}],
         deleteIdleStats: true, deleteGauges: false, graphite: {legacyNamespace: false,
         globalPrefix: \"pre\", prefixCounter: \"cnt\", globalSuffix: \"sfx\"}, prefixStats: \"sd\"",
        "legacy_namespace: false, percent_threshold: [90, -25, 50.5],
      histogram: [{metric: lat, bins: [5, 50.5, inf]}], delete_idle_stats: true,
      delete_gauges: false, global_prefix: pre, prefix_counter: cnt, global_suffix: sfx,
      prefix_stats: sd",
    );
}
