//! Crash simulations: a test-only crash point panics at a named step (skipping every cleanup,
//! like `kill -9`), and the on-disk state a crash leaves is also built by hand (torn WAL tails,
//! leftover files, damaged files). After each, the store must reopen with every committed
//! batch counted exactly once. A model-based property test runs random sequences of commits,
//! flushes, maintenance, crashes and reopens against an in-memory model.

use super::tests::{batch, delta, gauge, open, opts, summary, try_open};
use super::*;
use crate::aggregate::Bucket;
use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Once;

const POINTS: [&str; 6] = [
    "flush:rotated",
    "flush:segment",
    "flush:catalog",
    "flush:manifest",
    "compact:written",
    "install:manifest",
];

/// Silences the panics of simulated crashes (other panics still print).
fn quiet_crashes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or("");
            if !msg.starts_with("simulated crash") {
                default(info);
            }
        }));
    });
}

/// Runs `f` with a crash armed at `point`; returns whether it crashed.
fn crash(store: &Store, point: &'static str, f: impl FnOnce(&Store) -> Result<(), Error>) -> bool {
    quiet_crashes();
    *lock(&store.crash_at) = Some(point);
    let crashed = catch_unwind(AssertUnwindSafe(|| f(store).unwrap())).is_err();
    *lock(&store.crash_at) = None;
    crashed
}

/// Every bucket the store holds, by (name, resolution).
type Model = BTreeMap<(String, u32), BTreeMap<i64, Bucket>>;

fn apply(model: &mut Model, deltas: &[Delta]) {
    for d in deltas {
        let slots = model
            .entry((d.series.to_string(), d.resolution))
            .or_default();
        match slots.get_mut(&d.start) {
            Some(b) => b.merge(&d.bucket),
            None => {
                slots.insert(d.start, d.bucket.clone());
            }
        }
    }
}

fn check(store: &Store, model: &Model) {
    for ((name, res), slots) in model {
        let info = store
            .lookup(name)
            .unwrap_or_else(|| panic!("{name} is missing"));
        let got = store.read(info.id, *res, i64::MIN, i64::MAX).unwrap();
        let want: Vec<(i64, Bucket)> = slots.iter().map(|(s, b)| (*s, b.clone())).collect();
        assert_eq!(got, want, "{name} at {res}s");
    }
}

