//! Gives the startup-only part of tally's own program code back to the kernel once the daemon is
//! running.
//!
//! The binary's text is mapped from the page cache, and the kernel maps it 64 KiB around every
//! page that runs, so code that ran once at startup (the YAML config reader, argument parsing,
//! store recovery, the listeners' setup) stays resident and charged to the service's cgroup.
//! `MADV_PAGEOUT` over the binary's read-only mappings reclaims those pages; what the daemon runs
//! afterwards faults back in on first use. `MADV_RANDOM` first, so that a fault reads the page it
//! needs rather than a readahead window of code that does not run (the kernel's fault-around then
//! maps only pages that are in the page cache). A kernel without `MADV_PAGEOUT` (before 5.4) says
//! `EINVAL` and nothing changes.

use std::path::Path;

/// Pages out the read-only mappings of the running executable; returns how many bytes of mappings
/// were advised (0 when nothing could be done).
pub fn page_out_own_code() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut advised = 0;
    for (start, end) in read_only_mappings_of(&maps, &exe) {
        // SAFETY: the range is a whole, page-aligned mapping of this process (from its own maps
        // file) that is never written; MADV_RANDOM only changes readahead and MADV_PAGEOUT only
        // drops clean pages, which fault back in from the file.
        let advise =
            |advice| unsafe { libc::madvise(start as *mut libc::c_void, end - start, advice) };
        let rc = match advise(libc::MADV_RANDOM) {
            0 => advise(libc::MADV_PAGEOUT),
            rc => rc,
        };
        if rc == 0 {
            advised += end - start;
        } else {
            tracing::debug!(error = %std::io::Error::last_os_error(), "madvise of the program code failed; it stays resident.");
            break;
        }
    }
    advised
}

/// `(start, end)` of every mapping of `exe` in a `/proc/<pid>/maps` text that is readable and not
/// writable (text, read-only data).
fn read_only_mappings_of(maps: &str, exe: &Path) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let range = f.next()?;
            let perms = f.next()?;
            let path = f.nth(3)?;
            if Path::new(path) != exe
                || !perms.starts_with('r')
                || perms.as_bytes().get(1) != Some(&b'-')
            {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_read_only_mappings_of_the_executable() {
        let maps = "\
55e7e5afa000-55e7e5ce2000 r--p 00000000 fe:00 5368170                    /usr/bin/tally
55e7e5ce2000-55e7e638f000 r-xp 001e7000 fe:00 5368170                    /usr/bin/tally
55e7e63e3000-55e7e63e5000 rw-p 008e6000 fe:00 5368170                    /usr/bin/tally
7f0000000000-7f0000001000 r-xp 00000000 fe:00 42                         /usr/lib/libc.so.6
7f0000002000-7f0000003000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0                          [vdso]
";
        assert_eq!(
            read_only_mappings_of(maps, Path::new("/usr/bin/tally")),
            [
                (0x55e7e5afa000, 0x55e7e5ce2000),
                (0x55e7e5ce2000, 0x55e7e638f000)
            ]
        );
    }

    #[test]
    fn pages_out_this_test_binarys_code_and_keeps_running() {
        let advised = page_out_own_code();
        // The kernel here has MADV_PAGEOUT (5.4+); the code still runs after it.
        assert!(advised > 0, "nothing advised");
        assert_eq!(read_only_mappings_of("", Path::new("/x")), []);
    }
}
