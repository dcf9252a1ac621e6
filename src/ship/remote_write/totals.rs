//! Running totals of the cumulative series (`_total`, a summary's `_count` and `_sum`).
//!
//! Prometheus counters only go up, and a drop is a reset: `rate()` and `increase()` count
//! from 0 again after it. tally's buckets hold what happened in a slot, so the sender adds
//! them up. The totals move only when the remote **took** a request ([`Totals::commit`]
//! after a 2xx), so:
//!
//! - a retried request carries the same values (they are computed again from the same
//!   totals and the same spool records);
//! - a refused request moves nothing; its records, sent again one at a time, count from the
//!   totals of what was taken before them, and a record refused alone (dropped, counted) is
//!   never added: the totals are exactly the sum of the slots the remote holds since the
//!   series' reset;
//! - the totals live in memory: a restart of tally starts every series again from 0, which
//!   `rate()` reads as a reset. Records delivered before a crash whose ack was lost are sent
//!   again after it; the remote refuses them (it has their times already), so they are not
//!   counted twice;
//! - at most `max_series` totals are kept; past it the least recently sent are forgotten,
//!   and such a series starts again from 0 (a reset) when it comes back.

use super::proto::Label;
use rustc_hash::FxHashMap;

#[derive(Debug, Default)]
pub struct Totals {
    /// Labels → (total, tick of its last commit).
    map: FxHashMap<Vec<Label>, (f64, u64)>,
    tick: u64,
    max: usize,
}

impl Totals {
    pub fn new(max: usize) -> Totals {
        Totals {
            max: max.max(1),
            ..Totals::default()
        }
    }

    pub fn get(&self, labels: &[Label]) -> f64 {
        self.map.get(labels).map_or(0.0, |t| t.0)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The remote took the request these totals were computed for.
    pub fn commit(&mut self, running: FxHashMap<Vec<Label>, f64>) {
        self.tick += 1;
        for (labels, total) in running {
            self.map.insert(labels, (total, self.tick));
        }
        if self.map.len() > self.max {
            // Forget the least recently sent quarter (at least the excess).
            let keep = self.max - self.max / 4;
            let mut ticks: Vec<u64> = self.map.values().map(|t| t.1).collect();
            let cut = ticks.len() - keep;
            let (_, nth, _) = ticks.select_nth_unstable(cut);
            let threshold = *nth;
            self.map.retain(|_, t| t.1 >= threshold);
            if self.map.len() > self.max {
                let excess = self.map.len() - keep;
                let drop: Vec<Vec<Label>> = self
                    .map
                    .iter()
                    .filter(|(_, t)| t.1 == threshold)
                    .take(excess)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in drop {
                    self.map.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Vec<Label> {
        vec![Label {
            name: "__name__".into(),
            value: name.into(),
        }]
    }

    #[test]
    fn commits_move_totals_and_the_oldest_are_forgotten() {
        let mut t = Totals::new(4);
        for (i, n) in ["a", "b", "c", "d"].iter().enumerate() {
            t.commit(FxHashMap::from_iter([(key(n), i as f64 + 1.0)]));
        }
        assert_eq!(t.get(&key("d")), 4.0);
        t.commit(FxHashMap::from_iter([(key("e"), 5.0)]));
        assert!(t.len() <= 4, "{}", t.len());
        assert_eq!(t.get(&key("a")), 0.0, "the least recent starts again");
        assert_eq!(t.get(&key("e")), 5.0);
    }
}
