//! Finding, identifying and reading the followed files: the stat pass and glob scan, rotation
//! and truncation handling, checkpoint resolution at startup.

use super::cursor::{self, Fingerprint, Located};
use super::follow::{Follower, Stop};
use super::*;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

impl Tailer {
    pub(super) fn matches(&self, path: &Path) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }

    pub(super) fn open_files(&self) -> usize {
        self.files.len()
    }

    pub(super) fn add(&mut self, f: Follower) -> u64 {
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

    pub(super) fn remove(&mut self, id: u64) {
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
    pub(super) fn resolve(&mut self, key: &Path, raw: &[u8], now: Instant) {
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
            let offset = c.offset.min(found.meta.len());
            self.add_dead(key, found.path, found.file, found.fp, offset, now);
            if let Some(p) = then_from_0
                && let Ok(file) = File::open(&p)
                && let Ok(fp) = Fingerprint::read(&file)
            {
                self.add_dead(key, p, file, fp, 0, now);
            }
        }
    }

    /// Follows a file no path names (any more), under `key`, from `offset`.
    pub(super) fn add_dead(
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

    /// Logs each path that cannot be tailed once (again only after it was fine or gone), and
    /// publishes the set for readiness.
    fn report_unusable(&mut self, found: &[(PathBuf, String)]) {
        let now: HashSet<&PathBuf> = found.iter().map(|(p, _)| p).collect();
        self.unusable.retain(|p| now.contains(p));
        for (path, why) in found {
            if self.unusable.insert(path.clone()) {
                tracing::warn!(path = %path.display(), reason = %why, "Tail path cannot be read: {why}.");
            }
        }
        self.stats
            .files_unusable
            .store(self.unusable.len() as u64, Relaxed);
        let mut named: Vec<String> = found
            .iter()
            .map(|(p, why)| format!("{}: {why}", p.display()))
            .collect();
        named.sort();
        named.dedup();
        *self
            .stats
            .unusable_paths
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = named;
    }

    /// Stats every followed path, rescans the globs, updates the watches.
    pub(super) fn full_pass(&mut self, initial: bool, now: Instant) {
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
        let mut unusable = std::mem::take(&mut exp.unusable);
        unusable.extend(
            std::mem::take(&mut self.open_failed)
                .into_iter()
                .filter(|(p, _)| found.contains(p) && !self.live.contains_key(p)),
        );
        self.report_unusable(&unusable);
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
    pub(super) fn check_live(&mut self, key: &Path, now: Instant) {
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

    /// A file renamed from the followed path `from` to `to` (an event said so). If no look at
    /// `from` saw it there (it came and went between two: a writer recreating its log in
    /// logrotate's window between rename and create, which logrotate then moves to
    /// `*.backup`; a file rotated twice in a row), it is drained under `from` like any
    /// rotated-away file, from where an earlier read of it stopped, else from 0.
    pub(super) fn moved_away(&mut self, from: &Path, to: &Path, now: Instant) {
        if !self.matches(from) || self.matches(to) || self.deferred.contains(from) {
            // Not followed; followed at its new name too (the scan reads it there); or a
            // copy of a followed file that was waiting there.
            return;
        }
        let Ok(file) = File::open(to) else {
            return;
        };
        let Ok(meta) = file.metadata() else {
            return;
        };
        let identity = (meta.dev(), meta.ino());
        if !meta.is_file()
            || self.by_inode.contains_key(&identity)
            || self.copy_in_progress(from, &file, meta.len())
        {
            return;
        }
        if self.open_files() >= self.settings.max_open_files {
            self.log.log(|suppressed| {
                tracing::warn!(path = %to.display(), suppressed, "A file renamed away from a followed path is not read: max_open_files reached.");
            });
            return;
        }
        let Ok(fp) = Fingerprint::read(&file) else {
            self.stats.read_errors.fetch_add(1, Relaxed);
            return;
        };
        let offset = match self.closed.remove(&identity) {
            Some((fp_then, offset, _)) if fp_then.check(&file).ok().flatten().is_some() => {
                offset.min(meta.len())
            }
            _ => 0,
        };
        tracing::debug!(from = %from.display(), to = %to.display(), "File renamed away from a followed path before it was seen there; draining it.");
        self.stats.rotations.fetch_add(1, Relaxed);
        self.add_dead(from, to.to_path_buf(), file, fp, offset, now);
    }

    /// A matching path with no live follower: adopt the file if it is a dead one under a new
    /// name, else open it (from 0 if it is new, per `start_at` at the first scan).
    pub(super) fn discover(&mut self, path: &Path, initial: bool, now: Instant) {
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
                // Logged once, and named in readiness, by the next full pass.
                self.stats.read_errors.fetch_add(1, Relaxed);
                self.open_failed
                    .push((path.to_path_buf(), error.to_string()));
                return;
            }
        };
        let Ok(fp) = Fingerprint::read(&file) else {
            self.stats.read_errors.fetch_add(1, Relaxed);
            return;
        };
        if !initial && self.copy_in_progress(path, &file, meta.len()) {
            self.deferred.insert(path.to_path_buf());
            return;
        }
        self.deferred.remove(path);
        if let Some((fp_then, offset, _)) = self.closed.remove(&identity)
            && fp_then.check(&file).ok().flatten().is_some()
        {
            let offset = offset.min(meta.len());
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

    /// Whether a new file of `size` bytes is (or may become) a copy of a followed file of the
    /// same name stem in the same directory: its first bytes are the start of that file (which
    /// is at least as long), or that file was truncated since it was last read and this one
    /// starts with what it held (the copy copytruncate made; the truncation, seen when the file
    /// is read, claims it). An empty file counts: `cp` creates the copy before filling it. Such a
    /// file waits (counted in `files_deferred`) until it differs or is claimed.
    pub(super) fn copy_in_progress(&self, path: &Path, file: &File, size: u64) -> bool {
        let stem = |p: &Path| -> Option<Vec<u8>> {
            let name = p.file_name()?.as_bytes();
            Some(name.split(|&c| c == b'.').next().unwrap_or(name).to_vec())
        };
        let (dir, name) = (path.parent(), path.file_name().map(OsStrExt::as_bytes));
        let mut head = [0u8; cursor::FP_MAX];
        let Ok(len) = cursor::read_full_at(file, &mut head, 0) else {
            return false;
        };
        let mut other = [0u8; cursor::FP_MAX];
        self.live.values().map(|id| &self.files[id]).any(|f| {
            if f.key == path
                || f.seen_at.parent() != dir
                || !stem(&f.seen_at).is_some_and(|s| name.is_some_and(|n| n.starts_with(&s)))
            {
                return false;
            }
            match f.fp.check(&f.file) {
                Ok(Some(_)) => {
                    f.file.metadata().is_ok_and(|m| size <= m.len())
                        && cursor::read_full_at(&f.file, &mut other[..len], 0)
                            .is_ok_and(|n| n == len && other[..len] == head[..len])
                }
                _ => {
                    let n = usize::from(f.fp.len);
                    n > 0 && n <= len && Fingerprint::of(&head[..n]) == f.fp
                }
            }
        })
    }

    /// Drains every dead file; closes those whose rotate wait has passed (their last line is
    /// delivered even without a newline).
    pub(super) fn read_dead(&mut self, now: Instant, line: &mut dyn FnMut(&Path, &[u8])) -> usize {
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
    pub(super) fn read_file(
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
    pub(super) fn truncated(
        &mut self,
        id: u64,
        now: Instant,
        line: &mut dyn FnMut(&Path, &[u8]),
    ) -> usize {
        self.stats.truncations.fetch_add(1, Relaxed);
        let mut n = 0;
        let Some(f) = self.files.get(&id) else {
            return 0;
        };
        tracing::debug!(path = %f.key.display(), "Tailed file truncated.");
        let c = f.cursor();
        let dir = c.path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let held = |dev, ino| self.by_inode.contains_key(&(dev, ino));
        let key = f.key.clone();
        let copy = cursor::find_copy(&c, &dir, &held).and_then(|found| {
            let offset = c.offset.min(found.meta.len());
            Follower::new(key, found.path, found.file, found.fp, offset).ok()
        });
        // Whether the copy holds what was read past the last newline (the partial line).
        let copy_has_rest = copy.as_ref().is_some_and(|cp| cp.file_len() > c.offset);
        if let Some(mut copy) = copy {
            // Nobody writes to a copy: read it to the end now (before the new content).
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
        }
        if !copy_has_rest && let Some(f) = self.files.get_mut(&id) {
            // The partial line read before the truncation is in no copy: deliver it as it is.
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

/// Where `start_at: end` starts: after the last newline within the last `max + 1` bytes, so a
/// line being written is delivered whole; `(size, true)` (skip to the next newline) if there is
/// none.
pub(super) fn end_offset(file: &File, size: u64, max: usize) -> (u64, bool) {
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
