//! The agent: the only module that knows every stage. It opens the store, binds the listeners,
//! starts the inputs, runs the aggregation loop (observe → drain → commit every
//! `commit_interval`), turns component counters into `tally.*` series, and owns reload and
//! shutdown order: inputs stop → last observations folded → final commit → head flushed →
//! HTTP stops → store closed.

use crate::aggregate::{self, Aggregator};
use crate::config::Config;
use crate::http;
use crate::inputs::Feed;
use crate::inputs::carbon;
use crate::ship::Ship;
use crate::store::{self, Store};
use anyhow::Context as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Asks a running agent to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Reload,
    Shutdown,
}

mod admit;
mod collect;
mod fds;
mod heap;
mod memory;
mod pipeline;
mod reload;
mod site;
mod statsd;
pub mod systemd;
mod tail;

pub use collect::settings as collect_settings;
pub use heap::limit_arenas;

use pipeline::Pipeline;

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
    tail: Vec<tail::Running>,
    /// Set to stop the running tail threads (a reload starts new ones with a new flag).
    tail_stop: Arc<std::sync::atomic::AtomicBool>,
    /// What tail inputs replaced by a reload counted.
    tail_retired: tail::Totals,
    /// The system collectors' task and its stop signal.
    system: Option<collect::Task>,
    /// The StatsD input and the outputs.
    statsd: statsd::Running,
}

