//! A DDSketch (Masson et al., VLDB 2019): values go into logarithmic bins, so merging two
//! sketches is adding their bins — exact, associative and commutative. A sketch of an hour
//! merged from sixty one-minute sketches is identical to one built from the raw values. The
//! bins live in a dense `Vec` per sign with an offset; at most [`Accuracy::max_bins`] per sign
//! (the lowest are collapsed, as the reference implementation does).
//!
//! A sketch knows its [`Accuracy`]. New sketches are [`Accuracy::Fine`] (±0.5 %); sketches
//! written before issue 18 decode as [`Accuracy::Coarse`] (±1 %). A fine bin is exactly one
//! half of a coarse bin (γ_fine = √γ_coarse), so merging a coarse sketch with a fine one
//! re-keys the fine bins into the coarse bins that contain them: the result is coarse and
//! identical to the coarse sketch built from all the raw values — still exact, associative and
//! commutative, within 1 %.

use crate::encoding::{self, Reader};

/// Magnitudes below this count as zero.
const MIN_INDEXABLE: f64 = 1e-9;

/// The bin width of a sketch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accuracy {
    /// ±1 %: γ = 1.01 / 0.99. Every sketch written before issue 18 (extra tag 1).
    Coarse,
    /// ±0.50001 %: γ = √(1.01 / 0.99), α = 1 / (100 + √9999). Every new sketch (extra tag 3).
    #[default]
    Fine,
}

impl Accuracy {
    /// The largest relative error of a quantile: `(γ − 1) / (γ + 1)`.
    pub fn relative(self) -> f64 {
        match self {
            Accuracy::Coarse => 0.01,
            Accuracy::Fine => 1.0 / (100.0 + 9999f64.sqrt()),
        }
    }

    /// Bins kept per sign before the lowest are collapsed into one: the same range of values
    /// (γ_coarse^2048 ≈ 6·10^17, e.g. 1 ns to 19 years) at both accuracies.
    pub fn max_bins(self) -> usize {
        match self {
            Accuracy::Coarse => 2048,
            Accuracy::Fine => 4096,
        }
    }

    pub(super) fn gamma(self) -> f64 {
        let coarse = (1.0 + 0.01) / (1.0 - 0.01);
        match self {
            Accuracy::Coarse => coarse,
            Accuracy::Fine => f64::sqrt(coarse),
        }
    }

    /// Halved exactly (a power of two), so a fine key is `⌈2x⌉` where the coarse one is
    /// `⌈x⌉` for the same floating-point `x`, and `⌈⌈2x⌉ / 2⌉ = ⌈x⌉`: re-keying is exact.
    fn ln_gamma(self) -> f64 {
        let coarse = Accuracy::Coarse.gamma().ln();
        match self {
            Accuracy::Coarse => coarse,
            Accuracy::Fine => coarse / 2.0,
        }
    }

    fn key(self, magnitude: f64) -> i32 {
        (magnitude.ln() / self.ln_gamma()).ceil() as i32
    }

    /// The value bin `key` stands for: the harmonic mean of its bounds `γᵏ⁻¹` and `γᵏ`,
    /// `2γᵏ/(γ+1)`, exactly `relative()` from both edges.
    pub(super) fn value(self, key: i32) -> f64 {
        let g = self.gamma();
        2.0 * g.powi(key) / (g + 1.0)
    }
}

/// The coarse bin holding fine bin `key`: `⌈key / 2⌉`.
fn coarse_key(key: i32) -> i32 {
    key.div_euclid(2) + key.rem_euclid(2)
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

/// Dense bins `counts[i]` for key `offset + i`, at most `max` of them.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bins {
    offset: i32,
    counts: Vec<u64>,
}

