use super::*;
use std::collections::BTreeMap;

fn state(options: Options, packets: &[&str]) -> State {
    let mut s = State::new(options, 1_000);
    for p in packets {
        s.packet();
        for line in p.split('\n').filter(|l| !l.is_empty()) {
            s.line();
            crate::inputs::statsd::parse::parse_line(line, |r| match r {
                Ok(sample) => s.add(&sample),
                Err(_) => s.bad_line(),
            });
        }
    }
    s
}

fn lines(text: &str, ts: i64) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| {
            let mut f = l.split(' ');
            let (name, value, t) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            assert_eq!(t, ts.to_string(), "{l}");
            (name.to_string(), value.to_string())
        })
        .collect()
}

fn non_legacy() -> Options {
    Options {
        legacy_namespace: false,
        ..Options::default()
    }
}

#[test]
fn javascript_number_strings() {
    for (v, s) in [
        (100.0, "100"),
        (1.5, "1.5"),
        (206.666_666_666_666_66, "206.66666666666666"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (123_456_789_012_345_680_000.0, "123456789012345680000"),
        (1e-7, "1e-7"),
        (0.000_001, "0.000001"),
        (-2.5e-10, "-2.5e-10"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
    ] {
        assert_eq!(js_string(v), s);
    }
}

/// Halfway between two shortest digit strings JavaScript prints the even one (node 20 gave
/// these; Rust's own shortest formatting rounds the tie up: `…000.3`).
#[test]
fn javascript_number_strings_take_the_even_digit_on_a_tie() {
    for (v, s) in [
        (1_000_468_049_000_000.0 + 0.25, "1000468049000000.2"),
        (1_001_611_739_000_000.0 + 0.25, "1001611739000000.2"),
        (1_000_468_049_000_005.0 + 0.25, "1000468049000005.2"),
        (1_000_468_049_000_000.0 + 0.75, "1000468049000000.8"),
        (-1_000_468_049_000_000.0 - 0.25, "-1000468049000000.2"),
        (1.2345678901234565e-7, "1.2345678901234566e-7"),
        (9_007_199_254_740_993.0, "9007199254740992"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
    ] {
        assert_eq!(js_string(v), s, "{v:e}");
    }
}

#[test]
fn timer_statistics_over_the_raw_window() {
    let o = Options {
        interval_ms: 2000,
        percent_threshold: vec![50.0, -20.0, 99.5],
        histogram: vec![
            Histogram {
                metric: "nothing".into(),
                bins: vec![Bin::Inf],
            },
            Histogram {
                metric: "la".into(),
                bins: vec![Bin::Below(3.0), Bin::Below(7.5), Bin::Inf],
            },
        ],
        ..non_legacy()
    };
    let packet = (1..=10)
        .map(|v| format!("lat:{v}|ms"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut s = state(o, &[&packet, "lat:4|ms|@0.5"]);
    let got = lines(&s.flush(5000), 5000);
    let t = |stat: &str| got[&format!("stats.timers.lat.{stat}")].as_str();
    // 11 values: 1..10 and 4.
    assert_eq!(t("count"), "12"); // 10 + 1/0.5
    assert_eq!(t("count_ps"), "6");
    assert_eq!(t("upper"), "10");
    assert_eq!(t("lower"), "1");
    assert_eq!(t("sum"), "59");
    assert_eq!(t("sum_squares"), "401");
    assert_eq!(t("median"), "5");
    assert_eq!(t("mean"), js_string(59.0 / 11.0));
    // round(0.5 * 11) = 6 smallest: 1 2 3 4 4 5.
    assert_eq!(t("count_50"), "6");
    assert_eq!(t("upper_50"), "5");
    assert_eq!(t("sum_50"), "19");
    assert_eq!(t("sum_squares_50"), "71");
    assert_eq!(t("mean_50"), js_string(19.0 / 6.0));
    // top 20%: round(2.2) = 2 largest: 9 10.
    assert_eq!(t("count_top20"), "2");
    assert_eq!(t("lower_top20"), "9");
    assert_eq!(t("sum_top20"), "19");
    assert_eq!(t("sum_squares_top20"), "181");
    assert_eq!(t("mean_top20"), "9.5");
    assert_eq!(t("upper_99_5"), "10");
    // The first histogram entry whose metric is part of the key: bins are exclusive bounds.
    assert_eq!(t("histogram.bin_3"), "2");
    assert_eq!(t("histogram.bin_7_5"), "6");
    assert_eq!(t("histogram.bin_inf"), "3");
    let mean = 59.0 / 11.0;
    let mut sorted: Vec<f64> = (1..=10).map(f64::from).chain([4.0]).collect();
    sorted.sort_by(f64::total_cmp);
    let var = sorted.iter().fold(0.0, |a, v| a + (v - mean) * (v - mean)) / 11.0;
    assert_eq!(t("std"), js_string(var.sqrt()));
    // The next window is empty: only count and count_ps, both 0.
    let next = lines(&s.flush(5002), 5002);
    let timer: Vec<_> = next
        .keys()
        .filter(|k| k.starts_with("stats.timers."))
        .collect();
    assert_eq!(
        timer,
        ["stats.timers.lat.count", "stats.timers.lat.count_ps"]
    );
    assert_eq!(next["stats.timers.lat.count"], "0");
}

#[test]
fn one_value_and_even_counts() {
    let mut s = state(non_legacy(), &["one:7|ms\ntwo:1|ms\ntwo:4|ms"]);
    let got = lines(&s.flush(10), 10);
    assert_eq!(got["stats.timers.one.count_90"], "1");
    assert_eq!(got["stats.timers.one.upper_90"], "7");
    assert_eq!(got["stats.timers.one.std"], "0");
    assert_eq!(got["stats.timers.two.median"], "2.5");
    assert_eq!(got["stats.timers.two.count_90"], "2");
}

#[test]
fn names_in_both_namespaces() {
    let packets = ["c:3|c|@0.5\ng:5|g\ns:x|s\ns:y|s\ns:x|s\nt:1|ms\nbad|z\nk:1|c|#env:prod"];
    let mut legacy = state(Options::default(), &packets);
    let got = lines(&legacy.flush(7), 7);
    let want = [
        ("stats.c", "0.6"),
        ("stats_counts.c", "6"),
        ("stats.k;env=prod", "0.1"),
        ("stats_counts.k;env=prod", "1"),
        ("stats.gauges.g", "5"),
        ("stats.sets.s.count", "2"),
        ("stats.timers.t.count", "1"),
        ("stats.statsd.bad_lines_seen", "0.1"),
        ("stats_counts.statsd.bad_lines_seen", "1"),
        ("stats_counts.statsd.packets_received", "1"),
        ("stats_counts.statsd.metrics_received", "8"),
        ("statsd.numStats", "8"),
        ("stats.statsd.graphiteStats.last_flush", "1000"),
        ("stats.statsd.graphiteStats.last_exception", "0"),
    ];
    for (name, value) in want {
        assert_eq!(got.get(name).map(String::as_str), Some(value), "{name}");
    }
    for name in [
        "stats.statsd.processing_time",
        "stats.statsd.graphiteStats.calculationtime",
        "stats.statsd.graphiteStats.flush_time",
        "stats.statsd.graphiteStats.flush_length",
    ] {
        assert!(got.contains_key(name), "{name}");
    }
    let o = Options {
        global_prefix: "pre".into(),
        prefix_counter: "".into(),
        prefix_gauge: "gg".into(),
        prefix_stats: "mystats".into(),
        global_suffix: Some("suf".into()),
        ..non_legacy()
    };
    let mut modern = state(o, &packets);
    let got = lines(&modern.flush(7), 7);
    for name in [
        "pre.c.rate.suf",
        "pre.c.count.suf",
        "pre.k.count.suf;env=prod",
        "pre.gg.g.suf",
        "pre.sets.s.count.suf",
        "pre.timers.t.mean_90.suf",
        "pre.mystats.bad_lines_seen.count.suf",
        "pre.mystats.numStats.suf",
        "pre.mystats.processing_time.suf",
        "pre.mystats.graphiteStats.calculationtime.suf",
        "pre.mystats.graphiteStats.flush_length.suf",
    ] {
        assert!(got.contains_key(name), "{name} in {got:?}");
    }
    // The lag gauge appears from the second flush on.
    let got = lines(&modern.flush(20), 20);
    assert_eq!(got["pre.gg.mystats.timestamp_lag.suf"], "3"); // 20 - 7 - 10
}

#[test]
fn after_a_flush_counters_reset_gauges_stay() {
    let mut s = state(non_legacy(), &["c:1|c\ng:4|g\ns:a|s"]);
    s.flush(1);
    let got = lines(&s.flush(11), 11);
    assert_eq!(got["stats.counters.c.count"], "0");
    assert_eq!(got["stats.gauges.g"], "4");
    assert_eq!(got["stats.sets.s.count"], "0");
    s.add(&sample("g:+2|g"));
    s.add(&sample("g:-10|g"));
    let got = lines(&s.flush(21), 21);
    assert_eq!(got["stats.gauges.g"], "-4");
}

fn sample(line: &str) -> Sample<'_> {
    let mut out = None;
    crate::inputs::statsd::parse::parse_line(line, |r| out = Some(r.unwrap()));
    out.unwrap()
}

#[test]
fn delete_idle_stats() {
    let o = Options {
        delete_counters: true,
        delete_timers: true,
        delete_sets: true,
        delete_gauges: true,
        gauges_max_ttl: 2,
        ..non_legacy()
    };
    let mut s = state(o, &["c:1|c\ng:4|g\ns:a|s\nt:1|ms\nx.packets_received:1|c"]);
    let first = lines(&s.flush(1), 1);
    assert_eq!(first["stats.statsd.numStats"], "8");
    let second = lines(&s.flush(11), 11);
    assert!(!second.contains_key("stats.counters.c.count"));
    assert!(!second.contains_key("stats.timers.t.count"));
    assert!(!second.contains_key("stats.sets.s.count"));
    // Any key containing an internal counter's name is reset rather than deleted, as in etsy.
    assert_eq!(second["stats.counters.x.packets_received.count"], "0");
    assert_eq!(second["stats.gauges.g"], "4"); // TTL 2: one more flush
    let third = lines(&s.flush(21), 21);
    assert!(!third.contains_key("stats.gauges.g"));
    assert_eq!(third["stats.statsd.numStats"], "5"); // 3 internal + x + the lag gauge
}

#[test]
fn calculated_timer_metrics_filter() {
    let o = Options {
        calculated_timer_metrics: vec!["count".into(), "upper_percent".into()],
        percent_threshold: vec![90.0, -10.0],
        ..non_legacy()
    };
    let mut s = state(o, &["t:1|ms\nt:2|ms"]);
    let got = lines(&s.flush(1), 1);
    let timer: Vec<_> = got
        .keys()
        .filter(|k| k.starts_with("stats.timers."))
        .collect();
    assert_eq!(timer, ["stats.timers.t.count", "stats.timers.t.upper_90"]);
}

#[test]
fn bounds_drop_and_count() {
    let o = Options {
        max_keys: 5, // the 3 internal counters take 3
        ..Options::default()
    };
    let mut s = state(o, &["a:1|c\nb:1|g\nc:1|ms\nd:1|s\na:2|c"]);
    assert_eq!(s.dropped, 2);
    let got = lines(&s.flush(1), 1);
    assert_eq!(got["stats_counts.a"], "3");
}

#[test]
fn percent_key_matches_etsys_regex() {
    assert_eq!(percent_key("count_90"), "count_percent");
    assert_eq!(percent_key("mean_top10"), "mean_percent");
    assert_eq!(percent_key("upper_99_9"), "upper_99_percent");
    assert_eq!(percent_key("sum_squares"), "sum_squares");
    assert_eq!(percent_key("count_ps"), "count_ps");
}

/// `tests/data/statsd/packets.txt` through the parser and the flush, against what etsy statsd
/// 0.9.0 itself flushed for those packets (flushInterval 2000, percentThreshold [90, -25],
/// histogram lat [5, 12.5, inf]); values that depend on timing are `*` in the golden files.
#[test]
fn golden_flushes_made_by_etsy_statsd() {
    let packets: Vec<String> = include_str!("../../../tests/data/statsd/packets.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.replace("\\n", "\n"))
        .collect();
    for (legacy, golden) in [
        (
            false,
            include_str!("../../../tests/data/statsd/etsy_flush_legacy_false.golden"),
        ),
        (
            true,
            include_str!("../../../tests/data/statsd/etsy_flush_legacy_true.golden"),
        ),
    ] {
        let o = Options {
            interval_ms: 2000,
            legacy_namespace: legacy,
            percent_threshold: vec![90.0, -25.0],
            histogram: vec![Histogram {
                metric: "lat".into(),
                bins: vec![Bin::Below(5.0), Bin::Below(12.5), Bin::Inf],
            }],
            ..Options::default()
        };
        let mut s = State::new(o, 1000);
        s.flush(1000); // etsy had flushed once before the packets came
        for p in &packets {
            s.packet();
            for line in p.split('\n').filter(|l| !l.is_empty()) {
                s.line();
                crate::inputs::statsd::parse::parse_line(line, |r| match r {
                    Ok(sample) => s.add(&sample),
                    Err(_) => s.bad_line(),
                });
            }
        }
        let mut got: Vec<String> = lines(&s.flush(1002), 1002)
            .into_iter()
            .map(|(name, value)| {
                let timing = [
                    "processing_time",
                    "calculationtime",
                    "graphiteStats.",
                    "timestamp_lag",
                ];
                let shown = if timing.iter().any(|t| name.contains(t)) && !name.contains("numStats")
                {
                    "*".to_string()
                } else {
                    value
                };
                format!("{name} {shown}")
            })
            .collect();
        got.sort();
        let want: Vec<&str> = golden.lines().collect();
        assert_eq!(got, want, "legacy_namespace {legacy}");
    }
}

/// A set is exact up to 256 members and an estimate beyond, in bounded memory: a million
/// members cost a few KiB, not a million strings.
#[test]
fn large_sets_are_counted_in_bounded_memory() {
    let mut s = State::new(non_legacy(), 1_000);
    for i in 0..256 {
        s.add(&sample(&format!("small:m{i}|s")));
        s.add(&sample(&format!("small:m{i}|s")));
    }
    for i in 0..1_000_000 {
        s.add(&sample(&format!("big:member-{i}|s")));
    }
    let bytes: usize = s.sets.values().map(Distinct::heap_bytes).sum();
    assert!(bytes < 16 << 10, "{bytes} bytes");
    let got = lines(&s.flush(1), 1);
    assert_eq!(got["stats.sets.small.count"], "256");
    let big: f64 = got["stats.sets.big.count"].parse().unwrap();
    assert!((big - 1e6).abs() < 0.05e6, "{big}");
}
