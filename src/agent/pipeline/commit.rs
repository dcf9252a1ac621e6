//! The commit, double-buffered. `begin_commit` drains the aggregator into a batch and hands it
//! to a blocking task (WAL write + `fdatasync`); the loop goes on folding feeds meanwhile (into
//! the aggregator, their cursors into `cursors`: the next batch, with the buckets they made) and
//! `finish_commit` takes the result when the task ends. At most one commit is in flight.
//! Whatever needs a settled view of the data calls `settle` first: a live attach (its bridge
//! reads the store, `pending` and the aggregator, and the batch in flight is in none of them), a
//! reload (inputs restart from the store's cursors and `cursors`), the stop.

use super::{Pipeline, heap};
use crate::clock::unix_now;
use crate::ship::Staged;
use crate::store::{self, Batch};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::task::{JoinError, JoinHandle};

/// What the blocking commit task answers (`Store::try_commit`'s result).
pub(in crate::agent) type Outcome = Result<Result<(), (store::Error, Option<Batch>)>, JoinError>;

/// How often freed heap memory is given back to the kernel: about every head flush and
/// compaction, which free the most.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The commit in flight.
pub(super) struct InFlight {
    task: JoinHandle<Result<(), (store::Error, Option<Batch>)>>,
    /// What the outputs take of the batch once it is durable.
    staged: Staged,
    /// How many of the batch's cursors are the inputs' (the outputs' follow).
    input_cursors: usize,
    /// The batch's buckets (not durable until it lands).
    pub(super) deltas: usize,
    started: Instant,
    /// When it began: the outputs close their slots as of then, as if it took no time.
    now: i64,
}

impl Pipeline {
    /// A commit is in flight.
    pub(in crate::agent) fn committing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The commit of a tick: everything folded is committed when something from outside waits
    /// to be durable (observations or cursors of an input, a batch to retry, new series
    /// waiting) or a slot of the finest tier closed since the last drain. Otherwise only the
    /// host's own samples (system collectors, `tally.*`) are folded, and they stay in the
    /// aggregator until their slot closes: a `kill -9` loses at most those of the open slot,
    /// not a WAL write and `fdatasync` every second (README, `commit_interval`).
    pub(in crate::agent) async fn tick(&mut self) {
        self.take_held();
        let now = unix_now();
        if self.only_local_since_drain(now) {
            self.spool(now).await;
            self.maintain(now);
            return;
        }
        self.begin_commit().await;
    }

    /// Nothing but local samples folded since the last drain, within the same finest slot.
    fn only_local_since_drain(&self, now: i64) -> bool {
        !self.waits_to_be_durable() && self.drained_slot == Some(now.div_euclid(self.slot_secs()))
    }

    /// Something from outside waits for a commit: observations or cursors of an input, a
    /// batch to retry, new series waiting for admission.
    pub(in crate::agent) fn waits_to_be_durable(&self) -> bool {
        self.outside
            || !self.pending.is_empty()
            || !self.cursors.is_empty()
            || self.admit.waiting() > 0
    }

    /// The loop ticks every `commit_interval` (`pace.rs`): something waits to be durable, live
    /// rings are to be swept, or outputs close slots.
    pub(in crate::agent) fn busy(&self) -> bool {
        self.waits_to_be_durable()
            || self.live.watched() > 0
            || self.live.connections() > 0
            || self.ship.has_outputs()
    }

