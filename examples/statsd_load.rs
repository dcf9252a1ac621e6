//! A StatsD load generator for scripts/bench-statsd.sh: UDP packets of N counters to a target,
//! paced or as fast as it can, from one or more threads, then a summary line.
//!
//! `cargo run --release --example statsd_load -- TARGET METRICS_PER_SEC SECONDS [PER_PACKET] [KEYS] [THREADS]`
//!
//! `METRICS_PER_SEC` 0 sends unpaced. Packets are built once, up front, and sent with
//! `sendmmsg` in batches of [`BATCH`] from each thread's own connected socket. Every metric is a
//! counter `load.k<i>:1|c`, so a receiver's totals say exactly how many metrics arrived.
//! Prints `sent_metrics=… sent_packets=… send_errors=… seconds=… offered_per_sec=…`.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Datagrams per `sendmmsg` call.
const BATCH: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!(
            "usage: statsd_load TARGET METRICS_PER_SEC SECONDS [PER_PACKET] [KEYS] [THREADS]"
        );
        std::process::exit(2);
    }
    let target = args[0].clone();
    let rate: f64 = args[1].parse().expect("METRICS_PER_SEC");
    let seconds: f64 = args[2].parse().expect("SECONDS");
    let per_packet: usize = args.get(3).map_or(20, |a| a.parse().expect("PER_PACKET"));
    let keys: usize = args.get(4).map_or(1000, |a| a.parse().expect("KEYS"));
    let threads: usize = args.get(5).map_or(1, |a| a.parse().expect("THREADS"));
    // Enough distinct packets to cover every key, cycled.
    let packets: Vec<Vec<u8>> = (0..keys.div_ceil(per_packet).max(1))
        .map(|p| {
            (0..per_packet)
                .map(|i| format!("load.k{}:1|c", (p * per_packet + i) % keys))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        })
        .collect();
    let packet_rate = rate / per_packet as f64 / threads as f64;
    let started = Instant::now();
    let results: Vec<(u64, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (packets, target) = (&packets, &target);
                scope.spawn(move || send(target, packets, t, packet_rate, seconds))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let sent: u64 = results.iter().map(|r| r.0).sum();
    let errors: u64 = results.iter().map(|r| r.1).sum();
    let metrics = sent * per_packet as u64;
    println!(
        "sent_metrics={metrics} sent_packets={sent} send_errors={errors} seconds={secs:.3} offered_per_sec={:.0}",
        metrics as f64 / secs
    );
}

/// Sends for `seconds` at `packet_rate` packets/s (0: unpaced); returns (sent, errors).
fn send(
    target: &str,
    packets: &[Vec<u8>],
    thread: usize,
    packet_rate: f64,
    seconds: f64,
) -> (u64, u64) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(target).expect("connect");
    let fd = socket.as_raw_fd();
    let mut iovecs: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid (empty) value.
    let mut headers: Vec<libc::mmsghdr> =
        (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    let total = if packet_rate > 0.0 {
        (packet_rate * seconds).round() as u64
    } else {
        u64::MAX
    };
    let deadline = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let (mut sent, mut errors) = (0u64, 0u64);
    let mut next = thread * 7919; // threads start at different packets
    while sent < total {
        let elapsed = started.elapsed();
        if elapsed >= deadline && packet_rate <= 0.0 {
            break;
        }
        let due = if packet_rate > 0.0 {
            ((elapsed.as_secs_f64() * packet_rate) as u64).min(total)
        } else {
            sent + BATCH as u64
        };
        if due <= sent {
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        let n = ((due - sent) as usize).min(BATCH);
        for i in 0..n {
            let p = &packets[(next + i) % packets.len()];
            iovecs[i].iov_base = p.as_ptr() as *mut libc::c_void;
            iovecs[i].iov_len = p.len();
            headers[i].msg_hdr.msg_iov = &mut iovecs[i];
            headers[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the first n headers point at live iovecs over live, unmodified packets.
        let done = unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), n as libc::c_uint, 0) };
        if done <= 0 {
            // ECONNREFUSED while nobody listens, ENOBUFS: the first datagram is lost.
            errors += 1;
            sent += 1;
            next += 1;
        } else {
            sent += done as u64;
            next += done as usize;
        }
    }
    (sent, errors)
}
