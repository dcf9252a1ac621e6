//! Observations → resolution buckets. Pure: no I/O, no clock (`now` is passed in).
//!
//! Every observation is folded straight into one bucket per tier of its series' schema, in the
//! slot of its own timestamp. [`Aggregator::drain`] hands over everything folded since the last
//! drain as [`Delta`]s; the store merges deltas into what it already holds, so late data and
//! backfill land in the right slot and a coarse bucket is always the exact merge of the raw data.

pub mod bucket;
pub mod distinct;
pub mod sketch;
#[cfg(test)]
mod sketch_tests;

pub use bucket::{Bucket, Extra};

use crate::metric::{Kind, Observation, Series};
use crate::schema::Schemas;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A bucket's worth of new data for one series, resolution and slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub series: Series,
    pub kind: Kind,
    /// Seconds per slot.
    pub resolution: u32,
    /// Unix seconds at which the slot starts (a multiple of `resolution`).
    pub start: i64,
    pub bucket: Bucket,
}

/// Observations of one series that an input already folded into a bucket: all of them made at
/// `bucket.last_time`, all values finite. [`Aggregator::merge`] folds it in as observing each
/// of them would (StatsD pre-aggregates this way: one bucket per key per feed).
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    pub series: Series,
    pub kind: Kind,
    pub bucket: Bucket,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Observations further than this many seconds ahead of `now` are dropped.
    pub max_future: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_future: 600 }
    }
}

/// Why observations were not folded in, counted since the aggregator was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub observations: u64,
    /// Older than the longest retention of their schema.
    pub too_old: u64,
    /// More than `max_future` seconds ahead.
    pub too_new: u64,
    /// NaN or infinite values.
    pub invalid: u64,
    /// A series observed with another kind than it was first seen with (folded anyway).
    pub kind_conflicts: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Folded,
    TooOld,
    TooNew,
    Invalid,
}

struct Open {
    kind: Kind,
    schema: usize,
    /// `(resolution, slot start, bucket)`; usually one entry per tier.
    slots: Vec<(u32, i64, Bucket)>,
}

pub struct Aggregator {
    schemas: Arc<Schemas>,
    options: Options,
    open: FxHashMap<Series, Open>,
    stats: Stats,
}

impl Aggregator {
    pub fn new(schemas: Arc<Schemas>, options: Options) -> Aggregator {
        Aggregator {
            schemas,
            options,
            open: FxHashMap::default(),
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn schemas(&self) -> &Arc<Schemas> {
        &self.schemas
    }

    /// Replaces the schemas (on reload); open buckets keep the tiers they were made with.
    pub fn set_schemas(&mut self, schemas: Arc<Schemas>) {
        for (series, open) in self.open.iter_mut() {
            open.schema = schemas.resolve(series.as_str());
        }
        self.schemas = schemas;
    }

    /// Series with buckets not yet drained.
    pub fn open_series(&self) -> usize {
        self.open.len()
    }

    pub fn observe(&mut self, obs: &Observation, now: i64) -> Outcome {
        self.stats.observations += 1;
        if !obs.value.is_finite() {
            self.stats.invalid += 1;
            return Outcome::Invalid;
        }
        if obs.time > now.saturating_add(self.options.max_future) {
            self.stats.too_new += 1;
            return Outcome::TooNew;
        }
        self.fold(
            &obs.series,
            obs.kind,
            obs.time,
            1,
            now,
            |b| b.add(obs.value, obs.time),
            |kind| Bucket::new(kind, obs.value, obs.time),
        )
    }

    /// Merges a bucket an input folded (see [`Folded`]); the stats count its observations.
    /// A bucket of another kind than the series' first is merged anyway (counted as conflicts).
    pub fn merge(&mut self, folded: &Folded, now: i64) -> Outcome {
        let b = &folded.bucket;
        let time = b.last_time;
        self.stats.observations += b.count;
        if time > now.saturating_add(self.options.max_future) {
            self.stats.too_new += b.count;
            return Outcome::TooNew;
        }
        self.fold(
            &folded.series,
            folded.kind,
            time,
            b.count,
            now,
            |slot| slot.merge(b),
            |_| b.clone(),
        )
    }

    /// Folds `count` observations of `series` made at `time` into the slot of every tier that
    /// still keeps it: `add` into an open slot, `new` makes a slot's first bucket.
    #[allow(clippy::too_many_arguments)]
    fn fold(
        &mut self,
        series: &Series,
        kind: Kind,
        time: i64,
        count: u64,
        now: i64,
        add: impl Fn(&mut Bucket),
        new: impl Fn(Kind) -> Bucket,
    ) -> Outcome {
        let open = match self.open.get_mut(series) {
            Some(open) => open,
            None => {
                let schema = self.schemas.resolve(series.as_str());
                self.open.entry(series.clone()).or_insert(Open {
                    kind,
                    schema,
                    slots: Vec::with_capacity(4),
                })
            }
        };
        if open.kind != kind {
            self.stats.kind_conflicts += count;
        }
        let mut folded = false;
        for tier in &self.schemas.get(open.schema).tiers {
            let res = i64::from(tier.resolution);
            let start = time.div_euclid(res) * res;
            // A slot is kept while any of it is within retention.
            if start + res <= now.saturating_sub(tier.retention as i64) {
                continue;
            }
            folded = true;
            let r = tier.resolution;
            match open
                .slots
                .iter_mut()
                .rev()
                .find(|(t, s, _)| *t == r && *s == start)
            {
                Some((_, _, b)) => add(b),
                None => open.slots.push((r, start, new(open.kind))),
            }
        }
        if folded {
            Outcome::Folded
        } else {
            if open.slots.is_empty() {
                self.open.remove(series);
            }
            self.stats.too_old += count;
            Outcome::TooOld
        }
    }

    /// The bucket folded since the last drain for `series` at `resolution` in the slot that
    /// starts at `start` (the live tier's join with the store).
    pub fn open_bucket(&self, series: &Series, resolution: u32, start: i64) -> Option<&Bucket> {
        self.open
            .get(series)?
            .slots
            .iter()
            .find(|(r, s, _)| *r == resolution && *s == start)
            .map(|(_, _, b)| b)
    }

    /// Takes every bucket folded since the last drain.
    pub fn drain(&mut self) -> Vec<Delta> {
        let mut out = Vec::with_capacity(self.open.len() * 3);
        for (series, open) in self.open.drain() {
            for (resolution, start, bucket) in open.slots {
                out.push(Delta {
                    series: series.clone(),
                    kind: open.kind,
                    resolution,
                    start,
                    bucket,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