/// Only live files are left: needed WAL files, the manifest's segments, nothing temporary.
fn check_clean(dir: &Path) {
    let m = manifest::Manifest::load(dir).unwrap().unwrap_or_default();
    let mut segs: Vec<String> = std::fs::read_dir(dir.join("seg"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    segs.sort();
    let mut want: Vec<String> = m.segments.iter().map(|s| s.file_name()).collect();
    want.sort();
    assert_eq!(segs, want);
    // No WAL file the manifest wholly covers.
    let wal = wal::list(&dir.join("wal")).unwrap();
    assert!(!wal.is_empty());
    assert!(
        wal.windows(2).all(|w| w[1].0 > m.covered + 1),
        "{wal:?} covered {}",
        m.covered
    );
    assert!(!dir.join("MANIFEST.tmp").exists());
}

fn scenario(point: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let store = open(opts(dir.path()));
    let commit = |store: &Store, model: &mut Model, deltas: Vec<Delta>, cursor: &str| {
        apply(model, &deltas);
        let cursors = vec![("c".to_string(), cursor.as_bytes().to_vec())];
        store.commit(Batch { deltas, cursors }).unwrap();
    };
    let day = |i: i64| {
        (0..30)
            .map(move |s| gauge(&format!("s.{}", s % 7), 10, i * 86_400 + s * 10, s as f64))
            .collect::<Vec<_>>()
    };
    commit(&store, &mut model, day(0), "1");
    store.flush_head().unwrap();
    commit(&store, &mut model, day(0), "2");
    commit(
        &store,
        &mut model,
        vec![delta("t", Kind::Timer, 60, 0, 3.0, 7)],
        "3",
    );
    let crashed = if point.starts_with("flush") {
        crash(&store, point, Store::flush_head)
    } else {
        store.flush_head().unwrap();
        crash(&store, point, |s| s.maintain(5 * 86_400))
    };
    assert!(crashed, "{point} was not reached");
    drop(store);

    let store = open(opts(dir.path()));
    check(&store, &model);
    assert_eq!(store.cursors().get("c"), Some(&b"3".to_vec()), "{point}");
    check_clean(dir.path());
    // And the store carries on: more data, a flush, compaction, another reopen.
    commit(&store, &mut model, day(0), "4");
    store.flush_head().unwrap();
    for _ in 0..4 {
        store.maintain(5 * 86_400).unwrap();
    }
    check(&store, &model);
    drop(store);
    let store = open(opts(dir.path()));
    check(&store, &model);
    assert_eq!(store.cursors().get("c"), Some(&b"4".to_vec()));
    check_clean(dir.path());
}

#[test]
fn a_crash_at_any_step_counts_everything_once() {
    for point in POINTS {
        scenario(point);
    }
}

#[test]
fn a_crash_during_retention_deletes_leaves_a_clean_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.tiers = vec![Tier {
        resolution: 10,
        retention: 86_400,
    }];
    let store = open(o.clone());
    store
        .commit(batch(vec![
            gauge("r", 10, 0, 1.0),
            gauge("r", 10, 86_400 * 3, 2.0),
        ]))
        .unwrap();
    store.flush_head().unwrap();
    assert!(crash(&store, "install:manifest", |s| s.maintain(86_400 * 3)));
    drop(store);
    let store = open(o);
    assert_eq!(summary(&store, "r", 10), vec![(86_400 * 3, 1, 2.0)]);
    check_clean(dir.path());
}

#[test]
fn torn_wal_tails_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store.commit(batch(vec![gauge("a", 10, 0, 1.0)])).unwrap();
    store
        .commit(batch(vec![gauge("a", 10, 0, 2.0), gauge("b", 10, 0, 1.0)]))
        .unwrap();
    let wal_path = lock(&store.wal).as_ref().unwrap().path.clone();
    drop(store);
    let good = std::fs::read(&wal_path).unwrap();
    // Every possible tear of the last record, then garbage.
    let mut tails: Vec<Vec<u8>> = (1..40).map(|n| vec![0xAB; n]).collect();
    let mut rec = Vec::new();
    let d = vec![gauge("c", 10, 0, 1.0)];
    wal::encode(
        &mut rec,
        3,
        &[(2, Series::parse("c").unwrap(), Kind::Gauge)],
        &[],
        &d,
        &[2],
    );
    tails.extend((1..rec.len()).map(|n| rec[..n].to_vec()));
    for tail in tails {
        let mut bytes = good.clone();
        bytes.extend_from_slice(&tail);
        std::fs::write(&wal_path, &bytes).unwrap();
        let store = open(opts(dir.path()));
        assert_eq!(summary(&store, "a", 10), vec![(0, 2, 3.0)]);
        assert_eq!(summary(&store, "b", 10), vec![(0, 1, 1.0)]);
        assert!(store.lookup("c").is_none());
        assert_eq!(
            std::fs::metadata(&wal_path).unwrap().len(),
            good.len() as u64
        );
    }
    // A torn tail and then more commits: the new record follows the last good one.
    let mut bytes = good.clone();
    bytes.extend_from_slice(&rec[..rec.len() / 2]);
    std::fs::write(&wal_path, &bytes).unwrap();
    let store = open(opts(dir.path()));
    store.commit(batch(vec![gauge("a", 10, 0, 4.0)])).unwrap();
    drop(store);
    let store = open(opts(dir.path()));
    assert_eq!(summary(&store, "a", 10), vec![(0, 3, 7.0)]);
}

#[test]
fn leftover_files_are_removed_and_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store.commit(batch(vec![gauge("a", 10, 0, 1.0)])).unwrap();
    store.flush_head().unwrap();
    drop(store);
    let p = dir.path();
    for f in [
        "seg/10-0-00000099.seg",
        "seg/10-0-00000099.seg.tmp",
        "MANIFEST.tmp",
    ] {
        std::fs::write(p.join(f), b"half written").unwrap();
    }
    std::fs::write(p.join("seg/notes.txt"), b"mine").unwrap();
    let store = open(opts(p));
    assert_eq!(summary(&store, "a", 10), vec![(0, 1, 1.0)]);
    assert!(!p.join("seg/10-0-00000099.seg").exists());
    assert!(!p.join("seg/10-0-00000099.seg.tmp").exists());
    assert!(!p.join("MANIFEST.tmp").exists());
    assert!(p.join("seg/notes.txt").exists());
}

