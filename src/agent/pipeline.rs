//! The aggregation loop's state: folds observations, commits deltas while it goes on folding
//! (`commit.rs`: one commit in flight, retrying what the store could not take, within a bound),
//! runs maintenance off the commit path, and turns component counters into `tally.*`
//! observations.

use super::{Inputs, heap};
use crate::aggregate::{self, Aggregator};
use crate::clock::unix_now;
use crate::http;
use crate::inputs::Feed;
use crate::live;
use crate::metric::{Kind, Observation, Series};
use crate::ship::Ship;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

mod commit;

pub(super) struct Pipeline {
    pub(super) aggregator: Aggregator,
    store: Arc<Store>,
    /// Deltas not yet committed (a failed commit is retried with the next one).
    pending: Vec<aggregate::Delta>,
    /// The latest cursor of each input position, committed with the next batch.
    cursors: HashMap<String, Vec<u8>>,
    /// Something from outside (not [`Feed::local`]) was folded since the last drain.
    outside: bool,
    /// The finest slot (`Unix time / slot length`) of the last drain: local samples wait in
    /// the aggregator until it ends (`commit.rs`, `tick`).
    drained_slot: Option<i64>,
    /// The commit on its way to the store, if any (`commit.rs`).
    in_flight: Option<commit::InFlight>,
    /// Last value seen of each cumulative counter, to emit increments.
    counters: HashMap<&'static str, u64>,
    ship_counters: HashMap<String, u64>,
    commit_errors: u64,
    /// The last commit failed (readiness).
    commit_failing: bool,
    /// Spool lag in seconds past which an output makes tally not ready.
    pub(super) ready_max_spool_lag: i64,
    maintain_errors: Arc<AtomicU64>,
    pub(super) maintaining: Arc<AtomicBool>,
    dropped_deltas: u64,
    /// Most deltas kept for retry (`storage.max_pending_buckets`).
    max_pending: usize,
    /// The new-series budget (`storage.max_new_series_per_minute`).
    pub(super) admit: super::admit::Admit,
    last_commit_ms: Option<f64>,
    /// When maintenance last started.
    last_maintain: Option<Instant>,
    /// Maintenance (retention, head flush when due, compaction) runs at most this often: its
    /// deadlines are minutes to hours, so checking at every commit only costs wake-ups.
    maintain_every: std::time::Duration,
    /// Outputs: staged with each commit, closed slots spooled after it.
    pub(super) ship: Ship,
    /// When the heap was last trimmed (see agent/heap.rs), and its bytes in use then.
    last_trim: Option<Instant>,
    heap_bytes: Arc<AtomicU64>,
    /// The live tier: offered every feed, and watch requests answered here (exact join).
    pub(super) live: Arc<live::Tier>,
    /// SIGHUP reloads applied and rejected (`tally.config.{reloads,rejected_reloads}`).
    pub(super) reloads: u64,
    pub(super) rejected_reloads: u64,
    /// Tailed paths that cannot be read, `path: reason` (readiness).
    tail_unusable: Vec<String>,
    /// The host's samples the collectors' thread keeps for the loop (`collect::Held`), and the
    /// vector they are taken into.
    pub(super) held: Arc<super::collect::Held>,
    held_buf: Vec<Observation>,
}

impl Pipeline {
    pub(super) fn new(
        aggregator: Aggregator,
        store: Arc<Store>,
        max_pending: usize,
        maintain_every: std::time::Duration,
        ship: Ship,
        live: Arc<live::Tier>,
        held: Arc<super::collect::Held>,
    ) -> Pipeline {
        Pipeline {
            aggregator,
            store,
            pending: Vec::new(),
            cursors: HashMap::new(),
            outside: false,
            drained_slot: None,
            in_flight: None,
            counters: HashMap::new(),
            ship_counters: HashMap::new(),
            commit_errors: 0,
            commit_failing: false,
            ready_max_spool_lag: 600,
            maintain_errors: Arc::default(),
            maintaining: Arc::default(),
            dropped_deltas: 0,
            max_pending,
            admit: super::admit::Admit::new(u64::MAX, max_pending),
            last_commit_ms: None,
            last_maintain: None,
            maintain_every,
            ship,
            last_trim: None,
            heap_bytes: Arc::default(),
            live,
            reloads: 0,
            rejected_reloads: 0,
            tail_unusable: Vec::new(),
            held,
            held_buf: Vec::new(),
        }
    }

    /// Folds the host's samples the collectors' thread kept (`collect::Held`): at each tick,
    /// before a commit and around a live watch.
    pub(super) fn take_held(&mut self) {
        self.held.take(&mut self.held_buf);
        if self.held_buf.is_empty() {
            return;
        }
        let now = unix_now();
        self.live.observe(&self.held_buf);
        for obs in &self.held_buf {
            self.aggregator.observe(obs, now);
        }
        self.held_buf.clear();
    }

