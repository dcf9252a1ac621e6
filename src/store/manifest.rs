//! The MANIFEST: the one small file that says what the store is. It lists the live segment
//! files, the WAL sequence number up to which their contents go (`covered`), the input cursors as
//! of that point, and how many bytes of the series catalog are valid. It is only ever replaced
//! whole (tmp + fsync + rename + directory fsync), so every flush, compaction and retention
//! delete becomes visible in one atomic step, and anything on disk it does not name is garbage.

use super::Error;
use super::file;
use crate::encoding::{Reader, put_blob, put_ivarint, put_uvarint};
use crate::frame;
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"TLYMAN01";
pub const FILE: &str = "MANIFEST";

/// One live segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegMeta {
    /// Unique file number (never reused), part of the file name.
    pub file: u64,
    pub resolution: u32,
    /// Unix seconds at which the partition starts.
    pub partition: i64,
    /// 0 for a head flush; a compaction writes one more than its inputs' highest.
    pub level: u8,
    /// The WAL records whose data this file holds: `min_seq..=max_seq`, merged in commit order.
    /// Files of one partition never overlap in these ranges, and are merged oldest first.
    pub min_seq: u64,
    pub max_seq: u64,
}

impl SegMeta {
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{:08}.seg",
            self.resolution, self.partition, self.file
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    /// Every WAL record with a sequence number up to this is in the segments (and the catalog).
    pub covered: u64,
    pub next_file: u64,
    /// Valid bytes of the series catalog file; anything past it is an unfinished append.
    pub catalog_len: u64,
    /// Input cursors as of `covered`, sorted by key.
    pub cursors: Vec<(String, Vec<u8>)>,
    pub segments: Vec<SegMeta>,
}

impl Manifest {
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(64 + self.segments.len() * 24);
        put_uvarint(&mut body, 1); // body version
        put_uvarint(&mut body, self.covered);
        put_uvarint(&mut body, self.next_file);
        put_uvarint(&mut body, self.catalog_len);
        put_uvarint(&mut body, self.cursors.len() as u64);
        for (k, v) in &self.cursors {
            put_blob(&mut body, k.as_bytes());
            put_blob(&mut body, v);
        }
        put_uvarint(&mut body, self.segments.len() as u64);
        for s in &self.segments {
            put_uvarint(&mut body, s.file);
            put_uvarint(&mut body, u64::from(s.resolution));
            put_ivarint(&mut body, s.partition);
            body.push(s.level);
            put_uvarint(&mut body, s.min_seq);
            put_uvarint(&mut body, s.max_seq);
        }
        let mut out = MAGIC.to_vec();
        frame::put(&mut out, &body);
        out
    }

    pub fn decode(path: &Path, buf: &[u8]) -> Result<Manifest, Error> {
        file::check_magic(path, buf, MAGIC)?;
        let mut frames = frame::Frames::new(&buf[8..], file::MAX_FRAME);
        let Some((_, body)) = frames.next() else {
            return Err(file::corrupt(path, "bad checksum"));
        };
        if !frames.clean() {
            return Err(file::corrupt(path, "trailing bytes"));
        }
        let bad = |e: crate::encoding::Error| file::corrupt(path, e.to_string());
        let mut r = Reader::new(body);
        if r.uvarint().map_err(bad)? != 1 {
            return Err(file::corrupt(path, "unknown version"));
        }
        let mut m = Manifest {
            covered: r.uvarint().map_err(bad)?,
            next_file: r.uvarint().map_err(bad)?,
            catalog_len: r.uvarint().map_err(bad)?,
            ..Manifest::default()
        };
        let n = r.uvarint().map_err(bad)?;
        for _ in 0..n {
            let k = r.str().map_err(bad)?.to_string();
            let v = r.blob().map_err(bad)?.to_vec();
            m.cursors.push((k, v));
        }
        let n = r.uvarint().map_err(bad)?;
        for _ in 0..n {
            let seg = SegMeta {
                file: r.uvarint().map_err(bad)?,
                resolution: u32::try_from(r.uvarint().map_err(bad)?)
                    .map_err(|_| file::corrupt(path, "resolution"))?,
                partition: r.ivarint().map_err(bad)?,
                level: r.u8().map_err(bad)?,
                min_seq: r.uvarint().map_err(bad)?,
                max_seq: r.uvarint().map_err(bad)?,
            };
            if seg.resolution == 0 || seg.file >= m.next_file || seg.min_seq > seg.max_seq {
                return Err(file::corrupt(path, "bad segment entry"));
            }
            m.segments.push(seg);
        }
        if !r.is_empty() {
            return Err(file::corrupt(path, "trailing bytes in body"));
        }
        Ok(m)
    }

    /// Reads `dir/MANIFEST`; `None` for a store that never flushed.
    pub fn load(dir: &Path) -> Result<Option<Manifest>, Error> {
        let path = dir.join(FILE);
        match file::read_optional(&path)? {
            None => Ok(None),
            Some(buf) => Manifest::decode(&path, &buf).map(Some),
        }
    }

    pub fn store(&self, dir: &Path) -> Result<(), Error> {
        file::write_atomic(&dir.join(FILE), &self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Manifest {
        Manifest {
            covered: 42,
            next_file: 9,
            catalog_len: 1234,
            cursors: vec![
                ("tail:/var/log/x".into(), vec![1, 2, 3]),
                ("z".into(), vec![]),
            ],
            segments: vec![
                SegMeta {
                    file: 3,
                    resolution: 10,
                    partition: 86_400,
                    level: 0,
                    min_seq: 1,
                    max_seq: 20,
                },
                SegMeta {
                    file: 8,
                    resolution: 3600,
                    partition: -2_592_000,
                    level: 2,
                    min_seq: 21,
                    max_seq: 42,
                },
            ],
        }
    }

    #[test]
    fn round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), None);
        sample().store(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Some(sample()));
        assert!(!dir.path().join("MANIFEST.tmp").exists());
    }

    #[test]
    fn any_damage_is_reported_as_corrupt() {
        let buf = sample().encode();
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x10;
            assert!(matches!(
                Manifest::decode(Path::new("M"), &b),
                Err(Error::Corrupt { .. })
            ));
            assert!(Manifest::decode(Path::new("M"), &buf[..i]).is_err());
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut b = MAGIC.to_vec();
            frame::put(&mut b, &bytes);
            let _ = Manifest::decode(Path::new("M"), &b);
            let _ = Manifest::decode(Path::new("M"), &bytes);
        }
    }
}
