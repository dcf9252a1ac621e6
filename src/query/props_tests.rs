//! Property tests of the render functions where the maths allows: sums are sums, derivatives
//! of counters are never negative, scaling inverts, percentages add up, windows of one point
//! are the series itself.

use super::eval::{Evaluator, Limits, Request};
use super::series::{TimeSeries, Value};
use super::test_source::Memory;
use proptest::prelude::*;

fn values() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(proptest::option::weighted(0.8, -1e6f64..1e6), 20)
}

fn eval(data: &Memory, target: &str) -> Vec<TimeSeries> {
    let request = Request {
        from: 600,
        until: 1200,
        now: 1200,
        max_data_points: None,
        x_files_factor: 0.0,
    };
    Evaluator::new(data, request, Limits::default())
        .targets(&[target])
        .unwrap_or_else(|e| panic!("{target}: {e}"))
}

fn memory(series: Vec<Vec<Value>>) -> Memory {
    let mut m = Memory::default();
    for (i, v) in series.into_iter().enumerate() {
        m.series.push((format!("p.s{i}"), 0, 60, v));
    }
    m
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #[test]
    fn sum_series_is_the_pointwise_sum(a in values(), b in values(), c in values()) {
        let m = memory(vec![a, b, c]);
        let inputs = eval(&m, "p.*");
        let sum = eval(&m, "sumSeries(p.*)");
        prop_assert_eq!(sum.len(), 1);
        for (i, v) in sum[0].values.iter().enumerate() {
            let row: Vec<f64> = inputs.iter().filter_map(|s| s.values[i]).collect();
            match v {
                None => prop_assert!(row.is_empty()),
                Some(v) => prop_assert!(close(*v, row.iter().sum())),
            }
        }
    }

    #[test]
    fn average_lies_between_min_and_max(a in values(), b in values()) {
        let m = memory(vec![a, b]);
        let (avg, min, max) = (eval(&m, "averageSeries(p.*)"), eval(&m, "minSeries(p.*)"), eval(&m, "maxSeries(p.*)"));
        for i in 0..avg[0].values.len() {
            if let (Some(a), Some(lo), Some(hi)) = (avg[0].values[i], min[0].values[i], max[0].values[i]) {
                prop_assert!(lo - 1e-9 <= a && a <= hi + 1e-9);
            }
        }
    }

    /// Counters are never negative (a wrap with maxValue is `max + 1 + v - prev`).
    #[test]
    fn counter_derivatives_are_never_negative(
        a in proptest::collection::vec(proptest::option::weighted(0.8, 0f64..1e6), 20),
        max in proptest::option::of(0f64..2e6),
    ) {
        let m = memory(vec![a]);
        let arg = max.map(|x| format!(",{x}")).unwrap_or_default();
        for f in ["nonNegativeDerivative", "perSecond"] {
            for s in eval(&m, &format!("{f}(p.s0{arg})")) {
                prop_assert!(s.values.iter().flatten().all(|v| *v >= 0.0), "{f}: {:?}", s.values);
            }
        }
    }

    #[test]
    fn scaling_inverts(a in values(), k in 0.001f64..1000.0) {
        let m = memory(vec![a]);
        let back = eval(&m, &format!("scale(scale(p.s0,{k}),{})", 1.0 / k));
        let orig = eval(&m, "p.s0");
        for (x, y) in back[0].values.iter().zip(&orig[0].values) {
            match (x, y) {
                (Some(x), Some(y)) => prop_assert!(close(*x, *y)),
                (None, None) => {}
                _ => prop_assert!(false, "null changed"),
            }
        }
    }

    #[test]
    fn percentages_of_the_sum_add_up_to_100(a in proptest::collection::vec(1f64..1e3, 20), b in proptest::collection::vec(1f64..1e3, 20)) {
        let m = memory(vec![a.into_iter().map(Some).collect(), b.into_iter().map(Some).collect()]);
        let p = eval(&m, "asPercent(p.*)");
        for i in 0..p[0].values.len() {
            let total: f64 = p.iter().filter_map(|s| s.values[i]).sum();
            prop_assert!(close(total, 100.0));
        }
    }

    #[test]
    fn a_window_of_one_point_is_the_series(a in values()) {
        let m = memory(vec![a]);
        let orig = eval(&m, "p.s0");
        for f in ["movingSum", "movingAverage", "movingMax"] {
            let moved = eval(&m, &format!("{f}(p.s0,1)"));
            prop_assert_eq!(moved[0].start, orig[0].start);
            prop_assert_eq!(&moved[0].values, &orig[0].values);
        }
    }

    #[test]
    fn integral_of_values_ends_at_their_sum(a in values()) {
        let m = memory(vec![a]);
        let orig = eval(&m, "p.s0");
        let total: f64 = orig[0].values.iter().flatten().sum();
        let integral = eval(&m, "integral(p.s0)");
        if let Some(last) = integral[0].values.iter().rev().flatten().next() {
            prop_assert!(close(*last, total));
        }
    }
}
