//! Unit tests on real files in temporary directories.

use super::*;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;

pub(super) type Lines = Vec<(PathBuf, Vec<u8>)>;

pub(super) fn settings(paths: &[&Path]) -> Settings {
    Settings {
        paths: paths.iter().map(|p| p.display().to_string()).collect(),
        start_at: StartAt::Beginning,
        max_line_length: 1024,
        poll_interval: Duration::ZERO,
        rotate_wait: Duration::ZERO,
        max_open_files: 1024,
    }
}

pub(super) fn poll(t: &mut Tailer) -> Lines {
    let mut out = Vec::new();
    t.poll(&mut |p, l| out.push((p.to_path_buf(), l.to_vec())));
    out
}

fn texts(lines: &Lines) -> Vec<String> {
    lines
        .iter()
        .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
        .collect()
}

pub(super) fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn restart(t: Tailer, s: Settings) -> Tailer {
    let cps: HashMap<String, Vec<u8>> = t.checkpoints().into_iter().collect();
    drop(t);
    Tailer::new(s, &cps)
}

#[test]
fn partial_line_waits_for_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    append(&p, b"one\ntw");
    let mut t = Tailer::new(settings(&[&p]), &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["one"]);
    assert_eq!(texts(&poll(&mut t)), Vec::<String>::new());
    append(&p, b"o");
    assert!(poll(&mut t).is_empty());
    // A checkpoint taken now points before the partial line: a restart reads it again whole.
    let mut t = restart(t, settings(&[&p]));
    append(&p, b"\nthree\n");
    let got = poll(&mut t);
    assert_eq!(texts(&got), ["two", "three"]);
    assert_eq!(got[0].0, p);
    assert_eq!(t.stats().lines.load(Relaxed), 2);
}

#[test]
fn long_lines_are_cut_counted_and_the_rest_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    let mut s = settings(&[&p]);
    s.max_line_length = 10;
    append(&p, b"short\n0123456789ABCDEF\n0123456789\nlong");
    let mut t = Tailer::new(s.clone(), &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["short", "0123456789", "0123456789"]);
    // A long line arriving in pieces, across polls.
    append(&p, b"er than ten");
    assert!(poll(&mut t).is_empty());
    append(&p, b" bytes\nok\n");
    assert_eq!(texts(&poll(&mut t)), ["longer tha", "ok"]);
    assert_eq!(t.stats().truncated_long_lines.load(Relaxed), 2);
    // The cut line is not delivered again after a restart.
    let mut t = restart(t, s);
    append(&p, b"x\n");
    assert_eq!(texts(&poll(&mut t)), ["x"]);
}

#[test]
fn invalid_utf8_and_empty_lines_are_delivered_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    append(&p, b"\xff\xfe bad\n\nok\r\n");
    let mut t = Tailer::new(settings(&[&p]), &HashMap::new());
    let got: Vec<Vec<u8>> = poll(&mut t).into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        got,
        [b"\xff\xfe bad".to_vec(), b"".to_vec(), b"ok\r".to_vec()]
    );
}

#[test]
fn start_at_end_applies_to_the_first_scan_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    append(&a, b"old\nbeing writ");
    let mut s = settings(&[&dir.path().join("*.log")]);
    s.start_at = StartAt::End;
    let mut t = Tailer::new(s.clone(), &HashMap::new());
    assert!(poll(&mut t).is_empty());
    append(&a, b"ten\n");
    // The line being written at startup is delivered whole.
    assert_eq!(texts(&poll(&mut t)), ["being written"]);
    // A file that appears later is new: read from its beginning.
    let b = dir.path().join("b.log");
    append(&b, b"first\n");
    assert_eq!(texts(&poll(&mut t)), ["first"]);
    // A restart resumes from the checkpoints; a path followed before and now missing is
    // remembered, so a file created there while tally was down is read from its beginning.
    std::fs::remove_file(&b).unwrap();
    poll(&mut t);
    let cps: HashMap<String, Vec<u8>> = t.checkpoints().into_iter().collect();
    drop(t);
    append(&a, b"while down\n");
    append(&b, b"b while down\n");
    let mut t = Tailer::new(s, &cps);
    assert_eq!(texts(&poll(&mut t)), ["while down", "b while down"]);
}

