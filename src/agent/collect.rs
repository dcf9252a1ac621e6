//! The system input: one round of the collectors every `interval`, on a blocking thread (a hung
//! filesystem under `statvfs` must not stall the runtime), rates over the real elapsed time.

use crate::clock::unix_now;
use crate::config;
use crate::inputs::Feed;
use crate::inputs::collect::{self, Collectors};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The collectors' settings from the config.
pub fn settings(system: &config::System) -> collect::Settings {
    system.settings.clone()
}

/// The running system input.
pub(crate) struct Task {
    handle: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Task {
    /// Stops after the round in progress, if any (waits at most 10 s).
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

pub(crate) fn start(system: &config::System, tx: mpsc::Sender<Feed>) -> anyhow::Result<Task> {
    let (stop_tx, mut stop) = watch::channel(false);
    let mut collectors = Some(Collectors::new(settings(system))?);
    let interval = Duration::from_secs(system.interval.max(1));
    tracing::info!(interval_s = interval.as_secs(), prefix = %system.prefix,
        collectors = %system.settings.collectors.join(","), "System collectors running.");
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {}
            }
            let elapsed = last.map_or(0.0, |l| l.elapsed().as_secs_f64());
            last = Some(Instant::now());
            let Some(mut c) = collectors.take() else {
                break;
            };
            let round = tokio::task::spawn_blocking(move || {
                let obs = c.collect(unix_now(), elapsed);
                (c, obs)
            })
            .await;
            let Ok((c, observations)) = round else {
                tracing::error!("A collector round failed; the system input stops.");
                break;
            };
            collectors = Some(c);
            if tx.send(Feed::observations(observations)).await.is_err() {
                break;
            }
        }
    });
    Ok(Task {
        handle,
        stop: stop_tx,
    })
}
