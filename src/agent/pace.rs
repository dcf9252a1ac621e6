//! When the aggregation loop wakes up next. While something needs a tick every
//! `commit_interval` (input from outside waiting to be durable, live rings to sweep, outputs
//! whose slots close, a systemd watchdog), it ticks that often, as an interval would. An idle
//! daemon, with only the host's own samples folded, wakes at the next wall-clock boundary that
//! has work: a finest slot ending (its local samples are committed, see `pipeline/commit.rs`)
//! or a self-metrics round. Both are aligned to the wall clock, so with the defaults (10 s
//! buckets, 10 s self-metrics) one wake-up does both, once every 10 s.

use std::time::Duration;

/// What the next tick depends on.
pub(super) struct Pace {
    /// `storage.commit_interval`.
    pub commit: Duration,
    /// The finest slot any schema closes, in seconds.
    pub slot_secs: i64,
    /// `self_metrics.interval`, in seconds.
    pub self_metrics_secs: i64,
    /// Half the watchdog's period, if systemd watches: an idle tick comes at least this often.
    pub watchdog: Option<Duration>,
}

impl Pace {
    /// How long to sleep from `now_ms` (Unix milliseconds): `busy` when something needs a tick
    /// every `commit_interval`.
    pub fn next(&self, now_ms: i64, busy: bool) -> Duration {
        if busy {
            return self.commit;
        }
        let boundary = |secs: i64| {
            let every = secs.max(1) * 1000;
            (now_ms.div_euclid(every) + 1) * every - now_ms
        };
        let ms = boundary(self.slot_secs).min(boundary(self.self_metrics_secs));
        let wait = Duration::from_millis(ms as u64);
        self.watchdog.map_or(wait, |w| wait.min(w / 2))
    }

    /// The self-metrics round (`Unix seconds / interval`) of `now_ms`: a round runs when it
    /// changes.
    pub fn round(&self, now_ms: i64) -> i64 {
        now_ms
            .div_euclid(1000)
            .div_euclid(self.self_metrics_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace() -> Pace {
        Pace {
            commit: Duration::from_secs(1),
            slot_secs: 10,
            self_metrics_secs: 10,
            watchdog: None,
        }
    }

    #[test]
    fn busy_ticks_every_commit_interval() {
        assert_eq!(pace().next(1_000_000_123, true), Duration::from_secs(1));
    }

    #[test]
    fn idle_wakes_at_the_next_slot_end() {
        let p = pace();
        assert_eq!(p.next(1_000_000_000, false), Duration::from_secs(10));
        assert_eq!(p.next(1_000_003_250, false), Duration::from_millis(6_750));
        assert_eq!(p.next(1_000_009_999, false), Duration::from_millis(1));
    }

    #[test]
    fn idle_wakes_for_the_earlier_of_slot_end_and_self_metrics() {
        let p = Pace {
            self_metrics_secs: 4,
            ..pace()
        };
        // 1_000_000_003.5 s: self-metrics due at ...004, the slot ends at ...010.
        assert_eq!(p.next(1_000_000_003_500, false), Duration::from_millis(500));
        let p = Pace {
            slot_secs: 1,
            ..pace()
        };
        assert_eq!(p.next(1_000_000_003_500, false), Duration::from_millis(500));
    }

    #[test]
    fn a_watchdog_bounds_the_idle_sleep() {
        let p = Pace {
            watchdog: Some(Duration::from_secs(4)),
            ..pace()
        };
        assert_eq!(p.next(1_000_000_000, false), Duration::from_secs(2));
    }

    #[test]
    fn rounds_change_at_wall_clock_multiples() {
        let p = pace();
        assert_eq!(p.round(1_000_000_009_999), p.round(1_000_000_000_000));
        assert_ne!(p.round(1_000_000_010_000), p.round(1_000_000_009_999));
    }
}
