//! The agent: the only module that knows every stage. It opens the store, binds the listeners,
//! starts the inputs, runs the aggregation loop (observe → drain → commit every
//! `commit_interval`), turns component counters into `tally.*` series, and owns reload and
//! shutdown order: inputs stop → last observations folded → final commit → head flushed →
//! HTTP stops → store closed.

use crate::aggregate::{self, Aggregator};
use crate::clock::unix_now;
use crate::config::{self, Config};
use crate::http;
use crate::inputs::carbon;
use crate::metric::{Kind, Observation, Series};
use crate::store::{self, Batch, Store};
use anyhow::Context as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Asks a running agent to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Reload,
    Shutdown,
}

/// Runs until SIGTERM or SIGINT; SIGHUP reloads `config_path`.
pub async fn run_until_signalled(config: Config) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::channel(8);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let control = tokio::select! {
                _ = term.recv() => Control::Shutdown,
                _ = int.recv() => Control::Shutdown,
                _ = hup.recv() => Control::Reload,
            };
            if tx.send(control).await.is_err() || control == Control::Shutdown {
                break;
            }
        }
    });
    run(config, rx).await
}

struct Inputs {
    carbon: Arc<carbon::Stats>,
}

/// Runs the daemon until a [`Control::Shutdown`] arrives (or the control channel closes).
pub async fn run(config: Config, mut control: mpsc::Receiver<Control>) -> anyhow::Result<()> {
    let store_options = store::Options {
        data_dir: config.data_dir.clone(),
        tiers: config.storage.schemas.resolutions(),
        head_flush_interval: config.storage.head_flush_interval,
    };
    let started = Instant::now();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(store_options))
            .await?
            .with_context(|| format!("open the store in {}", config.data_dir.display()))?,
    );
    tracing::info!(data_dir = %config.data_dir.display(), series = store.stats().series,
        ms = started.elapsed().as_millis() as u64, "Store opened.");

    let (stop_tx, stop_rx) = watch::channel(false);
    let (obs_tx, mut obs_rx) = mpsc::channel::<Vec<Observation>>(config.queue_batches);
    let inputs = Inputs {
        carbon: Arc::new(carbon::Stats::default()),
    };
    let mut tasks = Vec::new();
    if let Some(c) = &config.carbon {
        let settings = carbon::Settings {
            kind: c.kind,
            max_line_length: c.max_line_length,
            max_connections: c.max_connections,
        };
        let tcp = tokio::net::TcpListener::bind(c.listen)
            .await
            .with_context(|| format!("carbon: listen on tcp {}", c.listen))?;
        tracing::info!(addr = %tcp.local_addr()?, "Carbon listening on tcp.");
        tasks.push(tokio::spawn(carbon::serve_tcp(
            tcp,
            obs_tx.clone(),
            settings.clone(),
            inputs.carbon.clone(),
            stop_rx.clone(),
        )));
        if c.udp {
            let udp = tokio::net::UdpSocket::bind(c.listen)
                .await
                .with_context(|| format!("carbon: listen on udp {}", c.listen))?;
            tracing::info!(addr = %udp.local_addr()?, "Carbon listening on udp.");
            tasks.push(tokio::spawn(carbon::serve_udp(
                udp,
                obs_tx.clone(),
                settings,
                inputs.carbon.clone(),
                stop_rx.clone(),
            )));
        }
    }
    drop(obs_tx);

    let http_state = Arc::new(http::State {
        store: store.clone(),
        settings: std::sync::RwLock::new(http_settings(&config)),
        stats: http::Stats::default(),
        max_body_bytes: config.http.as_ref().map_or(8 << 20, |h| h.max_body_bytes),
    });
    let (http_stop_tx, http_stop_rx) = watch::channel(false);
    let http_task = match &config.http {
        None => None,
        Some(h) => {
            let listener = tokio::net::TcpListener::bind(h.listen)
                .await
                .with_context(|| format!("http: listen on {}", h.listen))?;
            tracing::info!(addr = %listener.local_addr()?, "HTTP listening.");
            let state = http_state.clone();
            let mut stop = http_stop_rx.clone();
            Some(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stop.changed().await;
                };
                if let Err(error) = http::serve(listener, state, shutdown).await {
                    tracing::error!(%error, "HTTP server failed.");
                }
            }))
        }
    };

    let mut pipeline = Pipeline {
        aggregator: Aggregator::new(
            config.storage.schemas.clone(),
            aggregate::Options {
                max_future: config.storage.max_future,
            },
        ),
        store: store.clone(),
        pending: Vec::new(),
        counters: HashMap::new(),
        commit_errors: 0,
        maintain_errors: Arc::default(),
        maintaining: Arc::default(),
        dropped_deltas: 0,
        max_pending: config.storage.max_pending_buckets,
        last_commit_ms: None,
    };
    let mut config = config;
    let mut tick = tokio::time::interval(Duration::from_millis(
        config.storage.commit_interval_ms.max(50),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("tally is running.");
    let mut fatal = None;
    let mut inputs_open = true;
    loop {
        tokio::select! {
            batch = obs_rx.recv(), if inputs_open => match batch {
                Some(batch) => pipeline.observe(&batch),
                // Every input has stopped (or none is configured); commits and HTTP go on.
                None => inputs_open = false,
            },
            _ = tick.tick() => {
                pipeline.self_metrics(&inputs, &http_state.stats);
                if let Err(error) = pipeline.commit().await {
                    fatal = Some(error);
                    break;
                }
            }
            c = control.recv() => match c {
                Some(Control::Reload) => reload(&mut config, &mut pipeline, &http_state),
                Some(Control::Shutdown) | None => break,
            },
        }
    }

    tracing::info!("Shutting down: stopping inputs.");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    // Whatever the inputs accepted before they stopped is folded in and committed.
    while let Ok(batch) = obs_rx.try_recv() {
        pipeline.observe(&batch);
    }
    if fatal.is_none() {
        pipeline.self_metrics(&inputs, &http_state.stats);
        if let Err(error) = pipeline.commit().await {
            fatal = Some(error);
        }
    }
    // Wait for a maintenance run in flight, so the head flush below does not queue behind it.
    while pipeline.maintaining.load(Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = store.clone();
    match tokio::task::spawn_blocking(move || s.flush_head()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(%error, "Final head flush failed; the WAL still holds the data.")
        }
        Err(error) => tracing::error!(%error, "Final head flush task failed."),
    }
    let _ = http_stop_tx.send(true);
    if let Some(t) = http_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    if let Some(error) = fatal {
        return Err(error)
            .context("the store failed to make a commit durable; restart to recover from the WAL");
    }
    tracing::info!("tally stopped.");
    Ok(())
}

fn http_settings(config: &Config) -> http::Settings {
    http::Settings {
        schemas: config.storage.schemas.clone(),
        query: crate::query::Options {
            max_points_per_series: config.query.max_points_per_series,
            max_series: config.query.max_series,
        },
        default_max_data_points: config.query.default_max_data_points,
        token: config.http.as_ref().and_then(|h| h.token.clone()),
    }
}

/// Re-reads the config file. A bad file is logged and the running config kept; settings that
/// need a restart are named.
fn reload(current: &mut Config, pipeline: &mut Pipeline, http_state: &http::State) {
    let Some(path) = current.source.clone() else {
        tracing::warn!(
            "Reload asked, but tally runs on built-in defaults (no -c FILE): nothing to reload."
        );
        return;
    };
    let new = match config::load(&path) {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(path = %path.display(), "Reload rejected; the running config stays:\n{error}");
            return;
        }
    };
    let mut needs_restart = Vec::new();
    if new.data_dir != current.data_dir {
        needs_restart.push("data_dir");
    }
    if new.http.as_ref().map(|h| h.listen) != current.http.as_ref().map(|h| h.listen) {
        needs_restart.push("http.listen");
    }
    if new.carbon != current.carbon {
        needs_restart.push("inputs.carbon");
    }
    if new.storage.commit_interval_ms != current.storage.commit_interval_ms
        || new.storage.head_flush_interval != current.storage.head_flush_interval
        || new.storage.max_future != current.storage.max_future
        || new.storage.max_pending_buckets != current.storage.max_pending_buckets
    {
        needs_restart.push("storage intervals and limits");
    }
    if new.queue_batches != current.queue_batches {
        needs_restart.push("inputs.queue_batches");
    }
    if new.storage.schemas.resolutions() != current.storage.schemas.resolutions() {
        needs_restart.push("the set of resolutions (store retention enforcement)");
    }
    pipeline.aggregator.set_schemas(new.storage.schemas.clone());
    *http_state
        .settings
        .write()
        .unwrap_or_else(|e| e.into_inner()) = http_settings(&new);
    let applied = "storage.schemas, query, http.token";
    if needs_restart.is_empty() {
        tracing::info!(path = %path.display(), applied, "Config reloaded.");
    } else {
        tracing::warn!(path = %path.display(), applied, needs_restart = %needs_restart.join(", "),
            "Config reloaded; some changes take effect only after a restart.");
    }
    // Record what now runs, so the next reload compares against it.
    current.storage.schemas = new.storage.schemas.clone();
    current.query = new.query.clone();
    if let (Some(running), Some(new)) = (current.http.as_mut(), new.http.as_ref()) {
        running.token = new.token.clone();
    }
}

