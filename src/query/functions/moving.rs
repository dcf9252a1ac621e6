//! Moving windows over one series' values: each window aggregated on its own and in order,
//! as graphite-web does, so results are the same to the bit (see `window_sums`).

use crate::query::series::{Agg, Value, xff};

/// The sum and the non-null count of the `w` values before each point from the `w + 1`-th
/// on. Each window is summed on its own, left to right from -0.0, as `Iterator::sum` over its
/// non-null values would (a null adds -0.0, which changes no sum, not even a zero's sign);
/// eight windows at a time, one in each lane, so the adds vectorise without reordering any
/// window's sum.
fn window_sums(values: &[Value], w: usize) -> (Vec<f64>, Vec<usize>) {
    const LANES: usize = 8;
    let outs = values.len().saturating_sub(w);
    let dense: Vec<f64> = values.iter().map(|v| v.unwrap_or(-0.0)).collect();
    let mut before = Vec::with_capacity(values.len() + 1);
    before.push(0usize);
    for v in values {
        before.push(before[before.len() - 1] + usize::from(v.is_some()));
    }
    let counts = (0..outs)
        .map(|k| before[k + 1 + w] - before[k + 1])
        .collect();
    let mut sums = vec![0.0; outs];
    let mut k = 0;
    while k + LANES <= outs {
        let mut acc = [-0.0f64; LANES];
        for row in dense[k + 1..k + w + LANES].windows(LANES) {
            for (a, x) in acc.iter_mut().zip(row) {
                *a += x;
            }
        }
        sums[k..k + LANES].copy_from_slice(&acc);
        k += LANES;
    }
    for (k, sum) in sums.iter_mut().enumerate().skip(k) {
        *sum = dense[k + 1..k + 1 + w].iter().fold(-0.0, |s, x| s + x);
    }
    (sums, counts)
}

pub fn values(values: &[Value], w: usize, agg: Agg, factor: f64) -> Vec<Value> {
    let windows = (w + 1..=values.len()).map(|i| &values[i - w..i]);
    match agg {
        Agg::Average | Agg::Sum => {
            let (sums, counts) = window_sums(values, w);
            sums.into_iter()
                .zip(counts)
                .map(|(sum, n)| match xff(n, w, factor) {
                    false => None,
                    true if agg == Agg::Sum => Some(sum),
                    true => Some(sum / n as f64),
                })
                .collect()
        }
        Agg::Min | Agg::Max | Agg::Median | Agg::Stddev | Agg::Range | Agg::Diff => windows
            .map(|win| {
                let n = win.iter().filter(|v| v.is_some()).count();
                if xff(n, w, factor) {
                    agg.apply(win)
                } else {
                    None
                }
            })
            .collect(),
        _ => {
            // One buffer for every window (a vector per point was a third of the time).
            let mut window: Vec<Value> = Vec::with_capacity(w);
            windows
                .map(|win| {
                    window.clear();
                    window.extend(win.iter().filter(|v| v.is_some()).copied());
                    if xff(window.len(), w, factor) {
                        agg.apply(&window)
                    } else {
                        None
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Graphite's way, window by window: the non-null values, then the function.
    fn naive(values: &[Value], w: usize, agg: Agg, factor: f64) -> Vec<Value> {
        (w + 1..=values.len())
            .map(|i| {
                let win: Vec<Value> = values[i - w..i]
                    .iter()
                    .filter(|v| v.is_some())
                    .copied()
                    .collect();
                if xff(win.len(), w, factor) {
                    agg.apply(&win)
                } else {
                    None
                }
            })
            .collect()
    }

    fn same(a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => x.to_bits() == y.to_bits() || x.is_nan() && y.is_nan(),
                _ => x == y,
            })
    }

    #[test]
    fn every_window_is_what_graphite_computes_to_the_bit() {
        // A random walk with nulls, zeros of both signs, a NaN and infinities; sums whose
        // rounding depends on the order of the adds.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values: Vec<Value> = (0..1000)
            .map(|_| {
                let r = next();
                (r % 7 != 0).then(|| (r >> 11) as f64 / (1u64 << 53) as f64 * 1e3 - 3e2 + 1e-7)
            })
            .collect();
        values[17] = Some(-0.0);
        values[18] = Some(0.0);
        values[400] = Some(f64::NAN);
        values[700] = Some(f64::INFINITY);
        values[705] = Some(f64::NEG_INFINITY);
        for w in [1, 2, 7, 8, 9, 60, 999, 1000, 1001] {
            for agg in [
                Agg::Average,
                Agg::Sum,
                Agg::Max,
                Agg::Median,
                Agg::Multiply,
                Agg::Count,
            ] {
                for factor in [0.0, 0.5, 1.0] {
                    let got = values_of(&values, w, agg, factor);
                    assert!(
                        same(&got, &naive(&values, w, agg, factor)),
                        "w {w} {agg:?} {factor}"
                    );
                }
            }
        }
        // A window of negative zeros sums to -0.0, as Python's and Rust's sums do.
        let zeros = vec![Some(-0.0), None, Some(-0.0)];
        assert!(values_of(&zeros, 2, Agg::Sum, 0.0)[0].is_some_and(|v| v.is_sign_negative()));
    }

    fn values_of(v: &[Value], w: usize, agg: Agg, factor: f64) -> Vec<Value> {
        values(v, w, agg, factor)
    }
}
