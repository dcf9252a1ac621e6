//! The head: buckets committed since the last flush, in memory, merged per slot. Every commit
//! lands here after its WAL record is durable; a flush writes the head out as segment files
//! (one per resolution and partition) and starts an empty one. After a restart the head is
//! rebuilt by replaying the WAL records the manifest does not cover.

use super::SeriesId;
use super::segment::partition_of;
use crate::aggregate::Bucket;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// One series' buckets within one partition.
pub type SeriesSlice<'a> = (SeriesId, &'a [(i64, Bucket)]);

#[derive(Debug, Default, Clone)]
pub struct Head {
    /// `(resolution, series)` → buckets sorted by slot start.
    series: FxHashMap<(u32, SeriesId), Vec<(i64, Bucket)>>,
    buckets: usize,
    /// Heap bytes of the vectors (their capacity) and of the buckets' extras (sketches, sets).
    held: usize,
    /// Per resolution, no bucket starts before this (a lower bound, so expiry is cheap to skip).
    oldest: FxHashMap<u32, i64>,
}

/// One slot in a series' vector.
const SLOT_BYTES: usize = std::mem::size_of::<(i64, Bucket)>();
/// One entry of the series map (a control byte, the key, the vector) and malloc's header of
/// the vector's allocation.
const ENTRY_BYTES: usize = std::mem::size_of::<((u32, SeriesId), Vec<(i64, Bucket)>)>() + 1 + 16;

/// Makes room for one more slot, doubling from one (a `Vec` starts at four: most series have
/// one or two slots of a coarse resolution in a head, and 3 of 4 unused slots were most of
/// the head's memory). Returns the bytes added.
fn grow(v: &mut Vec<(i64, Bucket)>) -> usize {
    if v.len() < v.capacity() {
        return 0;
    }
    let more = v.capacity().max(1);
    v.reserve_exact(more);
    (v.capacity() - v.len()) * SLOT_BYTES
}

/// The heap bytes of one series' buckets.
fn held_by(v: &[(i64, Bucket)], capacity: usize) -> usize {
    capacity * SLOT_BYTES + v.iter().map(|(_, b)| b.heap_bytes()).sum::<usize>()
}

/// Merges sorted `newer` into sorted `acc`; on the same slot `newer` is merged on top.
pub fn merge_sorted(acc: &mut Vec<(i64, Bucket)>, newer: Vec<(i64, Bucket)>) {
    if newer.is_empty() {
        return;
    }
    if acc.is_empty() {
        *acc = newer;
        return;
    }
    if acc.last().is_some_and(|(s, _)| *s < newer[0].0) {
        acc.extend(newer);
        return;
    }
    let old = std::mem::take(acc);
    acc.reserve(old.len() + newer.len());
    let mut a = old.into_iter().peekable();
    let mut b = newer.into_iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => acc.extend(a.next()),
            (Some(x), Some(y)) if x.0 > y.0 => acc.extend(b.next()),
            (Some(_), Some(_)) => {
                if let (Some((s, mut x)), Some((_, y))) = (a.next(), b.next()) {
                    x.merge(&y);
                    acc.push((s, x));
                }
            }
            (Some(_), None) => acc.extend(a.by_ref()),
            (None, Some(_)) => acc.extend(b.by_ref()),
            (None, None) => break,
        }
    }
}

impl Head {
    pub fn len(&self) -> usize {
        self.buckets
    }

    /// About how many bytes of memory the head holds (what `storage.head_max_bytes` bounds):
    /// its map, the vectors' capacity and the extras. Not counted: malloc's own overhead
    /// beyond one header per vector.
    pub fn bytes(&self) -> usize {
        self.series.capacity() * ENTRY_BYTES + self.held
    }

    /// Merges a newer bucket into the slot.
    pub fn merge(&mut self, id: SeriesId, resolution: u32, start: i64, bucket: Bucket) {
        let v = self.series.entry((resolution, id)).or_default();
        let merge_into = |b: &mut Bucket, held: &mut usize| {
            let before = b.heap_bytes();
            b.merge(&bucket);
            *held = (*held + b.heap_bytes()).saturating_sub(before);
        };
        match v.last_mut() {
            Some((s, b)) if *s == start => {
                merge_into(b, &mut self.held);
                return;
            }
            Some((s, _)) if *s > start => match v.binary_search_by_key(&start, |(s, _)| *s) {
                Ok(i) => {
                    merge_into(&mut v[i].1, &mut self.held);
                    return;
                }
                Err(i) => {
                    self.held += grow(v) + bucket.heap_bytes();
                    v.insert(i, (start, bucket));
                }
            },
            _ => {
                self.held += grow(v) + bucket.heap_bytes();
                v.push((start, bucket));
            }
        }
        self.buckets += 1;
        let oldest = self.oldest.entry(resolution).or_insert(start);
        *oldest = (*oldest).min(start);
    }

