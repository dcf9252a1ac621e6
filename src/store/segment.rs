//! Segment files: immutable, one resolution and one time partition each, holding one columnar
//! block per series (see `block`) and a directory of where each block is. Opening a segment
//! reads only its directory, which stays in memory, so reading one series is one `pread` of
//! its block. Files are written as `.tmp`, fsynced and renamed; they only become live when a
//! manifest names them.

use super::block;
use super::file::{self, corrupt, io};
use super::manifest::SegMeta;
use super::{Error, SeriesId};
use crate::aggregate::Bucket;
use crate::encoding::{Reader, put_ivarint, put_uvarint};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"TLYSEG01";
/// `dir_offset u64 | dir_len u32 | dir_crc u32 | magic`
const TRAILER: u64 = 24;
/// Slots per partition, at most (one day at 10 s, six days at 1 min).
pub const MAX_PARTITION_SLOTS: u64 = 8640;
/// A partition never spans more than this (so retention of coarse tiers is not too coarse).
pub const MAX_PARTITION_SECS: u64 = 30 * 86_400;

/// Number of slots in one partition of `res`.
pub fn partition_slots(res: u32) -> u32 {
    (MAX_PARTITION_SECS / u64::from(res.max(1))).clamp(1, MAX_PARTITION_SLOTS) as u32
}

/// Seconds covered by one partition of `res`.
pub fn partition_len(res: u32) -> i64 {
    i64::from(partition_slots(res)) * i64::from(res.max(1))
}

/// The start of the partition holding slot `start`.
pub fn partition_of(res: u32, start: i64) -> i64 {
    let len = partition_len(res);
    start.div_euclid(len) * len
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: SeriesId,
    len: u32,
    crc: u32,
    offset: u64,
}

/// An open, live segment file.
#[derive(Debug)]
pub struct Segment {
    pub meta: SegMeta,
    pub path: PathBuf,
    file: File,
    entries: Vec<Entry>,
}

fn encode_directory(meta: &SegMeta, entries: &[Entry]) -> Vec<u8> {
    let mut d = Vec::with_capacity(32 + entries.len() * 8);
    put_uvarint(&mut d, u64::from(meta.resolution));
    put_ivarint(&mut d, meta.partition);
    put_uvarint(&mut d, u64::from(partition_slots(meta.resolution)));
    d.push(meta.level);
    put_uvarint(&mut d, meta.min_seq);
    put_uvarint(&mut d, meta.max_seq);
    put_uvarint(&mut d, entries.len() as u64);
    let mut prev = 0u32;
    for e in entries {
        put_uvarint(&mut d, u64::from(e.id - prev));
        put_uvarint(&mut d, u64::from(e.len));
        d.extend_from_slice(&e.crc.to_le_bytes());
        prev = e.id;
    }
    d
}

impl Segment {
    pub fn path_in(seg_dir: &Path, meta: &SegMeta) -> PathBuf {
        seg_dir.join(meta.file_name())
    }

