//! The live tier: sub-second slots of the series someone watches, in memory only.
//!
//! Every feed the pipeline folds is also offered here ([`Tier::feed`]); while no ring exists
//! that costs one atomic load and no allocation. A ring ([`ring::Ring`]) is made when a
//! series is first watched ([`Tier::attach`], run by the pipeline task so the join with the
//! store is exact) and freed `linger` after its last watcher left ([`Tier::sweep`]).
//!
//! An observation goes into the slot of its arrival time (the clock read under the ring's
//! lock) clamped into the second of its own `time`, so the live slots of a second merge
//! exactly into the stored 1 s (and coarser) buckets. Observations whose time is more than
//! `max_lag` from their arrival stay out, counted in `late`.
//!
//! Above: `agent` (feeds, attaches, sweeps) and `http::stream` (reads). Below: `metric`,
//! `aggregate`, `query::View`.

mod compact;
pub mod percentiles;
pub mod read;
pub mod request;
pub mod ring;
pub mod source;

pub use read::{Frame, Reader, Watched};
pub use ring::{Join, Ring, Slot};

use crate::aggregate::Bucket;
use crate::config;
use crate::inputs::Feed;
use crate::metric::{Kind, Observation, Series};
use percentiles::Input;
use rustc_hash::FxHashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot, watch};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("too many live connections (live.max_connections is {0}); try again later")]
    TooManyConnections(usize),
    #[error(
        "{0} series: more than one connection may watch (live.max_series_per_connection is {1})"
    )]
    TooManySeries(usize, usize),
    #[error(
        "the live tier watches {0} series already and may watch at most {1} (live.max_watched_series)"
    )]
    TooManyWatched(usize, usize),
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

/// Counters for `tally.live.*`.
#[derive(Debug, Default)]
pub struct Stats {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub resets: AtomicU64,
    /// Observations of watched series kept out: too far from their arrival, or for a slot
    /// the ring no longer (or not yet) has.
    pub late: AtomicU64,
}

/// A request to watch series, answered by the pipeline task (see [`Tier::serve_attach`]).
pub struct Attach {
    series: Vec<(Series, Kind)>,
    reply: oneshot::Sender<Result<Vec<Arc<Ring>>, Error>>,
}

/// How a watch learns what the store held of the open stored slot: `(join_ms, bridge)` for a
/// series whose ring starts at `live_ms`.
pub type Bridge<'a> = &'a mut dyn FnMut(&Series, i64) -> (i64, Option<Bucket>);

pub struct Tier {
    pub settings: config::Live,
    /// Rings that exist: 0 means the feed path returns at once.
    rings_len: AtomicUsize,
    rings: RwLock<FxHashMap<Series, Arc<Ring>>>,
    pub stats: Stats,
    connections: AtomicUsize,
    attach_tx: mpsc::Sender<Attach>,
    attach_rx: std::sync::Mutex<Option<mpsc::Receiver<Attach>>>,
    stop: watch::Sender<bool>,
}

/// Unix milliseconds now (0 before 1970). The live tier stamps arrival with it.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where (ms) an observation made at `time` (Unix seconds) that arrived at `now_ms` goes: its
/// arrival clamped into its own second; `None` when it is more than `lag_ms` away from it.
pub fn placement(time: i64, now_ms: i64, lag_ms: i64) -> Option<i64> {
    let lo = time.saturating_mul(1000);
    let hi = lo.saturating_add(999);
    (now_ms >= lo.saturating_sub(lag_ms) && now_ms <= hi.saturating_add(lag_ms))
        .then(|| now_ms.clamp(lo, hi))
}

impl Tier {
    pub fn new(settings: config::Live) -> Tier {
        // Watch requests wait here for the pipeline task; a full queue answers 503.
        let (attach_tx, attach_rx) = mpsc::channel(64);
        Tier {
            settings,
            rings_len: AtomicUsize::new(0),
            rings: RwLock::new(FxHashMap::default()),
            stats: Stats::default(),
            connections: AtomicUsize::new(0),
            attach_tx,
            attach_rx: std::sync::Mutex::new(Some(attach_rx)),
            stop: watch::channel(false).0,
        }
    }

    /// The receiving end of watch requests, for the pipeline task (once).
    pub fn take_attach_queue(&self) -> Option<mpsc::Receiver<Attach>> {
        self.attach_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Series watched now (rings that exist, lingering ones included).
    pub fn watched(&self) -> usize {
        self.rings_len.load(Relaxed)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Relaxed)
    }

