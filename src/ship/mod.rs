//! Shipping closed buckets to remote stores: another tally (every field, merged exactly),
//! carbon destinations, and Prometheus remote_write, each output through its own disk spool.
//!
//! The pipeline hands [`Ship`] the deltas of every commit, after the store made them durable.
//! Each output keeps the buckets of its tier that are still open in memory; once a slot ended
//! `grace` seconds ago it is *closed*: all closed buckets become one [`record::Record`] whose
//! `horizon` says up to when everything is in, appended to the output's [`spool::Spool`] with
//! one fsync. A sender task per output (`send`) reads the spool in order, delivers, retries
//! with backoff and acknowledges. A slow or dead remote only makes its own spool grow, up to
//! its bound; ingest and the other outputs go on.
//!
//! Crash safety: what is open lives only in memory, but it is also in the store. At start,
//! [`Ship::open`] reads from the store every bucket of each output's tier that ends after the
//! spool's last horizon, so whatever was committed and not yet spooled is spooled again —
//! exactly once, because a record and its horizon are appended atomically. Data arriving for a
//! slot already closed (late) is counted in `tally.ship.<output>.late` and sent as an
//! amendment: tally gets the delta (merged exactly), carbon the slot's whole bucket read back
//! from the store (it overwrites the point). remote_write sends none: Prometheus refuses a
//! second value for a time it has and rolls back the whole request. Until its record is
//! appended, an amendment also rides in a store cursor committed with it (`amend`), which
//! [`Ship::open`] reads after a crash.
//!
//! A `tally` output also ships the store's events. Event ids are dense and durable, so each
//! record says up to which id the events are in (`record::Events::through`); new ones are read
//! from the store at each close, and [`Ship::open`] continues after the newest record's.

/// Graphite plaintext with in-memory queues, for the StatsD input's etsy flush (`statsd:` on a
/// carbon output); bucket outputs go through the spool and [`plaintext`] instead.
pub mod amend;
pub mod carbon;
pub mod client;
pub mod naming;
pub mod plaintext;
pub mod record;
pub mod remote_write;
pub mod ring;
mod send;
pub mod spool;
mod stage;
pub mod tally;

pub use send::{Client, run_sender};

use crate::aggregate::Delta;
use crate::config::outputs::{Spooled as OutputConfig, Target};
use crate::metric::Series;
use crate::schema::Schemas;
use crate::store::Store;
use record::Record;
use rustc_hash::FxHashMap;
use spool::Spool;
use stage::{OpenSeries, Stage, absorb};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("output {output}: {source}")]
    Spool {
        output: String,
        source: spool::Error,
    },
    #[error("output {output}: {reason}")]
    Client { output: String, reason: String },
    #[error("output {output}: {source}")]
    Store {
        output: String,
        source: crate::store::Error,
    },
}

/// Counters of one output, read by the pipeline's self-metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Buckets delivered.
    pub sent: AtomicU64,
    /// Requests (or connections) retried after a failure.
    pub retried: AtomicU64,
    /// Buckets given up on: refused by the remote, over the spool bound, or too large.
    pub dropped: AtomicU64,
    /// Buckets that arrived after their slot closed (sent as amendments).
    pub late: AtomicU64,
    pub errors: AtomicU64,
    /// Unix time of the last error, 0 for none.
    pub last_error: AtomicU64,
    pub records: AtomicU64,
}

/// One output as the stage and its sender share it.
pub struct Output {
    pub config: OutputConfig,
    pub spool: Mutex<Spool>,
    pub stats: Stats,
    pub wake: tokio::sync::Notify,
}

impl Output {
    pub fn spool(&self) -> MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self) {
        self.stats.errors.fetch_add(1, Relaxed);
        self.stats
            .last_error
            .store(crate::clock::unix_now().max(0) as u64, Relaxed);
    }
}

/// Which outputs ship a series, and at which resolution each.
#[derive(Debug, Clone)]
struct Route {
    /// Per output: the resolution it ships for this series, 0 for none.
    resolution: Vec<u32>,
}

