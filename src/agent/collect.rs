//! The system input: the collectors on a thread of their own (a hung filesystem under `statvfs`
//! must not stall the runtime), each sampling on its own interval aligned to the wall clock
//! (`Collectors::collect_due`), rates over the real elapsed time. Between rounds the thread
//! sleeps until the next collector is due, or until it is told to stop.
//!
//! Faster sampling while someone watches: [`start_watched`] takes a [`Watching`] hook, asked with
//! a collector's `<prefix>.<collector>.` after each of its samples; the live tier answers it
//! (`live::Tier::watching_prefix`). [`start`] runs with nobody watching.
//!
//! Handing samples over: while no live ring exists, a round's observations wait in [`Held`]
//! and the aggregation loop takes them when it needs them (its tick, before a live watch, the
//! stop), so an idle daemon's loop is not woken every second for them. While rings exist each
//! round is sent at once (the live tier stamps arrival). README, "When samples become durable".

use crate::config;
use crate::inputs::Feed;
use crate::inputs::collect::{self, Collectors};
use crate::metric::Observation;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Says whether anyone watches a series whose name starts with the given prefix.
pub type Watching = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Longest sleep between two checks of the clock (a wall-clock step is noticed this soon).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Most observations [`Held`] keeps before the thread sends them itself (~60 rounds of the
/// default collectors): a loop that ticks rarely (a long `self_metrics.interval` and coarse
/// schemas) still gets them without holding much memory.
const MAX_HELD: usize = 8192;

/// The host's samples between the collectors' thread and the aggregation loop.
///
/// The thread asks `direct` under the lock before it keeps a round; the loop takes what is
/// kept under the same lock. So a round is either taken by a `take` after it or sent at once by
/// a thread that saw the rings a watch made: a watch attached between two `take`s (before for
/// its bridge, after for the race) misses no sample.
pub(crate) struct Held {
    samples: Mutex<Vec<Observation>>,
    /// True when each round must go to the loop at once (live rings exist).
    direct: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Held {
    pub(crate) fn new(direct: impl Fn() -> bool + Send + Sync + 'static) -> Held {
        Held {
            samples: Mutex::new(Vec::new()),
            direct: Box::new(direct),
        }
    }

    /// Keeps a round, or gives it back (with anything kept before it) to be sent now.
    fn hold(&self, mut round: Vec<Observation>) -> Option<Vec<Observation>> {
        let mut kept = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if (self.direct)() || kept.len() + round.len() > MAX_HELD {
            if kept.is_empty() {
                return Some(round);
            }
            kept.append(&mut round);
            return Some(std::mem::take(&mut *kept));
        }
        kept.append(&mut round);
        None
    }

    /// Moves what is kept into `into` (empty); both vectors keep their capacity.
    pub(crate) fn take(&self, into: &mut Vec<Observation>) {
        let mut kept = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if !kept.is_empty() {
            std::mem::swap(&mut *kept, into);
        }
    }
}

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
    held: Arc<Held>,
) -> anyhow::Result<Task> {
    let live = live.clone();
    start_watched(
        system,
        tx,
        Arc::new(move |prefix: &str| live.watching_prefix(prefix)),
        held,
    )
}

/// Starts the collectors; `watching` decides when the ones with a `watch_interval` sample faster.
pub(crate) fn start_watched(
    system: &config::System,
    tx: mpsc::Sender<Feed>,
    watching: Watching,
    held: Arc<Held>,
) -> anyhow::Result<Task> {
    let collectors = Collectors::new(settings(system))?;
    let (stop, stopped) = std_mpsc::channel();
    tracing::info!(interval_ms = system.interval_ms, prefix = %system.prefix,
        collectors = %system.settings.collectors.join(","), "System collectors running.");
    let thread = std::thread::Builder::new()
        .name("collect".into())
        .spawn(move || run(collectors, &tx, &stopped, &*watching, &held))?;
    Ok(Task { thread, stop })
}

fn run(
    mut c: Collectors,
    tx: &mpsc::Sender<Feed>,
    stopped: &std_mpsc::Receiver<()>,
    watching: &dyn Fn(&str) -> bool,
    held: &Held,
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
        if !observations.is_empty()
            && let Some(round) = held.hold(observations)
            && tx.blocking_send(Feed::local(round)).is_err()
        {
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

#[cfg(test)]
mod tests {
    use super::{Held, MAX_HELD};
    use crate::metric::{Kind, Observation, Series};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    fn round(n: usize, time: i64) -> Vec<Observation> {
        let series = Series::parse("servers.h.cpu.total.user").unwrap();
        (0..n)
            .map(|i| Observation {
                series: series.clone(),
                kind: Kind::Gauge,
                value: i as f64,
                time,
            })
            .collect()
    }

    /// Rounds wait while nothing is watched and come out in order; once rings exist a round
    /// goes at once, with anything kept before it; past `MAX_HELD` the thread sends them.
    #[test]
    fn keeps_rounds_until_taken_or_watched() {
        let watched = Arc::new(AtomicBool::new(false));
        let w = watched.clone();
        let held = Held::new(move || w.load(Relaxed));
        assert!(held.hold(round(3, 1)).is_none());
        assert!(held.hold(round(3, 2)).is_none());
        let mut out = Vec::new();
        held.take(&mut out);
        let times: Vec<i64> = out.iter().map(|o| o.time).collect();
        assert_eq!(times, [1, 1, 1, 2, 2, 2]);
        out.clear();
        held.take(&mut out);
        assert!(out.is_empty(), "taken once");

        assert!(held.hold(round(2, 3)).is_none());
        watched.store(true, Relaxed);
        let sent = held.hold(round(2, 4)).expect("watched: sent at once");
        let times: Vec<i64> = sent.iter().map(|o| o.time).collect();
        assert_eq!(times, [3, 3, 4, 4]);
        held.take(&mut out);
        assert!(out.is_empty());

        watched.store(false, Relaxed);
        assert!(held.hold(round(MAX_HELD - 1, 5)).is_none());
        let sent = held.hold(round(2, 6)).expect("over MAX_HELD: sent");
        assert_eq!(sent.len(), MAX_HELD + 1);
    }
}
