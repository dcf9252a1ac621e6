//! One series' buckets in one partition, as columns: this is where the bytes on disk go, so it
//! is built for size. Slots are implicit (a presence run-length list over the partition's slots),
//! `last_time` is an offset from the slot start (nearly always constant), `min`/`max`/`last` are
//! only stored for buckets that saw more than one observation (otherwise they equal `sum`), and
//! sketches or distinct sets only when a bucket has one. Each numeric column is `pco`-compressed,
//! or stored raw when it is short, or as one value when it is constant.

use crate::aggregate::{Bucket, Extra};
use crate::encoding::{self, Reader, put_ivarint, put_uvarint};

/// Columns shorter than this are stored raw: pco's headers would cost more than they save.
const PCO_MIN: usize = 24;
const COL_RAW: u8 = 0;
const COL_CONST: u8 = 1;
const COL_PCO: u8 = 2;

const FLAG_ALL_ONE: u8 = 1;
const FLAG_EXTRA: u8 = 2;

type DResult<T> = Result<T, encoding::Error>;

/// The numbers a column can hold.
trait Col: pco::data_types::Number + PartialEq {
    fn put_raw(self, out: &mut Vec<u8>);
    fn get_raw(r: &mut Reader<'_>) -> DResult<Self>;
}

impl Col for u64 {
    fn put_raw(self, out: &mut Vec<u8>) {
        put_uvarint(out, self);
    }
    fn get_raw(r: &mut Reader<'_>) -> DResult<u64> {
        r.uvarint()
    }
}

impl Col for i64 {
    fn put_raw(self, out: &mut Vec<u8>) {
        put_ivarint(out, self);
    }
    fn get_raw(r: &mut Reader<'_>) -> DResult<i64> {
        r.ivarint()
    }
}

impl Col for f64 {
    fn put_raw(self, out: &mut Vec<u8>) {
        encoding::put_f64(out, self);
    }
    fn get_raw(r: &mut Reader<'_>) -> DResult<f64> {
        r.f64()
    }
}

fn same_bits<T: Col>(a: T, b: T) -> bool {
    // Compare through the raw encoding so NaN payloads and -0.0 survive a "constant" column.
    let (mut x, mut y) = (Vec::with_capacity(10), Vec::with_capacity(10));
    a.put_raw(&mut x);
    b.put_raw(&mut y);
    x == y
}

fn put_col<T: Col>(out: &mut Vec<u8>, values: &[T], pco_config: &pco::ChunkConfig) {
    let Some(&first) = values.first() else {
        out.push(COL_RAW);
        return;
    };
    // Cheap pre-check with PartialEq (NaN never equals itself, so NaN columns go to raw/pco).
    if values.iter().all(|&v| v == first) && values.iter().all(|&v| same_bits(v, first)) {
        out.push(COL_CONST);
        first.put_raw(out);
        return;
    }
    if values.len() >= PCO_MIN
        && let Ok(bytes) = pco::standalone::simple_compress(values, pco_config)
    {
        out.push(COL_PCO);
        encoding::put_blob(out, &bytes);
        return;
    }
    out.push(COL_RAW);
    for &v in values {
        v.put_raw(out);
    }
}

fn get_col<T: Col>(r: &mut Reader<'_>, n: usize) -> DResult<Vec<T>> {
    match r.u8()? {
        COL_RAW => {
            // Every raw value takes at least one byte, so `n` is bounded by the input.
            if n > r.remaining().len() {
                return Err(encoding::Error::Truncated);
            }
            (0..n).map(|_| T::get_raw(r)).collect()
        }
        COL_CONST => Ok(vec![T::get_raw(r)?; n]),
        COL_PCO => {
            let bytes = r.blob()?;
            // Into a buffer of exactly `n`, so a crafted column cannot make us allocate more.
            let mut values = vec![T::default(); n];
            let progress = pco::standalone::simple_decompress_into(bytes, &mut values)
                .map_err(|_| encoding::Error::Invalid("pco column"))?;
            if !progress.finished || progress.n_processed != n {
                return Err(encoding::Error::Invalid("column length"));
            }
            Ok(values)
        }
        _ => Err(encoding::Error::Invalid("column encoding")),
    }
}

/// Appends the block for `buckets` (sorted by start, each start a slot of the partition that
/// begins at `pstart` with `slots` slots of `res` seconds).
pub fn encode(
    out: &mut Vec<u8>,
    pstart: i64,
    res: u32,
    buckets: &[(i64, Bucket)],
    pco_config: &pco::ChunkConfig,
) {
    let res = i64::from(res);
    let n = buckets.len();
    put_uvarint(out, n as u64);
    // Presence: runs of consecutive slots as (gap before the run, run length).
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut next_slot = 0i64; // the slot just after the previous run
    for &(start, _) in buckets {
        let slot = (start - pstart) / res;
        match runs.last_mut() {
            Some((_, len)) if slot == next_slot => *len += 1,
            _ => runs.push(((slot - next_slot) as u64, 1)),
        }
        next_slot = slot + 1;
    }
    put_uvarint(out, runs.len() as u64);
    for (gap, len) in runs {
        put_uvarint(out, gap);
        put_uvarint(out, len);
    }
    let all_one = buckets.iter().all(|(_, b)| b.count == 1);
    let any_extra = buckets.iter().any(|(_, b)| !matches!(b.extra, Extra::None));
    out.push((u8::from(all_one) * FLAG_ALL_ONE) | (u8::from(any_extra) * FLAG_EXTRA));
    if !all_one {
        let counts: Vec<u64> = buckets.iter().map(|(_, b)| b.count).collect();
        put_col(out, &counts, pco_config);
    }
    let sums: Vec<f64> = buckets.iter().map(|(_, b)| b.sum).collect();
    put_col(out, &sums, pco_config);
    if !all_one {
        let multi = || buckets.iter().filter(|(_, b)| b.count > 1).map(|(_, b)| b);
        put_col(out, &multi().map(|b| b.min).collect::<Vec<_>>(), pco_config);
        put_col(out, &multi().map(|b| b.max).collect::<Vec<_>>(), pco_config);
        put_col(
            out,
            &multi().map(|b| b.last).collect::<Vec<_>>(),
            pco_config,
        );
    }
    let offsets: Vec<i64> = buckets
        .iter()
        .map(|(start, b)| b.last_time.wrapping_sub(*start))
        .collect();
    put_col(out, &offsets, pco_config);
    if any_extra {
        let mut extras = Vec::new();
        for (_, b) in buckets {
            b.encode_extra(&mut extras);
        }
        encoding::put_blob(out, &extras);
    }
}

/// Decodes a block, appending the buckets whose start is in `[from, until)` to `out` (in order).
pub fn decode(
    buf: &[u8],
    pstart: i64,
    res: u32,
    slots: u32,
    from: i64,
    until: i64,
    out: &mut Vec<(i64, Bucket)>,
) -> DResult<()> {
    // An exact-size `extend` writes each bucket in place (much faster than `push`).
    out.extend(Columns::parse(buf, pstart, res, slots, from, until)?.buckets());
    Ok(())
}

/// A block's columns, checked, with the range of buckets asked for (`lo..hi`).
struct Columns {
    starts: Vec<i64>,
    counts: Option<Vec<u64>>,
    sums: Vec<f64>,
    mins: Vec<f64>,
    maxs: Vec<f64>,
    lasts: Vec<f64>,
    offsets: Vec<i64>,
    extras: Option<Vec<Extra>>,
    lo: usize,
    hi: usize,
}

impl Columns {
    fn parse(
        buf: &[u8],
        pstart: i64,
        res: u32,
        slots: u32,
        from: i64,
        until: i64,
    ) -> DResult<Columns> {
        let mut r = Reader::new(buf);
        let n = usize::try_from(r.uvarint()?).map_err(|_| encoding::Error::Invalid("count"))?;
        if n == 0 || n > slots as usize {
            return Err(encoding::Error::Invalid("bucket count"));
        }
        let n_runs = r.uvarint()?;
        if n_runs == 0 || n_runs > n as u64 {
            return Err(encoding::Error::Invalid("presence runs"));
        }
        let mut starts = Vec::with_capacity(n);
        let mut slot = 0u64;
        for _ in 0..n_runs {
            let gap = r.uvarint()?;
            let len = r.uvarint()?;
            slot = slot
                .checked_add(gap)
                .ok_or(encoding::Error::Invalid("presence gap"))?;
            let run_end = slot
                .checked_add(len)
                .ok_or(encoding::Error::Invalid("presence run"))?;
            if len == 0 || run_end > u64::from(slots) || starts.len() as u64 + len > n as u64 {
                return Err(encoding::Error::Invalid("presence run"));
            }
            for s in slot..run_end {
                starts.push(pstart.wrapping_add((s as i64).wrapping_mul(i64::from(res))));
            }
            slot = run_end;
        }
        if starts.len() != n {
            return Err(encoding::Error::Invalid("presence length"));
        }
        let flags = r.u8()?;
        if flags & !(FLAG_ALL_ONE | FLAG_EXTRA) != 0 {
            return Err(encoding::Error::Invalid("block flags"));
        }
        let all_one = flags & FLAG_ALL_ONE != 0;
        let counts: Option<Vec<u64>> = if all_one {
            None
        } else {
            Some(get_col(&mut r, n)?)
        };
        if counts.as_ref().is_some_and(|c| c.contains(&0)) {
            return Err(encoding::Error::Invalid("empty bucket"));
        }
        let sums: Vec<f64> = get_col(&mut r, n)?;
        let m = counts.as_deref().map_or(0, multi);
        let (mins, maxs, lasts): (Vec<f64>, Vec<f64>, Vec<f64>) = if all_one {
            Default::default()
        } else {
            (
                get_col(&mut r, m)?,
                get_col(&mut r, m)?,
                get_col(&mut r, m)?,
            )
        };
        let offsets: Vec<i64> = get_col(&mut r, n)?;
        let extras_blob = if flags & FLAG_EXTRA != 0 {
            Some(r.blob()?)
        } else {
            None
        };
        if !r.is_empty() {
            return Err(encoding::Error::Invalid("trailing bytes in block"));
        }
        let lo = starts.partition_point(|&s| s < from);
        let hi = starts.partition_point(|&s| s < until).max(lo);
        // Extras are variable-length, so every one before `hi` must be decoded.
        let extras = match extras_blob {
            Some(blob) => {
                let mut x = Reader::new(blob);
                let mut v = Vec::with_capacity(hi - lo);
                for i in 0..hi {
                    let e = Bucket::decode_extra(&mut x)?;
                    if i >= lo {
                        v.push(e);
                    }
                }
                Some(v)
            }
            None => None,
        };
        Ok(Columns {
            starts,
            counts,
            sums,
            mins,
            maxs,
            lasts,
            offsets,
            extras,
            lo,
            hi,
        })
    }

