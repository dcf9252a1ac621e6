//! `/stream` at its bounds: a client that stops reading altogether (its TCP window full) is
//! dropped at `http.idle_timeout` without a queue growing for it, while other streams go on;
//! buckets another tally ships into `/api/ingest` after their live slot are counted late.

use crate::live::{Msg, Stream, open, unpack};
use crate::ship::central_config;
use crate::util::peers::{free_port, wait_until};
use crate::util::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A sample of `/-/metrics` (0 when absent).
fn metric(http: SocketAddr, name: &str) -> f64 {
    let (status, text) = crate::util::http(http, "GET", "/-/metrics", "", "");
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// A TCP connection with a 4 KiB receive buffer (set before connecting, so the window the
/// server sees stays small), which sends `GET /stream?query`, reads the head and then nothing.
fn stalled_client(http: SocketAddr, query: &str) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(addr) = http else {
        panic!("IPv4 loopback expected")
    };
    // SAFETY: plain socket calls on a descriptor this function owns until from_raw_fd takes it.
    let mut s = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket");
        let size: libc::c_int = 4096;
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "SO_RCVBUF");
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect");
        TcpStream::from_raw_fd(fd)
    };
    write!(s, "GET /stream?{query} HTTP/1.0\r\nHost: t\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_costs_no_queue() {
    let dir = TestDir::new();
    let config = dir.write(
        "tally.yaml",
        &format!(
            "data_dir: {}\nself_metrics:\n  interval: 1s\nhttp:\n  listen: 127.0.0.1:0\n  idle_timeout: 10s\ninputs:\n  system:\n    enabled: false\n  carbon:\n    listen: 127.0.0.1:0\nstorage:\n  commit_interval: 200ms\nlive:\n  max_series_per_connection: 5000\n",
            dir.path().join("data").display()
        ),
    );
    let d = Daemon::start(&config);
    const SERIES: usize = 2000;
    let all = |v: u64| -> String {
        let now = unix_now();
        (0..SERIES)
            .map(|i| format!("stall.s{i:04} {v} {now}\n"))
            .collect()
    };
    let mut carbon = TcpStream::connect(d.carbon).unwrap();
    carbon.write_all(all(0).as_bytes()).unwrap();
    d.wait_render(
        &format!("/render?target=stall.s{:04}:obvs&from=-1min", SERIES - 1),
        |v| !points(v, 0).is_empty(),
    );

    // A healthy stream on every series, asking for the whole window (a reset), read all along;
    // one series gets a new value every 100 ms, all of them one a second.
    let old = (unix_now() - 600) * 1000;
    let query = format!("target=stall.*:last&last_event_id={old}");
    let mut healthy = open(&d, &query, None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let feeder = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                i += 1;
                let mut lines = format!("stall.s0000 {i} {}\n", unix_now());
                if i.is_multiple_of(10) {
                    lines.push_str(&all(i));
                }
                if carbon.write_all(lines.as_bytes()).is_err() {
                    break;
                }
                sent.store(i, Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let reader = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || {
            let (mut first, mut seen) = (None, Vec::new());
            while !stop.load(Relaxed) {
                let Some(m) = healthy.next() else { break };
                if m.name != "series" {
                    received.fetch_add(1, Relaxed); // what tally.live.messages counts
                }

                if m.name == "series" {
                    for s in m.data["series"].as_array().unwrap() {
                        if s["name"] == "stall.s0000" {
                            first = s["id"].as_u64();
                        }
                    }
                } else if m.name == "data" {
                    let vals = unpack(&m.data)
                        .into_iter()
                        .find(|(id, _)| Some(*id) == first);
                    if let Some((_, vals)) = vals {
                        seen.extend(vals.iter().filter_map(|v| v.as_f64()).map(|v| v as u64));
                    }
                }
            }
            seen
        })
    };
    // Past its reset (a debug build takes seconds to make and parse 6 MB): it reads data.
    wait_until(
        "the healthy stream past its reset",
        Duration::from_secs(60),
        || received.load(Relaxed) > 5,
    );
    std::thread::sleep(Duration::from_secs(2));
    let before = rss_kib(d.child.id());

    // The stalled one watches the same series and asks for the same reset (2,000 × 600
    // slots, ~6 MB): more than the socket buffers take, so its writes block.
    let mut stalled = stalled_client(d.http, &query);
    wait_until("both streams open", Duration::from_secs(20), || {
        metric(d.http, "tally_live_connections") == 2.0
    });
    let stalled_from = sent.load(Relaxed);
    // While its writes block, no message is made for it: tally.live.messages grows by what
    // the healthy stream receives (give or take the one-second self-metrics round at each
    // end), where a stream that went on would add ten a second.
    std::thread::sleep(Duration::from_secs(2));
    let (made0, got0) = (
        metric(d.http, "tally_live_messages_total"),
        received.load(Relaxed),
    );
    std::thread::sleep(Duration::from_secs(6));
    let (made1, got1) = (
        metric(d.http, "tally_live_messages_total"),
        received.load(Relaxed),
    );
    let extra = (made1 - made0) - (got1 - got0) as f64;
    eprintln!(
        "stalled: {} messages made, {} received",
        made1 - made0,
        got1 - got0
    );
    assert!(
        extra.abs() <= 25.0,
        "{} messages made, {} received by the healthy stream in 6 s",
        made1 - made0,
        got1 - got0
    );
    let mut peak = before;
    wait_until(
        "the stalled stream dropped at http.idle_timeout",
        Duration::from_secs(60),
        || {
            peak = peak.max(rss_kib(d.child.id()));
            metric(d.http, "tally_live_connections") == 1.0
                && metric(d.http, "tally_http_timeouts_total") >= 1.0
        },
    );
    let dropped_at = sent.load(Relaxed);
    // The rings are shared with the healthy stream: what the stalled one costs is the reset
    // it is stuck on (its values, ~19 MB of them while it is built, its JSON and SSE text,
    // ~6 MB each), not a queue.
    let grown = peak.saturating_sub(before);
    eprintln!("stalled: RSS {before} KiB, peak {peak} KiB");
    assert!(
        grown < 64 * 1024,
        "RSS grew by {grown} KiB for a stalled stream"
    );

    // The other stream went on: values sent while the first was stalled and after it was
    // dropped arrive.
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Relaxed);
    feeder.join().unwrap();
    let seen = reader.join().unwrap();
    let during = seen
        .iter()
        .filter(|v| (stalled_from..dropped_at).contains(v))
        .count() as u64;
    assert!(
        during * 2 >= dropped_at - stalled_from,
        "the healthy stream saw {during} of {} values sent during the stall",
        dropped_at - stalled_from
    );
    assert!(
        seen.iter().any(|v| *v > dropped_at + 5),
        "the healthy stream saw nothing after the drop"
    );

    // The dropped client, reading at last, gets what was in the buffers and then the end.
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0usize;
    let ended = loop {
        match stalled.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("the stalled stream did not end after {got} bytes: {e}"),
        }
    };
    assert!(ended);
    assert!(
        got < 32 << 20,
        "{got} bytes reached a client that read nothing"
    );
}

