//! Small file helpers shared by the store's files: errors with their path, whole-file reads,
//! atomic replacement, directory fsync, magic checks. The records inside the append-only files
//! are `crate::frame` frames.

use super::Error;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Frames longer than this are treated as corrupt (a WAL record is one commit).
pub const MAX_FRAME: usize = 1 << 30;

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