/// The deltas of one commit that each output takes, kept until the commit succeeded, and the
/// store cursors the commit must carry (the outputs' amendments; see `amend`).
#[derive(Default)]
pub struct Staged {
    deltas: Vec<Vec<Delta>>,
    cursors: Vec<(String, Vec<u8>)>,
}

impl Staged {
    /// The cursors to commit with the deltas.
    pub fn take_cursors(&mut self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.cursors)
    }
}

/// Records to append, made by [`Ship::close`]; [`Closing::write`] does the I/O.
pub struct Closing {
    work: Vec<Work>,
}

/// One record to complete and append.
struct Work {
    output: Arc<Output>,
    record: Record,
    /// Indexes of amendment entries (carbon and remote_write complete them from the store).
    amended: Vec<usize>,
    /// Events with `after < id <= upto` to read from the store into the record.
    events: Option<(u64, u64)>,
}

/// Most buckets a failed append keeps for the next try before they are dropped.
const MAX_RETRY_BUCKETS: usize = 2_000_000;

pub struct Ship {
    stages: Vec<Stage>,
    schemas: Arc<Schemas>,
    routes: FxHashMap<Series, Route>,
}

fn route(schemas: &Schemas, outputs: &[&OutputConfig], series: &Series) -> Route {
    let schema = schemas.for_name(series.as_str());
    let path = series.path();
    Route {
        resolution: outputs
            .iter()
            .map(|o| {
                let pass =
                    (o.include.is_empty() || o.include.matches(path)) && !o.exclude.matches(path);
                match schema.tiers.get(o.tier) {
                    Some(t) if pass => t.resolution,
                    _ => 0,
                }
            })
            .collect(),
    }
}

impl Ship {
    /// Opens every output's spool under `data_dir/spool/<name>/` and spools again, from the
    /// store, whatever was committed but not spooled before the last stop or crash. Blocking;
    /// call it before the pipeline's first commit.
    pub fn open(
        outputs: &[OutputConfig],
        data_dir: &Path,
        store: &Store,
        schemas: Arc<Schemas>,
        now: i64,
    ) -> Result<Ship, Error> {
        let configs: Vec<&OutputConfig> = outputs.iter().collect();
        let all = store.all_series();
        let cursors = store.cursors();
        let mut stages = Vec::new();
        for (i, config) in outputs.iter().enumerate() {
            let dir = data_dir.join("spool").join(&config.name);
            let (spool, recovery) =
                Spool::open(&dir, config.spool_max_bytes).map_err(|source| Error::Spool {
                    output: config.name.clone(),
                    source,
                })?;
            if recovery.torn_bytes > 0 {
                tracing::warn!(output = %config.name, bytes = recovery.torn_bytes,
                    "Spool: a torn last record was cut off (a crash during its append).");
            }
            let close_to = now - config.grace;
            let horizon = spool.horizon().unwrap_or(close_to);
            // A new spool ships events from now on, as it does buckets.
            let events_through = matches!(config.target, Target::Tally { .. }).then(|| {
                spool
                    .events_through()
                    .unwrap_or_else(|| store.last_event_id())
            });
            let output = Arc::new(Output {
                config: config.clone(),
                spool: Mutex::new(spool),
                stats: Stats::default(),
                wake: tokio::sync::Notify::new(),
            });
            let mut stage = Stage {
                output,
                open: FxHashMap::default(),
                horizon,
                amend: Vec::new(),
                unspooled: Vec::new(),
                retry: None,
                events_through,
            };
            if let Some(value) = cursors.get(&amend::key(&config.name)) {
                stage.recover_amendments(store, value);
            }
            stage.start_spool().map_err(|source| Error::Spool {
                output: config.name.clone(),
                source,
            })?;
            let mine: Vec<(crate::store::SeriesInfo, u32)> = all
                .iter()
                .filter_map(|s| {
                    let r = route(&schemas, &configs, &s.series).resolution[i];
                    (r > 0).then(|| (s.clone(), r))
                })
                .collect();
            stage
                .catch_up(store, &mine, close_to)
                .map_err(|source| Error::Store {
                    output: config.name.clone(),
                    source,
                })?;
            stages.push(stage);
        }
        Ok(Ship {
            stages,
            schemas,
            routes: FxHashMap::default(),
        })
    }

