//! A StatsD load generator for scripts/bench-statsd.sh: UDP packets of N metrics to a target at
//! a paced rate, then a summary line.
//!
//! `cargo run --release --example statsd_load -- TARGET METRICS_PER_SEC SECONDS [PER_PACKET] [KEYS]`
//!
//! Every metric is a counter `load.k<i>:1|c`, so a receiver's totals say exactly how many
//! metrics arrived. Prints `sent_metrics=… sent_packets=… seconds=… offered_per_sec=…`.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: statsd_load TARGET METRICS_PER_SEC SECONDS [PER_PACKET] [KEYS]");
        std::process::exit(2);
    }
    let target = &args[0];
    let rate: f64 = args[1].parse().expect("METRICS_PER_SEC");
    let seconds: f64 = args[2].parse().expect("SECONDS");
    let per_packet: usize = args.get(3).map_or(20, |a| a.parse().expect("PER_PACKET"));
    let keys: usize = args.get(4).map_or(1000, |a| a.parse().expect("KEYS"));
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(target).expect("connect");
    // A few hundred distinct packets, cycled.
    let packets: Vec<Vec<u8>> = (0..keys.div_ceil(per_packet).max(1))
        .map(|p| {
            (0..per_packet)
                .map(|i| format!("load.k{}:1|c", (p * per_packet + i) % keys))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        })
        .collect();
    let packet_rate = rate / per_packet as f64;
    let total = (packet_rate * seconds).round() as u64;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut errors = 0u64;
    while sent < total {
        let due = ((started.elapsed().as_secs_f64() * packet_rate) as u64).min(total);
        if due <= sent {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        while sent < due {
            if socket
                .send(&packets[(sent as usize) % packets.len()])
                .is_err()
            {
                errors += 1; // ECONNREFUSED while nobody listens, ENOBUFS
            }
            sent += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let metrics = sent * per_packet as u64;
    println!(
        "sent_metrics={metrics} sent_packets={sent} send_errors={errors} seconds={secs:.3} offered_per_sec={:.0}",
        metrics as f64 / secs
    );
}