#[test]
fn rename_create_rotation_finishes_the_old_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"1\n");
    let mut s = settings(&[&p]);
    s.rotate_wait = Duration::from_secs(1);
    let mut t = Tailer::new(s, &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["1"]);
    // The writer still holds the old file after the rename.
    let mut old = OpenOptions::new().append(true).open(&p).unwrap();
    old.write_all(b"2\n").unwrap();
    std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
    append(&p, b"3\n");
    old.write_all(b"2b\n").unwrap();
    assert_eq!(texts(&poll(&mut t)), ["2", "2b", "3"]);
    assert_eq!(t.stats().rotations.load(Relaxed), 1);
    old.write_all(b"late, no newline").unwrap();
    assert!(poll(&mut t).is_empty());
    // Both files are in the checkpoint while the old one drains.
    let cps = t.checkpoints();
    assert_eq!(cps.len(), 1);
    assert_eq!(cursor::decode(&cps[0].1).unwrap().len(), 2);
    std::thread::sleep(Duration::from_millis(1050));
    assert_eq!(texts(&poll(&mut t)), ["late, no newline"]);
    assert_eq!(t.stats().partial_lines_flushed.load(Relaxed), 1);
    assert_eq!(t.stats().files_open.load(Relaxed), 1);
}

/// Polls until `n` lines came (the watcher's events arrive in their own time) or 5 s passed.
fn poll_for(t: &mut Tailer, n: usize) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < until {
        t.wait(Duration::from_millis(50));
        got.extend(texts(&poll(t)));
    }
    got.sort();
    got
}

/// logrotate's `create` renames the log, then creates the new one with O_EXCL; a writer that
/// reopens by name in between creates the file itself, and logrotate moves that one to
/// `app.log-YYYYMMDDHH.backup`. No look at the path saw it: the rename event brings it in.
/// Two rotations in a row (the middle file never seen at the path) are the same case.
#[test]
fn a_file_renamed_away_before_any_look_at_the_path_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"1\n");
    let mut s = settings(&[&p]);
    s.rotate_wait = Duration::from_secs(60);
    let mut t = Tailer::new(s, &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["1"]);
    // logrotate renames; the writer recreates app.log and writes; logrotate finds it there.
    std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
    append(&p, b"2 written in logrotate's window\n");
    std::fs::rename(&p, dir.path().join("app.log-2026120719.backup")).unwrap();
    append(&p, b"3\n");
    // Rotated again before any poll: the middle file is only ever seen by its rename.
    std::fs::rename(&p, dir.path().join("app.log.2")).unwrap();
    append(&p, b"4\n");
    assert_eq!(
        poll_for(&mut t, 3),
        ["2 written in logrotate's window", "3", "4"]
    );
    assert!(poll(&mut t).is_empty(), "each line once");
    // Another rename of a file already read (app.log.1 → app.log.3) brings nothing again.
    std::fs::rename(dir.path().join("app.log.1"), dir.path().join("app.log.3")).unwrap();
    std::fs::rename(&p, dir.path().join("app.log.4")).unwrap();
    append(&p, b"5\n");
    assert_eq!(poll_for(&mut t, 1), ["5"]);
    assert!(poll(&mut t).is_empty(), "each line once");
}

