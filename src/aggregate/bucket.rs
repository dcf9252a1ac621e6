//! The bucket: everything kept about one series in one time slot of one resolution. Every field
//! merges exactly, so a coarse bucket merged from fine ones equals one folded from the raw
//! observations, and late data merged into a stored bucket gives the same result as on-time data.

use super::distinct::Distinct;
use super::sketch::{Accuracy, Sketch};
use crate::encoding::{self, Reader};
use crate::metric::Kind;

/// Extra tags (FORMAT.md): none, a coarse (±1 %) sketch as written before issue 18, a distinct
/// set, a fine (±0.5 %) sketch as written since.
const TAG_NONE: u8 = 0;
const TAG_SKETCH_COARSE: u8 = 1;
const TAG_DISTINCT: u8 = 2;
const TAG_SKETCH_FINE: u8 = 3;

/// What a bucket keeps beyond the five numbers, decided by the series kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Extra {
    #[default]
    None,
    /// Timers: the distribution of values.
    Sketch(Box<Sketch>),
    /// Sets: the distinct members.
    Distinct(Box<Distinct>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The value of the observation with the latest time (ties: the latest to arrive).
    pub last: f64,
    /// Unix seconds of `last`.
    pub last_time: i64,
    pub extra: Extra,
}

impl Bucket {
    /// Bytes the bucket's extra holds on the heap (a sketch or a distinct set; 0 for none).
    pub fn heap_bytes(&self) -> usize {
        match &self.extra {
            Extra::None => 0,
            Extra::Sketch(s) => s.heap_bytes(),
            Extra::Distinct(d) => d.heap_bytes(),
        }
    }

    /// A bucket holding one observation.
    pub fn new(kind: Kind, value: f64, time: i64) -> Bucket {
        let extra = match kind {
            Kind::Timer => {
                let mut s = Sketch::new();
                s.add(value);
                Extra::Sketch(Box::new(s))
            }
            Kind::Set => {
                let mut d = Distinct::default();
                d.insert(value as u64);
                Extra::Distinct(Box::new(d))
            }
            Kind::Counter | Kind::Gauge => Extra::None,
        };
        Bucket {
            count: 1,
            sum: value,
            min: value,
            max: value,
            last: value,
            last_time: time,
            extra,
        }
    }

    /// Folds one more observation in.
    #[inline]
    pub fn add(&mut self, value: f64, time: i64) {
        self.count += 1;
        self.sum += value;
        if value < self.min {
            self.min = value;
        }
        if value > self.max {
            self.max = value;
        }
        if time >= self.last_time {
            self.last = value;
            self.last_time = time;
        }
        match &mut self.extra {
            Extra::None => {}
            Extra::Sketch(s) => s.add(value),
            Extra::Distinct(d) => d.insert(value as u64),
        }
    }

    /// Merges `newer` in; on a tie in `last_time`, `newer`'s last wins.
    #[inline]
    /// Turns a fine (±0.5 %) sketch into the coarse (±1 %) one of the same values, for a
    /// receiver that reads only the format before issue 18; other extras are unchanged.
    pub fn coarsen(&mut self) {
        if let Extra::Sketch(s) = &mut self.extra {
            s.coarsen();
        }
    }

    pub fn merge(&mut self, newer: &Bucket) {
        self.count += newer.count;
        self.sum += newer.sum;
        self.min = self.min.min(newer.min);
        self.max = self.max.max(newer.max);
        if newer.last_time >= self.last_time {
            self.last = newer.last;
            self.last_time = newer.last_time;
        }
        match (&mut self.extra, &newer.extra) {
            (Extra::Sketch(a), Extra::Sketch(b)) => a.merge(b),
            (Extra::Distinct(a), Extra::Distinct(b)) => a.merge(b),
            (a @ Extra::None, b) => *a = b.clone(),
            _ => {}
        }
    }

    #[inline]
    pub fn avg(&self) -> f64 {
        // `x / 1.0` is `x`, so one observation skips the division (a slow instruction that
        // reading a week of minutes pays a million times).
        if self.count == 1 {
            self.sum
        } else {
            self.sum / self.count as f64
        }
    }

