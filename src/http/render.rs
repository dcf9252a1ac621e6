//! `/render`: parse the request (graphite-web's `parseOptions`), evaluate every target through
//! [`query::Evaluator`] over the store, then hand the evaluated series to the format asked for.
//!
//! The pipeline is `request → Rendered {series, request, params} → format`, so every format
//! (json, csv, raw, and png/svg from the graph renderer, see `image.rs`) reads the same
//! evaluated series: name, start, step, values, path expression, tags, lineage and style hints.

use super::request::{
    blocking, json_or_jsonp, now_param, read, text, time_param, tz_param, with_slashes,
};
use super::{ApiError, Params, State, image};
use crate::query::{self, Evaluator, Inline, Limits, Request, StoreSource, TimeSeries};
use axum::Router;
use axum::extract::Request as HttpRequest;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

type S = axum::extract::State<Arc<State>>;

/// The evaluated targets of one `/render` request, before any format is applied.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub series: Vec<TimeSeries>,
    pub request: Request,
    /// Series and points fetched from the store.
    pub fetched: (usize, u64),
    /// The request's `tz` (csv times are written in it).
    pub tz: TimeZone,
}

/// The format a request asks for: `format`, else the legacy `rawData`/`pickle` flags, else
/// graphite-web's default, a PNG.
pub fn format_of(p: &Params) -> String {
    match p.get("format").filter(|f| !f.is_empty()) {
        Some(f) => f.to_string(),
        None if p.flag("rawData") => "raw".into(),
        None if p.has("pickle") => "pickle".into(),
        None => "png".into(),
    }
}

/// graphite-web's json renderer writes nothing unless some series has a point (its `if
/// any(data)`): a list of series without points is `[]`.
fn drop_if_all_empty(series: &mut Vec<TimeSeries>) {
    if series.iter().all(|s| s.values.is_empty()) {
        series.clear();
    }
}

/// Whether `maxDataPoints` applies: graphite-web consolidates only its json answer (and a
/// graph to its width); csv, raw, pickle and msgpack keep every point.
fn consolidates(format: &str, image: bool) -> bool {
    image || format == "json"
}

pub(super) fn routes() -> Router<Arc<State>> {
    with_slashes(vec![("/render", any(render))])
}

pub async fn render(state: S, req: HttpRequest) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let format = format_of(&p);
    let image = image::format(&format);
    let graph = image.map(|_| image::params(&p)).transpose()?;
    let rendered = evaluate(&state, &p, image.is_some()).await?;
    if let (Some(image), Some(graph)) = (image, graph) {
        return image::respond(rendered.series, graph, image).await;
    }
    // A large body takes a while to write: not on the runtime's threads (for a small one the
    // hop to a blocking thread and back costs more than the writing).
    if rendered
        .series
        .iter()
        .map(|s| s.values.len())
        .sum::<usize>()
        < BLOCKING_MIN_POINTS
    {
        return respond(&format, rendered, &p);
    }
    blocking(move || respond(&format, rendered, &p)).await
}

/// Parses the time range and options, and evaluates every target.
pub async fn evaluate(state: &Arc<State>, p: &Params, image: bool) -> Result<Rendered, ApiError> {
    let targets: Vec<String> = p
        .all("target")
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .map(String::from)
        .collect();
    let tz = tz_param(p)?;
    let now = now_param(p, &tz)?;
    let mut from = time_param(p, "from", "-1d", now, &tz)?;
    let mut until = time_param(p, "until", "now", now, &tz)?;
    if from > until {
        std::mem::swap(&mut from, &mut until);
    }
    if from == until {
        return Err(ApiError::BadRequest("Invalid empty time range".into()));
    }
    let settings = state.settings();
    let x_files_factor = match p.get("xFilesFactor").filter(|s| !s.is_empty()) {
        None => 0.0,
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|x| (0.0..=1.0).contains(x))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("xFilesFactor must be 0 to 1, got {s:?}"))
            })?,
    };
    let request = Request {
        from,
        until,
        now,
        max_data_points: match consolidates(&format_of(p), image) {
            true => p
                .number("maxDataPoints")?
                .or(image.then(|| image::default_points(p)))
                .or(settings.default_max_data_points),
            false => None,
        },
        x_files_factor,
    };
    // graphite's `template[name]=value` parameters (the last value of a name wins).
    let mut template: Vec<(String, String)> = Vec::new();
    for (k, v) in p.pairs() {
        if let Some(name) = k
            .strip_prefix("template[")
            .and_then(|k| k.strip_suffix(']'))
        {
            match template.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v.clone(),
                None => template.push((name.to_string(), v.clone())),
            }
        }
    }
    let timeout = Duration::from_millis(settings.query.timeout_ms);
    let deadline = Instant::now() + timeout;
    let job = Job {
        settings,
        request,
        template,
        tz,
        targets,
        deadline,
    };
    // A small request is answered on this thread: the hop to a blocking thread and back costs
    // more than evaluating it. One that passes the budget is run again on a blocking thread.
    let inline = Inline {
        points: INLINE_POINTS,
        series: INLINE_SERIES,
        until: Instant::now() + INLINE_TIME,
    };
    match job.run(state, Some(inline)) {
        Err(query::Error::NotInline) => {}
        other => return other.map_err(ApiError::from),
    }
    let state = state.clone();
    let task = blocking(move || job.run(&state, None).map_err(ApiError::from));
    match tokio::time::timeout(timeout + Duration::from_millis(100), task).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::from(query::Error::Timeout)),
    }
}

