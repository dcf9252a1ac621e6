//! Store-level behaviour: merge on commit, reopen after every kind of step, retention,
//! compaction, read-only opens, the index and events.

use super::*;
use crate::aggregate::Bucket;
use crate::schema::Tier;
use std::path::Path;

pub fn opts(dir: &Path) -> Options {
    Options {
        data_dir: dir.to_path_buf(),
        tiers: vec![
            Tier {
                resolution: 10,
                retention: 7 * 86_400,
            },
            Tier {
                resolution: 60,
                retention: 90 * 86_400,
            },
            Tier {
                resolution: 3600,
                retention: 5 * 365 * 86_400,
            },
        ],
        head_flush_interval: 600,
        head_max_bytes: super::HEAD_MAX_BYTES,
    }
}

/// Opens a store, waiting out a lock held for a moment by a child process another test is
/// spawning (a fork shares the open LOCK file until its exec closes it).
pub fn try_open(options: Options) -> Result<Store, Error> {
    for _ in 0..200 {
        match Store::open(options.clone()) {
            Err(Error::Locked(_)) => std::thread::sleep(std::time::Duration::from_millis(10)),
            other => return other,
        }
    }
    Store::open(options)
}

pub fn open(options: Options) -> Store {
    try_open(options).unwrap()
}

pub fn delta(name: &str, kind: Kind, resolution: u32, start: i64, value: f64, time: i64) -> Delta {
    Delta {
        series: Series::parse(name).unwrap(),
        kind,
        resolution,
        start,
        bucket: Bucket::new(kind, value, time),
    }
}

pub fn gauge(name: &str, resolution: u32, start: i64, value: f64) -> Delta {
    delta(name, Kind::Gauge, resolution, start, value, start + 1)
}

pub fn batch(deltas: Vec<Delta>) -> Batch {
    Batch {
        deltas,
        cursors: Vec::new(),
    }
}

/// `(start, count, sum)` of every bucket.
pub fn summary(store: &Store, name: &str, res: u32) -> Vec<(i64, u64, f64)> {
    let Some(info) = store.lookup(name) else {
        return Vec::new();
    };
    store
        .read(info.id, res, i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|(s, b)| (s, b.count, b.sum))
        .collect()
}

#[test]
fn commits_merge_and_survive_reopen_flush_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store
        .commit(Batch {
            deltas: vec![
                gauge("a.b", 10, 100, 1.0),
                gauge("a.b", 10, 110, 2.0),
                gauge("a.b", 60, 60, 3.0),
            ],
            cursors: vec![("log".into(), b"17".to_vec())],
        })
        .unwrap();
    store
        .commit(batch(vec![gauge("a.b", 10, 100, 5.0)]))
        .unwrap();
    let want = vec![(100, 2, 6.0), (110, 1, 2.0)];
    assert_eq!(summary(&store, "a.b", 10), want);
    drop(store);

    // WAL replay.
    let store = open(opts(dir.path()));
    assert_eq!(summary(&store, "a.b", 10), want);
    assert_eq!(summary(&store, "a.b", 60), vec![(60, 1, 3.0)]);
    assert_eq!(store.cursors().get("log"), Some(&b"17".to_vec()));

    // Late data into a slot that is already in a segment.
    store.flush_head().unwrap();
    assert_eq!(store.stats().head_buckets, 0);
    store
        .commit(batch(vec![gauge("a.b", 10, 100, 10.0)]))
        .unwrap();
    let want = vec![(100, 3, 16.0), (110, 1, 2.0)];
    assert_eq!(summary(&store, "a.b", 10), want);
    store.flush_head().unwrap();
    assert_eq!(summary(&store, "a.b", 10), want);
    drop(store);

    let store = open(opts(dir.path()));
    assert_eq!(summary(&store, "a.b", 10), want);
    assert_eq!(store.stats().segments, 3);
    // A day later the partition is cold and gets merged into one file.
    store.maintain(2 * 86_400).unwrap();
    store.maintain(2 * 86_400).unwrap();
    assert_eq!(store.stats().segments, 2, "one per resolution");
    assert_eq!(summary(&store, "a.b", 10), want);
    drop(store);
    let store = open(opts(dir.path()));
    assert_eq!(summary(&store, "a.b", 10), want);
    assert_eq!(store.cursors().get("log"), Some(&b"17".to_vec()));
    let names: Vec<_> = std::fs::read_dir(dir.path().join("seg"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(names.len(), 2, "inputs of the compaction are gone");
}

#[test]
fn every_field_survives_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    let mut deltas = Vec::new();
    for kind in Kind::ALL {
        let mut d = delta(&format!("k.{kind}"), kind, 10, 1000, 1.5, 1003);
        d.bucket.add(-2.0, 1001);
        d.bucket.add(7.25, 1009);
        deltas.push(d);
    }
    store.commit(batch(deltas.clone())).unwrap();
    let before: Vec<_> = deltas
        .iter()
        .map(|d| {
            store
                .read(store.lookup(d.series.as_str()).unwrap().id, 10, 0, 2000)
                .unwrap()
        })
        .collect();
    store.flush_head().unwrap();
    drop(store);
    let store = open(opts(dir.path()));
    for (d, before) in deltas.iter().zip(before) {
        let info = store.lookup(d.series.as_str()).unwrap();
        assert_eq!(info.kind, d.kind);
        let got = store.read(info.id, 10, 0, 2000).unwrap();
        assert_eq!(got, vec![(1000, d.bucket.clone())]);
        assert_eq!(got, before);
    }
}