    /// Appends clones of the buckets of one series with start in `[from, until)`.
    pub fn read(&self, id: SeriesId, resolution: u32, from: i64, until: i64) -> Vec<(i64, Bucket)> {
        let Some(v) = self.series.get(&(resolution, id)) else {
            return Vec::new();
        };
        let lo = v.partition_point(|(s, _)| *s < from);
        let hi = v.partition_point(|(s, _)| *s < until);
        v.get(lo..hi).map(<[_]>::to_vec).unwrap_or_default()
    }

    /// Whether any slot of `resolution` ends at or before `cutoff` (cheap).
    pub fn has_expired(&self, resolution: u32, cutoff: i64) -> bool {
        let res = i64::from(resolution);
        self.oldest
            .get(&resolution)
            .is_some_and(|&o| o.saturating_add(res) <= cutoff)
    }

    /// Drops the slots of `resolution` that end at or before `cutoff`. Returns how many.
    pub fn expire(&mut self, resolution: u32, cutoff: i64) -> usize {
        let res = i64::from(resolution);
        match self.oldest.get(&resolution) {
            Some(&oldest) if oldest.saturating_add(res) <= cutoff => {}
            _ => return 0,
        }
        let mut dropped = 0;
        let mut oldest = i64::MAX;
        self.series.retain(|&(r, _), v| {
            if r != resolution {
                return true;
            }
            let keep_from = v.partition_point(|(s, _)| s.saturating_add(res) <= cutoff);
            dropped += keep_from;
            v.drain(..keep_from);
            if let Some((s, _)) = v.first() {
                oldest = oldest.min(*s);
            }
            !v.is_empty()
        });
        self.buckets -= dropped;
        self.recount();
        if oldest == i64::MAX {
            self.oldest.remove(&resolution);
        } else {
            self.oldest.insert(resolution, oldest);
        }
        dropped
    }

    /// Puts an older head underneath this one (used when a flush fails after the freeze).
    pub fn absorb_older(&mut self, older: Head) {
        let newer = std::mem::replace(self, older);
        for ((res, id), buckets) in newer.series {
            let v = self.series.entry((res, id)).or_default();
            let before = v.len();
            let added = buckets.len();
            merge_sorted(v, buckets);
            self.buckets = self.buckets + v.len() - before;
            debug_assert!(v.len() <= before + added);
        }
        for (res, oldest) in newer.oldest {
            let o = self.oldest.entry(res).or_insert(oldest);
            *o = (*o).min(oldest);
        }
        self.recount();
    }

    /// Sets `held` from scratch (after changes that are not one bucket at a time).
    fn recount(&mut self) {
        self.held = self.series.values().map(|v| held_by(v, v.capacity())).sum();
    }

