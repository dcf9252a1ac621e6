//! One watched series: a ring of live slots (count, sum, min, max, last) at the tier's step,
//! for timers also a ring of one-second sketches (the percentile views), and the log of late
//! writes into slots that may already have been sent (so readers send those slots again).

use crate::aggregate::sketch::Sketch;
use crate::aggregate::{Bucket, Extra};
use crate::metric::{Kind, Series};
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
    pub join: Join,
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
    /// The slots as columns (36 bytes a slot): counts, and sum, min, max, last.
    counts: Box<[u32]>,
    values: Box<[[f64; 4]]>,
    /// Timers: one sketch per second, `(newest_sec - len, newest_sec]`: the newest in `open`
    /// (its bins, written at every observation), the others packed (`Sketch::pack`: a few
    /// bytes a nonzero bin instead of 8 bytes a key of the bins' range).
    seconds: Box<[Option<Box<[u8]>>]>,
    open: Option<Box<Sketch>>,
    newest_sec: i64,
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
    ) -> Ring {
        let step = step_ms as i64;
        let len = (window_ms / step_ms) as usize;
        let first = join.live_ms.div_euclid(step);
        let secs = if kind == Kind::Timer {
            (window_ms / 1000) as usize + 2
        } else {
            0
        };
        Ring {
            series,
            kind,
            join,
            watchers: AtomicUsize::new(0),
            left_ms: AtomicI64::new(0),
            slots: Mutex::new(Slots {
                step,
                first,
                newest: first - 1,
                counts: vec![0; len].into_boxed_slice(),
                values: vec![[0.0; 4]; len].into_boxed_slice(),
                seconds: (0..secs).map(|_| None).collect(),
                open: None,
                newest_sec: first * step / 1000 - 1,
                amend_seq: 0,
                amends: [(0, 0); AMENDS],
            }),
        }
    }

    /// Where a watcher that starts now joins history: the ring's own join while its first
    /// slot is still kept (after `oldest_ms`), else the first stored slot boundary (`res_ms`)
    /// inside the ring, with no bridge: everything stored from there on came after the ring
    /// was made, so the ring holds all of it.
    pub fn join_for(&self, oldest_ms: i64, res_ms: i64) -> Join {
        if self.join.live_ms >= oldest_ms {
            return self.join.clone();
        }
        let at = (oldest_ms + res_ms - 1).div_euclid(res_ms) * res_ms;
        Join {
            join_ms: at,
            live_ms: at,
            bridge: None,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes this ring holds (slots and sketches), for the memory figures.
    pub fn bytes(&self) -> usize {
        let s = self.lock();
        std::mem::size_of::<Ring>()
            + s.counts.len() * (4 + 32)
            + s.seconds.len() * std::mem::size_of::<Option<Box<[u8]>>>()
            + s.seconds.iter().flatten().map(|k| k.len()).sum::<usize>()
            + s.open.as_ref().map_or(0, |k| k.heap_bytes())
    }
}

impl Slots {
    pub fn step(&self) -> i64 {
        self.step
    }

    fn len(&self) -> i64 {
        self.counts.len() as i64
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
            self.counts[at] = 0;
        }
        self.newest = index;
    }

    fn advance_sec(&mut self, sec: i64) {
        let len = self.seconds.len() as i64;
        if len == 0 || sec <= self.newest_sec {
            return;
        }
        if let Some(k) = self.open.take() {
            self.seconds[self.newest_sec.rem_euclid(len) as usize] = Some(k.pack());
        }
        for s in (self.newest_sec + 1).max(sec - len + 1)..=sec {
            self.seconds[s.rem_euclid(len) as usize] = None;
        }
        self.newest_sec = sec;
    }

    /// Folds `slot` (and for timers the values' sketch) into the slot at `at_ms`; `now_ms` is
    /// the clock, read under this lock, so a write into a slot that already ended is always
    /// seen by readers as a late write. False when the slot is not in the ring.
    pub fn add(&mut self, at_ms: i64, now_ms: i64, slot: &Slot, sketch: Option<&Sketch>) -> bool {
        let index = at_ms.div_euclid(self.step);
        self.advance(now_ms.div_euclid(self.step).max(index));
        if index < self.oldest() {
            return false;
        }
        let at = index.rem_euclid(self.len()) as usize;
        let mut merged = self.slot_at(at);
        merged.merge(slot);
        // Counts past u32 in one slot (4 billion values in 100 ms) saturate.
        self.counts[at] = u32::try_from(merged.count).unwrap_or(u32::MAX);
        self.values[at] = [merged.sum, merged.min, merged.max, merged.last];
        if index < now_ms.div_euclid(self.step) {
            self.amend_seq += 1;
            self.amends[(self.amend_seq % AMENDS as u64) as usize] = (self.amend_seq, index);
        }
        if let Some(k) = sketch {
            self.add_sketch(at_ms.div_euclid(1000), k);
        }
        true
    }

    fn add_sketch(&mut self, sec: i64, k: &Sketch) {
        let len = self.seconds.len() as i64;
        if len == 0 {
            return;
        }
        self.advance_sec(sec);
        if sec <= self.newest_sec - len {
            return;
        }
        if sec == self.newest_sec {
            match &mut self.open {
                Some(s) => s.merge(k),
                empty => *empty = Some(Box::new(k.clone())),
            }
            return;
        }
        // A late write into a closed second (rare): unpacked, merged, packed again.
        let packed = &mut self.seconds[sec.rem_euclid(len) as usize];
        let mut s = match packed {
            Some(p) => unpack(p),
            None => Sketch::with_accuracy(k.accuracy()),
        };
        s.merge(k);
        *packed = Some(s.pack());
    }

    /// The sketch of second `sec` (kept: within the window), if it has one.
    fn second(&self, sec: i64) -> Option<std::borrow::Cow<'_, Sketch>> {
        if sec == self.newest_sec {
            return self.open.as_deref().map(std::borrow::Cow::Borrowed);
        }
        let len = self.seconds.len() as i64;
        let packed = self.seconds[sec.rem_euclid(len) as usize].as_ref()?;
        Some(std::borrow::Cow::Owned(unpack(packed)))
    }

    fn slot_at(&self, at: usize) -> Slot {
        match self.counts[at] {
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

    /// Slots `[from, until)` (ms, multiples of the step) merged into one bucket; for timers
    /// with the merged sketches of the whole seconds in that range when `sketch`.
    pub fn bucket(&self, from_ms: i64, until_ms: i64, sketch: bool) -> Option<Bucket> {
        let mut slot = Slot::EMPTY;
        for i in from_ms.div_euclid(self.step)..until_ms.div_euclid(self.step) {
            if let Some(s) = self.get(i) {
                slot.merge(&s);
            }
        }
        if slot.count == 0 {
            return None;
        }
        let mut b = slot.bucket();
        if sketch && !self.seconds.is_empty() {
            let len = self.seconds.len() as i64;
            let mut merged: Option<Sketch> = None;
            for sec in from_ms.div_euclid(1000)..until_ms.div_euclid(1000) {
                if sec > self.newest_sec || sec <= self.newest_sec - len {
                    continue;
                }
                if let Some(k) = self.second(sec) {
                    match &mut merged {
                        Some(m) => m.merge(&k),
                        None => merged = Some(k.into_owned()),
                    }
                }
            }
            b.extra = merged.map_or(Extra::None, |m| Extra::Sketch(Box::new(m)));
        }
        Some(b)
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

/// A second's sketch as [`Slots`] packed it (so it unpacks).
fn unpack(packed: &[u8]) -> Sketch {
    Sketch::unpack(packed).expect("packed by Sketch::pack")
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
        Ring::new(Series::parse("a.b").unwrap(), kind, join, 100, 60_000)
    }

    fn one(v: f64) -> Slot {
        Slot {
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
        }
    }

    #[test]
    fn slots_fill_and_wrap() {
        let r = ring(Kind::Gauge);
        let mut s = r.lock();
        assert!(!s.add(11_900, 12_050, &one(1.0), None), "before the ring");
        assert!(s.add(12_050, 12_050, &one(2.0), None));
        assert!(s.add(12_070, 12_070, &one(4.0), None));
        let b = s.bucket(12_000, 12_100, false).unwrap();
        assert_eq!(
            (b.count, b.sum, b.min, b.max, b.last),
            (2, 6.0, 2.0, 4.0, 4.0)
        );
        // A minute later the first slots are gone.
        s.advance(12_000 / 100 + 700);
        assert!(s.bucket(12_000, 12_100, false).is_none());
        assert!(s.oldest() > 120);
    }

    #[test]
    fn a_minute_at_100ms_fits_24_kb() {
        let r = ring(Kind::Counter);
        assert!(r.bytes() <= 24_000, "{}", r.bytes());
        assert!(
            ring(Kind::Timer).bytes() <= 24_000 + 62 * 16 + 8,
            "sketches only while data"
        );
    }

    /// The memory of a watched timer: its slots plus a minute of one-second sketches, filled at
    /// 10, 100 and 1,000 lognormal values a second (median 40, σ 0.8), with the sketches of
    /// before issue 18 (coarse) and now (fine). Printed for BENCHMARKS.md (`-- --nocapture`).
    #[test]
    fn a_watched_timer_holds_a_minute_of_sketches() {
        use crate::aggregate::sketch::Accuracy;
        let mut state = 13u64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut lognormal = || {
            let z = (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
            40.0 * (0.8 * z).exp()
        };
        for per_sec in [10, 100, 1000] {
            let mut bytes = Vec::new();
            for a in [Accuracy::Coarse, Accuracy::Fine] {
                let r = ring(Kind::Timer);
                let mut s = r.lock();
                for i in 0..62 * per_sec {
                    let at = 12_000 + i * 1000 / per_sec;
                    let v = lognormal();
                    let mut k = Sketch::with_accuracy(a);
                    k.add(v);
                    assert!(s.add(at, at, &one(v), Some(&k)));
                }
                drop(s);
                bytes.push(r.bytes());
            }
            eprintln!(
                "timer ring, {per_sec} values/s: coarse {} B, fine {} B",
                bytes[0], bytes[1]
            );
            // Closed seconds packed (a few bytes a nonzero bin): under 80 KB at every rate,
            // where their bins took 124–224 KB a ring (coarse) before.
            assert!(bytes[1] <= 2 * bytes[0] && bytes[1] <= 80_000, "{bytes:?}");
        }
    }

    /// Closed seconds are packed; a late write into one, and reading it, see every value.
    #[test]
    fn packed_seconds_take_late_writes() {
        let r = ring(Kind::Timer);
        let mut s = r.lock();
        let mut want = [Sketch::new(), Sketch::new()];
        let mut put = |s: &mut Slots, at: i64, now: i64, v: f64| {
            let mut k = Sketch::new();
            k.add(v);
            want[(at / 1000 - 12) as usize].add(v);
            assert!(s.add(at, now, &one(v), Some(&k)));
        };
        for v in 1..=50 {
            put(&mut s, 12_000 + v * 10, 12_900, v as f64);
        }
        for v in 51..=80 {
            put(&mut s, 13_000 + v * 10, 13_900, v as f64);
        }
        // Second 12 is packed (its slot: 12 of 62), second 13 open.
        assert!(s.seconds[12].is_some() && s.open.is_some());
        for v in 81..=100 {
            put(&mut s, 12_100 + v, 13_950, v as f64);
        }
        let mut both = want[0].clone();
        both.merge(&want[1]);
        let sketch = |b: Bucket| match b.extra {
            Extra::Sketch(k) => *k,
            other => panic!("{other:?}"),
        };
        assert_eq!(sketch(s.bucket(12_000, 13_000, true).unwrap()), want[0]);
        assert_eq!(sketch(s.bucket(13_000, 14_000, true).unwrap()), want[1]);
        assert_eq!(sketch(s.bucket(12_000, 14_000, true).unwrap()), both);
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

    #[test]
    fn timers_keep_second_sketches() {
        let r = ring(Kind::Timer);
        let mut s = r.lock();
        for v in 1..=100 {
            let mut k = Sketch::new();
            k.add(f64::from(v));
            s.add(
                12_000 + i64::from(v) * 9,
                13_000,
                &one(f64::from(v)),
                Some(&k),
            );
        }
        let b = s.bucket(12_000, 13_000, true).unwrap();
        let p99 = b.quantile(0.99).unwrap();
        assert!((p99 - 99.0).abs() <= 1.0, "{p99}");
        assert!(
            s.bucket(12_000, 12_100, false)
                .unwrap()
                .quantile(0.5)
                .is_none()
        );
    }
}
