//! File identity and checkpoints: the fingerprint of a file's first bytes, the cursor that says
//! how far a file was delivered, its byte encoding, and the search for a file a cursor names
//! after it was renamed (rotation) or copied (copytruncate).

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirEntryExt, FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How many leading bytes the fingerprint covers once the file is that long.
pub const FP_MAX: usize = 256;

/// A hash of a file's first `len` bytes (`len` = min(256, size when last looked)). It grows with
/// the file up to 256 bytes; a file whose first `len` bytes hash differently is another file, or
/// the same inode rewritten (copytruncate, or inode reuse after delete + create).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub len: u16,
    pub hash: u64,
}

impl Fingerprint {
    pub fn of(bytes: &[u8]) -> Fingerprint {
        // FNV-1a 64: stable across releases, which checkpoints need (std's hasher is not).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Fingerprint {
            len: bytes.len() as u16,
            hash: h,
        }
    }

    /// Reads the first bytes of `file`. `Some(fingerprint of its first up-to-256 bytes)` if it
    /// still starts with the bytes this fingerprint covers, `None` if it does not (or is shorter).
    pub fn check(&self, file: &File) -> io::Result<Option<Fingerprint>> {
        let mut buf = [0u8; FP_MAX];
        let n = read_full_at(file, &mut buf, 0)?;
        let len = usize::from(self.len);
        if n < len || Fingerprint::of(&buf[..len]) != *self {
            return Ok(None);
        }
        Ok(Some(Fingerprint::of(&buf[..n])))
    }

    /// The fingerprint of `file` as it is now.
    pub fn read(file: &File) -> io::Result<Fingerprint> {
        let mut buf = [0u8; FP_MAX];
        let n = read_full_at(file, &mut buf, 0)?;
        Ok(Fingerprint::of(&buf[..n]))
    }
}

/// Reads until `buf` is full or end of file; returns how many bytes were read.
pub fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Where delivery of one file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Where the file was last seen (the followed path, or a rotated name).
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub fp: Fingerprint,
    /// Just after the last delivered newline.
    pub offset: u64,
    /// The file the path named (false: a rotated-away file still being drained).
    pub live: bool,
}

const VERSION: u8 = 1;

/// Encodes every cursor of one followed path: version, count, then per cursor
/// `live u8, dev u64, ino u64, fp_len u16, fp_hash u64, offset u64, path_len u32, path`
/// (little endian). An empty list says "the path was followed and had no file": a file that
/// appears there later is read from its beginning.
pub fn encode(cursors: &[Cursor]) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend_from_slice(&(cursors.len() as u32).to_le_bytes());
    for c in cursors {
        out.push(u8::from(c.live));
        out.extend_from_slice(&c.dev.to_le_bytes());
        out.extend_from_slice(&c.ino.to_le_bytes());
        out.extend_from_slice(&c.fp.len.to_le_bytes());
        out.extend_from_slice(&c.fp.hash.to_le_bytes());
        out.extend_from_slice(&c.offset.to_le_bytes());
        let p = c.path.as_os_str().as_bytes();
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// `None` if the bytes are not a cursor list of a known version.
pub fn decode(mut b: &[u8]) -> Option<Vec<Cursor>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (h, t) = (b.get(..n)?, b.get(n..)?);
        *b = t;
        Some(h)
    }
    fn u64_(b: &mut &[u8]) -> Option<u64> {
        Some(u64::from_le_bytes(take(b, 8)?.try_into().ok()?))
    }
    fn u32_(b: &mut &[u8]) -> Option<u32> {
        Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?))
    }
    if take(&mut b, 1)? != [VERSION] {
        return None;
    }
    let n = u32_(&mut b)?;
    let mut out = Vec::with_capacity(n.min(64) as usize);
    for _ in 0..n {
        let live = take(&mut b, 1)?[0] == 1;
        let dev = u64_(&mut b)?;
        let ino = u64_(&mut b)?;
        let len = u16::from_le_bytes(take(&mut b, 2)?.try_into().ok()?);
        let hash = u64_(&mut b)?;
        let offset = u64_(&mut b)?;
        let plen = u32_(&mut b)? as usize;
        let path = PathBuf::from(std::ffi::OsString::from_vec(take(&mut b, plen)?.to_vec()));
        out.push(Cursor {
            path,
            dev,
            ino,
            fp: Fingerprint { len, hash },
            offset,
            live,
        });
    }
    b.is_empty().then_some(out)
}

/// A file found for a cursor.
pub struct Found {
    pub path: PathBuf,
    pub file: File,
    pub meta: Metadata,
    /// The fingerprint as the file is now (grown from the cursor's).
    pub fp: Fingerprint,
}

