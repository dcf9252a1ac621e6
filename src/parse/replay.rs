//! Replaying log files through parsers: what `tally parse` prints and the golden files hold.
//!
//! Every line of every file goes through every parser (read time = `now`). Each series is
//! folded into one bucket over the whole replay, with the same bucket maths the daemon uses,
//! and printed as Graphite plaintext `path value timestamp`, where the timestamp is the
//! latest observation time of the series:
//!
//! - counter: `path` = the sum;
//! - gauge: `path` = the last value (by time), `path:avg` = the mean;
//! - timer (in ms when the rule gave a unit): `path:obvs`, `path:sum`, `path:min`, `path:avg`,
//!   `path:p50`, `path:p90`, `path:p99` (or the percentiles asked for: `path:p99.9`),
//!   `path:max` (percentiles within 0.5 %, as in the store);
//! - set: `path` = the distinct count (exact to 256, then HyperLogLog, as in the store).
//!
//! For a tagged series the view goes after the tags: `req;status=2xx:avg`. Lines are sorted by
//! path. The events follow in the order they happened, one per line:
//! `event <when> <what as a JSON string> <tags joined by commas, or -> <data as a JSON string>`.
//! [`Replay::summary`] gives the per-parser counters as `#` lines (for stderr).

use super::{Counters, Error, EventRecord, Output, ParseState, Parser};
use crate::aggregate::Bucket;
use crate::metric::{Kind, Series};
use rustc_hash::FxHashMap;
use std::fmt;
use std::io::BufRead;
use std::path::PathBuf;

/// One Graphite plaintext line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayLine {
    pub path: String,
    pub value: f64,
    pub time: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Replay {
    pub metrics: Vec<ReplayLine>,
    pub events: Vec<EventRecord>,
    /// Per parser, in the order given.
    pub counters: Vec<(String, Counters)>,
}

/// Runs every line of `files` through `parsers` with `prefix` before every name.
/// The percentiles printed for timers unless others are asked for.
pub const PERCENTILES: [f64; 3] = [50.0, 90.0, 99.0];

pub fn replay(
    parsers: &[&Parser],
    prefix: &str,
    files: &[PathBuf],
    now: i64,
) -> Result<Replay, Error> {
    replay_with(parsers, prefix, files, now, &PERCENTILES)
}

/// [`replay`] printing the given percentiles (0 < p < 100) of timers, as `path:p<p>`.
pub fn replay_with(
    parsers: &[&Parser],
    prefix: &str,
    files: &[PathBuf],
    now: i64,
    percentiles: &[f64],
) -> Result<Replay, Error> {
    let mut states: Vec<ParseState> = parsers.iter().map(|_| ParseState::new()).collect();
    let mut totals: FxHashMap<Series, (Kind, Bucket)> = FxHashMap::default();
    let mut events = Vec::new();
    let mut out = Output::default();
    let mut line = Vec::new();
    for path in files {
        let read_err = |source| Error::Read {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
                break;
            }
            for (p, st) in parsers.iter().zip(&mut states) {
                p.apply(&line, now, prefix, st, &mut out);
            }
            for o in out.observations.drain(..) {
                match totals.get_mut(&o.series) {
                    // A series keeps the kind it was first seen with.
                    Some((_, b)) => b.add(o.value, o.time),
                    None => {
                        totals.insert(o.series, (o.kind, Bucket::new(o.kind, o.value, o.time)));
                    }
                }
            }
            events.append(&mut out.events);
        }
    }
    let mut metrics = Vec::new();
    for (series, (kind, b)) in totals {
        let time = b.last_time;
        let mut push = |view: &str, value: Option<f64>| {
            if let Some(value) = value {
                let path = if view.is_empty() {
                    series.as_str().to_string()
                } else {
                    format!("{series}:{view}")
                };
                metrics.push(ReplayLine { path, value, time });
            }
        };
        match kind {
            Kind::Counter => push("", Some(b.sum)),
            Kind::Gauge => {
                push("", Some(b.last));
                push("avg", Some(b.avg()));
            }
            Kind::Timer => {
                push("obvs", Some(b.count as f64));
                push("sum", Some(b.sum));
                push("min", Some(b.min));
                push("avg", Some(b.avg()));
                for p in percentiles {
                    push(&format!("p{p}"), b.quantile(p / 100.0));
                }
                push("max", Some(b.max));
            }
            Kind::Set => push("", b.distinct()),
        }
    }
    metrics.sort_by(|a, b| a.path.cmp(&b.path));
    let counters = parsers
        .iter()
        .zip(&states)
        .map(|(p, s)| (p.name().to_string(), *s.counters()))
        .collect();
    Ok(Replay {
        metrics,
        events,
        counters,
    })
}

/// A value as Graphite plaintext: integers without a fraction, others to 6 decimals.
pub(crate) fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.to_string() }
    }
}

impl Replay {
    /// The counters of each parser, as `#` lines.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for (name, c) in &self.counters {
            s.push_str(&format!(
                "# {name}: lines={} matched={} unmatched={} time_failures={} overflowed={} \
                 bad_numbers={} bad_names={} bad_json={}\n",
                c.lines,
                c.matched,
                c.unmatched,
                c.time_failures,
                c.overflowed,
                c.bad_numbers,
                c.bad_names,
                c.bad_json
            ));
        }
        s
    }
}

impl fmt::Display for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.metrics {
            writeln!(f, "{} {} {}", m.path, format_value(m.value), m.time)?;
        }
        for e in &self.events {
            let tags = if e.tags.is_empty() {
                "-".to_string()
            } else {
                e.tags.join(",")
            };
            writeln!(
                f,
                "event {} {} {} {}",
                e.when,
                serde_json::Value::from(e.what.as_str()),
                tags,
                serde_json::Value::from(e.data.as_str())
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_like_graphite() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(-2.0), "-2");
        assert_eq!(format_value(0.1 + 0.2), "0.3");
        assert_eq!(format_value(2.0 / 3.0), "0.666667");
        assert_eq!(format_value(-0.0000001), "0");
        assert_eq!(format_value(1e20), "100000000000000000000");
    }
}
