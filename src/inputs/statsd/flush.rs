//! etsy statsd's flush, computed the way `stats.js`, `lib/process_metrics.js` and
//! `backends/graphite.js` compute it, so a Graphite fed by tally sees the very names and values
//! it saw from etsy statsd: counters with `rate`/`count` (or `stats.X`/`stats_counts.X` in the
//! legacy namespace), timers over the exact raw values of the window (percentiles, `top`
//! percentiles, `median`, population `std`, histograms), gauges that persist, sets, the
//! `statsd.*` internal metrics and the backend's `graphiteStats`.
//!
//! The arithmetic follows etsy's step by step (sorted values, left-to-right cumulative sums,
//! `Math.round`), so values agree bit for bit (one exception: a set of more than 256 members is
//! counted by a HyperLogLog, within about 2%, so its memory stays bounded); numbers are printed as JavaScript prints them
//! ([`js_string`]). Lines within a kind come out sorted by key rather than in JavaScript's
//! insertion order; Graphite does not care.

mod names;

use super::parse::{Sample, Type};
use crate::aggregate::distinct::Distinct;
use names::Names;
pub use names::js_string;
use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::time::Instant;

/// A histogram bin's exclusive upper bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bin {
    Below(f64),
    Inf,
}

/// Timer keys containing `metric` (the first entry that matches wins) get `histogram.bin_*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub metric: String,
    pub bins: Vec<Bin>,
}

/// etsy's flush options (their etsy names in the comments).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `flushInterval`, in milliseconds.
    pub interval_ms: u64,
    /// `graphite.legacyNamespace`.
    pub legacy_namespace: bool,
    /// `graphite.globalPrefix`, `prefixCounter`, `prefixTimer`, `prefixGauge`, `prefixSet`
    /// (used only when `legacy_namespace` is false, as in etsy).
    pub global_prefix: String,
    pub prefix_counter: String,
    pub prefix_timer: String,
    pub prefix_gauge: String,
    pub prefix_set: String,
    /// `prefixStats`.
    pub prefix_stats: String,
    /// `graphite.globalSuffix`.
    pub global_suffix: Option<String>,
    /// `flush_counts`.
    pub flush_counts: bool,
    /// `percentThreshold`.
    pub percent_threshold: Vec<f64>,
    /// `histogram`.
    pub histogram: Vec<Histogram>,
    /// `calculatedTimerMetrics` (empty: all).
    pub calculated_timer_metrics: Vec<String>,
    /// `deleteCounters`, `deleteTimers`, `deleteSets`, `deleteGauges` (`deleteIdleStats` sets
    /// the four defaults).
    pub delete_counters: bool,
    pub delete_timers: bool,
    pub delete_sets: bool,
    pub delete_gauges: bool,
    /// `gaugesMaxTTL`, in flushes.
    pub gauges_max_ttl: u32,
    /// tally's bounds: distinct keys kept, and raw timer values kept per window.
    pub max_keys: usize,
    pub max_timer_values: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            interval_ms: 10_000,
            legacy_namespace: true,
            global_prefix: "stats".into(),
            prefix_counter: "counters".into(),
            prefix_timer: "timers".into(),
            prefix_gauge: "gauges".into(),
            prefix_set: "sets".into(),
            prefix_stats: "statsd".into(),
            global_suffix: None,
            flush_counts: true,
            percent_threshold: vec![90.0],
            histogram: Vec::new(),
            calculated_timer_metrics: Vec::new(),
            delete_counters: false,
            delete_timers: false,
            delete_sets: false,
            delete_gauges: false,
            gauges_max_ttl: 1,
            max_keys: 100_000,
            max_timer_values: 10_000_000,
        }
    }
}

/// The graphite backend's own bookkeeping, reported with the next flush.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Delivery {
    pub last_flush: i64,
    pub last_exception: i64,
    pub flush_time_ms: u64,
    pub flush_length: u64,
}

