//! The system collectors in the real daemon: 1 s samples folded into the 10 s buckets.

use crate::util::{Daemon, TestDir, points};
use std::time::{Duration, Instant};

/// With the default sampling (1 s) and the default schema (10 s buckets), a complete bucket of
/// `cpu.total.user` holds about ten samples (exactly ten unless a round was late by a second or
/// more and its weight was rounded), and its max is at least its average.
#[test]
fn one_second_samples_fill_ten_second_buckets() {
    let dir = TestDir::new();
    let config = cpu_config(&dir);
    let d = Daemon::start(&config);
    let series = "servers.testhost.cpu.total.user";
    let url = |view: &str| format!("/render?target={series}:{view}&from=-2min&format=json");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Buckets that are complete: after the first (partial) one, before the open one.
    let complete = loop {
        let done = complete_buckets(points(&d.get_json(&url("count")), 0));
        if done.len() >= 2 {
            break done;
        }
        assert!(Instant::now() < deadline, "no complete buckets: {done:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    for &(count, t) in &complete {
        assert!((8.0..=12.0).contains(&count), "bucket {t}: {count} samples");
    }
    let mean = complete.iter().map(|p| p.0).sum::<f64>() / complete.len() as f64;
    assert!((9.0..=11.0).contains(&mean), "{complete:?}");
    let avg = points(&d.get_json(&url("avg")), 0);
    let max = points(&d.get_json(&url("max")), 0);
    for (a, m) in avg.iter().zip(&max) {
        assert!(m.0 >= a.0, "max {m:?} < avg {a:?}");
    }
}

/// Bytes in the store's write-ahead log files.
fn wal_bytes(data_dir: &std::path::Path) -> u64 {
    std::fs::read_dir(data_dir.join("wal"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The host's own samples (and `tally.*`) are committed when their 10 s bucket closes, not every
/// `commit_interval` (README, `storage.commit_interval`): an idle daemon writes its WAL about
/// once a bucket, and a `kill -9` keeps every closed bucket whole (it loses at most the open one).
#[test]
fn local_samples_commit_per_bucket_and_closed_buckets_survive_kill_9() {
    let dir = TestDir::new();
    let config = cpu_config(&dir);
    let data_dir = dir.path().join("data"); // TestDir::config's
    let config = config.as_path();
    let d = Daemon::start(config);
    let series = "servers.testhost.cpu.total.user";
    let url = format!("/render?target={series}:count&from=-2min&format=json");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let (mut wal, mut writes) = (wal_bytes(&data_dir), 0u32);
    let complete = loop {
        std::thread::sleep(Duration::from_millis(250));
        let now_wal = wal_bytes(&data_dir);
        if now_wal != wal {
            (wal, writes) = (now_wal, writes + 1);
        }
        let done = complete_buckets(points(&d.get_json(&url), 0));
        if done.len() >= 2 {
            break done;
        }
        assert!(Instant::now() < deadline, "no complete buckets: {done:?}");
    };
    d.kill9();
    // One commit a bucket (and the first at start), not one a second: with the 1 s samples and
    // 1 s self-metrics of this config, commits every second would change the WAL at every poll.
    let buckets = started.elapsed().as_secs() / 10 + 2;
    assert!(
        u64::from(writes) <= buckets,
        "the WAL changed {writes} times in {:?}",
        started.elapsed()
    );
    let d = Daemon::start(config);
    let after: Vec<(f64, i64)> = points(&d.get_json(&url), 0);
    for &(count, t) in &complete {
        assert!((8.0..=12.0).contains(&count), "bucket {t}: {count} samples");
        let kept = after.iter().find(|p| p.1 == t).map_or(0.0, |p| p.0);
        assert!(
            kept >= count,
            "bucket {t}: {count} samples before the kill, {kept} after"
        );
    }
}

/// The 10 s buckets of `counts` (value, time) that are complete: after the first (partial)
/// one, before the open one.
fn complete_buckets(counts: Vec<(f64, i64)>) -> Vec<(f64, i64)> {
    let now = crate::util::unix_now();
    let first = counts.first().map_or(i64::MAX, |p| p.1);
    counts
        .into_iter()
        .filter(|p| p.1 > first && p.1 + 10 < now)
        .collect()
}

/// The test config with the system input on, sampling only `cpu`.
fn cpu_config(dir: &TestDir) -> std::path::PathBuf {
    let config = dir.config("");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "  system:\n    enabled: false\n",
        "  system:\n    collectors: [cpu]\n",
    );
    std::fs::write(&config, text).unwrap();
    config
}
