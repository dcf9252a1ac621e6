//! Tail inputs: one thread per `inputs.tail` entry runs a [`Tailer`] and the entry's parsers,
//! and sends a [`Feed`] after every poll whose cursors are exactly where its observations'
//! lines end — so a commit holds a file's offset only with the buckets of the lines before it.

use crate::clock::unix_now;
use crate::config;
use crate::inputs::tail::{self, Tailer};
use crate::inputs::{Event, Feed};
use crate::parse::{self, Counters, ParseState, Parser};
use anyhow::bail;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long an idle tail thread sleeps between looks when no file event wakes it.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// A running tail input: its thread and what it counts.
pub(crate) struct Running {
    /// Taken when the thread is joined at shutdown.
    pub thread: Option<JoinHandle<()>>,
    pub tail: Arc<tail::Stats>,
    pub parse: Arc<Mutex<Counters>>,
}

/// Finds every parser each input names; a missing one is an error naming the input.
pub(crate) fn bind<'a>(
    inputs: &[config::Tail],
    parsers: &'a [Parser],
) -> anyhow::Result<Vec<Vec<&'a Parser>>> {
    let mut bound = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let mut list = Vec::new();
        for name in &input.parsers {
            match parsers.iter().find(|p| p.name() == name) {
                Some(p) => list.push(p),
                None => bail!(
                    "inputs.tail[{i}] ({}): no parser named {name:?}; loaded: {}",
                    input.paths.join(", "),
                    parsers
                        .iter()
                        .map(Parser::name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        bound.push(list);
    }
    Ok(bound)
}

pub(crate) fn start(
    inputs: &[config::Tail],
    parsers: &[Parser],
    cursors: &HashMap<String, Vec<u8>>,
    tx: &mpsc::Sender<Feed>,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<Running>> {
    let bound = bind(inputs, parsers)?;
    let mut running = Vec::new();
    for (input, parsers) in inputs.iter().zip(bound) {
        let parsers: Vec<Parser> = parsers.into_iter().cloned().collect();
        let mut settings = tail::Settings::new(input.paths.clone());
        settings.start_at = match input.start_at {
            config::StartAt::End => tail::StartAt::End,
            config::StartAt::Beginning => tail::StartAt::Beginning,
        };
        settings.max_line_length = input.max_line_length;
        let tailer = Tailer::new(settings, cursors);
        let counters = Arc::new(Mutex::new(Counters::default()));
        let stats = tailer.stats_handle();
        let (tx, stop, prefix, shared) = (
            tx.clone(),
            stop.clone(),
            input.prefix.clone(),
            counters.clone(),
        );
        let name = format!("tail {}", input.paths.join(","));
        let thread = std::thread::Builder::new()
            .name("tally-tail".into())
            .spawn(move || follow(tailer, parsers, prefix, tx, stop, shared))?;
        tracing::info!(input = %name, "Tailing.");
        running.push(Running {
            thread: Some(thread),
            tail: stats,
            parse: counters,
        });
    }
    Ok(running)
}

fn follow(
    mut tailer: Tailer,
    parsers: Vec<Parser>,
    prefix: String,
    tx: mpsc::Sender<Feed>,
    stop: Arc<AtomicBool>,
    counters: Arc<Mutex<Counters>>,
) {
    let mut states: Vec<ParseState> = parsers.iter().map(|_| ParseState::new()).collect();
    let mut out = parse::Output::default();
    let mut sent_cursors: Vec<(String, Vec<u8>)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let now = unix_now();
        let lines = tailer.poll(&mut |_, line| {
            for (p, state) in parsers.iter().zip(states.iter_mut()) {
                p.apply(line, now, &prefix, state, &mut out);
            }
        });
        let cursors = tailer.checkpoints();
        if lines == 0 && cursors == sent_cursors {
            tailer.wait(IDLE_WAIT);
            continue;
        }
        {
            let mut shared = counters.lock().unwrap_or_else(|e| e.into_inner());
            for state in &mut states {
                shared.add(&state.take_counters());
            }
        }
        let feed = Feed {
            observations: std::mem::take(&mut out.observations),
            folded: Vec::new(),
            cursors: cursors.clone(),
            events: out
                .events
                .drain(..)
                .map(|e| Event {
                    when: e.when,
                    what: e.what,
                    tags: e.tags,
                    data: e.data,
                })
                .collect(),
            local: false,
        };
        // Waiting here is the backpressure: the file waits on disk, nothing is dropped.
        if tx.blocking_send(feed).is_err() {
            break;
        }
        sent_cursors = cursors;
    }
}

/// What tail inputs counted: the running ones plus those a reload replaced, so the `tally.tail.*`
/// and `tally.parse.*` totals keep growing across reloads.
#[derive(Debug, Default, Clone)]
pub(crate) struct Totals {
    /// lines, bytes, truncated_long_lines, rotations, truncations, read_errors,
    /// lost_checkpoints.
    pub tail: [u64; 7],
    pub parse: Counters,
}

impl Totals {
    pub(crate) fn add(&mut self, r: &Running) {
        let s = &r.tail;
        for (total, v) in self.tail.iter_mut().zip([
            &s.lines,
            &s.bytes,
            &s.truncated_long_lines,
            &s.rotations,
            &s.truncations,
            &s.read_errors,
            &s.lost_checkpoints,
        ]) {
            *total += v.load(Ordering::Relaxed);
        }
        self.parse
            .add(&r.parse.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Waits for stopped tail threads to end, folding what they still send (a thread may be blocked
/// handing over its last feed).
pub(super) async fn join(
    running: &mut [Running],
    feeds: &mut mpsc::Receiver<Feed>,
    pipeline: &mut super::pipeline::Pipeline,
) {
    for thread in running.iter_mut().filter_map(|r| r.thread.take()) {
        while !thread.is_finished() {
            if let Ok(Some(feed)) =
                tokio::time::timeout(Duration::from_millis(50), feeds.recv()).await
            {
                pipeline.fold(feed).await;
            }
        }
        let _ = thread.join();
    }
}
