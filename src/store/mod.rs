//! The embedded store: the only writer under `data_dir`. It keeps buckets per resolution,
//! merges every commit into what it holds (late data included), survives `kill -9`, indexes
//! series names for glob `find`, and keeps events. It knows nothing of Graphite, YAML or HTTP.
//!
//! A commit is one WAL record and one fsync, then lands in the in-memory head. Every
//! `head_flush_interval` the head is written out as immutable segment files (one per
//! resolution and time partition), and a new MANIFEST naming them and the WAL position they
//! cover replaces the old one atomically. Compaction merges a partition's files; retention
//! deletes whole partitions. See FORMAT.md for the files and why nothing is counted twice.
//!
//! Modules: `file` (atomic writes, magic; records are `crate::frame` frames) · `wal` · `head` · `block` (one series'
//! columns) · `segment` · `manifest` · `catalog` (series file) · `index` (names, `find`) ·
//! `events` · `read` (buckets of one series) · `recover` (open) · `maintain` (flush, compaction, retention).

mod block;
mod catalog;
mod events;
mod file;
mod head;
mod index;
mod maintain;
mod manifest;
mod read;
mod recover;
mod segment;
mod wal;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crash;
#[cfg(test)]
mod tests_kill;

use crate::aggregate::Delta;
use crate::metric::glob::Glob;
use crate::metric::{Kind, Series};
use crate::schema::Tier;
use head::Head;
use index::Index;
use rustc_hash::FxHashMap;
use segment::Segment;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use events::Origin;
pub use segment::{partition_len, partition_slots};

/// Default of [`Options::head_max_bytes`].
pub const HEAD_MAX_BYTES: usize = 128 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is in use by another tally (lock held)")]
    Locked(PathBuf),
    #[error("{path}: corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("store opened read-only")]
    ReadOnly,
    /// A batch the store cannot take (a bug upstream); nothing of it was written.
    #[error("invalid batch: {0}")]
    Invalid(String),
    /// A write failed in a way that leaves the WAL untrustworthy; reopen the store to recover.
    #[error("store needs a restart: {0}")]
    Poisoned(String),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    /// Every resolution in use, with the longest retention any schema gives it.
    pub tiers: Vec<Tier>,
    /// Seconds between writes of the in-memory head to segment files.
    pub head_flush_interval: i64,
    /// The head is written out early once it holds about this many bytes ([`HEAD_MAX_BYTES`]).
    pub head_max_bytes: usize,
}

/// One commit: bucket deltas to merge, and opaque input cursors (log offsets) that become
/// durable atomically with them.
#[derive(Debug, Default)]
pub struct Batch {
    pub deltas: Vec<Delta>,
    pub cursors: Vec<(String, Vec<u8>)>,
}

pub type SeriesId = u32;

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub id: SeriesId,
    pub series: Series,
    pub kind: Kind,
}

/// One node of the name tree as `find` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: String,
    /// A series has exactly this name.
    pub leaf: bool,
    /// Longer names continue below it.
    pub branch: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub when: i64,
    pub what: String,
    pub tags: Vec<String>,
    pub data: String,
}

/// Of the tags a request asks for, those graphite's tag store (django-tagging) matches with:
/// tags some event of `all` has had. It drops the others first; with none left nothing matches.
pub fn known_tags<'a>(asked: &'a [String], all: &[Event]) -> Vec<&'a String> {
    asked
        .iter()
        .filter(|t| all.iter().any(|e| e.tags.contains(t)))
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub series: u64,
    pub disk_bytes: u64,
    pub wal_bytes: u64,
    pub head_buckets: u64,
    /// About what the head (and a head being flushed) holds in memory.
    pub head_bytes: u64,
    pub segments: u64,
    pub events: u64,
    /// Damage found since start: WAL files with corrupt records (moved aside at open) and
    /// segment blocks that failed their checksum on read.
    pub corrupt_wal_files: u64,
    pub corrupt_blocks: u64,
}

