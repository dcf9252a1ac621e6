//! One watched series: a ring of live slots (count, sum, min, max, last) at the tier's step,
//! for timers also their percentile views ([`Percentiles`]), and the log of late writes into
//! slots that may already have been sent (so readers send those slots again).

use super::compact::{Bridge, Counts};
use super::percentiles::{Input, Percentiles};
use crate::aggregate::{Bucket, Extra};
use crate::metric::{Kind, Series};
use crate::query::View;
use std::sync::atomic::{AtomicI64, AtomicUsize};
use std::sync::{Mutex, MutexGuard};

/// One live slot; `count == 0` means no data (kept in a ring as columns, see [`Slots`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub last: f64,
}

impl Slot {
    pub const EMPTY: Slot = Slot {
        count: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        last: 0.0,
    };

    /// The slot of one value.
    pub fn of_value(v: f64) -> Slot {
        Slot {
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
        }
    }

    /// Merges `newer` in (its `last` wins).
    #[inline]
    pub fn merge(&mut self, newer: &Slot) {
        if newer.count == 0 {
            return;
        }
        self.count += newer.count;
        self.sum += newer.sum;
        self.min = self.min.min(newer.min);
        self.max = self.max.max(newer.max);
        self.last = newer.last;
    }

    /// The slot as an aggregate bucket (no extra), for `query::View`.
    pub fn bucket(&self) -> Bucket {
        Bucket {
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            last: self.last,
            last_time: 0,
            extra: Extra::None,
        }
    }

    pub fn of_bucket(b: &Bucket) -> Slot {
        Slot {
            count: b.count,
            sum: b.sum,
            min: b.min,
            max: b.max,
            last: b.last,
        }
    }
}

/// Where a watcher's history and the ring meet (README, "Joining history and live").
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Start (ms) of the finest stored slot open when the ring was made.
    pub join_ms: i64,
    /// Start (ms) of the ring's first slot.
    pub live_ms: i64,
    /// What the store and the aggregator held of that stored slot then.
    pub bridge: Option<Bucket>,
}

/// Late writes remembered per ring; a reader that missed more resets.
const AMENDS: usize = 16;

pub struct Ring {
    pub series: Series,
    pub kind: Kind,
    /// The ring's own join (README, "Joining history and live"); its bridge is in [`Slots`].
    pub join_ms: i64,
    pub live_ms: i64,
    pub(super) watchers: AtomicUsize,
    /// When the last watcher left (ms), for the linger.
    pub(super) left_ms: AtomicI64,
    slots: Mutex<Slots>,
}

pub struct Slots {
    step: i64,
    /// Absolute index (ms / step) of the ring's first slot.
    first: i64,
    /// Absolute index of the newest slot; `(newest - len, newest]` are kept.
    newest: i64,
    /// The slots as columns: counts (1 to 4 bytes a slot, [`Counts`]), and sum, min, max,
    /// last (32 bytes).
    counts: Counts,
    values: Box<[[f64; 4]]>,
    /// What the store held of the stored slot the ring's `live_ms` falls in, for watchers
    /// that join while the ring's first slot is kept; dropped once it is not.
    bridge: Option<Bridge>,
    /// Timers: their percentile views.
    percentiles: Option<Box<Percentiles>>,
    /// Sequence number of the last late write, and the last `AMENDS` of them.
    amend_seq: u64,
    amends: [(u64, i64); AMENDS],
}

impl Ring {
    pub(super) fn new(
        series: Series,
        kind: Kind,
        join: Join,
        step_ms: u64,
        window_ms: u64,
        max_lag_ms: u64,
    ) -> Ring {
        let step = step_ms as i64;
        let len = (window_ms / step_ms) as usize;
        let first = join.live_ms.div_euclid(step);
        let bridge = join.bridge.as_ref().map(Bridge::of_bucket);
        let percentiles = (kind == Kind::Timer).then(|| {
            let first_sec = (first * step).div_euclid(1000);
            Box::new(Percentiles::new(window_ms, max_lag_ms, first_sec))
        });
        Ring {
            series,
            kind,
            join_ms: join.join_ms,
            live_ms: join.live_ms,
            watchers: AtomicUsize::new(0),
            left_ms: AtomicI64::new(0),
            slots: Mutex::new(Slots {
                step,
                first,
                newest: first - 1,
                counts: Counts::new(len),
                values: vec![[0.0; 4]; len].into_boxed_slice(),
                bridge,
                percentiles,
                amend_seq: 0,
                amends: [(0, 0); AMENDS],
            }),
        }
    }