    /// Any output configured (their slots close on the loop's ticks).
    pub fn has_outputs(&self) -> bool {
        !self.stages.is_empty()
    }

    pub fn outputs(&self) -> Vec<Arc<Output>> {
        self.stages.iter().map(|s| s.output.clone()).collect()
    }

    /// New schemas (on reload) may route series differently.
    pub fn set_schemas(&mut self, schemas: Arc<Schemas>) {
        self.schemas = schemas;
        self.routes.clear();
    }

    /// Picks out, before a commit, the deltas each output takes (filters, tier).
    pub fn stage(&mut self, deltas: &[Delta]) -> Staged {
        if self.stages.is_empty() {
            return Staged::default();
        }
        if self.routes.len() > 4_000_000 {
            self.routes.clear();
        }
        let configs: Vec<&OutputConfig> = self.stages.iter().map(|s| &s.output.config).collect();
        let mut out = vec![Vec::new(); self.stages.len()];
        for d in deltas {
            let r = match self.routes.get(&d.series) {
                Some(r) => r,
                None => self
                    .routes
                    .entry(d.series.clone())
                    .or_insert_with(|| route(&self.schemas, &configs, &d.series)),
            };
            for (i, &res) in r.resolution.iter().enumerate() {
                if res == d.resolution {
                    out[i].push(d.clone());
                }
            }
        }
        let mut cursors = Vec::new();
        for (stage, deltas) in self.stages.iter().zip(&out) {
            if matches!(stage.output.config.target, Target::RemoteWrite { .. }) {
                continue;
            }
            let late = deltas
                .iter()
                .filter(|d| d.start + i64::from(d.resolution) <= stage.horizon);
            let mut late = late.peekable();
            if late.peek().is_none() {
                // The cursor in the store (if any) still holds what is not appended.
                continue;
            }
            let all: Vec<amend::Late> = stage
                .unspooled
                .iter()
                .cloned()
                .chain(late.map(|d| {
                    (
                        d.series.clone(),
                        d.kind,
                        d.resolution,
                        d.start,
                        d.bucket.clone(),
                    )
                }))
                .collect();
            let (epoch, next) = {
                let sp = stage.output.spool();
                (sp.epoch(), sp.next_seq())
            };
            cursors.push((
                amend::key(&stage.output.config.name),
                amend::encode(epoch, next, stage.horizon, &all),
            ));
        }
        Staged {
            deltas: out,
            cursors,
        }
    }

    /// The commit that carried the staged deltas succeeded: they become part of the open
    /// buckets (or amendments, when their slot is already closed).
    pub fn apply(&mut self, staged: Staged) {
        for (stage, deltas) in self.stages.iter_mut().zip(staged.deltas) {
            for d in deltas {
                let end = d.start + i64::from(d.resolution);
                if end <= stage.horizon {
                    stage.output.stats.late.fetch_add(1, Relaxed);
                    if matches!(stage.output.config.target, Target::RemoteWrite { .. }) {
                        // Prometheus refuses a second value for a time it has, and rolls
                        // back the whole request with it: late data is counted, not sent.
                        continue;
                    }
                    let late = (d.series, d.kind, d.resolution, d.start, d.bucket);
                    stage.unspooled.push(late.clone());
                    stage.amend.push(late);
                    continue;
                }
                stage
                    .open
                    .entry(d.series)
                    .or_insert_with(|| OpenSeries::new(d.kind, d.resolution))
                    .add(d.start, d.bucket);
            }
        }
    }

    /// Takes from each output the buckets whose slot ended `grace` ago, plus amendments, and
    /// (`tally` outputs) the events up to `last_event_id`, the store's newest.
    pub fn close(&mut self, now: i64, last_event_id: u64) -> Closing {
        let mut work = Vec::new();
        for stage in &mut self.stages {
            if let Some(w) = stage.close(now, last_event_id) {
                work.push(w);
            }
        }
        Closing { work }
    }

