use super::*;
use crate::aggregate::{Aggregator, Options};
use crate::query::View;
use crate::schema::{Schema, Schemas};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000;

fn settings() -> config::Live {
    config::Live::default()
}

fn series(name: &str) -> Series {
    Series::parse(name).unwrap()
}

fn obs(name: &str, value: f64, time: i64) -> Observation {
    Observation {
        series: series(name),
        kind: Kind::Gauge,
        value,
        time,
    }
}

#[test]
fn placement_clamps_into_the_own_second() {
    assert_eq!(placement(T0, T0 * 1000 + 345, 2000), Some(T0 * 1000 + 345));
    assert_eq!(
        placement(T0, T0 * 1000 + 1_050, 2000),
        Some(T0 * 1000 + 999)
    );
    assert_eq!(placement(T0, T0 * 1000 - 20, 2000), Some(T0 * 1000));
    assert_eq!(placement(T0, T0 * 1000 + 3_000, 2000), None);
    assert_eq!(placement(T0, T0 * 1000 - 2_001, 2000), None);
}

#[test]
fn unwatched_feeds_touch_nothing() {
    let tier = Tier::new(settings());
    let feed = Feed::observations(vec![obs("a.b", 1.0, T0)]);
    tier.feed(&feed);
    assert_eq!(tier.watched(), 0);
    assert!(!tier.watching_prefix("a"));
    assert_eq!(tier.stats.late.load(Relaxed), 0);
}

#[tokio::test]
async fn attach_feed_detach_sweep() {
    let tier = Arc::new(Tier::new(settings()));
    let mut conn = tier.connect().unwrap();
    // No pipeline task: attached here, without a bridge.
    drop(tier.take_attach_queue());
    let rings = conn
        .attach(vec![(series("a.b"), Kind::Gauge)])
        .await
        .unwrap();
    assert_eq!(tier.watched(), 1);
    assert!(tier.watching_prefix("a"));
    assert!(tier.watching_prefix("a.b"));
    assert!(!tier.watching_prefix("a.bc"));
    let now = now_ms() / 1000;
    tier.feed(&Feed::observations(vec![
        obs("a.b", 4.0, now),
        obs("x.y", 1.0, now),
    ]));
    tier.feed(&Feed::observations(vec![obs("a.b", 1.0, now - 3600)]));
    assert_eq!(tier.stats.late.load(Relaxed), 1);
    let b = rings[0]
        .lock()
        .bucket(now * 1000 - 1000, now * 1000 + 2000, false)
        .unwrap();
    assert_eq!((b.count, b.sum), (1, 4.0));
    drop(conn);
    assert_eq!(tier.connections(), 0);
    tier.sweep(now_ms());
    assert_eq!(tier.watched(), 1, "lingers");
    tier.sweep(now_ms() + 10_000);
    assert_eq!(tier.watched(), 0);
}

#[tokio::test]
async fn limits() {
    let tier = Arc::new(Tier::new(config::Live {
        max_connections: 1,
        max_series_per_connection: 2,
        max_watched_series: 3,
        ..settings()
    }));
    drop(tier.take_attach_queue());
    let mut c = tier.connect().unwrap();
    assert!(matches!(tier.connect(), Err(Error::TooManyConnections(1))));
    let three: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| (series(n), Kind::Gauge))
        .collect();
    assert!(matches!(
        c.attach(three.clone()).await,
        Err(Error::TooManySeries(3, 2))
    ));
    c.attach(three[..2].to_vec()).await.unwrap();
    drop(c);
    let mut c = tier.connect().unwrap();
    c.attach(vec![three[2].clone()]).await.unwrap();
    let more = vec![(series("d"), Kind::Gauge)];
    assert!(matches!(
        c.attach(more).await,
        Err(Error::TooManyWatched(3, 3))
    ));
}

fn reader(ring: Arc<Ring>, view: View) -> Reader {
    Reader {
        step: 100,
        window: 60_000,
        cursor: None,
        watched: vec![Watched {
            id: 0,
            ring,
            view,
            seen: 0,
        }],
        functions: 0,
    }
}

fn test_ring(live_ms: i64, kind: Kind) -> Arc<Ring> {
    let join = Join {
        join_ms: live_ms,
        live_ms,
        bridge: None,
    };
    Arc::new(Ring::new(series("a.b"), kind, join, 100, 60_000))
}

fn one(v: f64) -> Slot {
    Slot {
        count: 1,
        sum: v,
        min: v,
        max: v,
        last: v,
    }
}

