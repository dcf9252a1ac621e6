//! StatsD intake: packets of 20 metrics (counters, timers, gauges, sets, some sampled and
//! tagged) through the line parser, into observations, and with an etsy flush state fed too.
//! `cargo bench --bench statsd`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use tally::inputs::statsd::{Intake, flush, parse};

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
        let mut intake = Intake::new(Arc::default(), 100_000, Vec::new());
        let mut out = Vec::with_capacity(16_000);
        b.iter(|| {
            out.clear();
            intake.packets(packets.iter().map(Vec::as_slice), NOW, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("packets_to_observations_and_etsy_flush_state", |b| {
        let state = Arc::new(Mutex::new(flush::State::new(
            flush::Options::default(),
            NOW,
        )));
        let mut intake = Intake::new(Arc::default(), 100_000, vec![state.clone()]);
        let mut out = Vec::with_capacity(16_000);
        let mut rounds = 0;
        b.iter(|| {
            out.clear();
            intake.packets(packets.iter().map(Vec::as_slice), NOW, &mut out);
            rounds += 1;
            if rounds % 100 == 0 {
                // Keep the timer windows bounded, as a flush every interval does.
                black_box(state.lock().unwrap().flush(NOW).len());
            }
            black_box(out.len())
        })
    });
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
