//! The agent: the only module that knows every stage. It opens the store, binds the listeners,
//! starts the inputs, runs the aggregation loop (observe → drain → commit every
//! `commit_interval`), turns component counters into `tally.*` series, and owns reload and
//! shutdown order: inputs stop → last observations folded → final commit → head flushed →
//! HTTP stops → store closed.

use crate::aggregate::{self, Aggregator};
use crate::config::{self, Config};
use crate::http;
use crate::inputs::Feed;
use crate::inputs::carbon;
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

mod collect;
mod pipeline;
mod tail;

pub use collect::settings as collect_settings;

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
    let tail_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut inputs = Inputs {
        carbon: Arc::new(carbon::Stats::default()),
        tail: Vec::new(),
    };
    if !config.tail.is_empty() {
        let cursors = store.cursors();
        inputs.tail = tail::start(&config.tail, &parsers, &cursors, &obs_tx, &tail_stop)?;
    }
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
    if let Some(system) = &config.system {
        tasks.push(collect::start(system, obs_tx.clone(), stop_rx.clone())?);
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

    let mut pipeline = Pipeline::new(
        Aggregator::new(
            config.storage.schemas.clone(),
            aggregate::Options {
                max_future: config.storage.max_future,
            },
        ),
        store.clone(),
        config.storage.max_pending_buckets,
    );
    let mut config = config;
    let mut tick = tokio::time::interval(Duration::from_millis(
        config.storage.commit_interval_ms.max(50),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("tally is running.");
    let mut fatal = None;
    let mut inputs_open = true;
    let self_metrics_every = Duration::from_secs(config.self_metrics_interval.max(1));
    let mut last_self_metrics: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            batch = obs_rx.recv(), if inputs_open => match batch {
                Some(feed) => pipeline.fold(feed).await,
                // Every input has stopped (or none is configured); commits and HTTP go on.
                None => inputs_open = false,
            },
            _ = tick.tick() => {
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
                Some(Control::Reload) => reload(&mut config, &mut pipeline, &http_state),
                Some(Control::Shutdown) | None => break,
            },
        }
    }

    tracing::info!("Shutting down: stopping inputs.");
    let _ = stop_tx.send(true);
    tail_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    // Tail threads may be waiting to send: keep folding until every one has finished.
    for thread in inputs.tail.iter_mut().filter_map(|r| r.thread.take()) {
        while !thread.is_finished() {
            if let Ok(Some(feed)) =
                tokio::time::timeout(Duration::from_millis(50), obs_rx.recv()).await
            {
                pipeline.fold(feed).await;
            }
        }
        let _ = thread.join();
    }
    // Whatever the inputs accepted before they stopped is folded in and committed.
    while let Ok(feed) = obs_rx.try_recv() {
        pipeline.fold(feed).await;
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
            max_series_per_request: config.query.max_series_per_request,
            max_points_soft: config.query.max_points_soft,
            max_points_hard: config.query.max_points_hard,
            timeout_ms: config.query.timeout_ms,
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
    if new.system != current.system {
        needs_restart.push("inputs.system");
    }
    if new.tail != current.tail || new.parser_dirs != current.parser_dirs {
        needs_restart.push("inputs.tail and parsers");
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
    }
}