    /// Opens a segment and loads its directory; checks it against what the manifest says.
    pub fn open(seg_dir: &Path, meta: SegMeta) -> Result<Segment, Error> {
        let path = Segment::path_in(seg_dir, &meta);
        let file = File::open(&path).map_err(io(&path))?;
        let size = file.metadata().map_err(io(&path))?.len();
        if size < 8 + TRAILER {
            return Err(corrupt(&path, "too short"));
        }
        let mut head = [0u8; 8];
        file.read_exact_at(&mut head, 0).map_err(io(&path))?;
        file::check_magic(&path, &head, MAGIC)?;
        let mut trailer = [0u8; TRAILER as usize];
        file.read_exact_at(&mut trailer, size - TRAILER)
            .map_err(io(&path))?;
        file::check_magic(&path, &trailer[16..], MAGIC)?;
        let le64 = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        let le32 = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or_default());
        let dir_offset = le64(&trailer[0..8]);
        let dir_len = u64::from(le32(&trailer[8..12]));
        let dir_crc = le32(&trailer[12..16]);
        if dir_offset < 8 || dir_offset.checked_add(dir_len) != Some(size - TRAILER) {
            return Err(corrupt(&path, "bad directory position"));
        }
        let mut dir = vec![0u8; dir_len as usize];
        file.read_exact_at(&mut dir, dir_offset)
            .map_err(io(&path))?;
        if crc32fast::hash(&dir) != dir_crc {
            return Err(corrupt(&path, "directory checksum mismatch"));
        }
        let entries = Segment::parse_directory(&path, &dir, &meta, dir_offset)?;
        Ok(Segment {
            meta,
            path,
            file,
            entries,
        })
    }

    fn parse_directory(
        path: &Path,
        dir: &[u8],
        meta: &SegMeta,
        dir_offset: u64,
    ) -> Result<Vec<Entry>, Error> {
        let bad = |e: crate::encoding::Error| corrupt(path, format!("directory: {e}"));
        let mut r = Reader::new(dir);
        let res = r.uvarint().map_err(bad)?;
        let partition = r.ivarint().map_err(bad)?;
        let slots = r.uvarint().map_err(bad)?;
        let level = r.u8().map_err(bad)?;
        let (min_seq, max_seq) = (r.uvarint().map_err(bad)?, r.uvarint().map_err(bad)?);
        let found = (res, partition, level, min_seq, max_seq);
        let want = (
            u64::from(meta.resolution),
            meta.partition,
            meta.level,
            meta.min_seq,
            meta.max_seq,
        );
        if found != want || slots != u64::from(partition_slots(meta.resolution)) {
            return Err(corrupt(
                path,
                format!("directory says {found:?}, manifest says {want:?}"),
            ));
        }
        let n = r.uvarint().map_err(bad)?;
        // Every entry takes at least 6 bytes, so `n` is bounded by the directory's size.
        if n > dir.len() as u64 / 6 {
            return Err(corrupt(path, "directory entry count"));
        }
        let mut entries = Vec::with_capacity(n as usize);
        let mut offset = 8u64;
        let mut id = 0u64;
        for i in 0..n {
            let delta = r.uvarint().map_err(bad)?;
            if i > 0 && delta == 0 {
                return Err(corrupt(path, "directory ids not increasing"));
            }
            id = id
                .checked_add(delta)
                .filter(|&v| v <= u64::from(u32::MAX))
                .ok_or_else(|| corrupt(path, "series id"))?;
            let len = u32::try_from(r.uvarint().map_err(bad)?)
                .map_err(|_| corrupt(path, "block length"))?;
            let crc = r.bytes(4).map_err(bad)?;
            let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
            entries.push(Entry {
                id: id as SeriesId,
                len,
                crc,
                offset,
            });
            offset += u64::from(len);
        }
        if offset != dir_offset || !r.is_empty() {
            return Err(corrupt(path, "directory does not match the blocks"));
        }
        Ok(entries)
    }

    pub fn contains(&self, id: SeriesId) -> bool {
        self.entries.binary_search_by_key(&id, |e| e.id).is_ok()
    }

    pub fn ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.entries.iter().map(|e| e.id)
    }

    /// Appends the buckets of `id` with start in `[from, until)` to `out`, in order.
    pub fn read(
        &self,
        id: SeriesId,
        from: i64,
        until: i64,
        out: &mut Vec<(i64, Bucket)>,
    ) -> Result<(), Error> {
        let Some(buf) = self.block(id)? else {
            return Ok(());
        };
        let (res, pstart) = (self.meta.resolution, self.meta.partition);
        block::decode(&buf, pstart, res, partition_slots(res), from, until, out)
            .map_err(|err| corrupt(&self.path, format!("block of series {id}: {err}")))
    }

    /// The checked bytes of `id`'s block, if the segment has one.
    fn block(&self, id: SeriesId) -> Result<Option<Vec<u8>>, Error> {
        let Ok(i) = self.entries.binary_search_by_key(&id, |e| e.id) else {
            return Ok(None);
        };
        let e = self.entries[i];
        let mut buf = vec![0u8; e.len as usize];
        self.file
            .read_exact_at(&mut buf, e.offset)
            .map_err(io(&self.path))?;
        if crc32fast::hash(&buf) != e.crc {
            return Err(corrupt(
                &self.path,
                format!("block of series {id}: checksum mismatch"),
            ));
        }
        Ok(Some(buf))
    }
}

/// Writes one new segment file.
pub struct Writer {
    meta: SegMeta,
    tmp: PathBuf,
    path: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    entries: Vec<Entry>,
    buf: Vec<u8>,
    pco: pco::ChunkConfig,
}