#[test]
fn a_wal_file_the_manifest_covers_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store.commit(batch(vec![gauge("a", 10, 0, 1.0)])).unwrap();
    let old = lock(&store.wal).as_ref().unwrap().path.clone();
    let bytes = std::fs::read(&old).unwrap();
    store.flush_head().unwrap();
    store.commit(batch(vec![gauge("a", 10, 0, 1.0)])).unwrap();
    drop(store);
    std::fs::write(&old, &bytes).unwrap(); // as if the delete after the manifest was lost
    let store = open(opts(dir.path()));
    assert_eq!(summary(&store, "a", 10), vec![(0, 2, 2.0)]);
    assert!(!old.exists());
}

#[test]
fn damaged_metadata_is_an_error_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store.commit(batch(vec![gauge("a", 10, 0, 1.0)])).unwrap();
    store.flush_head().unwrap();
    store.commit(batch(vec![gauge("a", 10, 10, 1.0)])).unwrap();
    drop(store);
    let m = dir.path().join("MANIFEST");
    let good = std::fs::read(&m).unwrap();
    let mut bad = good.clone();
    bad[12] ^= 1;
    std::fs::write(&m, &bad).unwrap();
    assert!(matches!(
        try_open(opts(dir.path())),
        Err(Error::Corrupt { .. })
    ));
    // Without a manifest the WAL no longer starts at record 1: refuse rather than lose data.
    std::fs::remove_file(&m).unwrap();
    assert!(matches!(
        try_open(opts(dir.path())),
        Err(Error::Corrupt { .. })
    ));
    assert!(matches!(
        Store::open_read_only(opts(dir.path())),
        Err(Error::Corrupt { .. })
    ));
    std::fs::write(&m, &good).unwrap();
    let store = open(opts(dir.path()));
    assert_eq!(summary(&store, "a", 10).len(), 2);
}

/// One flipped bit in the middle of the WAL loses that record only: the later ones are
/// replayed, the damaged file is moved aside, the damage counted; a bad magic likewise.
#[test]
fn corrupt_wal_records_lose_only_themselves() {
    for damage in ["middle", "magic"] {
        let dir = tempfile::tempdir().unwrap();
        let store = open(opts(dir.path()));
        for i in 0..20 {
            store
                .commit(batch(vec![gauge("a", 10, i * 10, 1.0)]))
                .unwrap();
        }
        let wal_path = lock(&store.wal).as_ref().unwrap().path.clone();
        drop(store);
        let mut bytes = std::fs::read(&wal_path).unwrap();
        let at = if damage == "magic" {
            2
        } else {
            bytes.len() / 2
        };
        bytes[at] ^= 0x10;
        std::fs::write(&wal_path, &bytes).unwrap();
        let store = open(opts(dir.path()));
        let kept = summary(&store, "a", 10).len();
        let want = if damage == "magic" { 20 } else { 19 };
        assert_eq!(kept, want, "{damage}: records after the damage are kept");
        assert_eq!(store.stats().corrupt_wal_files, 1, "{damage}");
        let mut aside = wal_path.clone().into_os_string();
        aside.push(".corrupt");
        assert!(
            Path::new(&aside).exists(),
            "{damage}: the damaged file is kept aside"
        );
        // The rewritten file takes new commits, and a reopen finds it clean.
        store.commit(batch(vec![gauge("a", 10, 500, 1.0)])).unwrap();
        drop(store);
        let store = open(opts(dir.path()));
        assert_eq!(summary(&store, "a", 10).len(), want + 1, "{damage}");
        assert_eq!(store.stats().corrupt_wal_files, 0, "{damage}");
    }
}

