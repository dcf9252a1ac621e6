//! A DDSketch (Masson et al., VLDB 2019) with 1% relative accuracy: values go into logarithmic
//! bins, so merging two sketches is adding their bins — exact, associative and commutative. A
//! sketch of an hour merged from sixty one-minute sketches is identical to one built from the raw
//! values. The bins live in a dense `Vec` per sign with an offset; at most [`MAX_BINS`] per sign
//! (the lowest are collapsed, as the reference implementation does).

use crate::encoding::{self, Reader};

/// Relative accuracy of every quantile.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Bins kept per sign before the lowest are collapsed into one.
pub const MAX_BINS: usize = 2048;
/// Magnitudes below this count as zero.
const MIN_INDEXABLE: f64 = 1e-9;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

fn ln_gamma() -> f64 {
    gamma().ln()
}

/// The 0-based rank of quantile `q` among `n` values: etsy's `Math.round(q × n) − 1`, at
/// least 0 and at most `n − 1`.
pub fn rank(q: f64, n: u64) -> u64 {
    ((q * n as f64).round() as u64)
        .saturating_sub(1)
        .min(n.saturating_sub(1))
}

fn saturating_sum(it: impl Iterator<Item = u64>) -> u64 {
    it.fold(0, u64::saturating_add)
}

/// Dense bins `counts[i]` for key `offset + i`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bins {
    offset: i32,
    counts: Vec<u64>,
}

