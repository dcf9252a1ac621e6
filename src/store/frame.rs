//! CRC-framed records and small file helpers shared by every append-only file of the store
//! (WAL, series catalog, events) and the manifest. A frame is `len u32 LE | crc32 u32 LE | body`;
//! a reader stops at the first frame that is short, too long or fails its CRC, and reports how
//! many bytes were good, so a torn tail can be cut off.

use super::Error;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Frames longer than this are treated as corrupt (a WAL record is one commit).
pub const MAX_FRAME: usize = 1 << 30;
pub const HEADER: usize = 8;

/// Starts a frame at the end of `out`; write the body, then call [`end`].
pub fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    start
}

/// Fills in the length and CRC of the frame begun at `start`.
pub fn end(out: &mut [u8], start: usize) {
    let body_len = out.len() - start - HEADER;
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// One framed body.
pub fn put(out: &mut Vec<u8>, body: &[u8]) {
    let start = begin(out);
    out.extend_from_slice(body);
    end(out, start);
}

/// Iterates the frames of `buf`; stops at the first bad one. `good()` is then the offset just
/// past the last good frame.
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Frames<'a> {
    pub fn new(buf: &'a [u8]) -> Frames<'a> {
        Frames { buf, pos: 0 }
    }

    pub fn good(&self) -> usize {
        self.pos
    }

    /// True when every byte was a good frame.
    pub fn clean(&self) -> bool {
        self.pos == self.buf.len()
    }
}

impl<'a> Iterator for Frames<'a> {
    /// `(offset of the frame, body)`
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..)?;
        let header = rest.get(..HEADER)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_FRAME {
            return None;
        }
        let body = rest.get(HEADER..HEADER + len)?;
        if crc32fast::hash(body) != crc {
            return None;
        }
        let at = self.pos;
        self.pos += HEADER + len;
        Some((at, body))
    }
}

pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The whole file, or `None` if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).map_err(io(path))?;
    Ok(Some(buf))
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes `bytes` to `path` atomically: `path.tmp`, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = tmp_path(path);
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        std::io::Write::write_all(&mut f, bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    // After the rename the new file is in effect, durable or not: undoing what led up to it
    // would be wrong, so a failure here is reported as needing a restart.
    sync_dir(path.parent().unwrap_or(Path::new("."))).map_err(|e| {
        Error::Poisoned(format!(
            "{} was replaced but could not be made durable: {e}",
            path.display()
        ))
    })
}

pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Removes a file, treating "already gone" as success.
pub fn remove(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// Checks the 8-byte magic at the start of a file's contents.
pub fn check_magic(path: &Path, buf: &[u8], magic: &[u8; 8]) -> Result<(), Error> {
    match buf.get(..8) {
        Some(m) if m == magic => Ok(()),
        _ => Err(corrupt(
            path,
            "bad magic (not a tally file or wrong version)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_round_trip_and_stop_at_a_torn_tail() {
        let mut buf = Vec::new();
        put(&mut buf, b"one");
        put(&mut buf, b"");
        put(&mut buf, b"three");
        let full = buf.len();
        let mut f = Frames::new(&buf);
        let bodies: Vec<&[u8]> = f.by_ref().map(|(_, b)| b).collect();
        assert_eq!(bodies, vec![&b"one"[..], b"", b"three"]);
        assert!(f.clean());
        for cut in 0..full {
            let mut f = Frames::new(&buf[..cut]);
            let n = f.by_ref().count();
            assert!(f.good() <= cut);
            assert!(n < 3);
        }
        buf[full - 1] ^= 1;
        let mut f = Frames::new(&buf);
        assert_eq!(f.by_ref().count(), 2);
        assert!(!f.clean());
    }

    proptest! {
        #[test]
        fn garbage_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut f = Frames::new(&bytes);
            for _ in f.by_ref() {}
            prop_assert!(f.good() <= bytes.len());
        }
    }
}
