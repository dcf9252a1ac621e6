//! A watched timer's percentile views, within the live tier's memory bound: the sketches of
//! only its last few seconds (those that can still take a late write, `max_lag`), and for each
//! percentile view being read (`p99` at a 1 s step, `p50` at 5 s …) its values over the whole
//! window, each worked out from the exact sketch of its seconds when the last of them can no
//! longer change. A view first read after the ring was made has values from then on.

use crate::aggregate::sketch::Sketch;
use crate::aggregate::{Bucket, Extra};
use crate::query::View;

/// Values of the newest second held unsketched (each is one `add` into a fresh sketch).
const BUFFER: usize = 32;
/// Percentile views kept per ring; past this, the one read least recently is dropped.
const MAX_MEMOS: usize = 8;

/// What a write brings: one value, or the sketch of several.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    Value(f64),
    Sketch(&'a Sketch),
}

pub struct Percentiles {
    /// Seconds whose sketches are kept: `(newest - keep, newest]`.
    keep: i64,
    /// The window in seconds.
    window_secs: i64,
    newest: i64,
    /// The newest second whose sketch is gone (folded into the views' values).
    sealed: i64,
    /// Packed sketches by `second % keep`; the newest second's also has `buffer`.
    seconds: Box<[Option<Box<[u8]>>]>,
    buffer: Vec<f64>,
    /// Per slot width (seconds) of the views read: the sealed seconds of its open slot.
    groups: Vec<Group>,
    memos: Vec<Memo>,
}

struct Group {
    secs: i64,
    /// The first second this group saw sealed: slots starting before it are incomplete.
    from_sec: i64,
    acc: Option<(i64, Box<[u8]>)>,
}

struct Memo {
    view: View,
    secs: i64,
    /// First slot (index, seconds / `secs`) with a value; slots before it are unknown.
    from_slot: i64,
    newest_slot: i64,
    values: Box<[f64]>,
    /// The newest second when last read, for dropping the least used.
    used: i64,
}

impl Percentiles {
    pub fn new(window_ms: u64, max_lag_ms: u64, first_sec: i64) -> Percentiles {
        // A write for second s comes at most `max_lag` after s ended (`placement`), so the
        // newest second then is at most s + ⌈lag⌉: keep that many and the newest.
        let keep = (max_lag_ms as i64 + 999) / 1000 + 1;
        Percentiles {
            keep,
            window_secs: (window_ms / 1000) as i64,
            newest: first_sec - 1,
            sealed: first_sec - 1,
            seconds: (0..keep).map(|_| None).collect(),
            buffer: Vec::new(),
            groups: Vec::new(),
            memos: Vec::new(),
        }
    }

