//! The kernel's floor under any per-second host collector: how much CPU it costs only to read the
//! `/proc` files a running tally reads, with nothing parsed, stored or sent. `scripts/bench-netdata.sh`
//! runs it beside tally and Netdata, so the idle comparison says how much of each one's cost is
//! the kernel formatting the same text (the same for every agent that reads it).
//!
//! `proc_floor PID [ROUNDS]` — reads every `/proc` file PID holds open, to the end, ROUNDS times
//! (default 2000) with warm caches, and prints the CPU time of one round in microseconds.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Duration;

/// The `/proc` files (not sockets, pipes or the store) a process holds open.
fn proc_files_of(pid: u32) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with("/proc/"))
        // procfs marks a /proc/<pid>/net/... link " (deleted)"; the file is there.
        .map(|p| PathBuf::from(p.to_string_lossy().trim_end_matches(" (deleted)")))
        .collect();
    files.sort();
    files
}

/// CPU time of this process so far (user + system).
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pid: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: proc_floor PID [ROUNDS]");
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    // A process's own /proc/<pid>/net/... is the same text as /proc/self/net/... for us (one
    // network namespace here); read the path as the process named it.
    let files: Vec<File> = proc_files_of(pid)
        .iter()
        .filter_map(|p| File::open(p).ok())
        .collect();
    assert!(!files.is_empty(), "process {pid} holds no /proc files open");
    let mut buf = vec![0u8; 1 << 20];
    let start = cpu_time();
    for _ in 0..rounds {
        for f in &files {
            let mut at = 0;
            while let Ok(n @ 1..) = f.read_at(&mut buf, at) {
                at += n as u64;
            }
        }
    }
    let per_round = (cpu_time() - start) / rounds;
    println!(
        "{} files, {:.1} us per round",
        files.len(),
        per_round.as_secs_f64() * 1e6
    );
}
