//! Inputs: the code that reads the outside world and turns it into [`Observation`]s, sent in
//! batches over a bounded channel to the aggregation task.
//!
//! [`Observation`]: crate::metric::Observation

pub mod carbon;
pub mod collect;
pub mod statsd;
pub mod tail;
pub mod tcp;

use crate::aggregate::Folded;
use crate::metric::Observation;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What an input hands to aggregation, in order.
#[derive(Debug, Default)]
pub struct Feed {
    pub observations: Vec<Observation>,
    /// Observations an input already folded per series (merged before `observations`).
    pub folded: Vec<Folded>,
    /// Input positions (log offsets) reached with these observations: the agent commits them
    /// together with the buckets the observations went into.
    pub cursors: Vec<(String, Vec<u8>)>,
    /// Events made from the same input (stored when the feed is folded).
    pub events: Vec<Event>,
    /// The host's own samples (the system collectors): nothing outside waits for them to be
    /// durable and a restart samples the host again, so the agent commits them when their
    /// bucket closes (or with the next commit something else needs), not every
    /// `commit_interval` (README, "storage").
    pub local: bool,
}

impl Feed {
    pub fn observations(observations: Vec<Observation>) -> Feed {
        Feed {
            observations,
            ..Feed::default()
        }
    }

    /// The host's own samples (see [`Feed::local`]).
    pub fn local(observations: Vec<Observation>) -> Feed {
        Feed {
            observations,
            local: true,
            ..Feed::default()
        }
    }
}

/// An event an input saw (a deploy, an OOM kill), as graphite-web's events API keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub when: i64,
    pub what: String,
    pub tags: Vec<String>,
    pub data: String,
}

/// Logs a repeated problem at most once per period, with how many were suppressed.
pub struct RateLimitedLog {
    period: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedLog {
    pub fn new(period: Duration) -> Self {
        RateLimitedLog {
            period,
            state: Mutex::new((None, 0)),
        }
    }

    /// Calls `log(suppressed)` if the period has passed since the last call that logged.
    pub fn log(&self, log: impl FnOnce(u64)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < self.period => state.1 += 1,
            _ => {
                let suppressed = state.1;
                *state = (Some(now), 0);
                drop(state);
                log(suppressed);
            }
        }
    }
}
