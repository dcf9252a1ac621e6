//! How a collector publishes: [`Emitter`] builds `<prefix>.<collector>.<name>` in one reused
//! buffer, applies Diamond's whitelist/blacklist ([`Filter`]) and pushes observations. The
//! series of the previous round are kept per collector ([`Names`]), so a round in which the
//! same metrics come in the same order parses no name, runs no regex and allocates nothing
//! but the output vector.
//!
//! A sample that comes late covers several sampling intervals (`weight` > 1). A level
//! ([`Emitter::gauge`]) is published once; a per-second rate ([`Emitter::rate`]) once per interval
//! it covers, stamped at the times of the rounds it stands for, so a bucket's average stays the
//! time-weighted mean; a count over the interval ([`Emitter::count`], iostat's `reads`) is split
//! evenly over them, so a bucket's sum stays the count.

use super::{Error, MetricFilter, anchored};
use crate::metric::{Kind, Observation, Series};
use regex::Regex;

/// Diamond's `metrics_whitelist` / `metrics_blacklist`, compiled.
pub(crate) struct Filter {
    whitelist: Vec<Regex>,
    blacklist: Vec<Regex>,
}

impl Filter {
    pub(crate) fn new(collector: &str, f: Option<&MetricFilter>) -> Result<Filter, Error> {
        let compile = |list: &[String], what: &str| {
            list.iter()
                .map(|re| anchored(re, &format!("{collector}.{what}")))
                .collect::<Result<Vec<_>, _>>()
        };
        let empty = MetricFilter::default();
        let f = f.unwrap_or(&empty);
        Ok(Filter {
            whitelist: compile(&f.whitelist, "metrics_whitelist")?,
            blacklist: compile(&f.blacklist, "metrics_blacklist")?,
        })
    }

    fn allows(&self, short: &str) -> bool {
        (self.whitelist.is_empty() || self.whitelist.iter().any(|r| r.is_match(short)))
            && !self.blacklist.iter().any(|r| r.is_match(short))
    }
}

/// What one published name of the previous round became: its series, or refused (by the
/// filter or [`Series`]).
#[derive(Default)]
enum Cached {
    #[default]
    Taken,
    Kept(Series),
    Dropped,
}

/// One published name: its text after `<prefix>.<collector>.` (at `at..at + len` of its
/// round's text) and what it became.
struct Entry {
    at: u32,
    len: u32,
    what: Cached,
}

/// The names a collector published in its previous round, in order, and those of this round so
/// far. Holds exactly one round's names, so it is bounded by what the collector publishes. A
/// name is compared by its short text, kept end to end in one string per round (a steady
/// round reads it front to back instead of each series' own allocation).
#[derive(Default)]
pub(crate) struct Names {
    prev: Vec<Entry>,
    prev_text: String,
    next: Vec<Entry>,
    next_text: String,
    /// Entries of `prev` before this are taken or skipped.
    pos: usize,
}

impl Names {
    /// The series for `short` (None: refused), from the previous round when it had it.
    fn lookup(&mut self, short: &str, make: impl FnOnce() -> Option<Series>) -> Option<Series> {
        let text = &self.prev_text;
        let found = self.prev[self.pos..].iter().position(|e| {
            !matches!(e.what, Cached::Taken)
                && text.get(e.at as usize..(e.at + e.len) as usize) == Some(short)
        });
        let what = match found {
            Some(i) => {
                self.pos += i + 1;
                std::mem::take(&mut self.prev[self.pos - 1].what)
            }
            None => match make() {
                Some(s) => Cached::Kept(s),
                None => Cached::Dropped,
            },
        };
        let series = match &what {
            Cached::Kept(s) => Some(s.clone()),
            _ => None,
        };
        let at = self.next_text.len() as u32;
        self.next_text.push_str(short);
        self.next.push(Entry {
            at,
            len: short.len() as u32,
            what,
        });
        series
    }

    /// Starts a round: brings each kept series' allocation into the cache with loads that do
    /// not wait on each other (the round clones every series it publishes, and a second's
    /// sleep leaves them cold: one cache miss after another otherwise).
    pub(crate) fn warm(&self) {
        for e in &self.prev {
            if let Cached::Kept(s) = &e.what {
                std::hint::black_box(s.as_str().as_bytes().first().copied());
            }
        }
    }

