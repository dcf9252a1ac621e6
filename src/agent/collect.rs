//! The system input: the collectors on a thread of their own (a hung filesystem under `statvfs`
//! must not stall the runtime), each sampling on its own interval aligned to the wall clock
//! (`Collectors::collect_due`), rates over the real elapsed time. Between rounds the thread
//! sleeps until the next collector is due, or until it is told to stop.
//!
//! Faster sampling while someone watches: [`start_watched`] takes a [`Watching`] hook, asked with
//! a collector's `<prefix>.<collector>.` after each of its samples; the live tier answers it
//! (`live::Tier::watching_prefix`). [`start`] runs with nobody watching.

use crate::config;
use crate::inputs::Feed;
use crate::inputs::collect::{self, Collectors};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Says whether anyone watches a series whose name starts with the given prefix.
pub type Watching = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Longest sleep between two checks of the clock (a wall-clock step is noticed this soon).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// The collectors' settings from the config.
pub fn settings(system: &config::System) -> collect::Settings {
    system.settings.clone()
}

/// The running system input.
pub(crate) struct Task {
    thread: std::thread::JoinHandle<()>,
    stop: std_mpsc::Sender<()>,
}

impl Task {
    /// Stops after the round in progress, if any (waits at most 10 s).
    pub(crate) async fn stop(self) {
        drop(self.stop);
        let thread = self.thread;
        let join = tokio::task::spawn_blocking(move || thread.join());
        if tokio::time::timeout(Duration::from_secs(10), join)
            .await
            .is_err()
        {
            tracing::warn!("The system collectors did not stop within 10 s; left behind.");
        }
    }
}

/// Starts the collectors; those with a `watch_interval` sample faster while the live tier has a
/// watcher for one of their series.
pub(crate) fn start(
    system: &config::System,
    tx: mpsc::Sender<Feed>,
    live: &Arc<crate::live::Tier>,
) -> anyhow::Result<Task> {
    let live = live.clone();
    start_watched(
        system,
        tx,
        Arc::new(move |prefix: &str| live.watching_prefix(prefix)),
    )
}

/// Starts the collectors; `watching` decides when the ones with a `watch_interval` sample faster.
pub(crate) fn start_watched(
    system: &config::System,
    tx: mpsc::Sender<Feed>,
    watching: Watching,
) -> anyhow::Result<Task> {
    let collectors = Collectors::new(settings(system))?;
    let (stop, stopped) = std_mpsc::channel();
    tracing::info!(interval_ms = system.interval_ms, prefix = %system.prefix,
        collectors = %system.settings.collectors.join(","), "System collectors running.");
    let thread = std::thread::Builder::new()
        .name("collect".into())
        .spawn(move || run(collectors, &tx, &stopped, &*watching))?;
    Ok(Task { thread, stop })
}

fn run(
    mut c: Collectors,
    tx: &mpsc::Sender<Feed>,
    stopped: &std_mpsc::Receiver<()>,
    watching: &dyn Fn(&str) -> bool,
) {
    let mut last: Option<Instant> = None;
    loop {
        let now_ms = unix_ms();
        let Some(due) = c.next_due_ms(now_ms) else {
            let _ = stopped.recv();
            return;
        };
        if due > now_ms {
            let wait = Duration::from_millis((due - now_ms) as u64).min(MAX_SLEEP);
            match stopped.recv_timeout(wait) {
                Err(std_mpsc::RecvTimeoutError::Timeout) => continue,
                _ => return,
            }
        }
        let elapsed = last.map_or(0.0, |l| l.elapsed().as_secs_f64());
        last = Some(Instant::now());
        let observations = c.collect_due(now_ms, elapsed, watching);
        if !observations.is_empty() && tx.blocking_send(Feed::local(observations)).is_err() {
            return;
        }
        if matches!(
            stopped.try_recv(),
            Ok(()) | Err(std_mpsc::TryRecvError::Disconnected)
        ) {
            return;
        }
    }
}

/// Unix milliseconds now (the wall clock the samples are aligned to and stamped with).
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