    /// Where a watcher of `view` at `step_ms` slots that starts now joins history: the ring's
    /// own join while its first slot is still kept (after `oldest_ms`), else the first stored
    /// slot boundary (`res_ms`) inside the ring, with no bridge: everything stored from there on
    /// came after the ring was made, so the ring holds all of it. A timer's percentile view
    /// keeps its values from when it was first read: one first read after the ring was made
    /// joins at the stored slot boundary before its first value, with nothing between (README,
    /// "Bounds").
    pub fn join_for(&self, oldest_ms: i64, res_ms: i64, view: View, step_ms: i64) -> Join {
        let mut slots = self.lock();
        // Its first slot still kept by the clock and by the ring (which a write stamped ahead
        // of the clock, within `max_lag`, may have moved on): the bridge is kept just as long.
        let join = if self.live_ms >= oldest_ms && slots.oldest() == slots.first {
            Join {
                join_ms: self.join_ms,
                live_ms: self.live_ms,
                bridge: slots.bridge.as_ref().map(Bridge::bucket),
            }
        } else {
            let at = (oldest_ms + res_ms - 1).div_euclid(res_ms) * res_ms;
            Join {
                join_ms: at,
                live_ms: at,
                bridge: None,
            }
        };
        let from = match view {
            View::Percentile(_) => slots.watch_percentile(view, step_ms),
            _ => None,
        };
        match from {
            Some(from) if from > join.live_ms.div_euclid(step_ms) * step_ms + step_ms => Join {
                join_ms: from.div_euclid(res_ms) * res_ms,
                live_ms: from,
                bridge: None,
            },
            _ => join,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes this ring owns, by the capacity of each allocation: itself in its `Arc`, the
    /// slots, the bridge and a timer's percentiles (not the series name, an `Arc` shared
    /// with the tier's map and the store's catalog; not the allocator's own overhead).
    pub fn bytes(&self) -> usize {
        let s = self.lock();
        std::mem::size_of::<Ring>()
            + 2 * std::mem::size_of::<usize>()
            + s.counts.bytes()
            + s.values.len() * 32
            + s.bridge.as_ref().map_or(0, Bridge::bytes)
            + s.percentiles.as_ref().map_or(0, |p| p.bytes())
    }
}

impl Slots {
    pub fn step(&self) -> i64 {
        self.step
    }

    fn len(&self) -> i64 {
        self.values.len() as i64
    }

    /// Oldest absolute slot index still kept.
    pub fn oldest(&self) -> i64 {
        self.first.max(self.newest - self.len() + 1)
    }

    /// Moves the ring on to `index` (clearing the slots it passes).
    pub fn advance(&mut self, index: i64) {
        if index <= self.newest {
            return;
        }
        let from = (self.newest + 1).max(index - self.len() + 1);
        for s in from..=index {
            let at = s.rem_euclid(self.len()) as usize;
            self.counts.set(at, 0);
        }
        if index.div_euclid(self.len()) != self.newest.div_euclid(self.len()) {
            self.counts.narrow(); // once a window: a burst's wide counts do not stay
        }
        self.newest = index;
        if self.bridge.is_some() && self.oldest() > self.first {
            self.bridge = None; // `join_for` no longer gives it (`live_ms` is not kept)
        }
    }

    /// Folds `slot` (and for timers the values' sketch) into the slot at `at_ms`; `now_ms` is
    /// the clock, read under this lock, so a write into a slot that already ended is always
    /// seen by readers as a late write. False when the slot is not in the ring.
    pub fn add(&mut self, at_ms: i64, now_ms: i64, slot: &Slot, input: Option<Input<'_>>) -> bool {
        let index = at_ms.div_euclid(self.step);
        self.advance(now_ms.div_euclid(self.step).max(index));
        if index < self.oldest() {
            return false;
        }
        let at = index.rem_euclid(self.len()) as usize;
        let mut merged = self.slot_at(at);
        merged.merge(slot);
        self.counts.set(at, merged.count);
        self.values[at] = [merged.sum, merged.min, merged.max, merged.last];
        if index < now_ms.div_euclid(self.step) {
            self.amend_seq += 1;
            self.amends[(self.amend_seq % AMENDS as u64) as usize] = (self.amend_seq, index);
        }
        if let (Some(input), Some(mut p)) = (input, self.percentiles.take()) {
            p.add(at_ms.div_euclid(1000), input, &|a, b| self.bucket(a, b));
            self.percentiles = Some(p);
        }
        true
    }

    /// The value of `[from, until)` (ms) under a percentile `view` (timers; `None` for
    /// others): the slot is a whole second, or whole seconds, ending at `until`.
    pub fn percentile(&mut self, view: View, from_ms: i64, until_ms: i64) -> Option<f64> {
        let mut p = self.percentiles.take()?;
        let v = p.value(view, from_ms, until_ms, &|a, b| self.bucket(a, b));
        self.percentiles = Some(p);
        v
    }

    /// Keeps the values of a percentile `view` for readers at `step_ms` from now on; the
    /// start (ms) of the first slot that has one (`None` when the series is not a timer).
    pub fn watch_percentile(&mut self, view: View, step_ms: i64) -> Option<i64> {
        Some(self.percentiles.as_mut()?.watch(view, step_ms))
    }

    fn slot_at(&self, at: usize) -> Slot {
        match self.counts.get(at) {
            0 => Slot::EMPTY,
            count => {
                let [sum, min, max, last] = self.values[at];
                Slot {
                    count: u64::from(count),
                    sum,
                    min,
                    max,
                    last,
                }
            }
        }
    }

    /// The slot at an absolute index, `None` when empty or not kept.
    pub fn get(&self, index: i64) -> Option<Slot> {
        if index < self.oldest() || index > self.newest {
            return None;
        }
        Some(self.slot_at(index.rem_euclid(self.len()) as usize)).filter(|s| s.count > 0)
    }

    /// Slots `[from, until)` (ms, multiples of the step) merged into one bucket (no sketch).
    pub fn bucket(&self, from_ms: i64, until_ms: i64) -> Option<Bucket> {
        let mut slot = Slot::EMPTY;
        for i in from_ms.div_euclid(self.step)..until_ms.div_euclid(self.step) {
            if let Some(s) = self.get(i) {
                slot.merge(&s);
            }
        }
        if slot.count == 0 {
            return None;
        }
        Some(slot.bucket())
    }

    /// Where a new reader starts in the late-write log: at its end, or for a client that
    /// resumes after a disconnect, as far back as the log goes.
    pub fn late_start(&self, resumed: bool) -> u64 {
        if resumed {
            self.amend_seq.saturating_sub(AMENDS as u64)
        } else {
            self.amend_seq
        }
    }

    /// The earliest slot (absolute index) written late after sequence `seen`, and the new
    /// sequence; `Err` when more late writes happened than are remembered.
    pub fn late_since(&self, seen: u64) -> Result<(Option<i64>, u64), u64> {
        if self.amend_seq.saturating_sub(seen) > AMENDS as u64 {
            return Err(self.amend_seq);
        }
        let earliest = self
            .amends
            .iter()
            .filter(|(seq, _)| *seq > seen)
            .map(|(_, i)| *i)
            .min();
        Ok((earliest, self.amend_seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(kind: Kind) -> Ring {
        let join = Join {
            join_ms: 10_000,
            live_ms: 12_000,
            bridge: None,
        };
        Ring::new(
            Series::parse("a.b").unwrap(),
            kind,
            join,
            100,
            60_000,
            2_000,
        )
    }

    fn one(v: f64) -> Slot {
        Slot::of_value(v)
    }

    #[test]
    fn slots_fill_and_wrap() {
        let r = ring(Kind::Gauge);
        let mut s = r.lock();
        assert!(!s.add(11_900, 12_050, &one(1.0), None), "before the ring");
        assert!(s.add(12_050, 12_050, &one(2.0), None));
        assert!(s.add(12_070, 12_070, &one(4.0), None));
        let b = s.bucket(12_000, 12_100).unwrap();
        assert_eq!(
            (b.count, b.sum, b.min, b.max, b.last),
            (2, 6.0, 2.0, 4.0, 4.0)
        );
        // A minute later the first slots are gone.
        s.advance(12_000 / 100 + 700);
        assert!(s.bucket(12_000, 12_100).is_none());
        assert!(s.oldest() > 120);
    }

    #[test]
    fn a_minute_at_100ms_fits_24_kb() {
        let r = ring(Kind::Counter);
        assert!(r.bytes() <= 24_000, "{}", r.bytes());
        assert!(
            ring(Kind::Timer).bytes() <= 24_000,
            "{}",
            ring(Kind::Timer).bytes()
        );
    }

    /// Counts past a byte, then past 2 bytes, in one slot (ingested buckets, bursts) stay
    /// exact; the column narrows again once the window has passed them.
    #[test]
    fn wide_counts_stay_exact_and_narrow_after_a_window() {
        let r = ring(Kind::Gauge);
        let narrow = r.bytes();
        let mut s = r.lock();
        let mut b = one(2.0);
        b.count = 300;
        assert!(s.add(12_050, 12_050, &b, None));
        b.count = 70_000;
        assert!(s.add(12_150, 12_150, &b, None));
        assert!(s.add(12_160, 12_160, &one(1.0), None));
        let got = s.bucket(12_000, 12_200).unwrap();
        assert_eq!((got.count, got.min, got.last), (70_301, 1.0, 1.0));
        drop(s);
        assert_eq!(r.bytes(), narrow + 600 * 3);
        let mut s = r.lock();
        s.add(12_000 + 61_000, 12_000 + 61_000, &one(1.0), None);
        drop(s);
        assert_eq!(r.bytes(), narrow);
    }

    #[test]
    fn late_writes_are_logged() {
        let r = ring(Kind::Counter);
        let mut s = r.lock();
        assert!(s.add(12_950, 13_020, &one(1.0), None));
        assert_eq!(s.late_since(0).unwrap(), (Some(129), 1));
        assert_eq!(s.late_since(1).unwrap(), (None, 1));
        for _ in 0..20 {
            s.add(12_950, 13_020, &one(1.0), None);
        }
        assert!(s.late_since(1).is_err());
    }
}
