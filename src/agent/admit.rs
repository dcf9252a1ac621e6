//! New series under a flood: carbon's `MAX_CREATES_PER_MINUTE` for tally. Each commit, the
//! buckets of series the store already has always go through; a series the store does not
//! have yet needs one of `storage.max_new_series_per_minute` tokens (refilled continuously, a
//! minute's worth at most). Buckets of new series without a token wait in memory for the next
//! commits (slowed, oldest first); past `storage.max_pending_buckets` waiting, the oldest are
//! refused and counted. Data of existing series is never held back or dropped here, nor are
//! tally's own `tally.*` series.

use crate::aggregate::Delta;
use crate::metric::Series;
use crate::store::Store;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::time::Instant;

pub struct Admit {
    per_minute: u64,
    tokens: f64,
    refilled: Instant,
    /// Buckets of new series waiting for a token, oldest first.
    waiting: VecDeque<Delta>,
    max_waiting: usize,
    /// Buckets of new series refused (the waiting list was full), and new series admitted.
    pub refused_buckets: u64,
    pub admitted_series: u64,
    /// When a refusal was last logged (one line a minute at most).
    logged: Option<Instant>,
}

impl Admit {
    pub fn new(per_minute: u64, max_waiting: usize) -> Admit {
        Admit {
            per_minute,
            tokens: per_minute as f64,
            refilled: Instant::now(),
            waiting: VecDeque::new(),
            max_waiting,
            refused_buckets: 0,
            admitted_series: 0,
            logged: None,
        }
    }

    /// Buckets of new series waiting for a token.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Every waiting bucket, for a stop: nothing is held back then.
    pub fn take_all(&mut self) -> Vec<Delta> {
        std::mem::take(&mut self.waiting).into()
    }

    /// What of `fresh` (and of the buckets waiting) goes into this commit. Waiting buckets
    /// are taken from the front while tokens last, so a commit costs what it admits, not what
    /// waits.
    pub fn admit(&mut self, store: &Store, fresh: Vec<Delta>, now: Instant) -> Vec<Delta> {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        let cap = self.per_minute as f64;
        self.tokens = (self.tokens + elapsed * cap / 60.0).min(cap);
        if self.waiting.is_empty() && fresh.iter().all(|d| exempt(store, &d.series)) {
            return fresh;
        }
        let mut decided: FxHashMap<Series, bool> = FxHashMap::default();
        let mut out = Vec::with_capacity(fresh.len());
        while let Some(series) = self.waiting.front().map(|d| d.series.clone()) {
            if !self.decide(&mut decided, store, &series) {
                break;
            }
            out.extend(self.waiting.pop_front());
        }
        for d in fresh {
            if self.decide(&mut decided, store, &d.series) {
                out.push(d);
            } else {
                self.waiting.push_back(d);
            }
        }
        if self.waiting.len() > self.max_waiting {
            let excess = self.waiting.len() - self.max_waiting;
            self.waiting.drain(..excess);
            self.refused_buckets += excess as u64;
            if self
                .logged
                .is_none_or(|t| now.duration_since(t).as_secs() >= 60)
            {
                self.logged = Some(now);
                tracing::warn!(
                    refused = excess,
                    waiting = self.waiting.len(),
                    per_minute = self.per_minute,
                    "New series arrive faster than storage.max_new_series_per_minute: buckets of \
                     new series wait, and past storage.max_pending_buckets waiting the oldest are \
                     refused (counted in tally.store.refused_new_series_buckets); existing series \
                     are not affected."
                );
            }
        }
        out
    }

    /// Whether a series' buckets go in now: exempt, or decided before in this commit, or a
    /// token is left for it.
    fn decide(&mut self, decided: &mut FxHashMap<Series, bool>, store: &Store, s: &Series) -> bool {
        if let Some(&ok) = decided.get(s) {
            return ok;
        }
        let ok = if exempt(store, s) {
            true
        } else if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.admitted_series += 1;
            true
        } else {
            false
        };
        decided.insert(s.clone(), ok);
        ok
    }
}

/// Series the budget does not apply to: those stored already, and tally's own `tally.*`
/// (a bounded set, and the counters that report the flood must not wait behind it).
fn exempt(store: &Store, series: &Series) -> bool {
    series.as_str().starts_with("tally.") || store.contains(series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bucket;
    use crate::metric::Kind;

    fn delta(name: &str) -> Delta {
        Delta {
            series: Series::parse(name).unwrap(),
            kind: Kind::Gauge,
            resolution: 10,
            start: 0,
            bucket: Bucket::new(Kind::Gauge, 1.0, 3),
        }
    }

    /// Known series always pass; new ones pass at the token rate, then wait, then are refused
    /// past the bound, oldest first.
    #[test]
    fn new_series_wait_for_tokens_and_old_ones_never_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(crate::store::Options {
            data_dir: dir.path().to_path_buf(),
            tiers: vec![crate::schema::Tier {
                resolution: 10,
                retention: 86_400,
            }],
            head_flush_interval: 600,
            head_max_bytes: 1 << 20,
        })
        .unwrap();
        store
            .commit(crate::store::Batch {
                deltas: vec![delta("old")],
                cursors: vec![],
            })
            .unwrap();
        let mut admit = Admit::new(2, 3);
        let t0 = Instant::now();
        let fresh: Vec<Delta> = ["a", "b", "c", "d", "old", "e", "tally.x", "f"]
            .into_iter()
            .map(delta)
            .collect();
        let out = admit.admit(&store, fresh, t0);
        let names: Vec<&str> = out.iter().map(|d| d.series.as_str()).collect();
        assert_eq!(names, ["a", "b", "old", "tally.x"]);
        // c..f wait; the bound of 3 refuses the oldest (c).
        assert_eq!(admit.waiting(), 3);
        assert_eq!(admit.refused_buckets, 1);
        // A minute later two tokens more: d and e go, f still waits.
        let out = admit.admit(
            &store,
            vec![delta("old")],
            t0 + std::time::Duration::from_secs(60),
        );
        let names: Vec<&str> = out.iter().map(|d| d.series.as_str()).collect();
        assert_eq!(names, ["d", "e", "old"]);
        assert_eq!(admit.waiting(), 1);
    }
}
