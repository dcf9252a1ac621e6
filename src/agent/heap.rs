//! The process heap (glibc malloc): fewer arenas, freed memory given back, and what is in use.
//!
//! Why: tally's large allocations are short-lived and come from many threads. The store head
//! (up to `storage.head_max_bytes`) is built by commits on tokio's blocking threads and freed
//! whole at each head flush; each commit's deltas, the outputs' staged copies and every
//! remote_write request are allocated and freed again within a second. glibc gives each thread
//! that meets contention its own arena (up to 8 per core) and keeps what was freed in each of
//! them, so the resident size kept growing long after the live heap stopped (measured in
//! BENCHMARKS.md, "Issue 7": a 275 MB live heap at 440–600 MiB RSS, still rising after 20
//! minutes). Two arenas (`M_ARENA_MAX`) keep the blocking threads from spreading the head over
//! more arenas, and `malloc_trim` after maintenance returns the pages of freed chunks in every
//! arena to the kernel (`MADV_DONTNEED`), so the resident size follows the live heap.
//!
//! `MALLOC_ARENA_MAX` in the environment wins over the built-in limit. Other C libraries (musl)
//! have none of this: the functions do nothing there and `usage` reports no heap.

/// Arenas glibc may create; see the module comment.
pub const ARENAS: i32 = 2;

/// Limits glibc's arenas to [`ARENAS`] unless `MALLOC_ARENA_MAX` is set. Call before the
/// runtime starts its threads. Returns the limit set, if any.
pub fn limit_arenas() -> Option<i32> {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return None;
    }
    set_arena_max(ARENAS).then_some(ARENAS)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(n: i32) -> bool {
    // SAFETY: mallopt only changes a malloc tunable; any value is accepted or refused (0).
    unsafe { libc::mallopt(libc::M_ARENA_MAX, n) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_: i32) -> bool {
    false
}

/// Gives the free memory of every arena back to the kernel. Takes each arena's lock while it
/// walks its free chunks (milliseconds for a few hundred MB): call it from a blocking thread,
/// after work that freed a lot (a head flush), not on every commit.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() {
    // SAFETY: malloc_trim only releases free pages; it never touches memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}

/// Memory of this process in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Resident set size (what a cgroup's `MemoryMax` charges, with the page cache).
    pub rss: u64,
    /// Bytes malloc has handed out and not got back (0 when unknown).
    pub heap: u64,
}

/// Both numbers; the heap's walks every arena's free lists (a few ms on a large heap).
pub fn usage() -> Usage {
    Usage {
        rss: rss(),
        heap: heap(),
    }
}

/// The resident set size alone (cheap: one small read of `/proc/self/statm`).
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .as_deref()
        .and_then(rss_of_statm)
        .unwrap_or(0)
}

/// The resident bytes of a `/proc/<pid>/statm` line (its second field, in pages).
fn rss_of_statm(statm: &str) -> Option<u64> {
    let pages: u64 = statm.split_ascii_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the C library (libc's page size, not rustix's,
    // whose auxv reader cannot run under valgrind; scripts/hot-code.sh profiles tally there).
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|&p| p > 0)?)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap() -> u64 {
    // SAFETY: mallinfo2 only reads malloc's counters (taking each arena's lock).
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as u64
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap() -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_pages_of_statm() {
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        assert_eq!(rss_of_statm("1000 250 30 1 0 400 0\n"), Some(250 * page));
        assert_eq!(rss_of_statm("1000"), None);
        assert_eq!(rss_of_statm(""), None);
    }

    #[test]
    fn trim_gives_back_freed_memory_that_free_keeps() {
        let before = usage();
        assert!(before.rss > 0);
        // 240 MiB in 60 KiB pieces (below the mmap threshold, so they come from an arena), each
        // followed by a small piece that stays: freeing the big ones cannot shrink the heap.
        let mut keep = Vec::new();
        let mut pieces = Vec::new();
        for i in 0..4096 {
            pieces.push(vec![i as u8; 60 << 10]);
            keep.push(Box::new(i));
        }
        let during = usage();
        assert!(
            during.heap >= before.heap + (200 << 20),
            "{before:?} → {during:?}"
        );
        drop(pieces);
        let freed = usage();
        trim();
        let after = usage();
        // Other tests run in parallel and allocate too, so only large changes are checked.
        assert!(
            freed.heap + (200 << 20) < during.heap,
            "{during:?} → {freed:?}"
        );
        assert!(
            freed.rss + (64 << 20) > during.rss,
            "free alone kept the pages: {during:?} → {freed:?}"
        );
        assert!(after.rss + (160 << 20) < freed.rss, "{freed:?} → {after:?}");
        assert_eq!(keep.len(), 4096);
    }
}