#[test]
fn reads_cover_exactly_the_range_across_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    // 3 days of 10 s data, flushed in pieces so it spans several files and partitions.
    for day in 0..3i64 {
        let deltas = (0..8640)
            .step_by(7)
            .map(|i| gauge("x", 10, day * 86_400 + i * 10, i as f64))
            .collect();
        store.commit(batch(deltas)).unwrap();
        store.flush_head().unwrap();
    }
    store
        .commit(batch(vec![gauge("x", 10, 86_400 * 2 + 10, 1.0)]))
        .unwrap();
    let id = store.lookup("x").unwrap().id;
    let all = store.read(id, 10, i64::MIN, i64::MAX).unwrap();
    assert_eq!(all.len(), 3 * 1235 + 1);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    let (from, until) = (86_400 - 70, 86_400 * 2 + 70);
    let some = store.read(id, 10, from, until).unwrap();
    let want: Vec<_> = all
        .iter()
        .filter(|(s, _)| (from..until).contains(s))
        .cloned()
        .collect();
    assert_eq!(some, want);
    assert!(store.read(id, 10, 5, 5).unwrap().is_empty());
    assert!(store.read(id, 60, i64::MIN, i64::MAX).unwrap().is_empty());
}

#[test]
fn levels_compact_and_reads_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    let mut now = 1_000_000_000 - 1_000_000_000 % 86_400;
    store.maintain(now).unwrap();
    for round in 0..9 {
        let deltas = (0..20)
            .map(|s| gauge(&format!("s.{s}"), 10, now - now % 10, f64::from(round)))
            .collect();
        store.commit(batch(deltas)).unwrap();
        now += 600;
        store.maintain(now).unwrap();
    }
    let stats = store.stats();
    assert!(stats.segments < 9, "{stats:?}");
    let s = summary(&store, "s.3", 10);
    assert_eq!(s.len(), 9);
    assert!(s.iter().all(|&(_, count, _)| count == 1));
    drop(store);
    let store = open(opts(dir.path()));
    assert_eq!(summary(&store, "s.3", 10), s);
}

