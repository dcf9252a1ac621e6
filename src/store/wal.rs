//! The write-ahead log: one CRC-framed record per commit (new series definitions, the deltas,
//! the cursors), written with one `pwrite` and one `fdatasync`. Records carry an increasing
//! sequence number; the manifest says up to which number the segments already hold the data,
//! so replay skips those and nothing is merged twice. The log is split into files named after
//! the first sequence number they may hold; a new file starts at every head flush, and files
//! wholly covered by the manifest are deleted.

use super::file::{self, io};
use super::{Error, SeriesId};
use crate::aggregate::{Bucket, Delta};
use crate::encoding::{self, Reader, put_blob, put_f64, put_ivarint, put_uvarint};
use crate::frame;
use crate::metric::{Kind, Series};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"TLYWAL01";
/// `magic | first_seq u64 LE`
pub const HEADER: u64 = 16;
pub const DIR: &str = "wal";

pub fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

/// The WAL files in `dir`, sorted by their first sequence number.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((seq, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// One decoded commit.
#[derive(Debug, Default, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub series: Vec<(SeriesId, Series, Kind)>,
    pub cursors: Vec<(String, Vec<u8>)>,
    /// `(series, resolution, start, bucket)`
    pub deltas: Vec<(SeriesId, u32, i64, Bucket)>,
}

/// Encodes one commit as a framed record appended to `out`. `ids[i]` is the id of
/// `deltas[i].series`.
pub fn encode(
    out: &mut Vec<u8>,
    seq: u64,
    series: &[(SeriesId, Series, Kind)],
    cursors: &[(String, Vec<u8>)],
    deltas: &[Delta],
    ids: &[SeriesId],
) {
    let start = frame::begin(out);
    put_uvarint(out, seq);
    put_uvarint(out, series.len() as u64);
    for (id, s, kind) in series {
        put_uvarint(out, u64::from(*id));
        out.push(kind.code());
        put_blob(out, s.as_str().as_bytes());
    }
    put_uvarint(out, cursors.len() as u64);
    for (k, v) in cursors {
        put_blob(out, k.as_bytes());
        put_blob(out, v);
    }
    put_uvarint(out, deltas.len() as u64);
    let mut prev = 0i64;
    for (d, &id) in deltas.iter().zip(ids) {
        let b = &d.bucket;
        put_uvarint(out, u64::from(id));
        put_uvarint(out, u64::from(d.resolution));
        put_ivarint(out, d.start.wrapping_sub(prev));
        prev = d.start;
        put_uvarint(out, b.count);
        put_f64(out, b.sum);
        if b.count > 1 {
            put_f64(out, b.min);
            put_f64(out, b.max);
            put_f64(out, b.last);
        }
        put_ivarint(out, b.last_time.wrapping_sub(d.start));
        b.encode_extra(out);
    }
    frame::end(out, start);
}

/// The sequence number of a record body, without decoding the rest.
pub fn peek_seq(body: &[u8]) -> Result<u64, encoding::Error> {
    Reader::new(body).uvarint()
}

pub fn decode(body: &[u8]) -> Result<Record, encoding::Error> {
    let mut r = Reader::new(body);
    let mut rec = Record {
        seq: r.uvarint()?,
        ..Record::default()
    };
    let n = r.uvarint()?;
    for _ in 0..n {
        let id = u32::try_from(r.uvarint()?).map_err(|_| encoding::Error::Invalid("series id"))?;
        let kind = Kind::from_code(r.u8()?).ok_or(encoding::Error::Invalid("kind"))?;
        let name = r.str()?;
        let series = Series::parse(name).map_err(|_| encoding::Error::Invalid("series name"))?;
        rec.series.push((id, series, kind));
    }
    let n = r.uvarint()?;
    for _ in 0..n {
        let k = r.str()?.to_string();
        rec.cursors.push((k, r.blob()?.to_vec()));
    }
    let n = r.uvarint()?;
    let mut prev = 0i64;
    for _ in 0..n {
        let id = u32::try_from(r.uvarint()?).map_err(|_| encoding::Error::Invalid("series id"))?;
        let res =
            u32::try_from(r.uvarint()?).map_err(|_| encoding::Error::Invalid("resolution"))?;
        let start = prev.wrapping_add(r.ivarint()?);
        prev = start;
        let count = r.uvarint()?;
        if count == 0 || res == 0 {
            return Err(encoding::Error::Invalid("empty bucket"));
        }
        let sum = r.f64()?;
        let (min, max, last) = if count > 1 {
            (r.f64()?, r.f64()?, r.f64()?)
        } else {
            (sum, sum, sum)
        };
        let last_time = start.wrapping_add(r.ivarint()?);
        let extra = Bucket::decode_extra(&mut r)?;
        let bucket = Bucket {
            count,
            sum,
            min,
            max,
            last,
            last_time,
            extra,
        };
        rec.deltas.push((id, res, start, bucket));
    }
    if !r.is_empty() {
        return Err(encoding::Error::Invalid("trailing bytes in WAL record"));
    }
    Ok(rec)
}

