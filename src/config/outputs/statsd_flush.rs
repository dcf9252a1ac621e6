//! The `statsd:` block of a carbon output: etsy statsd's flush of the StatsD input (its config
//! names in the comments), sent as Graphite lines through `ship::carbon`'s in-memory queues.

use crate::inputs::statsd::flush;
use crate::schema;
use serde::Deserialize;
use std::time::Duration;

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

#[derive(Debug, Clone, PartialEq)]
pub struct Carbon {
    pub name: String,
    pub destinations: Vec<String>,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    pub queue_lines: usize,
    pub statsd: Option<flush::Options>,
}

/// A carbon output with a `statsd:` block (problems are returned as text, reported at the
/// output's `type`).
pub(super) fn carbon(
    name: String,
    destinations: Vec<String>,
    reconnect_min: &Option<String>,
    reconnect_max: &Option<String>,
    queue_lines: Option<usize>,
    statsd: StatsdFlushFile,
    problems: &mut Vec<String>,
) -> Carbon {
    for d in &destinations {
        let ok = d.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            problems.push(format!("destination {d:?}: expected host:port"));
        }
    }
    let reconnect_min = duration_ms(reconnect_min, 100, "reconnect_min", problems).max(1);
    let reconnect_max =
        duration_ms(reconnect_max, 30_000, "reconnect_max", problems).max(reconnect_min);
    Carbon {
        name,
        destinations,
        reconnect_min: Duration::from_millis(reconnect_min),
        reconnect_max: Duration::from_millis(reconnect_max),
        queue_lines: queue_lines.unwrap_or(1_000_000).max(1000),
        statsd: Some(statsd_flush(statsd, problems)),
    }
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

pub(super) fn statsd_flush(s: StatsdFlushFile, problems: &mut Vec<String>) -> flush::Options {
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