    /// The head grouped for writing: `(resolution, partition start)` → series sorted by id, each
    /// with its buckets in that partition.
    pub fn by_partition(&self) -> BTreeMap<(u32, i64), Vec<SeriesSlice<'_>>> {
        let mut out: BTreeMap<(u32, i64), Vec<SeriesSlice<'_>>> = BTreeMap::new();
        for (&(res, id), v) in &self.series {
            let mut rest = &v[..];
            while let Some(&(first, _)) = rest.first() {
                let p = partition_of(res, first);
                let end = p.saturating_add(super::segment::partition_len(res));
                let n = rest.partition_point(|(s, _)| *s < end);
                out.entry((res, p)).or_default().push((id, &rest[..n]));
                rest = &rest[n..];
            }
        }
        for list in out.values_mut() {
            list.sort_unstable_by_key(|(id, _)| *id);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Kind;

    fn b(v: f64, t: i64) -> Bucket {
        Bucket::new(Kind::Gauge, v, t)
    }

    #[test]
    fn merges_per_slot_in_any_order() {
        let mut h = Head::default();
        h.merge(1, 10, 20, b(1.0, 21));
        h.merge(1, 10, 0, b(2.0, 1));
        h.merge(1, 10, 20, b(3.0, 22));
        h.merge(1, 10, 10, b(4.0, 11));
        h.merge(1, 60, 0, b(5.0, 1));
        assert_eq!(h.len(), 4);
        let r = h.read(1, 10, 0, 100);
        assert_eq!(
            r.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![0, 10, 20]
        );
        assert_eq!((r[2].1.count, r[2].1.sum, r[2].1.last), (2, 4.0, 3.0));
        assert_eq!(h.read(1, 10, 10, 20).len(), 1);
        assert!(h.read(2, 10, 0, 100).is_empty());
    }

    #[test]
    fn bytes_follow_what_the_head_holds() {
        let mut h = Head::default();
        assert_eq!(h.bytes(), 0);
        for id in 0..1000 {
            for t in (0..100).step_by(10) {
                h.merge(id, 10, t, b(1.0, t));
            }
        }
        // 10,000 slots of 72 bytes, vectors of capacity 16 (growth by doubling), the map.
        let gauges = h.bytes();
        assert!(gauges >= 10_000 * SLOT_BYTES, "{gauges}");
        assert!(
            gauges <= 1000 * (16 * SLOT_BYTES + 2 * ENTRY_BYTES),
            "{gauges}"
        );
        // A merge into a slot that exists adds nothing for a gauge ...
        h.merge(5, 10, 50, b(2.0, 55));
        assert_eq!(h.bytes(), gauges);
        // ... and its sketch for a timer, which grows as its bins do.
        h.merge(5000, 10, 0, Bucket::new(Kind::Timer, 1.0, 0));
        let one_timer = h.bytes();
        assert!(one_timer > gauges + SLOT_BYTES, "{gauges} → {one_timer}");
        for v in 1..200 {
            h.merge(5000, 10, 0, Bucket::new(Kind::Timer, f64::from(v) * 7.0, 0));
        }
        assert!(
            h.bytes() > one_timer + 100 * 8,
            "{one_timer} → {}",
            h.bytes()
        );
        // Expiry gives back what it drops; the counts agree with a recount.
        let before = h.bytes();
        h.expire(10, 50);
        let after = h.bytes();
        assert!(after < before);
        let counted = h.held;
        h.recount();
        assert_eq!(h.held, counted);
    }

    #[test]
    fn expiry_drops_only_old_slots() {
        let mut h = Head::default();
        for t in (0..100).step_by(10) {
            h.merge(1, 10, t, b(1.0, t));
            h.merge(2, 60, t * 6, b(1.0, t));
        }
        assert_eq!(h.expire(10, 0), 0);
        assert_eq!(h.expire(10, 50), 5);
        assert_eq!(h.len(), 15);
        assert_eq!(h.read(1, 10, 0, 1000)[0].0, 50);
        assert_eq!(h.expire(10, 50), 0);
        assert_eq!(h.expire(10, 1000), 5);
        assert_eq!(h.len(), 10);
    }

    #[test]
    fn absorbing_an_older_head_merges_it_underneath() {
        let mut older = Head::default();
        older.merge(1, 10, 0, b(1.0, 5));
        older.merge(1, 10, 10, b(1.0, 15));
        let mut newer = Head::default();
        newer.merge(1, 10, 0, b(2.0, 5));
        newer.merge(2, 10, 0, b(2.0, 5));
        newer.absorb_older(older);
        assert_eq!(newer.len(), 3);
        let r = newer.read(1, 10, 0, 100);
        assert_eq!(
            (r[0].1.count, r[0].1.last),
            (2, 2.0),
            "tie on time: newer wins"
        );
    }

    #[test]
    fn groups_by_partition_sorted_by_id() {
        let mut h = Head::default();
        h.merge(9, 10, 86_390, b(1.0, 0));
        h.merge(9, 10, 86_400, b(1.0, 0));
        h.merge(3, 10, 86_400, b(1.0, 0));
        let g = h.by_partition();
        let keys: Vec<_> = g.keys().copied().collect();
        assert_eq!(keys, vec![(10, 0), (10, 86_400)]);
        assert_eq!(
            g[&(10, 86_400)]
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            vec![3, 9]
        );
    }
}