/// Runs the daemon until a [`Control::Shutdown`] arrives (or the control channel closes).
pub async fn run(config: Config, mut control: mpsc::Receiver<Control>) -> anyhow::Result<()> {
    fds::check(&config);
    let store_options = store_options(&config);
    let started = Instant::now();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(store_options))
            .await?
            .with_context(|| format!("open the store in {}", config.data_dir.display()))?,
    );
    tracing::info!(data_dir = %config.data_dir.display(), series = store.stats().series,
        ms = started.elapsed().as_millis() as u64, "Store opened.");

    let ship = {
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
        tokio::task::spawn_blocking(move || {
            Ship::open(&outputs, &dir, &store, schemas, crate::clock::unix_now())
        })
        .await?
        .context("open the output spools")?
    };
    let (ship_stop_tx, ship_stop_rx) = watch::channel(false);
    let mut senders = Vec::new();
    for output in ship.outputs() {
        let client = crate::ship::Client::new(&output)?;
        tracing::info!(output = %output.config.name, kind = output.config.target.type_name(),
            pending = output.spool().pending(), "Output started.");
        senders.push(tokio::spawn(crate::ship::run_sender(
            output,
            client,
            ship_stop_rx.clone(),
        )));
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let (obs_tx, mut obs_rx) = mpsc::channel::<Feed>(config.queue_batches);
    let (parsers, parser_errors) = crate::parse::load(&config.parser_dirs);
    for error in &parser_errors {
        tracing::error!("Parser not loaded:\n{error}");
    }
    for p in &parsers {
        for warning in p.warnings() {
            tracing::warn!("{warning}");
        }
    }
    let mut inputs = Inputs {
        carbon: Arc::new(carbon::Stats::default()),
        tail: Vec::new(),
        tail_stop: Arc::default(),
        tail_retired: tail::Totals::default(),
        system: None,
        statsd: statsd::Running::default(),
    };
    if !config.tail.is_empty() {
        let cursors = store.cursors();
        inputs.tail = tail::start(&config.tail, &parsers, &cursors, &obs_tx, &inputs.tail_stop)?;
    }
    let mut tasks = Vec::new();
    if let Some(c) = &config.carbon {
        let settings = carbon::Settings {
            kind: c.kind,
            max_line_length: c.max_line_length,
            max_connections: c.max_connections,
            idle_timeout: Duration::from_millis(c.idle_timeout_ms),
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
    inputs.statsd = statsd::start(&config, &obs_tx, &stop_rx, &mut tasks).await?;
    let live = Arc::new(crate::live::Tier::new(config.live.clone()));
    if let Some(system) = &config.system {
        inputs.system = Some(collect::start(system, obs_tx.clone(), &live)?);
    }
    // Kept to start inputs again on reload; dropped at shutdown.
    let feed_tx = obs_tx;

    let mut attach_rx = live
        .take_attach_queue()
        .context("the live tier's watch queue")?;
    let http_state = Arc::new(http::State {
        live: live.clone(),
        store: store.clone(),
        settings: std::sync::RwLock::new(reload::http_settings(&config)),
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
    });
    let problems = http_state.settings().site.problems;
    http_state
        .stats
        .dashboard_errors
        .fetch_add(problems, Relaxed);
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
    );
    if let Some(h) = &config.http {
        pipeline.ready_max_spool_lag = h.ready_max_spool_lag;
    }
    pipeline.admit = admit::Admit::new(
        config.storage.max_new_series_per_minute,
        config.storage.max_pending_buckets,
    );
    let mut config = config;
    let mut tick = tokio::time::interval(Duration::from_millis(
        config.storage.commit_interval_ms.max(50),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("tally is running.");
    systemd::ready();
    // Once the startup code has run for good (config, recovery, the first rounds), give its pages
    // back; see agent/memory.rs.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        if let Ok(bytes) = tokio::task::spawn_blocking(memory::page_out_own_code).await {
            tracing::debug!(bytes, "Startup code paged out.");
        }
    });
    let mut watchdog = systemd::Watchdog::from_env();
    let mut fatal = None;
    let self_metrics_every = Duration::from_secs(config.self_metrics_interval.max(1));
    let mut last_self_metrics: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            Some(feed) = obs_rx.recv() => pipeline.fold(feed).await,
            Some(watch) = attach_rx.recv() => pipeline.attach(watch),
            _ = tick.tick() => {
                watchdog.tick();
                live.sweep(crate::live::now_ms());
                if last_self_metrics.is_none_or(|t| t.elapsed() >= self_metrics_every) {
                    last_self_metrics = Some(std::time::Instant::now());
                    pipeline.self_metrics(&inputs, &http_state.stats);
                }
                if let Err(error) = pipeline.commit().await {
                    fatal = Some(error);
                    break;
                }
            }
            c = control.recv() => match c {
                Some(Control::Reload) => {
                    systemd::reloading();
                    let mut running = reload::Running {
                        config: &mut config,
                        pipeline: &mut pipeline,
                        http: &http_state,
                        inputs: &mut inputs,
                        feeds: &mut obs_rx,
                        feed_tx: &feed_tx,
                    };
                    running.reload().await;
                    systemd::ready();
                }
                Some(Control::Shutdown) | None => break,
            },
        }
    }

    tracing::info!("Shutting down: stopping inputs.");
    systemd::stopping();
    // Open streams end now: an open SSE body would hold up the HTTP server's graceful stop.
    live.shutdown();
    let _ = stop_tx.send(true);
    inputs.tail_stop.store(true, Relaxed);
    if let Some(system) = inputs.system.take() {
        system.stop().await;
    }
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    drop(feed_tx);
    // Tail threads may be waiting to send: keep folding until every one has finished.
    tail::join(&mut inputs.tail, &mut obs_rx, &mut pipeline).await;
    // Whatever the inputs accepted before they stopped is folded in and committed.
    while let Ok(feed) = obs_rx.try_recv() {
        pipeline.fold(feed).await;
    }
    let mut lost = 0;
    if fatal.is_none() {
        pipeline.self_metrics(&inputs, &http_state.stats);
        pipeline.release_waiting();
        // A refused final commit (a full disk) is retried for a few seconds, then whatever
        // is left is reported, never dropped in silence.
        for _ in 0..5 {
            if let Err(error) = pipeline.commit().await {
                fatal = Some(error);
                break;
            }
            if pipeline.unsaved() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        lost = pipeline.unsaved();
        if lost > 0 && fatal.is_none() {
            tracing::error!(
                lost,
                "Stopping with buckets the store refused to commit (see the errors above); they are lost."
            );
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
    // Senders stop; what they did not deliver stays in the spools for the next start.
    let _ = ship_stop_tx.send(true);
    for s in senders {
        let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
    }
    let _ = http_stop_tx.send(true);
    if let Some(t) = http_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    if let Some(error) = fatal {
        return Err(error)
            .context("the store failed to make a commit durable; restart to recover from the WAL");
    }
    if lost > 0 {
        anyhow::bail!("{lost} buckets were lost at the stop: the store refused the final commits");
    }
    tracing::info!("tally stopped.");
    Ok(())
}

/// Checks that every parser a tail input names was loaded (for `tally check`).
pub fn check_tail_parsers(config: &Config, parsers: &[crate::parse::Parser]) -> anyhow::Result<()> {
    tail::bind(&config.tail, parsers).map(|_| ())
}

/// The data directory a config points at, for commands that read the store.
pub fn store_options(config: &Config) -> store::Options {
    store::Options {
        data_dir: PathBuf::from(&config.data_dir),
        tiers: config.storage.schemas.resolutions(),
        head_flush_interval: config.storage.head_flush_interval,
        head_max_bytes: config.storage.head_max_bytes,
    }
}
