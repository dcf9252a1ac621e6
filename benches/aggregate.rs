//! Aggregation throughput: observations folded per second into a 3-tier schema.
//! `cargo bench --bench aggregate`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use tally::aggregate::{Aggregator, Options};
use tally::metric::{Kind, Observation, Series};
use tally::schema::Schemas;

const NOW: i64 = 1_700_000_000;

fn observations(series: usize, per_series: usize, kind: Kind) -> Vec<Observation> {
    let names: Vec<Series> = (0..series)
        .map(|i| Series::parse(&format!("servers.host{:03}.app.requests.{i}", i % 100)).unwrap())
        .collect();
    (0..series * per_series)
        .map(|i| Observation {
            series: names[i % series].clone(),
            kind,
            value: (i % 977) as f64 * 0.25,
            time: NOW - 10 + (i / series) as i64 % 10,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("aggregate");
    for (label, kind) in [
        ("gauge", Kind::Gauge),
        ("counter", Kind::Counter),
        ("timer", Kind::Timer),
    ] {
        let obs = observations(1_000, 100, kind);
        group.throughput(Throughput::Elements(obs.len() as u64));
        group.bench_function(format!("observe_3_tiers/{label}"), |b| {
            let mut agg = Aggregator::new(Arc::new(Schemas::default_list()), Options::default());
            b.iter(|| {
                for o in &obs {
                    agg.observe(black_box(o), NOW);
                }
                black_box(agg.drain().len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
