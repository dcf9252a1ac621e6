//! `processes` (beyond Diamond) — processes by state from `/proc/<pid>/stat`: `running` (R),
//! `sleeping` (S), `blocked` (D, uninterruptible), `zombie` (Z), `stopped` (T, t), `idle` (I,
//! kernel threads), `total`, and `threads` (the sum of every process's thread count). A process
//! that exits between the directory listing and the read is simply not counted.
//!
//! With `top: N`, also the N command names using the most CPU (`top.cpu.<comm>`, percent of one
//! CPU over the real time since the previous round, so from the second round on) and the N using
//! the most memory (`top.rss.<comm>`, bytes), each summed over the processes of that name. Read
//! from the same proc root as everything else (a crate such as sysinfo reads only the live
//! `/proc`, which would break `proc_root`, containers and replays of captured files).

use super::{Emitter, Error};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

const STATES: [&str; 6] = [
    "running", "sleeping", "blocked", "zombie", "stopped", "idle",
];

pub(super) struct Processes {
    root: PathBuf,
    buf: Vec<u8>,
    path: PathBuf,
    top: usize,
    /// pid → (start time, utime + stime in ticks) at `prev_clock`.
    prev: HashMap<u32, (u64, u64)>,
    prev_clock: Option<f64>,
    ticks_per_s: f64,
    page_bytes: f64,
}

/// One process's `/proc/<pid>/stat` fields that matter here.
#[derive(Debug, PartialEq)]
struct Stat<'a> {
    comm: &'a str,
    state: u8,
    threads: u64,
    cpu_ticks: u64,
    start: u64,
    rss_pages: u64,
}

impl Processes {
    pub(super) fn new(root: &Path, top: usize) -> Processes {
        // SAFETY: sysconf only reads constants of the C library (not rustix's auxv reader, which
        // cannot run under valgrind; scripts/hot-code.sh profiles tally there).
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        Processes {
            root: root.to_path_buf(),
            buf: Vec::with_capacity(1024),
            path: PathBuf::new(),
            top,
            prev: HashMap::new(),
            prev_clock: None,
            ticks_per_s: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_bytes: if page > 0 { page as f64 } else { 4096.0 },
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.root = root.to_path_buf();
    }

    pub(super) fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        let dir = std::fs::read_dir(&self.root).map_err(|source| Error::Read {
            path: self.root.clone(),
            source,
        })?;
        let mut counts = [0u64; 6];
        let (mut total, mut threads) = (0u64, 0u64);
        let mut cpu: HashMap<String, f64> = HashMap::new();
        let mut rss: HashMap<String, f64> = HashMap::new();
        let mut seen = HashMap::new();
        let elapsed = self.prev_clock.map(|c| clock - c).filter(|e| *e > 0.0);
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
            let Some(stat) = read.ok().and_then(|_| parse_stat(&self.buf)) else {
                continue;
            };
            total += 1;
            threads += stat.threads;
            if self.top > 0 {
                let comm = super::node(stat.comm).replace('.', "_");
                *rss.entry(comm.clone()).or_default() += stat.rss_pages as f64 * self.page_bytes;
                let pid: u32 = pid.parse().unwrap_or(0);
                if let (Some(elapsed), Some(&(start, ticks))) = (elapsed, self.prev.get(&pid))
                    && start == stat.start
                {
                    let used = stat.cpu_ticks.saturating_sub(ticks) as f64 / self.ticks_per_s;
                    *cpu.entry(comm).or_default() += used / elapsed * 100.0;
                }
                seen.insert(pid, (stat.start, stat.cpu_ticks));
            }
            let slot = match stat.state {
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
        if self.top > 0 {
            for (what, map) in [("cpu", cpu), ("rss", rss)] {
                let mut list: Vec<(String, f64)> = map.into_iter().collect();
                list.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                for (comm, value) in list.into_iter().take(self.top) {
                    em.gauge(&["top", what, &comm], value);
                }
            }
            self.prev = seen;
            self.prev_clock = Some(clock);
        }
        Ok(())
    }
}

/// The fields of a `/proc/<pid>/stat` line tally uses. The command name is in parentheses and
/// may hold spaces and parentheses itself, so fields are counted from the last `)`.
fn parse_stat(line: &[u8]) -> Option<Stat<'_>> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    let comm = std::str::from_utf8(line.get(open + 1..close)?).ok()?;
    let rest = std::str::from_utf8(&line[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    // After the state (field 3): ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime(14) stime(15) cutime cstime priority nice num_threads(20) itrealvalue
    // starttime(22) vsize rss(24).
    let mut next = |skip: usize| -> Option<u64> { fields.nth(skip)?.parse().ok() };
    let utime = next(10)?;
    let stime = next(0)?;
    let threads = next(4)?;
    let start = next(1)?;
    let rss_pages = next(1).unwrap_or(0);
    Some(Stat {
        comm,
        state,
        threads,
        cpu_ticks: utime + stime,
        start,
        rss_pages,
    })
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

    /// t1 (10 s later): process_api +200 ticks (2 s of CPU: 20%), the two bash +50 ticks each
    /// (10% together), ksoftirqd/0's pid reused (another start time: no rate), python3.11 new
    /// (no rate yet). RSS pages: python3.11 5000, process_api 2680, bash 925 + 1057.
    #[test]
    fn top_consumers_by_command_name() {
        let s = Settings {
            collectors: vec!["processes".into()],
            processes: super::super::ProcessesOptions { top: 2 },
            ..Settings::default()
        };
        let first = values(&run_two(s.clone(), "t0", None));
        assert!(first.keys().all(|k| !k.contains(".top.cpu.")), "{first:?}");
        let v = values(&run_two(s, "t0", Some(("t1", 10.0))));
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
        let top: Vec<(&str, f64)> = v
            .iter()
            .filter_map(|(k, &v)| Some((k.strip_prefix("servers.localhost.processes.top.")?, v)))
            .collect();
        let want = [
            ("cpu.bash", 10.0),
            ("cpu.process_api", 20.0),
            ("rss.process_api", 2680.0 * page),
            ("rss.python3_11", 5000.0 * page),
        ];
        assert_eq!(top.len(), want.len(), "{top:?}");
        for ((name, got), (wname, wv)) in top.iter().zip(want) {
            assert_eq!(*name, wname);
            assert!((got - wv).abs() < 1e-9, "{name}: {got} != {wv}");
        }
        assert_eq!(v["servers.localhost.processes.total"], 5.0);
        assert_eq!(v["servers.localhost.processes.threads"], 18.0);
    }

    #[test]
    fn stat_line_with_parentheses_in_the_name() {
        let line = b"42 (a) b (c)) T 1 1 1 0 -1 0 0 0 0 0 30 12 0 0 20 0 7 0 1234 9 55";
        let stat = super::parse_stat(line).unwrap();
        assert_eq!(
            stat,
            super::Stat {
                comm: "a) b (c)",
                state: b'T',
                threads: 7,
                cpu_ticks: 42,
                start: 1234,
                rss_pages: 55,
            }
        );
        assert_eq!(super::parse_stat(b"42 (x"), None);
    }
}
