use super::*;
use proptest::prelude::*;

/// One observation per value, so the tests can look at each.
fn intake() -> Intake {
    Intake::new(Arc::default(), 1000, Vec::new()).unfolded()
}

fn run(intake: &mut Intake, packet: &str) -> Vec<Observation> {
    let mut out = Batch::default();
    intake.packets([packet.as_bytes()], 100, &mut out);
    out.observations
}

fn summary(obs: &[Observation]) -> Vec<(String, Kind, f64)> {
    obs.iter()
        .map(|o| (o.series.as_str().to_string(), o.kind, o.value))
        .collect()
}

#[test]
fn a_packet_becomes_observations() {
    let mut i = intake();
    let obs = run(
        &mut i,
        "hits:2|c|@0.5\nlat:12|ms\nbytes:3|c:4|c\ntemp:20|g\nusers:alice|s\n\ntagged:1|c|#env:prod,dc:eu",
    );
    assert_eq!(
        summary(&obs),
        vec![
            ("hits".into(), Kind::Counter, 4.0),
            ("lat".into(), Kind::Timer, 12.0),
            ("bytes".into(), Kind::Counter, 3.0),
            ("bytes".into(), Kind::Counter, 4.0),
            ("temp".into(), Kind::Gauge, 20.0),
            ("users".into(), Kind::Set, set_member(b"alice")),
            ("tagged;dc=eu;env=prod".into(), Kind::Counter, 1.0),
        ]
    );
    assert!(obs.iter().all(|o| o.time == 100));
    let s = i.stats();
    assert_eq!(s.packets.load(Relaxed), 1);
    assert_eq!(s.lines.load(Relaxed), 6);
    assert_eq!(s.metrics.load(Relaxed), 7);
}

#[test]
fn bad_lines_are_counted_and_the_rest_of_the_packet_goes_on() {
    let mut i = intake();
    let obs = run(&mut i, "a:1|c\nbroken\nb:x|c:2|c\nc:-1|ms\n..:1|c\nd:1|c");
    let names: Vec<_> = obs.iter().map(|o| o.series.as_str()).collect();
    assert_eq!(names, ["a", "b", "d"]);
    assert_eq!(i.stats().bad_lines.load(Relaxed), 3);
    assert_eq!(i.stats().bad_names.load(Relaxed), 1);
}

#[test]
fn sampled_timers_are_weighted() {
    let mut i = intake();
    assert_eq!(run(&mut i, "t:5|ms|@0.1").len(), 10);
    assert_eq!(run(&mut i, "t:5|ms|@0.3").len(), 3);
    assert_eq!(run(&mut i, "t:5|ms|@2").len(), 1);
    assert_eq!(run(&mut i, "t:5|h|@0.5").len(), 2);
    assert_eq!(run(&mut i, "t:5|d|@0.0000001").len(), 1000);
    // A zero rate makes etsy's count infinite; tally keeps the bound.
    assert_eq!(run(&mut i, "t:5|ms|@0").len(), 1000);
}

#[test]
fn gauges_keep_their_level_between_packets() {
    let mut i = intake();
    let level = |i: &mut Intake, p: &str| run(i, p).last().unwrap().value;
    assert_eq!(level(&mut i, "g:-5|g"), -5.0); // a delta on a new gauge sets it
    assert_eq!(level(&mut i, "g:+10|g"), 5.0);
    assert_eq!(level(&mut i, "g:-3|g"), 2.0);
    assert_eq!(level(&mut i, "g:7|g"), 7.0);
    assert_eq!(level(&mut i, "g:0|g\ng:-1|g"), -1.0);
}

