//! The log-file tailer: follows paths and globs line by line, across rotation, with a cursor per
//! file that the agent commits together with the buckets the lines produced.
//!
//! Design (after Vector's file source and logtail2):
//! - Every file is read from a kept-open descriptor at an explicit position, so a rotated or
//!   deleted file can be finished. Lines are split on `\n` (the newline is not delivered, a `\r`
//!   is); a partial line waits for its newline; a line longer than `max_line_length` is cut to
//!   that length and counted; bytes are delivered as they are (invalid UTF-8 included).
//! - Identity is (dev, inode) plus a fingerprint of the first up-to-256 bytes. A path whose inode
//!   changed was rotated or deleted: the old file becomes *dead*, is read to its end for
//!   `rotate_wait` (its writer may not have reopened yet), its last line is delivered even
//!   without a newline, then it is closed. The new file at the path is read from 0.
//! - A file that no longer starts with its fingerprinted bytes (or got shorter) was truncated
//!   (copytruncate): the copy in the same directory (a file starting with those bytes, newest
//!   first) is read from the cursor's offset, then the file from 0. If the new content starts
//!   with exactly the old first bytes and is already past the old offset, the truncation cannot
//!   be seen: reading goes on at the old offset (no tailer can tell that apart from an append).
//! - Files are deduplicated by inode: a glob that also matches rotated names (`app.log*`) follows
//!   the renamed file on under its new name instead of reading it again; a new file starting with
//!   the same bytes as a followed file of the same name stem in the same directory (a copy being
//!   made) waits until it differs.
//! - Cursors: per followed path, the cursor of its file and of its dead files still draining
//!   ([`cursor::encode`]). On restart a cursor is resolved by inode + fingerprint at its path,
//!   then in the directory by inode (rotated: finished from the offset, then the new file is read
//!   from 0), then by fingerprint (copytruncate). Only the file a cursor names is found: if a
//!   file was rotated twice while tally was down, the middle one is not read.
//! - notify watches the parent directories (non-recursive) and wakes `wait`; events say which
//!   paths to look at. Every `poll_interval` every followed path is stat'ed and the globs
//!   rescanned anyway (NFS, queue overflow, missed events).

mod cursor;
mod follow;
mod glob;
mod watch;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_logrotate;
#[cfg(test)]
mod tests_model;

use super::RateLimitedLog;
use cursor::{Cursor, Fingerprint, Located};
use follow::{Follower, Stop};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Absolute paths or globs (`*`, `?`, `[..]` in file and directory names).
    pub paths: Vec<String>,
    /// Where files found at the first scan without a checkpoint start.
    pub start_at: StartAt,
    /// Longer lines: the first `max_line_length` bytes are delivered, the rest skipped up to the
    /// newline, and counted.
    pub max_line_length: usize,
    /// The stat pass and glob rescan.
    pub poll_interval: Duration,
    /// How long a rotated-away file keeps being drained.
    pub rotate_wait: Duration,
    /// Files (followed and draining) kept open at most; beyond it files are not opened, and
    /// counted.
    pub max_open_files: usize,
}

impl Settings {
    /// The defaults for `paths`: start at the end, 64 KiB lines, 1 s stat tick, 5 s rotate wait,
    /// 1024 open files.
    pub fn new(paths: Vec<String>) -> Settings {
        Settings {
            paths,
            start_at: StartAt::End,
            max_line_length: 64 * 1024,
            poll_interval: Duration::from_secs(1),
            rotate_wait: Duration::from_secs(5),
            max_open_files: 1024,
        }
    }
}

/// For a file seen at the first scan without a checkpoint. A file that appears later is always
/// read from its beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// After the last newline (a line being written is delivered whole).
    End,
    Beginning,
}

/// Whether `path` is a pattern the tailer accepts (for config validation).
pub fn check_path(path: &str) -> Result<(), String> {
    glob::Pattern::new(path)
        .map(|_| ())
        .ok_or_else(|| format!("{path:?}: an absolute path without `..` is needed"))
}