    /// Is any series under `prefix` (a path; `a.b` covers `a.b`, `a.b.c` and `a.b;k=v`)
    /// watched? One atomic load while nothing is; for the collectors, to sample faster only
    /// while someone watches.
    pub fn watching_prefix(&self, prefix: &str) -> bool {
        if self.rings_len.load(Relaxed) == 0 {
            return false;
        }
        let rings = self.rings.read().unwrap_or_else(|e| e.into_inner());
        rings.keys().any(|s| {
            let name = s.as_str();
            name.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', ';']))
        })
    }

    /// Offers a folded feed to the watched rings.
    #[inline]
    pub fn feed(&self, feed: &Feed) {
        if self.rings_len.load(Relaxed) == 0 {
            return;
        }
        self.feed_watched(&feed.folded, &feed.observations);
    }

    /// Offers observations made inside the agent (the `tally.*` self-metrics).
    #[inline]
    pub fn observe(&self, observations: &[Observation]) {
        if self.rings_len.load(Relaxed) == 0 {
            return;
        }
        self.feed_watched(&[], observations);
    }

    /// Buckets another tally shipped (`/api/ingest`), as it sent them: a 1 s bucket is placed
    /// like the observations of its second (so only within `max_lag` of it; a shipped slot
    /// comes `grace` after it closed, by default too late); a coarser one fits no live slot.
    /// What is not placed is counted late.
    pub fn ingest(&self, deltas: &[crate::aggregate::Delta]) {
        if self.rings_len.load(Relaxed) == 0 {
            return;
        }
        let rings = self.rings.read().unwrap_or_else(|e| e.into_inner());
        for d in deltas {
            if let Some(ring) = rings.get(&d.series) {
                if d.resolution != 1 {
                    self.stats.late.fetch_add(d.bucket.count, Relaxed);
                    continue;
                }
                let sketch = match &d.bucket.extra {
                    crate::aggregate::Extra::Sketch(s) => Some(Input::Sketch(s)),
                    _ => None,
                };
                self.place(ring, d.start, &Slot::of_bucket(&d.bucket), sketch);
            }
        }
    }

    #[cold]
    fn feed_watched(&self, folded: &[crate::aggregate::Folded], observations: &[Observation]) {
        let rings = self.rings.read().unwrap_or_else(|e| e.into_inner());
        for f in folded {
            if let Some(ring) = rings.get(&f.series) {
                let sketch = match &f.bucket.extra {
                    crate::aggregate::Extra::Sketch(s) => Some(Input::Sketch(s)),
                    _ => None,
                };
                self.place(
                    ring,
                    f.bucket.last_time,
                    &Slot::of_bucket(&f.bucket),
                    sketch,
                );
            }
        }
        for o in observations {
            if !o.value.is_finite() {
                continue;
            }
            if let Some(ring) = rings.get(&o.series) {
                let value = (ring.kind == Kind::Timer).then_some(Input::Value(o.value));
                self.place(ring, o.time, &Slot::of_value(o.value), value);
            }
        }
    }

    /// Places values observed at `time` (Unix seconds) into `ring`, at their arrival clamped
    /// into that second.
    fn place(&self, ring: &Ring, time: i64, slot: &Slot, sketch: Option<Input<'_>>) {
        let mut slots = ring.lock();
        let now = now_ms();
        let placed = placement(time, now, self.settings.max_lag_ms as i64)
            .is_some_and(|at| slots.add(at, now, slot, sketch));
        if !placed {
            self.stats.late.fetch_add(slot.count, Relaxed);
        }
    }