#[test]
fn the_etsy_flush_sees_what_the_intake_sees() {
    let state = Arc::new(Mutex::new(flush::State::new(flush::Options::default(), 0)));
    let mut i = Intake::new(Arc::default(), 1000, vec![state.clone()]).unfolded();
    run(&mut i, "a:1|c\nnope");
    run(&mut i, "b:1|ms");
    let text = state.lock().unwrap().flush(1000);
    for line in [
        "stats_counts.a 1 1000",
        "stats_counts.statsd.packets_received 2 1000",
        "stats_counts.statsd.metrics_received 3 1000",
        "stats_counts.statsd.bad_lines_seen 1 1000",
        "stats.timers.b.count 1 1000",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

proptest! {
    /// Whatever the order of sets and deltas, the observed level is the running result.
    #[test]
    fn gauge_deltas_follow_a_running_level(ops in proptest::collection::vec((any::<bool>(), -1000i32..1000), 1..40)) {
        let mut i = intake();
        let mut level: Option<f64> = None;
        for (delta, v) in ops {
            let text = if delta { format!("g:{v:+}|g") } else { format!("g:{}|g", v.abs()) };
            let want = match (delta, level) {
                (true, Some(l)) => l + f64::from(v),
                (true, None) => f64::from(v),
                (false, _) => f64::from(v.abs()),
            };
            level = Some(want);
            let obs = run(&mut i, &text);
            prop_assert_eq!(obs.len(), 1);
            prop_assert_eq!(obs[0].value, want);
            prop_assert_eq!(obs[0].kind, Kind::Gauge);
        }
    }

    /// A sampled counter stands for value / rate; a sampled timer for round(1 / rate) values.
    #[test]
    fn sample_rates_scale(value in 0u32..10_000, inverse in 1u32..200) {
        let rate = 1.0 / f64::from(inverse);
        let mut i = intake();
        let c = run(&mut i, &format!("c:{value}|c|@{rate}"));
        prop_assert_eq!(c.len(), 1);
        let want = f64::from(value) * (1.0 / rate);
        prop_assert!((c[0].value - want).abs() <= want * 1e-12);
        let t = run(&mut i, &format!("t:{value}|ms|@{rate}"));
        prop_assert_eq!(t.len() as f64, (1.0 / rate).round());
        prop_assert!(t.iter().all(|o| o.value == f64::from(value) && o.kind == Kind::Timer));
    }
}

#[test]
fn a_batch_folds_each_key_into_one_bucket_per_second() {
    let mut i = Intake::new(Arc::default(), 1000, Vec::new());
    let mut b = Batch::default();
    i.packets(
        [&b"a:1|c\na:2|c\nt:5|ms|@0.5\ng:3|g\ng:+4|g"[..]],
        100,
        &mut b,
    );
    i.packets([&b"a:4|c\nnan:Infinity|c"[..]], 100, &mut b);
    i.packets([&b"a:8|c\ng:1|c"[..]], 101, &mut b);
    let got: Vec<_> = b
        .folded
        .iter()
        .map(|f| {
            let b = &f.bucket;
            (
                f.series.as_str(),
                f.kind,
                b.count,
                b.sum,
                b.last,
                b.last_time,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a", Kind::Counter, 3, 7.0, 4.0, 100),
            ("t", Kind::Timer, 2, 10.0, 5.0, 100),
            ("g", Kind::Gauge, 2, 10.0, 7.0, 100),
            ("a", Kind::Counter, 1, 8.0, 8.0, 101),
        ]
    );
    // Not folded: an infinite value (the aggregator counts it invalid), and `g` as a counter
    // after it was a gauge.
    assert_eq!(
        summary(&b.observations),
        [
            ("nan".into(), Kind::Counter, f64::INFINITY),
            ("g".into(), Kind::Counter, 1.0)
        ]
    );
    assert_eq!(b.metrics, 9);
    let feed = b.take().into_feed();
    assert_eq!((feed.folded.len(), feed.observations.len()), (4, 2));
    assert!(b.is_empty() && b.metrics == 0);
}

/// What both intakes put into an aggregator, per series, tier and slot.
fn aggregate(
    intake: &mut Intake,
    traffic: &[(i64, bool, Vec<String>)],
) -> (Vec<crate::aggregate::Delta>, crate::aggregate::Stats) {
    use crate::aggregate::{Aggregator, Options};
    use crate::schema::{Schema, Schemas};
    let schemas = Schemas {
        list: vec![Schema::new("t", ".*", &["10s:1d", "1m:7d"]).unwrap()],
    };
    let mut agg = Aggregator::new(Arc::new(schemas), Options::default());
    let mut batch = Batch::default();
    let mut deltas = Vec::new();
    for (now, hand_over, packet) in traffic {
        let packet = packet.join("\n");
        intake.packets([packet.as_bytes()], *now, &mut batch);
        if *hand_over {
            let feed = batch.take().into_feed();
            feed.folded.iter().for_each(|f| {
                agg.merge(f, 1_000);
            });
            feed.observations.iter().for_each(|o| {
                agg.observe(o, 1_000);
            });
            deltas.extend(agg.drain());
        }
    }
    for d in &mut deltas {
        if d.kind == Kind::Set {
            // The sum of member ids means nothing, and past 2^53 it depends on the order.
            d.bucket.sum = 0.0;
        }
    }
    deltas.sort_by(|a, b| {
        (a.series.as_str(), a.resolution, a.start).cmp(&(b.series.as_str(), b.resolution, b.start))
    });
    (deltas, agg.stats())
}

/// Random StatsD lines; with `one_type`, each key always has the same type.
fn traffic(one_type: bool) -> impl Strategy<Value = Vec<(i64, bool, Vec<String>)>> {
    let line = (0usize..8, 0usize..6, -50i32..50, 0usize..4, 0usize..3).prop_map(
        move |(key, ty, v, rate, sign)| {
            let ty = if one_type { key % 6 } else { ty };
            let rate = ["", "|@0.5", "|@0.25", "|@0.125"][rate];
            match ty {
                0 => format!("k{key}:{v}|c{rate}"),
                1 => format!("k{key}:{}|ms{rate}", v.abs()),
                2 if sign == 0 => format!("k{key}:{}|g", v.abs()),
                2 => format!("k{key}:{v:+}|g"),
                3 => format!("k{key}:m{}|s", v % 7),
                4 => format!("k{key}:{v}|h{rate}"),
                _ => format!("k{key}:{v}"),
            }
        },
    );
    let packet = (
        0i64..3,
        any::<bool>(),
        proptest::collection::vec(line, 1..12),
    );
    proptest::collection::vec(packet, 1..30).prop_map(|mut packets| {
        // Time goes forward; the last packet hands its batch over.
        let mut now = 990;
        for p in &mut packets {
            now += p.0;
            p.0 = now;
        }
        packets.last_mut().unwrap().1 = true;
        packets
    })
}

proptest! {
    /// Folding values per key gives exactly the buckets of one observation per value (the
    /// values are small integers and rates powers of two, so sums are exact either way).
    #[test]
    fn folding_equals_one_observation_per_value(traffic in traffic(true)) {
        let mut folded = Intake::new(Arc::default(), 1000, Vec::new());
        let mut single = intake();
        let (a, a_stats) = aggregate(&mut folded, &traffic);
        let (b, b_stats) = aggregate(&mut single, &traffic);
        prop_assert_eq!(a, b);
        prop_assert_eq!(a_stats, b_stats);
    }

    /// Keys sent with several types: every value still counts once in its series.
    #[test]
    fn mixed_types_count_every_value(traffic in traffic(false)) {
        let mut folded = Intake::new(Arc::default(), 1000, Vec::new());
        let mut single = intake();
        let counts = |deltas: Vec<crate::aggregate::Delta>| {
            let mut out = std::collections::BTreeMap::new();
            for d in deltas.into_iter().filter(|d| d.resolution == 10) {
                *out.entry((d.series.as_str().to_string(), d.start)).or_insert(0) += d.bucket.count;
            }
            out
        };
        let (a, a_stats) = aggregate(&mut folded, &traffic);
        let (b, b_stats) = aggregate(&mut single, &traffic);
        prop_assert_eq!(counts(a), counts(b));
        prop_assert_eq!(a_stats.observations, b_stats.observations);
    }
}
