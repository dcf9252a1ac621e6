//! Render functions and `/render`: parsing + evaluating a typical dashboard's targets, and the
//! `/render` pipeline (params → evaluate → JSON body) for one series over one year (target
//! < 10 ms), and its fixed cost: small requests over 2 hours (evaluated on the calling thread,
//! patterns compiled once). `cargo bench --bench render`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use tally::aggregate::{Aggregator, Options as AggOptions};
use tally::http::{self, Params};
use tally::metric::{Kind, Observation, Series};
use tally::query::{self, Evaluator, Limits, Request, StoreSource};
use tally::schema::Schemas;
use tally::store::{Batch, Options, Store};

const NOW: i64 = 1_700_000_000;

/// 20 hosts × 3 metrics over 2 days at 60 s, and one gauge with a point per hour for a year.
fn store(dir: &std::path::Path, schemas: &Arc<Schemas>) -> Store {
    let store = Store::open(Options {
        data_dir: dir.to_path_buf(),
        tiers: schemas.resolutions(),
        head_flush_interval: 600,
        head_max_bytes: tally::store::HEAD_MAX_BYTES,
    })
    .unwrap();
    let mut agg = Aggregator::new(schemas.clone(), AggOptions::default());
    let mut observe = |name: &str, kind, value: f64, time| {
        agg.observe(
            &Observation {
                series: Series::parse(name).unwrap(),
                kind,
                value,
                time,
            },
            NOW,
        )
    };
    for i in 0..2 * 1440 {
        let t = NOW - 2 * 86_400 + i * 60;
        for h in 0..20 {
            observe(
                &format!("servers.web{h}.cpu.user"),
                Kind::Gauge,
                ((i + h) % 100) as f64,
                t,
            );
            observe(
                &format!("servers.web{h}.requests"),
                Kind::Counter,
                (i % 7) as f64,
                t,
            );
            observe(
                &format!("servers.web{h}.latency"),
                Kind::Gauge,
                ((i * h) % 50) as f64,
                t,
            );
        }
    }
    for i in 0..365 * 24 {
        observe(
            "year.gauge",
            Kind::Gauge,
            (i % 24) as f64,
            NOW - 365 * 86_400 + i * 3600,
        );
    }
    store
        .commit(Batch {
            deltas: agg.drain(),
            cursors: Vec::new(),
        })
        .unwrap();
    store.flush_head().unwrap();
    store
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let schemas = Arc::new(Schemas::default_list());
    let store = Arc::new(store(dir.path(), &schemas));
    let options = query::Options::default();
    let mut group = c.benchmark_group("render");

    // A typical dashboard: what Grafana sends for six panels, each wrapped in aliasSub.
    let targets = [
        r#"aliasSub(aliasByNode(servers.*.cpu.user, 1), "(^.*$)", "\1 A")"#,
        r#"aliasSub(sumSeries(servers.*.requests), "(^.*$)", "\1 B")"#,
        r#"aliasSub(movingAverage(averageSeries(servers.*.latency), '10min'), "(^.*$)", "\1 C")"#,
        r#"aliasSub(highestMax(servers.*.cpu.user, 5), "(^.*$)", "\1 D")"#,
        r#"aliasSub(asPercent(servers.web1.requests, sumSeries(servers.*.requests)), "(^.*$)", "\1 E")"#,
        r#"aliasSub(summarize(servers.web3.requests, '1h', 'sum'), "(^.*$)", "\1 F")"#,
    ];
    group.bench_function("parse_6_targets", |b| {
        b.iter(|| {
            for t in &targets {
                black_box(query::target::parse(black_box(t)).unwrap());
            }
        })
    });
    group.bench_function("evaluate_dashboard_6h_mdp1000", |b| {
        let source = StoreSource {
            store: &store,
            schemas: &schemas,
            options: &options,
            patterns: None,
        };
        let request = Request {
            from: NOW - 6 * 3600,
            until: NOW,
            now: NOW,
            max_data_points: Some(1000),
            x_files_factor: 0.0,
        };
        b.iter(|| {
            let ev = Evaluator::new(&source, request, Limits::default());
            let out = ev.targets(&targets).unwrap();
            assert_eq!(out.len(), 20 + 1 + 1 + 5 + 1 + 1);
            black_box(out)
        })
    });

    // /render of one series for one year (8,760 hourly points), json, through the pipeline.
    let state = Arc::new(http::State {
        live: Arc::new(tally::live::Tier::new(Default::default())),
        store: store.clone(),
        settings: RwLock::new(http::Settings {
            schemas: schemas.clone(),
            query: options,
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
    let year = NOW - 365 * 86_400;
    let two_hours = NOW - 2 * 3600;
    for (label, query, points) in [
        (
            "1y_one_series_json",
            format!("target=year.gauge&from={year}&until={NOW}&now={NOW}&format=json"),
            700,
        ),
        (
            "1y_one_series_json_mdp800",
            format!(
                "target=year.gauge&from={year}&until={NOW}&now={NOW}&format=json&maxDataPoints=800"
            ),
            700,
        ),
        (
            "1y_one_series_movingAverage",
            format!(
                "target=movingAverage(year.gauge,24)&from={year}&until={NOW}&now={NOW}&format=json"
            ),
            700,
        ),
        (
            "2h_one_series_json",
            format!(
                "target=servers.web1.latency&from={two_hours}&until={NOW}&now={NOW}&format=json"
            ),
            100,
        ),
        (
            "2h_aliasSub_word_class_json",
            format!(
                "target=aliasSub(servers.web1*.latency,'^servers\\.(\\w+)\\.latency$','\\1 A')\
                 &from={two_hours}&until={NOW}&now={NOW}&format=json"
            ),
            100,
        ),
    ] {
        let params = Params::parse(Some(&query), b"");
        group.bench_function(label, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let r = http::render::evaluate(&state, &params, false)
                        .await
                        .unwrap();
                    assert!(r.series[0].values.len() >= points, "{label}");
                    let resp = http::render::respond("json", r, &params).unwrap();
                    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    black_box(body.len())
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