    /// Watches `series`: their rings (made when missing). Answered by the pipeline task when
    /// one runs (exact join), else here without a bridge.
    pub async fn attach(&self, series: Vec<(Series, Kind)>) -> Result<Vec<Arc<Ring>>, Error> {
        if *self.stop.borrow() {
            return Err(Error::ShuttingDown);
        }
        let (reply, answer) = oneshot::channel();
        match self.attach_tx.try_send(Attach { series, reply }) {
            Ok(()) => answer.await.unwrap_or(Err(Error::ShuttingDown)),
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err(Error::TooManyConnections(self.settings.max_connections))
            }
            Err(mpsc::error::TrySendError::Closed(a)) => {
                let result = self.attach_now(a.series, &mut |_, live| (live, None));
                Ok(result?)
            }
        }
    }

    /// Answers one watch request (in the pipeline task, between folds).
    pub fn serve_attach(&self, request: Attach, bridge: Bridge<'_>) {
        let result = self.attach_now(request.series, bridge);
        let _ = request.reply.send(result);
    }

    fn attach_now(
        &self,
        series: Vec<(Series, Kind)>,
        bridge: Bridge<'_>,
    ) -> Result<Vec<Arc<Ring>>, Error> {
        let mut rings = self.rings.write().unwrap_or_else(|e| e.into_inner());
        let new = series
            .iter()
            .filter(|(s, _)| !rings.contains_key(s))
            .count();
        let max = self.settings.max_watched_series;
        if rings.len() + new > max {
            return Err(Error::TooManyWatched(rings.len(), max));
        }
        let step = self.settings.step_ms as i64;
        let live_ms = now_ms().div_euclid(step) * step;
        let mut out = Vec::with_capacity(series.len());
        for (s, kind) in series {
            let ring = rings.entry(s).or_insert_with_key(|s| {
                let (join_ms, bridge) = bridge(s, live_ms);
                let join = Join {
                    join_ms,
                    live_ms,
                    bridge,
                };
                Arc::new(Ring::new(
                    s.clone(),
                    kind,
                    join,
                    self.settings.step_ms,
                    self.settings.window_ms,
                    self.settings.max_lag_ms,
                ))
            });
            ring.watchers.fetch_add(1, Relaxed);
            out.push(ring.clone());
        }
        self.rings_len.store(rings.len(), Relaxed);
        Ok(out)
    }

    /// A watcher leaves these rings; each lingers `linger` after its last one left.
    pub fn detach(&self, rings: &[Arc<Ring>]) {
        let now = now_ms();
        for r in rings {
            if r.watchers.fetch_sub(1, Relaxed) == 1 {
                r.left_ms.store(now, Relaxed);
            }
        }
    }

    /// Frees the rings nobody watched for `linger` (called by the agent every commit tick).
    pub fn sweep(&self, now_ms: i64) {
        let linger = self.settings.linger_ms as i64;
        let idle =
            |r: &Ring| r.watchers.load(Relaxed) == 0 && now_ms - r.left_ms.load(Relaxed) >= linger;
        if self.rings_len.load(Relaxed) == 0 {
            return;
        }
        {
            let rings = self.rings.read().unwrap_or_else(|e| e.into_inner());
            if !rings.values().any(|r| idle(r)) {
                return;
            }
        }
        let mut rings = self.rings.write().unwrap_or_else(|e| e.into_inner());
        rings.retain(|_, r| !idle(r));
        self.rings_len.store(rings.len(), Relaxed);
    }

    /// Opens a stream connection (counted; refused over `max_connections`).
    pub fn connect(self: &Arc<Self>) -> Result<Connection, Error> {
        if *self.stop.borrow() {
            return Err(Error::ShuttingDown);
        }
        let max = self.settings.max_connections;
        self.connections
            .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
            .map_err(|_| Error::TooManyConnections(max))?;
        Ok(Connection {
            tier: self.clone(),
            rings: Vec::new(),
        })
    }

    /// Ends every stream (at shutdown, so the HTTP server's graceful stop is not held up).
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once [`Tier::shutdown`] was called.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// One open stream: its rings are detached when it is dropped (the client went away).
pub struct Connection {
    tier: Arc<Tier>,
    rings: Vec<Arc<Ring>>,
}

impl Connection {
    pub fn tier(&self) -> &Arc<Tier> {
        &self.tier
    }

    /// Watches more series on this connection, within `max_series_per_connection`.
    pub async fn attach(&mut self, series: Vec<(Series, Kind)>) -> Result<Vec<Arc<Ring>>, Error> {
        let max = self.tier.settings.max_series_per_connection;
        if self.rings.len() + series.len() > max {
            return Err(Error::TooManySeries(self.rings.len() + series.len(), max));
        }
        let rings = self.tier.attach(series).await?;
        self.rings.extend(rings.iter().cloned());
        Ok(rings)
    }

    pub fn watching(&self) -> usize {
        self.rings.len()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.tier.detach(&self.rings);
        self.tier.connections.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests;