    /// Folds a feed in. Its events are stored now (durably, before the commit that carries
    /// the feed's cursors: after a crash they may be made again, never lost); its cursors are
    /// kept for the next commit.
    pub(super) async fn fold(&mut self, feed: Feed) {
        let now = unix_now();
        self.live.feed(&feed);
        self.outside |= !feed.local;
        for folded in &feed.folded {
            self.aggregator.merge(folded, now);
        }
        for obs in &feed.observations {
            self.aggregator.observe(obs, now);
        }
        self.cursors.extend(feed.cursors);
        if !feed.events.is_empty() {
            let store = self.store.clone();
            let events = feed.events;
            let failed = tokio::task::spawn_blocking(move || {
                events
                    .iter()
                    .filter(|e| store.add_event(e.when, &e.what, &e.tags, &e.data).is_err())
                    .count()
            })
            .await
            .unwrap_or(0);
            if failed > 0 {
                self.commit_errors += 1;
                tracing::error!(failed, "Could not store events.");
            }
        }
    }

    /// Watches series live: rings made now, between folds and with no commit in flight (the
    /// loop defers a watch until the commit lands), so each ring's bridge (what the store and
    /// the aggregator hold of the open stored slot) and its slots never share an observation
    /// and miss none.
    pub(super) fn attach(&mut self, request: live::Attach) {
        debug_assert!(!self.committing(), "a watch is served on a settled view");
        // Kept samples go in first (the bridge holds them); those kept while the rings were
        // being made go in after (fresh, so the rings take them too): see `collect::Held`.
        self.take_held();
        let (store, aggregator, pending) = (&self.store, &self.aggregator, &self.pending);
        let mut bridge = |series: &Series, live_ms: i64| {
            let schemas = aggregator.schemas();
            let res = schemas.for_name(series.as_str()).finest().resolution;
            let join = (live_ms / 1000).div_euclid(i64::from(res)) * i64::from(res);
            // One slot of the head (a segment only right after a head flush): a short read.
            let mut bucket = tokio::task::block_in_place(|| {
                let id = store.lookup(series.as_str())?.id;
                let read = store.read(id, res, join, join + i64::from(res)).ok()?;
                read.into_iter().next().map(|(_, b)| b)
            });
            // Drained but not committed yet (a commit being retried), then still open.
            let retried = pending
                .iter()
                .filter(|d| d.resolution == res && d.start == join && d.series == *series)
                .map(|d| &d.bucket);
            for b in retried.chain(aggregator.open_bucket(series, res, join)) {
                match &mut bucket {
                    Some(m) => m.merge(b),
                    None => bucket = Some(b.clone()),
                }
            }
            (join * 1000, bucket)
        };
        self.live.serve_attach(request, &mut bridge);
        self.take_held();
    }