/// Counters (monotonic unless marked as a gauge) the agent turns into `tally.tail.*` series.
#[derive(Debug, Default)]
pub struct Stats {
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    pub truncated_long_lines: AtomicU64,
    /// Last lines without a newline delivered at the end of a rotated-away or copied file.
    pub partial_lines_flushed: AtomicU64,
    /// A path that named another file (rename + create, delete + create, delete).
    pub rotations: AtomicU64,
    /// A file found truncated or rewritten in place (copytruncate).
    pub truncations: AtomicU64,
    /// Gauge: files open (followed and draining).
    pub files_open: AtomicU64,
    /// Gauge: matching files not opened because of `max_open_files`.
    pub files_skipped_over_limit: AtomicU64,
    /// Gauge: new files waiting because they start like a followed file (a copy being made).
    pub files_deferred: AtomicU64,
    pub read_errors: AtomicU64,
    /// Checkpointed files that were nowhere to be found at startup.
    pub lost_checkpoints: AtomicU64,
    pub events: AtomicU64,
    pub watch_errors: AtomicU64,
    /// Gauge.
    pub dirs_watched: AtomicU64,
}

/// Bytes read from one file in one `poll` at most, so a big backlog does not hold back the
/// other files and the checkpoints; `wait` returns at once while any file has more.
const READ_BUDGET: u64 = 8 << 20;
const READ_BUFFER: usize = 128 * 1024;
/// How long a path that had a file and lost it is remembered (a file appearing there is new).
const FORGET_MISSING: Duration = Duration::from_secs(3600);
/// Closed files remembered at most (see `Tailer::closed`).
const MAX_CLOSED: usize = 65_536;

/// A matching path not opened because of `max_open_files`.
struct Skipped {
    /// Seen at the first scan (so `start_at` applies when it is opened).
    initial: bool,
    /// Its checkpoint, not resolved yet, handed back unchanged by `checkpoints`.
    checkpoint: Option<Vec<u8>>,
}

/// Owns every followed file. Synchronous: the agent runs it on its own thread.
pub struct Tailer {
    settings: Settings,
    patterns: Vec<glob::Pattern>,
    files: HashMap<u64, Follower>,
    next_id: u64,
    /// Followed path → the file it names.
    live: HashMap<PathBuf, u64>,
    /// Files no path names any more, drained until `rotate_wait` passed, oldest first.
    dead: Vec<u64>,
    by_inode: HashMap<(u64, u64), u64>,
    /// Paths followed before (or checkpointed) that name no file now.
    missing: HashMap<PathBuf, Instant>,
    skipped: HashMap<PathBuf, Skipped>,
    deferred: HashSet<PathBuf>,
    /// Files closed after draining, by (dev, inode): the fingerprint and offset they were read
    /// to, so a glob that matches them later (`app.log*`) does not read them again.
    closed: HashMap<(u64, u64), (Fingerprint, u64, Instant)>,
    /// Files that stopped at the read budget.
    backlog: HashSet<u64>,
    buf: Vec<u8>,
    next_tick: Instant,
    watch: watch::Watch,
    stats: Arc<Stats>,
    log: RateLimitedLog,
}