struct Pipeline {
    aggregator: Aggregator,
    store: Arc<Store>,
    /// Deltas not yet committed (a failed commit is retried with the next one).
    pending: Vec<aggregate::Delta>,
    /// Last value seen of each cumulative counter, to emit increments.
    counters: HashMap<&'static str, u64>,
    commit_errors: u64,
    maintain_errors: Arc<AtomicU64>,
    maintaining: Arc<AtomicBool>,
    dropped_deltas: u64,
    /// Most deltas kept for retry (`storage.max_pending_buckets`).
    max_pending: usize,
    last_commit_ms: Option<f64>,
}

impl Pipeline {
    fn observe(&mut self, batch: &[Observation]) {
        let now = unix_now();
        for obs in batch {
            self.aggregator.observe(obs, now);
        }
    }

    async fn commit(&mut self) -> Result<(), store::Error> {
        self.pending.extend(self.aggregator.drain());
        if self.pending.len() > self.max_pending {
            let excess = self.pending.len() - self.max_pending;
            self.pending.drain(..excess);
            self.dropped_deltas += excess as u64;
            tracing::error!(
                dropped = excess,
                "The store refuses commits; oldest buckets dropped."
            );
        }
        let deltas = std::mem::take(&mut self.pending);
        let store = self.store.clone();
        let started = Instant::now();
        let now = unix_now();
        let result = tokio::task::spawn_blocking(move || {
            let batch = Batch {
                deltas: deltas.clone(),
                cursors: Vec::new(),
            };
            let r = store.commit(batch);
            (deltas, r)
        })
        .await;
        match result {
            Ok((_, Ok(()))) => {
                self.last_commit_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            }
            Ok((deltas, Err(store::Error::Invalid(reason)))) => {
                // Retrying cannot help: drop and count.
                self.commit_errors += 1;
                self.dropped_deltas += deltas.len() as u64;
                tracing::error!(%reason, dropped = deltas.len(), "The store rejected a batch; its buckets are dropped.");
            }
            Ok((_, Err(error @ store::Error::Poisoned(_)))) => {
                // An fsync failed: what the kernel holds is unknown. Stop and let recovery
                // (WAL replay on the next start) decide, as databases do.
                return Err(error);
            }
            Ok((deltas, Err(error))) => {
                self.commit_errors += 1;
                tracing::error!(%error, deltas = deltas.len(), "Commit failed; will retry.");
                self.pending = deltas;
            }
            Err(error) => {
                self.commit_errors += 1;
                tracing::error!(%error, "Commit task failed.");
            }
        }
        self.maintain(now);
        Ok(())
    }

