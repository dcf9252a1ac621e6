//! Drawing a typical graph: 5 series × 1 day at 60 s (1,440 points each) with a title, legend
//! and one null gap, at graphite's default 330×250 and at 1000×500, as PNG and as SVG.
//! `cargo bench --bench graph`

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

fn bench(c: &mut Criterion) {
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