impl Tailer {
    /// `checkpoints`: what `checkpoints()` returned before (keys `tail:<path>`); other keys are
    /// ignored.
    pub fn new(settings: Settings, checkpoints: &HashMap<String, Vec<u8>>) -> Tailer {
        let mut settings = settings;
        settings.max_line_length = settings.max_line_length.max(1);
        let patterns = settings
            .paths
            .iter()
            .filter_map(|p| {
                let pat = glob::Pattern::new(p);
                if pat.is_none() {
                    tracing::warn!(path = %p, "Tail path ignored: an absolute path is needed.");
                }
                pat
            })
            .collect();
        let stats = Arc::new(Stats::default());
        let now = Instant::now();
        let mut t = Tailer {
            patterns,
            files: HashMap::new(),
            next_id: 0,
            live: HashMap::new(),
            dead: Vec::new(),
            by_inode: HashMap::new(),
            missing: HashMap::new(),
            skipped: HashMap::new(),
            deferred: HashSet::new(),
            closed: HashMap::new(),
            backlog: HashSet::new(),
            buf: vec![0; READ_BUFFER],
            next_tick: now + settings.poll_interval,
            watch: watch::Watch::new(stats.clone()),
            stats,
            log: RateLimitedLog::new(Duration::from_secs(10)),
            settings,
        };
        let mut keyed: Vec<(PathBuf, &Vec<u8>)> = checkpoints
            .iter()
            .filter_map(|(k, v)| Some((PathBuf::from(k.strip_prefix("tail:")?), v)))
            .filter(|(p, _)| t.matches(p))
            .collect();
        keyed.sort();
        for (path, raw) in keyed {
            if t.open_files() >= t.settings.max_open_files {
                let checkpoint = Some(raw.clone());
                t.skipped.insert(
                    path,
                    Skipped {
                        initial: false,
                        checkpoint,
                    },
                );
                continue;
            }
            t.resolve(&path, raw, now);
        }
        // Claimed files not at a matching path stay dead: drained from their offset, then closed.
        t.full_pass(true, now);
        t
    }

    /// Reads whatever is available now from every file (after looking for new, rotated and
    /// truncated files when the stat tick is due or events say so), calling `line(path, bytes)`
    /// once per complete line, in file order. Returns how many lines were delivered. Never
    /// blocks on a file.
    pub fn poll(&mut self, line: &mut dyn FnMut(&Path, &[u8])) -> usize {
        let now = Instant::now();
        let events = self.watch.take();
        let dir_changed = events.changed.iter().any(|p| {
            !self.matches(p)
                && self
                    .patterns
                    .iter()
                    .any(|pat| pat.has_dir_glob() && pat.lists_dir(p))
        });
        let tick = now >= self.next_tick || events.rescan || dir_changed;
        if tick {
            self.full_pass(false, now);
        } else {
            for p in events.changed.iter().chain(&events.hot) {
                if self.live.contains_key(p) {
                    self.check_live(p, now);
                }
            }
            for p in &events.changed {
                if !self.live.contains_key(p) && self.matches(p) {
                    self.discover(p, false, now);
                }
            }
        }
        let mut n = self.read_dead(now, line);
        let ids: Vec<u64> = if tick {
            let mut v: Vec<(&PathBuf, &u64)> = self.live.iter().collect();
            v.sort();
            v.into_iter().map(|(_, &id)| id).collect()
        } else {
            let mut v: Vec<u64> = events
                .hot
                .iter()
                .filter_map(|p| self.live.get(p).copied())
                .collect();
            v.extend(
                events
                    .changed
                    .iter()
                    .filter_map(|p| self.live.get(p).copied()),
            );
            v.extend(self.backlog.iter().copied());
            v.sort();
            v.dedup();
            v
        };
        for id in ids {
            n += self.read_file(id, now, line).0;
        }
        self.stats
            .files_open
            .store(self.files.len() as u64, Relaxed);
        n
    }

    /// The cursor of every followed path as of the lines delivered so far, `("tail:<path>",
    /// bytes)`. Commit these together with the buckets of those lines, and replace all earlier
    /// `tail:` keys with them (a path no longer listed needs nothing).
    pub fn checkpoints(&self) -> Vec<(String, Vec<u8>)> {
        let mut by_key: BTreeMap<&Path, Vec<Cursor>> = BTreeMap::new();
        for id in &self.dead {
            let f = &self.files[id];
            by_key.entry(&f.key).or_default().push(f.cursor());
        }
        for (key, id) in &self.live {
            by_key.entry(key).or_default().push(self.files[id].cursor());
        }
        for key in self.missing.keys() {
            by_key.entry(key).or_default();
        }
        let mut out: Vec<(String, Vec<u8>)> = by_key
            .into_iter()
            .map(|(k, cs)| (key_of(k), cursor::encode(&cs)))
            .collect();
        for (path, s) in &self.skipped {
            if let Some(raw) = &s.checkpoint {
                out.push((key_of(path), raw.clone()));
            }
        }
        out
    }

