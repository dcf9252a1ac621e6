//! Property tests: for random observations, every field of every tier equals what the raw
//! observations give, however they are split across drains (late data merged into earlier
//! deltas) and in whatever order they arrive.

use super::*;
use crate::schema::Schema;
use proptest::prelude::*;
use std::collections::BTreeMap;

const NOW: i64 = 1_700_000_000;

fn schemas() -> Arc<Schemas> {
    Arc::new(Schemas {
        list: vec![Schema::new("t", ".*", &["10s:1d", "1m:7d", "1h:30d"]).unwrap()],
    })
}

fn obs(name: &str, kind: Kind, value: f64, time: i64) -> Observation {
    Observation {
        series: Series::parse(name).unwrap(),
        kind,
        value,
        time,
    }
}

/// Merges deltas the way the store does: per (resolution, start), in arrival order.
fn merge_all(deltas: Vec<Delta>) -> BTreeMap<(u32, i64), Bucket> {
    let mut out: BTreeMap<(u32, i64), Bucket> = BTreeMap::new();
    for d in deltas {
        match out.get_mut(&(d.resolution, d.start)) {
            Some(b) => b.merge(&d.bucket),
            None => {
                out.insert((d.resolution, d.start), d.bucket);
            }
        }
    }
    out
}

fn raw_stats(values: &[(f64, i64)]) -> (u64, f64, f64, f64, f64) {
    let count = values.len() as u64;
    let sum: f64 = values.iter().map(|v| v.0).sum();
    let min = values.iter().map(|v| v.0).fold(f64::INFINITY, f64::min);
    let max = values.iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
    // last: latest time, ties to the latest arrival
    let last = values
        .iter()
        .fold(
            (i64::MIN, 0.0),
            |acc, v| if v.1 >= acc.0 { (v.1, v.0) } else { acc },
        )
        .1;
    (count, sum, min, max, last)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #[test]
    fn every_tier_equals_the_raw_observations(
        points in proptest::collection::vec((-1e4f64..1e4, 0i64..20_000, any::<bool>()), 1..300),
        kind in prop_oneof![Just(Kind::Counter), Just(Kind::Gauge), Just(Kind::Timer)],
    ) {
        let mut agg = Aggregator::new(schemas(), Options::default());
        let mut deltas = Vec::new();
        let base = NOW - 20_000;
        for &(value, offset, drain_after) in &points {
            agg.observe(&obs("a.b", kind, value, base + offset), NOW);
            if drain_after {
                deltas.extend(agg.drain());
            }
        }
        deltas.extend(agg.drain());
        let merged = merge_all(deltas);
        for res in [10u32, 60, 3600] {
            let mut raw: BTreeMap<i64, Vec<(f64, i64)>> = BTreeMap::new();
            for &(value, offset, _) in &points {
                let t = base + offset;
                raw.entry(t.div_euclid(i64::from(res)) * i64::from(res)).or_default().push((value, t));
            }
            let stored: Vec<_> = merged.iter().filter(|((r, _), _)| *r == res).collect();
            prop_assert_eq!(stored.len(), raw.len());
            for ((_, start), bucket) in stored {
                let values = &raw[start];
                let (count, sum, min, max, last) = raw_stats(values);
                prop_assert_eq!(bucket.count, count);
                prop_assert!(close(bucket.sum, sum), "{} vs {}", bucket.sum, sum);
                prop_assert_eq!(bucket.min, min);
                prop_assert_eq!(bucket.max, max);
                prop_assert_eq!(bucket.last, last);
                if kind == Kind::Timer {
                    let mut sorted: Vec<f64> = values.iter().map(|v| v.0).collect();
                    sorted.sort_by(f64::total_cmp);
                    for q in [0.5, 0.9, 0.99] {
                        let want = sorted[super::sketch::rank(q, sorted.len() as u64) as usize];
                        let got = bucket.quantile(q).unwrap();
                        prop_assert!((got - want).abs() <= want.abs() * 0.01 + 1e-9, "p{} {} vs {}", q, got, want);
                    }
                }
            }
        }
    }

    #[test]
    fn sets_count_distinct_members_per_slot(members in proptest::collection::vec((0u8..40, 0i64..600), 1..200)) {
        let mut agg = Aggregator::new(schemas(), Options::default());
        for &(m, offset) in &members {
            let id = crate::metric::set_member(&[m]);
            agg.observe(&obs("users", Kind::Set, id, NOW - 600 + offset), NOW);
        }
        let merged = merge_all(agg.drain());
        for ((res, start), bucket) in merged {
            let want: std::collections::BTreeSet<u8> = members
                .iter()
                .filter(|(_, o)| (NOW - 600 + o).div_euclid(i64::from(res)) * i64::from(res) == start)
                .map(|(m, _)| *m)
                .collect();
            prop_assert_eq!(bucket.distinct(), Some(want.len() as f64));
        }
    }
}

#[test]
fn old_and_future_data_is_dropped_and_counted() {
    let mut agg = Aggregator::new(schemas(), Options { max_future: 60 });
    assert_eq!(
        agg.observe(&obs("a", Kind::Gauge, 1.0, NOW - 31 * 86_400), NOW),
        Outcome::TooOld
    );
    assert_eq!(
        agg.observe(&obs("a", Kind::Gauge, 1.0, NOW + 61), NOW),
        Outcome::TooNew
    );
    assert_eq!(
        agg.observe(&obs("a", Kind::Gauge, f64::NAN, NOW), NOW),
        Outcome::Invalid
    );
    // Two days old: too old for the 10s tier (1 day), kept in the 1m and 1h tiers.
    assert_eq!(
        agg.observe(&obs("a", Kind::Gauge, 1.0, NOW - 2 * 86_400), NOW),
        Outcome::Folded
    );
    let s = agg.stats();
    assert_eq!(
        (s.observations, s.too_old, s.too_new, s.invalid),
        (4, 1, 1, 1)
    );
    let resolutions: Vec<u32> = agg.drain().iter().map(|d| d.resolution).collect();
    assert_eq!(resolutions.len(), 2);
    assert!(!resolutions.contains(&10));
}

#[test]
fn drain_empties_the_aggregator() {
    let mut agg = Aggregator::new(schemas(), Options::default());
    agg.observe(&obs("a", Kind::Counter, 1.0, NOW), NOW);
    assert_eq!(agg.drain().len(), 3);
    assert_eq!(agg.open_series(), 0);
    assert!(agg.drain().is_empty());
}