/// Counters of damage the store found and worked around.
#[derive(Debug, Default)]
pub struct Damage {
    pub wal_files: std::sync::atomic::AtomicU64,
    pub blocks: std::sync::atomic::AtomicU64,
}

/// What readers see; changed under the write lock only in short, consistent steps.
#[derive(Debug, Default)]
struct State {
    index: Index,
    head: Head,
    /// The head being written out by a flush (still readable until the segments are live).
    frozen: Option<Arc<Head>>,
    /// `(resolution, partition start)` → live segments, oldest data first.
    segments: BTreeMap<(u32, i64), Vec<Arc<Segment>>>,
    cursors: HashMap<String, Vec<u8>>,
}

impl State {
    /// Applies one commit (live or replayed from the WAL).
    fn apply(&mut self, rec: wal::Record) -> Result<(), String> {
        for (id, series, kind) in rec.series {
            let known = self.index.len() as SeriesId;
            if id == known {
                self.index.push(series, kind);
            } else if id > known || self.index.get(id).map(|(s, _)| s) != Some(&series) {
                return Err(format!(
                    "record {} defines series {id} ({series}) out of order",
                    rec.seq
                ));
            }
        }
        let known = self.index.len() as SeriesId;
        for (id, res, start, bucket) in rec.deltas {
            if id >= known {
                return Err(format!(
                    "record {} has data for undefined series {id}",
                    rec.seq
                ));
            }
            self.head.merge(id, res, start, bucket);
        }
        self.cursors.extend(rec.cursors);
        Ok(())
    }

    fn insert_segment(&mut self, seg: Arc<Segment>) {
        let list = self
            .segments
            .entry((seg.meta.resolution, seg.meta.partition))
            .or_default();
        list.push(seg);
        list.sort_by_key(|s| s.meta.min_seq);
    }

    fn remove_segments(&mut self, files: &[u64]) {
        self.segments.retain(|_, list| {
            list.retain(|s| !files.contains(&s.meta.file));
            !list.is_empty()
        });
    }

    fn head_len(&self) -> usize {
        self.head.len() + self.frozen.as_ref().map_or(0, |f| f.len())
    }

    fn head_bytes(&self) -> usize {
        self.head.bytes() + self.frozen.as_ref().map_or(0, |f| f.bytes())
    }
}

/// What only maintenance (flush, compaction, retention) touches.
#[derive(Debug)]
struct Maint {
    manifest: manifest::Manifest,
    /// Series in the catalog file (the manifest's `catalog_len` bytes).
    catalog_series: usize,
    last_flush: Option<i64>,
}

pub struct Store {
    dir: PathBuf,
    options: Options,
    _lock: Option<File>,
    /// The WAL writer; `None` when read-only. Held for the whole of a commit.
    wal: Mutex<Option<wal::Writer>>,
    state: RwLock<State>,
    maint: Mutex<Maint>,
    events: Mutex<events::Events>,
    damage: Damage,
    #[cfg(test)]
    crash_at: Mutex<Option<&'static str>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn validate(d: &Delta) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::Invalid(format!("{} @{}: {why}", d.series, d.start)));
    if d.resolution == 0 {
        return bad("resolution 0");
    }
    if d.start.rem_euclid(i64::from(d.resolution)) != 0 {
        return bad("slot start is not a multiple of the resolution");
    }
    if d.bucket.count == 0 {
        return bad("empty bucket");
    }
    Ok(())
}

impl Store {
    pub fn open(options: Options) -> Result<Store, Error> {
        recover::open(options, true)
    }

    pub fn open_read_only(options: Options) -> Result<Store, Error> {
        recover::open(options, false)
    }

    fn wal_dir(&self) -> PathBuf {
        self.dir.join(wal::DIR)
    }

    fn seg_dir(&self) -> PathBuf {
        self.dir.join(recover::SEG_DIR)
    }

    /// Simulates `kill -9` at a named step (tests only): the panic skips all cleanup.
    #[cfg(test)]
    fn crash_point(&self, at: &'static str) {
        if *lock(&self.crash_at) == Some(at) {
            panic!("simulated crash at {at}");
        }
    }

