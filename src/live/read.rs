//! Reading rings at a connection's own cursor: each call to [`Reader::frame`] gives the slots
//! that ended since the last one, for every watched series, as values under their views. No
//! queue per client: a client that read nothing for a while gets what is still in the rings,
//! or a reset when it fell off them.

use super::ring::Ring;
use crate::query::View;
use std::sync::Arc;

/// One series a connection watches.
pub struct Watched {
    /// The id the client knows it by (the `series` message).
    pub id: usize,
    pub ring: Arc<Ring>,
    pub view: View,
    /// The ring's late-write sequence this connection has seen.
    pub seen: u64,
}

/// Slots `[t, t + n × step)` of some series; `reset` when the client's buffer is to be
/// replaced (it fell off the ring, or asked for what is gone).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub reset: bool,
    pub t: i64,
    pub n: usize,
    /// By series id; series with no data in these slots are absent.
    pub values: Vec<(usize, Vec<Option<f64>>)>,
}

impl Frame {
    /// The end (ms) of the last slot: the message id.
    pub fn end(&self, step: i64) -> i64 {
        self.t + self.n as i64 * step
    }

    /// `{"t":…,"n":…,"s":[…],"v":[…]}` (README, "Live stream"): `s` gives the ids of the
    /// series present as runs, alternately how many ids to skip and how many follow (from id
    /// 0); `v` holds their `n` values each, series after series in id order. Values are the
    /// shortest text that reads back to the same f64 (integers without `.0`).
    pub fn json(&self) -> String {
        let mut order: Vec<&(usize, Vec<Option<f64>>)> = self.values.iter().collect();
        order.sort_unstable_by_key(|(id, _)| *id);
        let mut out = String::with_capacity(48 + self.values.len() * (4 + self.n * 20));
        let mut num = itoa::Buffer::new();
        out.push_str("{\"t\":");
        out.push_str(num.format(self.t));
        out.push_str(",\"n\":");
        out.push_str(num.format(self.n));
        out.push_str(",\"s\":[");
        let mut next = 0; // the id after the last one written
        let mut i = 0;
        while i < order.len() {
            let first = order[i].0;
            let mut run = 1;
            while i + run < order.len() && order[i + run].0 == first + run {
                run += 1;
            }
            if i > 0 {
                out.push(',');
            }
            out.push_str(num.format(first - next));
            out.push(',');
            out.push_str(num.format(run));
            next = first + run;
            i += run;
        }
        out.push_str("],\"v\":[");
        let mut float = ryu::Buffer::new();
        let mut first = true;
        for v in order.iter().flat_map(|(_, vals)| vals) {
            if !first {
                out.push(',');
            }
            first = false;
            match v {
                Some(v) if v.is_finite() => {
                    let text = float.format_finite(*v);
                    out.push_str(text.strip_suffix(".0").unwrap_or(text));
                }
                _ => out.push_str("null"),
            }
        }
        out.push_str("]}");
        out
    }
}

/// A connection's cursor over its rings.
pub struct Reader {
    /// Slot width of this stream (ms; a multiple of the tier's step).
    pub step: i64,
    pub window: i64,
    /// End (ms) of the last slot sent; `None` before the first frame.
    pub cursor: Option<i64>,
    pub watched: Vec<Watched>,
    /// Function targets read too (their frames are never skipped as empty).
    pub functions: usize,
}

impl Reader {
    /// The slots that ended by `now_ms` and were not sent yet (with slots written late since
    /// they were sent), or `None` when there is nothing new.
    pub fn frame(&mut self, now_ms: i64) -> Option<Frame> {
        let end = now_ms.div_euclid(self.step) * self.step;
        let oldest = end - self.window;
        let mut reset = false;
        let mut from = match self.cursor {
            // A new stream starts with the slot that just ended.
            None => end - self.step,
            // Behind the ring, or an id from the future (not ours): the whole ring.
            Some(c) if c < oldest || c > end => {
                reset = true;
                oldest
            }
            Some(c) => c,
        };
        // Slots written late (after they ended) are sent again.
        for w in &mut self.watched {
            let mut slots = w.ring.lock();
            let base = slots.step();
            slots.advance(end.div_euclid(base) - 1);
            match slots.late_since(w.seen) {
                Ok((earliest, seq)) => {
                    w.seen = seq;
                    if let Some(i) = earliest {
                        let at = (i * slots.step()).div_euclid(self.step) * self.step;
                        if at < from {
                            from = at;
                        }
                    }
                }
                Err(seq) => {
                    w.seen = seq;
                    reset = true;
                }
            }
        }
        if reset || from < oldest {
            reset = true;
            from = oldest;
        }
        if from >= end {
            return None;
        }
        let n = ((end - from) / self.step) as usize;
        let mut values = Vec::new();
        for w in &self.watched {
            let mut slots = w.ring.lock();
            let mut any = false;
            let vals: Vec<Option<f64>> = (0..n as i64)
                .map(|k| {
                    let a = from + k * self.step;
                    let v = value(&mut slots, w.view, a, a + self.step);
                    any |= v.is_some();
                    v
                })
                .collect();
            if any || reset {
                values.push((w.id, vals));
            }
        }
        if values.is_empty() && !reset && self.functions == 0 && end - from < 1000 {
            // Nothing happened: the next frame covers these slots too (absent means no
            // data). At least one frame a second still goes out, as a heartbeat (and so a
            // closed connection is noticed).
            return None;
        }
        self.cursor = Some(end);
        Some(Frame {
            reset,
            t: from,
            n,
            values,
        })
    }
}

/// The value of `[a, b)` under `view`: percentiles only on the slot that ends a second (of
/// that whole second, or of the whole seconds of a longer slot).
pub fn value(slots: &mut super::ring::Slots, view: View, a: i64, b: i64) -> Option<f64> {
    let secs = (b - a) as f64 / 1000.0;
    match view {
        View::Percentile(_) => {
            if b.rem_euclid(1000) != 0 {
                return None;
            }
            let from = if b - a < 1000 { b - 1000 } else { a };
            slots.percentile(view, from, b)
        }
        _ => view.value_secs(&slots.bucket(a, b)?, secs),
    }
}
