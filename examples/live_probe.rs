//! Measures a running tally's live stream from outside (scripts/bench-live.sh runs it against
//! a release daemon): observation → SSE message latency for carbon and StatsD, bytes per live
//! series per second, memory per watched series (and per watched timer) and CPU of 4
//! connections × 64 series.
//!
//! `live_probe HTTP CARBON STATSD_UDP PID` (`LIVE_PROBE_ONLY=timers`: only the watched timers)

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn open(http: SocketAddr, query: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(http).unwrap();
    write!(s, "GET /stream?{query} HTTP/1.0\r\nHost: t\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.contains(" 200 "), "{query}: {line}");
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            return r;
        }
    }
}

/// Calls `f(event, data, bytes)` for every message until `stop`.
fn read(mut r: BufReader<TcpStream>, stop: &AtomicBool, mut f: impl FnMut(&str, &str, usize)) {
    r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (mut event, mut data, mut bytes) = (String::new(), String::new(), 0);
    let mut line = String::new();
    while !stop.load(Relaxed) {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => return,
            Ok(n) => bytes += n,
            Err(_) => continue,
        }
        let l = line.trim_end();
        if l.is_empty() {
            f(&event, &data, bytes);
            (event, data, bytes) = (String::new(), String::new(), 0);
        } else if let Some(v) = l.strip_prefix("event: ") {
            event = v.into();
        } else if let Some(v) = l.strip_prefix("data: ") {
            data = v.into();
        }
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

/// A `/proc/PID/status` figure in KiB (`VmRSS:`, `RssAnon:` …).
fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime, stime are fields 14 and 15 (1-based); `rest` starts at field 3.
    rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap()
}

