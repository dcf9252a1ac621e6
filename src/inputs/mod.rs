//! Inputs: the code that reads the outside world and turns it into [`Observation`]s, sent in
//! batches over a bounded channel to the aggregation task.
//!
//! [`Observation`]: crate::metric::Observation

pub mod carbon;

use std::sync::Mutex;
use std::time::{Duration, Instant};

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
