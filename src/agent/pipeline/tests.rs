//! The double-buffered commit's bookkeeping over a real store: what is folded while a commit is
//! in flight goes into the next batch with its cursors; a refused batch comes back in front.
//! (That folding really goes on during a slow commit, end to end: tests/commit_overlap.rs.)

use super::Pipeline;
use crate::aggregate::{Aggregator, Options};
use crate::clock::unix_now;
use crate::inputs::Feed;
use crate::live;
use crate::metric::{Kind, Observation, Series};
use crate::schema::Schemas;
use crate::ship::Ship;
use crate::store::{self, Store};
use std::path::Path;
use std::sync::Arc;

fn pipeline(dir: &Path, read_only: bool) -> Pipeline {
    let schemas = Arc::new(Schemas::default_list());
    let options = store::Options {
        data_dir: dir.to_path_buf(),
        tiers: schemas.resolutions(),
        head_flush_interval: 600,
        head_max_bytes: 1 << 20,
    };
    drop(Store::open(options.clone()).unwrap());
    let store = match read_only {
        true => Store::open_read_only(options),
        false => Store::open(options),
    };
    let store = Arc::new(store.unwrap());
    let ship = Ship::open(&[], dir, &store, schemas.clone(), unix_now()).unwrap();
    Pipeline::new(
        Aggregator::new(schemas, Options::default()),
        store,
        1000,
        std::time::Duration::from_secs(5),
        ship,
        Arc::new(live::Tier::new(Default::default())),
        Arc::new(crate::agent::collect::Held::new(|| false)),
    )
}

/// One counter observation of `series`, the feed ending at `offset` of the log `log`.
fn feed(series: &str, value: f64, time: i64, offset: &str) -> Feed {
    Feed {
        observations: vec![Observation {
            series: Series::parse(series).unwrap(),
            kind: Kind::Counter,
            value,
            time,
        }],
        folded: Vec::new(),
        cursors: vec![("log".into(), offset.as_bytes().to_vec())],
        events: Vec::new(),
        local: false,
    }
}

/// (count, sum) stored of `series` at 10 s in the slot of `time`.
fn stored(store: &Store, series: &str, time: i64) -> (u64, f64) {
    let Some(info) = store.lookup(series) else {
        return (0, 0.0);
    };
    let start = time - time.rem_euclid(10);
    let read = store.read(info.id, 10, start, start + 10).unwrap();
    read.first().map_or((0, 0.0), |(_, b)| (b.count, b.sum))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_folded_during_a_commit_go_into_the_next_batch_with_their_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path(), false);
    let now = unix_now();
    p.fold(feed("a", 1.0, now, "1")).await;
    p.begin_commit().await;
    assert!(p.committing());
    assert_eq!(p.unsaved(), 3, "a's three tiers, in flight");
    p.fold(feed("a", 2.0, now, "2")).await;
    assert_eq!(
        p.cursors["log"], b"2",
        "the newer cursor waits for the next batch"
    );

    p.settle().await.unwrap();
    assert!(!p.committing());
    assert_eq!(p.unsaved(), 0);
    assert_eq!(
        stored(&p.store, "a", now),
        (1, 1.0),
        "only what was in flight"
    );
    assert_eq!(p.store.cursors()["log"], b"1", "with its own cursor");

    p.commit().await.unwrap();
    assert_eq!(
        stored(&p.store, "a", now),
        (2, 3.0),
        "each observation once"
    );
    assert_eq!(p.store.cursors()["log"], b"2");
    assert!(p.cursors.is_empty() && p.pending.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_comes_back_in_front_and_newer_cursors_win() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path(), true); // every commit refused (read-only), retried
    let now = unix_now();
    p.fold(feed("a", 1.0, now, "1")).await;
    p.begin_commit().await;
    let in_flight = p.unsaved();
    // Meanwhile: b folded, and kept as a stop's `release_waiting` keeps buckets.
    p.fold(feed("b", 2.0, now, "2")).await;
    p.pending = p.aggregator.drain();
    let kept_meanwhile = p.pending.len();

    p.settle().await.unwrap();
    assert_eq!(p.unsaved(), in_flight + kept_meanwhile);
    let order: Vec<&str> = p.pending.iter().map(|d| d.series.as_str()).collect();
    let mut want = vec!["a"; in_flight];
    want.extend(vec!["b"; kept_meanwhile]);
    assert_eq!(order, want, "the refused batch first, in its order");
    assert_eq!(
        p.cursors["log"], b"2",
        "the cursor that arrived meanwhile wins"
    );
    assert!(p.commit_failing);
}
