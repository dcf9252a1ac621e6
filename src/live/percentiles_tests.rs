//! The percentile views of a watched timer, through its ring: every value equals what the
//! exact sketch of its seconds gives, sealed or not, late writes included.

use super::super::ring::{Join, Ring, Slot, Slots};
use super::Input;
use crate::aggregate::sketch::Sketch;
use crate::aggregate::{Bucket, Extra};
use crate::metric::{Kind, Series};
use crate::query::View;
use std::collections::BTreeMap;

const START: i64 = 12_000;

fn timer() -> Ring {
    let join = Join {
        join_ms: 10_000,
        live_ms: START,
        bridge: None,
    };
    Ring::new(
        Series::parse("a.t").unwrap(),
        Kind::Timer,
        join,
        100,
        60_000,
        2_000,
    )
}

/// Lognormal values (median 40, σ 0.8) from a fixed seed.
fn values(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    move || {
        let z = (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
        40.0 * (0.8 * z).exp()
    }
}

/// What was written, by second, to check against.
#[derive(Default)]
struct Truth(BTreeMap<i64, Vec<f64>>);

impl Truth {
    fn put(&mut self, s: &mut Slots, at: i64, now: i64, v: f64) {
        assert!(s.add(at, now, &Slot::of_value(v), Some(Input::Value(v))));
        self.0.entry(at.div_euclid(1000)).or_default().push(v);
    }

    /// The exact value of seconds `[from, from + secs)` under `view`.
    fn value(&self, view: View, from: i64, secs: i64) -> Option<f64> {
        let vals: Vec<f64> = self
            .0
            .range(from..from + secs)
            .flat_map(|(_, v)| v.clone())
            .collect();
        let mut k = Sketch::new();
        let mut b = Bucket {
            count: vals.len() as u64,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: 0.0,
            last_time: 0,
            extra: Extra::None,
        };
        for v in &vals {
            k.add(*v);
            b.sum += v;
            b.min = b.min.min(*v);
            b.max = b.max.max(*v);
        }
        b.extra = Extra::Sketch(Box::new(k));
        view.value_secs(&b, secs as f64)
    }
}

/// `per_sec` values a second from START for `secs` seconds, each arriving when made.
fn feed(s: &mut Slots, truth: &mut Truth, per_sec: i64, secs: i64, seed: u64) -> i64 {
    let mut next = values(seed);
    let mut now = START;
    for i in 0..secs * per_sec {
        now = START + i * 1000 / per_sec;
        truth.put(s, now, now, next());
    }
    now
}

#[test]
fn every_second_equals_its_exact_sketch() {
    let r = timer();
    let mut s = r.lock();
    let (p99, p50) = (View::Percentile(99.0), View::Percentile(50.0));
    assert_eq!(s.watch_percentile(p99, 100), Some(START));
    assert_eq!(s.watch_percentile(p50, 1000), Some(START));
    let mut truth = Truth::default();
    let now = feed(&mut s, &mut truth, 100, 61, 1);
    let newest = now.div_euclid(1000);
    let mut checked = 0;
    for sec in newest - 59..=newest {
        for view in [p99, p50] {
            let got = s.percentile(view, sec * 1000, sec * 1000 + 1000);
            assert_eq!(got, truth.value(view, sec, 1), "{view} second {sec}");
            checked += usize::from(got.is_some());
        }
    }
    assert_eq!(checked, 120, "sealed and kept seconds alike");
    assert_eq!(s.watch_percentile(p99, 100), Some(START), "registered once");
}

#[test]
fn late_writes_within_max_lag_are_in_the_value() {
    let r = timer();
    let mut s = r.lock();
    let p90 = View::Percentile(90.0);
    s.watch_percentile(p90, 100);
    let mut truth = Truth::default();
    for v in 1..=50 {
        truth.put(&mut s, 12_000 + v * 10, 12_000 + v * 10, v as f64);
    }
    for v in 51..=90 {
        truth.put(&mut s, 13_000 + v, 13_000 + v, v as f64);
    }
    // Second 12 ended 1.9 s ago: within max_lag (2 s), so its slots and percentile take it.
    for v in [500.0, 600.0, 700.0, 800.0, 900.0, 1000.0] {
        truth.put(&mut s, 12_999, 14_900, v);
    }
    assert_eq!(s.percentile(p90, 12_000, 13_000), truth.value(p90, 12, 1));
    // Seal it (and the next) by moving on; the remembered value is the same.
    truth.put(&mut s, 20_000, 20_000, 1.0);
    assert_eq!(s.percentile(p90, 12_000, 13_000), truth.value(p90, 12, 1));
    assert_eq!(s.percentile(p90, 13_000, 14_000), truth.value(p90, 13, 1));
    assert!(
        s.percentile(p90, 12_000, 13_000).unwrap() > 50.0,
        "the late values count"
    );
}

#[test]
fn five_second_slots_merge_their_seconds() {
    let r = timer();
    let mut s = r.lock();
    let p95 = View::Percentile(95.0);
    assert_eq!(
        s.watch_percentile(p95, 5000),
        Some(15_000),
        "the first whole slot"
    );
    let mut truth = Truth::default();
    let now = feed(&mut s, &mut truth, 50, 58, 2);
    let mut checked = 0;
    for slot in 3..now.div_euclid(5000) {
        let got = s.percentile(p95, slot * 5000, slot * 5000 + 5000);
        assert_eq!(got, truth.value(p95, slot * 5, 5), "slot {slot}");
        checked += usize::from(got.is_some());
    }
    assert_eq!(checked, 10, "slots 3 to 12");
}

#[test]
fn a_view_first_read_late_has_values_from_then() {
    let r = timer();
    let mut s = r.lock();
    let (p99, p75) = (View::Percentile(99.0), View::Percentile(75.0));
    s.watch_percentile(p99, 100);
    let mut truth = Truth::default();
    let now = feed(&mut s, &mut truth, 20, 30, 3);
    // Seconds up to 38 are sealed (their sketches gone); p75 starts with 39.
    let from = s.watch_percentile(p75, 100).unwrap();
    assert_eq!(from, (now.div_euclid(1000) - 2) * 1000);
    assert_eq!(
        s.percentile(p75, from - 1000, from),
        None,
        "sealed before anyone read p75"
    );
    for sec in from / 1000..=now / 1000 {
        assert_eq!(
            s.percentile(p75, sec * 1000, sec * 1000 + 1000),
            truth.value(p75, sec, 1)
        );
    }
    // p99 has the whole window.
    assert_eq!(s.percentile(p99, 13_000, 14_000), truth.value(p99, 13, 1));
}

#[test]
fn quiet_spells_and_many_views_stay_bounded() {
    let r = timer();
    let mut s = r.lock();
    let mut truth = Truth::default();
    for p in 1..=12 {
        s.watch_percentile(View::Percentile(f64::from(p)), 1000);
    }
    feed(&mut s, &mut truth, 10, 5, 4);
    // Five minutes later: only the new second has a value, and the old are gone.
    truth.put(&mut s, 317_500, 317_500, 7.0);
    truth.put(&mut s, 322_000, 322_000, 9.0);
    let p12 = View::Percentile(12.0);
    assert_eq!(s.percentile(p12, 317_000, 318_000), Some(7.0));
    assert_eq!(s.percentile(p12, 13_000, 14_000), None);
    drop(s);
    assert!(r.bytes() <= 24_000 + 12 * 600, "{}", r.bytes());
}

/// The memory of a watched timer (p99 at a 1 s step) with a minute of data at 10, 100 and
/// 1,000 values a second. Printed for BENCHMARKS.md (`-- --nocapture`).
#[test]
fn a_watched_timer_fits_24_kb() {
    for per_sec in [10, 100, 1000, 10_000] {
        let r = timer();
        let mut s = r.lock();
        s.watch_percentile(View::Percentile(99.0), 100);
        let mut truth = Truth::default();
        let now = feed(&mut s, &mut truth, per_sec, 62, 5);
        assert!(
            s.percentile(
                View::Percentile(99.0),
                now / 1000 * 1000 - 1000,
                now / 1000 * 1000
            )
            .is_some()
        );
        drop(s);
        eprintln!("watched timer, {per_sec} values/s: {} B", r.bytes());
        if per_sec <= 1000 {
            assert!(r.bytes() <= 24_000, "{per_sec}/s: {} B", r.bytes());
        }
    }
}

/// A step of odd seconds (1.5 s, 2.5 s): a slot's value is that of its whole seconds, and off
/// a width's grid it is known only while those seconds are kept.
#[test]
fn slots_off_the_grid_read_their_whole_seconds() {
    let r = timer();
    let mut s = r.lock();
    let p50 = View::Percentile(50.0);
    let mut truth = Truth::default();
    let mut next = values(6);
    for i in 0..40 {
        let at = START + i * 100;
        truth.put(&mut s, at, at, next());
    }
    // Seconds 12 to 15 written; 15 is the newest, 12 sealed (3 kept).
    assert_eq!(s.percentile(p50, 14_500, 16_000), truth.value(p50, 15, 1));
    assert_eq!(
        s.percentile(p50, 12_500, 15_000),
        truth.value(p50, 13, 2),
        "off the 2 s grid, kept"
    );
    assert_eq!(
        s.percentile(p50, 10_500, 13_000),
        None,
        "off the grid, 12 sealed"
    );
    assert_eq!(s.percentile(p50, 13_500, 16_000), truth.value(p50, 14, 2));
    assert_eq!(s.percentile(p50, 15_500, 16_000), None, "no whole second");
}

/// A ring made with a bridge (what the store held of a 10 s stored slot of 1,000 values a
/// second): the bridge comes back whole while the ring's first slot is kept and is dropped
/// after; the ring stays within 24 KB all along.
#[test]
fn the_bridge_is_kept_packed_while_it_can_be_joined() {
    let mut next = values(7);
    let mut b = Bucket::new(Kind::Timer, next(), 11);
    (1..10_000).for_each(|_| b.add(next(), 11));
    let join = Join {
        join_ms: 10_000,
        live_ms: START,
        bridge: Some(b.clone()),
    };
    let r = Ring::new(
        Series::parse("a.t").unwrap(),
        Kind::Timer,
        join.clone(),
        100,
        60_000,
        2_000,
    );
    let p99 = View::Percentile(99.0);
    assert_eq!(r.join_for(START, 10_000, p99, 1000), join);
    let mut most = 0;
    for i in 0..62_000 {
        let now = START + i;
        let v = next();
        r.lock()
            .add(now, now, &Slot::of_value(v), Some(Input::Value(v)));
        if i % 1000 == 999 {
            most = most.max(r.bytes());
        }
        if i == 59_000 {
            assert_eq!(r.join_for(START, 10_000, p99, 1000), join, "still kept");
        }
    }
    assert!(most <= 24_000, "{most} B");
    let later = r.join_for(START + 1000, 10_000, p99, 1000);
    assert_eq!(later.bridge, None, "the first slot is gone");
    assert!(
        r.bytes() < most,
        "{} B, {most} B with the bridge",
        r.bytes()
    );
    eprintln!(
        "1,000 values/s with a 10,000-value bridge: at most {most} B, then {} B",
        r.bytes()
    );
}
