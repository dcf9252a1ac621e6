//! System collectors: one round of every default collector on this machine's real /proc (the
//! Diamond set: cpu memory loadavg vmstat diskspace iostat network sockets tcp uptime), after a
//! first round so rates are computed. Target: < 1 ms of CPU per round. Also each collector on
//! its own, and `processes` (opt-in; one file per process).
//!
//! Run: `cargo bench --bench collect` (needs `[[bench]] name = "collect" harness = false`). The
//! CPU time per round (CLOCK_THREAD_CPUTIME_ID over 2,000 rounds) is printed before the timings.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tally::inputs::collect::{Collectors, DEFAULT_COLLECTORS, Settings};

fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn collectors(names: &[&str]) -> Collectors {
    let mut c = Collectors::new(Settings {
        prefix: "servers.bench".into(),
        collectors: names.iter().map(|s| s.to_string()).collect(),
        ..Settings::default()
    })
    .expect("default settings are valid");
    c.collect(1_700_000_000, 0.0);
    c
}

fn bench(c: &mut Criterion) {
    let mut round = collectors(DEFAULT_COLLECTORS);
    let rounds = 2_000;
    let start = thread_cpu_seconds();
    let mut series = 0;
    for i in 0..rounds {
        series = round.collect(1_700_000_010 + i, 10.0).len();
    }
    let per_round = (thread_cpu_seconds() - start) / rounds as f64;
    eprintln!(
        "collect: one round of the {} default collectors: {:.1} µs CPU, {series} observations",
        DEFAULT_COLLECTORS.len(),
        per_round * 1e6
    );

    let mut group = c.benchmark_group("collect");
    group.bench_function("default_round", |b| {
        let mut t = 1_700_100_000;
        b.iter(|| {
            t += 10;
            black_box(round.collect(t, 10.0))
        })
    });
    for name in DEFAULT_COLLECTORS.iter().chain(&["pressure", "processes"]) {
        let mut one = collectors(&[name]);
        group.bench_function(*name, |b| {
            let mut t = 1_700_100_000;
            b.iter(|| {
                t += 10;
                black_box(one.collect(t, 10.0))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
