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
//!
//! Within a [`Batch`] (one feed) the values of a key are folded into one bucket per key
//! ([`Folded`]) instead of one observation each: the aggregator merges that bucket as if it
//! had observed every value. Values that cannot be folded go as single observations: NaN or
//! infinite ones (the aggregator counts them invalid) and values of a key sent with another
//! type than it first had. A batch's buckets are merged before its observations.

pub mod console;
pub mod flush;
pub mod inspect;
pub mod listener;
pub mod parse;

use super::RateLimitedLog;
use crate::aggregate::{Bucket, Folded};
use crate::inputs::Feed;
use crate::metric::{Kind, Observation, Series, set_member};
use parse::{Sample, Type};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
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
    /// StatsD values dropped because the pipeline queue was full (UDP).
    pub dropped: AtomicU64,
    /// Datagrams the kernel dropped for the UDP socket before tally read them (receive
    /// buffer full): the `drops` column of /proc/net/udp for tally's own socket, a total.
    pub kernel_drops: AtomicU64,
    /// Datagrams longer than `max_packet_size`, and TCP lines longer than it.
    pub too_long: AtomicU64,
    /// Gauge deltas for keys whose level could not be kept (`max_keys`): taken as levels.
    pub untracked_gauges: AtomicU64,
    pub connections: AtomicU64,
    pub refused_connections: AtomicU64,
    /// Unix seconds of the last packet (etsy's `messages.last_msg_seen`; 0: none yet).
    pub last_message: AtomicI64,
}

/// One etsy flush fed by this input, shared with the task that flushes it.
pub type SharedFlush = Arc<Mutex<flush::State>>;

/// What packets turned into since the batch was last taken: one bucket per key and second
/// ([`Folded`]), and the values that go as single observations.
#[derive(Debug, Default)]
pub struct Batch {
    pub folded: Vec<Folded>,
    pub observations: Vec<Observation>,
    /// StatsD values in this batch (what is lost if it is dropped).
    pub metrics: u64,
    /// Which [`Key::slot`]s point into `folded` (0: none yet; a new one per second).
    generation: u64,
    time: i64,
}

impl Batch {
    /// Buckets and observations held.
    pub fn len(&self) -> usize {
        self.folded.len() + self.observations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes everything, leaving an empty batch.
    pub fn take(&mut self) -> Batch {
        std::mem::take(self)
    }

    pub fn into_feed(self) -> Feed {
        Feed {
            folded: self.folded,
            ..Feed::observations(self.observations)
        }
    }
}

/// What the intake knows of one sanitized key.
struct Key {
    /// `None`: not a valid series name.
    series: Option<Series>,
    /// The kind of the first value; values of other kinds are not folded.
    kind: Kind,
    /// `folded[slot]` of the batch with this generation holds this key's bucket.
    generation: u64,
    slot: usize,
}

/// Packets → observations (and the etsy flush states). One per input, shared by its UDP and TCP
/// receivers behind a mutex.
pub struct Intake {
    stats: Arc<Stats>,
    /// Most keys remembered (names and gauge levels).
    max_keys: usize,
    /// Sanitized key → its index in `keys` (a cache: cleared when full).
    index: FxHashMap<Box<str>, usize>,
    keys: Vec<Key>,
    gauges: FxHashMap<Series, f64>,
    flushes: Vec<SharedFlush>,
    /// Fold values per key (false: one observation per value, the reference behaviour).
    fold: bool,
    generations: u64,
    log: RateLimitedLog,
}

impl Intake {
    pub fn new(stats: Arc<Stats>, max_keys: usize, flushes: Vec<SharedFlush>) -> Intake {
        Intake {
            stats,
            max_keys: max_keys.max(1),
            index: FxHashMap::default(),
            keys: Vec::new(),
            gauges: FxHashMap::default(),
            flushes,
            fold: true,
            generations: 0,
            log: RateLimitedLog::new(Duration::from_secs(10)),
        }
    }

