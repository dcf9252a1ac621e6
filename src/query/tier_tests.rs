//! Issue 18, items 1–3, through the store: functions that choose series by value choose on
//! the values graphite-web reads, the soft caps never answer from a coarser tier by default,
//! and the lineage says when a tier other than the finest covering one was read.

use super::*;
use crate::aggregate::{Aggregator, Options as AggOptions};
use crate::metric::{Kind, Observation};
use crate::schema::Schema;
use crate::store::{Batch, Options as StoreOptions};
use std::sync::Arc;

const NOW: i64 = 1_700_006_400;

/// `bench.host{1,2}.cpu.user` at 10 s over the last day, at 1 min the 6 days before, in a 10s:1d, 1m:7d, 1h:30d schema:
/// host1 is flat at 50 with one 10-second spike to 56.468; host2 swings smoothly up to 55.6.
/// Averaged over a minute (or over read-time groups), host1's spike shrinks below host2's top.
fn store() -> (tempfile::TempDir, Store, Arc<Schemas>) {
    let schemas = Arc::new(Schemas {
        list: vec![Schema::new("t", ".*", &["10s:1d", "1m:7d", "1h:30d"]).unwrap()],
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreOptions {
        data_dir: dir.path().to_path_buf(),
        tiers: schemas.resolutions(),
        head_flush_interval: 600,
        head_max_bytes: crate::store::HEAD_MAX_BYTES,
    })
    .unwrap();
    let mut agg = Aggregator::new(schemas.clone(), AggOptions::default());
    // Every 10 s over the last day (the 10 s tier keeps a day), every minute before.
    for i in (0..(7 * 8640)).filter(|i| *i >= 6 * 8640 || i % 6 == 0) {
        let time = NOW - 7 * 86_400 + i * 10;
        let spike = time == NOW - 43_200 - 30;
        let host1 = if spike { 56.468 } else { 50.0 };
        let host2 = 50.0 + 5.6 * ((i % 360) as f64 / 359.0);
        for (name, value) in [
            ("bench.host1.cpu.user", host1),
            ("bench.host2.cpu.user", host2),
        ] {
            let obs = Observation {
                series: Series::parse(name).unwrap(),
                kind: Kind::Gauge,
                value,
                time,
            };
            agg.observe(&obs, NOW);
        }
    }
    let deltas = agg.drain();
    store
        .commit(Batch {
            deltas,
            cursors: Vec::new(),
        })
        .unwrap();
    (dir, store, schemas)
}

/// The last day of `target` in at most 960 points, as a Grafana panel asks for it.
fn a_day_in_960(
    store: &Store,
    schemas: &Schemas,
    choice: TierChoice,
    target: &str,
) -> Result<Vec<TimeSeries>, Error> {
    render(store, schemas, choice, target, 86_400, Some(960))
}

fn render(
    store: &Store,
    schemas: &Schemas,
    choice: TierChoice,
    target: &str,
    age: i64,
    mdp: Option<u64>,
) -> Result<Vec<TimeSeries>, Error> {
    let options = Options {
        tier_choice: choice,
        ..Options::default()
    };
    let source = StoreSource {
        store,
        schemas,
        options: &options,
        patterns: None,
    };
    let request = Request {
        from: NOW - age,
        until: NOW,
        now: NOW,
        max_data_points: mdp,
        x_files_factor: 0.0,
    };
    let limits = Limits {
        tier_choice: choice,
        max_points_soft: options.max_points_soft,
        max_points_hard: options.max_points_hard,
        ..Limits::default()
    };
    Evaluator::new(&source, request, limits).targets(&[target])
}

#[test]
fn filters_and_sorts_decide_on_the_values_graphite_reads() {
    let (_dir, store, schemas) = store();
    for choice in [TierChoice::Graphite, TierChoice::Metrictank] {
        for (target, want) in [
            (
                "highestMax(bench.host*.cpu.user, 1)",
                vec!["bench.host1.cpu.user"],
            ),
            (
                "sortByMaxima(bench.host*.cpu.user)",
                vec!["bench.host1.cpu.user", "bench.host2.cpu.user"],
            ),
            (
                "maximumAbove(bench.host*.cpu.user, 56)",
                vec!["bench.host1.cpu.user"],
            ),
            (
                "lowestAverage(bench.host*.cpu.user, 1)",
                vec!["bench.host1.cpu.user"],
            ),
        ] {
            let out = a_day_in_960(&store, &schemas, choice, target).unwrap();
            let names: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, want, "{target} ({choice:?})");
            // Read from the 10 s tier, not merged at read time: the renderer consolidates.
            assert_eq!(out[0].step, 10, "{target} ({choice:?})");
        }
        let out = a_day_in_960(
            &store,
            &schemas,
            choice,
            "legendValue(bench.host1.cpu.user, 'max')",
        )
        .unwrap();
        assert_eq!(out[0].name, "bench.host1.cpu.user (max: 56.468)");
    }
}

#[test]
fn max_data_points_reads_the_finest_tier_and_merges_as_graphite_renders() {
    let (_dir, store, schemas) = store();
    let out = a_day_in_960(
        &store,
        &schemas,
        TierChoice::Graphite,
        "bench.host2.cpu.user",
    )
    .unwrap();
    assert_eq!((out[0].step, out[0].values.len()), (90, 960));
    let l = &out[0].lineage[0];
    assert_eq!((l.archive_read, l.archive_finest, l.coarser), (0, 0, None));
    let out = a_day_in_960(
        &store,
        &schemas,
        TierChoice::Metrictank,
        "bench.host2.cpu.user",
    )
    .unwrap();
    assert_eq!((out[0].step, out[0].values.len()), (120, 720));
    let l = &out[0].lineage[0];
    assert_eq!((l.archive_read, l.archive_finest), (1, 0));
    assert_eq!(l.coarser, Some(Coarser::RatioRule));
}

