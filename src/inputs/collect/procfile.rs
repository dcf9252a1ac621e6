//! A /proc file kept open between rounds and read again from offset 0 with `pread` into the
//! caller's kept buffer: no open/statx/lseek/close per round, and no allocation once the buffer
//! has grown to the file's size. Reads go on until one returns nothing, because a `seq_file`
//! that iterates records (`net/dev`, `diskstats`, `vmstat`) hands out at most a page per call.
//! A failed read drops the descriptor, so a file that comes back (or a new proc root) is opened
//! afresh on the next round.

use super::Error;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub(crate) struct ProcFile {
    path: PathBuf,
    file: Option<File>,
}

impl ProcFile {
    pub(crate) fn new(path: PathBuf) -> ProcFile {
        ProcFile { path, file: None }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads `path` from now on (the open descriptor, if any, is closed).
    pub(crate) fn set_path(&mut self, path: PathBuf) {
        self.path = path;
        self.file = None;
    }

    /// Replaces `buf` with the whole file.
    pub(crate) fn read(&mut self, buf: &mut String) -> Result<(), Error> {
        let mut bytes = std::mem::take(buf).into_bytes();
        bytes.clear();
        let result = self.read_bytes(&mut bytes);
        if result.is_err() {
            self.file = None;
        }
        result.map_err(|source| Error::Read {
            path: self.path.clone(),
            source,
        })?;
        match String::from_utf8(bytes) {
            Ok(s) => {
                *buf = s;
                Ok(())
            }
            Err(e) => {
                // Keep the allocation for the next round.
                let mut bytes = e.into_bytes();
                bytes.clear();
                *buf = String::from_utf8(bytes).unwrap_or_default();
                Err(super::parse_error(&self.path, "not UTF-8"))
            }
        }
    }

    fn read_bytes(&mut self, bytes: &mut Vec<u8>) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(File::open(&self.path)?),
        };
        loop {
            let len = bytes.len();
            if bytes.capacity() - len < 1024 {
                bytes.reserve(bytes.capacity().max(4096));
            }
            bytes.resize(bytes.capacity(), 0);
            let n = match file.read_at(&mut bytes[len..], len as u64) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    bytes.truncate(len);
                    return Err(e);
                }
            };
            bytes.truncate(len + n);
            if n == 0 {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ProcFile;

    #[test]
    fn reads_again_from_the_start_and_follows_a_new_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let big: String = (0..3000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&a, &big).unwrap();
        let mut f = ProcFile::new(a.clone());
        let mut buf = String::new();
        f.read(&mut buf).unwrap();
        assert_eq!(buf, big);
        // The kept descriptor sees the file's new content from offset 0.
        std::fs::write(&a, "short\n").unwrap();
        f.read(&mut buf).unwrap();
        assert_eq!(buf, "short\n");
        let cap = buf.capacity();
        f.read(&mut buf).unwrap();
        assert_eq!(buf.capacity(), cap, "the buffer is kept");

        f.set_path(dir.path().join("missing"));
        assert!(f.read(&mut buf).is_err());
        std::fs::write(dir.path().join("missing"), "back\n").unwrap();
        f.read(&mut buf).unwrap();
        assert_eq!(buf, "back\n");
    }

    /// The real /proc: a seq_file longer than a page (vmstat) is read whole.
    #[test]
    fn reads_a_multi_page_proc_file_whole() {
        let mut f = ProcFile::new("/proc/vmstat".into());
        let mut buf = String::new();
        f.read(&mut buf).unwrap();
        let direct = std::fs::read_to_string("/proc/vmstat").unwrap();
        assert_eq!(buf.lines().count(), direct.lines().count());
        f.read(&mut buf).unwrap();
        assert_eq!(buf.lines().count(), direct.lines().count());
    }
}