impl Bins {
    fn add(&mut self, key: i32, n: u64, max: usize) {
        if self.counts.is_empty() {
            self.offset = key;
            self.counts.push(n);
            return;
        }
        let (key64, offset64) = (i64::from(key), i64::from(self.offset));
        if key64 < offset64 {
            let grow = (offset64 - key64) as usize;
            if self.counts.len() + grow > max {
                // Collapse: values below the lowest kept bin are counted in it.
                self.counts[0] = self.counts[0].saturating_add(n);
                return;
            }
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = key;
        } else if key64 - offset64 >= max as i64 {
            // Keep the highest `max` keys; everything lower collapses into the lowest kept.
            let new_offset = key64 - (max as i64 - 1);
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

    /// Adds `other`'s bins, each under key `rekey(k)`.
    fn merge(&mut self, other: &Bins, rekey: impl Fn(i32) -> i32, max: usize) {
        for (k, c) in other.iter() {
            self.add(rekey(k), c, max);
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

    /// The nonzero bins for memory: their number, the first key, then a varint a bin holding
    /// its count and the gap from the bin before (0, 1 or 2 empty keys, or 3 and the gap
    /// after): one byte a bin of a count under 32 where bins are close, as at a timer's
    /// centre, against two for `encode`'s key delta and count, and never more than that below
    /// a count of 32. A count of 2^62 or more is written as 0, then the count.
    fn pack(&self, out: &mut Vec<u8>) {
        encoding::put_uvarint(out, self.iter().count() as u64);
        let mut prev = None;
        for (k, c) in self.iter() {
            let k = i64::from(k);
            let prev = prev.replace(k).unwrap_or_else(|| {
                encoding::put_ivarint(out, k);
                k - 1
            });
            let gap = (k - prev - 1) as u64;
            let count = if c >> 62 == 0 { c } else { 0 };
            encoding::put_uvarint(out, count << 2 | gap.min(3));
            if count == 0 {
                encoding::put_uvarint(out, c);
            }
            if gap >= 3 {
                encoding::put_uvarint(out, gap - 3);
            }
        }
    }

    fn unpack(r: &mut Reader<'_>, max: usize) -> Result<Bins, encoding::Error> {
        let n = r.uvarint()?;
        let mut bins = Bins::default();
        let mut key = if n > 0 { r.ivarint()? - 1 } else { 0 };
        for _ in 0..n {
            let v = r.uvarint()?;
            let count = match v >> 2 {
                0 => r.uvarint()?,
                c => c,
            };
            let gap = match v & 3 {
                3 => r.uvarint()?.saturating_add(3),
                g => g,
            };
            key = key.saturating_add(1).saturating_add_unsigned(gap);
            let k = i32::try_from(key).map_err(|_| encoding::Error::Invalid("sketch key"))?;
            bins.add(k, count, max);
        }
        Ok(bins)
    }

    fn decode(r: &mut Reader<'_>, max: usize) -> Result<Bins, encoding::Error> {
        let n = r.uvarint()?;
        let mut bins = Bins::default();
        let mut key = 0i64;
        for _ in 0..n {
            key = key.wrapping_add(r.ivarint()?);
            let k = i32::try_from(key).map_err(|_| encoding::Error::Invalid("sketch key"))?;
            bins.add(k, r.uvarint()?, max);
        }
        Ok(bins)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    accuracy: Accuracy,
    positive: Bins,
    negative: Bins,
    zeros: u64,
}

impl Sketch {
    /// An empty sketch at the accuracy of new data ([`Accuracy::Fine`]).
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// An empty sketch of the given accuracy (old data is coarse).
    pub fn with_accuracy(accuracy: Accuracy) -> Sketch {
        Sketch {
            accuracy,
            ..Sketch::default()
        }
    }

    pub fn accuracy(&self) -> Accuracy {
        self.accuracy
    }

    /// Bytes this sketch holds on the heap, itself included (for memory bounds).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Sketch>()
            + (self.positive.counts.capacity() + self.negative.counts.capacity()) * 8
    }

    pub fn add(&mut self, v: f64) {
        self.add_n(v, 1);
    }

    pub fn add_n(&mut self, v: f64, n: u64) {
        if !v.is_finite() {
            return;
        }
        let (a, max) = (self.accuracy, self.accuracy.max_bins());
        if v > MIN_INDEXABLE {
            self.positive.add(a.key(v), n, max);
        } else if v < -MIN_INDEXABLE {
            self.negative.add(a.key(-v), n, max);
        } else {
            self.zeros = self.zeros.saturating_add(n);
        }
    }

    /// Re-keys a fine sketch into coarse bins (a no-op for a coarse one): exactly the coarse
    /// sketch of the same values.
    pub fn coarsen(&mut self) {
        if self.accuracy == Accuracy::Coarse {
            return;
        }
        let max = Accuracy::Coarse.max_bins();
        for bins in [&mut self.positive, &mut self.negative] {
            let mut coarse = Bins::default();
            coarse.merge(bins, coarse_key, max);
            *bins = coarse;
        }
        self.accuracy = Accuracy::Coarse;
    }

    /// Adds `other`'s values. Of equal accuracy: bins add. A coarse and a fine sketch: the
    /// result is coarse, the fine bins counted in the coarse bins that contain them.
    pub fn merge(&mut self, other: &Sketch) {
        if other.accuracy == Accuracy::Coarse {
            self.coarsen();
        }
        let max = self.accuracy.max_bins();
        let rekey: fn(i32) -> i32 = if self.accuracy == other.accuracy {
            |k| k
        } else {
            coarse_key
        };
        self.positive.merge(&other.positive, rekey, max);
        self.negative.merge(&other.negative, rekey, max);
        self.zeros = self.zeros.saturating_add(other.zeros);
    }

    pub fn count(&self) -> u64 {
        self.positive
            .total()
            .saturating_add(self.negative.total())
            .saturating_add(self.zeros)
    }

    /// The value at quantile `q` (0..=1), within `accuracy().relative()` of the true one;
    /// `None` when empty. The rank is etsy statsd's (`upper_90`): the `round(q × n)`-th
    /// smallest value (at least the first), which is graphite's `nPercentile` rank,
    /// `ceil(q × (n + 1))`, to within one.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = rank(q, n);
        let a = self.accuracy;
        let mut seen = 0u64;
        for (k, c) in self.negative.iter().rev() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return Some(-a.value(k));
            }
        }
        seen = seen.saturating_add(self.zeros);
        if seen > rank {
            return Some(0.0);
        }
        for (k, c) in self.positive.iter() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return Some(a.value(k));
            }
        }
        None
    }

    /// The sketch in few bytes, for memory (not the stored encoding): its accuracy, zeros, then
    /// each sign's bins (`Bins::pack`, about a byte a bin where bins are dense), where the
    /// bins in memory take 8 bytes a key of their range. The live tier keeps its seconds so.
    pub fn pack(&self) -> Box<[u8]> {
        let mut out = vec![match self.accuracy {
            Accuracy::Coarse => 1,
            Accuracy::Fine => 3,
        }];
        encoding::put_uvarint(&mut out, self.zeros);
        self.positive.pack(&mut out);
        self.negative.pack(&mut out);
        out.into_boxed_slice()
    }

    pub fn unpack(bytes: &[u8]) -> Result<Sketch, encoding::Error> {
        let mut r = Reader::new(bytes);
        let accuracy = match r.u8()? {
            1 => Accuracy::Coarse,
            3 => Accuracy::Fine,
            _ => return Err(encoding::Error::Invalid("sketch accuracy")),
        };
        let max = accuracy.max_bins();
        let zeros = r.uvarint()?;
        let positive = Bins::unpack(&mut r, max)?;
        let negative = Bins::unpack(&mut r, max)?;
        Ok(Sketch {
            accuracy,
            positive,
            negative,
            zeros,
        })
    }

    /// The body (its accuracy is the caller's tag): zeros, positive bins, negative bins.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encoding::put_uvarint(out, self.zeros);
        self.positive.encode(out);
        self.negative.encode(out);
    }

    pub fn decode(r: &mut Reader<'_>, accuracy: Accuracy) -> Result<Sketch, encoding::Error> {
        let max = accuracy.max_bins();
        let zeros = r.uvarint()?;
        let positive = Bins::decode(r, max)?;
        let negative = Bins::decode(r, max)?;
        Ok(Sketch {
            accuracy,
            positive,
            negative,
            zeros,
        })
    }
}