/// Latency of one input: a gauge whose values are sequence numbers, one every 137 ms, read as
/// `:last`; the time from sending value i to the message that carries it.
fn latency(http: SocketAddr, name: &str, mut send: impl FnMut(u64), n: u64) -> (f64, f64) {
    let sent: Arc<Mutex<Vec<f64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let r = open(http, &format!("target={name}:last"));
    let (s2, st2) = (sent.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        let mut lat = Vec::new();
        let mut seen = 0u64;
        read(r, &st2, |ev, data, _| {
            if ev != "data" {
                return;
            }
            let at = now_ms();
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            // One series (id 0): `s` is [0,1] when it has values in the message.
            let mine = v["s"].as_array().is_some_and(|s| s.len() == 2 && s[0] == 0);
            for x in v["v"].as_array().into_iter().flatten().filter(|_| mine) {
                if let Some(i) = x.as_f64().map(|f| f as u64)
                    && i > seen
                {
                    seen = i;
                    if let Some(t) = s2.lock().unwrap().get(i as usize) {
                        lat.push(at - t);
                    }
                }
            }
        });
        lat
    });
    std::thread::sleep(Duration::from_millis(1500));
    sent.lock().unwrap().push(0.0);
    for i in 1..=n {
        sent.lock().unwrap().push(now_ms());
        send(i);
        std::thread::sleep(Duration::from_millis(137));
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Relaxed);
    let mut lat = reader.join().unwrap();
    eprintln!("{name}: {} of {n} observations seen", lat.len());
    (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99))
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let http: SocketAddr = a[1].parse().unwrap();
    let carbon: SocketAddr = a[2].parse().unwrap();
    let statsd: SocketAddr = a[3].parse().unwrap();
    let pid: u32 = a[4].parse().unwrap();
    if std::env::var("LIVE_PROBE_ONLY").is_ok_and(|v| v == "timers") {
        timer_memory(http, statsd, pid);
        return;
    }
    let secs = |s: f64| {
        (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as f64
            + s) as u64
    };
    let mut c = TcpStream::connect(carbon).unwrap();
    // Series to watch: made known to the store first.
    let mut seed = String::from("probe.carbon 0 ");
    seed.push_str(&secs(0.0).to_string());
    seed.push('\n');
    for i in 0..5000 {
        seed.push_str(&format!("probe.many.s{i:04} 0 {}\n", secs(0.0)));
    }
    c.write_all(seed.as_bytes()).unwrap();
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.send_to(b"probe.statsd:0|g", statsd).unwrap();
    std::thread::sleep(Duration::from_secs(3));

    let (p50, p99) = latency(
        http,
        "probe.carbon",
        |i| {
            c.write_all(format!("probe.carbon {i} {}\n", secs(0.0)).as_bytes())
                .unwrap()
        },
        400,
    );
    println!("latency carbon: p50 {p50:.1} ms, p99 {p99:.1} ms");
    let (p50, p99) = latency(
        http,
        "probe.statsd",
        |i| {
            u.send_to(format!("probe.statsd:{i}|g").as_bytes(), statsd)
                .unwrap();
        },
        400,
    );
    println!("latency statsd: p50 {p50:.1} ms, p99 {p99:.1} ms");

    // 4 connections × 64 series, every series a new full-precision value every 100 ms.
    let run = |streams: usize, seconds: u64, c: &mut TcpStream| -> (f64, f64) {
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let mut readers = Vec::new();
        for k in 0..streams {
            let q: Vec<String> = (0..64)
                .map(|i| format!("target=probe.many.s{:04}", (k % 4) * 100 + i))
                .collect();
            let r = open(http, &q.join("&"));
            let (st, b) = (stop.clone(), bytes.clone());
            readers.push(std::thread::spawn(move || {
                read(r, &st, |_, _, n| {
                    b.fetch_add(n as u64, Relaxed);
                })
            }));
        }
        std::thread::sleep(Duration::from_secs(2));
        bytes.store(0, Relaxed);
        let (t0, cpu0) = (Instant::now(), cpu_ticks(pid));
        let mut x = 0.123_456_789_012_345_f64;
        while t0.elapsed() < Duration::from_secs(seconds) {
            let mut batch = String::new();
            for i in 0..256 {
                x = (x * 3.987_654_321).fract() + 0.000_001;
                batch.push_str(&format!(
                    "probe.many.s{:04} {x} {}\n",
                    (i / 64) * 100 + i % 64,
                    secs(0.0)
                ));
            }
            c.write_all(batch.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu = (cpu_ticks(pid) - cpu0) as f64 / 100.0 / elapsed * 100.0;
        let total = bytes.load(Relaxed) as f64;
        stop.store(true, Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        (cpu, total / elapsed)
    };
    let (cpu_without, _) = run(0, 20, &mut c);
    let (cpu_with, bps) = run(4, 20, &mut c);
    println!(
        "4 connections × 64 series, 2,560 obs/s in: tally CPU {cpu_with:.2}% of a core with the streams, {cpu_without:.2}% without (difference {:.2}%)",
        cpu_with - cpu_without
    );
    println!(
        "wire: {:.0} B/s per live series ({:.0} B/s for 256 series)",
        bps / 256.0,
        bps
    );

    // Memory: RSS before and after watching 5,000 series more (one connection).
    std::thread::sleep(Duration::from_secs(12));
    let before = rss_kb(pid);
    let stop = AtomicBool::new(false);
    let r = open(http, "target=probe.many.*");
    std::thread::sleep(Duration::from_secs(3));
    let after = rss_kb(pid);
    println!(
        "memory: RSS {before} KiB → {after} KiB watching 5,000 series: {:.1} KB per watched series",
        (after.saturating_sub(before)) as f64 * 1024.0 / 5000.0 / 1000.0
    );
    stop.store(true, Relaxed);
    drop(r);
    timer_memory(http, statsd, pid);
}

/// One reading of the daemon's memory, taken just after one of its heap trims (every 30 s;
/// `LIVE_PROBE_LOG` names its JSON log, with `Heap trimmed.` logged at debug): RSS and
/// anonymous memory from `/proc` (KiB) with nothing freed-but-kept left to give back, and
/// malloc's bytes in use at the trim (KiB). Without the log, at once and with no heap figure.
struct Reading {
    at: Instant,
    rss: u64,
    anon: u64,
    heap: Option<u64>,
}

fn reading(pid: u32) -> Reading {
    let log = std::env::var("LIVE_PROBE_LOG").ok();
    let trims = |log: &str| -> Vec<u64> {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("\"Heap trimmed.\""))
            .filter_map(|l| {
                serde_json::from_str::<serde_json::Value>(l).ok()?["fields"]["heap"].as_u64()
            })
            .collect()
    };
    let mut heap = None;
    if let Some(log) = &log {
        let seen = trims(log).len();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(45) {
            std::thread::sleep(Duration::from_millis(200));
            if let Some(h) = trims(log).get(seen) {
                heap = Some(h / 1024);
                break;
            }
        }
    }
    Reading {
        at: Instant::now(),
        rss: rss_kb(pid),
        anon: status_kb(pid, "RssAnon:"),
        heap,
    }
}

/// Growth per watched timer (KB) of one figure: the watched spell's growth less the unwatched
/// spell's growth rate over the watched spell's length (the store head grows all along).
fn per_timer(f: impl Fn(&Reading) -> u64, r: [&Reading; 3], timers: usize) -> f64 {
    let secs = |a: &Reading, b: &Reading| (b.at - a.at).as_secs_f64();
    let grew = |a: &Reading, b: &Reading| f(b) as f64 - f(a) as f64;
    let rate = grew(r[0], r[1]) / secs(r[0], r[1]);
    (grew(r[1], r[2]) - rate * secs(r[1], r[2])) * 1024.0 / timers as f64 / 1000.0
}

/// Memory per watched timer: `LIVE_PROBE_TIMERS` StatsD timers (500) at `LIVE_PROBE_RATE`
/// lognormal values a second each (100; median 40, σ 0.8). The stored side grows with the
/// traffic too (the head), so memory grows over 65 s with nothing watched, then over 65 s with
/// one connection watching them all at their default view (`avg`): the difference from the
/// unwatched growth rate is the rings' and the stream's. `LIVE_PROBE_CONTROL=1`: a second
/// unwatched spell first, the one compared with (the method's control).
fn timer_memory(http: SocketAddr, statsd: SocketAddr, pid: u32) {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (timers, rate) = (
        env("LIVE_PROBE_TIMERS", 500),
        env("LIVE_PROBE_RATE", 100).max(1),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let mut uniform = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
            };
            let t0 = Instant::now();
            let mut tick = 0u32;
            while !stop.load(Relaxed) {
                let mut datagram = String::new();
                for i in 0..timers {
                    let z = (-2.0 * uniform().ln()).sqrt()
                        * (2.0 * std::f64::consts::PI * uniform()).cos();
                    datagram.push_str(&format!(
                        "probe.t.s{i:03}:{:.3}|ms\n",
                        40.0 * (0.8 * z).exp()
                    ));
                    if datagram.len() > 1300 {
                        u.send_to(datagram.trim_end().as_bytes(), statsd).unwrap();
                        datagram.clear();
                    }
                }
                if !datagram.is_empty() {
                    u.send_to(datagram.trim_end().as_bytes(), statsd).unwrap();
                }
                tick += 1;
                let next = t0 + Duration::from_secs(1) * tick / rate as u32;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };
    // Past the linger of rings watched before (10 s) and a heap trim (every 30 s).
    std::thread::sleep(Duration::from_secs(50));
    let mut r0 = reading(pid);
    std::thread::sleep(Duration::from_secs(65));
    let mut r1 = reading(pid);
    let show = |r: &Reading| {
        format!(
            "RSS {} KiB, anonymous {} KiB, heap {:?} KiB",
            r.rss, r.anon, r.heap
        )
    };
    if std::env::var("LIVE_PROBE_CONTROL").is_ok() {
        // The method's control: a second spell with nothing watched grows like the first
        // (then the watched spell is compared with this one).
        std::thread::sleep(Duration::from_secs(65));
        let rc = reading(pid);
        println!(
            "memory control, nothing watched: {} → {} in {:.0} s",
            show(&r1),
            show(&rc),
            (rc.at - r1.at).as_secs_f64()
        );
        (r0, r1) = (r1, rc);
    }
    let done = Arc::new(AtomicBool::new(false));
    let r = open(http, "target=probe.t.*");
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || read(r, &done, |_, _, _| {}))
    };
    std::thread::sleep(Duration::from_secs(65));
    let r2 = reading(pid);
    println!(
        "memory: {timers} StatsD timers at {rate} values/s each: nothing watched {} → {} in {:.0} s, watched → {} in {:.0} s",
        show(&r0),
        show(&r1),
        (r1.at - r0.at).as_secs_f64(),
        show(&r2),
        (r2.at - r1.at).as_secs_f64()
    );
    let heap = r2
        .heap
        .map(|_| per_timer(|r| r.heap.unwrap_or(0), [&r0, &r1, &r2], timers));
    println!(
        "memory per watched timer: RSS {:.1} KB, anonymous {:.1} KB, heap in use {}",
        per_timer(|r| r.rss, [&r0, &r1, &r2], timers),
        per_timer(|r| r.anon, [&r0, &r1, &r2], timers),
        heap.map_or("unknown (no LIVE_PROBE_LOG)".into(), |h| format!(
            "{h:.1} KB"
        ))
    );
    done.store(true, Relaxed);
    stop.store(true, Relaxed);
    reader.join().unwrap();
    sender.join().unwrap();
}