    /// The buckets `lo..hi`, built from the columns (an exact-size iterator).
    #[inline]
    fn buckets(self) -> impl Iterator<Item = (i64, Bucket)> {
        let Columns {
            starts,
            counts,
            sums,
            mins,
            maxs,
            lasts,
            offsets,
            extras,
            lo,
            hi,
        } = self;
        let mut extras = extras.map(Vec::into_iter);
        // Index into the multi-observation columns.
        let mut j = counts.as_deref().map_or(0, |c| multi(&c[..lo]));
        (lo..hi).map(move |i| {
            let count = counts.as_ref().map_or(1, |c| c[i]);
            let (min, max, last) = if count > 1 {
                let v = (mins[j], maxs[j], lasts[j]);
                j += 1;
                v
            } else {
                (sums[i], sums[i], sums[i])
            };
            let extra = extras.as_mut().and_then(Iterator::next).unwrap_or_default();
            let bucket = Bucket {
                count,
                sum: sums[i],
                min,
                max,
                last,
                last_time: starts[i].wrapping_add(offsets[i]),
                extra,
            };
            (starts[i], bucket)
        })
    }
}

/// How many buckets saw more than one observation.
fn multi(counts: &[u64]) -> usize {
    counts.iter().filter(|&&c| c > 1).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Kind;
    use proptest::prelude::*;

    fn round_trip(pstart: i64, res: u32, buckets: &[(i64, Bucket)]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(&mut buf, pstart, res, buckets, &pco::ChunkConfig::default());
        let mut out = Vec::new();
        decode(&buf, pstart, res, 8640, i64::MIN, i64::MAX, &mut out).unwrap();
        assert_eq!(out, buckets);
        buf
    }

    #[test]
    fn every_kind_round_trips() {
        for kind in Kind::ALL {
            let mut buckets = Vec::new();
            for i in 0..100i64 {
                if i % 7 == 3 {
                    continue; // a gap
                }
                let start = 86_400 + i * 10;
                let mut b = Bucket::new(kind, (i as f64) * 0.25, start + 3);
                if i % 3 == 0 {
                    b.add(-1.5, start + 9);
                    b.add(1e9, start + 1);
                }
                buckets.push((start, b));
            }
            round_trip(86_400, 10, &buckets);
            round_trip(86_400, 10, &buckets[..1]);
            round_trip(86_400, 10, &buckets[..5]);
        }
    }

    #[test]
    fn range_filter_keeps_only_the_asked_slots() {
        let buckets: Vec<(i64, Bucket)> = (0..50)
            .map(|i| (i * 60, Bucket::new(Kind::Timer, i as f64, i * 60)))
            .collect();
        let mut buf = Vec::new();
        encode(&mut buf, 0, 60, &buckets, &pco::ChunkConfig::default());
        let mut out = Vec::new();
        decode(&buf, 0, 60, 8640, 600, 1200, &mut out).unwrap();
        assert_eq!(out, buckets[10..20]);
    }

    #[test]
    fn a_full_day_of_gauges_is_small() {
        let mut v = 50.0f64;
        let buckets: Vec<(i64, Bucket)> = (0..8640)
            .map(|i| {
                v = ((v + ((i * 7919) % 13) as f64 * 0.01 - 0.06) * 100.0).round() / 100.0;
                (i * 10, Bucket::new(Kind::Gauge, v, i * 10 + 2))
            })
            .collect();
        let buf = round_trip(0, 10, &buckets);
        assert!(buf.len() < 8640 * 3, "{} bytes", buf.len());
    }

    fn arb_bucket() -> impl Strategy<Value = Bucket> {
        (1u64..5, any::<f64>(), 0i64..10, 0u8..3).prop_map(|(count, v, dt, kind)| {
            let kind = [Kind::Gauge, Kind::Timer, Kind::Set][kind as usize];
            let mut b = Bucket::new(kind, v, dt);
            for i in 1..count {
                b.add(v + i as f64, dt);
            }
            b
        })
    }

    proptest! {
        #[test]
        fn arbitrary_blocks_round_trip(
            slots in proptest::collection::btree_set(0i64..8640, 1..80),
            buckets in proptest::collection::vec(arb_bucket(), 80),
            a in 0u16..8640,
            b in 0u16..8640,
        ) {
            let pstart = -86_400;
            let data: Vec<(i64, Bucket)> = slots
                .iter()
                .zip(buckets)
                .map(|(&s, mut b)| {
                    let start = pstart + s * 10;
                    b.last_time += start;
                    (start, b)
                })
                .collect();
            let mut buf = Vec::new();
            encode(&mut buf, pstart, 10, &data, &pco::ChunkConfig::default());
            let mut out = Vec::new();
            decode(&buf, pstart, 10, 8640, i64::MIN, i64::MAX, &mut out).unwrap();
            // NaN != NaN: compare through the debug form, which prints NaN the same way.
            prop_assert_eq!(format!("{out:?}"), format!("{data:?}"));
            let (from, until) = (pstart + i64::from(a) * 10, pstart + i64::from(b) * 10);
            let mut part = Vec::new();
            decode(&buf, pstart, 10, 8640, from, until, &mut part).unwrap();
            let want: Vec<_> = data.iter().filter(|(s, _)| (from..until).contains(s)).collect();
            prop_assert_eq!(format!("{part:?}"), format!("{want:?}"));
        }

        #[test]
        fn garbage_blocks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut out = Vec::new();
            let _ = decode(&bytes, 0, 10, 8640, i64::MIN, i64::MAX, &mut out);
        }

        #[test]
        fn mutated_blocks_never_panic(flip in 0usize..4000, bit in 0u8..8, cut in 0usize..4000) {
            let buckets: Vec<(i64, Bucket)> = (0..300)
                .map(|i| (i * 10, Bucket::new(if i % 2 == 0 { Kind::Timer } else { Kind::Gauge }, i as f64 * 1.5, i * 10)))
                .collect();
            let mut buf = Vec::new();
            encode(&mut buf, 0, 10, &buckets, &pco::ChunkConfig::default());
            let i = flip % buf.len();
            buf[i] ^= 1 << bit;
            buf.truncate(cut.max(1).min(buf.len()));
            let mut out = Vec::new();
            let _ = decode(&buf, 0, 10, 8640, i64::MIN, i64::MAX, &mut out);
        }
    }
}