    /// Bytes held (for the memory figures).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Percentiles>()
            + self.seconds.len() * std::mem::size_of::<Option<Box<[u8]>>>()
            + self
                .seconds
                .iter()
                .flatten()
                .map(|k| k.len())
                .sum::<usize>()
            + self.buffer.capacity() * 8
            + self.groups.capacity() * std::mem::size_of::<Group>()
            + self
                .groups
                .iter()
                .filter_map(|g| g.acc.as_ref())
                .map(|a| a.1.len())
                .sum::<usize>()
            + self.memos.capacity() * std::mem::size_of::<Memo>()
            + self.memos.iter().map(|m| m.values.len() * 8).sum::<usize>()
    }

    /// Adds what second `sec` got. `bucket(from_ms, until_ms)` gives the slots' merged
    /// count, sum, min and max, for the values of slots that seal on the way.
    pub fn add(&mut self, sec: i64, input: Input<'_>, bucket: &dyn Fn(i64, i64) -> Option<Bucket>) {
        self.advance(sec, bucket);
        if sec <= self.sealed {
            return; // later than `max_lag` allows: the slots have it, the percentiles not
        }
        match input {
            Input::Value(v) if sec == self.newest => {
                if self.buffer.len() == BUFFER {
                    self.flush();
                }
                self.buffer.push(v);
            }
            input => {
                let at = &mut self.seconds[sec.rem_euclid(self.keep) as usize];
                let mut k = at.as_deref().map_or_else(Sketch::new, unpack);
                match input {
                    Input::Value(v) => k.add(v),
                    Input::Sketch(s) => k.merge(s),
                }
                *at = Some(k.pack());
            }
        }
    }

    /// The value of the whole seconds in `[from_ms, until_ms)` under the percentile `view`.
    pub fn value(
        &mut self,
        view: View,
        from_ms: i64,
        until_ms: i64,
        bucket: &dyn Fn(i64, i64) -> Option<Bucket>,
    ) -> Option<f64> {
        let (first, last) = (
            (from_ms + 999).div_euclid(1000),
            until_ms.div_euclid(1000) - 1,
        );
        if last < first {
            return None;
        }
        let secs = last - first + 1;
        let whole = |k: Sketch| {
            with_sketch(bucket(first * 1000, (last + 1) * 1000), k)
                .and_then(|b| view.value_secs(&b, secs as f64))
        };
        if first.rem_euclid(secs) != 0 {
            // Off this width's grid (a step of odd seconds): only while its seconds are kept.
            return (first > self.sealed).then(|| whole(self.kept(first, last, Sketch::new())))?;
        }
        let m = self.memo(view, secs);
        self.memos[m].used = self.newest;
        let slot = first.div_euclid(secs);
        if last <= self.sealed {
            let m = &self.memos[m];
            let len = m.values.len() as i64;
            if slot < m.from_slot || slot > m.newest_slot || slot <= m.newest_slot - len {
                return None;
            }
            return Some(m.values[slot.rem_euclid(len) as usize]).filter(|v| !v.is_nan());
        }
        let g = self.groups.iter().find(|g| g.secs == secs)?;
        if first <= self.sealed && g.from_sec > first {
            return None; // its first seconds sealed before anyone read this slot width
        }
        let acc = match &g.acc {
            Some((s, packed)) if *s == slot => unpack(packed),
            _ => Sketch::new(),
        };
        whole(self.kept(first, last, acc))
    }

    /// `k` with the kept sketches of seconds `first..=last` merged in.
    fn kept(&self, first: i64, last: i64, mut k: Sketch) -> Sketch {
        for s in (self.sealed + 1).max(first)..=last.min(self.newest) {
            if let Some(p) = &self.seconds[s.rem_euclid(self.keep) as usize] {
                k.merge(&unpack(p));
            }
            if s == self.newest {
                self.buffer.iter().for_each(|v| k.add(*v));
            }
        }
        k
    }

    /// Starts keeping the values of `view` at `step_ms` slots (a reader's); returns the start
    /// (ms) of the first slot that will have one.
    pub fn watch(&mut self, view: View, step_ms: i64) -> i64 {
        let secs = (step_ms / 1000).max(1);
        let m = self.memo(view, secs);
        self.memos[m].used = self.newest;
        self.memos[m].from_slot * secs * 1000
    }

    fn memo(&mut self, view: View, secs: i64) -> usize {
        if let Some(i) = self
            .memos
            .iter()
            .position(|m| m.view == view && m.secs == secs)
        {
            return i;
        }
        if self.memos.len() == MAX_MEMOS {
            let lru = (0..self.memos.len())
                .min_by_key(|&i| self.memos[i].used)
                .unwrap_or(0);
            let gone = self.memos.swap_remove(lru);
            if !self.memos.iter().any(|m| m.secs == gone.secs) {
                self.groups.retain(|g| g.secs != gone.secs);
            }
        }
        let next = self.sealed + 1;
        let from_sec = match self.groups.iter().find(|g| g.secs == secs) {
            Some(g) => g.from_sec,
            None => {
                self.groups.reserve_exact(1);
                self.groups.push(Group {
                    secs,
                    from_sec: next,
                    acc: None,
                });
                next
            }
        };
        // The first slot not sealed yet, if the group has all its sealed seconds.
        let slot = next.div_euclid(secs);
        let from_slot = if slot * secs >= from_sec {
            slot
        } else {
            slot + 1
        };
        let len = self.window_secs / secs + 2;
        self.memos.reserve_exact(1);
        self.memos.push(Memo {
            view,
            secs,
            from_slot,
            newest_slot: from_slot - 1,
            values: vec![f64::NAN; len as usize].into_boxed_slice(),
            used: self.newest,
        });
        self.memos.len() - 1
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let at = &mut self.seconds[self.newest.rem_euclid(self.keep) as usize];
        let mut k = at.as_deref().map_or_else(Sketch::new, unpack);
        self.buffer.drain(..).for_each(|v| k.add(v));
        *at = Some(k.pack());
    }

    /// Moves on to second `sec`, sealing the seconds that fall out of `keep`.
    fn advance(&mut self, sec: i64, bucket: &dyn Fn(i64, i64) -> Option<Bucket>) {
        if sec <= self.newest {
            return;
        }
        self.flush();
        // Past a long quiet spell only the window's seconds matter.
        let skip_to = sec - self.keep - self.window_secs;
        if self.sealed < skip_to {
            self.seconds.iter_mut().for_each(|s| *s = None);
            self.groups.iter_mut().for_each(|g| g.acc = None);
            self.sealed = skip_to;
        }
        for s in (self.sealed + 1)..=(sec - self.keep) {
            self.seal(s, bucket);
        }
        self.newest = sec;
    }

    fn seal(&mut self, s: i64, bucket: &dyn Fn(i64, i64) -> Option<Bucket>) {
        let sketch = self.seconds[s.rem_euclid(self.keep) as usize].take();
        self.sealed = s;
        for g in &mut self.groups {
            let slot = s.div_euclid(g.secs);
            if let Some(p) = &sketch {
                g.acc = Some(match g.acc.take() {
                    Some((at, mut acc)) if at == slot => {
                        let mut k = unpack(&acc);
                        k.merge(&unpack(p));
                        acc = k.pack();
                        (at, acc)
                    }
                    _ => (slot, p.clone()),
                });
            }
            if (s + 1).rem_euclid(g.secs) != 0 {
                continue;
            }
            let k = match g.acc.take() {
                Some((at, acc)) if at == slot => unpack(&acc),
                _ => Sketch::new(),
            };
            let (from, until) = (slot * g.secs * 1000, (slot + 1) * g.secs * 1000);
            let b = with_sketch(bucket(from, until), k);
            for m in self.memos.iter_mut().filter(|m| m.secs == g.secs) {
                m.record(slot, b.as_ref());
            }
        }
    }
}

impl Memo {
    fn record(&mut self, slot: i64, bucket: Option<&Bucket>) {
        if slot < self.from_slot {
            return;
        }
        let len = self.values.len() as i64;
        for gap in (self.newest_slot + 1).max(slot - len + 1)..slot {
            self.values[gap.rem_euclid(len) as usize] = f64::NAN;
        }
        let v = bucket.and_then(|b| self.view.value_secs(b, self.secs as f64));
        self.values[slot.rem_euclid(len) as usize] = v.unwrap_or(f64::NAN);
        self.newest_slot = self.newest_slot.max(slot);
    }
}

fn with_sketch(bucket: Option<Bucket>, k: Sketch) -> Option<Bucket> {
    let mut b = bucket?;
    b.extra = Extra::Sketch(Box::new(k));
    Some(b)
}

/// A second's sketch as [`Percentiles`] packed it (so it unpacks).
fn unpack(packed: &[u8]) -> Sketch {
    Sketch::unpack(packed).expect("packed by Sketch::pack")
}

#[cfg(test)]
#[path = "percentiles_tests.rs"]
mod tests;
