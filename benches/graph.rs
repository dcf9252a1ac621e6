//! Drawing a typical graph: 5 series × 1 day at 60 s (1,440 points each) with a title, legend
//! and one null gap, at graphite's default 330×250 and at 1000×500, as PNG and as SVG.
//! Also the PNG of `scripts/bench-graphite-web.sh`. `cargo bench --bench graph`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tally::graph::{self, Format, Params, Series, Style};

fn data() -> Vec<Series> {
    (0..5)
        .map(|s| Series {
            name: format!("servers.web{s:02}.cpu.user"),
            start: 1_700_000_000,
            step: 60,
            values: (0..1440)
                .map(|i| {
                    let v = 40.0 + 30.0 * ((i as f64 / 60.0) + f64::from(s)).sin();
                    (!(600..630).contains(&i)).then_some(v)
                })
                .collect(),
            style: Style::default(),
        })
        .collect()
}

/// What `scripts/bench-graphite-web.sh` draws: 10 random walks (0..100) over 7 days, read at
/// maxDataPoints 800 (776 points of 13 minutes each).
fn walks() -> Vec<Series> {
    let mut seed = 42u64;
    let mut uniform = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..10)
        .map(|s| {
            let mut v = 10.0 + 80.0 * uniform();
            Series {
                name: format!("bench.h00.m{s:02}"),
                start: 1_700_000_040,
                step: 780,
                values: (0..776)
                    .map(|_| {
                        v = (v + (uniform() * 2.0 - 1.0) * 3.6).clamp(0.0, 100.0);
                        Some(v)
                    })
                    .collect(),
                style: Style::default(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let walks = walks();
    let params = Params::from_pairs(&[("width", "800"), ("height", "400")]).unwrap();
    c.bench_function("graph/png_800x400_10x776_walks", |b| {
        b.iter(|| graph::render(black_box(&params), black_box(&walks), Format::Png).unwrap())
    });
    let series = data();
    for (name, size) in [("330x250", ("330", "250")), ("1000x500", ("1000", "500"))] {
        let params = Params::from_pairs(&[
            ("width", size.0),
            ("height", size.1),
            ("title", "CPU user"),
            ("vtitle", "percent"),
        ])
        .unwrap();
        for (fmt, format) in [("png", Format::Png), ("svg", Format::Svg)] {
            c.bench_function(&format!("graph/{fmt}_{name}_5x1440"), |b| {
                b.iter(|| graph::render(black_box(&params), black_box(&series), format).unwrap())
            });
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