#[test]
fn copytruncate_regrown_past_the_offset_is_detected_by_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"a first line\na second line\n");
    let mut t = Tailer::new(settings(&[&p]), &HashMap::new());
    assert_eq!(poll(&mut t).len(), 2);
    append(&p, b"unread before the copy\n");
    std::fs::copy(&p, dir.path().join("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    // The file regrows past the old offset before the tailer looks: size alone cannot tell.
    append(&p, b"new content, longer than everything before it was\n");
    assert_eq!(
        texts(&poll(&mut t)),
        [
            "unread before the copy",
            "new content, longer than everything before it was"
        ]
    );
    assert_eq!(t.stats().truncations.load(Relaxed), 1);
    // Without a copy (plain truncation) the new content is still read from 0.
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(
        &p,
        b"X after a plain truncate, long enough to pass the old offset.....\n",
    );
    assert_eq!(
        texts(&poll(&mut t)),
        ["X after a plain truncate, long enough to pass the old offset....."]
    );
    assert_eq!(t.stats().truncations.load(Relaxed), 2);
}

#[test]
fn copytruncate_with_identical_first_bytes_is_undetectable() {
    // Documented limit: new content that starts with exactly the old fingerprinted bytes and is
    // already past the old offset looks like an append. Reading goes on at the old offset.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"same\n");
    let mut t = Tailer::new(settings(&[&p]), &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["same"]);
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&p, b"same\nnext\n");
    assert_eq!(texts(&poll(&mut t)), ["next"]);
    assert_eq!(t.stats().truncations.load(Relaxed), 0);
}

#[test]
fn delete_and_recreate_at_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"1\n");
    let mut t = Tailer::new(settings(&[&p]), &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["1"]);
    append(&p, b"2\nunterminated");
    std::fs::remove_file(&p).unwrap();
    append(&p, b"3\n");
    assert_eq!(texts(&poll(&mut t)), ["2", "unterminated", "3"]);
}

/// Creates files until one gets `ino` (ext4 hands a freed inode out again soon); `false` if
/// this filesystem does not within a few hundred tries.
fn recreate_with_inode(p: &Path, ino: u64, content: &[u8]) -> bool {
    let dir = p.parent().unwrap();
    for i in 0..500 {
        let q = dir.join(format!("try{i}"));
        std::fs::write(&q, content).unwrap();
        if std::fs::metadata(&q).unwrap().ino() == ino {
            std::fs::rename(&q, p).unwrap();
            return true;
        }
    }
    false
}

#[test]
fn inode_reuse_after_delete_and_recreate_is_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let p = sub.join("app.log");
    append(&p, b"old line one\nold line two\n");
    let ino = std::fs::metadata(&p).unwrap().ino();
    let mut t = Tailer::new(settings(&[&p]), &HashMap::new());
    assert_eq!(poll(&mut t).len(), 2);
    let cps: HashMap<String, Vec<u8>> = t.checkpoints().into_iter().collect();
    drop(t);
    std::fs::remove_file(&p).unwrap();
    let content = b"new\n";
    let mut cps = cps;
    if !recreate_with_inode(&p, ino, content) {
        // Same situation for the tailer: point the checkpoint at the new file's inode.
        eprintln!(
            "note: inode not reused by this filesystem; checkpoint rewritten to the new inode"
        );
        std::fs::write(&p, content).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        for v in cps.values_mut() {
            let mut cs = cursor::decode(v).unwrap();
            cs.iter_mut()
                .for_each(|c| (c.dev, c.ino) = (m.dev(), m.ino()));
            *v = cursor::encode(&cs);
        }
    } else {
        eprintln!("inode {ino} reused");
    }
    let mut t = Tailer::new(settings(&[&p]), &cps);
    assert_eq!(texts(&poll(&mut t)), ["new"]);
}

