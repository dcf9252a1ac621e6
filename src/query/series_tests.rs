use super::*;
use proptest::prelude::*;

fn parse_value(s: &str) -> Value {
    if s == "None" {
        None
    } else {
        Some(s.parse().unwrap())
    }
}

/// graphite-web's own maxDataPoints vectors (ported as data; see the file's header).
#[test]
fn max_data_points_matches_graphite_vectors() {
    let text = include_str!("../../tests/data/render/max_data_points.golden");
    let mut base: Option<TimeSeries> = None;
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        if let Some(rest) = line.strip_prefix("series ") {
            let kv: std::collections::HashMap<&str, &str> =
                rest.split(' ').filter_map(|p| p.split_once('=')).collect();
            let values = kv["values"].split(',').map(parse_value).collect();
            let mut s = TimeSeries::new(
                "test",
                kv["start"].parse().unwrap(),
                kv["step"].parse().unwrap(),
                values,
            );
            s.end = kv["end"].parse().unwrap();
            s.consolidation = Agg::parse(kv["consolidate"]).unwrap();
            s.x_files_factor = Some(kv["xff"].parse().unwrap());
            base = Some(s);
            continue;
        }
        let (mdp, points) = line.strip_prefix("mdp ").unwrap().split_once(':').unwrap();
        let mdp: u64 = mdp.parse().unwrap();
        let expected: Vec<(Value, i64)> = points
            .split_whitespace()
            .map(|p| {
                let (v, t) = p.split_once('@').unwrap();
                (parse_value(v), t.parse().unwrap())
            })
            .collect();
        let mut list = vec![base.clone().unwrap()];
        max_data_points(&mut list, mdp, 0.0);
        let got: Vec<(Value, i64)> = list[0].datapoints().collect();
        assert_eq!(
            got,
            expected,
            "maxDataPoints={mdp} for {:?}",
            base.as_ref().map(|b| b.start)
        );
        checked += 1;
    }
    assert_eq!(checked, 147);
}

#[test]
fn safe_helpers_follow_graphite() {
    // graphite-web's test_functions.py: safeSum([]) is None, safeDiff([10,None,5,None]) is 5…
    assert_eq!(Agg::Sum.apply(&[]), None);
    assert_eq!(Agg::Sum.apply(&[None, None]), None);
    assert_eq!(Agg::Sum.apply(&[Some(1.0), None, Some(2.0)]), Some(3.0));
    assert_eq!(
        Agg::Diff.apply(&[Some(10.0), None, Some(5.0), None]),
        Some(5.0)
    );
    assert_eq!(Agg::Count.apply(&[Some(1.0), None, Some(2.0)]), Some(2.0));
    assert_eq!(Agg::Average.apply(&[Some(1.0), None, Some(2.0)]), Some(1.5));
    assert_eq!(Agg::AvgZero.apply(&[Some(1.0), None, Some(2.0)]), Some(1.0));
    assert_eq!(
        Agg::Median.apply(&[Some(1.0), Some(4.0), Some(2.0), Some(3.0)]),
        Some(2.5)
    );
    assert_eq!(Agg::Multiply.apply(&[Some(2.0), None]), None);
    assert_eq!(Agg::Multiply.apply(&[Some(2.0), Some(3.0)]), Some(6.0));
    assert_eq!(Agg::Last.apply(&[Some(2.0), Some(3.0), None]), Some(3.0));
    assert_eq!(Agg::Range.apply(&[Some(2.0), Some(7.0), None]), Some(5.0));
    let sd = Agg::Stddev.apply(&[
        Some(2.0),
        Some(4.0),
        Some(4.0),
        Some(4.0),
        Some(5.0),
        Some(5.0),
        Some(7.0),
        Some(9.0),
    ]);
    assert_eq!(sd, Some(2.0));
}