/// What reading one WAL file found.
#[derive(Debug)]
pub struct Scanned {
    /// Bodies of the good records, in order (`buf[a..b]`).
    pub records: Vec<(usize, usize)>,
    /// Bytes that are good (header included) up to the first bad frame; anything after is a
    /// torn tail when `damaged` is empty.
    pub good_len: u64,
    pub len: u64,
    /// Byte ranges of the file that are not good frames but are followed by good ones (or a
    /// bad header): corruption, not a torn write. Their records are lost.
    pub damaged: Vec<(u64, u64)>,
}

/// Reads a WAL file into `buf` and finds its good records. A bad frame followed by good ones
/// is corruption, reported in `damaged`, and the good ones after it are kept; a bad frame
/// with nothing good after it is a torn tail.
pub fn scan(path: &Path, first_seq: u64, buf: &mut Vec<u8>) -> Result<Scanned, Error> {
    buf.clear();
    *buf = file::read_optional(path)?.unwrap_or_default();
    let len = buf.len() as u64;
    let header_ok =
        buf.len() >= HEADER as usize && &buf[..8] == MAGIC && buf[8..16] == first_seq.to_le_bytes();
    let mut out = Scanned {
        records: Vec::new(),
        good_len: 0,
        len,
        damaged: Vec::new(),
    };
    if buf.len() < HEADER as usize {
        return Ok(out);
    }
    let mut prev_seq = first_seq.saturating_sub(1);
    let mut pos = HEADER as usize;
    if !header_ok {
        out.damaged.push((0, HEADER));
    }
    let mut in_order_prefix = header_ok;
    loop {
        let mut frames = frame::Frames::new(&buf[pos..], file::MAX_FRAME);
        for (at, rec) in frames.by_ref() {
            // A record out of sequence is as bad as a failed checksum.
            match peek_seq(rec) {
                Ok(seq) if seq > prev_seq => prev_seq = seq,
                _ => break,
            }
            let a = pos + at + frame::HEADER;
            out.records.push((a, a + rec.len()));
        }
        let end = match out.records.last() {
            Some(&(_, b)) if b > pos => b,
            _ => pos,
        };
        if in_order_prefix {
            out.good_len = end as u64;
        }
        if end >= buf.len() {
            break;
        }
        in_order_prefix = false;
        // Something bad at `end`: is anything good after it?
        match resync(buf, end + 1, prev_seq) {
            Some(next) => {
                out.damaged.push((end as u64, next as u64));
                pos = next;
            }
            // Nothing good after it: a torn tail.
            None => break,
        }
    }
    if !header_ok && out.records.is_empty() {
        // A file that is nothing but a bad header (or empty after it): nothing to keep.
        out.damaged.clear();
    }
    Ok(out)
}

/// The offset of the next frame at or after `from` that checks out and continues the
/// sequence, if any. Cheap tests first (a length that fits, a plausible sequence number)
/// so that a long damaged stretch costs little.
fn resync(buf: &[u8], from: usize, prev_seq: u64) -> Option<usize> {
    let mut p = from;
    while p + frame::HEADER < buf.len() {
        let h = frame::Header::parse(&buf[p..])?;
        let body_at = p + frame::HEADER;
        if h.len > 0 && h.len <= buf.len() - body_at {
            let body = &buf[body_at..body_at + h.len];
            let plausible = peek_seq(body).is_ok_and(|s| s > prev_seq && s - prev_seq < 1 << 32);
            if plausible && h.checks(body) {
                return Some(p);
            }
        }
        p += 1;
    }
    None
}

/// The file commits append to.
#[derive(Debug)]
pub struct Writer {
    pub path: PathBuf,
    file: File,
    pub first_seq: u64,
    pub len: u64,
    /// The last sequence number written (durably) anywhere in the log.
    pub last_seq: u64,
    /// Set when an fsync failed: the kernel may have dropped the dirty pages, so nothing
    /// written after can be trusted until a restart replays the log.
    pub broken: Option<String>,
}

impl Writer {
    /// Starts a new, empty WAL file whose first record will be `last_seq + 1`.
    pub fn create(dir: &Path, last_seq: u64) -> Result<Writer, Error> {
        let first_seq = last_seq + 1;
        let path = dir.join(file_name(first_seq));
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .read(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&first_seq.to_le_bytes());
        file.write_all_at(&header, 0).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        file::sync_dir(dir)?;
        Ok(Writer {
            path,
            file,
            first_seq,
            len: HEADER,
            last_seq,
            broken: None,
        })
    }