impl Bins {
    fn add(&mut self, key: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = key;
            self.counts.push(n);
            return;
        }
        let (key64, offset64) = (i64::from(key), i64::from(self.offset));
        if key64 < offset64 {
            let grow = (offset64 - key64) as usize;
            if self.counts.len() + grow > MAX_BINS {
                // Collapse: values below the lowest kept bin are counted in it.
                self.counts[0] = self.counts[0].saturating_add(n);
                return;
            }
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = key;
        } else if key64 - offset64 >= MAX_BINS as i64 {
            // Keep the highest MAX_BINS keys; everything lower collapses into the lowest kept.
            let new_offset = key64 - (MAX_BINS as i64 - 1);
            let drop = (new_offset - offset64) as usize;
            let collapsed = saturating_sum(self.counts.drain(0..drop.min(self.counts.len())));
            if self.counts.is_empty() {
                self.counts.push(0);
            }
            self.counts[0] = self.counts[0].saturating_add(collapsed);
            self.offset = new_offset as i32;
        }
        let idx = (key - self.offset) as usize;
        if idx >= self.counts.len() {
            self.counts.resize(idx + 1, 0);
        }
        self.counts[idx] = self.counts[idx].saturating_add(n);
    }

    fn merge(&mut self, other: &Bins) {
        for (i, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                self.add(other.offset + i as i32, c);
            }
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (self.offset + i as i32, *c))
    }

    fn total(&self) -> u64 {
        saturating_sum(self.counts.iter().copied())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let nonzero = self.iter().count();
        encoding::put_uvarint(out, nonzero as u64);
        let mut prev = 0i64;
        for (k, c) in self.iter() {
            encoding::put_ivarint(out, i64::from(k) - prev);
            encoding::put_uvarint(out, c);
            prev = i64::from(k);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Bins, encoding::Error> {
        let n = r.uvarint()?;
        let mut bins = Bins::default();
        let mut key = 0i64;
        for _ in 0..n {
            key = key.wrapping_add(r.ivarint()?);
            let k = i32::try_from(key).map_err(|_| encoding::Error::Invalid("sketch key"))?;
            bins.add(k, r.uvarint()?);
        }
        Ok(bins)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    positive: Bins,
    negative: Bins,
    zeros: u64,
}

impl Sketch {
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// Bytes this sketch holds on the heap, itself included (for memory bounds).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Sketch>()
            + (self.positive.counts.capacity() + self.negative.counts.capacity()) * 8
    }

    fn key(magnitude: f64) -> i32 {
        (magnitude.ln() / ln_gamma()).ceil() as i32
    }

    fn value(key: i32) -> f64 {
        let g = gamma();
        2.0 * g.powi(key) / (g + 1.0)
    }

    pub fn add(&mut self, v: f64) {
        self.add_n(v, 1);
    }

    pub fn add_n(&mut self, v: f64, n: u64) {
        if !v.is_finite() {
            return;
        }
        if v > MIN_INDEXABLE {
            self.positive.add(Self::key(v), n);
        } else if v < -MIN_INDEXABLE {
            self.negative.add(Self::key(-v), n);
        } else {
            self.zeros = self.zeros.saturating_add(n);
        }
    }

    pub fn merge(&mut self, other: &Sketch) {
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.zeros = self.zeros.saturating_add(other.zeros);
    }

    pub fn count(&self) -> u64 {
        self.positive
            .total()
            .saturating_add(self.negative.total())
            .saturating_add(self.zeros)
    }

    /// The value at quantile `q` (0..=1), within 1% of the true one; `None` when empty.
    /// The rank is etsy statsd's (`upper_90`): the `round(q × n)`-th smallest value (at least
    /// the first), which is graphite's `nPercentile` rank, `ceil(q × (n + 1))`, to within one.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = rank(q, n);
        let mut seen = 0u64;
        for (k, c) in self.negative.iter().rev() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return Some(-Self::value(k));
            }
        }
        seen = seen.saturating_add(self.zeros);
        if seen > rank {
            return Some(0.0);
        }
        for (k, c) in self.positive.iter() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return Some(Self::value(k));
            }
        }
        None
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        encoding::put_uvarint(out, self.zeros);
        self.positive.encode(out);
        self.negative.encode(out);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Sketch, encoding::Error> {
        let zeros = r.uvarint()?;
        let positive = Bins::decode(r)?;
        let negative = Bins::decode(r)?;
        Ok(Sketch {
            positive,
            negative,
            zeros,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact(values: &mut [f64], q: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        values[rank(q, values.len() as u64) as usize]
    }

    #[test]
    fn quantiles_are_within_one_percent() {
        let mut values: Vec<f64> = (1..=10_000).map(|i| (i as f64) * 0.37).collect();
        let mut s = Sketch::new();
        values.iter().for_each(|&v| s.add(v));
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let want = exact(&mut values, q);
            let got = s.quantile(q).unwrap();
            assert!(
                (got - want).abs() <= want * RELATIVE_ACCURACY,
                "q={q} {got} vs {want}"
            );
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
        let mut s = Sketch::new();
        [10.0, 20.0, 30.0].iter().for_each(|&v| s.add(v));
        assert!((s.quantile(0.999).unwrap() - 30.0).abs() <= 0.3);
    }

    /// Issue 18, item 4: each bin stands for the harmonic mean of its bounds, `2γᵏ/(γ+1)`, the
    /// value with the least relative error both at worst (exactly ±1 % at the bin's edges)
    /// and on average over the bin (for values spread evenly in log scale): so over many
    /// quantiles the typical error is about half the bound, and none is past it.
    #[test]
    fn the_typical_error_is_half_the_bound() {
        // 20,000 lognormal timings (Box-Muller over a fixed LCG), as the StatsD run.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut values: Vec<f64> = (0..20_000)
            .map(|_| {
                let z =
                    (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
                (4.0 + 0.8 * z).exp()
            })
            .collect();
        let mut s = Sketch::new();
        values.iter().for_each(|&v| s.add(v));
        let mut errors = Vec::new();
        for p in (1..100).map(f64::from).chain([99.5, 99.9]) {
            let q = p / 100.0;
            let want = exact(&mut values, q);
            let got = s.quantile(q).unwrap();
            errors.push(((got - want) / want).abs());
        }
        let max = errors.iter().copied().fold(0.0, f64::max);
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        eprintln!("relative error over 101 quantiles: max {max:.5}, mean {mean:.5}");
        assert!(max <= RELATIVE_ACCURACY, "max {max}");
        assert!(
            (0.3 * RELATIVE_ACCURACY..=0.6 * RELATIVE_ACCURACY).contains(&mean),
            "mean {mean}"
        );
        // The representative of a bin: the same error, of opposite sign, at both edges.
        let g = gamma();
        for k in [-300, -7, 0, 1, 40, 900] {
            let (lo, hi) = (g.powi(k - 1), g.powi(k));
            let v = Sketch::value(k);
            assert!(((v - lo) / lo - RELATIVE_ACCURACY).abs() < 1e-12, "k={k}");
            assert!(((hi - v) / hi - RELATIVE_ACCURACY).abs() < 1e-12, "k={k}");
        }
    }

    proptest! {
        #[test]
        fn merge_equals_building_from_raw(
            a in proptest::collection::vec(-1e6f64..1e6, 0..200),
            b in proptest::collection::vec(-1e6f64..1e6, 0..200),
        ) {
            let (mut sa, mut sb, mut all) = (Sketch::new(), Sketch::new(), Sketch::new());
            a.iter().for_each(|&v| { sa.add(v); all.add(v); });
            b.iter().for_each(|&v| { sb.add(v); all.add(v); });
            let mut ab = sa.clone();
            ab.merge(&sb);
            let mut ba = sb.clone();
            ba.merge(&sa);
            prop_assert_eq!(&ab, &all);
            prop_assert_eq!(&ba, &all);
            let mut enc = Vec::new();
            all.encode(&mut enc);
            prop_assert_eq!(Sketch::decode(&mut Reader::new(&enc)).unwrap(), all);
        }

        #[test]
        fn quantile_error_is_bounded(mut v in proptest::collection::vec(-1e6f64..1e6, 1..500), q in 0.0f64..=1.0) {
            let mut s = Sketch::new();
            v.iter().for_each(|&x| s.add(x));
            let want = exact(&mut v, q);
            let got = s.quantile(q).unwrap();
            prop_assert!((got - want).abs() <= want.abs() * RELATIVE_ACCURACY + 2e-9, "{} vs {}", got, want);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Sketch::decode(&mut Reader::new(&bytes));
        }
    }
}