#[test]
fn checkpoint_of_a_file_rotated_while_down_finishes_it_then_reads_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"1\n2\n");
    let s = settings(&[&p]);
    let mut t = Tailer::new(s.clone(), &HashMap::new());
    assert_eq!(poll(&mut t).len(), 2);
    let cps: HashMap<String, Vec<u8>> = t.checkpoints().into_iter().collect();
    drop(t);
    append(&p, b"3\n");
    std::fs::rename(&p, dir.path().join("app.log-20240101")).unwrap();
    append(&p, b"4\n");
    let mut t = Tailer::new(s.clone(), &cps);
    assert_eq!(texts(&poll(&mut t)), ["3", "4"]);
    // A checkpoint of a file copytruncated while down: the copy from the offset, then the file.
    let cps: HashMap<String, Vec<u8>> = t.checkpoints().into_iter().collect();
    drop(t);
    append(&p, b"5\n");
    std::fs::copy(&p, dir.path().join("app.log.1")).unwrap();
    std::fs::write(&p, b"6\n").unwrap();
    let mut t = Tailer::new(s, &cps);
    assert_eq!(texts(&poll(&mut t)), ["5", "6"]);
    assert_eq!(t.stats().truncations.load(Relaxed), 1);
}

#[test]
fn glob_picks_up_a_file_created_later_on_the_notify_wake_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("x")).unwrap();
    let mut s = settings(&[&dir.path().join("*").join("*.log")]);
    // No stat tick during the test: only events can find the file.
    s.poll_interval = Duration::from_secs(3600);
    let mut t = Tailer::new(s, &HashMap::new());
    assert!(poll(&mut t).is_empty());
    let p = dir.path().join("x").join("late.log");
    append(&p, b"hello\n");
    // The wait's timeout is 30 s and the event must wake it within 10 s (a 5 s timeout and a
    // 2 s bound left little room for a thread woken late on a loaded machine).
    let start = Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && start.elapsed() < Duration::from_secs(30) {
        t.wait(Duration::from_secs(30));
        got.extend(poll(&mut t));
    }
    assert_eq!(texts(&got), ["hello"]);
    assert_eq!(got[0].0, p);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "woken by the event, not a timeout"
    );
    append(&p, b"more\n");
    t.wait(Duration::from_secs(5));
    assert_eq!(texts(&poll(&mut t)), ["more"]);
    // A new directory matching the directory glob.
    std::fs::create_dir(dir.path().join("y")).unwrap();
    t.wait(Duration::from_secs(5));
    poll(&mut t);
    append(&dir.path().join("y").join("b.log"), b"in y\n");
    let start = Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
        t.wait(Duration::from_secs(1));
        got.extend(poll(&mut t));
    }
    assert_eq!(texts(&got), ["in y"]);
}

#[test]
fn glob_matching_rotated_names_follows_them_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    let mut s = settings(&[&dir.path().join("app.log*")]);
    s.rotate_wait = Duration::from_secs(60);
    append(&p, b"1\n");
    let mut t = Tailer::new(s, &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["1"]);
    append(&p, b"2\n");
    std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
    append(&p, b"3\n");
    let mut got = texts(&poll(&mut t));
    got.sort();
    assert_eq!(got, ["2", "3"]);
    // copytruncate with the copy matching the glob: the copy is not read again.
    append(&p, b"4\n");
    std::fs::copy(&p, dir.path().join("app.log.2")).unwrap();
    let mid = poll(&mut t);
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&p, b"5\n");
    let mut got = texts(&mid);
    got.extend(texts(&poll(&mut t)));
    got.extend(texts(&poll(&mut t)));
    assert_eq!(got, ["4", "5"]);
    assert_eq!(t.stats().files_open.load(Relaxed), 3);
}

#[test]
fn a_new_file_starting_like_a_followed_one_waits_only_while_it_could_be_its_copy() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("app.log");
    append(&a, b"start\n");
    let mut t = Tailer::new(settings(&[&dir.path().join("*.log")]), &HashMap::new());
    assert_eq!(texts(&poll(&mut t)), ["start"]);
    // Longer than app.log: not a copy of it, read at once.
    append(&dir.path().join("app2.log"), b"start\nother\n");
    assert_eq!(texts(&poll(&mut t)), ["start", "other"]);
    // Exactly app.log so far: waits, then is read from its beginning once it differs.
    let c = dir.path().join("app3.log");
    append(&c, b"start\n");
    assert!(poll(&mut t).is_empty());
    assert_eq!(t.stats().files_deferred.load(Relaxed), 1);
    append(&c, b"more\n");
    assert_eq!(texts(&poll(&mut t)), ["start", "more"]);
    assert_eq!(t.stats().files_deferred.load(Relaxed), 0);
}

