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
//!   first) is read from the cursor's offset, then the file from 0. Without a copy, the partial
//!   line already read is delivered and the file read from 0. Lines written between logrotate's
//!   copy and its truncate are in no file; they are delivered only if read before the truncate.
//!   If the new content starts with exactly the old first bytes and is already past the old
//!   offset, the truncation cannot be seen: reading goes on at the old offset (no tailer can
//!   tell that apart from an append). Bytes read are checked against the fingerprint before
//!   they are delivered, so content read across a truncation is dropped, not delivered.
//! - Files are deduplicated by inode: a glob that also matches rotated names (`app.log*`) follows
//!   the renamed file on under its new name instead of reading it again; a new file starting with
//!   the same bytes as a followed file of the same name stem in the same directory (a copy being
//!   made; an empty one counts) waits until it differs or the truncation claims it. Closed files
//!   are remembered (inode, fingerprint, offset) for an hour for the same reason.
//! - Cursors: per followed path, the cursor of its file and of its dead files still draining
//!   (`cursor::encode`). On restart a cursor is resolved by inode + fingerprint at its path,
//!   then in the directory by inode (rotated: finished from the offset, then the new file is read
//!   from 0), then by fingerprint (copytruncate). Only the file a cursor names is found: if a
//!   file was rotated twice while tally was down, the middle one is not read. A path followed
//!   before that has no file keeps an empty cursor list for an hour: a file appearing there
//!   (also while tally is down) is new and read from 0. Every key ends as such an empty list
//!   before it stops being returned, so merging cursors into a store (not replacing) is safe.
//! - notify watches the parent directories (non-recursive) and wakes `wait`; events say which
//!   paths to look at (events about other files in those directories are dropped in the notify
//!   thread). A rename away from a followed path of a file no look saw there (recreated and
//!   moved within logrotate's window, or rotated twice in a row) drains it like a rotated file. Every `poll_interval` every followed path is stat'ed and the globs rescanned anyway
//!   (NFS, queue overflow, missed events); without inotify (limits) it is polling only.
//! - Bounds: one 128 KiB read buffer, a partial line per file (at most `max_line_length`,
//!   released after a long line), 8 MiB read per file per poll (`wait` returns at once while a
//!   file has more), `max_open_files` descriptors (dead files included; more files are counted
//!   and opened when there is room, from 0, or per `start_at` if seen at the first scan).

mod cursor;
mod follow;
mod glob;
mod track;
mod watch;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_logrotate;
#[cfg(test)]
mod tests_model;

use super::RateLimitedLog;
use cursor::{Cursor, Fingerprint};
use follow::Follower;
use std::collections::{BTreeMap, HashMap, HashSet};
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
    /// Gauge: configured paths that exist but cannot be tailed (directory, FIFO, symlink
    /// loop, a file that cannot be opened …); each is logged once when found.
    pub files_unusable: AtomicU64,
    /// Those paths, each as `path: reason` (readiness names them).
    pub unusable_paths: std::sync::Mutex<Vec<String>>,
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
    /// Matching paths that cannot be tailed, already logged.
    unusable: HashSet<PathBuf>,
    /// Files that failed to open since the last full pass, and why (reported with `unusable`).
    open_failed: Vec<(PathBuf, String)>,
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
            .collect::<Vec<_>>();
        let stats = Arc::new(Stats::default());
        let now = Instant::now();
        let wanted = {
            let patterns: Vec<glob::Pattern> = patterns.clone();
            move |p: &Path| patterns.iter().any(|x| x.matches(p) || x.lists_dir(p))
        };
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
            unusable: HashSet::new(),
            open_failed: Vec::new(),
            closed: HashMap::new(),
            backlog: HashSet::new(),
            buf: vec![0; READ_BUFFER],
            next_tick: now + settings.poll_interval,
            watch: watch::Watch::new(stats.clone(), wanted),
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
        for (from, to) in &events.moved {
            self.moved_away(from, to, now);
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
        // The same state gives the same list (callers compare it to see whether it moved).
        out.sort();
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

    /// The same tailer without filesystem events: only its stat passes see files.
    #[cfg(test)]
    pub(super) fn without_events(mut self) -> Tailer {
        self.watch = watch::Watch::disabled(self.stats.clone());
        self
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
}

fn key_of(path: &Path) -> String {
    format!("tail:{}", path.to_string_lossy())
}