/// Everything etsy statsd keeps between flushes.
pub struct State {
    options: Options,
    counters: FxHashMap<String, f64>,
    timers: FxHashMap<String, Vec<f64>>,
    timer_counters: FxHashMap<String, f64>,
    gauges: FxHashMap<String, f64>,
    gauges_ttl: FxHashMap<String, u32>,
    /// Members by id ([`crate::metric::set_member`]): exact up to
    /// [`crate::aggregate::distinct::EXACT_LIMIT`], then a 4 KiB HyperLogLog, so a set's memory
    /// is bounded however many members it gets (etsy keeps every member's string).
    sets: FxHashMap<String, Distinct>,
    timer_values: usize,
    old_timestamp: i64,
    pub delivery: Delivery,
    /// Samples not kept because of `max_keys` / `max_timer_values`.
    pub dropped: u64,
    bad_lines_seen: String,
    packets_received: String,
    metrics_received: String,
    timestamp_lag: String,
}

fn counter_add(c: &mut f64, v: f64) {
    // etsy: `if (!counters[key]) counters[key] = 0; counters[key] += v`.
    if *c == 0.0 || c.is_nan() {
        *c = 0.0;
    }
    *c += v;
}

impl State {
    /// `startup` (unix seconds) is what `graphiteStats.last_flush` reports before a flush.
    pub fn new(options: Options, startup: i64) -> State {
        let p = &options.prefix_stats;
        let mut s = State {
            bad_lines_seen: format!("{p}.bad_lines_seen"),
            packets_received: format!("{p}.packets_received"),
            metrics_received: format!("{p}.metrics_received"),
            timestamp_lag: format!("{p}.timestamp_lag"),
            options,
            counters: FxHashMap::default(),
            timers: FxHashMap::default(),
            timer_counters: FxHashMap::default(),
            gauges: FxHashMap::default(),
            gauges_ttl: FxHashMap::default(),
            sets: FxHashMap::default(),
            timer_values: 0,
            old_timestamp: 0,
            delivery: Delivery {
                last_flush: startup,
                ..Delivery::default()
            },
            dropped: 0,
        };
        for name in [
            s.bad_lines_seen.clone(),
            s.packets_received.clone(),
            s.metrics_received.clone(),
        ] {
            s.counters.insert(name, 0.0);
        }
        s
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Adds 1 to an internal counter (looked up by its name: a StatsD key may be the same).
    fn bump(counters: &mut FxHashMap<String, f64>, name: &str) {
        match counters.get_mut(name) {
            Some(c) => counter_add(c, 1.0),
            None => {
                counters.insert(name.to_string(), 1.0);
            }
        }
    }

    /// One datagram (or TCP read) handed over.
    pub fn packet(&mut self) {
        Self::bump(&mut self.counters, &self.packets_received);
    }

    /// One non-empty line.
    pub fn line(&mut self) {
        Self::bump(&mut self.counters, &self.metrics_received);
    }

    /// One value spec etsy's validation rejects.
    pub fn bad_line(&mut self) {
        Self::bump(&mut self.counters, &self.bad_lines_seen);
    }

    /// For the management console: etsy's `counters`, `timers` and `gauges`, and the names of
    /// the three internal counters (etsy lists them first).
    pub(super) fn counters_mut(&mut self) -> &mut FxHashMap<String, f64> {
        &mut self.counters
    }

    pub(super) fn timers_mut(&mut self) -> &mut FxHashMap<String, Vec<f64>> {
        &mut self.timers
    }

    pub(super) fn gauges_mut(&mut self) -> &mut FxHashMap<String, f64> {
        &mut self.gauges
    }

    pub(super) fn internal_counters(&self) -> [&str; 3] {
        [
            &self.bad_lines_seen,
            &self.packets_received,
            &self.metrics_received,
        ]
    }

    fn keys(&self) -> usize {
        self.counters.len() + self.timers.len() + self.gauges.len() + self.sets.len()
    }

    fn full(&self) -> bool {
        self.keys() >= self.options.max_keys
    }

    pub fn add(&mut self, s: &Sample<'_>) {
        match s.ty {
            Type::Counter | Type::Distribution => {
                let v = s.number * s.scale();
                if let Some(c) = self.counters.get_mut(&*s.key) {
                    counter_add(c, v);
                } else if self.full() {
                    self.dropped += 1;
                } else {
                    counter_add(self.counters.entry(s.key.to_string()).or_insert(0.0), v);
                }
            }
            Type::Timer => {
                if self.timer_values >= self.options.max_timer_values
                    || (!self.timers.contains_key(&*s.key) && self.full())
                {
                    self.dropped += 1;
                    return;
                }
                self.timer_values += 1;
                if let Some(t) = self.timers.get_mut(&*s.key) {
                    t.push(s.number);
                } else {
                    self.timers.insert(s.key.to_string(), vec![s.number]);
                }
                match self.timer_counters.get_mut(&*s.key) {
                    Some(c) => *c += s.scale(),
                    None => {
                        self.timer_counters.insert(s.key.to_string(), s.scale());
                    }
                }
            }
            Type::Gauge => {
                if !self.gauges.contains_key(&*s.key) && self.full() {
                    self.dropped += 1;
                    return;
                }
                if self.options.delete_gauges {
                    let ttl = self.options.gauges_max_ttl;
                    match self.gauges_ttl.get_mut(&*s.key) {
                        Some(t) => *t = ttl,
                        None => {
                            self.gauges_ttl.insert(s.key.to_string(), ttl);
                        }
                    }
                }
                match self.gauges.get_mut(&*s.key) {
                    Some(g) if *g != 0.0 && !g.is_nan() && s.is_delta() => *g += s.number,
                    Some(g) => *g = s.number,
                    None => {
                        self.gauges.insert(s.key.to_string(), s.number);
                    }
                }
            }
            Type::Set => {
                let id = crate::metric::set_member(s.raw.as_bytes()) as u64;
                if let Some(set) = self.sets.get_mut(&*s.key) {
                    set.insert(id);
                } else if self.full() {
                    self.dropped += 1;
                } else {
                    let mut set = Distinct::default();
                    set.insert(id);
                    self.sets.insert(s.key.to_string(), set);
                }
            }
        }
    }

    /// Computes the flush at `ts` (unix seconds, `Math.round(Date.now()/1000)`), returns it as
    /// Graphite plaintext, and clears the state as etsy does after its backends ran.
    pub fn flush(&mut self, ts: i64) -> String {
        let o = &self.options;
        if self.old_timestamp > 0 {
            let lag = (ts - self.old_timestamp) as f64 - o.interval_ms as f64 / 1000.0;
            self.gauges.insert(self.timestamp_lag.clone(), lag);
        }
        self.old_timestamp = ts;
        let per_second = o.interval_ms as f64 / 1000.0;

        let started = Instant::now();
        let mut timer_keys: Vec<&String> = self.timers.keys().collect();
        timer_keys.sort_unstable();
        let timer_data: Vec<(&String, Vec<(String, Stat)>)> = timer_keys
            .into_iter()
            .map(|k| {
                let data = timer_stats(
                    k,
                    &self.timers[k],
                    self.timer_counters.get(k).copied().unwrap_or(0.0),
                    per_second,
                    o,
                );
                (k, data)
            })
            .collect();
        let processing_time = started.elapsed().as_millis() as f64;

        let calculation_started = Instant::now();
        let names = Names::new(o);
        let mut out = String::with_capacity(64 * (self.keys() + 8));
        let mut line = |name: &str, value: f64| {
            let _ = writeln!(out, "{name} {} {ts}", js_string(value));
        };
        let mut num_stats = 0u64;
        let mut counter_keys: Vec<(&String, &f64)> = self.counters.iter().collect();
        counter_keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, &value) in counter_keys {
            let rate = value / per_second;
            if o.legacy_namespace {
                line(&names.format(&names.counter, key, &[]), rate);
                if o.flush_counts {
                    line(&names.format(&["stats_counts"], key, &[]), value);
                }
            } else {
                line(&names.format(&names.counter, key, &["rate"]), rate);
                if o.flush_counts {
                    line(&names.format(&names.counter, key, &["count"]), value);
                }
            }
            num_stats += 1;
        }
        for (key, data) in &timer_data {
            for (stat, value) in data {
                match value {
                    Stat::Number(v) => line(&names.format(&names.timer, key, &[stat]), *v),
                    Stat::Bins(bins) => {
                        for (bin, v) in bins {
                            line(&names.format(&names.timer, key, &[stat, bin]), *v);
                        }
                    }
                }
            }
            num_stats += 1;
        }
        let mut gauge_keys: Vec<(&String, &f64)> = self.gauges.iter().collect();
        gauge_keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, &value) in gauge_keys {
            line(&names.format(&names.gauge, key, &[]), value);
            num_stats += 1;
        }
        let mut set_keys: Vec<(&String, f64)> = self
            .sets
            .iter()
            .map(|(k, s)| (k, s.count().round()))
            .collect();
        set_keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, size) in set_keys {
            line(&names.format(&names.set, key, &["count"]), size);
            num_stats += 1;
        }
        let suffix = &names.suffix;
        let stats = &o.prefix_stats;
        let calculation_time = calculation_started.elapsed().as_millis() as f64;
        if o.legacy_namespace {
            line(&format!("{stats}.numStats{suffix}"), num_stats as f64);
            line(
                &format!("stats.{stats}.graphiteStats.calculationtime{suffix}"),
                calculation_time,
            );
            line(
                &format!("stats.{stats}.processing_time{suffix}"),
                processing_time,
            );
        } else {
            line(
                &names.format(&names.global, stats, &["numStats"]),
                num_stats as f64,
            );
            line(
                &names.format(&names.global, stats, &["graphiteStats", "calculationtime"]),
                calculation_time,
            );
            line(
                &names.format(&names.global, stats, &["processing_time"]),
                processing_time,
            );
        }
        let mut ns = names.global.clone();
        ns.push(stats);
        let ns = ns.join(".");
        let d = self.delivery;
        for (stat, value) in [
            ("last_exception", d.last_exception as f64),
            ("last_flush", d.last_flush as f64),
            ("flush_time", d.flush_time_ms as f64),
            ("flush_length", d.flush_length as f64),
        ] {
            line(&format!("{ns}.graphiteStats.{stat}{suffix}"), value);
        }
        self.clear();
        out
    }

    fn clear(&mut self) {
        let o = &self.options;
        if o.delete_counters {
            self.counters.retain(|k, _| {
                k.contains("packets_received")
                    || k.contains("metrics_received")
                    || k.contains("bad_lines_seen")
            });
        }
        self.counters.values_mut().for_each(|v| *v = 0.0);
        if o.delete_timers {
            self.timers.clear();
            self.timer_counters.clear();
        } else {
            self.timers.values_mut().for_each(Vec::clear);
            self.timer_counters.values_mut().for_each(|v| *v = 0.0);
        }
        self.timer_values = 0;
        if o.delete_sets {
            self.sets.clear();
        } else {
            self.sets
                .values_mut()
                .for_each(|s| *s = Distinct::default());
        }
        if o.delete_gauges {
            let gauges = &mut self.gauges;
            self.gauges_ttl.retain(|k, ttl| {
                *ttl = ttl.saturating_sub(1);
                if *ttl < 1 {
                    gauges.remove(k);
                    false
                } else {
                    true
                }
            });
        }
    }
}

