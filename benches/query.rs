//! Query latency: one series, 30 days, maxDataPoints 1000 (target < 5 ms), through the whole
//! query core (tier plan, store read, bucket merge, view). `cargo bench --bench query`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use tally::aggregate::{Aggregator, Options as AggOptions};
use tally::metric::{Kind, Observation, Series};
use tally::query::{self, Range};
use tally::schema::Schemas;
use tally::store::{Batch, Options, Store};

const NOW: i64 = 1_700_000_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let schemas = Arc::new(Schemas::default_list());
    let store = Store::open(Options {
        data_dir: dir.path().to_path_buf(),
        tiers: schemas.resolutions(),
        head_flush_interval: 600,
        head_max_bytes: tally::store::HEAD_MAX_BYTES,
    })
    .unwrap();
    // 31 days of one timer observation every 10 s, committed a day at a time, then sealed.
    let series = Series::parse("servers.web1.app.latency").unwrap();
    let mut agg = Aggregator::new(schemas.clone(), AggOptions::default());
    for day in 0..31 {
        for i in 0..8640 {
            let t = NOW - 31 * 86_400 + day * 86_400 + i * 10;
            agg.observe(
                &Observation {
                    series: series.clone(),
                    kind: Kind::Timer,
                    value: (i % 97) as f64 + 0.5,
                    time: t,
                },
                NOW,
            );
        }
        store
            .commit(Batch {
                deltas: agg.drain(),
                cursors: Vec::new(),
            })
            .unwrap();
    }
    store.flush_head().unwrap();
    let options = query::Options::default();
    let mut group = c.benchmark_group("query");
    for (label, target) in [
        ("avg", "servers.web1.app.latency"),
        ("p99", "servers.web1.app.latency:p99"),
    ] {
        group.bench_function(format!("30d_mdp1000/{label}"), |b| {
            let range = Range {
                from: NOW - 30 * 86_400,
                until: NOW,
                now: NOW,
                max_data_points: Some(1000),
            };
            b.iter(|| {
                let out =
                    query::run(&store, &schemas, &options, black_box(target), &range).unwrap();
                assert!(out[0].values.iter().flatten().count() >= 700);
                black_box(out)
            })
        });
    }
    group.bench_function("1d_10s_no_mdp", |b| {
        let range = Range {
            from: NOW - 86_400,
            until: NOW,
            now: NOW,
            max_data_points: None,
        };
        b.iter(|| {
            black_box(
                query::run(
                    &store,
                    &schemas,
                    &options,
                    "servers.web1.app.latency:max",
                    &range,
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
