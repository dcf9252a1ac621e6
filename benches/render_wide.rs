//! The graphite-web side-by-side requests in process (`scripts/bench-graphite-web.sh` serves
//! the same shape of data over HTTP): 100 random-walk gauges × 7 days at 60 s, flushed to
//! segments, read through `/render`'s pipeline (params → evaluate → body) plain, through
//! `sumSeries` and `movingAverage(…,'1h')`, and as a PNG of 10 of them at 800×400; and
//! the moving-average windows of one series alone. `cargo bench --bench render_wide`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use tally::aggregate::{Aggregator, Options as AggOptions};
use tally::http::{self, Params};
use tally::metric::{Kind, Observation, Series};
use tally::query;
use tally::schema::{Schema, Schemas};
use tally::store::{Batch, Options, Store};

const NOW: i64 = 1_700_000_040;
const POINTS: i64 = 7 * 1440;

fn store(dir: &std::path::Path, schemas: &Arc<Schemas>) -> Store {
    let store = Store::open(Options {
        data_dir: dir.to_path_buf(),
        tiers: schemas.resolutions(),
        head_flush_interval: 600,
        head_max_bytes: tally::store::HEAD_MAX_BYTES,
    })
    .unwrap();
    let mut agg = Aggregator::new(schemas.clone(), AggOptions::default());
    let start = NOW - POINTS * 60;
    // The script's random walk (two decimals, within 0..100), from a fixed xorshift seed.
    let mut seed = 42u64;
    let mut uniform = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for s in 0..100 {
        let series = Series::parse(&format!("bench.h{:02}.m{:02}", s / 10, s % 10)).unwrap();
        let mut v = 10.0 + 80.0 * uniform();
        for i in 0..POINTS {
            v = (v + uniform() * 2.0 - 1.0).clamp(0.0, 100.0);
            agg.observe(
                &Observation {
                    series: series.clone(),
                    kind: Kind::Gauge,
                    value: (v * 100.0).round() / 100.0,
                    time: start + i * 60,
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
    store
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let schemas = Arc::new(Schemas {
        list: vec![Schema::new("bench", ".*", &["1m:8d"]).unwrap()],
    });
    let store = Arc::new(store(dir.path(), &schemas));
    let state = Arc::new(http::State {
        live: Arc::new(tally::live::Tier::new(Default::default())),
        store,
        settings: RwLock::new(http::Settings {
            schemas,
            query: query::Options::default(),
            default_max_data_points: None,
            token: None,
            site: Default::default(),
            token_on_loopback: false,
        }),
        stats: http::Stats::default(),
        limits: http::Limits::default(),
        ingest: http::ingest::Ingest::default(),
        patterns: Default::default(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let range = format!("from={}&until={NOW}&now={NOW}", NOW - POINTS * 60);
    let mut group = c.benchmark_group("render_wide");
    for (label, query) in [
        (
            "100x7d_mdp1000_json",
            format!("target=bench.*.*&{range}&maxDataPoints=1000&format=json"),
        ),
        (
            "100x7d_sumSeries_mdp1000_json",
            format!("target=sumSeries(bench.*.*)&{range}&maxDataPoints=1000&format=json"),
        ),
        (
            // bench-carbonapi.sh's slowest request: 1 M points of moving averages as JSON.
            "100x7d_movingAverage_1h_json",
            format!("target=movingAverage(bench.*.*,'1h')&{range}&format=json"),
        ),
        (
            "10x7d_png_800x400",
            format!("target=bench.h00.*&{range}&format=png&width=800&height=400"),
        ),
    ] {
        let params = Params::parse(Some(&query), b"");
        let format = http::render::format_of(&params);
        group.bench_function(label, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let image = http::image::format(&format);
                    let r = http::render::evaluate(&state, &params, image.is_some())
                        .await
                        .unwrap();
                    assert!(!r.series.is_empty());
                    let resp = match image {
                        Some(image) => {
                            let graph = http::image::params(&params).unwrap();
                            http::image::respond(r.series, graph, image).await.unwrap()
                        }
                        None => http::render::respond(&format, r, &params).unwrap(),
                    };
                    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    black_box(body.len())
                })
            })
        });
    }
    group.finish();
    moving(c);
}

/// The windows alone: one series of 7 days and an hour at 60 s, 60-point windows summed to
/// the bit as graphite-web sums them.
fn moving(c: &mut Criterion) {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let values: Vec<Option<f64>> = (0..POINTS + 60)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (i >= 60).then(|| (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0)
        })
        .collect();
    c.bench_function("moving_average_10140x60", |b| {
        b.iter(|| {
            let out =
                query::functions::moving::values(black_box(&values), 60, query::Agg::Average, 0.0);
            black_box(out.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