/// Reads until a `data` frame reaches `until_ms`; returns the values of series `id` seen.
fn values_until(s: &mut Stream, id: u64, until_ms: i64) -> Vec<f64> {
    let mut values = Vec::new();
    s.until(Duration::from_secs(30), |m: &Msg| {
        if m.name != "data" && m.name != "reset" {
            return false;
        }
        for (i, vals) in unpack(&m.data) {
            if i == id {
                values.extend(vals.iter().filter_map(|v| v.as_f64()));
            }
        }
        m.id.is_some_and(|end| end >= until_ms)
    });
    values
}

#[test]
fn ingested_buckets_after_their_slot_are_counted_late() {
    let dir = TestDir::new();
    let port = free_port();
    let central = Daemon::start(&central_config(&dir, port));
    // The host ships 1 s buckets with the default grace (5 s): every one arrives after its
    // live slot, further than live.max_lag (2 s).
    let host = Daemon::start(&dir.config(&format!(
        "{}outputs:\n  - {{ type: tally, url: 'http://127.0.0.1:{port}', exclude: [tally] }}\n",
        crate::ship::SCHEMA
    )));
    let obvs = |addr| -> f64 {
        crate::ship::render(addr, "ing.a:obvs", "-10min")
            .iter()
            .map(|p| p.0)
            .sum()
    };
    host.send_carbon(&format!("ing.a 1 {}\n", unix_now()));
    wait_until("the central has ing.a", Duration::from_secs(60), || {
        obvs(central.http) == 1.0
    });
    let mut s = open(&central, "target=ing.a", None).unwrap();
    let series = s.until(Duration::from_secs(30), |m| m.name == "series");
    let id = series.last().unwrap().data["series"][0]["id"]
        .as_u64()
        .unwrap();
    let late0 = metric(central.http, "tally_live_late_total");
    for i in 0..20 {
        host.send_carbon(&format!("ing.a {} {}\n", i + 2, unix_now()));
        std::thread::sleep(Duration::from_millis(150));
    }
    wait_until("the central has all 21", Duration::from_secs(60), || {
        obvs(central.http) == 21.0
    });
    wait_until(
        "20 observations counted late",
        Duration::from_secs(30),
        || metric(central.http, "tally_live_late_total") - late0 == 20.0,
    );
    let now = crate::util::unix_now() * 1000;
    let values = values_until(&mut s, id, now);
    assert!(
        values.is_empty(),
        "late buckets reached the stream: {values:?}"
    );
}
