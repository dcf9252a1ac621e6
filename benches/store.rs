//! Store numbers: commit ingest (target ≥ 500k buckets/s), bytes on disk per sealed bucket for
//! 1,000 series × 1 day at 10 s (target ≤ 12, Whisper's bytes per point), `read` of one series
//! over 30 days at 1 min and 1 h and over 1 day at 10 s (target well under 1 ms), and `find`
//! over 1M names (target < 20 ms). The one-off numbers (bytes per bucket, memory per name,
//! reopen time) are printed. `cargo bench --bench store`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};
use tally::aggregate::{Bucket, Delta};
use tally::metric::glob::Glob;
use tally::metric::{Kind, Series};
use tally::schema::Tier;
use tally::store::{Batch, Options, Store};

const DAY: i64 = 86_400;
/// A day boundary, so one day at 10 s is exactly one partition.
const T0: i64 = 1_700_006_400 - 1_700_006_400 % DAY;

fn options(dir: &Path) -> Options {
    Options {
        data_dir: dir.to_path_buf(),
        tiers: vec![
            Tier {
                resolution: 10,
                retention: 7 * DAY as u64,
            },
            Tier {
                resolution: 60,
                retention: 90 * DAY as u64,
            },
            Tier {
                resolution: 3600,
                retention: 5 * 365 * DAY as u64,
            },
        ],
        head_flush_interval: 600,
        head_max_bytes: tally::store::HEAD_MAX_BYTES,
    }
}

fn delta(series: &Series, kind: Kind, resolution: u32, start: i64, value: f64) -> Delta {
    Delta {
        series: series.clone(),
        kind,
        resolution,
        start,
        bucket: Bucket::new(kind, value, start + 3),
    }
}

/// A small deterministic random number generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Compacts until no more compaction is due.
fn settle(store: &Store, now: i64) {
    loop {
        let before = store.stats().segments;
        store.maintain(now).unwrap();
        if store.stats().segments == before {
            break;
        }
    }
}

