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
        .bucket(now * 1000 - 1000, now * 1000 + 2000)
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
    Arc::new(Ring::new(series("a.b"), kind, join, 100, 60_000, 2_000))
}

fn one(v: f64) -> Slot {
    Slot::of_value(v)
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
        "{{\"t\":{},\"n\":600,\"s\":[0,1],\"v\":[null,",
        t + 30_000
    )));
}

#[test]
fn frame_json_lists_ids_as_runs_and_values_exactly() {
    let values = [
        0.123_456_789_012_345_67,
        2.0,
        -0.0,
        1e300,
        5e-324,
        -1.5e-7,
        1e15,
    ];
    let f = Frame {
        reset: false,
        t: 1000,
        n: 1,
        values: vec![
            (7, vec![Some(values[0])]),
            (2, vec![Some(values[1])]),
            (3, vec![Some(values[2])]),
            (4, vec![Some(values[3])]),
            (9, vec![Some(values[4])]),
            (10, vec![Some(values[5])]),
            (0, vec![Some(values[6])]),
        ],
    };
    let text = f.json();
    // ids 0, 2–4, 7, 9–10: skip 0 take 1, skip 1 take 3, skip 2 take 1, skip 1 take 2.
    assert!(
        text.starts_with(
            "{\"t\":1000,\"n\":1,\"s\":[0,1,1,3,2,1,1,2],\"v\":[1000000000000000,2,-0,1e300,"
        ),
        "{text}"
    );
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    let got: Vec<f64> = back["v"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want = [
        values[6], values[1], values[2], values[3], values[0], values[4], values[5],
    ];
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.to_bits(), w.to_bits(), "{text}");
    }
    // Two slots each, a slot without data as null, no series at all.
    let f = Frame {
        reset: true,
        t: 0,
        n: 2,
        values: vec![(1, vec![None, Some(0.5)])],
    };
    assert_eq!(f.json(), "{\"t\":0,\"n\":2,\"s\":[1,1],\"v\":[null,0.5]}");
    let f = Frame {
        reset: false,
        t: 0,
        n: 3,
        values: vec![],
    };
    assert_eq!(f.json(), "{\"t\":0,\"n\":3,\"s\":[],\"v\":[]}");
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
            Some(super::percentiles::Input::Sketch(&k)),
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
        let ring = Ring::new(series("a.b"), Kind::Gauge, Join { join_ms: start, live_ms: start, bridge: None }, step, 60_000, 2_000);
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
            let live = ring.lock().bucket(from, from + res).expect("live slots for a stored one");
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
    // Into the next second: the ring takes nothing from before it was made.
    let made = now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(
        (1020 - made % 1000) as u64,
    ))
    .await;
    let now = now_ms() / 1000;
    let delta = |resolution: u32, start: i64| crate::aggregate::Delta {
        series: series("a.b"),
        kind: Kind::Gauge,
        resolution,
        start,
        bucket: crate::aggregate::Bucket::new(Kind::Gauge, 3.0, start),
    };
    // Now; the second before (within max_lag: its last slot, written late, so re-sent);
    // a 10 s bucket (fits no live slot) and one from 30 s ago: both counted late.
    let before = rings[0].lock().late_since(0).unwrap().1;
    tier.ingest(&[
        delta(1, now),
        delta(1, now - 1),
        delta(10, now / 10 * 10),
        delta(1, now - 30),
    ]);
    let b = rings[0]
        .lock()
        .bucket(now * 1000 - 1000, now * 1000 + 2000)
        .unwrap();
    assert_eq!((b.count, b.sum), (2, 6.0));
    let last_slot = rings[0].lock().bucket(now * 1000 - 100, now * 1000);
    assert_eq!(last_slot.map(|b| b.count), Some(1));
    let (earliest, _) = rings[0].lock().late_since(before).unwrap();
    assert_eq!(earliest, Some((now * 1000 - 100) / 100));
    assert_eq!(tier.stats.late.load(Relaxed), 2);
}
