//! The agent: the only module that knows every stage. It opens the store, starts the outputs
//! and the inputs, serves HTTP, runs the aggregation loop (observe → drain → commit within
//! `commit_interval` of input from outside, at the slot's end for the host's own samples,
//! observing on while the commit is written; `pace.rs` says when it wakes), turns component counters
//! into `tally.*` series, and owns reload and shutdown order: live streams end → the commit in
//! flight lands → inputs stop → queued observations folded → final commit → head flush →
//! output senders stop → HTTP stops. [`run`] reads as that list.

use crate::config::Config;
use crate::inputs::Feed;
use crate::inputs::carbon;
use crate::live;
use crate::store;
use anyhow::Context as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Asks a running agent to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Reload,
    Shutdown,
}

mod admit;
mod bind;
mod collect;
mod fds;
mod heap;
mod memory;
mod pace;
mod pipeline;
mod reload;
mod site;
mod start;
mod statsd;
mod stop;
pub mod systemd;
mod tail;

pub use bind::taken as listen_addresses_taken;
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

/// The running inputs: what the self-metrics read, a reload restarts and the stop ends.
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
    /// Turned true to stop the listeners' and the StatsD flush and carbon output tasks.
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Every listener (the inputs' and HTTP's) and whether it is bound (`bind.rs`).
    listeners: Arc<bind::Registry>,
}

/// Runs the daemon until a [`Control::Shutdown`] arrives (or the control channel closes). The
/// whole order of things is here; each step is a function in `start.rs` or `stop.rs`.
pub async fn run(config: Config, control: mpsc::Receiver<Control>) -> anyhow::Result<()> {
    // Startup: a step that fails stops the start with its reason.
    fds::check(&config);
    let store = start::open_store(&config).await?;
    let (ship, senders) = start::outputs(&config, &store).await?;
    let live = Arc::new(live::Tier::new(config.live.clone()));
    let (feed_tx, feeds) = mpsc::channel::<Feed>(config.queue_batches);
    let held = {
        let live = live.clone();
        Arc::new(collect::Held::new(move || live.watched() > 0))
    };
    let inputs = start::inputs(&config, &store, &live, &feed_tx, &held).await?;
    let attach = live
        .take_attach_queue()
        .context("the live tier's watch queue")?;
    let http = start::http(&config, &store, &live, &inputs.listeners).await?;
    let pipeline = start::pipeline(&config, &store, ship, &live, &held);
    start::announce_running();

    // Running: fold feeds, answer live watches, commit every tick, reload on SIGHUP; until a
    // shutdown is asked or the store refuses a commit for good (`fatal`).
    let mut agent = Agent {
        config,
        pipeline,
        inputs,
        feeds,
        feed_tx,
        attach,
        http,
    };
    let fatal = agent.run_loop(control).await;
    let Agent {
        mut pipeline,
        mut inputs,
        mut feeds,
        feed_tx,
        http,
        ..
    } = agent;

    // Shutdown, in this order; no step fails the stop, the final commit decides the exit status.
    tracing::info!("Shutting down: stopping inputs.");
    systemd::stopping();
    live.shutdown(); // open streams end: an open SSE body would hold up HTTP's graceful stop
    let fatal = stop::settle(fatal, &mut pipeline).await; // the commit in flight lands
    inputs.stop().await;
    stop::fold_queued(feed_tx, &mut feeds, &mut inputs, &mut pipeline).await;
    let status = stop::final_commit(fatal, &mut pipeline, &inputs, &http.state.stats).await;
    stop::flush_head(&pipeline, &store).await;
    senders.stop().await; // what they did not deliver stays in the spools for the next start
    http.stop().await;
    if status.is_ok() {
        tracing::info!("tally stopped.");
    }
    status
}

