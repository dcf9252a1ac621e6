//! The series catalog file: every series' id, kind and name, appended at head flushes. Series
//! first live in WAL records; a flush copies the ones its WAL records defined here before the
//! manifest that covers those records is written, and the manifest records how many bytes of
//! this file are valid. Bytes past that are an append that a crash interrupted: they are ignored
//! and cut off, and the WAL (not yet covered) still defines those series.

use super::Error;
use super::file::{self, corrupt, io};
use crate::encoding::{Reader, put_blob, put_uvarint};
use crate::frame;
use crate::metric::{Kind, Series};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"TLYSER01";
pub const FILE: &str = "series";

/// Reads the first `valid_len` bytes of the catalog: every series in id order.
pub fn load(path: &Path, valid_len: u64) -> Result<Vec<(Series, Kind)>, Error> {
    if valid_len == 0 {
        return Ok(Vec::new());
    }
    let buf = file::read_optional(path)?.unwrap_or_default();
    let Some(buf) = usize::try_from(valid_len).ok().and_then(|n| buf.get(..n)) else {
        return Err(corrupt(
            path,
            format!("shorter than the {valid_len} bytes the manifest names"),
        ));
    };
    file::check_magic(path, buf, MAGIC)?;
    let mut out = Vec::new();
    let mut frames = frame::Frames::new(&buf[8..], file::MAX_FRAME);
    for (at, body) in frames.by_ref() {
        decode_frame(body, &mut out)
            .map_err(|reason| corrupt(path, format!("record at {}: {reason}", at + 8)))?;
    }
    if !frames.clean() {
        return Err(corrupt(
            path,
            format!("bad record at byte {}", frames.good() + 8),
        ));
    }
    Ok(out)
}

fn decode_frame(body: &[u8], out: &mut Vec<(Series, Kind)>) -> Result<(), String> {
    let mut r = Reader::new(body);
    let first = r.uvarint().map_err(|e| e.to_string())?;
    if first != out.len() as u64 {
        return Err(format!("starts at id {first}, expected {}", out.len()));
    }
    let n = r.uvarint().map_err(|e| e.to_string())?;
    for _ in 0..n {
        let kind = r.u8().map_err(|e| e.to_string())?;
        let kind = Kind::from_code(kind).ok_or("unknown kind")?;
        let name = r.str().map_err(|e| e.to_string())?;
        let series = Series::parse(name).map_err(|e| e.to_string())?;
        if series.as_str() != name {
            return Err(format!("{name:?} is not in canonical form"));
        }
        out.push((series, kind));
    }
    if !r.is_empty() {
        return Err("trailing bytes".into());
    }
    Ok(())
}

/// Writes the series `first_id..` at byte `at` (cutting off anything after it), fsyncs, and
/// returns the new valid length.
pub fn append(
    path: &Path,
    at: u64,
    first_id: u64,
    series: &[(Series, Kind)],
) -> Result<u64, Error> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(path))?;
    let mut buf = Vec::new();
    if at == 0 {
        buf.extend_from_slice(MAGIC);
    }
    let mut body = Vec::with_capacity(series.len() * 40);
    put_uvarint(&mut body, first_id);
    put_uvarint(&mut body, series.len() as u64);
    for (s, k) in series {
        body.push(k.code());
        put_blob(&mut body, s.as_str().as_bytes());
    }
    frame::put(&mut buf, &body);
    file.set_len(at).map_err(io(path))?;
    file.write_all_at(&buf, at).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    if at == 0 {
        file::sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(at + buf.len() as u64)
}

/// Cuts off an unfinished append.
pub fn truncate(path: &Path, valid_len: u64) -> Result<(), Error> {
    match File::options().write(true).open(path) {
        Ok(f) => {
            if f.metadata().map_err(io(path))?.len() > valid_len {
                tracing::warn!(path = %path.display(), valid_len, "cutting off an unfinished series catalog append");
                f.set_len(valid_len).map_err(io(path))?;
                f.sync_all().map_err(io(path))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(n: &str) -> (Series, Kind) {
        (Series::parse(n).unwrap(), Kind::Timer)
    }

    #[test]
    fn appends_round_trip_and_torn_appends_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let a = vec![s("a.b"), s("c;x=y")];
        let len1 = append(&path, 0, 0, &a).unwrap();
        assert_eq!(load(&path, len1).unwrap(), a);
        let len2 = append(&path, len1, 2, &[s("d")]).unwrap();
        assert_eq!(load(&path, len2).unwrap().len(), 3);
        // A torn third append, then reopening at the manifest's length.
        let len3 = append(&path, len2, 3, &[s("e")]).unwrap();
        let f = File::options().write(true).open(&path).unwrap();
        f.set_len(len3 - 2).unwrap();
        assert_eq!(load(&path, len2).unwrap().len(), 3);
        truncate(&path, len2).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len2);
        // A gap in ids is corrupt.
        let len4 = append(&path, len2, 7, &[s("f")]).unwrap();
        assert!(matches!(load(&path, len4), Err(Error::Corrupt { .. })));
        assert!(matches!(load(&path, len4 + 1), Err(Error::Corrupt { .. })));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(FILE);
            let mut b = MAGIC.to_vec();
            frame::put(&mut b, &bytes);
            std::fs::write(&path, &b).unwrap();
            let _ = load(&path, b.len() as u64);
            std::fs::write(&path, &bytes).unwrap();
            let _ = load(&path, bytes.len() as u64);
        }
    }
}
