//! SIGHUP: re-read the config file and the parser files, and apply what changed without losing
//! a bucket or an offset. A bad file (config or a parser an input needs) is rejected with the
//! error logged, and what runs keeps running. So is a file with no settings at all (empty or
//! only comments: a truncated write, not a wish for all defaults; `{}` says that) and a file
//! still changing while it is read (a half-written one).
//!
//! - Schemas, query limits and the HTTP token apply at once.
//! - Tail inputs and parsers: parser files are always re-read. The new set is checked first
//!   (every parser an input names must load); then the running tail threads stop, everything
//!   they read is folded in, and new threads start from the exact cursors the old ones reached,
//!   so no line is lost or counted twice.
//! - System collectors restart with the new settings when they changed (the first round after
//!   that publishes no rates, as at startup).
//! - Listen addresses, `data_dir`, storage intervals and the queue bound need a restart; the log
//!   names them.

use super::pipeline::Pipeline;
use super::{Inputs, collect, tail};
use crate::config::{self, Config};
use crate::http;
use crate::inputs::Feed;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc;

/// What a reload may change, borrowed from the running agent.
pub(super) struct Running<'a> {
    pub config: &'a mut Config,
    pub pipeline: &'a mut Pipeline,
    pub http: &'a http::State,
    pub inputs: &'a mut Inputs,
    pub feeds: &'a mut mpsc::Receiver<Feed>,
    pub feed_tx: &'a mpsc::Sender<Feed>,
}

pub(super) fn http_settings(config: &Config) -> http::Settings {
    http::Settings {
        schemas: config.storage.schemas.clone(),
        query: crate::query::Options {
            tier_choice: config.query.tier_choice,
            max_points_per_series: config.query.max_points_per_series,
            max_series: config.query.max_series,
            max_series_per_request: config.query.max_series_per_request,
            max_points_soft: config.query.max_points_soft,
            max_points_hard: config.query.max_points_hard,
            timeout_ms: config.query.timeout_ms,
        },
        default_max_data_points: config.query.default_max_data_points,
        token: config.http.as_ref().and_then(|h| h.token.clone()),
        site: Arc::new(super::site::build(config)),
        token_on_loopback: config
            .http
            .as_ref()
            .is_some_and(|h| h.require_token_on_loopback),
    }
}