fn seg_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("seg"))
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn commit_ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(options(dir.path())).unwrap();
    // 5,000 series × 3 resolutions, as the aggregator drains them every second.
    let names: Vec<Series> = (0..5_000)
        .map(|i| Series::parse(&format!("servers.h{}.app.m{}", i % 50, i)).unwrap())
        .collect();
    let make = |round: i64| -> Vec<Delta> {
        let t = T0 + (round % 60) * 10;
        let mut out = Vec::with_capacity(names.len() * 3);
        for (i, s) in names.iter().enumerate() {
            let v = (i as f64 * 0.37 + round as f64).round();
            out.push(delta(s, Kind::Counter, 10, t, v));
            out.push(delta(s, Kind::Counter, 60, t - t % 60, v));
            out.push(delta(s, Kind::Counter, 3600, t - t % 3600, v));
        }
        out
    };
    store
        .commit(Batch {
            deltas: make(0),
            cursors: vec![],
        })
        .unwrap();
    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    group.throughput(Throughput::Elements(names.len() as u64 * 3));
    let mut round = 1;
    group.bench_function("commit/15k_buckets", |b| {
        b.iter_batched(
            || {
                round += 1;
                Batch {
                    deltas: make(round),
                    cursors: vec![("tail:/var/log/x".into(), round.to_le_bytes().to_vec())],
                }
            },
            |batch| store.commit(black_box(batch)).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// 1,000 series × 8,640 buckets: half gauges with two decimals, half integer counters; one
/// observation per bucket. `rough` makes it harder than the brief's case: gauges are uniform
/// noise instead of a random walk, counters go to 1,000, and the observation time jitters
/// within the slot.
/// Whether this is a real benchmark run (`cargo bench`) rather than `cargo test` checking that
/// the benches work: the test run uses small sizes so it takes seconds, not minutes.
fn full_size() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn sealed_day(rough: bool) {
    let hours = if full_size() { 24 } else { 1 };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(options(dir.path())).unwrap();
    let names: Vec<(Series, Kind)> = (0..1000)
        .map(|i| {
            let kind = if i % 2 == 0 {
                Kind::Gauge
            } else {
                Kind::Counter
            };
            (
                Series::parse(&format!("servers.h{}.{kind}.m{i}", i % 20)).unwrap(),
                kind,
            )
        })
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut level: Vec<f64> = (0..names.len()).map(|i| 20.0 + (i % 60) as f64).collect();
    let started = Instant::now();
    for hour in 0..hours {
        let mut deltas = Vec::with_capacity(360 * names.len());
        for slot in 0..360 {
            let start = T0 + hour * 3600 + slot * 10;
            for (i, (s, kind)) in names.iter().enumerate() {
                let v = match (kind, rough) {
                    (Kind::Gauge, false) => {
                        let step = (rng.next() % 201) as f64 - 100.0;
                        level[i] = ((level[i] * 100.0 + step).max(0.0)).round() / 100.0;
                        level[i]
                    }
                    (Kind::Gauge, true) => (rng.next() % 10_000) as f64 / 100.0,
                    (_, false) => (rng.next() % 12) as f64,
                    (_, true) => (rng.next() % 1000) as f64,
                };
                let mut d = delta(s, *kind, 10, start, v);
                if rough {
                    d.bucket.last_time = start + (rng.next() % 10) as i64;
                }
                deltas.push(d);
            }
        }
        store
            .commit(Batch {
                deltas,
                cursors: vec![],
            })
            .unwrap();
        store.flush_head().unwrap();
    }
    let ingest = started.elapsed();
    let unsealed = seg_bytes(dir.path());
    let started = Instant::now();
    settle(&store, T0 + 2 * DAY);
    let compaction = started.elapsed();
    let bytes = seg_bytes(dir.path());
    let buckets = 1000 * 360 * hours as usize;
    let id = store.lookup(names[0].0.as_str()).unwrap().id;
    assert_eq!(
        store.read(id, 10, T0, T0 + DAY).unwrap().len(),
        360 * hours as usize
    );
    println!(
        "store/bytes_per_sealed_bucket/{}: {:.3} B ({} B for {} buckets in {} file(s); {:.3} B before \
         compaction; Whisper: 12 B/point) — {} hourly commits+flushes took {:.1?}, compaction {:.1?}",
        if rough { "rough" } else { "brief" },
        bytes as f64 / buckets as f64,
        bytes,
        buckets,
        store.stats().segments,
        unsealed as f64 / buckets as f64,
        hours,
        ingest,
        compaction,
    );
}

fn bytes_per_bucket(_c: &mut Criterion) {
    sealed_day(false);
    sealed_day(true);
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(options(dir.path())).unwrap();
    let names: Vec<Series> = (0..20)
        .map(|i| Series::parse(&format!("servers.web{i}.latency")).unwrap())
        .collect();
    let end = T0 + 31 * DAY;
    for day in 0..31 {
        let mut deltas = Vec::new();
        for (i, s) in names.iter().enumerate() {
            let base = T0 + day * DAY;
            for m in 0..1440 {
                deltas.push(delta(
                    s,
                    Kind::Gauge,
                    60,
                    base + m * 60,
                    (m % 97 + i as i64) as f64 + 0.25,
                ));
            }
            for h in 0..24 {
                deltas.push(delta(
                    s,
                    Kind::Gauge,
                    3600,
                    base + h * 3600,
                    (h + i as i64) as f64 + 0.5,
                ));
            }
            if day == 30 {
                for k in 0..8640 {
                    deltas.push(delta(s, Kind::Gauge, 10, base + k * 10, (k % 13) as f64));
                }
            }
        }
        store
            .commit(Batch {
                deltas,
                cursors: vec![],
            })
            .unwrap();
        store.flush_head().unwrap();
    }
    settle(&store, end + 3 * DAY);
    let id = store.lookup(names[7].as_str()).unwrap().id;
    let mut group = c.benchmark_group("store/read");
    for (label, res, from, n) in [
        ("30d_at_1m", 60u32, end - 30 * DAY, 43_200usize),
        ("30d_at_1h", 3600, end - 30 * DAY, 720),
        ("1d_at_10s", 10, end - DAY, 8640),
    ] {
        assert_eq!(store.read(id, res, from, end).unwrap().len(), n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(label, |b| {
            b.iter(|| black_box(store.read(black_box(id), res, from, end).unwrap()))
        });
    }
    group.finish();
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

fn find(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rss_before = rss_bytes();
    let store = Store::open(options(dir.path())).unwrap();
    // 10,000 hosts × 10 groups × 10 metrics = 1M names.
    let groups = [
        "cpu", "memory", "disk", "network", "loadavg", "vmstat", "sockets", "tcp", "pressure",
        "app",
    ];
    let hosts = if full_size() { 10_000 } else { 300 };
    for h in 0..hosts {
        let mut deltas = Vec::with_capacity(100);
        for g in groups {
            for m in 0..10 {
                let s = Series::parse(&format!("servers.host{h}.{g}.metric{m}")).unwrap();
                deltas.push(delta(&s, Kind::Gauge, 10, T0, 1.0));
            }
        }
        store
            .commit(Batch {
                deltas,
                cursors: vec![],
            })
            .unwrap();
        if h % 1000 == 999 {
            store.flush_head().unwrap();
        }
    }
    store.flush_head().unwrap();
    let rss = rss_bytes().saturating_sub(rss_before);
    assert_eq!(store.stats().series, hosts * 100);
    drop(store);
    let started = Instant::now();
    let store = Store::open(options(dir.path())).unwrap();
    println!(
        "store/1M_names: reopen in {:.2?}; resident memory grew by {:.0} B per name while they were added",
        started.elapsed(),
        rss as f64 / (hosts * 100) as f64
    );
    let mut group = c.benchmark_group("store/find_1M_names");
    group.measurement_time(Duration::from_secs(3));
    let one_host = format!("servers.host{}.{{cpu,tcp}}.metric[0-4]", hosts / 2);
    for pattern in [
        "servers.host123*.cpu.*",
        "servers.*.cpu.metric1",
        one_host.as_str(),
    ] {
        let glob = Glob::parse(pattern).unwrap();
        let n = store.find(&glob).len();
        assert!(n > 0, "{pattern}");
        group.bench_with_input(
            BenchmarkId::new("find", format!("{pattern} ({n} nodes)")),
            &glob,
            |b, g| b.iter(|| black_box(store.find(black_box(g)))),
        );
    }
    group.finish();
}

criterion_group!(benches, commit_ingest, bytes_per_bucket, reads, find);
criterion_main!(benches);