#[test]
fn corrupt_segments_are_reported_then_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(opts(dir.path()));
    store
        .commit(batch(vec![gauge("a", 10, 0, 1.0), gauge("b", 10, 0, 1.0)]))
        .unwrap();
    store.flush_head().unwrap();
    store.commit(batch(vec![gauge("a", 10, 10, 1.0)])).unwrap();
    store.flush_head().unwrap();
    let paths: Vec<PathBuf> = read(&store.state)
        .segments
        .values()
        .flatten()
        .map(|s| s.path.clone())
        .collect();
    drop(store);
    // Damage a block of the first file: opening works, reading that block is an error.
    let mut bytes = std::fs::read(&paths[0]).unwrap();
    bytes[9] ^= 0xFF;
    std::fs::write(&paths[0], &bytes).unwrap();
    let store = open(opts(dir.path()));
    let a = store.lookup("a").unwrap().id;
    assert!(matches!(
        store.read(a, 10, 0, 100),
        Err(Error::Corrupt { .. })
    ));
    // A query's read answers with the rest and says what is lost, counted.
    let (mut out, mut lost) = (Vec::new(), Vec::new());
    store
        .read_into_lossy(a, 10, 0, 100, &mut out, &mut lost)
        .unwrap();
    assert_eq!(out.len(), 1, "the undamaged file's bucket is still read");
    assert_eq!(lost, vec![(0, 100)]);
    assert_eq!(store.stats().corrupt_blocks, 1);
    // Compaction meets it, sets it aside, and the rest stays readable.
    store.maintain(3 * 86_400).unwrap();
    assert_eq!(store.read(a, 10, 0, 100).unwrap().len(), 1);
    drop(store);
    // A damaged directory: the file is set aside at open.
    let store = open(opts(dir.path()));
    store.maintain(3 * 86_400).unwrap();
    let path = read(&store.state)
        .segments
        .values()
        .flatten()
        .next()
        .unwrap()
        .path
        .clone();
    drop(store);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let store = open(opts(dir.path()));
    assert_eq!(store.stats().segments, 0);
    assert!(
        std::fs::read_dir(dir.path().join("seg"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".corrupt"))
    );
}

#[derive(Debug, Clone)]
enum Op {
    /// `(series, 60 s?, day, slot, value, seconds into the slot)`
    Commit(Vec<(u8, bool, u8, u8, i8, u8)>),
    Flush,
    Maintain(u16),
    Reopen,
    Crash(usize, bool),
    TornTail(Vec<u8>),
    ReadOnly,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec((0u8..6, any::<bool>(), 0u8..3, 0u8..4, any::<i8>(), 0u8..10), 1..12).prop_map(Op::Commit),
        1 => Just(Op::Flush),
        2 => (0u16..48).prop_map(Op::Maintain),
        1 => Just(Op::Reopen),
        2 => (0usize..POINTS.len(), any::<bool>()).prop_map(|(p, m)| Op::Crash(p, m)),
        1 => proptest::collection::vec(any::<u8>(), 1..30).prop_map(Op::TornTail),
        1 => Just(Op::ReadOnly),
    ]
}

fn to_delta(&(series, slow, day, slot, value, dt): &(u8, bool, u8, u8, i8, u8)) -> Delta {
    let kinds = [
        Kind::Counter,
        Kind::Gauge,
        Kind::Timer,
        Kind::Set,
        Kind::Gauge,
        Kind::Counter,
    ];
    let res = if slow { 60 } else { 10 };
    let start = i64::from(day) * 86_400 + i64::from(slot) * res;
    let kind = kinds[series as usize];
    let value = if kind == Kind::Set {
        f64::from(value).abs()
    } else {
        f64::from(value)
    };
    delta(
        &format!("m.s{series}"),
        kind,
        res as u32,
        start,
        value,
        start + i64::from(dt),
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_histories_match_a_model(ops in proptest::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path());
        o.tiers = vec![Tier { resolution: 10, retention: 100 * 365 * 86_400 }];
        let mut store = open(o.clone());
        let mut model = Model::new();
        let mut now = 0i64;
        for op in ops {
            match op {
                Op::Commit(spec) => {
                    let deltas: Vec<Delta> = spec.iter().map(to_delta).collect();
                    apply(&mut model, &deltas);
                    store.commit(batch(deltas)).unwrap();
                }
                Op::Flush => store.flush_head().unwrap(),
                Op::Maintain(hours) => {
                    now += i64::from(hours) * 3600;
                    store.maintain(now).unwrap();
                }
                Op::Reopen => {
                    drop(store);
                    store = open(o.clone());
                }
                Op::Crash(point, via_maintain) => {
                    now += 86_400;
                    let _ = if via_maintain {
                        crash(&store, POINTS[point], |s| s.maintain(now))
                    } else {
                        crash(&store, POINTS[point], Store::flush_head)
                    };
                    drop(store);
                    store = open(o.clone());
                }
                Op::TornTail(bytes) => {
                    let path = lock(&store.wal).as_ref().unwrap().path.clone();
                    drop(store);
                    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                    std::io::Write::write_all(&mut f, &bytes).unwrap();
                    drop(f);
                    store = open(o.clone());
                }
                Op::ReadOnly => check(&Store::open_read_only(o.clone()).unwrap(), &model),
            }
            check(&store, &model);
        }
        drop(store);
        let store = open(o);
        check(&store, &model);
        check_clean(dir.path());
    }
}
