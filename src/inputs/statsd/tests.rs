use super::*;
use proptest::prelude::*;

fn intake() -> Intake {
    Intake::new(Arc::default(), 1000, Vec::new())
}

fn run(intake: &mut Intake, packet: &str) -> Vec<Observation> {
    let mut out = Vec::new();
    intake.packets([packet.as_bytes()], 100, &mut out);
    out
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
    let mut i = Intake::new(Arc::default(), 1000, vec![state.clone()]);
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