    /// After [`Closing::write`]: outputs whose record was appended (or dropped and counted)
    /// have no amendments left to append; records whose append failed go back to their output,
    /// to be tried with the next one.
    pub fn written(&mut self, failed: Vec<(Arc<Output>, Record)>) {
        for stage in &mut self.stages {
            if !failed.iter().any(|(o, _)| Arc::ptr_eq(o, &stage.output)) {
                stage.unspooled.clear();
            }
        }
        for (output, rec) in failed {
            let Some(stage) = self
                .stages
                .iter_mut()
                .find(|s| Arc::ptr_eq(&s.output, &output))
            else {
                continue;
            };
            let mut rec = rec;
            if let Some(mut older) = stage.retry.take() {
                absorb(&mut older, rec);
                rec = older;
            }
            if rec.points() as usize > MAX_RETRY_BUCKETS {
                stage.unspooled.clear();
                output.stats.dropped.fetch_add(rec.points(), Relaxed);
                tracing::error!(output = %output.config.name, buckets = rec.points(),
                    "The spool refuses appends; buckets dropped.");
                continue;
            }
            stage.retry = Some(rec);
        }
    }
}

impl Closing {
    pub fn is_empty(&self) -> bool {
        self.work.is_empty()
    }

    /// Completes amendments from the store (carbon, remote_write), adds events (tally) and
    /// appends each record to its spool. Blocking. Returns the records that could not be
    /// appended.
    pub fn write(self, store: &Store) -> Vec<(Arc<Output>, Record)> {
        let mut failed = Vec::new();
        for work in self.work {
            let Work {
                output,
                record: mut rec,
                amended,
                events,
            } = work;
            if let Some((after, upto)) = events {
                let list = store.events_by_id(after, upto);
                rec.events.get_or_insert_default().list.extend(list);
            }
            #[cfg(feature = "test-hooks")]
            stop_before_amendment(&amended);
            complete_amendments(store, &output, &mut rec, &amended);
            let points = rec.points();
            let appended = output.spool().append(rec.clone());
            match appended {
                Ok(_) => {
                    output.stats.records.fetch_add(1, Relaxed);
                    output.wake.notify_one();
                }
                Err(spool::Error::TooLarge(bytes)) => {
                    output.stats.dropped.fetch_add(points, Relaxed);
                    output.error();
                    tracing::error!(output = %output.config.name, bytes, buckets = points,
                        "A record is larger than the spool allows; dropped.");
                }
                Err(error) => {
                    output.error();
                    tracing::error!(output = %output.config.name, %error, "Spool append failed; will retry.");
                    failed.push((output, rec));
                }
            }
        }
        failed
    }
}

/// carbon and remote_write amendments are the slot's whole bucket, read back from the store
/// (`tally` takes the late delta, merged on arrival).
fn complete_amendments(store: &Store, output: &Output, rec: &mut Record, amended: &[usize]) {
    if matches!(output.config.target, Target::Tally { .. }) {
        return;
    }
    for &i in amended {
        let e = &mut rec.entries[i];
        let Some(info) = store.lookup(e.series.as_str()) else {
            continue;
        };
        for (start, bucket) in e.buckets.iter_mut() {
            if let Ok(mut got) = store.read(info.id, e.resolution, *start, *start + 1)
                && let Some((_, full)) = got.pop()
            {
                *bucket = full;
            }
        }
    }
}

/// Test hook, only in builds with the `test-hooks` feature (`cargo test` builds; never a release
/// build, see Cargo.toml): with `TALLY_TEST_STOP_BEFORE_AMENDMENT` set, the daemon stops itself
/// (SIGSTOP) just before it appends a record with amendments, after their commit, so a test can
/// `kill -9` it exactly there (tests/ship.rs).
#[cfg(feature = "test-hooks")]
fn stop_before_amendment(amended: &[usize]) {
    use rustix::process::{Signal, getpid, kill_process};
    if !amended.is_empty() && std::env::var_os("TALLY_TEST_STOP_BEFORE_AMENDMENT").is_some() {
        // SIGSTOP cannot be caught: the process stops here until it is killed or continued.
        let _ = kill_process(getpid(), Signal::STOP);
    }
}

#[cfg(test)]
mod tests;
