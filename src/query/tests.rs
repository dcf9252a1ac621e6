use super::*;
use crate::schema::Schema;

fn schema() -> Schema {
    Schema::new("default", ".*", &["10s:7d", "1m:90d", "1h:5y"]).unwrap()
}

const NOW: i64 = 1_700_000_000;

fn range(age: i64, mdp: Option<u64>) -> Range {
    Range {
        from: NOW - age,
        until: NOW,
        now: NOW,
        max_data_points: mdp,
    }
}

fn at(tier: usize, vpp: u64) -> (usize, u64) {
    (tier, vpp)
}

fn tv(p: Plan) -> (usize, u64) {
    (p.tier, p.vpp)
}

fn metrictank() -> Options {
    Options {
        tier_choice: TierChoice::Metrictank,
        ..Options::default()
    }
}

#[test]
fn finest_tier_that_covers_from() {
    for o in [Options::default(), metrictank()] {
        assert_eq!(tv(plan(&schema(), &o, &range(3600, None))), at(0, 1));
        assert_eq!(tv(plan(&schema(), &o, &range(8 * 86_400, None))), at(1, 1));
        assert_eq!(
            tv(plan(&schema(), &o, &range(100 * 86_400, None))),
            at(2, 1)
        );
        assert_eq!(plan(&schema(), &o, &range(10 * 365 * 86_400, None)).tier, 2);
    }
}

#[test]
fn graphite_choice_never_reads_coarser_for_the_point_cap() {
    // Issue 18, item 2: 7 days at 10 s are 60,480 points, past max_points_per_series; graphite's
    // choice still reads the 10 s tier (the hard cap refuses what is too big, with a 413).
    let o = Options {
        max_points_per_series: 1000,
        ..Options::default()
    };
    let p = plan(&schema(), &o, &range(7 * 86_400 - 60, None));
    assert_eq!((p.tier, p.vpp, p.finest, p.coarser), (0, 1, 0, None));
}

#[test]
fn metrictank_point_cap_moves_to_a_coarser_tier() {
    let o = Options {
        max_points_per_series: 1000,
        ..metrictank()
    };
    // 1 day at 10s = 8640 points > 1000 → 1m gives 1440 > 1000 → 1h gives 24.
    let p = plan(&schema(), &o, &range(86_400, None));
    assert_eq!((p.tier, p.vpp, p.finest), (2, 1, 0));
    assert_eq!(p.coarser, Some(Coarser::MaxPointsPerSeries));
}

#[test]
fn max_data_points_reads_the_finest_tier_and_merges_as_graphite() {
    let o = Options::default();
    // Issue 18, item 3: a day at 10 s (8640 slots) with maxDataPoints 960 is 9 slots a point,
    // 960 points at 90 s, as graphite-web answers (Metrictank: 720 at 120 s from the 1m tier).
    assert_eq!(tv(plan(&schema(), &o, &range(86_400, Some(960)))), at(0, 9));
    assert_eq!(tv(plan(&schema(), &o, &range(3600, Some(100)))), at(0, 4));
    assert_eq!(
        tv(plan(&schema(), &o, &range(30 * 86_400, Some(1000)))),
        at(1, 44)
    );
    // The slots are whisper's: (from, until] unaligned covers one slot more than the span.
    let r = Range {
        from: NOW - 3600 + 5,
        until: NOW + 5,
        now: NOW + 5,
        max_data_points: Some(360),
    };
    assert_eq!(tv(plan(&schema(), &o, &r)), at(0, 1));
    let r = Range {
        from: NOW - 3600 - 5,
        until: NOW + 5,
        now: NOW + 5,
        max_data_points: Some(360),
    };
    assert_eq!(tv(plan(&schema(), &o, &r)), at(0, 2));
}