    #[cfg(not(test))]
    #[inline(always)]
    fn crash_point(&self, _at: &'static str) {}

    /// Merges the batch into the store; durable when it returns `Ok`.
    pub fn commit(&self, batch: Batch) -> Result<(), Error> {
        self.try_commit(batch).map_err(|(e, _)| e)
    }

    /// [`Store::commit`], but a batch that never reached the WAL comes back with the error, so
    /// a caller can retry it without keeping a copy of every batch it commits.
    pub fn try_commit(&self, batch: Batch) -> Result<(), (Error, Option<Batch>)> {
        let mut wal = lock(&self.wal);
        let Some(wal) = wal.as_mut() else {
            return Err((Error::ReadOnly, Some(batch)));
        };
        let (seq, series, ids) = match self.log(&batch, wal) {
            Ok(Some(logged)) => logged,
            Ok(None) => return Ok(()),
            Err(e) => return Err((e, Some(batch))),
        };
        let rec = wal::Record {
            seq,
            series,
            cursors: batch.cursors,
            deltas: batch
                .deltas
                .into_iter()
                .zip(ids)
                .map(|(d, id)| (id, d.resolution, d.start, d.bucket))
                .collect(),
        };
        write(&self.state)
            .apply(rec)
            .map_err(|e| (Error::Poisoned(e), None))
    }

    /// Validates the batch, gives new series their ids and appends its WAL record (one write,
    /// one fsync). `None`: nothing to write.
    #[allow(clippy::type_complexity)]
    fn log(
        &self,
        batch: &Batch,
        wal: &mut wal::Writer,
    ) -> Result<Option<(u64, Vec<(SeriesId, Series, Kind)>, Vec<SeriesId>)>, Error> {
        batch.deltas.iter().try_for_each(validate)?;
        if batch.deltas.is_empty() && batch.cursors.is_empty() {
            return Ok(None);
        }
        let mut new_series: Vec<(SeriesId, Series, Kind)> = Vec::new();
        let mut ids = Vec::with_capacity(batch.deltas.len());
        {
            let st = read(&self.state);
            let base = st.index.len() as u64;
            let mut fresh: FxHashMap<&str, SeriesId> = FxHashMap::default();
            for d in &batch.deltas {
                let id = match st.index.id(d.series.as_str()) {
                    Some(id) => id,
                    None => match fresh.get(d.series.as_str()) {
                        Some(&id) => id,
                        None => {
                            let id = SeriesId::try_from(base + new_series.len() as u64)
                                .map_err(|_| Error::Invalid("too many series".into()))?;
                            fresh.insert(d.series.as_str(), id);
                            new_series.push((id, d.series.clone(), d.kind));
                            id
                        }
                    },
                };
                ids.push(id);
            }
        }
        let seq = wal.last_seq + 1;
        let mut buf = Vec::with_capacity(64 + batch.deltas.len() * 24);
        wal::encode(
            &mut buf,
            seq,
            &new_series,
            &batch.cursors,
            &batch.deltas,
            &ids,
        );
        if buf.len() > file::MAX_FRAME {
            return Err(Error::Invalid(format!(
                "batch of {} bytes is too large",
                buf.len()
            )));
        }
        wal.append(&buf, seq)?;
        Ok(Some((seq, new_series, ids)))
    }

    /// Cursors as of the last commit.
    pub fn cursors(&self) -> HashMap<String, Vec<u8>> {
        read(&self.state).cursors.clone()
    }

    /// Retention, then the head flush if due, then at most one compaction. Cheap when there
    /// is nothing to do; call it every few seconds (from a blocking thread: a compaction can
    /// take a while).
    pub fn maintain(&self, now: i64) -> Result<(), Error> {
        match lock(&self.wal).as_ref() {
            None => return Err(Error::ReadOnly),
            Some(w) => {
                if let Some(why) = &w.broken {
                    return Err(Error::Poisoned(why.clone()));
                }
            }
        }
        let mut m = lock(&self.maint);
        self.expire(&mut m, now)?;
        let last = *m.last_flush.get_or_insert(now);
        if now < last {
            m.last_flush = Some(now); // the clock went back
        }
        let due = now - last >= self.options.head_flush_interval.max(1);
        if due || read(&self.state).head.bytes() >= self.options.head_max_bytes {
            self.flush_locked(&mut m)?;
            m.last_flush = Some(now);
        }
        self.compact_once(&mut m, now)
    }

    /// Writes the head out now (at shutdown).
    pub fn flush_head(&self) -> Result<(), Error> {
        if lock(&self.wal).is_none() {
            return Err(Error::ReadOnly);
        }
        let mut m = lock(&self.maint);
        self.flush_locked(&mut m)
    }

    /// Whether the store already has this (canonical) series.
    pub fn contains(&self, series: &Series) -> bool {
        read(&self.state).index.id(series.as_str()).is_some()
    }

    pub fn lookup(&self, name: &str) -> Option<SeriesInfo> {
        let st = read(&self.state);
        let id = st.index.id(name).or_else(|| {
            let canonical = Series::parse(name).ok()?;
            st.index.id(canonical.as_str())
        })?;
        st.index.info(id)
    }

    pub fn find(&self, glob: &Glob) -> Vec<Node> {
        read(&self.state).index.find(glob)
    }

    /// Every series, in order of first commit (`/metrics/index.json`).
    pub fn all_series(&self) -> Vec<SeriesInfo> {
        read(&self.state).index.all()
    }

    /// Every tagged series (`name;k=v…`), for tag queries.
    pub fn tagged_series(&self) -> Vec<SeriesInfo> {
        read(&self.state).index.tagged()
    }

    pub fn series_matching(&self, glob: &Glob) -> Vec<SeriesInfo> {
        read(&self.state).index.matching(glob)
    }

    /// Records an event durably; ids increase from 1.
    pub fn add_event(
        &self,
        when: i64,
        what: &str,
        tags: &[String],
        data: &str,
    ) -> Result<u64, Error> {
        lock(&self.events).add(when, what, tags, data)
    }

    /// Records an event received from another tally, unless one of the same origin is
    /// already here (`Ok(None)`).
    pub fn add_event_from(
        &self,
        origin: Origin,
        when: i64,
        what: &str,
        tags: &[String],
        data: &str,
    ) -> Result<Option<u64>, Error> {
        lock(&self.events).add_from(Some(origin), when, what, tags, data)
    }

    /// The id of the newest event, 0 for none; every smaller id exists.
    pub fn last_event_id(&self) -> u64 {
        lock(&self.events).last_id()
    }

    /// Events with `after < id <= upto`, by id.
    pub fn events_by_id(&self, after: u64, upto: u64) -> Vec<Event> {
        lock(&self.events).by_id(after, upto)
    }

    /// Events with `from <= when <= until`, by time then id.
    pub fn events(&self, from: i64, until: i64) -> Vec<Event> {
        lock(&self.events).range(from, until)
    }

    pub fn stats(&self) -> Stats {
        let (series, head_buckets, head_bytes, segments) = {
            let st = read(&self.state);
            let segs: usize = st.segments.values().map(Vec::len).sum();
            (st.index.len(), st.head_len(), st.head_bytes(), segs)
        };
        let wal_bytes = dir_bytes(&self.wal_dir());
        let disk_bytes = dir_bytes(&self.dir) + wal_bytes + dir_bytes(&self.seg_dir());
        Stats {
            series: series as u64,
            disk_bytes,
            wal_bytes,
            head_buckets: head_buckets as u64,
            head_bytes: head_bytes as u64,
            segments: segments as u64,
            events: lock(&self.events).len() as u64,
            corrupt_wal_files: self
                .damage
                .wal_files
                .load(std::sync::atomic::Ordering::Relaxed),
            corrupt_blocks: self
                .damage
                .blocks
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Bytes of the regular files directly in `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
