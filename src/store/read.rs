//! Reading one series' buckets at one resolution: the segments of each partition, then the
//! frozen head (being flushed) and the head on top, merged per slot with the newer on top.
//! `read_into` fills a buffer the caller keeps, so a query over many series allocates once.

use super::head::merge_sorted;
use super::segment::{Segment, partition_len};
use super::{Error, SeriesId, Store, read};
use crate::aggregate::Bucket;
use std::sync::Arc;

/// What a read takes from the store's state under its lock.
struct Sources {
    /// The segments that hold the series, by partition, oldest data first within one.
    segs: Vec<Arc<Segment>>,
    frozen: Vec<(i64, Bucket)>,
    head: Vec<(i64, Bucket)>,
}

impl Store {
    fn sources(&self, id: SeriesId, resolution: u32, from: i64, until: i64) -> Sources {
        let plen = partition_len(resolution);
        let st = read(&self.state);
        let lo = from.saturating_sub(plen).saturating_add(1);
        let segs = st
            .segments
            .range((resolution, lo)..(resolution, until))
            .flat_map(|(_, list)| list.iter())
            .filter(|s| s.contains(id))
            .cloned()
            .collect();
        let frozen = st
            .frozen
            .as_ref()
            .map(|f| f.read(id, resolution, from, until))
            .unwrap_or_default();
        Sources {
            segs,
            frozen,
            head: st.head.read(id, resolution, from, until),
        }
    }

    /// Every bucket of the series at this resolution with start in `[from, until)`, by start,
    /// merged across segments and the head.
    pub fn read(
        &self,
        id: SeriesId,
        resolution: u32,
        from: i64,
        until: i64,
    ) -> Result<Vec<(i64, Bucket)>, Error> {
        let mut out = Vec::new();
        self.read_into(id, resolution, from, until, &mut out)?;
        Ok(out)
    }

    /// What [`Store::read`] returns, in `out` (cleared first; its allocation is reused).
    pub fn read_into(
        &self,
        id: SeriesId,
        resolution: u32,
        from: i64,
        until: i64,
        out: &mut Vec<(i64, Bucket)>,
    ) -> Result<(), Error> {
        out.clear();
        if from >= until || resolution == 0 {
            return Ok(());
        }
        let src = self.sources(id, resolution, from, until);
        Store::collect(src, resolution, id, from, until, out, None)
    }

    /// As [`Store::read_into`], but a segment block that fails its checksum does not fail
    /// the read: its range (`[from, until)` of the partition it held) is pushed to `lost`, the
    /// damage is counted (`Stats::corrupt_blocks`) and logged, and the rest is returned.
    pub fn read_into_lossy(
        &self,
        id: SeriesId,
        resolution: u32,
        from: i64,
        until: i64,
        out: &mut Vec<(i64, Bucket)>,
        lost: &mut Vec<(i64, i64)>,
    ) -> Result<(), Error> {
        out.clear();
        if from >= until || resolution == 0 {
            return Ok(());
        }
        let src = self.sources(id, resolution, from, until);
        let mut damaged = Vec::new();
        let r = Store::collect(src, resolution, id, from, until, out, Some(&mut damaged));
        for (range, error) in damaged {
            self.damage
                .blocks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(%error, series = id, resolution, from = range.0, until = range.1,
                "Segment block is corrupt; the read answers without it (data in this range is lost).");
            lost.push(range);
        }
        r
    }

    /// `damaged`: when given, a corrupt block is recorded there (its range, the error) and
    /// skipped instead of failing the read.
    fn collect(
        src: Sources,
        resolution: u32,
        id: SeriesId,
        from: i64,
        until: i64,
        out: &mut Vec<(i64, Bucket)>,
        mut damaged: Option<&mut Vec<((i64, i64), Error)>>,
    ) -> Result<(), Error> {
        let Sources { segs, frozen, head } = src;
        // Sized up front for every slot the segments could hold, so nothing is copied twice.
        let (res, plen) = (i64::from(resolution), partition_len(resolution));
        let mut slots = 0i64;
        let mut counted = None;
        for seg in &segs {
            let p = seg.meta.partition;
            if counted != Some(p) {
                counted = Some(p);
                let (lo, hi) = (from.max(p), until.min(p.saturating_add(plen)));
                slots = slots.saturating_add(hi.saturating_sub(lo) / res + 1);
            }
        }
        out.reserve(slots.clamp(0, 1 << 20) as usize);
        let mut i = 0;
        while i < segs.len() {
            // Segments come grouped by partition, oldest data first within one; partitions
            // are disjoint and in order, so each is decoded straight onto the end of `out`.
            let p = segs[i].meta.partition;
            let range = (from.max(p), until.min(p.saturating_add(plen)));
            let mut checked = |r: Result<(), Error>| match (r, damaged.as_deref_mut()) {
                (Err(e @ Error::Corrupt { .. }), Some(list)) => {
                    list.push((range, e));
                    Ok(())
                }
                (r, _) => r,
            };
            let mark = out.len();
            let r = segs[i].read(id, from, until, out);
            if r.is_err() {
                out.truncate(mark);
            }
            checked(r)?;
            i += 1;
            while i < segs.len() && segs[i].meta.partition == p {
                let mut more = Vec::new();
                let r = segs[i].read(id, from, until, &mut more);
                if r.is_err() {
                    more.clear();
                }
                checked(r)?;
                let after = out[mark..]
                    .last()
                    .is_none_or(|(s, _)| more.first().is_some_and(|(m, _)| s < m));
                if after {
                    out.append(&mut more);
                } else if !more.is_empty() {
                    let mut part = out.split_off(mark);
                    merge_sorted(&mut part, more);
                    out.append(&mut part);
                }
                i += 1;
            }
        }
        merge_sorted(out, frozen);
        merge_sorted(out, head);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{batch, open, opts};
    use super::*;
    use crate::aggregate::Delta;
    use crate::metric::{Kind, Series};
    use proptest::prelude::*;

    fn bucket(v: f64, t: i64) -> Bucket {
        Bucket::new(Kind::Gauge, v, t)
    }

    proptest! {
        /// Reads over segments (one or several per partition) with late data in the head on
        /// top, for any range: `read_into` a buffer that held another read gives what a fresh
        /// `read` gives, and that is every stored bucket in the range, in order.
        #[test]
        fn read_into_equals_read(
            steps in proptest::collection::vec(
                (proptest::collection::vec((0i64..3 * 8640, -1e3f64..1e3), 1..40), any::<bool>()),
                1..5,
            ),
            from in 0i64..3 * 86_400,
            len in 0i64..3 * 86_400,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = open(opts(dir.path()));
            let series = Series::parse("x").unwrap();
            for (points, flush) in steps {
                let deltas = points
                    .into_iter()
                    .map(|(slot, v)| Delta {
                        series: series.clone(),
                        kind: Kind::Gauge,
                        resolution: 10,
                        start: slot * 10,
                        bucket: bucket(v, slot * 10 + 3),
                    })
                    .collect();
                store.commit(batch(deltas)).unwrap();
                if flush {
                    store.flush_head().unwrap();
                }
                let id = store.lookup("x").unwrap().id;
                let all = store.read(id, 10, i64::MIN, i64::MAX).unwrap();
                prop_assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
                let mut got = all.clone();
                store.read_into(id, 10, from, from + len, &mut got).unwrap();
                let want: Vec<_> = all
                    .iter()
                    .filter(|(s, _)| (from..from + len).contains(s))
                    .cloned()
                    .collect();
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(got, store.read(id, 10, from, from + len).unwrap());
            }
        }
    }
}
