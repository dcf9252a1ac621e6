//! Prometheus remote_write 1.0: closed buckets become samples of a `WriteRequest`, protobuf
//! encoded and compressed with snappy's *block* format (the framed format is not accepted).
//!
//! Names: the Graphite path (the output's `prefix` before it) goes through the output's
//! `mappings` (`config::outputs::mapping`; by default `servers.<host>.…` → `host=` label); the
//! first rule that matches gives the name and labels, no rule leaves the path. The name then
//! has every character outside `[a-zA-Z0-9_:]` (dots included) turned into `_`, and `_` put in
//! front of a leading digit: `web.hits` → `web_hits`.
//!
//! With `naming: prometheus` (the default) a counter is `<name>_total`, its running total
//! (see `totals`); a timer is a summary: `<name>{quantile="0.99"}` per slot, and running
//! totals `<name>_count` (observations) and `<name>_sum`; gauges and sets are their views per
//! slot (`<name>`, `<name>_<suffix>`). With `naming: views` every view is a name of its own,
//! per slot (`web.hits.count` → `web_hits_count`).
//!
//! Labels, the later winning over the earlier: `path_label` (the Graphite path), `host` on
//! tally's own `tally.*` series, the configured `labels`, the mapping's labels, the series'
//! tags (names sanitized the same way; a name starting with `__` gets one more `_` in front:
//! those are reserved). The sample time is the slot start, in milliseconds.

pub mod proto;
#[cfg(test)]
mod tests;
pub mod totals;

use super::record::Record;
use crate::aggregate::Bucket;
use crate::config::outputs::{Mapping, Naming, mapping};
use crate::metric::{Kind, Series};
use crate::query::View;
use proto::{Label, Sample, TimeSeries, WriteRequest};
use rustc_hash::FxHashMap;
pub use totals::Totals;