    /// The finest slot any schema closes: a commit at each of its ends makes every closed
    /// bucket of local samples durable.
    pub(in crate::agent) fn slot_secs(&self) -> i64 {
        let gcd = |a: u32, b: u32| {
            let (mut a, mut b) = (a, b);
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let tiers = self.aggregator.schemas().resolutions();
        i64::from(tiers.iter().map(|t| t.resolution).fold(0, gcd).max(1))
    }

    /// Drains what was folded since the last commit and starts committing it (with the cursors
    /// of the feeds it came from) on a blocking thread; returns without waiting for it. An
    /// idle daemon does no I/O here. Call only with no commit in flight ([`Self::settle`]).
    pub(in crate::agent) async fn begin_commit(&mut self) {
        debug_assert!(self.in_flight.is_none(), "one commit in flight at most");
        self.take_held();
        // One interval's drain is committed whole however large; new series may have to wait
        // (admit.rs). Only buckets kept for a retry are bounded here.
        let store = self.store.clone();
        self.outside = false;
        self.drained_slot = Some(unix_now().div_euclid(self.slot_secs()));
        let fresh = self.aggregator.drain();
        let fresh = self.admit.admit(&store, fresh, Instant::now());
        self.pending.extend(fresh);
        let now = unix_now();
        if self.pending.is_empty() && self.cursors.is_empty() {
            // Nothing to make durable: an idle daemon does no I/O here (slots still close).
            self.spool(now).await;
            self.maintain(now);
            return;
        }
        let deltas = std::mem::take(&mut self.pending);
        let mut cursors: Vec<(String, Vec<u8>)> = self.cursors.drain().collect();
        // What the outputs take of this commit; theirs once the commit is durable. Late data
        // also goes into the outputs' cursors, so a crash before the spool append loses none.
        let mut staged = self.ship.stage(&deltas);
        let input_cursors = cursors.len();
        cursors.extend(staged.take_cursors());
        let in_flight = deltas.len();
        let batch = Batch { deltas, cursors };
        let task = tokio::task::spawn_blocking(move || {
            #[cfg(feature = "test-hooks")]
            hold_commit();
            store.try_commit(batch)
        });
        self.in_flight = Some(InFlight {
            task,
            staged,
            input_cursors,
            deltas: in_flight,
            started: Instant::now(),
            now,
        });
    }

    /// Waits until the commit in flight ends (never, with none: a `select!` branch guarded by
    /// [`Self::committing`]). Cancel-safe: the commit stays in flight.
    pub(in crate::agent) async fn commit_ended(&mut self) -> Outcome {
        match &mut self.in_flight {
            Some(f) => (&mut f.task).await,
            None => std::future::pending().await,
        }
    }

    /// Waits for the commit in flight, if any, and takes its result.
    pub(in crate::agent) async fn settle(&mut self) -> Result<(), store::Error> {
        if !self.committing() {
            return Ok(());
        }
        let outcome = self.commit_ended().await;
        self.finish_commit(outcome).await
    }

    /// A whole commit: the one in flight, then one of everything folded since (the stop).
    pub(in crate::agent) async fn commit(&mut self) -> Result<(), store::Error> {
        self.settle().await?;
        self.begin_commit().await;
        self.settle().await
    }

    /// Takes the result of the commit that ended: the outputs get what became durable, a failed
    /// batch is kept for a retry (bounded), and closed slots are spooled. `Err` only when going on
    /// is impossible (an fsync failed: the loop ends).
    pub(in crate::agent) async fn finish_commit(
        &mut self,
        outcome: Outcome,
    ) -> Result<(), store::Error> {
        let Some(done) = self.in_flight.take() else {
            return Ok(());
        };
        match outcome {
            Ok(Ok(())) => {
                self.commit_failing = false;
                self.last_commit_ms = Some(done.started.elapsed().as_secs_f64() * 1000.0);
                self.ship.apply(done.staged);
            }
            Ok(Err((store::Error::Invalid(reason), batch))) => {
                // Retrying cannot help: drop and count.
                let dropped = batch.map_or(0, |b| b.deltas.len());
                self.commit_errors += 1;
                self.dropped_deltas += dropped as u64;
                tracing::error!(%reason, dropped, "The store rejected a batch; its buckets are dropped.");
            }
            Ok(Err((error @ store::Error::Poisoned(_), _))) => {
                // An fsync failed: what the kernel holds is unknown. Stop and let recovery
                // (WAL replay on the next start) decide, as databases do.
                return Err(error);
            }
            Ok(Err((error, batch))) => {
                self.commit_errors += 1;
                self.commit_failing = true;
                let Some(batch) = batch else {
                    tracing::error!(%error, "Commit failed after its WAL write.");
                    return Err(error);
                };
                tracing::error!(%error, deltas = batch.deltas.len(), "Commit failed; will retry.");
                self.retry(batch, done.input_cursors, &error);
            }
            Err(error) => {
                self.commit_errors += 1;
                tracing::error!(%error, "Commit task failed.");
            }
        }
        self.spool(done.now).await;
        self.maintain(done.now);
        Ok(())
    }

    /// Keeps a batch the store refused for the next commit: its buckets in front of any kept
    /// meanwhile (so they commit in the order they were made), the oldest dropped past
    /// `max_pending`; cursors that arrived while it was in flight win over its own.
    fn retry(&mut self, batch: Batch, input_cursors: usize, error: &store::Error) {
        let mut kept = batch.deltas;
        kept.append(&mut self.pending);
        self.pending = kept;
        if self.pending.len() > self.max_pending {
            let excess = self.pending.len() - self.max_pending;
            self.pending.drain(..excess);
            self.dropped_deltas += excess as u64;
            tracing::error!(dropped = excess, %error,
                "The store refuses commits; past storage.max_pending_buckets kept for retry, the oldest are dropped.");
        }
        // The outputs' cursors (after the inputs') are made again from the retried deltas.
        let mut cursors = batch.cursors;
        cursors.truncate(input_cursors);
        for (k, v) in cursors {
            self.cursors.entry(k).or_insert(v);
        }
    }

    /// Appends the slots that closed to the outputs' spools (one fsync per output with
    /// something to append).
    async fn spool(&mut self, now: i64) {
        let closing = self.ship.close(now, self.store.last_event_id());
        if closing.is_empty() {
            return;
        }
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || closing.write(&store)).await {
            Ok(failed) => self.ship.written(failed),
            Err(error) => tracing::error!(%error, "Spool task failed."),
        }
    }

