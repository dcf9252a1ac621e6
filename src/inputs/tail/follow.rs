//! One open file: reads from a kept-open descriptor at an explicit position, splits on `\n`,
//! keeps a partial line until its newline arrives, cuts long lines, and knows the offset just
//! after the last delivered newline (what a checkpoint stores).

use super::Stats;
use super::cursor::{Cursor, Fingerprint};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// A partial-line buffer bigger than this is given back to the allocator once the line is done,
/// so one long line does not pin memory for the life of the file.
const KEEP_PARTIAL_CAPACITY: usize = 4096;

pub struct Follower {
    /// The followed path: lines are delivered under it and the checkpoint is keyed by it.
    pub key: PathBuf,
    /// Where the file was last seen (differs from `key` once it was rotated away).
    pub seen_at: PathBuf,
    pub file: File,
    pub dev: u64,
    pub ino: u64,
    pub fp: Fingerprint,
    /// Just after the last delivered newline.
    pub committed: u64,
    /// Where the next read starts: `committed` + the partial line + bytes skipped of a long one.
    pub read_pos: u64,
    partial: Vec<u8>,
    /// The current line is longer than the maximum: `partial` holds its first bytes, the rest is
    /// skipped up to the newline.
    cut: bool,
    /// Skip everything up to and including the next newline without delivering it (started at
    /// the end of a file in the middle of a line longer than the look-back).
    pub skip_line: bool,
    /// Set when the path stopped naming this file (rotated, deleted, copied away): the file is
    /// drained until `rotate_wait` has passed, then closed.
    pub dead_since: Option<Instant>,
}

/// Why a read stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// End of the file.
    Eof,
    /// The per-poll byte budget ran out; there is more.
    Budget,
    /// The file no longer starts with the fingerprinted bytes (or is shorter than that): it was
    /// truncated or rewritten. Nothing of the read that found it was delivered.
    Truncated,
}

impl Follower {
    pub fn new(
        key: PathBuf,
        seen_at: PathBuf,
        file: File,
        fp: Fingerprint,
        offset: u64,
    ) -> io::Result<Self> {
        let meta = file.metadata()?;
        Ok(Follower {
            key,
            seen_at,
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            fp,
            committed: offset,
            read_pos: offset,
            partial: Vec::new(),
            cut: false,
            skip_line: false,
            dead_since: None,
        })
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            path: self.seen_at.clone(),
            dev: self.dev,
            ino: self.ino,
            fp: self.fp,
            offset: self.committed,
            live: self.dead_since.is_none(),
        }
    }

    /// Bytes held for a partial line (the memory a follower costs beyond its fixed size).
    pub fn buffered(&self) -> usize {
        self.partial.capacity()
    }

    /// Reads from `read_pos` until end of file or until `budget` bytes were read, delivering
    /// every complete line. With `verify`, after every chunk the file must still start with the
    /// fingerprinted bytes, or the chunk is dropped and `Stop::Truncated` returned; this also
    /// grows the fingerprint up to 256 bytes.
    pub fn read(
        &mut self,
        buf: &mut [u8],
        budget: u64,
        verify: bool,
        max_line: usize,
        stats: &Stats,
        line: &mut dyn FnMut(&Path, &[u8]),
    ) -> io::Result<(Stop, usize)> {
        let mut lines = 0;
        let mut total = 0u64;
        loop {
            let n = match self.file.read_at(buf, self.read_pos) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if verify {
                match self.fp.check(&self.file)? {
                    Some(fp) => self.fp = fp,
                    None => return Ok((Stop::Truncated, lines)),
                }
            }
            if n == 0 {
                return Ok((Stop::Eof, lines));
            }
            lines += self.feed(&buf[..n], max_line, stats, line);
            stats.bytes.fetch_add(n as u64, Relaxed);
            total += n as u64;
            if total >= budget {
                return Ok((Stop::Budget, lines));
            }
        }
    }

    /// Splits `data` (the bytes at `read_pos`) into lines.
    fn feed(
        &mut self,
        data: &[u8],
        max: usize,
        stats: &Stats,
        line: &mut dyn FnMut(&Path, &[u8]),
    ) -> usize {
        let base = self.read_pos;
        let mut start = 0;
        let mut lines = 0;
        for nl in memchr::memchr_iter(b'\n', data) {
            let head = &data[start..nl];
            if self.skip_line {
                self.skip_line = false;
                start = nl + 1;
                self.committed = base + start as u64;
                continue;
            }
            if self.partial.is_empty() && !self.cut {
                if head.len() > max {
                    stats.truncated_long_lines.fetch_add(1, Relaxed);
                    line(&self.key, &head[..max]);
                } else {
                    line(&self.key, head);
                }
            } else {
                self.push_partial(head, max);
                if self.cut {
                    stats.truncated_long_lines.fetch_add(1, Relaxed);
                }
                line(&self.key, &self.partial);
                self.clear_partial();
            }
            lines += 1;
            start = nl + 1;
            self.committed = base + start as u64;
        }
        if !self.skip_line {
            self.push_partial(&data[start..], max);
        }
        self.read_pos = base + data.len() as u64;
        stats.lines.fetch_add(lines as u64, Relaxed);
        lines
    }

    fn push_partial(&mut self, bytes: &[u8], max: usize) {
        let room = max - self.partial.len();
        if bytes.len() > room {
            self.cut = true;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn clear_partial(&mut self) {
        self.partial.clear();
        self.cut = false;
        if self.partial.capacity() > KEEP_PARTIAL_CAPACITY {
            self.partial = Vec::new();
        }
    }

    /// At the end of a dead file: the last line had no newline and never will; deliver it (a
    /// rotated file's writer can leave one; dropping it would lose data).
    pub fn flush_partial(&mut self, stats: &Stats, line: &mut dyn FnMut(&Path, &[u8])) -> usize {
        if self.partial.is_empty() && !self.cut {
            return 0;
        }
        if self.cut {
            stats.truncated_long_lines.fetch_add(1, Relaxed);
        }
        line(&self.key, &self.partial);
        self.clear_partial();
        self.committed = self.read_pos;
        stats.lines.fetch_add(1, Relaxed);
        stats.partial_lines_flushed.fetch_add(1, Relaxed);
        1
    }

    /// Starts over at offset 0 of the same descriptor (the file was truncated).
    pub fn restart(&mut self) -> io::Result<()> {
        self.clear_partial();
        self.skip_line = false;
        self.committed = 0;
        self.read_pos = 0;
        self.fp = Fingerprint::read(&self.file)?;
        Ok(())
    }

    /// The file's size now (0 if it cannot be read).
    pub fn file_len(&self) -> u64 {
        self.file.metadata().map_or(0, |m| m.len())
    }
}