/// What the loop works on; a reload borrows from it.
struct Agent {
    config: Config,
    pipeline: Pipeline,
    inputs: Inputs,
    feeds: mpsc::Receiver<Feed>,
    /// Kept to start inputs again on reload; dropped at shutdown.
    feed_tx: mpsc::Sender<Feed>,
    attach: mpsc::Receiver<live::Attach>,
    http: start::Http,
}

impl Agent {
    /// The aggregation loop: returns on a shutdown (`None`, perhaps with a commit in flight) or
    /// with the commit error that made going on impossible.
    async fn run_loop(&mut self, mut control: mpsc::Receiver<Control>) -> Option<store::Error> {
        let commit = Duration::from_millis(self.config.storage.commit_interval_ms.max(50));
        let mut watchdog = systemd::Watchdog::from_env();
        let mut pace = pace::Pace {
            commit,
            slot_secs: self.pipeline.slot_secs(),
            self_metrics_secs: self.config.self_metrics_interval.max(1) as i64,
            watchdog: watchdog.period(),
        };
        let mut self_metrics_round: Option<i64> = None;
        let next = tokio::time::sleep(Duration::ZERO); // at once: /-/ready waits for the first self-metrics
        tokio::pin!(next);
        loop {
            // A commit runs on a blocking thread while feeds go on being folded (the live tier
            // sees them at once); what needs a settled view waits for it: a watch (its attach
            // branch is off meanwhile), a tick (off too: it fires when the commit ends), a
            // reload and the stop (`settle`).
            let committing = self.pipeline.committing();
            tokio::select! {
                Some(feed) = self.feeds.recv() => {
                    self.pipeline.fold(feed).await;
                    // Input from outside is durable within one commit interval (pace.rs).
                    self.hurry(next.as_mut(), commit);
                }
                Some(watch) = self.attach.recv(), if !committing => self.pipeline.attach(watch),
                outcome = self.pipeline.commit_ended(), if committing => {
                    if let Err(error) = self.pipeline.finish_commit(outcome).await {
                        return Some(error);
                    }
                    self.hurry(next.as_mut(), commit); // a refused batch: retried within one interval
                }
                _ = &mut next, if !committing => {
                    watchdog.tick();
                    let now_ms = live::now_ms();
                    self.pipeline.live.sweep(now_ms);
                    let round = pace.round(now_ms);
                    if self_metrics_round != Some(round) {
                        self_metrics_round = Some(round);
                        self.pipeline.self_metrics(&self.inputs, &self.http.state.stats);
                    }
                    self.pipeline.tick().await;
                    let wait = pace.next(live::now_ms(), self.pipeline.busy());
                    next.as_mut().reset(tokio::time::Instant::now() + wait);
                }
                c = control.recv() => match c {
                    Some(Control::Reload) => {
                        if let Err(error) = self.pipeline.settle().await {
                            return Some(error);
                        }
                        self.reload().await;
                        pace.slot_secs = self.pipeline.slot_secs();
                        pace.self_metrics_secs = self.config.self_metrics_interval.max(1) as i64;
                        next.as_mut().reset(tokio::time::Instant::now() + commit);
                    }
                    Some(Control::Shutdown) | None => return None,
                },
            }
        }
    }

    /// Brings the next tick within `commit` when something waits to be durable.
    fn hurry(&self, next: std::pin::Pin<&mut tokio::time::Sleep>, commit: Duration) {
        let by = tokio::time::Instant::now() + commit;
        if self.pipeline.waits_to_be_durable() && next.deadline() > by {
            next.reset(by);
        }
    }

    /// SIGHUP: applies what can change live (see agent/reload.rs).
    async fn reload(&mut self) {
        systemd::reloading();
        let mut running = reload::Running {
            config: &mut self.config,
            pipeline: &mut self.pipeline,
            http: &self.http.state,
            inputs: &mut self.inputs,
            feeds: &mut self.feeds,
            feed_tx: &self.feed_tx,
        };
        running.reload().await;
        systemd::ready();
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
        head_max_bytes: config.storage.head_max_bytes,
    }
}