/// Most points and series, and longest time, a request is evaluated for on an async worker
/// before it moves to a blocking thread (a few hundred microseconds of work at most).
const INLINE_POINTS: u64 = 50_000;
const INLINE_SERIES: usize = 200;
const INLINE_TIME: Duration = Duration::from_millis(2);

/// Everything the evaluation of one request needs, so it can run on either thread.
struct Job {
    settings: super::Settings,
    request: Request,
    template: Vec<(String, String)>,
    tz: TimeZone,
    targets: Vec<String>,
    deadline: Instant,
}

impl Job {
    fn run(&self, state: &State, inline: Option<Inline>) -> Result<Rendered, query::Error> {
        let options = self.settings.query;
        let source = StoreSource {
            store: &state.store,
            schemas: &self.settings.schemas,
            options: &options,
            patterns: Some(&state.patterns),
        };
        let limits = Limits {
            max_series: options.max_series_per_request,
            max_points_soft: options.max_points_soft,
            tier_choice: options.tier_choice,
            max_points_hard: options.max_points_hard,
            deadline: Some(self.deadline),
            inline,
        };
        let ev = Evaluator::new(&source, self.request, limits)
            .with_template(self.template.clone())
            .with_tz(self.tz.clone())
            .with_patterns(&state.patterns);
        let series = ev.targets(&self.targets)?;
        Ok(Rendered {
            series,
            request: self.request,
            fetched: ev.fetched(),
            tz: self.tz.clone(),
        })
    }
}