    /// Turns folding off: every value becomes its own observation (what folding must equal).
    pub fn unfolded(mut self) -> Intake {
        self.fold = false;
        self
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Handles packets received together at `now` into `batch`.
    pub fn packets<'p>(
        &mut self,
        packets: impl IntoIterator<Item = &'p [u8]>,
        now: i64,
        batch: &mut Batch,
    ) {
        if batch.generation == 0 || batch.time != now {
            self.generations += 1;
            batch.generation = self.generations;
            batch.time = now;
        }
        self.stats.last_message.store(now, Relaxed);
        let flushes = std::mem::take(&mut self.flushes);
        let mut states: Vec<_> = flushes
            .iter()
            .map(|f| f.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        for data in packets {
            self.packet(data, now, &mut states, batch);
        }
        drop(states);
        self.flushes = flushes;
    }

    fn packet(
        &mut self,
        data: &[u8],
        now: i64,
        states: &mut [std::sync::MutexGuard<'_, flush::State>],
        batch: &mut Batch,
    ) {
        self.stats.packets.fetch_add(1, Relaxed);
        states.iter_mut().for_each(|s| s.packet());
        // Valid UTF-8 is checked fast and borrowed; anything else is decoded as etsy's
        // `toString()` does, with U+FFFD for bad bytes.
        let text = match std::str::from_utf8(data) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(data),
        };
        let (mut lines, mut metrics, mut bad) = (0u64, 0u64, 0u64);
        for line in parse::split_at_byte(&text, b'\n').filter(|l| !l.is_empty()) {
            lines += 1;
            states.iter_mut().for_each(|s| s.line());
            parse::parse_line(line, |r| match r {
                Ok(sample) => {
                    metrics += 1;
                    states.iter_mut().for_each(|s| s.add(&sample));
                    self.observe(&sample, now, batch);
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

    /// The index of `key` in `keys`, remembered from now on.
    fn key(&mut self, key: &str, kind: Kind) -> usize {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        if self.keys.len() >= self.max_keys {
            // A cache: forgetting costs only a re-parse (and the kind of a key's first value).
            self.index.clear();
            self.keys.clear();
        }
        self.keys.push(Key {
            series: Series::parse(key).ok(),
            kind,
            generation: 0,
            slot: 0,
        });
        self.index.insert(key.into(), self.keys.len() - 1);
        self.keys.len() - 1
    }

    fn observe(&mut self, s: &Sample<'_>, now: i64, batch: &mut Batch) {
        let kind = match s.ty {
            Type::Counter => Kind::Counter,
            Type::Timer | Type::Distribution => Kind::Timer,
            Type::Gauge => Kind::Gauge,
            Type::Set => Kind::Set,
        };
        let i = self.key(&s.key, kind);
        let key = &mut self.keys[i];
        let Some(series) = &key.series else {
            self.stats.bad_names.fetch_add(1, Relaxed);
            return;
        };
        let (value, weight) = match s.ty {
            Type::Counter => (s.number * s.scale(), 1),
            Type::Timer | Type::Distribution => {
                let weight = s.scale().round().clamp(1.0, MAX_SAMPLE_WEIGHT) as usize;
                (s.number, weight)
            }
            Type::Gauge => (
                gauge(&mut self.gauges, self.max_keys, &self.stats, series, s),
                1,
            ),
            Type::Set => (set_member(s.raw.as_bytes()), 1),
        };
        batch.metrics += 1;
        if !self.fold || key.kind != kind || !value.is_finite() {
            for _ in 0..weight {
                batch.observations.push(Observation {
                    series: series.clone(),
                    kind,
                    value,
                    time: now,
                });
            }
            return;
        }
        if key.generation == batch.generation {
            let bucket = &mut batch.folded[key.slot].bucket;
            // The first add outside the loop: LLVM hoists a timer's sketch index (two `ln`s)
            // out of a loop it always enters, so every counter would pay for it.
            bucket.add(value, now);
            for _ in 1..weight {
                bucket.add(value, now);
            }
        } else {
            let mut bucket = Bucket::new(kind, value, now);
            for _ in 1..weight {
                bucket.add(value, now);
            }
            key.generation = batch.generation;
            key.slot = batch.folded.len();
            batch.folded.push(Folded {
                series: series.clone(),
                kind,
                bucket,
            });
        }
    }
}

/// The gauge's level after this sample.
fn gauge(
    gauges: &mut FxHashMap<Series, f64>,
    max_keys: usize,
    stats: &Stats,
    series: &Series,
    s: &Sample<'_>,
) -> f64 {
    let full = gauges.len() >= max_keys;
    match gauges.get_mut(series) {
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
                stats.untracked_gauges.fetch_add(1, Relaxed);
            }
            s.number
        }
        None => {
            gauges.insert(series.clone(), s.number);
            s.number
        }
    }
}

#[cfg(test)]
mod tests;