#[test]
fn metrictank_max_data_points_follows_the_ratio_rule() {
    let o = metrictank();
    // Metrictank's example: 1 h window, MDP 100: 10s gives 360 points, 1m gives 60.
    // 360/100 = 3.6 < 100/60 = 1.67? No → read 1m (60 points), no consolidation.
    assert_eq!(tv(plan(&schema(), &o, &range(3600, Some(100)))), at(1, 1));
    assert_eq!(
        plan(&schema(), &o, &range(3600, Some(100))).coarser,
        Some(Coarser::RatioRule)
    );
    // 30 days, MDP 1000: 1m = 43200 points, 1h = 720 ≤ 1000 → 1h.
    assert_eq!(
        tv(plan(&schema(), &o, &range(30 * 86_400, Some(1000)))),
        at(2, 1)
    );
    // 1 day, MDP 1000: 1m gives 1440 (1.44× over), 1h gives 24 (41× under) → 1m, 2 per point.
    assert_eq!(
        tv(plan(&schema(), &o, &range(86_400, Some(1000)))),
        at(1, 2)
    );
    // The case: 960 points → 720 at 120 s.
    assert_eq!(tv(plan(&schema(), &o, &range(86_400, Some(960)))), at(1, 2));
}

#[test]
fn a_range_past_the_longest_retention_is_clamped_as_whisper_does() {
    let s = Schema::new("t", ".*", &["1m:1d"]).unwrap();
    let r = range(3 * 86_400, None);
    let (first, end) = window(&s, &r, 60);
    assert_eq!(end, NOW.div_euclid(60) * 60 + 60);
    assert_eq!(first, ((NOW - 86_400).div_euclid(60) + 1) * 60);
}

#[test]
fn a_range_that_ends_before_the_longest_retention_has_no_series() {
    let s = Schema::new("t", ".*", &["1m:1d", "1h:7d"]).unwrap();
    let at = |from: i64, until: i64| Range {
        from: NOW - from,
        until: NOW - until,
        now: NOW,
        max_data_points: None,
    };
    assert!(beyond_retention(&s, &at(9 * 86_400, 8 * 86_400)));
    assert!(!beyond_retention(&s, &at(9 * 86_400, 7 * 86_400)));
    assert!(!beyond_retention(&s, &at(3600, 0)));
}

mod against_raw {
    //! Every view at every tier, read through the store and consolidated to random
    //! maxDataPoints, equals what the raw observations give: exact for count, min, max and
    //! last, within float rounding for sums, within 0.5 % for percentiles (new data's sketches).