enum Stat {
    Number(f64),
    Bins(Vec<(String, f64)>),
}

/// etsy's `'' + pct` with `.`→`_` and `-`→`top` (first occurrence each).
fn clean_pct(pct: f64) -> String {
    js_string(pct).replacen('.', "_", 1).replacen('-', "top", 1)
}

/// `process_metrics` for one timer, then `calculatedTimerMetrics`.
fn timer_stats(
    key: &str,
    values: &[f64],
    counter: f64,
    per_second: f64,
    o: &Options,
) -> Vec<(String, Stat)> {
    let mut data: Vec<(String, Stat)> = Vec::new();
    let mut set = |name: String, stat: Stat| match data.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = stat,
        None => data.push((name, stat)),
    };
    if values.is_empty() {
        set("count".into(), Stat::Number(0.0));
        set("count_ps".into(), Stat::Number(0.0));
    } else {
        let mut values = values.to_vec();
        values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let count = values.len();
        let (min, max) = (values[0], values[count - 1]);
        let mut cumulative = Vec::with_capacity(count);
        let mut cumulative_squares = Vec::with_capacity(count);
        cumulative.push(min);
        cumulative_squares.push(min * min);
        for i in 1..count {
            cumulative.push(values[i] + cumulative[i - 1]);
            cumulative_squares.push(values[i] * values[i] + cumulative_squares[i - 1]);
        }
        // Index -1 is `undefined` in JavaScript: arithmetic with it gives NaN.
        let at = |v: &[f64], i: isize| if i < 0 { f64::NAN } else { v[i as usize] };
        let (mut sum, mut sum_squares, mut mean, mut boundary) = (min, min * min, min, max);
        for &pct in &o.percent_threshold {
            let mut n = count;
            if count > 1 {
                n = (pct.abs() / 100.0 * count as f64).round() as usize;
                if n == 0 {
                    continue;
                }
                let n = n as isize;
                let c = count as isize;
                if pct > 0.0 {
                    boundary = at(&values, n - 1);
                    sum = at(&cumulative, n - 1);
                    sum_squares = at(&cumulative_squares, n - 1);
                } else {
                    boundary = at(&values, c - n);
                    sum = at(&cumulative, c - 1) - at(&cumulative, c - n - 1);
                    sum_squares =
                        at(&cumulative_squares, c - 1) - at(&cumulative_squares, c - n - 1);
                }
                mean = sum / n as f64;
            }
            let p = clean_pct(pct);
            set(format!("count_{p}"), Stat::Number(n as f64));
            set(format!("mean_{p}"), Stat::Number(mean));
            let bound = if pct > 0.0 { "upper" } else { "lower" };
            set(format!("{bound}_{p}"), Stat::Number(boundary));
            set(format!("sum_{p}"), Stat::Number(sum));
            set(format!("sum_squares_{p}"), Stat::Number(sum_squares));
        }
        let sum = cumulative[count - 1];
        let sum_squares = cumulative_squares[count - 1];
        let mean = sum / count as f64;
        let mut diffs = 0.0;
        for v in &values {
            diffs += (v - mean) * (v - mean);
        }
        let mid = count / 2;
        let median = if count % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        };
        set("std".into(), Stat::Number((diffs / count as f64).sqrt()));
        set("upper".into(), Stat::Number(max));
        set("lower".into(), Stat::Number(min));
        set("count".into(), Stat::Number(counter));
        set("count_ps".into(), Stat::Number(counter / per_second));
        set("sum".into(), Stat::Number(sum));
        set("sum_squares".into(), Stat::Number(sum_squares));
        set("mean".into(), Stat::Number(mean));
        set("median".into(), Stat::Number(median));
        let bins = o
            .histogram
            .iter()
            .find(|h| key.contains(&h.metric))
            .map_or(&[][..], |h| &h.bins[..]);
        if !bins.is_empty() {
            let mut out: Vec<(String, f64)> = Vec::new();
            let mut i = 0;
            for bin in bins {
                let mut freq = 0.0;
                while i < count
                    && match bin {
                        Bin::Inf => true,
                        Bin::Below(b) => values[i] < *b,
                    }
                {
                    freq += 1.0;
                    i += 1;
                }
                let name = match bin {
                    Bin::Inf => "bin_inf".to_string(),
                    Bin::Below(b) => format!("bin_{}", js_string(*b).replacen('.', "_", 1)),
                };
                match out.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = freq,
                    None => out.push((name, freq)),
                }
            }
            set("histogram".into(), Stat::Bins(out));
        }
    }
    if !o.calculated_timer_metrics.is_empty() {
        data.retain(|(name, _)| o.calculated_timer_metrics.contains(&percent_key(name)));
    }
    data
}

/// etsy's `key.replace(/_(top)?\d+$/, "_percent")`.
fn percent_key(name: &str) -> String {
    if let Some(i) = name.rfind('_') {
        let tail = &name[i + 1..];
        let digits = tail.strip_prefix("top").unwrap_or(tail);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return format!("{}_percent", &name[..i]);
        }
    }
    name.to_string()
}

#[cfg(test)]
#[path = "flush_tests.rs"]
mod tests;
