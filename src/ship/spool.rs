//! The spool: one durable FIFO of [`Record`]s per output, in `data_dir/spool/<output>/`.
//!
//! Records are appended to segment files (`<first seq>.spl`, `crate::frame` frames, as the store's WAL)
//! with one write and one `fdatasync` each, so a record the pipeline handed over survives
//! `kill -9`. A sender reads them in order and acknowledges what the remote accepted; the
//! acknowledged position is kept in `ack` (written, fsynced, renamed over the old one, the
//! directory fsynced). Segments wholly acknowledged are deleted. The total size is bounded:
//! when an append would pass `max_bytes`, the oldest segments are deleted first and their
//! unsent buckets counted as dropped. Memory does not grow with the backlog: reading is one
//! `pread` per record from the current read position.
//! Layout and recovery: FORMAT.md, "Spool".

use super::record::Record;
use crate::frame;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"TLYSPL01";
const ACK_MAGIC: &[u8; 8] = b"TLYACK01";
/// Magic, epoch, first sequence number.
pub const HEADER_LEN: u64 = 24;
/// Records larger than this are refused (and counted as dropped by the caller).
pub const MAX_RECORD: usize = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("a record of {0} bytes is larger than the spool allows")]
    TooLarge(usize),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    /// `first_seq - 1` while empty.
    last_seq: u64,
    bytes: u64,
    path: PathBuf,
}

/// What an `open` found and a caller may want to log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes of a torn last record cut off.
    pub torn_bytes: u64,
    pub segments: usize,
    pub unacked_records: u64,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    epoch: u64,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    /// The newest segment, open for appending.
    file: Option<File>,
    next_seq: u64,
    horizon: Option<i64>,
    /// The newest record's event horizon (`tally` outputs).
    events_through: Option<u64>,
    acked: u64,
    acked_horizon: Option<i64>,
    /// The reader has handed out every record up to this one.
    read_seq: u64,
    /// `(segment first seq, byte offset of the next record, open file)`.
    read_at: Option<(u64, u64, File)>,
    /// Buckets of records deleted over the size bound before they were read.
    dropped_points: u64,
    dropped_records: u64,
}

/// A 64-bit value that differs between spools made at different times or by different
/// processes: it tells a receiver that sequence numbers started over.
fn new_epoch() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish().max(1)
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.spl")
}

/// Reads the frame at `pos`: `Ok(None)` at a clean end, `Err(reason)` for a torn or bad frame.
fn read_frame(file: &File, pos: u64, len_file: u64) -> Result<Option<Vec<u8>>, String> {
    if pos == len_file {
        return Ok(None);
    }
    if pos + frame::HEADER as u64 > len_file {
        return Err("short frame header".into());
    }
    let mut header = [0u8; frame::HEADER];
    file.read_exact_at(&mut header, pos)
        .map_err(|e| e.to_string())?;
    let h = frame::Header::parse(&header).expect("a whole header");
    if h.len > MAX_RECORD || pos + (frame::HEADER + h.len) as u64 > len_file {
        return Err("frame longer than the file".into());
    }
    let mut body = vec![0u8; h.len];
    file.read_exact_at(&mut body, pos + frame::HEADER as u64)
        .map_err(|e| e.to_string())?;
    if !h.checks(&body) {
        return Err(frame::Error::Crc.to_string());
    }
    Ok(Some(body))
}

/// Checks the header of a segment file and returns its epoch and first sequence number.
fn read_header(file: &File, path: &Path) -> Result<(u64, u64), Error> {
    let mut h = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut h, 0).map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        reason: format!("header: {e}"),
    })?;
    if &h[..8] != MAGIC {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            reason: "not a tally spool segment (bad magic)".into(),
        });
    }
    let epoch = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
    let first = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
    Ok((epoch, first))
}