    /// Ends a round: what it published is what the next one looks up.
    pub(crate) fn finish(&mut self) {
        std::mem::swap(&mut self.prev, &mut self.next);
        std::mem::swap(&mut self.prev_text, &mut self.next_text);
        self.next.clear();
        self.next_text.clear();
        self.pos = 0;
    }
}

/// When a round happens and how many sampling intervals it stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp {
    /// Unix milliseconds of the round.
    pub(crate) now_ms: i64,
    /// The sampling interval the round was scheduled on.
    pub(crate) interval_ms: i64,
    /// Intervals since the previous round (1 unless rounds were missed).
    pub(crate) weight: u32,
}

impl Stamp {
    /// A round that stands for one interval, at `now` (unix seconds).
    pub(crate) fn single(now: i64) -> Stamp {
        Stamp {
            now_ms: now.saturating_mul(1000),
            interval_ms: 1000,
            weight: 1,
        }
    }

    fn time(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }
}

/// Builds `<prefix>.<collector>.<name>` in one reused buffer and pushes observations.
pub(crate) struct Emitter<'a> {
    out: &'a mut Vec<Observation>,
    name: &'a mut String,
    base: usize,
    stamp: Stamp,
    filter: &'a Filter,
    names: &'a mut Names,
}

impl<'a> Emitter<'a> {
    /// `name` is a buffer kept by the caller; it is overwritten.
    pub(crate) fn new(
        out: &'a mut Vec<Observation>,
        name: &'a mut String,
        prefix_path: (&str, &str),
        stamp: Stamp,
        filter: &'a Filter,
        names: &'a mut Names,
    ) -> Emitter<'a> {
        name.clear();
        name.push_str(prefix_path.0);
        name.push_str(prefix_path.1);
        name.push('.');
        let base = name.len();
        Emitter {
            out,
            name,
            base,
            stamp,
            filter,
            names,
        }
    }

    /// Publishes a level `<prefix>.<path>.<parts joined by '.'>` once; non-finite values and
    /// names the filter or [`Series`] reject are dropped.
    pub(crate) fn gauge(&mut self, parts: &[&str], value: f64) {
        if let Some(series) = self.series(parts, value) {
            let time = self.stamp.time();
            self.push(series, value, time);
        }
    }

    /// Publishes a per-second rate: once per sampling interval the round stands for.
    pub(crate) fn rate(&mut self, parts: &[&str], value: f64) {
        self.spread(parts, value, value);
    }

    /// Publishes a count over the round's interval (Diamond's per-interval deltas), split evenly
    /// over the sampling intervals the round stands for.
    pub(crate) fn count(&mut self, parts: &[&str], value: f64) {
        self.spread(parts, value, value / f64::from(self.stamp.weight.max(1)));
    }

    /// Publishes one of the collector's own `tally.*` counters (an increment), as it is: no
    /// prefix, no filter.
    pub(crate) fn own_counter(&mut self, series: &Series, value: f64) {
        self.out.push(Observation {
            series: series.clone(),
            kind: Kind::Counter,
            value,
            time: self.stamp.time(),
        });
    }

    fn spread(&mut self, parts: &[&str], value: f64, each: f64) {
        let Some(series) = self.series(parts, value) else {
            return;
        };
        let s = self.stamp;
        for j in (1..s.weight).rev() {
            let ms = s.now_ms - i64::from(j) * s.interval_ms;
            self.push(series.clone(), each, ms.div_euclid(1000));
        }
        self.push(series, each, s.time());
    }

    fn push(&mut self, series: Series, value: f64, time: i64) {
        self.out.push(Observation {
            series,
            kind: Kind::Gauge,
            value,
            time,
        });
    }

    fn series(&mut self, parts: &[&str], value: f64) -> Option<Series> {
        if !value.is_finite() {
            return None;
        }
        self.name.truncate(self.base);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                self.name.push('.');
            }
            self.name.push_str(p);
        }
        let (name, base, filter) = (self.name.as_str(), self.base, self.filter);
        self.names.lookup(&name[base..], || {
            if filter.allows(&name[base..]) {
                Series::parse(name).ok()
            } else {
                None
            }
        })
    }
}