#[test]
fn avg_zero_is_never_merged_at_read_time() {
    // graphite's avg_zero counts a group's empty slots as zeros, which no bucket field holds:
    // the points are read as stored and the renderer consolidates them.
    let (_dir, store, schemas) = store();
    let read = |agg: &str| {
        let target = format!("consolidateBy(bench.host2.cpu.user,'{agg}')");
        let out = a_day_in_960(&store, &schemas, TierChoice::Graphite, &target);
        let s = &out.unwrap()[0];
        (s.fitted.is_some(), s.step, s.values.len())
    };
    assert_eq!(read("max"), (true, 90, 960));
    assert_eq!(read("avg_zero"), (false, 10, 8640));
}

#[test]
fn a_path_beside_a_wider_series_is_read_unmerged() {
    // graphite's renderer groups each series' points by the whole answer's span: a summarize
    // that ends past `until` makes the plain path's groups other than a merge over its own
    // range would, so the answer is read again unmerged.
    let (_dir, store, schemas) = store();
    let out = a_day_in_960(
        &store,
        &schemas,
        TierChoice::Graphite,
        "group(bench.host2.cpu.user,summarize(bench.host1.cpu.user,'7h'))",
    )
    .unwrap();
    assert_eq!(
        (out[0].fitted, out[0].step, out[0].values.len()),
        (None, 10, 8640)
    );
    let alone = a_day_in_960(
        &store,
        &schemas,
        TierChoice::Graphite,
        "bench.host2.cpu.user",
    )
    .unwrap();
    assert_eq!((alone[0].fitted.is_some(), alone[0].step), (true, 90));
}

#[test]
fn summarize_over_a_week_sums_the_finest_covering_tier() {
    let (_dir, store, schemas) = store();
    // 7 days: the 1m tier covers it (10,080 points). Every hour of host1 is 50 a minute
    // except the spike's minute, so a day's sum of 1-minute averages is 1440 × 50 (+ the spike's
    // share on its day).
    let target = "summarize(bench.host1.cpu.user, '1d', 'sum', true)";
    let options = Options::default();
    let out = render(
        &store,
        &schemas,
        TierChoice::Graphite,
        target,
        7 * 86_400 - 60,
        None,
    )
    .unwrap();
    assert_eq!(out[0].lineage[0].archive_read, 1);
    let full: Vec<f64> = out[0].values.iter().flatten().copied().collect();
    assert!(full.iter().any(|v| (v - 72_000.0).abs() < 1e-6), "{full:?}");
    // With a per-series cap below 10,080 the Metrictank plan reads the 1h tier and says so;
    // graphite's choice does not change.
    let capped = Options {
        max_points_per_series: 1000,
        ..options
    };
    for (choice, tier) in [(TierChoice::Graphite, 1), (TierChoice::Metrictank, 2)] {
        let o = Options {
            tier_choice: choice,
            ..capped
        };
        let range = Range {
            from: NOW - 7 * 86_400 + 60,
            until: NOW,
            now: NOW,
            max_data_points: None,
        };
        let read = run(&store, &schemas, &o, "bench.host1.cpu.user", &range).unwrap();
        let l = &read[0].lineage;
        assert_eq!((l.archive_read, l.archive_finest), (tier, 1), "{choice:?}");
        assert_eq!(l.coarser.is_some(), tier != 1, "{choice:?}");
    }
}

/// A range from long before the longest retention (`from=0`, `from=1000000000`) is read as
/// whisper reads it, from the retention's start: the hard cap counts those points only.
#[test]
fn the_hard_cap_counts_points_within_the_retention() {
    let (_dir, store, schemas) = store();
    let options = Options::default();
    let source = StoreSource {
        store: &store,
        schemas: &schemas,
        options: &options,
        patterns: None,
    };
    let request = Request {
        from: 1_000_000_000,
        until: NOW + 86_400,
        now: NOW,
        max_data_points: None,
        x_files_factor: 0.0,
    };
    // 30 days of the 1 h tier are 720 points a series; since 2001 would be 194,000.
    let limits = Limits {
        max_points_hard: 10_000,
        ..Limits::default()
    };
    let out = Evaluator::new(&source, request, limits)
        .targets(&["bench.host*.cpu.user"])
        .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].step, 3600);
}

/// maxDataPoints=1 makes one point of a bare series at read time; a function's input is read
/// slot by slot (the renderer consolidates its output), as for any other maxDataPoints.
#[test]
fn one_data_point_is_not_read_under_a_function() {
    let (_dir, store, schemas) = store();
    for target in [
        "movingAverage(bench.host2.cpu.user, '5min')",
        "nonNegativeDerivative(bench.host2.cpu.user)",
    ] {
        let out = render(
            &store,
            &schemas,
            TierChoice::Graphite,
            target,
            3600,
            Some(1),
        )
        .unwrap();
        assert_eq!(out.len(), 1, "{target}");
        assert_eq!(out[0].values.len(), 360, "{target}");
        assert!(out[0].values.iter().any(|v| v.is_some()), "{target}");
    }
}