    /// Continues an existing WAL file after its last good record (cutting off a torn tail).
    pub fn resume(
        path: &Path,
        first_seq: u64,
        good_len: u64,
        last_seq: u64,
    ) -> Result<Writer, Error> {
        if good_len < HEADER {
            let dir = path.parent().unwrap_or(Path::new("."));
            return Writer::create(dir, first_seq - 1).map(|w| Writer { last_seq, ..w });
        }
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .open(path)
            .map_err(io(path))?;
        if file.metadata().map_err(io(path))?.len() != good_len {
            file.set_len(good_len).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            first_seq,
            len: good_len,
            last_seq,
            broken: None,
        })
    }

    /// Appends one framed record and makes it durable.
    pub fn append(&mut self, record: &[u8], seq: u64) -> Result<(), Error> {
        if let Some(why) = &self.broken {
            return Err(Error::Poisoned(why.clone()));
        }
        if let Err(e) = self.file.write_all_at(record, self.len) {
            // Nothing was acknowledged: cut the partial write off and carry on.
            if self.file.set_len(self.len).is_err() {
                self.broken = Some(format!(
                    "{}: could not undo a failed write: {e}",
                    self.path.display()
                ));
            }
            return Err(io(&self.path)(e));
        }
        if let Err(e) = self.file.sync_data() {
            self.broken = Some(format!("{}: fsync failed: {e}", self.path.display()));
            return Err(io(&self.path)(e));
        }
        self.len += record.len() as u64;
        self.last_seq = seq;
        Ok(())
    }

    /// Whether records were written to the current file.
    pub fn has_records(&self) -> bool {
        self.last_seq >= self.first_seq
    }

    /// Appends raw bytes without a frame (tests use this to tear a record).
    #[cfg(test)]
    pub fn append_raw(&mut self, bytes: &[u8]) {
        self.file.write_all_at(bytes, self.len).expect("test write");
        self.len += bytes.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Kind;
    use proptest::prelude::*;

    fn delta(name: &str, kind: Kind, res: u32, start: i64, v: f64) -> Delta {
        let mut bucket = Bucket::new(kind, v, start + 3);
        if v > 1.0 {
            bucket.add(v * 2.0, start + 1);
        }
        Delta {
            series: Series::parse(name).unwrap(),
            kind,
            resolution: res,
            start,
            bucket,
        }
    }

    /// The framing of a WAL record as FORMAT.md describes it, byte for byte (written by the
    /// code before framing moved to `crate::frame`).
    #[test]
    fn a_record_is_framed_as_before() {
        let deltas = vec![delta("a", Kind::Gauge, 10, 1000, 5.0)];
        let series = vec![(0, Series::parse("a").unwrap(), Kind::Gauge)];
        let mut buf = vec![0xee];
        encode(
            &mut buf,
            3,
            &series,
            &[("k".into(), vec![1])],
            &deltas,
            &[0],
        );
        let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ee33000000c7e26ea803010001016101016b010101000ad00f020000000000002e40\
             0000000000001440000000000000244000000000000014400600"
        );
    }

    #[test]
    fn records_round_trip_and_tails_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::create(dir.path(), 0).unwrap();
        let deltas = vec![
            delta("a", Kind::Timer, 10, 1000, 5.0),
            delta("b", Kind::Gauge, 60, 960, 0.5),
            delta("a", Kind::Set, 10, 990, 7.0),
        ];
        let series = vec![(0, Series::parse("a").unwrap(), Kind::Timer)];
        let cursors = vec![("k".to_string(), vec![9u8; 3])];
        let mut buf = Vec::new();
        encode(&mut buf, 1, &series, &cursors, &deltas, &[0, 1, 0]);
        w.append(&buf, 1).unwrap();
        buf.clear();
        encode(&mut buf, 2, &[], &[], &deltas[..1], &[0]);
        w.append(&buf, 2).unwrap();
        let good = w.len;
        w.append_raw(&buf[..buf.len() - 1]);
        let mut file = Vec::new();
        let scanned = scan(&w.path, 1, &mut file).unwrap();
        assert_eq!(scanned.records.len(), 2);
        assert_eq!(scanned.good_len, good);
        assert!(scanned.good_len < scanned.len);
        let (a, b) = scanned.records[0];
        let rec = decode(&file[a..b]).unwrap();
        assert_eq!(rec.seq, 1);
        assert_eq!(rec.series, series);
        assert_eq!(rec.cursors, cursors);
        let got: Vec<_> = rec
            .deltas
            .iter()
            .map(|(id, r, s, b)| (*id, *r, *s, b.clone()))
            .collect();
        let want: Vec<_> = deltas
            .iter()
            .zip([0, 1, 0])
            .map(|(d, id)| (id, d.resolution, d.start, d.bucket.clone()))
            .collect();
        assert_eq!(got, want);
        let w = Writer::resume(&w.path, 1, scanned.good_len, 2).unwrap();
        assert_eq!(std::fs::metadata(&w.path).unwrap().len(), good);
        assert_eq!(list(dir.path()).unwrap(), vec![(1, w.path.clone())]);
    }

    proptest! {
        #[test]
        fn garbage_records_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(file_name(1));
            let mut file = MAGIC.to_vec();
            file.extend_from_slice(&1u64.to_le_bytes());
            frame::put(&mut file, &bytes);
            file.extend_from_slice(&bytes);
            std::fs::write(&path, &file).unwrap();
            let mut buf = Vec::new();
            let s = scan(&path, 1, &mut buf).unwrap();
            for (a, b) in s.records {
                let _ = decode(&buf[a..b]);
            }
        }
    }
}
