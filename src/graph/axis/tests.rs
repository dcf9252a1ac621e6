//! Vectors ported as data from graphite-web's `webapp/tests/test_render_glyph.py`
//! (Apache-2.0, graphite-project), so tally's axes match graphite-web's.

use super::*;
use UnitSystem::{Binary, Si};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[test]
fn format_units_vectors() {
    for (v, step, want, prefix) in [
        (1.0, None, 1.0, ""),
        (0.001, None, 0.001, ""),
        (1000.0, None, 1.0, "k"),
        (1_000_000.0, None, 1.0, "M"),
        (1.0, Some(100.0), 1.0, ""),
        (1000.0, Some(100.0), 1000.0, ""),
        (1_000_000.0, Some(100.0), 1_000_000.0, ""),
    ] {
        assert_eq!(format_units(v, step, Si), (want, prefix), "{v} {step:?}");
    }
    assert_eq!(format_units(2048.0, None, Binary), (2.0, "Ki"));
    assert_eq!(format_units(5000.0, None, UnitSystem::None), (5000.0, ""));
}

#[test]
fn python_g_format() {
    for (v, s) in [
        (0.01, "0.01"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (5.0, "5"),
        (-200.0, "-200"),
        (123456.0, "123456"),
        (1234567.0, "1.23457e+06"),
        (0.123456789, "0.123457"),
        (-0.5, "-0.5"),
    ] {
        assert_eq!(py_g(v), s, "{v}");
    }
}

#[test]
fn reconcile_limits() {
    let t = |min: Option<f64>, max: Option<Option<f64>>, limit: Option<f64>| {
        let mut y = Tics::new(0.0, 100.0, Binary, None).unwrap();
        y.apply(min, max, limit).map(|()| (y.min, y.max))
    };
    assert_eq!(t(None, None, None).unwrap(), (0.0, 100.0));
    assert_eq!(
        t(Some(0.0), Some(Some(10.0)), Some(100.0)).unwrap(),
        (0.0, 10.0)
    );
    assert_eq!(t(None, Some(None), Some(100.0)).unwrap(), (0.0, 100.0));
    assert_eq!(t(None, Some(Some(100.0)), Some(10.0)).unwrap(), (0.0, 10.0));
    assert_eq!(
        t(None, Some(Some(10.0)), Some(f64::INFINITY)).unwrap(),
        (0.0, 10.0)
    );
    assert_eq!(t(None, Some(Some(0.0)), None).unwrap(), (-1.0, 0.0));
    assert_eq!(t(None, Some(Some(-10.0)), None).unwrap(), (-11.0, -10.0));
    assert_eq!(t(Some(100.0), None, None).unwrap(), (100.0, 110.0));
    assert_eq!(t(Some(200.0), None, None).unwrap(), (200.0, 220.0));
    assert!(t(Some(1000.0), Some(Some(10.0)), None).is_err());
    assert!(Tics::new(f64::NAN, 1.0, Si, None).is_err());
    assert!(Tics::new(0.0, f64::INFINITY, Si, None).is_err());
}

#[test]
fn choose_step() {
    for (min, max, want) in [
        (0.0, 1000.0, 200.0),
        (0.0, 0.0, 0.2),
        (1.0, 1.0, 0.05),
        (-1.0, -1.0, 0.05),
    ] {
        let mut y = Tics::new(min, max, Si, None).unwrap();
        y.choose_step(&[4, 5, 6], false);
        assert!(close(y.step, want), "{min}..{max}: {} != {want}", y.step);
    }
    let mut y = Tics::new(0.0, 1000.0, Binary, None).unwrap();
    y.choose_step(&[4, 5, 6], true);
    assert_eq!(y.step, 256.0);
}

#[test]
fn slop() {
    assert_eq!(
        Tics::new(0.0, 1000.0, Si, None).unwrap().slop(10.0, 5),
        None
    );
    assert!(close(
        Tics::new(0.0, 100.0, Si, None)
            .unwrap()
            .slop(50.0, 10)
            .unwrap(),
        400.0
    ));
    assert!(close(
        Tics::new(0.0, 1.0, Si, None)
            .unwrap()
            .slop(10.0, 3)
            .unwrap(),
        29.0
    ));
}

fn axis(min: f64, max: f64, axis_max: Option<Option<f64>>) -> Tics {
    let mut y = Tics::new(min, max, Si, None).unwrap();
    y.apply(None, axis_max, None).unwrap();
    y.choose_step(&[4, 5, 6], false);
    y.choose_limits().unwrap();
    y
}

#[test]
fn choose_limits_and_labels() {
    let mut y = axis(0.0, 1000.0, None);
    assert_eq!((y.bottom, y.top, y.span), (0.0, 1000.0, 1000.0));
    assert_eq!(y.label_values(), [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
    let y = axis(0.0, 1000.0, Some(Some(0.0)));
    assert_eq!((y.bottom, y.top, y.span), (-1.0, 0.0, 1.0));
    let y = axis(0.0, 0.0, Some(Some(0.1)));
    assert_eq!((y.bottom, y.top, y.span), (0.0, 0.1, 0.1));
    let mut y = axis(-1000.0, -1.0, None);
    assert_eq!(
        y.label_values(),
        [-1000.0, -800.0, -600.0, -400.0, -200.0, 0.0]
    );
    // A silly step is replaced, as graphite-web does.
    y.set_step(0.001);
    assert_eq!(
        y.label_values(),
        [-1000.0, -800.0, -600.0, -400.0, -200.0, 0.0]
    );
}

#[test]
fn labels() {
    // graphite-web's test leaves the step unset (None); a huge step lets every prefix apply.
    let mut y = Tics::new(0.0, 1000.0, Si, None).unwrap();
    y.step = 1e18;
    y.span = 100.0;
    assert_eq!(y.label(51234.1234), "51.2 k ");
    assert_eq!(y.label(100_000.0), "100.0 k ");
    y.span = 5.0;
    assert_eq!(y.label(50.1234), "50.1 ");
    assert_eq!(y.label(10.0), "10.0 ");
    y.span = 1.0;
    assert_eq!(y.label(5.1234), "5.12 ");
    assert_eq!(y.label(5.0), "5.00 ");
    assert_eq!(y.label(0.1), "0.10 ");
    assert_eq!(y.label(0.01), "0.01 ");
    // A real axis: 0–1000 labels in steps of 200 read 0, 200.0 … 1000.0 (no prefix: the step
    // is below 1000).
    let mut y = axis(0.0, 1000.0, None);
    let labels: Vec<String> = y.label_values().iter().map(|v| y.label(*v)).collect();
    assert_eq!(
        labels,
        ["0 ", "200.0 ", "400.0 ", "600.0 ", "800.0 ", "1000.0 "]
    );
    let mut y = axis(0.0, 5_000_000.0, None);
    let labels: Vec<String> = y.label_values().iter().map(|v| y.label(*v)).collect();
    assert_eq!(
        labels,
        ["0 ", "1.0 M ", "2.0 M ", "3.0 M ", "4.0 M ", "5.0 M "]
    );
}

#[test]
fn log_axis() {
    let mut y = Tics::new(3.0, 4500.0, Si, Some(10.0)).unwrap();
    y.apply(None, None, None).unwrap();
    y.choose_step(&[4, 5, 6], false);
    y.choose_limits().unwrap();
    assert_eq!((y.bottom, y.top), (1.0, 10000.0));
    let values = y.label_values();
    assert_eq!(values.len(), 5);
    assert!(close(values[4], 10000.0));
    assert!(close(y.fraction(100.0).unwrap(), 0.5));
    assert_eq!(y.fraction(0.0), None);
    let mut y = Tics::new(-1.0, 10.0, Si, Some(10.0)).unwrap();
    assert!(y.choose_limits().is_err());
}

#[test]
fn data_limits_vectors() {
    let a: Vec<Option<f64>> = (0..=100).map(|i| Some(f64::from(i))).collect();
    let c = vec![Some(1.0), None, None, None, None];
    let list = [
        (a.as_slice(), false),
        (a.as_slice(), false),
        (c.as_slice(), false),
    ];
    assert_eq!(
        data_limits(list.iter().copied(), false, false),
        (0.0, 100.0)
    );
    assert_eq!(data_limits(list.iter().copied(), false, true), (0.0, 8.0));
    assert_eq!(data_limits(list.iter().copied(), true, true), (0.0, 8.0));
    assert_eq!(data_limits(std::iter::empty(), false, false), (0.0, 1.0));
    let b: Vec<Option<f64>> = (10..=100).map(|i| Some(f64::from(i))).collect();
    let list = [
        (b.as_slice(), false),
        (b.as_slice(), false),
        (c.as_slice(), false),
    ];
    assert_eq!(
        data_limits(list.iter().copied(), false, false),
        (1.0, 100.0)
    );
    let b: Vec<Option<f64>> = (10..=100).map(|i| Some(f64::from(i))).collect();
    let d = vec![Some(5.0), None];
    let list = [(b.as_slice(), false), (d.as_slice(), false)];
    assert_eq!(data_limits(list.iter().copied(), true, false), (0.0, 100.0));
    let neg = vec![Some(-50.0), None];
    assert_eq!(
        data_limits([(neg.as_slice(), false)].into_iter(), true, false),
        (-50.0, 0.0)
    );
    // drawAsInfinite series do not count.
    let big = vec![Some(1e9)];
    let list = [(b.as_slice(), false), (big.as_slice(), true)];
    assert_eq!(
        data_limits(list.iter().copied(), false, false),
        (10.0, 100.0)
    );
}

proptest::proptest! {
    /// Data-driven axes always cover the data with a 1-2-5 step and a handful of labels (the
    /// step is chosen for 4–6 divisions; the limits then round to the data, as in graphite).
    #[test]
    fn axes_cover_the_data(a in -1e9f64..1e9, span in 1e-6f64..1e9) {
        let (min, max) = (a, a + span);
        let mut y = Tics::new(min, max, Si, None).unwrap();
        y.apply(None, None, None).unwrap();
        y.choose_step(&[4, 5, 6], false);
        y.choose_limits().unwrap();
        let labels = y.label_values();
        let eps = y.step * 1e-3;
        proptest::prop_assert!((3..=7).contains(&labels.len()), "{labels:?}");
        proptest::prop_assert!(y.bottom <= min + eps && y.top >= max - eps);
        let mantissa = y.step / 10f64.powf(y.step.log10().floor());
        proptest::prop_assert!([1.0, 2.0, 5.0, 10.0].iter().any(|m| (m - mantissa).abs() < 1e-6), "{}", y.step);
    }
}