    /// Where every input position is: the store's committed cursors overlaid with the newer
    /// ones waiting for the next commit. A restarted input resumes exactly here. Only with no
    /// commit in flight (its cursors are in neither): [`Self::settle`] first.
    pub(super) fn latest_cursors(&self) -> HashMap<String, Vec<u8>> {
        debug_assert!(!self.committing(), "cursors read on a settled view");
        let mut all = self.store.cursors();
        all.extend(self.cursors.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// Buckets not durable yet: in the commit in flight, kept for a retry, or of new series
    /// waiting.
    pub(super) fn unsaved(&self) -> usize {
        let in_flight = self.in_flight.as_ref().map_or(0, |f| f.deltas);
        in_flight + self.pending.len() + self.admit.waiting()
    }

    /// For a stop: every waiting new series goes into the next commit.
    pub(super) fn release_waiting(&mut self) {
        let waiting = self.admit.take_all();
        self.pending.extend(waiting);
    }

    fn counter(&mut self, out: &mut Vec<Observation>, name: &'static str, total: u64, now: i64) {
        let prev = self.counters.insert(name, total).unwrap_or(0);
        out.push(self_obs(
            name,
            Kind::Counter,
            total.saturating_sub(prev) as f64,
            now,
        ));
    }

    /// Like `counter`, for names made at run time (one set per output).
    fn ship_counter(&mut self, out: &mut Vec<Observation>, name: String, total: u64, now: i64) {
        let prev = self.ship_counters.insert(name.clone(), total).unwrap_or(0);
        out.push(self_obs(
            &name,
            Kind::Counter,
            total.saturating_sub(prev) as f64,
            now,
        ));
    }

    /// Component counters become `tally.*` series, stored like any other.
    pub(super) fn self_metrics(&mut self, inputs: &Inputs, http: &http::Stats) {
        let now = unix_now();
        let mut out = Vec::with_capacity(32);
        let c = &inputs.carbon;
        for (name, v) in [
            ("tally.carbon.lines", c.lines.load(Relaxed)),
            ("tally.carbon.bad_lines", c.bad_lines.load(Relaxed)),
            ("tally.carbon.too_long", c.too_long.load(Relaxed)),
            ("tally.carbon.dropped", c.dropped.load(Relaxed)),
            ("tally.carbon.connections", c.connections.load(Relaxed)),
            (
                "tally.carbon.refused_connections",
                c.refused_connections.load(Relaxed),
            ),
            ("tally.carbon.idle_timeouts", c.idle_timeouts.load(Relaxed)),
            ("tally.carbon.pickles", c.pickles.load(Relaxed)),
            ("tally.carbon.bad_pickles", c.bad_pickles.load(Relaxed)),
            ("tally.http.requests", http.requests.load(Relaxed)),
            ("tally.http.client_errors", http.client_errors.load(Relaxed)),
            ("tally.http.server_errors", http.server_errors.load(Relaxed)),
            (
                "tally.dashboards.errors",
                http.dashboard_errors.load(Relaxed),
            ),
            (
                "tally.store.errors",
                self.commit_errors + self.maintain_errors.load(Relaxed),
            ),
            ("tally.store.dropped_buckets", self.dropped_deltas),
            (
                "tally.store.refused_new_series_buckets",
                self.admit.refused_buckets,
            ),
            ("tally.store.new_series", self.admit.admitted_series),
            ("tally.config.reloads", self.reloads),
            ("tally.config.rejected_reloads", self.rejected_reloads),
        ]
        .into_iter()
        .chain(http.limit_counters())
        {
            self.counter(&mut out, name, v, now);
        }
        let mut totals = inputs.tail_retired.clone();
        let mut tail_gauges = [0u64; 3];
        self.tail_unusable.clear();
        for t in &inputs.tail {
            totals.add(t);
            tail_gauges[0] += t.tail.files_open.load(Relaxed);
            tail_gauges[1] += t.tail.files_skipped_over_limit.load(Relaxed);
            tail_gauges[2] += t.tail.files_unusable.load(Relaxed);
            let named = t
                .tail
                .unusable_paths
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.tail_unusable.extend(named.iter().cloned());
        }
        let (tail_totals, parse) = (totals.tail, totals.parse);
        for (name, v) in [
            ("tally.tail.lines", tail_totals[0]),
            ("tally.tail.bytes", tail_totals[1]),
            ("tally.tail.truncated_long_lines", tail_totals[2]),
            ("tally.tail.rotations", tail_totals[3]),
            ("tally.tail.truncations", tail_totals[4]),
            ("tally.tail.read_errors", tail_totals[5]),
            ("tally.tail.lost_checkpoints", tail_totals[6]),
            ("tally.parse.lines", parse.lines),
            ("tally.parse.matched", parse.matched),
            ("tally.parse.unmatched", parse.unmatched),
            ("tally.parse.time_failures", parse.time_failures),
            ("tally.parse.overflowed", parse.overflowed),
            ("tally.parse.bad_numbers", parse.bad_numbers),
            ("tally.parse.bad_names", parse.bad_names),
            ("tally.parse.bad_json", parse.bad_json),
        ] {
            self.counter(&mut out, name, v, now);
        }
        if !inputs.tail.is_empty() {
            out.push(self_obs(
                "tally.tail.files_open",
                Kind::Gauge,
                tail_gauges[0] as f64,
                now,
            ));
            out.push(self_obs(
                "tally.tail.files_skipped_over_limit",
                Kind::Gauge,
                tail_gauges[1] as f64,
                now,
            ));
            out.push(self_obs(
                "tally.tail.files_unusable",
                Kind::Gauge,
                tail_gauges[2] as f64,
                now,
            ));
        }
        let a = self.aggregator.stats();
        for (name, v) in [
            ("tally.aggregate.observations", a.observations),
            ("tally.aggregate.dropped.too_old", a.too_old),
            ("tally.aggregate.dropped.too_new", a.too_new),
            ("tally.aggregate.dropped.invalid", a.invalid),
            ("tally.aggregate.kind_conflicts", a.kind_conflicts),
        ] {
            self.counter(&mut out, name, v, now);
        }
        let s = self.store.stats();
        for (name, v) in [
            ("tally.store.series", s.series),
            ("tally.store.disk_bytes", s.disk_bytes),
            ("tally.store.wal_bytes", s.wal_bytes),
            ("tally.store.head_buckets", s.head_buckets),
            ("tally.store.head_bytes", s.head_bytes),
            ("tally.memory.rss_bytes", heap::rss()),
            ("tally.memory.heap_bytes", self.heap_bytes.load(Relaxed)),
            ("tally.store.segments", s.segments),
            ("tally.store.events", s.events),
            ("tally.store.corrupt_wal_files", s.corrupt_wal_files),
            ("tally.store.corrupt_blocks", s.corrupt_blocks),
            (
                "tally.aggregate.open_series",
                self.aggregator.open_series() as u64,
            ),
            (
                "tally.store.new_series_waiting",
                self.admit.waiting() as u64,
            ),
        ] {
            out.push(self_obs(name, Kind::Gauge, v as f64, now));
        }
        out.extend(inputs.statsd.self_metrics(now));
        for o in self.ship.outputs() {
            let n = &o.config.name;
            let st = &o.stats;
            for (what, v) in [
                ("sent", st.sent.load(Relaxed)),
                ("retried", st.retried.load(Relaxed)),
                ("late", st.late.load(Relaxed)),
                ("errors", st.errors.load(Relaxed)),
            ] {
                let name = format!("tally.ship.{n}.{what}");
                self.ship_counter(&mut out, name, v, now);
            }
            let (spool_bytes, lag, pending, dropped) = {
                let sp = o.spool();
                (sp.bytes(), sp.lag(), sp.pending(), sp.dropped().1)
            };
            let name = format!("tally.ship.{n}.dropped");
            self.ship_counter(&mut out, name, st.dropped.load(Relaxed) + dropped, now);
            for (what, v) in [
                ("spool_bytes", spool_bytes as f64),
                ("lag", lag as f64),
                ("pending_records", pending as f64),
                ("last_error", st.last_error.load(Relaxed) as f64),
            ] {
                out.push(self_obs(
                    &format!("tally.ship.{n}.{what}"),
                    Kind::Gauge,
                    v,
                    now,
                ));
            }
        }
        for (name, v) in [
            ("tally.ingest.batches", http.ingest_batches.load(Relaxed)),
            ("tally.ingest.buckets", http.ingest_buckets.load(Relaxed)),
            ("tally.ingest.unplaced", http.ingest_unplaced.load(Relaxed)),
            (
                "tally.ingest.duplicates",
                http.ingest_duplicates.load(Relaxed),
            ),
            ("tally.ingest.rejected", http.ingest_rejected.load(Relaxed)),
            ("tally.ingest.events", http.ingest_events.load(Relaxed)),
        ] {
            self.counter(&mut out, name, v, now);
        }
        let l = &self.live.stats;
        for (name, v) in [
            ("tally.live.messages", l.messages.load(Relaxed)),
            ("tally.live.bytes", l.bytes.load(Relaxed)),
            ("tally.live.resets", l.resets.load(Relaxed)),
            ("tally.live.late", l.late.load(Relaxed)),
        ] {
            self.counter(&mut out, name, v, now);
        }
        for (name, v) in [
            ("tally.live.connections", self.live.connections()),
            ("tally.live.watched_series", self.live.watched()),
        ] {
            out.push(self_obs(name, Kind::Gauge, v as f64, now));
        }
        if let Some(ms) = self.last_commit_ms.take() {
            out.push(self_obs("tally.store.commit_ms", Kind::Timer, ms, now));
        }
        out.extend(inputs.listeners.self_metrics(now));
        self.live.observe(&out);
        for obs in &out {
            self.aggregator.observe(obs, now);
        }
        http.health.record(&out);
        http.health.set_not_ready(self.not_ready(inputs));
    }

    /// Why tally is not doing its job, for `/-/ready`.
    fn not_ready(&self, inputs: &Inputs) -> Vec<String> {
        let mut reasons = inputs.listeners.reasons();
        if self.commit_failing {
            reasons.push(format!(
                "commits to the store are failing ({} buckets waiting); see the log",
                self.pending.len()
            ));
        }
        for path in &self.tail_unusable {
            reasons.push(format!("tailed path cannot be read: {path}"));
        }
        for o in self.ship.outputs() {
            let lag = o.spool().lag();
            if lag > self.ready_max_spool_lag {
                reasons.push(format!(
                    "output {}: {lag} s of data not delivered (over {} s)",
                    o.config.name, self.ready_max_spool_lag
                ));
            }
        }
        reasons
    }
}

fn self_obs(name: &str, kind: Kind, value: f64, time: i64) -> Observation {
    Observation {
        series: Series::parse(name).expect("self-metric names are valid"),
        kind,
        value,
        time,
    }
}

#[cfg(test)]
mod tests;
