//! Everything that rewrites files, one step at a time under the maintenance lock: the head
//! flush (head → level-0 segments, series → catalog, then one manifest), compaction (several
//! segments of a partition → one), and retention (whole expired partitions). Each step writes
//! its new files first, then swaps the manifest, then deletes what the new manifest no longer
//! names; a crash between any two of those leaves either the old or the new state, never both.

use super::file::{self, sync_dir};
use super::head::{Head, merge_sorted};
use super::manifest::{Manifest, SegMeta};
use super::recover::{by_partition, quarantine};
use super::segment::{self, Segment, partition_len};
use super::{Error, Maint, Store, catalog, lock, read, wal, write};
use std::sync::Arc;

/// Files of one level in one partition that get merged into one of the next level.
pub const FAN_IN: usize = 4;

impl Store {
    /// Writes the head out (if anything was committed since the last flush).
    pub(super) fn flush_locked(&self, m: &mut Maint) -> Result<(), Error> {
        // Freeze: a new WAL file starts after the last record, and the head as of that record
        // is set aside (still readable) while it is written.
        let (frozen, covered, cursors, n_series) = {
            let mut guard = lock(&self.wal);
            let w = guard.as_mut().ok_or(Error::ReadOnly)?;
            if let Some(why) = &w.broken {
                return Err(Error::Poisoned(why.clone()));
            }
            let covered = w.last_seq;
            if covered == m.manifest.covered {
                return Ok(());
            }
            if w.has_records() {
                *w = wal::Writer::create(&self.wal_dir(), covered)?;
            }
            self.crash_point("flush:rotated");
            let mut st = write(&self.state);
            let frozen = Arc::new(std::mem::take(&mut st.head));
            st.frozen = Some(Arc::clone(&frozen));
            let mut cursors: Vec<(String, Vec<u8>)> = st
                .cursors
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            cursors.sort();
            (frozen, covered, cursors, st.index.len())
        };
        let result = self.write_frozen(m, &frozen, covered, cursors, n_series);
        drop(frozen);
        if let Err(Error::Poisoned(why)) = &result {
            self.poison(why);
        } else if result.is_err() {
            // Nothing became live: put the frozen head back underneath what came since.
            let mut st = write(&self.state);
            if let Some(f) = st.frozen.take() {
                let older = Arc::try_unwrap(f).unwrap_or_else(|a| (*a).clone());
                st.head.absorb_older(older);
            }
        }
        result
    }

    fn write_frozen(
        &self,
        m: &mut Maint,
        frozen: &Head,
        covered: u64,
        cursors: Vec<(String, Vec<u8>)>,
        n_series: usize,
    ) -> Result<(), Error> {
        let seg_dir = self.seg_dir();
        let mut next_file = m.manifest.next_file;
        let mut written: Vec<Segment> = Vec::new();
        let cleanup = |written: &[Segment]| {
            for s in written {
                let _ = std::fs::remove_file(&s.path);
            }
        };
        for ((resolution, partition), series) in frozen.by_partition() {
            let meta = SegMeta {
                file: next_file,
                resolution,
                partition,
                level: 0,
                min_seq: m.manifest.covered + 1,
                max_seq: covered,
            };
            next_file += 1;
            let result = segment::Writer::create(&seg_dir, meta).and_then(|mut w| {
                match series
                    .iter()
                    .try_for_each(|(id, buckets)| w.add(*id, buckets))
                {
                    Ok(()) => w.finish(),
                    Err(e) => {
                        w.abandon();
                        Err(e)
                    }
                }
            });
            match result {
                Ok(seg) => written.push(seg),
                Err(e) => {
                    cleanup(&written);
                    return Err(e);
                }
            }
            self.crash_point("flush:segment");
        }
        let mut next = m.manifest.clone();
        let result = (|| {
            if !written.is_empty() {
                sync_dir(&seg_dir)?;
            }
            if n_series > m.catalog_series {
                let names: Vec<_> = {
                    let st = read(&self.state);
                    (m.catalog_series..n_series)
                        .filter_map(|id| st.index.get(id as u32).cloned())
                        .collect()
                };
                let path = self.dir.join(catalog::FILE);
                next.catalog_len =
                    catalog::append(&path, next.catalog_len, m.catalog_series as u64, &names)?;
            }
            self.crash_point("flush:catalog");
            next.covered = covered;
            next.next_file = next_file;
            next.cursors = cursors;
            next.segments.extend(written.iter().map(|s| s.meta));
            next.store(&self.dir)
        })();
        if let Err(e) = result {
            // Unless the manifest may already name them (then a restart sorts it out).
            if !matches!(e, Error::Poisoned(_)) {
                cleanup(&written);
            }
            return Err(e);
        }
        self.crash_point("flush:manifest");
        m.manifest = next;
        m.catalog_series = n_series;
        {
            let mut st = write(&self.state);
            for seg in written {
                st.insert_segment(Arc::new(seg));
            }
            st.frozen = None;
        }
        // The segments now hold every record up to `covered`: older WAL files can go.
        for (first, path) in wal::list(&self.wal_dir())? {
            if first <= covered {
                file::remove(&path)?;
            }
        }
        Ok(())
    }

    /// Stops all further writes: the files on disk may be ahead of what this process knows,
    /// and only a reopen (which recovers from the files) can reconcile them.
    pub(super) fn poison(&self, why: &str) {
        tracing::error!(reason = why, "store stops writing until it is reopened");
        if let Some(w) = lock(&self.wal).as_mut() {
            w.broken.get_or_insert_with(|| why.to_string());
        }
    }

