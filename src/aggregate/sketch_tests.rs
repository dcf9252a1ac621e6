use super::sketch::{Accuracy, Sketch, rank};
use crate::encoding::Reader;
use proptest::prelude::*;

const FINE: f64 = 0.005_000_125_006_250_4;

fn exact(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[rank(q, values.len() as u64) as usize]
}

fn build(a: Accuracy, values: &[f64]) -> Sketch {
    let mut s = Sketch::with_accuracy(a);
    values.iter().for_each(|&v| s.add(v));
    s
}

#[test]
fn new_sketches_are_fine_and_the_bounds_are_stated() {
    assert_eq!(Sketch::new().accuracy(), Accuracy::Fine);
    assert!((Accuracy::Fine.relative() - FINE).abs() < 1e-15);
    for a in [Accuracy::Coarse, Accuracy::Fine] {
        let g = a.gamma();
        assert!(
            ((g - 1.0) / (g + 1.0) - a.relative()).abs() < 1e-15,
            "{a:?}"
        );
        // Both accuracies collapse bins only past the same range of values.
        let range = (a.max_bins() as f64 * g.ln()).exp();
        assert!((6.1e17..6.2e17).contains(&range), "{a:?}: {range:e}");
    }
}

#[test]
fn quantiles_are_within_the_bound() {
    let mut values: Vec<f64> = (1..=10_000).map(|i| (i as f64) * 0.37).collect();
    for a in [Accuracy::Coarse, Accuracy::Fine] {
        let s = build(a, &values);
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let want = exact(&mut values, q);
            let got = s.quantile(q).unwrap();
            assert!(
                (got - want).abs() <= want * a.relative(),
                "{a:?} q={q} {got} vs {want}"
            );
        }
    }
}

/// etsy's rank (`upper_N` is `values[round(N/100 × n) − 1]`): p99.9 of three values is
/// the largest (graphite's `nPercentile` agrees), not the middle one.
#[test]
fn the_rank_is_etsys() {
    assert_eq!(rank(0.999, 3), 2);
    assert_eq!(rank(0.5, 3), 1);
    assert_eq!(rank(0.9, 10), 8);
    assert_eq!(rank(0.99, 20_000), 19_799);
    assert_eq!((rank(0.0, 5), rank(1.0, 5), rank(0.01, 5)), (0, 4, 0));
    let s = build(Accuracy::Fine, &[10.0, 20.0, 30.0]);
    assert!((s.quantile(0.999).unwrap() - 30.0).abs() <= 0.3 * 0.5);
}

/// 20,000 lognormal timings (Box-Muller over a fixed LCG), as issue 18's StatsD run.
fn lognormal(n: usize) -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let z = (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
            (4.0 + 0.8 * z).exp()
        })
        .collect()
}

/// Issue 18, item 4: each bin stands for the harmonic mean of its bounds, `2γᵏ/(γ+1)`, the
/// value with the least relative error both at worst (exactly ±α at the bin's edges) and on
/// average over the bin (for values spread evenly in log scale): so over many quantiles the
/// typical error is about half the bound (0.25 % for new, fine sketches), and none is past it.
#[test]
fn the_typical_error_is_half_the_bound() {
    let mut values = lognormal(20_000);
    for a in [Accuracy::Fine, Accuracy::Coarse] {
        let s = build(a, &values);
        let mut errors = Vec::new();
        for p in (1..100).map(f64::from).chain([99.5, 99.9]) {
            let q = p / 100.0;
            let want = exact(&mut values, q);
            let got = s.quantile(q).unwrap();
            errors.push(((got - want) / want).abs());
        }
        let max = errors.iter().copied().fold(0.0, f64::max);
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        eprintln!("{a:?}: relative error over 101 quantiles: max {max:.5}, mean {mean:.5}");
        let alpha = a.relative();
        assert!(max <= alpha, "{a:?} max {max}");
        assert!(
            (0.3 * alpha..=0.6 * alpha).contains(&mean),
            "{a:?} mean {mean}"
        );
        // The representative of a bin: the same error, of opposite sign, at both edges.
        let g = a.gamma();
        for k in [-300, -7, 0, 1, 40, 900] {
            let (lo, hi) = (g.powi(k - 1), g.powi(k));
            let v = a.value(k);
            assert!(((v - lo) / lo - alpha).abs() < 1e-12, "{a:?} k={k}");
            assert!(((hi - v) / hi - alpha).abs() < 1e-12, "{a:?} k={k}");
        }
    }
}

