//! `outputs:`: where tally sends data. Each entry has a `type`; today `carbon` (Graphite
//! plaintext over TCP), whose `statsd:` block makes it emit exactly etsy statsd's flush of the
//! StatsD input. New output types are new variants of [`OutputFile`] and [`Output`].
//!
//! Entries are internally tagged, which makes serde buffer them: problems inside an entry are
//! reported at the entry's line and column.

use super::{Problem, Problems};
use crate::inputs::statsd::flush;
use crate::schema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputFile {
    Carbon(CarbonFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarbonFile {
    /// Names the output in `tally.ship.<name>.*` (default: the type, `carbon`).
    pub name: Option<String>,
    /// `host:port` of each Graphite (carbon plaintext) receiver; each gets every line.
    pub destinations: Vec<String>,
    /// Wait before reconnecting, doubled after each failure up to `reconnect_max` (defaults
    /// `100ms` and `30s`).
    pub reconnect_min: Option<String>,
    pub reconnect_max: Option<String>,
    /// Lines waiting per destination while it is down; past it new lines are dropped and
    /// counted (default 1000000).
    pub queue_lines: Option<usize>,
    /// Send etsy statsd's flush of the StatsD input (its config names in comments).
    pub statsd: Option<StatsdFlushFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StatsdFlushFile {
    /// `flushInterval` (default `10s`; `ms` allowed). Flushes happen on wall-clock multiples.
    pub flush_interval: Option<String>,
    /// `graphite.legacyNamespace` (default true).
    pub legacy_namespace: Option<bool>,
    /// `graphite.globalPrefix` … `prefixSet` (only without the legacy namespace).
    pub global_prefix: Option<String>,
    pub prefix_counter: Option<String>,
    pub prefix_timer: Option<String>,
    pub prefix_gauge: Option<String>,
    pub prefix_set: Option<String>,
    /// `prefixStats` (default `statsd`).
    pub prefix_stats: Option<String>,
    /// `graphite.globalSuffix`.
    pub global_suffix: Option<String>,
    /// `flush_counts` (default true).
    pub flush_counts: Option<bool>,
    /// `percentThreshold`: a number or a list (default 90); negative numbers are `top` ones.
    pub percent_threshold: Option<OneOrMany>,
    /// `histogram`: `[{metric: 'api.', bins: [10, 100, inf]}]`.
    pub histogram: Option<Vec<HistogramFile>>,
    /// `calculatedTimerMetrics`.
    pub calculated_timer_metrics: Option<Vec<String>>,
    /// `deleteIdleStats` and the four it defaults.
    pub delete_idle_stats: Option<bool>,
    pub delete_counters: Option<bool>,
    pub delete_timers: Option<bool>,
    pub delete_sets: Option<bool>,
    pub delete_gauges: Option<bool>,
    /// `gaugesMaxTTL` (default 1).
    pub gauges_max_ttl: Option<i64>,
    /// tally's bounds: distinct keys (default 100000) and raw timer values per flush window
    /// (default 10000000) kept for this flush; beyond them samples are dropped and counted.
    pub max_keys: Option<usize>,
    pub max_timer_values: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(f64),
    Many(Vec<f64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramFile {
    pub metric: String,
    pub bins: Vec<BinFile>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum BinFile {
    Number(f64),
    Text(String),
}

/// A validated output.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Carbon(Carbon),
}

impl Output {
    pub fn name(&self) -> &str {
        match self {
            Output::Carbon(c) => &c.name,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Carbon {
    pub name: String,
    pub destinations: Vec<String>,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    pub queue_lines: usize,
    pub statsd: Option<flush::Options>,
}

pub(super) fn validate(list: Vec<Spanned<OutputFile>>, p: &mut Problems<'_>) -> Vec<Output> {
    let mut out: Vec<Output> = Vec::new();
    for entry in list {
        let mut problems = Vec::new();
        let output = match entry.value {
            OutputFile::Carbon(c) => Output::Carbon(carbon(c, &mut problems)),
        };
        if out.iter().any(|o| o.name() == output.name()) {
            problems.push(format!(
                "two outputs are named {:?}: give each a distinct `name`",
                output.name()
            ));
        }
        for message in problems {
            p.list.push(Problem {
                file: p.file.map(std::path::Path::to_path_buf).unwrap_or_default(),
                line: entry.referenced.line(),
                column: entry.referenced.column(),
                message: format!("output {:?}: {message}", output.name()),
            });
        }
        out.push(output);
    }
    out
}

fn duration_ms(text: &Option<String>, default: u64, what: &str, problems: &mut Vec<String>) -> u64 {
    match text {
        None => default,
        Some(t) => schema::parse_duration_ms(t).unwrap_or_else(|e| {
            problems.push(format!("{what}: {e}"));
            default
        }),
    }
}

fn carbon(c: CarbonFile, problems: &mut Vec<String>) -> Carbon {
    let name = c.name.unwrap_or_else(|| "carbon".into());
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
    {
        problems.push("name must be letters, digits, '_' or '-'".into());
    }
    if c.destinations.is_empty() {
        problems.push("destinations: give at least one host:port".into());
    }
    for d in &c.destinations {
        let ok = d.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            problems.push(format!("destination {d:?}: expected host:port"));
        }
    }
    let reconnect_min = duration_ms(&c.reconnect_min, 100, "reconnect_min", problems).max(1);
    let reconnect_max =
        duration_ms(&c.reconnect_max, 30_000, "reconnect_max", problems).max(reconnect_min);
    let statsd = match c.statsd {
        Some(s) => Some(statsd_flush(s, problems)),
        None => {
            problems.push("nothing to send: add `statsd: {}` (etsy statsd's flush)".into());
            None
        }
    };
    Carbon {
        name,
        destinations: c.destinations,
        reconnect_min: Duration::from_millis(reconnect_min),
        reconnect_max: Duration::from_millis(reconnect_max),
        queue_lines: c.queue_lines.unwrap_or(1_000_000).max(1000),
        statsd,
    }
}

fn statsd_flush(s: StatsdFlushFile, problems: &mut Vec<String>) -> flush::Options {
    let d = flush::Options::default();
    let interval_ms = duration_ms(&s.flush_interval, 10_000, "flush_interval", problems);
    if interval_ms < 100 {
        problems.push("flush_interval: at least 100ms".into());
    }
    let percent_threshold = match s.percent_threshold {
        None => d.percent_threshold,
        Some(OneOrMany::One(v)) => vec![v],
        Some(OneOrMany::Many(v)) => v,
    };
    for pct in &percent_threshold {
        if !(pct.is_finite() && *pct != 0.0 && pct.abs() <= 100.0) {
            problems.push(format!(
                "percent_threshold {pct}: expected a number in [-100, 100] other than 0"
            ));
        }
    }
    let mut histogram = Vec::new();
    for h in s.histogram.unwrap_or_default() {
        let mut bins = Vec::new();
        for b in h.bins {
            match b {
                BinFile::Number(v) => bins.push(flush::Bin::Below(v)),
                BinFile::Text(t) if t == "inf" => bins.push(flush::Bin::Inf),
                BinFile::Text(t) => {
                    problems.push(format!("histogram bin {t:?}: expected a number or inf"))
                }
            }
        }
        histogram.push(flush::Histogram {
            metric: h.metric,
            bins,
        });
    }
    let idle = s.delete_idle_stats.unwrap_or(false);
    flush::Options {
        interval_ms: interval_ms.max(100),
        legacy_namespace: s.legacy_namespace.unwrap_or(d.legacy_namespace),
        global_prefix: s.global_prefix.unwrap_or(d.global_prefix),
        prefix_counter: s.prefix_counter.unwrap_or(d.prefix_counter),
        prefix_timer: s.prefix_timer.unwrap_or(d.prefix_timer),
        prefix_gauge: s.prefix_gauge.unwrap_or(d.prefix_gauge),
        prefix_set: s.prefix_set.unwrap_or(d.prefix_set),
        prefix_stats: s.prefix_stats.unwrap_or(d.prefix_stats),
        global_suffix: s.global_suffix,
        flush_counts: s.flush_counts.unwrap_or(true),
        percent_threshold,
        histogram,
        calculated_timer_metrics: s.calculated_timer_metrics.unwrap_or_default(),
        delete_counters: s.delete_counters.unwrap_or(idle),
        delete_timers: s.delete_timers.unwrap_or(idle),
        delete_sets: s.delete_sets.unwrap_or(idle),
        delete_gauges: s.delete_gauges.unwrap_or(idle),
        // etsy: an integer > 1, else 1.
        gauges_max_ttl: s
            .gauges_max_ttl
            .filter(|&t| t > 1)
            .map_or(1, |t| t.min(u32::MAX as i64) as u32),
        max_keys: s.max_keys.unwrap_or(d.max_keys).max(100),
        max_timer_values: s.max_timer_values.unwrap_or(d.max_timer_values).max(1000),
    }
}