impl Writer {
    pub fn create(seg_dir: &Path, meta: SegMeta) -> Result<Writer, Error> {
        let path = Segment::path_in(seg_dir, &meta);
        let tmp = file::tmp_path(&path);
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC).map_err(io(&tmp))?;
        Ok(Writer {
            meta,
            tmp,
            path,
            out,
            pos: 8,
            entries: Vec::new(),
            buf: Vec::new(),
            pco: pco::ChunkConfig::default(),
        })
    }

    /// Adds a series' buckets: ids in increasing order, buckets sorted by start and inside the
    /// partition (callers guarantee both; an empty list is skipped).
    pub fn add(&mut self, id: SeriesId, buckets: &[(i64, Bucket)]) -> Result<(), Error> {
        if buckets.is_empty() {
            return Ok(());
        }
        debug_assert!(self.entries.last().is_none_or(|e| e.id < id));
        self.buf.clear();
        block::encode(
            &mut self.buf,
            self.meta.partition,
            self.meta.resolution,
            buckets,
            &self.pco,
        );
        let len =
            u32::try_from(self.buf.len()).map_err(|_| corrupt(&self.tmp, "block over 4 GiB"))?;
        self.out.write_all(&self.buf).map_err(io(&self.tmp))?;
        self.entries.push(Entry {
            id,
            len,
            crc: crc32fast::hash(&self.buf),
            offset: self.pos,
        });
        self.pos += u64::from(len);
        Ok(())
    }

    /// Writes the directory, fsyncs and renames into place, and opens the result. The caller
    /// fsyncs the directory before naming the file in a manifest.
    /// On failure (a full disk) the temporary file is removed, so a retry does not leave
    /// one more behind each time.
    pub fn finish(self) -> Result<Segment, Error> {
        let tmp = self.tmp.clone();
        let result = self.finish_inner();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn finish_inner(mut self) -> Result<Segment, Error> {
        let dir = encode_directory(&self.meta, &self.entries);
        let dir_len =
            u32::try_from(dir.len()).map_err(|_| corrupt(&self.tmp, "directory over 4 GiB"))?;
        let mut trailer = Vec::with_capacity(TRAILER as usize);
        trailer.extend_from_slice(&self.pos.to_le_bytes());
        trailer.extend_from_slice(&dir_len.to_le_bytes());
        trailer.extend_from_slice(&crc32fast::hash(&dir).to_le_bytes());
        trailer.extend_from_slice(MAGIC);
        self.out.write_all(&dir).map_err(io(&self.tmp))?;
        self.out.write_all(&trailer).map_err(io(&self.tmp))?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| io(&self.tmp)(e.into_error()))?;
        file.sync_all().map_err(io(&self.tmp))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(io(&self.path))?;
        let seg_dir = self.path.parent().unwrap_or(Path::new("."));
        Segment::open(seg_dir, self.meta)
    }

    /// Gives up: removes the temporary file.
    pub fn abandon(self) {
        drop(self.out);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Kind;
    use proptest::prelude::*;

    fn meta() -> SegMeta {
        SegMeta {
            file: 7,
            resolution: 10,
            partition: 86_400,
            level: 1,
            min_seq: 3,
            max_seq: 9,
        }
    }

    fn write_sample(dir: &Path) -> Segment {
        let mut w = Writer::create(dir, meta()).unwrap();
        for id in [0u32, 5, 1000] {
            let b: Vec<(i64, Bucket)> = (0..100)
                .map(|i| {
                    (
                        86_400 + i * 10,
                        Bucket::new(Kind::Gauge, f64::from(id) + i as f64, 86_400 + i * 10),
                    )
                })
                .collect();
            w.add(id, &b).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn partitions_are_sized_by_resolution() {
        assert_eq!(partition_len(10), 86_400);
        assert_eq!(partition_len(60), 6 * 86_400);
        assert_eq!(partition_len(3600), 30 * 86_400);
        assert_eq!(partition_of(10, 86_399), 0);
        assert_eq!(partition_of(10, -10), -86_400);
    }

    #[test]
    fn round_trips_and_reads_one_series() {
        let dir = tempfile::tempdir().unwrap();
        let seg = write_sample(dir.path());
        assert_eq!(seg.ids().collect::<Vec<_>>(), vec![0, 5, 1000]);
        let reopened = Segment::open(dir.path(), meta()).unwrap();
        let mut out = Vec::new();
        reopened
            .read(5, 86_400 + 100, 86_400 + 200, &mut out)
            .unwrap();
        assert_eq!(out.len(), 10);
        assert_eq!(out[0].1.sum, 15.0);
        out.clear();
        reopened.read(6, i64::MIN, i64::MAX, &mut out).unwrap();
        assert!(out.is_empty());
        let other = SegMeta { level: 0, ..meta() };
        std::fs::rename(
            Segment::path_in(dir.path(), &meta()),
            Segment::path_in(dir.path(), &other),
        )
        .unwrap();
        assert!(matches!(
            Segment::open(dir.path(), other),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn a_damaged_block_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let seg = write_sample(dir.path());
        let mut bytes = std::fs::read(&seg.path).unwrap();
        bytes[20] ^= 0xff;
        std::fs::write(&seg.path, &bytes).unwrap();
        let seg = Segment::open(dir.path(), meta()).unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            seg.read(0, i64::MIN, i64::MAX, &mut out),
            Err(Error::Corrupt { .. })
        ));
    }

    proptest! {
        #[test]
        fn damaged_files_never_panic(at in 0usize..10_000, bit in 0u8..8, cut in 0usize..10_000) {
            let dir = tempfile::tempdir().unwrap();
            let seg = write_sample(dir.path());
            let mut bytes = std::fs::read(&seg.path).unwrap();
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
            bytes.truncate(cut.max(1));
            std::fs::write(&seg.path, &bytes).unwrap();
            if let Ok(seg) = Segment::open(dir.path(), meta()) {
                let mut out = Vec::new();
                for id in [0, 5, 1000] {
                    let _ = seg.read(id, i64::MIN, i64::MAX, &mut out);
                }
            }
        }
    }
}