    use super::*;
    use crate::aggregate::{Aggregator, Options as AggOptions};
    use crate::metric::{Kind, Observation, Series};
    use crate::schema::Schemas;
    use crate::store::{Batch, Options as StoreOptions, Store};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn expected(view: View, values: &[(f64, i64)], secs: u32) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let sum: f64 = values.iter().map(|v| v.0).sum();
        let mut sorted: Vec<f64> = values.iter().map(|v| v.0).collect();
        sorted.sort_by(f64::total_cmp);
        let last = values
            .iter()
            .fold(
                (i64::MIN, 0.0),
                |a, v| if v.1 >= a.0 { (v.1, v.0) } else { a },
            )
            .1;
        Some(match view {
            View::Avg => sum / n,
            View::Sum => sum,
            View::SumRate => sum / f64::from(secs),
            View::Obvs => n,
            View::Min => sorted[0],
            View::Max => sorted[sorted.len() - 1],
            View::Last => last,
            View::Percentile(p) => {
                sorted[crate::aggregate::sketch::rank(p / 100.0, n as u64) as usize]
            }
            _ => unreachable!(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn views_equal_the_raw_observations(
            obs in proptest::collection::vec((1.0f64..1000.0, 0i64..3 * 86_400), 1..400),
            age in prop_oneof![Just(3_600i64), Just(20_000), Just(2 * 86_400), Just(3 * 86_400)],
            mdp in prop_oneof![Just(None), (1u64..200).prop_map(Some)],
            commits in 1usize..4,
        ) {
            let schemas = Arc::new(Schemas {
                list: vec![Schema::new("t", ".*", &["10s:1d", "1m:7d", "1h:30d"]).unwrap()],
            });
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(StoreOptions {
                data_dir: dir.path().to_path_buf(),
                tiers: schemas.resolutions(),
                head_flush_interval: 600,
                head_max_bytes: crate::store::HEAD_MAX_BYTES,
            }).unwrap();
            let series = Series::parse("a.b").unwrap();
            let mut agg = Aggregator::new(schemas.clone(), AggOptions::default());
            let raw: Vec<(f64, i64)> = obs.iter().map(|&(v, off)| ((v * 100.0).round() / 100.0, NOW - off)).collect();
            // Several commits, with a head flush in between: late data merges into sealed slots.
            for (i, chunk) in raw.chunks(raw.len().div_ceil(commits)).enumerate() {
                for &(value, time) in chunk {
                    agg.observe(&Observation { series: series.clone(), kind: Kind::Timer, value, time }, NOW);
                }
                store.commit(Batch { deltas: agg.drain(), cursors: Vec::new() }).unwrap();
                if i == 0 {
                    store.flush_head().unwrap();
                }
            }
            let range = Range { from: NOW - age, until: NOW, now: NOW, max_data_points: mdp };
            for (view, choice) in [View::Avg, View::Sum, View::SumRate, View::Obvs, View::Min, View::Max, View::Last,
                         View::Percentile(50.0), View::Percentile(99.0)].into_iter()
                         .flat_map(|v| [(v, TierChoice::Graphite), (v, TierChoice::Metrictank)]) {
                let options = Options { tier_choice: choice, ..Options::default() };
                let out = run(&store, &schemas, &options, &format!("a.b:{view}"), &range).unwrap();
                let s = &out[0];
                let res = i64::from(s.lineage.archive_interval);
                let tier = schemas.list[0].tiers[s.lineage.archive_read];
                let end = range.until.div_euclid(res) * res + res;
                let first = ((range.from.div_euclid(res) + 1) * res).min(end - res);
                let oldest = (NOW - tier.retention as i64).div_euclid(res) * res;
                for (i, got) in s.values.iter().enumerate() {
                    let t = s.start + i as i64 * i64::from(s.step);
                    // A merged point holds the slots [t - res, t + step - res), graphite's grouping;
                    // with maxDataPoints=1 the one point holds every slot (graphite: no nudge).
                    let (lo, hi) = if mdp == Some(1) {
                        (first.max(oldest), end)
                    } else {
                        let shift = if i64::from(s.step) > res { res } else { 0 };
                        ((t - shift).max(first).max(oldest), (t + i64::from(s.step) - shift).min(end))
                    };
                    let inside: Vec<(f64, i64)> = raw.iter().copied()
                        .filter(|&(_, time)| { let slot = time.div_euclid(res) * res; slot >= lo && slot < hi })
                        .collect();
                    let want = expected(view, &inside, s.step);
                    match (got, want) {
                        (None, None) => {}
                        (Some(g), Some(w)) => {
                            let tol = match view {
                                View::Percentile(_) => w.abs() * crate::aggregate::sketch::Accuracy::Fine.relative() + 1e-9,
                                View::Avg | View::Sum | View::SumRate => 1e-9 * w.abs().max(1.0),
                                _ => 0.0,
                            };
                            prop_assert!((g - w).abs() <= tol, "{} at {}: got {} want {}", view, t, g, w);
                        }
                        _ => prop_assert!(false, "{} at {}: got {:?} want {:?}", view, t, got, want),
                    }
                }
            }
        }
    }
}

/// A large fetch reads its series on two threads, half each; the answer is the one of
/// reading them one by one, in the same order.
#[test]
fn a_large_fetch_on_two_threads_reads_what_one_thread_reads() {
    use crate::aggregate::{Aggregator, Options as AggOptions};
    use crate::metric::{Kind, Observation, Series};
    use crate::query::eval::{Fetch, Source};
    use crate::schema::Schemas;
    use crate::store::{Batch, Options as StoreOptions, Store};
    use std::sync::Arc;
    let schemas = Arc::new(Schemas {
        list: vec![Schema::new("t", ".*", &["10s:2d"]).unwrap()],
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
    // 6 series × 1 day at 10 s, read over two days: 103,680 slots (the parallel bar is
    // 100,000 in all), with gaps, half of them flushed to segments and half in the head.
    for s in 0..6i64 {
        let series = Series::parse(&format!("p.s{s}")).unwrap();
        for i in (0..8640).filter(|i| (i + s) % 7 != 0) {
            let obs = Observation {
                series: series.clone(),
                kind: Kind::Gauge,
                value: ((i * (s + 3)) % 101) as f64 * 0.5,
                time: NOW - 86_400 + i * 10,
            };
            agg.observe(&obs, NOW);
        }
        store
            .commit(Batch {
                deltas: agg.drain(),
                cursors: Vec::new(),
            })
            .unwrap();
        if s % 2 == 0 {
            store.flush_head().unwrap();
        }
    }
    let options = Options::default();
    let source = StoreSource {
        store: &store,
        schemas: &schemas,
        options: &options,
        patterns: None,
    };
    for (from, mdp) in [(NOW - 2 * 86_400, None), (NOW - 2 * 86_400, Some(500))] {
        let fetch = Fetch {
            from,
            until: NOW,
            now: NOW,
            max_data_points: mdp,
            consolidate: None,
            merge: true,
            coarser: 0,
            by_value: false,
        };
        let (_, slots) = source.estimate("p.*", &fetch).unwrap();
        assert!(slots >= 100_000, "{slots} slots: not the parallel path");
        let all = source.fetch("p.*", &fetch).unwrap();
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["p.s0", "p.s1", "p.s2", "p.s3", "p.s4", "p.s5"]);
        for s in &all {
            let one = source.fetch(&s.name, &fetch).unwrap();
            assert_eq!(one.len(), 1);
            assert_eq!(one[0].values, s.values, "{}", s.name);
            assert_eq!((one[0].start, one[0].step), (s.start, s.step));
        }
    }
}

/// Issue 18: `until` in the future is clamped to `now`, as whisper's fetch clamps it (the
/// series ends at the slot holding `now`, as graphite-web answers), and a range that starts
/// after `now` reads no series at all (graphite-web leaves them out).
#[test]
fn until_in_the_future_is_clamped_to_now() {
    use crate::aggregate::{Aggregator, Options as AggOptions};
    use crate::metric::{Kind, Observation, Series};
    use crate::query::eval::{Fetch, Source};
    use crate::schema::Schemas;
    use crate::store::{Batch, Options as StoreOptions, Store};
    use std::sync::Arc;
    let schemas = Arc::new(Schemas {
        list: vec![Schema::new("t", ".*", &["1m:1d"]).unwrap()],
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
    for i in 0..60 {
        let obs = Observation {
            series: Series::parse("f.x").unwrap(),
            kind: Kind::Gauge,
            value: i as f64,
            time: NOW - 3600 + i * 60,
        };
        agg.observe(&obs, NOW);
    }
    store
        .commit(Batch {
            deltas: agg.drain(),
            cursors: Vec::new(),
        })
        .unwrap();
    let options = Options::default();
    let source = StoreSource {
        store: &store,
        schemas: &schemas,
        options: &options,
        patterns: None,
    };
    let fetch = |from: i64, until: i64| Fetch {
        from,
        until,
        now: NOW,
        max_data_points: None,
        consolidate: None,
        merge: true,
        coarser: 0,
        by_value: false,
    };
    let to_now = source.fetch("f.x", &fetch(NOW - 1800, NOW)).unwrap();
    let future = source.fetch("f.x", &fetch(NOW - 1800, NOW + 7200)).unwrap();
    assert_eq!(future.len(), 1);
    assert_eq!(future[0].values, to_now[0].values);
    assert_eq!((future[0].start, future[0].step), (to_now[0].start, 60));
    // whisper's points: (from, now] by minute slots, the last one the slot holding `now`.
    assert_eq!(future[0].values.len(), 30);
    assert!(
        source
            .fetch("f.x", &fetch(NOW + 60, NOW + 7200))
            .unwrap()
            .is_empty()
    );
}