#[test]
fn frames_follow_the_cursor_late_writes_and_resets() {
    let t = T0 * 1000;
    let ring = test_ring(t, Kind::Counter);
    let mut r = reader(ring.clone(), View::SumRate);
    ring.lock().add(t + 50, t + 50, &one(2.0), None);
    let f = r.frame(t + 105).unwrap();
    assert_eq!((f.reset, f.t, f.n), (false, t, 1));
    assert_eq!(f.values, vec![(0, vec![Some(20.0)])]);
    assert!(r.frame(t + 150).is_none());
    // Nothing new in the next slot: no frame (the next one covers it), but one a second.
    assert!(r.frame(t + 200).is_none());
    // A late write into the first slot sends it again, with the slots since.
    ring.lock().add(t + 99, t + 250, &one(1.0), None);
    let f = r.frame(t + 300).unwrap();
    assert_eq!((f.reset, f.t, f.n), (false, t, 3));
    assert_eq!(f.values[0].1[0], Some(30.0));
    let f = r.frame(t + 1300).unwrap();
    assert_eq!((f.t, f.n, f.values.len()), (t + 300, 10, 0));
    // A client that read nothing for longer than the window gets a reset of the whole ring.
    let f = r.frame(t + 90_000).unwrap();
    assert!(f.reset);
    assert_eq!((f.t, f.n), (t + 30_000, 600));
    assert_eq!(r.cursor, Some(t + 90_000));
    // An id from the future is no cursor of ours: a reset too.
    r.cursor = Some(i64::MAX - 7);
    assert!(r.frame(t + 90_100).unwrap().reset);
    let text = f.json();
    assert!(text.starts_with(&format!(
        "{{\"t\":{},\"n\":600,\"v\":{{\"0\":[null,",
        t + 30_000
    )));
}

#[test]
fn percentiles_at_the_end_of_each_second() {
    let t = T0 * 1000;
    let ring = test_ring(t, Kind::Timer);
    for v in 1..=100 {
        let mut k = crate::aggregate::sketch::Sketch::new();
        k.add(f64::from(v));
        ring.lock().add(
            t + i64::from(v) * 9,
            t + i64::from(v) * 9,
            &one(f64::from(v)),
            Some(&k),
        );
    }
    let mut r = reader(ring, View::Percentile(50.0));
    r.cursor = Some(t);
    let f = r.frame(t + 1000).unwrap();
    let vals = &f.values[0].1;
    assert_eq!(vals.len(), 10);
    assert!(vals[..9].iter().all(Option::is_none));
    let p50 = vals[9].unwrap();
    assert!((p50 - 50.0).abs() <= 1.0, "{p50}");
}

fn one_second_schemas() -> Arc<Schemas> {
    Arc::new(Schemas {
        list: vec![Schema::new("t", ".*", &["1s:1d", "10s:7d"]).unwrap()],
    })
}

proptest! {
    /// Merging the live slots that cover a stored slot gives the stored bucket's count, sum,
    /// min and max exactly, for observations stamped in real time (arrival within the lag).
    #[test]
    fn live_slots_merge_into_stored_buckets(
        obs in proptest::collection::vec((0i64..30_000, -1_500i64..1_500, -1000i32..1000), 1..300),
        step in prop::sample::select(vec![50u64, 100, 200, 250, 500, 1000]),
    ) {
        let lag = 2_000;
        let start = T0 * 1000;
        let mut arrivals: Vec<(i64, i64, f64)> = obs
            .iter()
            .map(|&(at, skew, v)| {
                let arrival = start + at;
                // Stamped `skew` ms before/after arrival, in whole seconds as inputs stamp.
                ((arrival - skew).div_euclid(1000), arrival, f64::from(v))
            })
            .collect();
        arrivals.sort_by_key(|a| a.1);
        let ring = Ring::new(series("a.b"), Kind::Gauge, Join { join_ms: start, live_ms: start, bridge: None }, step, 60_000);
        let mut agg = Aggregator::new(one_second_schemas(), Options::default());
        let mut kept = 0;
        for &(time, arrival, v) in &arrivals {
            let placed = placement(time, arrival, lag)
                .is_some_and(|at| ring.lock().add(at, arrival, &one(v), None));
            if placed {
                kept += 1;
                agg.observe(&obs_at(v, time), arrival / 1000);
            }
        }
        let mut stored = 0;
        for d in agg.drain() {
            let res = i64::from(d.resolution) * 1000;
            let from = d.start * 1000;
            let live = ring.lock().bucket(from, from + res, false).expect("live slots for a stored one");
            prop_assert_eq!(live.count, d.bucket.count);
            prop_assert_eq!(live.sum, d.bucket.sum);
            prop_assert_eq!(live.min, d.bucket.min);
            prop_assert_eq!(live.max, d.bucket.max);
            if d.resolution == 1 {
                stored += d.bucket.count;
            }
        }
        prop_assert_eq!(stored, kept);
    }
}

fn obs_at(v: f64, time: i64) -> Observation {
    obs("a.b", v, time)
}

#[tokio::test]
async fn ingested_one_second_buckets_are_placed_within_the_lag() {
    let tier = Arc::new(Tier::new(settings()));
    drop(tier.take_attach_queue());
    let mut conn = tier.connect().unwrap();
    let rings = conn
        .attach(vec![(series("a.b"), Kind::Gauge)])
        .await
        .unwrap();
    let now = now_ms() / 1000;
    let delta = |resolution: u32, start: i64| crate::aggregate::Delta {
        series: series("a.b"),
        kind: Kind::Gauge,
        resolution,
        start,
        bucket: crate::aggregate::Bucket::new(Kind::Gauge, 3.0, start),
    };
    tier.ingest(&[delta(1, now), delta(10, now / 10 * 10), delta(1, now - 30)]);
    let b = rings[0]
        .lock()
        .bucket(now * 1000 - 1000, now * 1000 + 2000, false)
        .unwrap();
    assert_eq!((b.count, b.sum), (1, 3.0));
    assert_eq!(tier.stats.late.load(Relaxed), 1);
}