/// How a cursor was resolved.
pub enum Located {
    /// The same file (dev + inode + fingerprint, long enough), at `Found::path`.
    Same(Found),
    /// The content now lives in a copy (copytruncate). `rewritten`: where the cursor's own
    /// inode was found with other content (what was written after the truncation).
    Copy {
        found: Found,
        rewritten: Option<PathBuf>,
    },
    /// Nowhere. `rewritten`: the inode is still there but its content is not the cursor's
    /// (truncated, or the inode reused by a new file).
    Gone { rewritten: Option<PathBuf> },
}

/// Opens `path` if it starts with the cursor's fingerprinted bytes and (with `whole`) is at
/// least as long as its offset.
fn open_matching(c: &Cursor, path: &Path, whole: bool) -> Option<Found> {
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let fp = c.fp.check(&file).ok()??;
    (!whole || meta.len() >= c.offset).then(|| Found {
        path: path.to_path_buf(),
        file,
        meta,
        fp,
    })
}

/// Finds the file `c` names: at `c.path` or `also` (the followed path), then any file in the
/// directory of `c.path` with its inode, then a copy (see [`find_copy`]).
pub fn locate(c: &Cursor, also: &Path, held: &dyn Fn(u64, u64) -> bool) -> Located {
    let same = |f: &Found| (f.meta.dev(), f.meta.ino()) == (c.dev, c.ino);
    let mut rewritten = None;
    for p in [also, c.path.as_path()] {
        if rewritten.is_none()
            && let Ok(m) = std::fs::metadata(p)
            && (m.dev(), m.ino()) == (c.dev, c.ino)
        {
            match open_matching(c, p, true) {
                Some(f) if same(&f) => return Located::Same(f),
                _ => rewritten = Some(p.to_path_buf()),
            }
        }
    }
    let dir = c.path.parent().unwrap_or(Path::new("/"));
    if rewritten.is_none()
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for e in entries.flatten() {
            if e.ino() == c.ino && std::fs::metadata(e.path()).is_ok_and(|m| m.dev() == c.dev) {
                match open_matching(c, &e.path(), true) {
                    Some(f) if same(&f) => return Located::Same(f),
                    _ => rewritten = Some(e.path()),
                }
            }
        }
    }
    match find_copy(c, dir, held) {
        Some(found) => Located::Copy { found, rewritten },
        None => Located::Gone { rewritten },
    }
}

/// A file in `dir` other than the cursor's inode and not `held`, starting with the
/// fingerprinted bytes: the copy copytruncate made. It may be shorter than the offset (what was
/// written between the copy and the truncate was read from the original); then it holds nothing
/// new. Newest first; at most 64 candidates are opened. Never for an empty fingerprint (it
/// would match anything).
pub fn find_copy(c: &Cursor, dir: &Path, held: &dyn Fn(u64, u64) -> bool) -> Option<Found> {
    if c.fp.len == 0 {
        return None;
    }
    let mut candidates = Vec::new();
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if let Ok(m) = e.metadata()
            && m.is_file()
            && (m.dev(), m.ino()) != (c.dev, c.ino)
            && !held(m.dev(), m.ino())
        {
            candidates.push((m.modified().ok(), e.path()));
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    candidates
        .into_iter()
        .take(64)
        .find_map(|(_, p)| open_matching(c, &p, false))
        .filter(|f| (f.meta.dev(), f.meta.ino()) != (c.dev, c.ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let cs = vec![
            Cursor {
                path: PathBuf::from(std::ffi::OsString::from_vec(b"/var/log/\xffx.1".to_vec())),
                dev: 1,
                ino: u64::MAX,
                fp: Fingerprint::of(b"first line\n"),
                offset: 12345,
                live: false,
            },
            Cursor {
                path: "/var/log/x".into(),
                dev: 1,
                ino: 7,
                fp: Fingerprint::of(b""),
                offset: 0,
                live: true,
            },
        ];
        assert_eq!(decode(&encode(&cs)).unwrap(), cs);
        assert_eq!(decode(&encode(&[])).unwrap(), []);
        let e = encode(&cs);
        for cut in 0..e.len() {
            assert!(decode(&e[..cut]).is_none());
        }
        assert!(decode(&[9, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn fingerprint_grows_and_detects_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let f = File::open(&p).unwrap();
        let fp = Fingerprint::read(&f).unwrap();
        assert_eq!(fp.len, 3);
        std::fs::write(&p, vec![b'a'; 1000]).unwrap();
        assert!(fp.check(&f).unwrap().is_none());
        std::fs::write(&p, [b"abc".as_slice(), &[b'x'; 1000]].concat()).unwrap();
        let grown = fp.check(&f).unwrap().unwrap();
        assert_eq!(grown.len as usize, FP_MAX);
        std::fs::write(&p, b"ab").unwrap();
        assert!(fp.check(&f).unwrap().is_none());
    }
}