    /// Blocks until a filesystem event arrives, the stat tick or a rotate wait is due, or
    /// `timeout` passes. Returns at once while a file has more to read than one poll takes.
    pub fn wait(&self, timeout: Duration) {
        if !self.backlog.is_empty() {
            return;
        }
        let mut deadline = (Instant::now() + timeout).min(self.next_tick);
        for id in &self.dead {
            if let Some(since) = self.files[id].dead_since {
                deadline = deadline.min(since + self.settings.rotate_wait);
            }
        }
        self.watch.wait_until(deadline);
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The same counters, for another thread.
    pub fn stats_handle(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Bytes held in buffers: the shared read buffer plus every partial line.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.capacity() + self.files.values().map(Follower::buffered).sum::<usize>()
    }

    fn matches(&self, path: &Path) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }

    fn open_files(&self) -> usize {
        self.files.len()
    }

    fn add(&mut self, f: Follower) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.by_inode.insert((f.dev, f.ino), id);
        if f.dead_since.is_some() {
            self.dead.push(id);
        } else {
            self.missing.remove(&f.key);
            self.live.insert(f.key.clone(), id);
        }
        self.files.insert(id, f);
        id
    }

    fn remove(&mut self, id: u64) {
        if let Some(f) = self.files.remove(&id) {
            self.by_inode.remove(&(f.dev, f.ino));
            if self.closed.len() >= MAX_CLOSED {
                self.closed.clear();
            }
            self.closed
                .insert((f.dev, f.ino), (f.fp, f.read_pos, Instant::now()));
            self.dead.retain(|&d| d != id);
            self.backlog.remove(&id);
            if self.live.get(&f.key) == Some(&id) {
                self.live.remove(&f.key);
            }
            if !self.live.contains_key(&f.key) {
                self.missing.insert(f.key, Instant::now());
            }
        }
    }

    /// Opens the files a checkpoint names as dead followers; the scan that follows makes the one
    /// still at a matching path live.
    fn resolve(&mut self, key: &Path, raw: &[u8], now: Instant) {
        let Some(cursors) = cursor::decode(raw) else {
            tracing::warn!(path = %key.display(), "Tail checkpoint unreadable; file treated as new.");
            return;
        };
        self.missing.insert(key.to_path_buf(), now);
        for c in cursors {
            let by_inode = &self.by_inode;
            let held = |dev, ino| by_inode.contains_key(&(dev, ino));
            let (found, then_from_0) = match cursor::locate(&c, key, &held) {
                Located::Same(f) => (f, None),
                Located::Copy { found, rewritten } => {
                    // copytruncate: the copy from the offset, then what the inode holds now
                    // from 0 (the scan does that if it is still at the path).
                    if rewritten.is_some() {
                        self.stats.truncations.fetch_add(1, Relaxed);
                    }
                    (found, rewritten.filter(|p| p != key))
                }
                Located::Gone { rewritten: Some(_) } if c.offset == 0 => {
                    // Nothing was delivered from it: the file at the path is simply new.
                    continue;
                }
                Located::Gone { rewritten: Some(_) } => {
                    // Truncated with no copy left, or the inode reused by a new file.
                    self.stats.truncations.fetch_add(1, Relaxed);
                    continue;
                }
                Located::Gone { rewritten: None } => {
                    self.stats.lost_checkpoints.fetch_add(1, Relaxed);
                    tracing::warn!(path = %c.path.display(), offset = c.offset,
                        "Checkpointed file not found; what it had after the offset is lost.");
                    continue;
                }
            };
            self.add_dead(key, found.path, found.file, found.fp, c.offset, now);
            if let Some(p) = then_from_0
                && let Ok(file) = File::open(&p)
                && let Ok(fp) = Fingerprint::read(&file)
            {
                self.add_dead(key, p, file, fp, 0, now);
            }
        }
    }

    /// Follows a file no path names (any more), under `key`, from `offset`.
    fn add_dead(
        &mut self,
        key: &Path,
        seen_at: PathBuf,
        file: File,
        fp: Fingerprint,
        offset: u64,
        now: Instant,
    ) {
        let Ok(mut f) = Follower::new(key.to_path_buf(), seen_at, file, fp, offset) else {
            self.stats.read_errors.fetch_add(1, Relaxed);
            return;
        };
        if self.by_inode.contains_key(&(f.dev, f.ino)) {
            return;
        }
        f.dead_since = Some(now);
        self.add(f);
    }

    /// Stats every followed path, rescans the globs, updates the watches.
    fn full_pass(&mut self, initial: bool, now: Instant) {
        self.next_tick = now + self.settings.poll_interval;
        let mut keys: Vec<PathBuf> = self.live.keys().cloned().collect();
        keys.sort();
        for k in keys {
            self.check_live(&k, now);
        }
        let mut exp = glob::Expansion::default();
        for p in &self.patterns {
            p.expand(&mut exp);
        }
        exp.files.sort();
        exp.files.dedup();
        let found: HashSet<&PathBuf> = exp.files.iter().collect();
        self.skipped
            .retain(|p, s| found.contains(p) || s.checkpoint.is_some());
        self.deferred.retain(|p| found.contains(p));
        for path in &exp.files {
            if !self.live.contains_key(path) {
                self.discover(path, initial, now);
            }
        }
        self.missing
            .retain(|p, since| now.duration_since(*since) < FORGET_MISSING || found.contains(p));
        self.closed
            .retain(|_, (_, _, at)| now.duration_since(*at) < FORGET_MISSING);
        let dirs: HashSet<PathBuf> = exp.dirs.into_iter().collect();
        self.watch.set_dirs(&dirs);
        self.stats
            .files_skipped_over_limit
            .store(self.skipped.len() as u64, Relaxed);
        self.stats
            .files_deferred
            .store(self.deferred.len() as u64, Relaxed);
        self.stats
            .files_open
            .store(self.files.len() as u64, Relaxed);
    }

    /// Whether `key` still names its file; if not, the file turns dead and the new one (if any)
    /// is followed from 0.
    fn check_live(&mut self, key: &Path, now: Instant) {
        let Some(&id) = self.live.get(key) else {
            return;
        };
        let f = &self.files[&id];
        let meta = match std::fs::metadata(key) {
            Ok(m) if (m.dev(), m.ino()) == (f.dev, f.ino) => return,
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                self.stats.read_errors.fetch_add(1, Relaxed);
                self.log.log(|suppressed| {
                    tracing::warn!(%error, path = %key.display(), suppressed, "Cannot stat a tailed file.");
                });
                return;
            }
        };
        tracing::debug!(path = %key.display(), "Tailed file rotated or removed.");
        self.stats.rotations.fetch_add(1, Relaxed);
        self.live.remove(key);
        self.missing.insert(key.to_path_buf(), now);
        if let Some(f) = self.files.get_mut(&id) {
            f.dead_since = Some(now);
        }
        self.dead.push(id);
        if meta.is_some() && self.matches(key) {
            self.discover(key, false, now);
        }
    }

    /// A matching path with no live follower: adopt the file if it is a dead one under a new
    /// name, else open it (from 0 if it is new, per `start_at` at the first scan).
    fn discover(&mut self, path: &Path, initial: bool, now: Instant) {
        let meta = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => m,
            _ => return,
        };
        let identity = (meta.dev(), meta.ino());
        if let Some(&id) = self.by_inode.get(&identity) {
            let key = self.files[&id].key.clone();
            if self.files[&id].dead_since.is_none() {
                if key == path {
                    return;
                }
                // Live under another path: renamed (that path is looked at first) or a link.
                self.check_live(&key, now);
                if self.files.get(&id).is_none_or(|f| f.dead_since.is_none()) {
                    return;
                }
            }
            let f = self.files.get_mut(&id).expect("held");
            f.dead_since = None;
            f.key = path.to_path_buf();
            f.seen_at = path.to_path_buf();
            self.dead.retain(|&d| d != id);
            self.live.insert(path.to_path_buf(), id);
            self.missing.remove(path);
            self.skipped.remove(path);
            self.deferred.remove(path);
            if key != path && !self.live.contains_key(&key) {
                self.missing.insert(key, now);
            }
            return;
        }
        let initial = initial || self.skipped.get(path).is_some_and(|s| s.initial);
        if self.open_files() >= self.settings.max_open_files {
            self.skipped.entry(path.to_path_buf()).or_insert(Skipped {
                initial,
                checkpoint: None,
            });
            return;
        }
        if let Some(raw) = self.skipped.remove(path).and_then(|s| s.checkpoint) {
            self.resolve(path, &raw, now);
            return self.discover(path, false, now);
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(error) => {
                self.stats.read_errors.fetch_add(1, Relaxed);
                self.log.log(|suppressed| {
                    tracing::warn!(%error, path = %path.display(), suppressed, "Cannot open a tailed file.");
                });
                return;
            }
        };
        let Ok(fp) = Fingerprint::read(&file) else {
            self.stats.read_errors.fetch_add(1, Relaxed);
            return;
        };
        if self.copy_in_progress(path, &file) {
            self.deferred.insert(path.to_path_buf());
            return;
        }
        self.deferred.remove(path);
        if let Some((fp_then, offset, _)) = self.closed.remove(&identity)
            && meta.len() >= offset
            && fp_then.check(&file).ok().flatten().is_some()
        {
            // Read to `offset` under another name before (a rotated file a glob also matches).
            if let Ok(f) = Follower::new(path.to_path_buf(), path.to_path_buf(), file, fp, offset) {
                self.add(f);
            }
            return;
        }
        let known = self.missing.contains_key(path);
        let (offset, skip_line) = if initial && !known && self.settings.start_at == StartAt::End {
            end_offset(&file, meta.len(), self.settings.max_line_length)
        } else {
            (0, false)
        };
        match Follower::new(path.to_path_buf(), path.to_path_buf(), file, fp, offset) {
            Ok(mut f) => {
                f.skip_line = skip_line;
                self.add(f);
            }
            Err(_) => {
                self.stats.read_errors.fetch_add(1, Relaxed);
            }
        }
    }

    /// Whether a new file starts with the fingerprinted bytes of a followed file of the same
    /// name stem in the same directory: the copy copytruncate is making (the truncation, when
    /// seen, claims it) or a duplicate.
    fn copy_in_progress(&self, path: &Path, file: &File) -> bool {
        let stem = |p: &Path| -> Option<Vec<u8>> {
            let name = p.file_name()?.as_bytes();
            Some(name.split(|&c| c == b'.').next().unwrap_or(name).to_vec())
        };
        let (dir, name) = (path.parent(), path.file_name().map(OsStrExt::as_bytes));
        let mut head = [0u8; cursor::FP_MAX];
        let Ok(len) = cursor::read_full_at(file, &mut head, 0) else {
            return false;
        };
        self.live.values().map(|id| &self.files[id]).any(|f| {
            let n = usize::from(f.fp.len);
            n > 0
                && n <= len
                && f.seen_at.parent() == dir
                && stem(&f.seen_at).is_some_and(|s| name.is_some_and(|n| n.starts_with(&s)))
                && Fingerprint::of(&head[..n]) == f.fp
        })
    }

    /// Drains every dead file; closes those whose rotate wait has passed (their last line is
    /// delivered even without a newline).
    fn read_dead(&mut self, now: Instant, line: &mut dyn FnMut(&Path, &[u8])) -> usize {
        let mut n = 0;
        for id in self.dead.clone() {
            let (k, more) = self.read_file(id, now, line);
            n += k;
            if more {
                continue;
            }
            if let Some(f) = self.files.get_mut(&id)
                && f.dead_since
                    .is_some_and(|s| now.duration_since(s) >= self.settings.rotate_wait)
            {
                n += f.flush_partial(&self.stats, line);
                self.remove(id);
            }
        }
        n
    }

    /// Reads one file up to the budget; on truncation finishes the copy first, then reads it
    /// from 0. Returns the lines delivered and whether the budget stopped it.
    fn read_file(
        &mut self,
        id: u64,
        now: Instant,
        line: &mut dyn FnMut(&Path, &[u8]),
    ) -> (usize, bool) {
        let mut n = 0;
        for _attempt in 0..3 {
            let Some(f) = self.files.get_mut(&id) else {
                break;
            };
            let max = self.settings.max_line_length;
            match f.read(&mut self.buf, READ_BUDGET, true, max, &self.stats, line) {
                Ok((stop, k)) => {
                    n += k;
                    match stop {
                        Stop::Eof => break,
                        Stop::Budget => {
                            self.backlog.insert(id);
                            return (n, true);
                        }
                        Stop::Truncated => n += self.truncated(id, now, line),
                    }
                }
                Err(error) => {
                    self.stats.read_errors.fetch_add(1, Relaxed);
                    self.log.log(|suppressed| {
                        tracing::warn!(%error, path = %f.seen_at.display(), suppressed, "Cannot read a tailed file.");
                    });
                    break;
                }
            }
        }
        self.backlog.remove(&id);
        (n, false)
    }

    /// `id` was truncated or rewritten: read its copy (if copytruncate left one) from the
    /// offset to its end, else deliver the partial line already read; then start over at 0.
    fn truncated(&mut self, id: u64, now: Instant, line: &mut dyn FnMut(&Path, &[u8])) -> usize {
        self.stats.truncations.fetch_add(1, Relaxed);
        let mut n = 0;
        let Some(f) = self.files.get(&id) else {
            return 0;
        };
        tracing::debug!(path = %f.key.display(), "Tailed file truncated.");
        let c = f.cursor();
        let dir = c.path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let held = |dev, ino| self.by_inode.contains_key(&(dev, ino));
        if let Some(found) = cursor::find_copy(&c, &dir, &held)
            && let Ok(mut copy) =
                Follower::new(f.key.clone(), found.path, found.file, found.fp, c.offset)
        {
            // Nobody writes to a copy: read it to the end now (before the new content) and close.
            copy.dead_since = Some(now);
            let max = self.settings.max_line_length;
            loop {
                match copy.read(&mut self.buf, u64::MAX, false, max, &self.stats, line) {
                    Ok((Stop::Budget, k)) => n += k,
                    Ok((_, k)) => {
                        n += k;
                        break;
                    }
                    Err(_) => {
                        self.stats.read_errors.fetch_add(1, Relaxed);
                        break;
                    }
                }
            }
            n += copy.flush_partial(&self.stats, line);
            // Kept until its rotate wait passes, so a glob that matches it sees it is read.
            self.add(copy);
        } else if let Some(f) = self.files.get_mut(&id)
            && f.has_partial()
        {
            n += f.flush_partial(&self.stats, line);
        }
        if let Some(f) = self.files.get_mut(&id)
            && f.restart().is_err()
        {
            self.stats.read_errors.fetch_add(1, Relaxed);
        }
        n
    }
}

fn key_of(path: &Path) -> String {
    format!("tail:{}", path.to_string_lossy())
}

/// Where `start_at: end` starts: after the last newline within the last `max + 1` bytes, so a
/// line being written is delivered whole; `(size, true)` (skip to the next newline) if there is
/// none.
fn end_offset(file: &File, size: u64, max: usize) -> (u64, bool) {
    if size == 0 {
        return (0, false);
    }
    let window = (max as u64 + 1).min(size).min(1 << 20);
    let mut buf = vec![0u8; window as usize];
    let start = size - window;
    let Ok(n) = cursor::read_full_at(file, &mut buf, start) else {
        return (size, false);
    };
    match memchr::memrchr(b'\n', &buf[..n]) {
        Some(i) => (start + i as u64 + 1, false),
        None if start == 0 => (0, false),
        None => (size, true),
    }
}