    /// Retention, head flush and compaction, off the commit path: a compaction can take a
    /// second, and commits go on meanwhile. At most one runs at a time.
    fn maintain(&mut self, now: i64) {
        if self.maintaining.swap(true, Relaxed) {
            return;
        }
        let (store, busy, errors) = (
            self.store.clone(),
            self.maintaining.clone(),
            self.maintain_errors.clone(),
        );
        tokio::task::spawn_blocking(move || {
            if let Err(error) = store.maintain(now) {
                errors.fetch_add(1, Relaxed);
                tracing::error!(%error, "Store maintenance failed; will retry.");
            }
            busy.store(false, Relaxed);
        });
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

    /// Component counters become `tally.*` series, stored like any other.
    fn self_metrics(&mut self, inputs: &Inputs, http: &http::Stats) {
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
            ("tally.http.requests", http.requests.load(Relaxed)),
            ("tally.http.client_errors", http.client_errors.load(Relaxed)),
            ("tally.http.server_errors", http.server_errors.load(Relaxed)),
            (
                "tally.store.errors",
                self.commit_errors + self.maintain_errors.load(Relaxed),
            ),
            ("tally.store.dropped_buckets", self.dropped_deltas),
        ] {
            self.counter(&mut out, name, v, now);
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
            ("tally.store.segments", s.segments),
            ("tally.store.events", s.events),
            (
                "tally.aggregate.open_series",
                self.aggregator.open_series() as u64,
            ),
        ] {
            out.push(self_obs(name, Kind::Gauge, v as f64, now));
        }
        if let Some(ms) = self.last_commit_ms.take() {
            out.push(self_obs("tally.store.commit_ms", Kind::Timer, ms, now));
        }
        for obs in &out {
            self.aggregator.observe(obs, now);
        }
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

/// The data directory a config points at, for commands that read the store.
pub fn store_options(config: &Config) -> store::Options {
    store::Options {
        data_dir: PathBuf::from(&config.data_dir),
        tiers: config.storage.schemas.resolutions(),
        head_flush_interval: config.storage.head_flush_interval,
    }
}