    /// Swaps in a manifest, then makes the state match it (new segments in, old ones out), then
    /// deletes the files it no longer names.
    fn install(
        &self,
        m: &mut Maint,
        next: Manifest,
        added: Option<Segment>,
        removed: &[SegMeta],
    ) -> Result<(), Error> {
        if let Err(e) = next.store(&self.dir) {
            if let Error::Poisoned(why) = &e {
                self.poison(why);
            }
            return Err(e);
        }
        m.manifest = next;
        {
            let mut st = write(&self.state);
            let files: Vec<u64> = removed.iter().map(|s| s.file).collect();
            st.remove_segments(&files);
            if let Some(seg) = added {
                st.insert_segment(Arc::new(seg));
            }
        }
        self.crash_point("install:manifest");
        for meta in removed {
            file::remove(&Segment::path_in(&self.seg_dir(), meta))?;
        }
        Ok(())
    }

    /// Drops head slots and whole partitions older than each tier's retention.
    pub(super) fn expire(&self, m: &mut Maint, now: i64) -> Result<(), Error> {
        let cutoff = |res: u32| {
            let t = self.options.tiers.iter().find(|t| t.resolution == res)?;
            Some(now.saturating_sub(i64::try_from(t.retention).unwrap_or(i64::MAX)))
        };
        for t in &self.options.tiers {
            if let Some(c) = cutoff(t.resolution) {
                if !read(&self.state).head.has_expired(t.resolution, c) {
                    continue;
                }
                let dropped = write(&self.state).head.expire(t.resolution, c);
                tracing::debug!(resolution = t.resolution, dropped, "expired head buckets");
            }
        }
        let dead: Vec<SegMeta> = m
            .manifest
            .segments
            .iter()
            .filter(|s| {
                cutoff(s.resolution)
                    .is_some_and(|c| s.partition.saturating_add(partition_len(s.resolution)) <= c)
            })
            .copied()
            .collect();
        if dead.is_empty() {
            return Ok(());
        }
        tracing::info!(files = dead.len(), "deleting partitions past retention");
        let mut next = m.manifest.clone();
        next.segments.retain(|s| !dead.contains(s));
        self.install(m, next, None, &dead)
    }

    /// Picks at most one compaction: `FAN_IN` files of one level in a partition, or every file
    /// of a partition no flush will add to any more.
    fn plan(&self, m: &Maint, now: i64) -> Option<Vec<SegMeta>> {
        let margin = 2 * self.options.head_flush_interval.max(1);
        for ((res, partition), list) in by_partition(&m.manifest.segments) {
            if list.len() < 2 {
                continue;
            }
            // Levels never increase along a partition's files (oldest first), so files of one
            // level form one contiguous run.
            let mut i = 0;
            while i < list.len() {
                let j = i + list[i..]
                    .iter()
                    .take_while(|s| s.level == list[i].level)
                    .count();
                if j - i >= FAN_IN {
                    return Some(list[i..j].to_vec());
                }
                i = j;
            }
            let end = partition.saturating_add(partition_len(res));
            if end.saturating_add(margin) <= now {
                return Some(list);
            }
        }
        None
    }

    /// Runs one compaction if one is due.
    pub(super) fn compact_once(&self, m: &mut Maint, now: i64) -> Result<(), Error> {
        let Some(inputs) = self.plan(m, now) else {
            return Ok(());
        };
        let segs: Vec<Arc<Segment>> = {
            let st = read(&self.state);
            let key = (inputs[0].resolution, inputs[0].partition);
            let list = st.segments.get(&key).map(Vec::as_slice).unwrap_or_default();
            inputs
                .iter()
                .filter_map(|meta| list.iter().find(|s| s.meta.file == meta.file).cloned())
                .collect()
        };
        if segs.len() != inputs.len() {
            return Err(Error::Poisoned("compaction inputs are not live".into()));
        }
        let first = inputs[0];
        let meta = SegMeta {
            file: m.manifest.next_file,
            level: inputs
                .iter()
                .map(|s| s.level)
                .max()
                .unwrap_or(0)
                .saturating_add(1),
            min_seq: first.min_seq,
            max_seq: inputs
                .iter()
                .map(|s| s.max_seq)
                .max()
                .unwrap_or(first.max_seq),
            ..first
        };
        let mut ids: Vec<u32> = segs.iter().flat_map(|s| s.ids()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut w = segment::Writer::create(&self.seg_dir(), meta)?;
        for id in ids {
            let mut acc = Vec::new();
            for seg in &segs {
                let mut more = Vec::new();
                if let Err(e) = seg.read(id, i64::MIN, i64::MAX, &mut more) {
                    w.abandon();
                    return self.on_bad_input(m, seg, e);
                }
                merge_sorted(&mut acc, more);
            }
            if let Err(e) = w.add(id, &acc) {
                w.abandon();
                return Err(e);
            }
        }
        let out = w.finish()?;
        sync_dir(&self.seg_dir())?;
        self.crash_point("compact:written");
        tracing::debug!(inputs = inputs.len(), output = %out.path.display(), "compacted");
        let mut next = m.manifest.clone();
        next.segments.retain(|s| !inputs.contains(s));
        next.segments.push(meta);
        next.next_file += 1;
        self.install(m, next, Some(out), &inputs)
    }

    /// A compaction input that cannot be read is taken out of service (its data is lost, but
    /// the rest of the partition keeps compacting).
    fn on_bad_input(&self, m: &mut Maint, seg: &Segment, e: Error) -> Result<(), Error> {
        if !matches!(e, Error::Corrupt { .. }) {
            return Err(e);
        }
        tracing::error!(error = %e, "segment is corrupt; moving it aside, its data is lost");
        let mut next = m.manifest.clone();
        next.segments.retain(|s| *s != seg.meta);
        self.install(m, next, None, &[])?;
        write(&self.state).remove_segments(&[seg.meta.file]);
        quarantine(&self.seg_dir(), &seg.meta);
        Ok(())
    }
}