#[test]
fn a_fitted_series_counts_by_the_span_it_was_merged_from() {
    let mut merged = TimeSeries::new("a", 540, 540, vec![Some(1.0); 13]);
    merged.fitted = Some((60, 7260));
    let plain = TimeSeries::new("b", 60, 60, vec![Some(1.0); 120]);
    assert_eq!(span(&[merged.clone(), plain.clone()]), (60, 7260));
    assert!(!fitted_elsewhere(&[merged.clone(), plain]));
    // A summarize that reaches past the read range widens graphite's span.
    let wider = TimeSeries::new("s", 0, 600, vec![Some(1.0); 13]);
    assert_eq!(span(&[merged.clone(), wider.clone()]), (0, 7800));
    assert!(fitted_elsewhere(&[merged, wider]));
}

#[test]
fn normalize_goes_to_the_lcm_step() {
    let a = TimeSeries::new("a", 0, 10, (0..12).map(|i| Some(i as f64)).collect());
    let b = TimeSeries::new("b", 0, 60, vec![Some(1.0), Some(2.0)]);
    let list = [a, b];
    let (cols, start, end, step) = normalize(&list, 0.0).unwrap();
    assert_eq!((start, end, step), (0, 120, 60));
    assert_eq!(cols[0], vec![Some(2.5), Some(8.5)]);
    assert_eq!(cols[1], vec![Some(1.0), Some(2.0)]);
}

#[test]
fn tags_of_tagged_names() {
    let t = tags_of_name("disk.used;dc=eu;rack=a1");
    assert_eq!(t.get("name").map(String::as_str), Some("disk.used"));
    assert_eq!(t.get("dc").map(String::as_str), Some("eu"));
    assert_eq!(tags_of_name("sumSeries(a;b=c)").len(), 1);
}

proptest! {
    /// Consolidation never invents points: every output point is within the inputs' range
    /// and there are at most maxDataPoints + 1 of them (graphite's nudge may add one).
    #[test]
    fn max_data_points_bounds(
        values in proptest::collection::vec(proptest::option::of(-1e6f64..1e6), 1..400),
        start in 0i64..1000,
        step in 1i64..120,
        mdp in 1u64..200,
    ) {
        let mut s = TimeSeries::new("x", start, step, values.clone());
        s.consolidation = Agg::Max;
        let mut list = vec![s];
        max_data_points(&mut list, mdp, 0.0);
        let points: Vec<_> = list[0].datapoints().collect();
        prop_assert!(points.len() as u64 <= mdp + 1);
        let max = values.iter().flatten().cloned().fold(f64::NEG_INFINITY, f64::max);
        for (v, _) in points {
            if let Some(v) = v {
                prop_assert!(v <= max);
            }
        }
    }
}

/// A value for the row tests: nulls, signed zeros, non-finite values and ordinary numbers.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(None),
        Just(Some(0.0)),
        Just(Some(-0.0)),
        Just(Some(f64::NAN)),
        Just(Some(f64::INFINITY)),
        Just(Some(f64::NEG_INFINITY)),
        (-1e6f64..1e6).prop_map(Some),
        any::<f64>().prop_map(Some),
    ]
}

proptest! {
    /// The column-by-column sums and averages are bit for bit the row-by-row ones graphite's
    /// `aggregate` loop computes, xFilesFactor included, on columns of different lengths.
    #[test]
    fn aggregate_rows_equals_applying_each_row(
        columns in proptest::collection::vec(proptest::collection::vec(any_value(), 0..12), 0..6),
        factor in prop_oneof![Just(0.0), Just(0.5), Just(1.0)],
    ) {
        for agg in [Agg::Sum, Agg::Average, Agg::Max, Agg::Median, Agg::Count] {
            let expected: Vec<Value> = rows(&columns)
                .into_iter()
                .map(|row| {
                    let nn = row.iter().filter(|v| v.is_some()).count();
                    if xff(nn, row.len(), factor) { agg.apply(&row) } else { None }
                })
                .collect();
            let got = aggregate_rows(&columns, agg, |nn, len| xff(nn, len, factor));
            // Bit for bit, except that a NaN is any NaN (the compiler may swap the operands
            // of an addition, which picks the other NaN's payload; every NaN prints alike).
            let bits = |v: &[Value]| {
                v.iter()
                    .map(|x| x.map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() }))
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(bits(&got), bits(&expected), "{:?}", agg);
        }
    }
}
