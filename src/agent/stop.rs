//! The shutdown steps [`super::run`] calls, in its order. None of them fails the stop: each
//! logs what went wrong and the next one runs; only the final commit decides the exit status.

use super::{Inputs, pipeline::Pipeline, tail};
use crate::http;
use crate::inputs::Feed;
use crate::store::{self, Store};
use anyhow::Context as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::mpsc;

impl Inputs {
    /// Tells every input to stop and waits for the listeners, the StatsD flush tasks (the flush
    /// made when stopping queued into its carbon output, which then stops) and the collectors.
    /// Tail threads are only told; [`fold_queued`] waits for them.
    pub(super) async fn stop(&mut self) {
        let _ = self.stop.send(true);
        self.tail_stop.store(true, Relaxed);
        if let Some(system) = self.system.take() {
            system.stop().await;
        }
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Waits for the commit the loop left in flight (a shutdown does not wait for it), so the
/// stop works on a settled view; a commit that fails for good becomes the stop's `fatal`.
pub(super) async fn settle(
    fatal: Option<store::Error>,
    pipeline: &mut Pipeline,
) -> Option<store::Error> {
    match fatal {
        Some(error) => Some(error),
        None => pipeline.settle().await.err(),
    }
}

/// Folds whatever the inputs accepted before they stopped: closes the feed channel, waits for
/// the tail threads (folding while they may be waiting to send), then folds what is queued.
pub(super) async fn fold_queued(
    feed_tx: mpsc::Sender<Feed>,
    feeds: &mut mpsc::Receiver<Feed>,
    inputs: &mut Inputs,
    pipeline: &mut Pipeline,
) {
    drop(feed_tx);
    tail::join(&mut inputs.tail, feeds, pipeline).await;
    while let Ok(feed) = feeds.try_recv() {
        pipeline.fold(feed).await;
    }
}

/// The final commit, unless a commit already failed for good (`fatal`); a refused commit (a full
/// disk) is retried for a few seconds, then what is left is reported, never dropped in silence.
/// Returns the daemon's exit status.
pub(super) async fn final_commit(
    fatal: Option<store::Error>,
    pipeline: &mut Pipeline,
    inputs: &Inputs,
    http: &http::Stats,
) -> anyhow::Result<()> {
    let failed = |error: store::Error| {
        Err(error)
            .context("the store failed to make a commit durable; restart to recover from the WAL")
    };
    if let Some(error) = fatal {
        return failed(error);
    }
    pipeline.self_metrics(inputs, http);
    pipeline.release_waiting();
    for _ in 0..5 {
        if let Err(error) = pipeline.commit().await {
            return failed(error);
        }
        if pipeline.unsaved() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let lost = pipeline.unsaved();
    if lost > 0 {
        tracing::error!(
            lost,
            "Stopping with buckets the store refused to commit (see the errors above); they are lost."
        );
        anyhow::bail!("{lost} buckets were lost at the stop: the store refused the final commits");
    }
    Ok(())
}

/// Writes the head out, after any maintenance run in flight (so the flush does not queue behind
/// it); a failure is logged: the WAL still holds the data.
pub(super) async fn flush_head(pipeline: &Pipeline, store: &Arc<Store>) {
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
}