    /// The value at quantile `q` (within the sketch's accuracy: 0.5 %, 1 % for data written
    /// before issue 18; exact at 0 and 1, which are `min` and `max`).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        match &self.extra {
            Extra::Sketch(_) if q >= 1.0 => Some(self.max),
            Extra::Sketch(_) if q <= 0.0 => Some(self.min),
            Extra::Sketch(s) => s.quantile(q).map(|v| v.max(self.min).min(self.max)),
            _ => None,
        }
    }

    pub fn distinct(&self) -> Option<f64> {
        match &self.extra {
            Extra::Distinct(d) => Some(d.count()),
            _ => None,
        }
    }

    /// The extra part alone, for formats that store the five numbers in columns.
    pub fn encode_extra(&self, out: &mut Vec<u8>) {
        match &self.extra {
            Extra::None => out.push(TAG_NONE),
            Extra::Sketch(s) => {
                out.push(match s.accuracy() {
                    Accuracy::Coarse => TAG_SKETCH_COARSE,
                    Accuracy::Fine => TAG_SKETCH_FINE,
                });
                s.encode(out);
            }
            Extra::Distinct(d) => {
                out.push(TAG_DISTINCT);
                d.encode(out);
            }
        }
    }

    pub fn decode_extra(r: &mut Reader<'_>) -> Result<Extra, encoding::Error> {
        Ok(match r.u8()? {
            TAG_NONE => Extra::None,
            TAG_SKETCH_COARSE => Extra::Sketch(Box::new(Sketch::decode(r, Accuracy::Coarse)?)),
            TAG_SKETCH_FINE => Extra::Sketch(Box::new(Sketch::decode(r, Accuracy::Fine)?)),
            TAG_DISTINCT => Extra::Distinct(Box::new(Distinct::decode(r)?)),
            _ => return Err(encoding::Error::Invalid("bucket extra tag")),
        })
    }

    /// The whole bucket, self-delimiting (used by the WAL).
    pub fn encode(&self, out: &mut Vec<u8>) {
        encoding::put_uvarint(out, self.count);
        encoding::put_f64(out, self.sum);
        if self.count > 1 {
            encoding::put_f64(out, self.min);
            encoding::put_f64(out, self.max);
            encoding::put_f64(out, self.last);
        }
        encoding::put_ivarint(out, self.last_time);
        self.encode_extra(out);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Bucket, encoding::Error> {
        let count = r.uvarint()?;
        if count == 0 {
            return Err(encoding::Error::Invalid("empty bucket"));
        }
        let sum = r.f64()?;
        let (min, max, last) = if count > 1 {
            (r.f64()?, r.f64()?, r.f64()?)
        } else {
            (sum, sum, sum)
        };
        Ok(Bucket {
            count,
            sum,
            min,
            max,
            last,
            last_time: r.ivarint()?,
            extra: Bucket::decode_extra(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_every_field_exact() {
        let mut a = Bucket::new(Kind::Timer, 5.0, 100);
        a.add(1.0, 101);
        let mut b = Bucket::new(Kind::Timer, 9.0, 99);
        b.add(3.0, 101);
        a.merge(&b);
        assert_eq!((a.count, a.sum, a.min, a.max), (4, 18.0, 1.0, 9.0));
        assert_eq!(a.last, 3.0, "tie on time: the newer bucket wins");
        assert_eq!(a.quantile(1.0), Some(9.0));
    }

    #[test]
    fn late_observation_does_not_become_last() {
        let mut a = Bucket::new(Kind::Gauge, 5.0, 200);
        a.add(7.0, 150);
        assert_eq!(a.last, 5.0);
    }

    #[test]
    fn encoding_round_trips() {
        for kind in Kind::ALL {
            let mut b = Bucket::new(kind, 3.0, 10);
            let mut enc = Vec::new();
            b.encode(&mut enc);
            assert_eq!(Bucket::decode(&mut Reader::new(&enc)).unwrap(), b);
            b.add(4.0, 11);
            enc.clear();
            b.encode(&mut enc);
            assert_eq!(Bucket::decode(&mut Reader::new(&enc)).unwrap(), b);
        }
    }

    /// A timer bucket as the encoder before issue 18 wrote it (tag 1, a ±1 % sketch), byte
    /// for byte: WAL, segments, spools and ingest bodies of the previous version still read,
    /// as coarse sketches, and merge with new fine ones into coarse ones.
    #[test]
    fn old_coarse_sketches_still_decode() {
        let golden = "08000000000071904000000000000004c00000000000408f400000000000c0474082b9aab1\
                      0d0101058901018a01016e02960201b00201015c01";
        let bytes: Vec<u8> = (0..golden.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&golden[i..i + 2], 16).unwrap())
            .collect();
        let values = [3.0, -2.5, 0.0, 1.0, 3.0, 0.25, 1000.0, 47.5];
        let old = Bucket::decode(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(
            (old.count, old.sum, old.min, old.max),
            (8, 1052.25, -2.5, 1000.0)
        );
        assert_eq!((old.last, old.last_time), (47.5, 1_796_558_401));
        let Extra::Sketch(s) = &old.extra else {
            panic!("{:?}", old.extra)
        };
        assert_eq!(s.accuracy(), Accuracy::Coarse);
        let mut coarse = Sketch::with_accuracy(Accuracy::Coarse);
        values.iter().for_each(|&v| coarse.add(v));
        assert_eq!(**s, coarse);
        // What the previous version answered, to the bit.
        assert_eq!(old.quantile(0.1), Some(-2.484273673832684));
        assert_eq!(old.quantile(0.5), Some(0.9900000000000001));
        assert_eq!(old.quantile(0.9), Some(47.9461739301829));
        // Re-encoded as it came: still tag 1, the same bytes.
        let mut again = Vec::new();
        old.encode(&mut again);
        assert_eq!(again, bytes);
        // New data merged into it: coarse, as if all had been observed into a coarse bucket.
        let mut new = Bucket::new(Kind::Timer, 12.0, 1_796_558_402);
        new.add(-0.5, 1_796_558_402);
        let mut merged = old.clone();
        merged.merge(&new);
        [12.0, -0.5].iter().for_each(|&v| coarse.add(v));
        assert_eq!(merged.extra, Extra::Sketch(Box::new(coarse)));
        let mut enc = Vec::new();
        merged.encode_extra(&mut enc);
        assert_eq!(enc[0], TAG_SKETCH_COARSE);
    }

    #[test]
    fn new_timer_buckets_are_fine_and_unknown_tags_are_errors() {
        let b = Bucket::new(Kind::Timer, 3.0, 10);
        let mut enc = Vec::new();
        b.encode_extra(&mut enc);
        assert_eq!(enc[0], TAG_SKETCH_FINE);
        for tag in [4u8, 9, 255] {
            enc[0] = tag;
            let err = Bucket::decode_extra(&mut Reader::new(&enc)).unwrap_err();
            assert_eq!(err.to_string(), "invalid data: bucket extra tag");
        }
    }
}
