//! Shipping numbers: spool append (one record of 1,000 buckets, one fdatasync each, as the
//! pipeline does per commit) and replay (reading records back, as a sender catching up after
//! an outage), and the CPU cost per bucket of each wire format (tally ingest body, remote_write
//! protobuf + snappy, carbon plaintext lines). `cargo bench --bench ship`
//!
//! Throughput to real peers and memory during an outage: `scripts/bench-ship.sh`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tally::aggregate::Bucket;
use tally::config::outputs::Naming;
use tally::metric::{Kind, Series};
use tally::ship::record::{Entry, Record};
use tally::ship::spool::Spool;

const T0: i64 = 1_700_000_000;

/// 1,000 buckets: 500 gauges and 500 timers (with sketches), one slot each.
fn record(seq: u64) -> Record {
    let mut entries = Vec::new();
    for i in 0..1000 {
        let kind = if i % 2 == 0 { Kind::Gauge } else { Kind::Timer };
        let start = T0 + seq as i64 * 10;
        let mut b = Bucket::new(kind, i as f64, start);
        for k in 0..10 {
            b.add((i * k) as f64 * 0.37, start + k);
        }
        entries.push(Entry {
            series: Series::parse(&format!("servers.host{}.app.metric{i}", i % 7)).unwrap(),
            kind,
            resolution: 10,
            buckets: vec![(start, b)],
        });
    }
    Record {
        seq,
        horizon: T0 + seq as i64 * 10 + 10,
        entries,
        events: None,
    }
}

fn spool(c: &mut Criterion) {
    let mut g = c.benchmark_group("spool");
    g.throughput(Throughput::Elements(1000));
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(dir.path(), 1 << 30).unwrap();
    let rec = record(1);
    g.bench_function("append_1000_buckets_fsync", |b| {
        b.iter(|| s.append(black_box(rec.clone())).unwrap())
    });
    drop(s);
    // Replay: a spool of 200 records (200,000 buckets), read from the start each time.
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(dir.path(), 1 << 30).unwrap();
    for i in 0..200 {
        s.append(record(i)).unwrap();
    }
    drop(s);
    g.throughput(Throughput::Elements(200_000));
    g.sample_size(10);
    g.bench_function("replay_200000_buckets", |b| {
        b.iter(|| {
            let (mut s, _) = Spool::open(dir.path(), 1 << 30).unwrap();
            let mut n = 0;
            loop {
                let got = s.read(20_000).unwrap();
                if got.is_empty() {
                    break;
                }
                n += got.iter().map(Record::points).sum::<u64>();
            }
            assert_eq!(n, 200_000);
        })
    });
    g.finish();
}

fn formats(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1000));
    let recs = vec![record(1)];
    let naming = Naming {
        statsd: false,
        prefix: String::new(),
        views: Naming::default_views(),
    };
    g.bench_function("tally_1000_buckets", |b| {
        b.iter(|| tally::ship::tally::encode(7, black_box(&recs)))
    });
    // `naming: views` (per-slot names), as before the prometheus naming existed.
    let namer = tally::ship::remote_write::Namer {
        extra: vec![("job".into(), "tally".into())],
        ..Default::default()
    };
    let totals = tally::ship::remote_write::Totals::new(1_000_000);
    g.bench_function("remote_write_1000_buckets", |b| {
        b.iter(|| {
            let (req, _) =
                tally::ship::remote_write::request(black_box(&recs), &naming, &namer, &totals);
            tally::ship::remote_write::encode(&req)
        })
    });
    // The default since the fleet work: `naming: prometheus` with the default mapping
    // (`servers.*.**` → host label), timers as summaries with running totals.
    let namer = tally::ship::remote_write::Namer {
        extra: vec![("job".into(), "tally".into())],
        mappings: tally::config::outputs::Mapping::defaults(),
        host: "bench".into(),
        prometheus: true,
        quantiles: vec![0.5, 0.9, 0.99],
        ..Default::default()
    };
    g.bench_function("remote_write_prometheus_1000_buckets", |b| {
        b.iter(|| {
            let (req, _) =
                tally::ship::remote_write::request(black_box(&recs), &naming, &namer, &totals);
            tally::ship::remote_write::encode(&req)
        })
    });
    g.bench_function("carbon_1000_buckets", |b| {
        b.iter(|| {
            let mut out = vec![Vec::new()];
            tally::ship::plaintext::lines(black_box(&recs), &naming, None, |_| 0, &mut out);
            out
        })
    });
    let body = tally::ship::tally::encode(7, &recs);
    g.bench_function("ingest_decode_1000_buckets", |b| {
        b.iter(|| tally::ship::tally::decode(black_box(&body)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, spool, formats);
criterion_main!(benches);
