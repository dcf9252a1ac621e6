//! The startup steps [`super::run`] calls, in its order. Each step fails the start with the
//! reason a user needs (which directory, which listener); nothing here runs after startup.

use super::{Inputs, bind, collect, memory, pipeline::Pipeline, reload, statsd, systemd, tail};
use crate::aggregate::{self, Aggregator};
use crate::config::{self, Config};
use crate::http;
use crate::inputs::{Feed, carbon};
use crate::live;
use crate::ship::{self, Ship};
use crate::store::Store;
use anyhow::Context as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Opens (and recovers) the store on a blocking thread.
pub(super) async fn open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    let options = super::store_options(config);
    let started = Instant::now();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(options))
            .await?
            .with_context(|| format!("open the store in {}", config.data_dir.display()))?,
    );
    tracing::info!(data_dir = %config.data_dir.display(), series = store.stats().series,
        ms = started.elapsed().as_millis() as u64, "Store opened.");
    Ok(store)
}

/// The spooled outputs' sender tasks; they stop when `stop` turns true.
pub(super) struct Senders {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Senders {
    /// Stops the senders (each given 5 s); what they did not deliver stays in the spools.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(true);
        for s in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
    }
}

/// Opens the spooled outputs (re-spooling from the store what a crash kept from them) and starts
/// one sender task per output.
pub(super) async fn outputs(
    config: &Config,
    store: &Arc<Store>,
) -> anyhow::Result<(Ship, Senders)> {
    let (outputs, dir, store, schemas) = (
        config
            .outputs
            .iter()
            .filter_map(|o| o.as_spooled().cloned())
            .collect::<Vec<_>>(),
        config.data_dir.clone(),
        store.clone(),
        config.storage.schemas.clone(),
    );
    let ship = tokio::task::spawn_blocking(move || {
        Ship::open(&outputs, &dir, &store, schemas, crate::clock::unix_now())
    })
    .await?
    .context("open the output spools")?;
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for output in ship.outputs() {
        let client = ship::Client::new(&output)?;
        tracing::info!(output = %output.config.name, kind = output.config.target.type_name(),
            pending = output.spool().pending(), "Output started.");
        tasks.push(tokio::spawn(ship::run_sender(
            output,
            client,
            stop_rx.clone(),
        )));
    }
    Ok((ship, Senders { stop, tasks }))
}

/// Starts every input, each sending into `feeds`: the tail threads (from the store's cursors),
/// the carbon listeners, StatsD with the carbon outputs, the system collectors.
pub(super) async fn inputs(
    config: &Config,
    store: &Store,
    live: &Arc<live::Tier>,
    feeds: &mpsc::Sender<Feed>,
    held: &Arc<collect::Held>,
) -> anyhow::Result<Inputs> {
    let (stop, stop_rx) = watch::channel(false);
    let mut inputs = Inputs {
        carbon: Arc::new(carbon::Stats::default()),
        tail: Vec::new(),
        tail_stop: Arc::default(),
        tail_retired: tail::Totals::default(),
        system: None,
        statsd: statsd::Running::default(),
        stop,
        tasks: Vec::new(),
        listeners: Arc::default(),
    };
    let parsers = load_parsers(config);
    if !config.tail.is_empty() {
        let cursors = store.cursors();
        inputs.tail = tail::start(&config.tail, &parsers, &cursors, feeds, &inputs.tail_stop)?;
    }
    if let Some(c) = &config.carbon {
        let l = &inputs.listeners;
        carbon_listeners(c, feeds, &inputs.carbon, &stop_rx, &mut inputs.tasks, l).await;
    }
    inputs.statsd = statsd::start(
        config,
        feeds,
        &stop_rx,
        &mut inputs.tasks,
        &inputs.listeners,
    )
    .await?;
    if let Some(system) = &config.system {
        inputs.system = Some(collect::start(system, feeds.clone(), live, held.clone())?);
    }
    Ok(inputs)
}

/// Loads the parser files; a bad file is logged and left out (`tally check` fails on it).
pub(super) fn load_parsers(config: &Config) -> Vec<crate::parse::Parser> {
    let (parsers, parser_errors) = crate::parse::load(&config.parser_dirs);
    for error in &parser_errors {
        tracing::error!("Parser not loaded:\n{error}");
    }
    for p in &parsers {
        for warning in p.warnings() {
            tracing::warn!("{warning}");
        }
    }
    parsers
}