#[test]
fn retention_drops_whole_old_partitions_and_old_head_slots() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.tiers = vec![Tier {
        resolution: 10,
        retention: 86_400,
    }];
    let store = open(o.clone());
    store
        .commit(batch(vec![
            gauge("r", 10, 100, 1.0),
            gauge("r", 10, 86_400 * 3, 2.0),
        ]))
        .unwrap();
    store.flush_head().unwrap();
    store
        .commit(batch(vec![
            gauge("r", 10, 200, 1.0),
            gauge("r", 60, 0, 1.0),
        ]))
        .unwrap();
    assert_eq!(store.stats().segments, 2);
    store.maintain(86_400 * 3 + 5).unwrap();
    assert_eq!(store.stats().segments, 1);
    assert_eq!(summary(&store, "r", 10), vec![(86_400 * 3, 1, 2.0)]);
    assert_eq!(
        summary(&store, "r", 60).len(),
        1,
        "resolutions without a tier are kept"
    );
    drop(store);
    let store = open(o);
    store.maintain(86_400 * 3 + 5).unwrap();
    assert_eq!(summary(&store, "r", 10), vec![(86_400 * 3, 1, 2.0)]);
}

#[test]
fn the_lock_keeps_a_second_writer_out_and_read_only_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    assert!(matches!(
        Store::open(opts(dir.path())),
        Err(Error::Locked(_))
    ));
    store.commit(batch(vec![gauge("a", 10, 0, 1.0)])).unwrap();
    store.flush_head().unwrap();
    store
        .commit(batch(vec![gauge("a", 10, 10, 1.0), gauge("b", 10, 0, 1.0)]))
        .unwrap();
    store.add_event(5, "deploy", &[], "").unwrap();
    let listing = |p: &Path| {
        let mut v: Vec<_> = walk(p)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(&f).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = listing(dir.path());
    let ro = Store::open_read_only(opts(dir.path())).unwrap();
    assert_eq!(summary(&ro, "a", 10).len(), 2);
    assert_eq!(summary(&ro, "b", 10).len(), 1);
    assert_eq!(ro.events(0, 10).len(), 1);
    assert!(matches!(ro.commit(batch(vec![])), Err(Error::ReadOnly)));
    assert!(matches!(ro.maintain(0), Err(Error::ReadOnly)));
    assert!(matches!(ro.flush_head(), Err(Error::ReadOnly)));
    assert!(matches!(
        ro.add_event(1, "x", &[], ""),
        Err(Error::ReadOnly)
    ));
    drop(ro);
    assert_eq!(listing(dir.path()), before);
    assert!(Store::open_read_only(opts(&dir.path().join("nope"))).is_err());
    drop(store);
    assert!(try_open(opts(dir.path())).is_ok());
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn the_index_finds_names_and_keeps_the_first_kind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store
        .commit(batch(vec![
            gauge("servers.h1.cpu.user", 10, 0, 1.0),
            gauge("servers.h1.cpu", 10, 0, 1.0),
            gauge("servers.h2.mem", 10, 0, 1.0),
            delta("servers.h1.cpu", Kind::Counter, 60, 0, 1.0, 0),
            gauge("disk.used;rack=a1;dc=eu", 10, 0, 1.0),
        ]))
        .unwrap();
    let check = |store: &Store| {
        let g = Glob::parse("servers.h*.*").unwrap();
        let nodes: Vec<_> = store
            .find(&g)
            .into_iter()
            .map(|n| (n.path, n.leaf, n.branch))
            .collect();
        assert_eq!(
            nodes,
            vec![
                ("servers.h1.cpu".into(), true, true),
                ("servers.h2.mem".into(), true, false)
            ]
        );
        let names: Vec<_> = store
            .series_matching(&g)
            .into_iter()
            .map(|i| i.series.to_string())
            .collect();
        assert_eq!(names, vec!["servers.h1.cpu", "servers.h2.mem"]);
        assert_eq!(store.lookup("servers.h1.cpu").unwrap().kind, Kind::Gauge);
        assert_eq!(store.lookup("disk.used;dc=eu;rack=a1").unwrap().id, 3);
        assert_eq!(store.lookup("disk.used;rack=a1;dc=eu").unwrap().id, 3);
        assert!(store.find(&Glob::parse("disk.*").unwrap()).is_empty());
        assert!(store.lookup("nope").is_none());
        assert!(store.stats().series >= 4);
    };
    check(&store);
    store.flush_head().unwrap();
    store.commit(batch(vec![gauge("z", 10, 0, 1.0)])).unwrap();
    drop(store);
    let store = open(opts(dir.path()));
    check(&store);
    assert_eq!(store.lookup("z").unwrap().id, 4);
}

