//! Throughput of one output to a real peer, on one core: a spool filled with gauge buckets
//! (one number each, so buckets = points) is drained by the output's sender on a
//! single-threaded runtime, and the wall time and the process's CPU time are printed.
//! Started by `scripts/bench-ship.sh`, which runs the peers:
//! `cargo bench --bench ship_peers -- <tally|remote_write|carbon> <url or host:port> [points]`

use std::sync::Arc;
use std::time::{Duration, Instant};
use tally::aggregate::Bucket;
use tally::config::outputs::{CarbonMode, Destination, Filter, Naming, Spooled as Config, Target};
use tally::metric::{Kind, Series};
use tally::ship::record::{Entry, Record};
use tally::ship::spool::Spool;
use tally::ship::{Client, Output, Stats};

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.len() < 2 {
        eprintln!("usage: ship_peers <tally|remote_write|carbon> <url|host:port> [points]");
        return;
    }
    let points: usize = args
        .get(2)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1_000_000);
    let naming = Naming {
        statsd: false,
        prefix: String::new(),
        views: Naming::default_views(),
    };
    let target = match args[0].as_str() {
        "tally" => Target::Tally {
            urls: vec![args[1].clone()],
            token: None,
            http: Default::default(),
        },
        "remote_write" => Target::RemoteWrite {
            url: args[1].clone(),
            token: None,
            naming,
            labels: vec![],
            path_label: None,
            http: Default::default(),
            prometheus: true,
            mappings: tally::config::outputs::Mapping::defaults(),
            quantiles: vec![0.5, 0.9, 0.99],
            max_series: 1_000_000,
        },
        "carbon" => {
            let (host, port) = args[1].rsplit_once(':').expect("host:port");
            Target::Carbon {
                destinations: vec![Destination {
                    host: host.into(),
                    port: port.parse().expect("port"),
                    instance: None,
                }],
                mode: CarbonMode::ConsistentHash,
                naming,
            }
        }
        other => panic!("unknown output type {other}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = Spool::open(dir.path(), 16 << 30).unwrap();
    // 10,000 series, one 10 s slot per record each, slots in the recent past.
    let series: Vec<Series> = (0..10_000)
        .map(|i| Series::parse(&format!("bench.host{}.metric{i}", i % 10)).unwrap())
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let slots = points.div_ceil(series.len());
    let t0 = (now - 10 * slots as i64 - 60) / 10 * 10;
    let fill = Instant::now();
    for slot in 0..slots {
        let start = t0 + slot as i64 * 10;
        spool
            .append(Record {
                seq: 0,
                horizon: start + 10,
                entries: series
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Entry {
                        series: s.clone(),
                        kind: Kind::Gauge,
                        resolution: 10,
                        buckets: vec![(start, Bucket::new(Kind::Gauge, (i + slot) as f64, start))],
                    })
                    .collect(),
                events: None,
            })
            .unwrap();
    }
    let total = (slots * series.len()) as u64;
    let filled = fill.elapsed();
    let output = Arc::new(Output {
        config: Config {
            name: "bench".into(),
            target,
            host: "bench".into(),
            self_prefix: Some("servers.bench".into()),
            include: Filter::default(),
            exclude: Filter::default(),
            tier: 0,
            grace: 5,
            spool_max_bytes: 16 << 30,
            max_batch: 20_000,
            timeout_secs: 60,
        },
        spool: std::sync::Mutex::new(spool),
        stats: Stats::default(),
        wake: tokio::sync::Notify::new(),
    });
    let client = Client::new(&output).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    rt.block_on(async {
        let sender = tokio::spawn(tally::ship::run_sender(output.clone(), client, stop_rx));
        while output.spool().pending() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop_tx.send(true);
        let _ = sender.await;
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let sent = output.stats.sent.load(std::sync::atomic::Ordering::Relaxed);
    let retried = output
        .stats
        .retried
        .load(std::sync::atomic::Ordering::Relaxed);
    let dropped = output
        .stats
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "{:<13} points {total:>9}  sent {sent:>9}  retried {retried}  dropped {dropped}  wall {wall:6.2} s  {:>9.0} points/s  tally CPU {cpu:5.2} s  {:>9.0} points/CPU-s  (spool fill {:.2} s)",
        args[0],
        sent as f64 / wall,
        sent as f64 / cpu.max(1e-9),
        filled.as_secs_f64(),
    );
}
