//! `processes` (beyond Diamond) — processes by state from `/proc/<pid>/stat`: `running` (R),
//! `sleeping` (S), `blocked` (D, uninterruptible), `zombie` (Z), `stopped` (T, t), `idle` (I,
//! kernel threads), `total`, and `threads` (the sum of every process's thread count). A process
//! that exits between the directory listing and the read is simply not counted.

use super::{Emitter, Error};
use std::io::Read;
use std::path::{Path, PathBuf};

const STATES: [&str; 6] = [
    "running", "sleeping", "blocked", "zombie", "stopped", "idle",
];

pub(super) struct Processes {
    root: PathBuf,
    buf: Vec<u8>,
    path: PathBuf,
}

impl Processes {
    pub(super) fn new(root: &Path) -> Processes {
        Processes {
            root: root.to_path_buf(),
            buf: Vec::with_capacity(1024),
            path: PathBuf::new(),
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.root = root.to_path_buf();
    }

    pub(super) fn collect(&mut self, em: &mut Emitter<'_>) -> Result<(), Error> {
        let dir = std::fs::read_dir(&self.root).map_err(|source| Error::Read {
            path: self.root.clone(),
            source,
        })?;
        let mut counts = [0u64; 6];
        let (mut total, mut threads) = (0u64, 0u64);
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            self.path.clear();
            self.path.push(&self.root);
            self.path.push(pid);
            self.path.push("stat");
            self.buf.clear();
            let read =
                std::fs::File::open(&self.path).and_then(|mut f| f.read_to_end(&mut self.buf));
            let Some((state, nthreads)) = read.ok().and_then(|_| parse_stat(&self.buf)) else {
                continue;
            };
            total += 1;
            threads += nthreads;
            let slot = match state {
                b'R' => 0,
                b'S' => 1,
                b'D' => 2,
                b'Z' => 3,
                b'T' | b't' => 4,
                b'I' => 5,
                _ => continue,
            };
            counts[slot] += 1;
        }
        for (name, n) in STATES.iter().zip(counts) {
            em.gauge(&[name], n as f64);
        }
        em.gauge(&["total"], total as f64);
        em.gauge(&["threads"], threads as f64);
        Ok(())
    }
}

/// The state letter and thread count of a `/proc/<pid>/stat` line. The command name is in
/// parentheses and may hold spaces and parentheses itself, so fields are counted from the last `)`.
fn parse_stat(line: &[u8]) -> Option<(u8, u64)> {
    let close = line.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&line[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
    // stime cutime cstime priority nice num_threads (field 20 of the line).
    let threads = fields.nth(16)?.parse().ok()?;
    Some((state, threads))
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::super::tests::{run_two, values};

    /// t0 holds six pids (states edited to cover the cases): 1 S (13 threads), 10 I, 14 S, 29402 R,
    /// 975 D, and 4242 Z whose name is `odd) name`. By hand: running 1, sleeping 2, blocked 1,
    /// zombie 1, stopped 0, idle 1, total 6, threads 13 + 5 × 1 = 18.
    #[test]
    fn counts_by_state() {
        let s = Settings {
            collectors: vec!["processes".into()],
            ..Settings::default()
        };
        let v = values(&run_two(s, "t0", None));
        let expect = [
            ("running", 1.0),
            ("sleeping", 2.0),
            ("blocked", 1.0),
            ("zombie", 1.0),
            ("stopped", 0.0),
            ("idle", 1.0),
            ("total", 6.0),
            ("threads", 18.0),
        ];
        for (name, want) in expect {
            assert_eq!(
                v[&format!("servers.localhost.processes.{name}")],
                want,
                "{name}"
            );
        }
        assert_eq!(v.len(), expect.len());
    }

    #[test]
    fn stat_line_with_parentheses_in_the_name() {
        let line = b"42 (a) b (c)) T 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 7 0 1 0 0";
        assert_eq!(super::parse_stat(line), Some((b'T', 7)));
        assert_eq!(super::parse_stat(b"42 (x"), None);
    }
}
