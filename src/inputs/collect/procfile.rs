//! A /proc file kept open between rounds and read again from offset 0 with `pread` into the
//! caller's kept buffer: no open/statx/lseek/close per round, no allocation once the buffer
//! has grown to the file's size, and the buffer's spare room is read into as it is (not zeroed
//! first). A `seq_file` that iterates records (`net/dev`, `diskstats`, `vmstat`) hands out at most
//! a page per call, and stops early only when the next record would not fit in it: so a read
//! that returns less than asked and less than [`SHORT`] bytes ends the file (no record is that
//! long), as does any short read of a file the kernel makes in one go ([`ProcFile::whole`]:
//! `stat`, `meminfo`, `net/netstat` …) or of a regular file. One `pread` a round for most files.
//! A failed read drops the descriptor, so a file that comes back (or a new proc root) is opened
//! afresh on the next round.

use super::Error;
use rustix::buffer::spare_capacity;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A short read of fewer bytes than this ends any file (see the module's comment).
const SHORT: usize = 2048;

pub(crate) struct ProcFile {
    path: PathBuf,
    file: Option<File>,
    /// The kernel makes the whole text at once (`single_open`): any short read ends it.
    whole: bool,
}

impl ProcFile {
    pub(crate) fn new(path: PathBuf) -> ProcFile {
        ProcFile {
            path,
            file: None,
            whole: false,
        }
    }

    /// A file whose text the kernel makes in one go (`single_open`: `stat`, `meminfo`,
    /// `loadavg`, `net/netstat`, `net/snmp`, `net/sockstat` …): read in one `pread` when the
    /// buffer is larger than the text.
    pub(crate) fn whole(path: PathBuf) -> ProcFile {
        ProcFile {
            whole: true,
            ..ProcFile::new(path)
        }
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
            let asked = bytes.capacity() - len;
            let n = match rustix::io::pread(&*file, spare_capacity(bytes), len as u64) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 || (n < asked && (self.whole || n < SHORT)) {
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

    /// The real /proc, each file as the collectors open it: the same lines as a plain read to
    /// the end, in one `pread` where the text is made at once, again on the kept descriptor.
    #[test]
    fn reads_real_proc_files_whole_with_short_reads_ending_them() {
        let files = [
            ("/proc/stat", true),
            ("/proc/meminfo", true),
            ("/proc/net/netstat", true),
            ("/proc/net/snmp", true),
            ("/proc/diskstats", false),
            ("/proc/net/dev", false),
            ("/proc/vmstat", false),
        ];
        for (path, whole) in files {
            let mut f = match whole {
                true => ProcFile::whole(path.into()),
                false => ProcFile::new(path.into()),
            };
            let mut buf = String::new();
            for _ in 0..2 {
                f.read(&mut buf).unwrap();
                let direct = std::fs::read_to_string(path).unwrap();
                assert_eq!(buf.lines().count(), direct.lines().count(), "{path}");
                assert!(buf.ends_with('\n'), "{path}");
            }
        }
    }
}
