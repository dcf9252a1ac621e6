//! Health for operators and orchestrators, in Prometheus' conventions:
//! - `GET /-/healthy`: 200 while the process answers HTTP at all (liveness).
//! - `GET /-/ready`: 200 `ready` when tally is doing its job, else 503 with one reason per line
//!   (commits failing, an output's spool lagging past `http.ready_max_spool_lag`, …).
//! - `GET /-/metrics`: tally's own `tally.*` metrics in Prometheus' text exposition format
//!   (graphite-web's `/metrics` is `/metrics/find`, so the conventional path is taken).
//!
//! The agent records what it computes for the `tally.*` series each self-metrics round; nothing
//! is computed per request beyond formatting.

use super::State;
use crate::metric::{Kind, Observation};
use crate::ship::remote_write::metric_name;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/metrics", get(metrics))
}

async fn healthy() -> Response {
    text(StatusCode::OK, "healthy\n".into())
}

async fn ready(axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    match state.stats.health.ready() {
        Ok(()) => text(StatusCode::OK, "ready\n".into()),
        Err(reasons) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{}\n", reasons.join("\n")),
        ),
    }
}

async fn metrics(axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.stats.health.exposition(),
    )
        .into_response()
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// What `/-/ready` and `/-/metrics` answer, kept up to date by the agent.
#[derive(Debug, Default)]
pub struct Health {
    metrics: Mutex<BTreeMap<String, Value>>,
    /// Why tally is not ready; empty when it is. `None` until the agent has looked once.
    not_ready: Mutex<Option<Vec<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    /// Cumulative since start (the `tally.*` counters are increments per round).
    Counter(f64),
    Gauge(f64),
    /// Observations and their sum, cumulative since start.
    Summary {
        count: u64,
        sum: f64,
    },
}

impl Health {
    /// Folds one round of self-metrics in: counters and timers add up, gauges are replaced.
    pub fn record(&self, round: &[Observation]) {
        let mut metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        for obs in round {
            let key = obs.series.path().to_string();
            let entry = metrics.entry(key);
            match obs.kind {
                Kind::Counter => {
                    let v = entry.or_insert(Value::Counter(0.0));
                    if let Value::Counter(total) = v {
                        *total += obs.value;
                    }
                }
                Kind::Timer => {
                    let v = entry.or_insert(Value::Summary { count: 0, sum: 0.0 });
                    if let Value::Summary { count, sum } = v {
                        *count += 1;
                        *sum += obs.value;
                    }
                }
                Kind::Gauge | Kind::Set => {
                    *entry.or_insert(Value::Gauge(0.0)) = Value::Gauge(obs.value);
                }
            }
        }
    }

    /// Sets why tally is not ready (empty: ready).
    pub fn set_not_ready(&self, reasons: Vec<String>) {
        *self.not_ready.lock().unwrap_or_else(|e| e.into_inner()) = Some(reasons);
    }

    /// `Ok(())` when ready, else the reasons.
    pub fn ready(&self) -> Result<(), Vec<String>> {
        match &*self.not_ready.lock().unwrap_or_else(|e| e.into_inner()) {
            None => Err(vec![
                "starting: the first self-metrics round has not run".into(),
            ]),
            Some(r) if r.is_empty() => Ok(()),
            Some(r) => Err(r.clone()),
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every recorded metric.
    pub fn exposition(&self) -> String {
        let metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        // Families by name: `tally.ship.<output>.sent` becomes `tally_ship_sent_total` with an
        // `output` label, so one family holds every output.
        let mut families: BTreeMap<String, (Value, Vec<(String, Value)>)> = BTreeMap::new();
        for (path, value) in metrics.iter() {
            let (name, labels) = family(path);
            let name = match value {
                Value::Counter(_) => format!("{name}_total"),
                _ => name,
            };
            families
                .entry(name)
                .or_insert_with(|| (*value, Vec::new()))
                .1
                .push((labels, *value));
        }
        let mut out = String::with_capacity(64 * metrics.len());
        for (name, (kind, samples)) in &families {
            let (base, ty) = match kind {
                Value::Counter(_) => (name.strip_suffix("_total").unwrap_or(name), "counter"),
                Value::Gauge(_) => (name.as_str(), "gauge"),
                Value::Summary { .. } => (name.as_str(), "summary"),
            };
            let _ = writeln!(out, "# TYPE {base} {ty}");
            for (labels, value) in samples {
                match value {
                    Value::Counter(v) | Value::Gauge(v) => {
                        let _ = writeln!(out, "{name}{labels} {}", number(*v));
                    }
                    Value::Summary { count, sum } => {
                        let _ = writeln!(out, "{name}_sum{labels} {}", number(*sum));
                        let _ = writeln!(out, "{name}_count{labels} {count}");
                    }
                }
            }
        }
        out
    }
}

/// `tally.ship.<output>.<what>` → (`tally_ship_<what>`, `{output="…"}`); any other path →
/// its metric name without labels.
fn family(path: &str) -> (String, String) {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() == 4 && parts[0] == "tally" && parts[1] == "ship" {
        let name = metric_name(&format!("tally.ship.{}", parts[3]));
        let output = parts[2].replace('\\', "\\\\").replace('"', "\\\"");
        return (name, format!("{{output=\"{output}\"}}"));
    }
    (metric_name(path), String::new())
}

/// Go's float formatting as Prometheus parses it (`NaN`, `+Inf`).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Series;

    fn obs(name: &str, kind: Kind, value: f64) -> Observation {
        Observation {
            series: Series::parse(name).unwrap(),
            kind,
            value,
            time: 0,
        }
    }

    #[test]
    fn counters_add_up_gauges_replace_and_outputs_become_a_label() {
        let h = Health::default();
        for round in 0..2 {
            h.record(&[
                obs("tally.carbon.lines", Kind::Counter, 5.0),
                obs("tally.store.series", Kind::Gauge, 10.0 + f64::from(round)),
                obs("tally.ship.central.sent", Kind::Counter, 3.0),
                obs("tally.ship.prom.sent", Kind::Counter, 1.0),
                obs("tally.store.commit_ms", Kind::Timer, 2.5),
            ]);
        }
        let text = h.exposition();
        let expected = "\
# TYPE tally_carbon_lines counter
tally_carbon_lines_total 10
# TYPE tally_ship_sent counter
tally_ship_sent_total{output=\"central\"} 6
tally_ship_sent_total{output=\"prom\"} 2
# TYPE tally_store_commit_ms summary
tally_store_commit_ms_sum 5
tally_store_commit_ms_count 2
# TYPE tally_store_series gauge
tally_store_series 11
";
        assert_eq!(text, expected);
    }

    #[test]
    fn ready_only_after_a_round_without_reasons() {
        let h = Health::default();
        assert!(h.ready().is_err(), "not ready before the agent looked");
        h.set_not_ready(vec!["commits are failing".into()]);
        assert_eq!(h.ready(), Err(vec!["commits are failing".to_string()]));
        h.set_not_ready(Vec::new());
        assert_eq!(h.ready(), Ok(()));
    }
}