#[test]
fn files_over_the_limit_are_counted_then_opened_when_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        append(
            &dir.path().join(format!("{i}.log")),
            format!("{i}\n").as_bytes(),
        );
    }
    let mut s = settings(&[&dir.path().join("*.log")]);
    s.max_open_files = 3;
    let mut t = Tailer::new(s, &HashMap::new());
    assert_eq!(poll(&mut t).len(), 3);
    assert_eq!(t.stats().files_skipped_over_limit.load(Relaxed), 2);
    std::fs::remove_file(dir.path().join("0.log")).unwrap();
    std::fs::remove_file(dir.path().join("1.log")).unwrap();
    assert_eq!(poll(&mut t).len(), 0);
    assert_eq!(texts(&poll(&mut t)), ["3", "4"]);
    assert_eq!(t.stats().files_skipped_over_limit.load(Relaxed), 0);
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

#[test]
fn a_thousand_files_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1000;
    for i in 0..n {
        let p = dir.path().join(format!("f{i:04}.log"));
        append(
            &p,
            format!("line one of {i}\nline two of {i}\na partial line of {i}").as_bytes(),
        );
    }
    let before = rss_kib();
    let mut s = settings(&[&dir.path().join("*.log")]);
    s.max_open_files = 2000;
    let mut t = Tailer::new(s, &HashMap::new());
    let got = poll(&mut t);
    assert_eq!(got.len(), 2 * n);
    let after = rss_kib();
    let buffered = t.buffered_bytes();
    eprintln!(
        "1000 files: {} KiB in buffers (read buffer {} KiB + partial lines), {} B per follower struct, RSS +{} KiB \
         (noisy when other tests run in parallel), {} open",
        buffered / 1024,
        READ_BUFFER / 1024,
        std::mem::size_of::<Follower>(),
        after.saturating_sub(before),
        t.stats().files_open.load(Relaxed),
    );
    assert_eq!(t.stats().files_open.load(Relaxed), n as u64);
    let start = Instant::now();
    assert!(poll(&mut t).is_empty());
    eprintln!(
        "1000 files: an idle stat tick (stat, read, fingerprint check, glob rescan) took {:?}",
        start.elapsed()
    );
    assert!(buffered < READ_BUFFER + n * 64, "{buffered}");
    assert!(t.checkpoints().len() == n);
}

/// `cargo test --release --lib tail_throughput -- --ignored --nocapture`
#[test]
#[ignore]
fn tail_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.log");
    let n = 2_000_000u64;
    let mut w = std::io::BufWriter::new(File::create(&p).unwrap());
    for i in 0..n {
        writeln!(
            w,
            "2024-01-01T00:00:00Z host app[{i}]: GET /some/path?q={i} 200 {} bytes in 3 ms",
            i % 5000
        )
        .unwrap();
    }
    drop(w);
    let size = std::fs::metadata(&p).unwrap().len();
    let mut t = Tailer::new(settings(&[&p]), &HashMap::new());
    let start = Instant::now();
    let (mut lines, mut sum) = (0u64, 0usize);
    while lines < n {
        lines += t.poll(&mut |_, l| sum += l.len()) as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{n} lines, {} MB in {secs:.3} s: {:.2} M lines/s, {:.0} MB/s (page cache warm; {sum})",
        size / 1_000_000,
        n as f64 / secs / 1e6,
        size as f64 / secs / 1e6
    );
}