/// Binds carbon's TCP listener (and its UDP socket and pickle listener when asked) and starts their tasks; an address
/// that cannot be bound is retried (`bind.rs`).
async fn carbon_listeners(
    c: &config::Carbon,
    feeds: &mpsc::Sender<Feed>,
    stats: &Arc<carbon::Stats>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
    listeners: &bind::Registry,
) {
    let settings = carbon::Settings {
        kind: c.kind,
        max_line_length: c.max_line_length,
        max_connections: c.max_connections,
        idle_timeout: Duration::from_millis(c.idle_timeout_ms),
    };
    let (tx, st, serve_stop, set) = (feeds.clone(), stats.clone(), stop.clone(), settings.clone());
    let tcp = listeners
        .listen(
            ("inputs.carbon.listen", "tcp", c.listen),
            |addr| async move {
                let tcp = tokio::net::TcpListener::bind(addr).await?;
                tracing::info!(addr = %tcp.local_addr()?, "Carbon listening on tcp.");
                Ok(tcp)
            },
            move |tcp| carbon::serve_tcp(tcp, carbon::Protocol::Plaintext, tx, set, st, serve_stop),
            stop.clone(),
        )
        .await;
    tasks.push(tcp);
    if let Some(addr) = c.pickle_listen {
        let (tx, st, serve_stop, set) =
            (feeds.clone(), stats.clone(), stop.clone(), settings.clone());
        let pickle = listeners
            .listen(
                ("inputs.carbon.pickle_listen", "tcp", addr),
                |addr| async move {
                    let tcp = tokio::net::TcpListener::bind(addr).await?;
                    tracing::info!(addr = %tcp.local_addr()?, "Carbon pickle listening on tcp.");
                    Ok(tcp)
                },
                move |tcp| {
                    carbon::serve_tcp(tcp, carbon::Protocol::Pickle, tx, set, st, serve_stop)
                },
                stop.clone(),
            )
            .await;
        tasks.push(pickle);
    }
    if c.udp {
        let (tx, st, serve_stop) = (feeds.clone(), stats.clone(), stop.clone());
        let udp = listeners
            .listen(
                ("inputs.carbon.listen", "udp", c.listen),
                |addr| async move {
                    let udp = tokio::net::UdpSocket::bind(addr).await?;
                    tracing::info!(addr = %udp.local_addr()?, "Carbon listening on udp.");
                    Ok(udp)
                },
                move |udp| carbon::serve_udp(udp, tx, settings, st, serve_stop),
                stop.clone(),
            )
            .await;
        tasks.push(udp);
    }
}

/// The HTTP API's state and, when `http:` is configured, its server task.
pub(super) struct Http {
    pub(super) state: Arc<http::State>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Http {
    /// Stops the server gracefully (given 5 s).
    pub(super) async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Builds the HTTP state and, when `http:` is configured, binds and serves the API (an address
/// that cannot be bound is retried, `bind.rs`).
pub(super) async fn http(
    config: &Config,
    store: &Arc<Store>,
    live: &Arc<live::Tier>,
    listeners: &bind::Registry,
) -> anyhow::Result<Http> {
    let state = Arc::new(http::State {
        live: live.clone(),
        store: store.clone(),
        settings: std::sync::RwLock::new(reload::http_settings(config)),
        stats: http::Stats::default(),
        limits: config
            .http
            .as_ref()
            .map_or_else(http::Limits::default, |h| http::Limits {
                max_body_bytes: h.max_body_bytes,
                max_connections: h.max_connections,
                header_timeout: Duration::from_millis(h.header_timeout_ms),
                idle_timeout: Duration::from_millis(h.idle_timeout_ms),
            }),
        ingest: http::ingest::Ingest::default(),
        patterns: Default::default(),
    });
    let problems = state.settings().site.problems;
    state.stats.dashboard_errors.fetch_add(problems, Relaxed);
    let (stop, stop_rx) = watch::channel(false);
    let task = match &config.http {
        None => None,
        Some(h) => {
            let (state, serve_stop) = (state.clone(), stop_rx.clone());
            let serve = move |listener| async move {
                let mut stop = serve_stop;
                let shutdown = async move {
                    let _ = stop.changed().await;
                };
                if let Err(error) = http::serve(listener, state, shutdown).await {
                    tracing::error!(%error, "HTTP server failed.");
                }
            };
            let bind = |addr| async move {
                let listener = tokio::net::TcpListener::bind(addr).await?;
                tracing::info!(addr = %listener.local_addr()?, "HTTP listening.");
                Ok(listener)
            };
            let key = ("http.listen", "tcp", h.listen);
            Some(listeners.listen(key, bind, serve, stop_rx).await)
        }
    };
    Ok(Http { state, stop, task })
}

/// The aggregation pipeline over the store, the outputs and the live tier.
pub(super) fn pipeline(
    config: &Config,
    store: &Arc<Store>,
    ship: Ship,
    live: &Arc<live::Tier>,
    held: &Arc<collect::Held>,
) -> Pipeline {
    let mut pipeline = Pipeline::new(
        Aggregator::new(
            config.storage.schemas.clone(),
            aggregate::Options {
                max_future: config.storage.max_future,
            },
        ),
        store.clone(),
        config.storage.max_pending_buckets,
        // At most every 5 s, and at least as often as the head is to be flushed.
        Duration::from_secs(config.storage.head_flush_interval.clamp(1, 5) as u64),
        ship,
        live.clone(),
        held.clone(),
    );
    if let Some(h) = &config.http {
        pipeline.ready_max_spool_lag = h.ready_max_spool_lag;
    }
    pipeline.admit = super::admit::Admit::new(
        config.storage.max_new_series_per_minute,
        config.storage.max_pending_buckets,
    );
    pipeline
}

/// Says tally is running (log, systemd READY=1) and, 30 s later, gives the pages of the
/// startup-only code back (see agent/memory.rs).
pub(super) fn announce_running() {
    tracing::info!("tally is running.");
    systemd::ready();
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        if let Ok(bytes) = tokio::task::spawn_blocking(memory::page_out_own_code).await {
            tracing::debug!(bytes, "Startup code paged out.");
        }
    });
}