impl Running<'_> {
    pub(super) async fn reload(&mut self) {
        let Some(path) = self.config.source.clone() else {
            tracing::warn!(
                "Reload asked, but tally runs on built-in defaults (no -c FILE): nothing to reload."
            );
            return;
        };
        let new = match read_settled(&path)
            .await
            .and_then(|text| config::parse(&text, &path).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(error) => {
                self.pipeline.rejected_reloads += 1;
                tracing::error!(path = %path.display(), "Reload rejected (counted in tally.config.rejected_reloads); the running config stays:\n{error}");
                return;
            }
        };
        let current = &*self.config;
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
        if new.statsd != current.statsd {
            needs_restart.push("inputs.statsd");
        }
        if new.outputs != current.outputs {
            needs_restart.push("outputs");
        }
        if new.storage.commit_interval_ms != current.storage.commit_interval_ms
            || new.storage.head_flush_interval != current.storage.head_flush_interval
            || new.storage.max_future != current.storage.max_future
            || new.storage.max_pending_buckets != current.storage.max_pending_buckets
            || new.storage.max_new_series_per_minute != current.storage.max_new_series_per_minute
        {
            needs_restart.push("storage intervals and limits");
        }
        let limits = |c: &Config| {
            c.http.as_ref().map(|h| {
                let (b, n) = (h.max_body_bytes, h.max_connections);
                (b, n, h.header_timeout_ms, h.idle_timeout_ms)
            })
        };
        if limits(&new) != limits(current) {
            needs_restart.push("http limits");
        }
        if new.queue_batches != current.queue_batches {
            needs_restart.push("inputs.queue_batches");
        }
        if new.live != current.live {
            needs_restart.push("live");
        }
        if format!("{:?}", new.outputs) != format!("{:?}", current.outputs) {
            needs_restart.push("outputs");
        }
        if new.storage.schemas.resolutions() != current.storage.schemas.resolutions() {
            needs_restart.push("the set of resolutions (store retention enforcement)");
        }

        let mut applied = vec![
            "storage.schemas",
            "query",
            "http.token",
            "http.require_token_on_loopback",
            "dashboards",
        ];
        self.pipeline
            .aggregator
            .set_schemas(new.storage.schemas.clone());
        self.pipeline.ship.set_schemas(new.storage.schemas.clone());
        *self
            .http
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = http_settings(&new);
        let problems = self.http.settings().site.problems;
        self.http
            .stats
            .dashboard_errors
            .fetch_add(problems, Relaxed);
        self.config.storage.schemas = new.storage.schemas.clone();
        self.config.query = new.query.clone();
        self.config.dashboard_dirs = new.dashboard_dirs.clone();
        if let (Some(running), Some(new)) = (self.config.http.as_mut(), new.http.as_ref()) {
            running.token = new.token.clone();
            running.ready_max_spool_lag = new.ready_max_spool_lag;
            self.pipeline.ready_max_spool_lag = new.ready_max_spool_lag;
            running.require_token_on_loopback = new.require_token_on_loopback;
        }

        if !new.tail.is_empty() || !self.inputs.tail.is_empty() {
            match self.restart_tail(&new).await {
                Ok(()) => {
                    applied.push("inputs.tail and parsers");
                    self.config.tail = new.tail.clone();
                    self.config.parser_dirs = new.parser_dirs.clone();
                }
                Err(error) => {
                    self.pipeline.rejected_reloads += 1;
                    tracing::error!(
                        "Tail inputs and parsers not reloaded (counted in \
                         tally.config.rejected_reloads); the running ones go on: {error:#}"
                    )
                }
            }
        }
        if new.system != self.config.system {
            if let Some(running) = self.inputs.system.take() {
                running.stop().await;
            }
            if let Some(system) = &new.system {
                let held = self.pipeline.held.clone();
                match collect::start(system, self.feed_tx.clone(), &self.http.live, held) {
                    Ok(task) => self.inputs.system = Some(task),
                    Err(error) => {
                        tracing::error!(%error, "System collectors not restarted.")
                    }
                }
            }
            self.config.system = new.system.clone();
            applied.push("inputs.system");
        }
        self.pipeline.reloads += 1;
        let applied = applied.join(", ");
        if needs_restart.is_empty() {
            tracing::info!(path = %path.display(), applied, "Config reloaded.");
        } else {
            tracing::warn!(path = %path.display(), applied, needs_restart = %needs_restart.join(", "),
                "Config reloaded; some changes take effect only after a restart.");
        }
    }

    /// Re-reads the parsers, checks the new tail inputs against them, then replaces the running
    /// tail threads: stop, fold what they read, start again from where they ended.
    async fn restart_tail(&mut self, new: &Config) -> anyhow::Result<()> {
        let parsers = super::start::load_parsers(new);
        // Fails before anything stops when an input names a parser that did not load.
        tail::bind(&new.tail, &parsers)?;

        self.inputs.tail_stop.store(true, Relaxed);
        let mut old = std::mem::take(&mut self.inputs.tail);
        tail::join(&mut old, self.feeds, self.pipeline).await;
        for running in &old {
            self.inputs.tail_retired.add(running);
        }
        while let Ok(feed) = self.feeds.try_recv() {
            self.pipeline.fold(feed).await;
        }
        self.inputs.tail_stop = Arc::default();
        let cursors = self.pipeline.latest_cursors();
        self.inputs.tail = tail::start(
            &new.tail,
            &parsers,
            &cursors,
            self.feed_tx,
            &self.inputs.tail_stop,
        )?;
        Ok(())
    }
}

/// The config text once it has stopped changing (read twice 200 ms apart, up to 2 s), and
/// only if it holds some setting: empty or comment-only text on a reload is a truncated or
/// half-written file, never a wish to drop every setting.
async fn read_settled(path: &std::path::Path) -> Result<String, String> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut text = read(path)?;
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let again = read(path)?;
        if again == text {
            return if has_settings(&text) {
                Ok(text)
            } else {
                Err(format!(
                    "{}:1:1: the file holds no settings (empty or only comments); a truncated \
                     write is not taken for all defaults (write `{{}}` to mean that)",
                    path.display()
                ))
            };
        }
        text = again;
    }
    Err(format!(
        "{}: the file kept changing for 2 s while it was read (half-written?)",
        path.display()
    ))
}

fn has_settings(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#') && l != "---" && l != "..."
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_and_comment_only_files_hold_no_settings() {
        for none in ["", "\n  \n", "# all commented\n#http:\n", "---\n...\n"] {
            assert!(!super::has_settings(none), "{none:?}");
        }
        for some in ["{}", "http:\n  listen: 127.0.0.1:0\n", "# c\ndata_dir: x"] {
            assert!(super::has_settings(some), "{some:?}");
        }
    }
}