    /// Retention, head flush and compaction, off the commit path: a compaction can take a
    /// second, and commits go on meanwhile. At most one runs at a time.
    fn maintain(&mut self, now: i64) {
        if self
            .last_maintain
            .is_some_and(|t| t.elapsed() < self.maintain_every)
            || self.maintaining.swap(true, Relaxed)
        {
            return;
        }
        self.last_maintain = Some(Instant::now());
        let trim = self.last_trim.is_none_or(|t| t.elapsed() >= TRIM_EVERY);
        if trim {
            self.last_trim = Some(Instant::now());
        }
        let (store, busy, errors, heap_bytes) = (
            self.store.clone(),
            self.maintaining.clone(),
            self.maintain_errors.clone(),
            self.heap_bytes.clone(),
        );
        tokio::task::spawn_blocking(move || {
            if let Err(error) = store.maintain(now) {
                errors.fetch_add(1, Relaxed);
                tracing::error!(%error, "Store maintenance failed; will retry.");
            }
            if trim {
                let started = Instant::now();
                heap::trim();
                let usage = heap::usage();
                heap_bytes.store(usage.heap, Relaxed);
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    rss = usage.rss,
                    heap = usage.heap,
                    "Heap trimmed."
                );
            }
            busy.store(false, Relaxed);
        });
    }
}

/// Test hook, only in builds with the `test-hooks` feature (`cargo test` builds; never a release
/// build, see Cargo.toml): while the file `TALLY_TEST_HOLD_COMMIT` names exists, a commit waits
/// before its WAL write, and `<that file>.held` exists meanwhile, so a test can watch what the
/// loop does during a slow commit (tests/commit_overlap.rs).
#[cfg(feature = "test-hooks")]
fn hold_commit() {
    let Some(path) = std::env::var_os("TALLY_TEST_HOLD_COMMIT") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    if !path.exists() {
        return;
    }
    let mut held = path.clone().into_os_string();
    held.push(".held");
    let _ = std::fs::write(&held, b"");
    while path.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = std::fs::remove_file(&held);
}
