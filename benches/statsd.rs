//! StatsD intake: packets of 20 metrics (counters, timers, gauges, sets, some sampled and
//! tagged) through the line parser, into observations or folded batches, with an etsy flush
//! state fed too, and on into the aggregator.
//! `cargo bench --bench statsd`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use tally::aggregate::{Aggregator, Options};
use tally::inputs::statsd::{Batch, Intake, flush, parse};
use tally::schema::{Schema, Schemas};

const NOW: i64 = 1_700_000_000;

/// 500 packets of 20 lines over 1,000 keys.
fn packets() -> Vec<Vec<u8>> {
    (0..500)
        .map(|p| {
            (0..20)
                .map(|i| {
                    let n = p * 20 + i;
                    let key = format!("app{}.svc{}.m{}", n % 10, n % 7, n % 1000);
                    match n % 10 {
                        0..=3 => format!("{key}.hits:{}|c", n % 13),
                        4 => format!("{key}.hits:1|c|@0.5"),
                        5 | 6 => format!("{key}.lat:{}.{}|ms", n % 500, n % 10),
                        7 => format!("{key}.depth:{}|g", n % 100),
                        8 => format!("{key}.users:u{}|s", n % 50),
                        _ => format!("{key}.req:1|c|#env:prod,dc:eu"),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let packets = packets();
    let metrics = (packets.len() * 20) as u64;
    let mut group = c.benchmark_group("statsd");
    group.throughput(Throughput::Elements(metrics));
    group.bench_function("parse_lines", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for p in &packets {
                let text = std::str::from_utf8(p).unwrap();
                for line in text.split('\n') {
                    parse::parse_line(line, |r| n += usize::from(r.is_ok()));
                }
            }
            black_box(n)
        })
    });
    group.bench_function("packets_to_observations", |b| {
        // One observation per value: the path folding replaced, for comparison.
        let mut intake = Intake::new(Arc::default(), 100_000, Vec::new()).unfolded();
        b.iter(|| {
            let mut batch = Batch::default();
            intake.packets(packets.iter().map(Vec::as_slice), NOW, &mut batch);
            black_box(batch.len())
        })
    });
    group.bench_function("packets_to_folded_batch", |b| {
        let mut intake = Intake::new(Arc::default(), 100_000, Vec::new());
        b.iter(|| {
            let mut batch = Batch::default();
            intake.packets(packets.iter().map(Vec::as_slice), NOW, &mut batch);
            black_box(batch.len())
        })
    });
    group.bench_function("packets_to_folded_batch_and_etsy_flush_state", |b| {
        let state = Arc::new(Mutex::new(flush::State::new(
            flush::Options::default(),
            NOW,
        )));
        let mut intake = Intake::new(Arc::default(), 100_000, vec![state.clone()]);
        let mut rounds = 0;
        b.iter(|| {
            let mut batch = Batch::default();
            intake.packets(packets.iter().map(Vec::as_slice), NOW, &mut batch);
            rounds += 1;
            if rounds % 100 == 0 {
                // Keep the timer windows bounded, as a flush every interval does.
                black_box(state.lock().unwrap().flush(NOW).len());
            }
            black_box(batch.len())
        })
    });
    group.finish();
    // What the daemon's one core does per value: intake, then the aggregator (three tiers),
    // drained as a commit would every 20 feeds. A feed here is the 500 packets five times
    // (50,000 values, 50 per key): what the UDP thread hands over every 50 ms at 1 M/s.
    let mut group = c.benchmark_group("statsd_feed");
    group.throughput(Throughput::Elements(metrics * 5));
    for folded in [false, true] {
        let name = if folded {
            "packets_into_aggregator_folded"
        } else {
            "packets_into_aggregator_one_observation_per_value"
        };
        group.bench_function(name, |b| {
            let mut intake = Intake::new(Arc::default(), 100_000, Vec::new());
            if !folded {
                intake = intake.unfolded();
            }
            let schemas = Schemas {
                list: vec![Schema::new("t", ".*", &["10s:7d", "1m:90d", "1h:5y"]).unwrap()],
            };
            let mut agg = Aggregator::new(Arc::new(schemas), Options::default());
            let mut rounds = 0;
            b.iter(|| {
                let mut batch = Batch::default();
                for _ in 0..5 {
                    intake.packets(packets.iter().map(Vec::as_slice), NOW, &mut batch);
                }
                for f in &batch.folded {
                    agg.merge(f, NOW);
                }
                for o in &batch.observations {
                    agg.observe(o, NOW);
                }
                rounds += 1;
                if rounds % 20 == 0 {
                    black_box(agg.drain().len());
                }
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("statsd_flush");
    group.throughput(Throughput::Elements(metrics));
    group.bench_function("etsy_flush_of_10k_metrics", |b| {
        b.iter_batched(
            || {
                let mut s = flush::State::new(flush::Options::default(), NOW);
                let text: Vec<String> = packets
                    .iter()
                    .map(|p| String::from_utf8(p.clone()).unwrap())
                    .collect();
                for t in &text {
                    for line in t.split('\n') {
                        parse::parse_line(line, |r| {
                            if let Ok(sample) = r {
                                s.add(&sample)
                            }
                        });
                    }
                }
                s
            },
            |mut s| black_box(s.flush(NOW).len()),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
