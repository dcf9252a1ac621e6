//! The StatsD server: etsy statsd's protocol ([`parse`]) over UDP (batched receives) and TCP
//! ([`listener`]), into tally's series — one series per StatsD key, read through views
//! (`:sum`, `:sumrate`, `:p90`, `:obvs` …) — and, for carbon outputs that ask for it, into
//! etsy's own flush ([`flush`]).
//!
//! How a sample becomes observations:
//! - counters (`c`, and types etsy does not know): one counter observation of
//!   `value / rate`, so `:sum` is what etsy calls `count` and `:obvs` the lines received;
//! - timers (`ms`) and distributions (`h`, `d`): the value, observed `round(1 / rate)` times
//!   (at least 1, at most [`MAX_SAMPLE_WEIGHT`]), so counts and percentiles stand for the
//!   unsampled traffic; buckets count whole observations, so a rate whose inverse is not a whole
//!   number is rounded (etsy's own flush keeps the fractional count);
//! - gauges: the level after etsy's rules (`+`/`-` change a known gauge, anything else sets it),
//!   with the level of every key kept here between packets;
//! - sets: the member's identity ([`crate::metric::set_member`]).

pub mod flush;
pub mod listener;
pub mod parse;

use super::RateLimitedLog;
use crate::metric::{Kind, Observation, Series, set_member};
use parse::{Sample, Type};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most observations one sampled timer value turns into (`@0.0001` would otherwise be 10,000).
pub const MAX_SAMPLE_WEIGHT: f64 = 1000.0;

/// Why etsy statsd would count a value spec in `statsd.bad_lines_seen`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("no type: expected key:value|type")]
    NoType,
    #[error("bad sample rate {0:?}: expected @ and a positive number")]
    Rate(String),
    #[error("bad value {0:?} for its type")]
    Value(String),
}

/// Counters the agent turns into `tally.statsd.*` series.
#[derive(Debug, Default)]
pub struct Stats {
    /// Datagrams, and TCP reads holding whole lines.
    pub packets: AtomicU64,
    /// Non-empty lines.
    pub lines: AtomicU64,
    /// Value specs turned into observations.
    pub metrics: AtomicU64,
    /// Value specs etsy would reject (`statsd.bad_lines_seen`).
    pub bad_lines: AtomicU64,
    /// Valid StatsD whose key is no valid series name (empty, `a..b`, a tag without `=`).
    pub bad_names: AtomicU64,
    /// Observations dropped because the pipeline queue was full (UDP).
    pub dropped: AtomicU64,
    /// Datagrams longer than `max_packet_size`, and TCP lines longer than it.
    pub too_long: AtomicU64,
    /// Gauge deltas for keys whose level could not be kept (`max_keys`): taken as levels.
    pub untracked_gauges: AtomicU64,
    pub connections: AtomicU64,
    pub refused_connections: AtomicU64,
}

/// One etsy flush fed by this input, shared with the task that flushes it.
pub type SharedFlush = Arc<Mutex<flush::State>>;

/// Packets → observations (and the etsy flush states). One per input, shared by its UDP and TCP
/// receivers behind a mutex.
pub struct Intake {
    stats: Arc<Stats>,
    /// Most keys remembered (names and gauge levels).
    max_keys: usize,
    /// Sanitized key → its series (`None`: not a valid series name).
    names: FxHashMap<Box<str>, Option<Series>>,
    gauges: FxHashMap<Series, f64>,
    flushes: Vec<SharedFlush>,
    log: RateLimitedLog,
}

impl Intake {
    pub fn new(stats: Arc<Stats>, max_keys: usize, flushes: Vec<SharedFlush>) -> Intake {
        Intake {
            stats,
            max_keys: max_keys.max(1),
            names: FxHashMap::default(),
            gauges: FxHashMap::default(),
            flushes,
            log: RateLimitedLog::new(Duration::from_secs(10)),
        }
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Handles packets received together; observations are stamped `now`.
    pub fn packets<'p>(
        &mut self,
        packets: impl IntoIterator<Item = &'p [u8]>,
        now: i64,
        out: &mut Vec<Observation>,
    ) {
        let flushes = std::mem::take(&mut self.flushes);
        let mut states: Vec<_> = flushes
            .iter()
            .map(|f| f.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        for data in packets {
            self.packet(data, now, &mut states, out);
        }
        drop(states);
        self.flushes = flushes;
    }

    fn packet(
        &mut self,
        data: &[u8],
        now: i64,
        states: &mut [std::sync::MutexGuard<'_, flush::State>],
        out: &mut Vec<Observation>,
    ) {
        self.stats.packets.fetch_add(1, Relaxed);
        states.iter_mut().for_each(|s| s.packet());
        let text = String::from_utf8_lossy(data);
        let (mut lines, mut metrics, mut bad) = (0u64, 0u64, 0u64);
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            lines += 1;
            states.iter_mut().for_each(|s| s.line());
            parse::parse_line(line, |r| match r {
                Ok(sample) => {
                    metrics += 1;
                    states.iter_mut().for_each(|s| s.add(&sample));
                    self.observe(&sample, now, out);
                }
                Err(error) => {
                    bad += 1;
                    states.iter_mut().for_each(|s| s.bad_line());
                    self.log.log(|suppressed| {
                        let shown: String = line.chars().take(200).collect();
                        tracing::warn!(%error, line = %shown, suppressed, "Bad StatsD line.");
                    });
                }
            });
        }
        self.stats.lines.fetch_add(lines, Relaxed);
        self.stats.metrics.fetch_add(metrics, Relaxed);
        self.stats.bad_lines.fetch_add(bad, Relaxed);
    }

    fn series(&mut self, key: &str) -> Option<Series> {
        if let Some(s) = self.names.get(key) {
            return s.clone();
        }
        if self.names.len() >= self.max_keys {
            self.names.clear(); // a cache: forgetting costs only a re-parse
        }
        let series = Series::parse(key).ok();
        self.names.insert(key.into(), series.clone());
        series
    }

    fn observe(&mut self, s: &Sample<'_>, now: i64, out: &mut Vec<Observation>) {
        let Some(series) = self.series(&s.key) else {
            self.stats.bad_names.fetch_add(1, Relaxed);
            return;
        };
        let (kind, value) = match s.ty {
            Type::Counter => (Kind::Counter, s.number * s.scale()),
            Type::Timer | Type::Distribution => {
                let weight = s.scale().round().clamp(1.0, MAX_SAMPLE_WEIGHT) as usize;
                for _ in 1..weight {
                    out.push(Observation {
                        series: series.clone(),
                        kind: Kind::Timer,
                        value: s.number,
                        time: now,
                    });
                }
                (Kind::Timer, s.number)
            }
            Type::Gauge => (Kind::Gauge, self.gauge(series.clone(), s)),
            Type::Set => (Kind::Set, set_member(s.raw.as_bytes())),
        };
        out.push(Observation {
            series,
            kind,
            value,
            time: now,
        });
    }

    /// The gauge's level after this sample.
    fn gauge(&mut self, series: Series, s: &Sample<'_>) -> f64 {
        let full = self.gauges.len() >= self.max_keys;
        match self.gauges.get_mut(&series) {
            Some(level) => {
                if s.is_delta() {
                    *level += s.number;
                } else {
                    *level = s.number;
                }
                *level
            }
            None if full => {
                if s.is_delta() {
                    self.stats.untracked_gauges.fetch_add(1, Relaxed);
                }
                s.number
            }
            None => {
                self.gauges.insert(series, s.number);
                s.number
            }
        }
    }
}

#[cfg(test)]
mod tests;