/// Writes the evaluated series in the format asked for.
pub fn respond(format: &str, mut r: Rendered, p: &Params) -> Result<Response, ApiError> {
    let no_nulls = p.has("noNullPoints");
    match format {
        "json" => {
            if let Some(mdp) = r.request.max_data_points {
                let per_point =
                    query::series::max_data_points(&mut r.series, mdp, r.request.x_files_factor);
                for (s, vpp) in r.series.iter_mut().zip(per_point) {
                    if vpp > 1 {
                        for l in &mut s.lineage {
                            l.aggnum_rc = l.aggnum_rc.max(1) * vpp as u64;
                            l.consolidator_rc = s.consolidation.consolidator();
                        }
                    }
                }
            }
            drop_if_all_empty(&mut r.series);
            let body = json_body(&r, no_nulls, p.flag("meta"));
            json_or_jsonp(p, body)
        }
        "dygraph" => json_or_jsonp(p, super::text_formats::dygraph(&r.series)),
        "rickshaw" => json_or_jsonp(p, super::text_formats::rickshaw(&r.series)),
        "csv" => Ok(text("text/csv", super::text_formats::csv(&r.series, &r.tz))),
        "raw" => Ok(text("text/plain", raw(&r.series))),
        "pickle" | "msgpack" => {
            let info = super::binary::series_info(&r.series, r.request.x_files_factor);
            let (content_type, body) = if format == "pickle" {
                ("application/pickle", super::binary::pickle(&info))
            } else {
                ("application/x-msgpack", super::binary::msgpack(&info))
            };
            Ok((
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response())
        }
        other => Err(ApiError::BadRequest(format!(
            "format {other:?} is not supported (json, csv, raw, dygraph, rickshaw, pickle, msgpack, png, svg)"
        ))),
    }
}

/// A JSON number as graphite-web writes it: NaN → null, ±∞ → ±1e9999, else the shortest
/// text that reads back as the same double (zmij, as serde_json writes it).
pub fn json_number(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) if v.is_finite() => out.push_str(zmij::Buffer::new().format_finite(v)),
        Some(v) if v.is_infinite() => out.push_str(if v > 0.0 { "1e9999" } else { "-1e9999" }),
        _ => out.push_str("null"),
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn lineage_json(s: &TimeSeries) -> Value {
    Value::Array(
        s.lineage
            .iter()
            .map(|l| {
                let mut section = json!({
                    "schema-name": l.schema_name,
                    "schema-retentions": l.schema_retentions,
                    "archive-read": l.archive_read,
                    "archive-interval": l.archive_interval,
                    "aggnum-norm": l.aggnum_norm,
                    "consolidator-normfetch": l.consolidator_normfetch,
                    "aggnum-rc": l.aggnum_rc,
                    "consolidator-rc": l.consolidator_rc,
                    "count": l.count,
                    "view": l.view.to_string(),
                    "archive-finest": l.archive_finest,
                });
                // Said whenever a tier other than the finest covering one (graphite's) was read.
                if let Some(c) = l.coarser {
                    section["coarser"] = Value::String(c.reason().to_string());
                }
                if !l.lost.is_empty() {
                    section["lost"] = l
                        .lost
                        .iter()
                        .map(|x| json!({"series": x.series, "from": x.from, "until": x.until}))
                        .collect();
                }
                section
            })
            .collect(),
    )
}

/// A body of at least this many points is written on a blocking thread.
const BLOCKING_MIN_POINTS: usize = 50_000;

/// A body of at least this many points is written by two threads (each half of the series).
const PARALLEL_MIN_POINTS: usize = 200_000;

/// What a point takes in the body, about: `[12.345678901234567,1700000000],`.
const POINT_BYTES: usize = 32;

fn json_body(r: &Rendered, no_nulls: bool, meta: bool) -> String {
    let points: usize = r.series.iter().map(|s| s.values.len()).sum();
    let two = points >= PARALLEL_MIN_POINTS && r.series.len() >= 2 && crate::cores() >= 2;
    json_body_on(r, no_nulls, meta, two)
}

/// The body, written by one thread or (`two`) by two, each half of the points.
fn json_body_on(r: &Rendered, no_nulls: bool, meta: bool, two: bool) -> String {
    let points: usize = r.series.iter().map(|s| s.values.len()).sum();
    let mut out = String::with_capacity(64 + points * POINT_BYTES);
    out.push('[');
    let returned = if !two {
        json_series_list(&mut out, &r.series, no_nulls, meta)
    } else {
        // The series after the middle point go to another thread's buffer, then are appended.
        let mut seen = 0;
        let mid = r
            .series
            .iter()
            .position(|s| {
                seen += s.values.len();
                seen * 2 >= points
            })
            .map_or(r.series.len(), |i| i + 1);
        let (head, tail) = r.series.split_at(mid);
        let (n, (rest, m)) = crate::join(
            || json_series_list(&mut out, head, no_nulls, meta),
            || {
                let mut rest = String::with_capacity((points - seen) * POINT_BYTES);
                let m = json_series_list(&mut rest, tail, no_nulls, meta);
                (rest, m)
            },
        );
        if out.len() > 1 && !rest.is_empty() {
            out.push(',');
        }
        out.push_str(&rest);
        n + m
    };
    out.push(']');
    if !meta {
        return out;
    }
    let stats = json!({
        "executeplan.series-fetch.count": r.fetched.0,
        "executeplan.points-fetch.count": r.fetched.1,
        "executeplan.points-return.count": returned,
    });
    format!("{{\"version\":\"v0.1\",\"meta\":{{\"stats\":{stats}}},\"series\":{out}}}")
}

/// The series' objects, comma-separated, appended to `out`; the number of points written.
/// With `no_nulls` a series without a non-null point is left out.
fn json_series_list(out: &mut String, list: &[TimeSeries], no_nulls: bool, meta: bool) -> usize {
    let written = |v: &Option<f64>| !no_nulls || v.is_some_and(|v| !v.is_nan());
    let mut returned = 0;
    let mut first = true;
    for s in list {
        if no_nulls && !s.datapoints().any(|(v, _)| written(&v)) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        let tags: serde_json::Map<String, Value> =
            s.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let _ = write!(
            out,
            "{{\"target\":{},\"tags\":{},\"datapoints\":[",
            json_string(&s.name),
            Value::Object(tags)
        );
        let mut time = itoa::Buffer::new();
        let mut n = 0;
        for (v, t) in s.datapoints().filter(|(v, _)| written(v)) {
            if n > 0 {
                out.push(',');
            }
            n += 1;
            out.push('[');
            json_number(out, v);
            out.push(',');
            out.push_str(time.format(t));
            out.push(']');
        }
        returned += n;
        out.push(']');
        if meta {
            let _ = write!(out, ",\"meta\":{}", lineage_json(s));
        }
        out.push('}');
    }
    returned
}

/// `YYYY-mm-dd HH:MM:SS` in `tz` (graphite's csv times, `datetime.fromtimestamp(t, tzinfo)`).
pub fn format_in(ts: i64, tz: &TimeZone) -> String {
    if *tz == TimeZone::UTC {
        return format_utc(ts);
    }
    match jiff::Timestamp::from_second(ts) {
        Ok(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => format_utc(ts),
    }
}

/// `YYYY-mm-dd HH:MM:SS` in UTC; a time past the year 9999 as its unix seconds.
pub fn format_utc(ts: i64) -> String {
    let Some((y, m, d)) = crate::clock::civil_from_days(ts.div_euclid(86_400)) else {
        return ts.to_string();
    };
    let secs = ts.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Python's `repr` of a float, as graphite's raw format prints values.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn raw(series: &[TimeSeries]) -> String {
    let mut out = String::new();
    for s in series {
        let values: Vec<String> = s
            .values
            .iter()
            .map(|v| v.map(py_float).unwrap_or_else(|| "None".into()))
            .collect();
        let _ = writeln!(
            out,
            "{},{},{},{}|{}",
            s.name,
            s.start,
            s.end,
            s.step,
            values.join(",")
        );
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn utc_formatting_and_python_floats() {
        assert_eq!(format_utc(1_304_222_400), "2011-05-01 04:00:00");
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.25), "0.25");
    }

    #[test]
    fn only_json_and_graphs_are_consolidated_to_max_data_points() {
        assert!(consolidates("json", false));
        assert!(consolidates("png", true));
        for f in ["csv", "raw", "pickle", "msgpack"] {
            assert!(!consolidates(f, false), "{f}");
        }
    }

    #[test]
    fn series_without_points_are_dropped_only_when_all_are_empty() {
        let empty = TimeSeries::new("e", 0, 60, Vec::new());
        let one = TimeSeries::new("o", 0, 60, vec![None]);
        let mut list = vec![empty.clone(), empty.clone()];
        drop_if_all_empty(&mut list);
        assert!(list.is_empty());
        let mut list = vec![empty, one];
        drop_if_all_empty(&mut list);
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn json_numbers_like_graphite() {
        let mut s = String::new();
        for v in [
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(1.5),
            Some(2.0),
        ] {
            json_number(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "null null 1e9999 -1e9999 1.5 2.0 ");
        // Every finite number as serde_json writes it (graphite-agreement tests read both).
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                s.clear();
                json_number(&mut s, Some(v));
                assert_eq!(s, serde_json::Number::from_f64(v).unwrap().to_string());
            }
        }
    }

    #[test]
    fn a_body_written_by_two_threads_is_the_body_written_by_one() {
        let series: Vec<TimeSeries> = (0..5)
            .map(|k| {
                let values = (0..1000 + k * 7)
                    .map(|i| match (i + k) % 13 {
                        0 => None,
                        1 => Some(f64::NAN),
                        2 => Some(f64::INFINITY),
                        _ => Some(i as f64 / 7.0 - k as f64),
                    })
                    .collect();
                TimeSeries::new(&format!("a.b{k}"), 1_700_000_000, 60, values)
            })
            .chain([TimeSeries::new("empty.one", 0, 60, vec![None; 40])])
            .collect();
        for order in [false, true] {
            let mut r = Rendered {
                series: series.clone(),
                request: Request {
                    from: 0,
                    until: 1,
                    now: 1,
                    max_data_points: None,
                    x_files_factor: 0.0,
                },
                fetched: (6, 6000),
                tz: TimeZone::UTC,
            };
            if order {
                r.series.reverse();
            }
            for (no_nulls, meta) in [(false, false), (true, false), (false, true), (true, true)] {
                let one = json_body_on(&r, no_nulls, meta, false);
                assert_eq!(one, json_body_on(&r, no_nulls, meta, true));
                let wanted = if no_nulls { 5 } else { 6 };
                assert_eq!(one.matches("{\"target\":").count(), wanted);
                assert!(one.contains("1e9999") && !one.contains(",,") && !one.contains("[,"));
            }
        }
    }
}