fn fsync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, cutting off a torn last record.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Spool, Recovery), Error> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut firsts: Vec<u64> = Vec::new();
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".spl")
                && let Ok(first) = stem.parse::<u64>()
            {
                firsts.push(first);
            } else if name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        firsts.sort_unstable();
        let max_bytes = max_bytes.max(64 << 10);
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            epoch: 0,
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(16 << 10, 64 << 20),
            segments: VecDeque::new(),
            file: None,
            next_seq: 1,
            horizon: None,
            events_through: None,
            acked: 0,
            acked_horizon: None,
            read_seq: 0,
            read_at: None,
            dropped_points: 0,
            dropped_records: 0,
        };
        let mut recovery = Recovery::default();
        for (i, &first) in firsts.iter().enumerate() {
            let path = dir.join(segment_name(first));
            let file = File::open(&path).map_err(io(&path))?;
            let (epoch, header_first) = read_header(&file, &path)?;
            if header_first != first {
                return Err(Error::Corrupt {
                    path,
                    reason: format!("header says first record {header_first}"),
                });
            }
            if i > 0 && epoch != spool.epoch {
                return Err(Error::Corrupt {
                    path,
                    reason: "segments of different spools in one directory".into(),
                });
            }
            spool.epoch = epoch;
            let bytes = file.metadata().map_err(io(&path))?.len();
            let last_seq = firsts.get(i + 1).map_or(first - 1, |next| next - 1);
            spool.segments.push_back(Segment {
                first_seq: first,
                last_seq,
                bytes,
                path,
            });
        }
        // The newest segment decides where appends continue: scan it, cut a torn tail; an
        // empty newest segment (a crash right after a roll) is removed and the one before
        // scanned instead.
        while let Some(seg) = spool.segments.back_mut() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&seg.path)
                .map_err(io(&seg.path))?;
            let len = seg.bytes;
            let mut pos = HEADER_LEN;
            let mut last = None;
            loop {
                match read_frame(&file, pos, len) {
                    Ok(Some(body)) => match Record::decode(&body) {
                        Ok(rec) => {
                            let expect =
                                last.as_ref().map_or(seg.first_seq, |r: &Record| r.seq + 1);
                            if rec.seq != expect {
                                return Err(Error::Corrupt {
                                    path: seg.path.clone(),
                                    reason: format!("record {} where {expect} was due", rec.seq),
                                });
                            }
                            pos += (frame::HEADER + body.len()) as u64;
                            last = Some(rec);
                        }
                        Err(e) => {
                            return Err(Error::Corrupt {
                                path: seg.path.clone(),
                                reason: format!("record after byte {pos}: {e}"),
                            });
                        }
                    },
                    Ok(None) => break,
                    Err(_) => break,
                }
            }
            if pos < len {
                recovery.torn_bytes += len - pos;
                file.set_len(pos).map_err(io(&seg.path))?;
                file.sync_all().map_err(io(&seg.path))?;
                seg.bytes = pos;
            }
            match last {
                Some(rec) => {
                    seg.last_seq = rec.seq;
                    spool.next_seq = rec.seq + 1;
                    spool.horizon = Some(rec.horizon);
                    spool.events_through = rec.events.as_ref().map(|e| e.through);
                    spool.file = Some(file);
                    break;
                }
                None => {
                    let path = seg.path.clone();
                    let first = seg.first_seq;
                    spool.segments.pop_back();
                    fs::remove_file(&path).map_err(io(&path))?;
                    spool.next_seq = first;
                }
            }
        }
        if spool.segments.is_empty() {
            spool.epoch = new_epoch();
        }
        // The acknowledged position, if it belongs to these segments.
        let oldest = spool
            .segments
            .front()
            .map_or(spool.next_seq, |s| s.first_seq);
        spool.acked = oldest - 1;
        if let Some((epoch, acked, horizon)) = spool.read_ack()
            && epoch == spool.epoch
        {
            spool.acked = acked.clamp(oldest - 1, spool.next_seq - 1);
            spool.acked_horizon = horizon;
        }
        spool.read_seq = spool.acked;
        spool.delete_acked()?;
        recovery.segments = spool.segments.len();
        recovery.unacked_records = spool.next_seq - 1 - spool.acked;
        Ok((spool, recovery))
    }

    fn ack_path(&self) -> PathBuf {
        self.dir.join("ack")
    }

    fn read_ack(&self) -> Option<(u64, u64, Option<i64>)> {
        let b = fs::read(self.ack_path()).ok()?;
        if b.len() != 8 + 8 + 8 + 1 + 8 + 4 || &b[..8] != ACK_MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes(b[33..37].try_into().ok()?);
        if crc32fast::hash(&b[..33]) != crc {
            return None;
        }
        let epoch = u64::from_le_bytes(b[8..16].try_into().ok()?);
        let acked = u64::from_le_bytes(b[16..24].try_into().ok()?);
        let horizon = (b[24] == 1).then(|| i64::from_le_bytes(b[25..33].try_into().expect("8")));
        Some((epoch, acked, horizon))
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The seq the next appended record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The horizon of the newest record (`None`: nothing was ever appended).
    pub fn horizon(&self) -> Option<i64> {
        self.horizon
    }

    /// The newest record's event horizon: every event of the store up to this id is spooled
    /// (`None`: no record, or records without events).
    pub fn events_through(&self) -> Option<u64> {
        self.events_through
    }

    /// Seconds of closed data appended but not yet acknowledged.
    pub fn lag(&self) -> i64 {
        match (self.horizon, self.acked_horizon) {
            _ if self.acked + 1 >= self.next_seq => 0,
            (Some(h), Some(a)) => (h - a).max(0),
            _ => 0,
        }
    }

    /// Bytes of segment files on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Records appended and not yet acknowledged.
    pub fn pending(&self) -> u64 {
        self.next_seq - 1 - self.acked
    }

    /// `(records, buckets)` deleted over the size bound before a sender read them.
    pub fn dropped(&self) -> (u64, u64) {
        (self.dropped_records, self.dropped_points)
    }

    /// Appends a record (given the next sequence number) durably and returns that number.
    pub fn append(&mut self, mut record: Record) -> Result<u64, Error> {
        record.seq = self.next_seq;
        let mut buf = Vec::with_capacity(256);
        let start = frame::begin(&mut buf);
        record.encode(&mut buf);
        let body_len = buf.len() - frame::HEADER;
        if body_len > MAX_RECORD || buf.len() as u64 > self.max_bytes / 2 {
            return Err(Error::TooLarge(buf.len()));
        }
        frame::end(&mut buf, start);
        let roll = match self.segments.back() {
            None => true,
            Some(s) => s.last_seq >= s.first_seq && s.bytes + buf.len() as u64 > self.segment_bytes,
        };
        if roll || self.file.is_none() {
            self.roll()?;
        }
        // Room is made before writing, so the bound holds at every moment.
        while self.bytes() + buf.len() as u64 > self.max_bytes && self.segments.len() > 1 {
            self.drop_oldest()?;
        }
        let seg = self.segments.back_mut().expect("rolled");
        let file = self.file.as_ref().expect("rolled");
        let at = seg.bytes;
        let written = file.write_all_at(&buf, at).and_then(|()| file.sync_data());
        if let Err(e) = written {
            let _ = file.set_len(at);
            return Err(io(&seg.path)(e));
        }
        seg.bytes += buf.len() as u64;
        seg.last_seq = record.seq;
        self.next_seq += 1;
        self.horizon = Some(record.horizon);
        self.events_through = record.events.as_ref().map(|e| e.through);
        Ok(record.seq)
    }

    /// Starts a new segment file for the next record.
    fn roll(&mut self) -> Result<(), Error> {
        let first = self.next_seq;
        let path = self.dir.join(segment_name(first));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut h = Vec::with_capacity(HEADER_LEN as usize);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&self.epoch.to_le_bytes());
        h.extend_from_slice(&first.to_le_bytes());
        file.write_all(&h)
            .and_then(|()| file.sync_all())
            .map_err(io(&path))?;
        fsync_dir(&self.dir)?;
        self.segments.push_back(Segment {
            first_seq: first,
            last_seq: first - 1,
            bytes: HEADER_LEN,
            path,
        });
        self.file = Some(file);
        Ok(())
    }

    /// Deletes the oldest segment, counting what of it no sender has read.
    fn drop_oldest(&mut self) -> Result<(), Error> {
        let seg = self.segments.pop_front().expect("caller checked");
        if seg.last_seq > self.read_seq
            && let Ok(file) = File::open(&seg.path)
        {
            let mut pos = HEADER_LEN;
            while let Ok(Some(body)) = read_frame(&file, pos, seg.bytes) {
                pos += (frame::HEADER + body.len()) as u64;
                if let Ok(rec) = Record::decode(&body)
                    && rec.seq > self.read_seq
                {
                    self.dropped_records += 1;
                    self.dropped_points += rec.points();
                }
            }
        }
        fs::remove_file(&seg.path).map_err(io(&seg.path))?;
        if self.read_at.as_ref().is_some_and(|r| r.0 == seg.first_seq) {
            self.read_at = None;
        }
        self.read_seq = self.read_seq.max(seg.last_seq);
        self.acked = self.acked.max(seg.last_seq);
        Ok(())
    }

    /// The next records after those already read, up to `max_points` buckets (at least one
    /// record when any is pending). Records read are not read again unless [`Spool::rewind`].
    pub fn read(&mut self, max_points: u64) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        let mut points = 0;
        while self.read_seq + 1 < self.next_seq && (out.is_empty() || points < max_points) {
            let want = self.read_seq + 1;
            let Some(idx) = self
                .segments
                .iter()
                .position(|s| s.first_seq <= want && want <= s.last_seq)
            else {
                // Deleted over the bound: continue at the oldest record still kept.
                match self.segments.iter().find(|s| s.last_seq >= want) {
                    Some(s) => self.read_seq = s.first_seq - 1,
                    None => break,
                }
                continue;
            };
            let seg = &self.segments[idx];
            if self.read_at.as_ref().is_none_or(|r| r.0 != seg.first_seq) {
                let file = File::open(&seg.path).map_err(io(&seg.path))?;
                self.read_at = Some((seg.first_seq, HEADER_LEN, file));
            }
            let (_, pos, file) = self.read_at.as_mut().expect("just set");
            match read_frame(file, *pos, seg.bytes) {
                Ok(Some(body)) => {
                    *pos += (frame::HEADER + body.len()) as u64;
                    let rec = Record::decode(&body).map_err(|e| Error::Corrupt {
                        path: seg.path.clone(),
                        reason: e.to_string(),
                    })?;
                    if rec.seq <= self.read_seq {
                        continue; // positioning inside a segment after a restart
                    }
                    self.read_seq = rec.seq;
                    points += rec.points();
                    out.push(rec);
                }
                Ok(None) | Err(_) => {
                    // A damaged segment (a torn tail is cut at open): skip the rest of it.
                    let skipped = seg.last_seq.saturating_sub(self.read_seq);
                    self.dropped_records += skipped;
                    self.read_seq = seg.last_seq;
                    self.read_at = None;
                }
            }
        }
        Ok(out)
    }

    /// Reading starts again after the acknowledged position (a sender that gave up on what it
    /// read).
    pub fn rewind(&mut self) {
        self.read_seq = self.acked;
        self.read_at = None;
    }

    /// Marks every record up to `seq` (whose horizon is `horizon`) delivered; deletes
    /// segments no longer needed.
    pub fn ack(&mut self, seq: u64, horizon: i64) -> Result<(), Error> {
        if seq <= self.acked {
            return Ok(());
        }
        self.acked = seq.min(self.next_seq - 1);
        self.acked_horizon = Some(horizon);
        let mut b = Vec::with_capacity(37);
        b.extend_from_slice(ACK_MAGIC);
        b.extend_from_slice(&self.epoch.to_le_bytes());
        b.extend_from_slice(&self.acked.to_le_bytes());
        b.push(1);
        b.extend_from_slice(&horizon.to_le_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        // Durable before the segments it covers are deleted: after a crash `ack` is the old
        // one or the new one, whole (a deleted segment that comes back is at or below it).
        let tmp = self.dir.join("ack.tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&b)
            .and_then(|()| f.sync_data())
            .map_err(io(&tmp))?;
        fs::rename(&tmp, self.ack_path()).map_err(io(&tmp))?;
        fsync_dir(&self.dir)?;
        self.delete_acked()
    }

    fn delete_acked(&mut self) -> Result<(), Error> {
        while self.segments.len() > 1 && self.segments[0].last_seq <= self.acked {
            let seg = self.segments.pop_front().expect("len checked");
            match fs::remove_file(&seg.path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io(&seg.path)(e)),
            }
            if self.read_at.as_ref().is_some_and(|r| r.0 == seg.first_seq) {
                self.read_at = None;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