/// A coarse bin's edges (`γ_coarse^k`, computed as the keys see them) fall in the same coarse
/// bin whether keyed directly or through a fine key: re-keying never moves a value.
#[test]
fn fine_bins_nest_in_coarse_bins_at_the_edges() {
    let g = Accuracy::Coarse.gamma();
    for k in -1000..1000 {
        let edge = g.powi(k);
        for v in [edge, edge.next_up(), edge.next_down()] {
            let mut fine = build(Accuracy::Fine, &[v]);
            fine.merge(&Sketch::with_accuracy(Accuracy::Coarse));
            assert_eq!(fine, build(Accuracy::Coarse, &[v]), "k={k} v={v:e}");
        }
    }
}

fn values() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(
        prop_oneof![-1e6f64..1e6, (-9.0f64..6.0).prop_map(|e| 10f64.powf(e))],
        0..200,
    )
}

fn accuracy() -> impl Strategy<Value = Accuracy> {
    prop_oneof![Just(Accuracy::Coarse), Just(Accuracy::Fine)]
}

proptest! {
    /// Of one accuracy (fine + fine as every new bucket, coarse + coarse as old data): merging
    /// in any order equals building from the raw values, and the encoding round-trips.
    #[test]
    fn merge_equals_building_from_raw(a in values(), b in values(), acc in accuracy()) {
        let (sa, sb) = (build(acc, &a), build(acc, &b));
        let all = build(acc, &[a, b].concat());
        let mut ab = sa.clone();
        ab.merge(&sb);
        let mut ba = sb.clone();
        ba.merge(&sa);
        prop_assert_eq!(&ab, &all);
        prop_assert_eq!(&ba, &all);
        let mut enc = Vec::new();
        all.encode(&mut enc);
        prop_assert_eq!(&Sketch::decode(&mut Reader::new(&enc), acc).unwrap(), &all);
        let packed = all.pack();
        prop_assert!(packed.len() <= enc.len() + 1, "{} > {} + 1", packed.len(), enc.len());
        prop_assert_eq!(Sketch::unpack(&packed).unwrap(), all);
    }

    /// Old (coarse) data merged with new (fine) data, in any order and grouping: the coarse
    /// sketch of all the raw values, so within 1 % — the same as old data merged today.
    #[test]
    fn a_mixed_merge_is_the_coarse_sketch_of_everything(
        a in values(), b in values(), c in values(), q in 0.0f64..=1.0,
    ) {
        let (old, f1, f2) = (build(Accuracy::Coarse, &a), build(Accuracy::Fine, &b), build(Accuracy::Fine, &c));
        let mut all = [a, b, c].concat();
        let want = build(Accuracy::Coarse, &all);
        let mut left = old.clone();
        left.merge(&f1);
        left.merge(&f2);
        let mut fines = f1.clone();
        fines.merge(&f2);
        let mut right = fines.clone();
        right.merge(&old);
        let mut grouped = old.clone();
        grouped.merge(&fines);
        let mut reversed = f2.clone();
        reversed.merge(&old);
        reversed.merge(&f1);
        for got in [&left, &right, &grouped, &reversed] {
            prop_assert_eq!(got, &want);
            prop_assert_eq!(got.accuracy(), Accuracy::Coarse);
        }
        if !all.is_empty() {
            let exact = exact(&mut all, q);
            let got = left.quantile(q).unwrap();
            prop_assert!((got - exact).abs() <= exact.abs() * 0.01 + 2e-9, "{} vs {}", got, exact);
        }
    }

    #[test]
    fn quantile_error_is_bounded(mut v in proptest::collection::vec(-1e6f64..1e6, 1..500), q in 0.0f64..=1.0) {
        let s = build(Accuracy::Fine, &v);
        let want = exact(&mut v, q);
        let got = s.quantile(q).unwrap();
        prop_assert!((got - want).abs() <= want.abs() * FINE + 2e-9, "{} vs {}", got, want);
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), acc in accuracy()) {
        if let Ok(s) = Sketch::decode(&mut Reader::new(&bytes), acc) {
            let _ = s.quantile(0.5);
            let mut other = build(Accuracy::Fine, &[1.0, -3.0]);
            other.merge(&s);
        }
        if let Ok(s) = Sketch::unpack(&bytes) {
            let again = Sketch::unpack(&s.pack()).unwrap();
            prop_assert_eq!(again.count(), s.count());
            prop_assert_eq!(again.quantile(0.5), s.quantile(0.5));
        }
    }
}