#[test]
fn events_are_durable_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    assert_eq!(store.add_event(300, "b", &["t".into()], "d").unwrap(), 1);
    assert_eq!(store.add_event(100, "a", &[], "").unwrap(), 2);
    drop(store);
    let store = open(opts(dir.path()));
    let ev = store.events(100, 300);
    assert_eq!(ev.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(ev[1].tags, vec!["t".to_string()]);
    assert_eq!(store.add_event(200, "c", &[], "").unwrap(), 3);
    assert_eq!(store.events(101, 299).len(), 1);
    assert_eq!(store.stats().events, 3);
}

#[test]
fn bad_batches_are_rejected_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    let bad = vec![gauge("ok", 10, 0, 1.0), gauge("bad", 10, 5, 1.0)];
    assert!(matches!(store.commit(batch(bad)), Err(Error::Invalid(_))));
    assert!(store.lookup("ok").is_none());
    store.commit(batch(vec![gauge("ok", 10, 0, 1.0)])).unwrap();
    assert_eq!(store.lookup("ok").unwrap().id, 0);
}

#[test]
fn stats_count_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store
        .commit(batch(vec![gauge("a", 10, 0, 1.0), gauge("a", 60, 0, 1.0)]))
        .unwrap();
    let s = store.stats();
    assert_eq!((s.series, s.head_buckets, s.segments), (1, 2, 0));
    assert!(s.wal_bytes > 16 && s.disk_bytes >= s.wal_bytes);
    store.flush_head().unwrap();
    let s = store.stats();
    assert_eq!((s.head_buckets, s.segments, s.wal_bytes), (0, 2, 16));
}

#[test]
fn the_store_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn a_batch_that_never_reached_the_wal_comes_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    let bad = batch(vec![gauge("a", 10, 20, 1.0), gauge("b", 10, 25, 1.0)]);
    match store.try_commit(bad) {
        Err((Error::Invalid(_), Some(back))) => assert_eq!(back.deltas.len(), 2),
        other => panic!("expected the invalid batch back, got {other:?}"),
    }
    assert!(
        store
            .try_commit(batch(vec![gauge("a", 10, 20, 1.0)]))
            .is_ok()
    );
    assert_eq!(summary(&store, "a", 10).len(), 1);
}

#[test]
fn the_head_is_flushed_early_once_it_holds_head_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.head_max_bytes = 1 << 20;
    let store = open(o);
    let now = 1_700_000_000;
    // The first maintain only starts the flush interval's clock.
    store.maintain(now).unwrap();
    // 2,000 gauges over 10 slots: well under 1 MiB at first, then over it.
    let mut t = 0;
    loop {
        let deltas = (0..2000)
            .map(|i| gauge(&format!("m.g{i}"), 10, now - 600 + t * 10, 1.0))
            .collect();
        store.commit(batch(deltas)).unwrap();
        t += 1;
        if store.stats().head_bytes >= 1 << 20 {
            break;
        }
        store.maintain(now).unwrap();
        assert_eq!(
            store.stats().segments,
            0,
            "nothing is flushed before the bound"
        );
        assert!(t < 40, "the head never reached 1 MiB: {:?}", store.stats());
    }
    assert!(t > 2, "2,000 gauges are well under 1 MiB at first");
    // The bound was passed by the last commit; the next maintain (still within the 10-minute
    // interval) writes the head out.
    let full = store.stats();
    store.maintain(now + 1).unwrap();
    let s = store.stats();
    assert_eq!((s.head_buckets, s.head_bytes), (0, 0), "{full:?} → {s:?}");
    assert!(s.segments > 0);
    assert_eq!(summary(&store, "m.g7", 10).len(), t as usize);
}