/// How one output names its series.
#[derive(Debug, Clone, Default)]
pub struct Namer {
    pub extra: Vec<(String, String)>,
    pub path_label: Option<String>,
    pub mappings: Vec<Mapping>,
    /// The `host` label of `tally.*` series.
    pub host: String,
    /// `naming: prometheus`.
    pub prometheus: bool,
    pub quantiles: Vec<f64>,
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` from any path.
pub fn metric_name(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    if path.starts_with(|c: char| c.is_ascii_digit()) || path.is_empty() {
        out.push('_');
    }
    out.extend(path.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
pub fn label_name(tag: &str) -> String {
    let mut out = metric_name(tag).replace(':', "_");
    if out.starts_with("__") {
        out.insert(0, '_');
    }
    out
}

fn is_own(series: &Series) -> bool {
    let p = series.path();
    p == "tally" || p.starts_with("tally.")
}

/// The samples of one request being built, and the running totals it moves on.
struct Builder<'a> {
    namer: &'a Namer,
    totals: &'a Totals,
    /// `(labels, time, value)` in the records' order.
    samples: Vec<(Vec<Label>, i64, f64)>,
    running: FxHashMap<Vec<Label>, f64>,
}

impl Builder<'_> {
    /// The sorted label set of a number: lowest precedence first, then deduplicated keeping
    /// the last of each name.
    fn labels(
        &self,
        series: &Series,
        name: String,
        path: &str,
        mapped: &[(String, String)],
    ) -> Vec<Label> {
        let n = &self.namer;
        let mut ls = Vec::with_capacity(mapped.len() + n.extra.len() + 4);
        let mut push = |name: &str, value: &str| {
            ls.push(Label {
                name: name.to_string(),
                value: value.to_string(),
            })
        };
        if let Some(l) = &n.path_label {
            push(l, path);
        }
        if is_own(series) {
            push("host", &n.host);
        }
        for (k, v) in &n.extra {
            push(k, v);
        }
        for (k, v) in mapped {
            push(&label_name(k), v);
        }
        for (k, v) in series.tags() {
            push(&label_name(k), v);
        }
        ls.push(Label {
            name: "__name__".into(),
            value: name,
        });
        ls.sort_by(|a, b| a.name.cmp(&b.name));
        ls.reverse();
        ls.dedup_by(|a, b| a.name == b.name);
        ls.reverse();
        ls.retain(|l| !l.value.is_empty());
        ls
    }

    fn gauge(&mut self, labels: Vec<Label>, start: i64, value: f64) {
        self.samples
            .push((labels, start.saturating_mul(1000), value));
    }

    /// A running total: what was acknowledged before plus this batch so far.
    fn cumulative(&mut self, labels: Vec<Label>, start: i64, value: f64) {
        let total = match self.running.get_mut(&labels) {
            Some(t) => {
                *t += value;
                *t
            }
            None => {
                let t = self.totals.get(&labels) + value;
                self.running.insert(labels.clone(), t);
                t
            }
        };
        self.samples
            .push((labels, start.saturating_mul(1000), total));
    }

    /// `naming: views`: one name per view, per slot.
    fn views(&mut self, naming: &Naming, e: &super::record::Entry, start: i64, bucket: &Bucket) {
        let mut points = Vec::new();
        super::naming::each_point(
            naming,
            &e.series,
            e.kind,
            e.resolution,
            bucket,
            |path, value| {
                points.push((path.to_string(), value));
            },
        );
        for (path, value) in points {
            let (name, mapped) = mapping::apply(&self.namer.mappings, &path)
                .unwrap_or_else(|| (path.clone(), Vec::new()));
            let ls = self.labels(&e.series, metric_name(&name), &path, &mapped);
            self.gauge(ls, start, value);
        }
    }

    /// `naming: prometheus`.
    /// `naming: prometheus`. The name and labels of each number are made once per entry.
    fn prometheus(&mut self, naming: &Naming, e: &super::record::Entry) {
        let path = if naming.prefix.is_empty() {
            e.series.path().to_string()
        } else {
            format!("{}.{}", naming.prefix, e.series.path())
        };
        let (name, mapped) = mapping::apply(&self.namer.mappings, &path)
            .unwrap_or_else(|| (path.clone(), Vec::new()));
        let name = metric_name(&name);
        let with = |suffix: &str| {
            if suffix.is_empty() || name.ends_with(&format!("_{suffix}")) {
                name.clone()
            } else {
                format!("{name}_{}", metric_name(suffix))
            }
        };
        // (labels, view, running total?)
        let mut outs: Vec<(Vec<Label>, View, bool)> = Vec::new();
        match e.kind {
            Kind::Counter => {
                let ls = self.labels(&e.series, with("total"), &path, &mapped);
                outs.push((ls, View::Sum, true));
            }
            Kind::Timer => {
                for &q in &self.namer.quantiles {
                    let view = match q {
                        q if q <= 0.0 => View::Min,
                        q if q >= 1.0 => View::Max,
                        q => View::Percentile((q * 100.0 * 1e9).round() / 1e9),
                    };
                    let mut m = mapped.clone();
                    m.push(("quantile".into(), format!("{q}")));
                    outs.push((self.labels(&e.series, name.clone(), &path, &m), view, false));
                }
                for (suffix, view) in [("count", View::Obvs), ("sum", View::Sum)] {
                    let ls = self.labels(&e.series, format!("{name}_{suffix}"), &path, &mapped);
                    outs.push((ls, view, true));
                }
            }
            Kind::Gauge | Kind::Set => {
                let views = &naming.views[usize::from(e.kind.code())];
                let default_set = e.kind == Kind::Set && *views == Naming::default_views()[3];
                let list = if default_set {
                    vec![(String::new(), View::Distinct)]
                } else {
                    views.clone()
                };
                for (suffix, view) in list {
                    outs.push((
                        self.labels(&e.series, with(&suffix), &path, &mapped),
                        view,
                        false,
                    ));
                }
            }
        }
        for (start, bucket) in &e.buckets {
            for (ls, view, running) in &outs {
                let Some(v) = view.value(bucket, e.resolution).filter(|x| x.is_finite()) else {
                    continue;
                };
                if *running {
                    self.cumulative(ls.clone(), *start, v);
                } else {
                    self.gauge(ls.clone(), *start, v);
                }
            }
        }
    }
}

/// The samples of the records as one request, before compression, and the running totals
/// after it, to [`Totals::commit`] once the remote took it. Samples of one series are sorted
/// by time; when a record amends a slot shipped before, the later value is kept.
///
/// Built as one flat list sorted once (not a map of maps): a request holds a sample or a few
/// for each of up to `max_batch` series, and a tree node per series would be most of its memory.
pub fn request(
    records: &[Record],
    naming: &Naming,
    namer: &Namer,
    totals: &Totals,
) -> (WriteRequest, FxHashMap<Vec<Label>, f64>) {
    let mut b = Builder {
        namer,
        totals,
        samples: Vec::new(),
        running: FxHashMap::default(),
    };
    for rec in records {
        for e in &rec.entries {
            if namer.prometheus {
                b.prometheus(naming, e);
                continue;
            }
            for (start, bucket) in &e.buckets {
                b.views(naming, e, *start, bucket);
            }
        }
    }
    let Builder {
        mut samples,
        running,
        ..
    } = b;
    // Stable: of samples with the same labels and time the last one is the newest.
    samples.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut timeseries: Vec<TimeSeries> = Vec::new();
    for (ls, timestamp, value) in samples {
        match timeseries.last_mut() {
            Some(ts) if ts.labels == ls => match ts.samples.last_mut() {
                Some(last) if last.timestamp == timestamp => last.value = value,
                _ => ts.samples.push(Sample { value, timestamp }),
            },
            _ => timeseries.push(TimeSeries {
                labels: ls,
                samples: vec![Sample { value, timestamp }],
            }),
        }
    }
    (WriteRequest { timeseries }, running)
}

/// Protobuf, then snappy block format: the body of a remote_write POST.
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    use prost::Message;
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compresses any input below 4 GiB")
}
