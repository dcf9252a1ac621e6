//! graphite-web's endpoints: `/render` (json, csv, raw; `meta=true` lineage), `/metrics/find`
//! (treejson, completer), `/metrics/expand`, `/version`, `/events/` and `/events/get_data`.

use super::{ApiError, Params, State};
use crate::clock::unix_now;
use crate::metric::glob::Glob;
use crate::query::{self, Output, Range, attime};
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

/// Every path answers with and without a trailing slash, as graphite-web's URL map does.
pub fn routes() -> Router<Arc<State>> {
    let table: [(&str, axum::routing::MethodRouter<Arc<State>>); 7] = [
        ("/render", any(render)),
        ("/metrics/find", any(find)),
        ("/metrics", any(find)),
        ("/metrics/expand", any(expand)),
        ("/version", get(version)),
        ("/events", any(events)),
        ("/events/get_data", get(events_get_data)),
    ];
    table
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router
                .route(path, handler.clone())
                .route(&format!("{path}/"), handler)
        })
}

struct Parts {
    method: Method,
    params: Params,
    peer: Option<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
}

async fn read(req: Request) -> Result<Parts, ApiError> {
    let (parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params = Params::parse(parts.uri.query(), if is_form { &body } else { b"" });
    Ok(Parts {
        method: parts.method,
        params,
        peer,
        headers: parts.headers,
        body,
    })
}

fn now_param(p: &Params) -> Result<i64, ApiError> {
    match p.get("now") {
        None | Some("") => Ok(unix_now()),
        Some(s) => {
            attime::parse(s, unix_now()).map_err(|e| ApiError::BadRequest(format!("now: {e}")))
        }
    }
}

fn time_param(p: &Params, key: &str, default: &str, now: i64) -> Result<i64, ApiError> {
    let s = p.get(key).filter(|s| !s.is_empty()).unwrap_or(default);
    attime::parse(s, now).map_err(|e| ApiError::BadRequest(format!("{key}: {e}")))
}

fn check_tz(p: &Params) -> Result<(), ApiError> {
    match p.get("tz") {
        None | Some("" | "UTC" | "utc" | "Etc/UTC" | "GMT" | "Z") => Ok(()),
        Some(tz) => Err(ApiError::BadRequest(format!(
            "tz {tz:?} is not supported yet: times are UTC"
        ))),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
}

async fn render(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(req).await?.params;
    check_tz(&p)?;
    let targets: Vec<String> = p
        .all("target")
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let now = now_param(&p)?;
    let mut from = time_param(&p, "from", "-1d", now)?;
    let mut until = time_param(&p, "until", "now", now)?;
    if from > until {
        std::mem::swap(&mut from, &mut until);
    }
    if from == until {
        return Err(ApiError::BadRequest("Invalid empty time range".into()));
    }
    let settings = state.settings();
    let range = Range {
        from,
        until,
        now,
        max_data_points: p
            .number("maxDataPoints")?
            .or(settings.default_max_data_points),
    };
    let format = p.get("format").unwrap_or("json").to_string();
    if p.flag("rawData") && !p.has("format") {
        return render_as(&state, targets, range, "raw", &p, settings).await;
    }
    render_as(&state, targets, range, &format, &p, settings).await
}

async fn render_as(
    state: &Arc<State>,
    targets: Vec<String>,
    range: Range,
    format: &str,
    p: &Params,
    settings: super::Settings,
) -> Result<Response, ApiError> {
    if !matches!(format, "json" | "csv" | "raw") {
        return Err(ApiError::BadRequest(format!(
            "format {format:?} is not supported (json, csv, raw)"
        )));
    }
    for t in &targets {
        if t.contains('(') {
            return Err(ApiError::BadRequest(format!(
                "target {t:?}: functions are not supported yet; give a path, glob or path:view"
            )));
        }
    }
    let store = state.store.clone();
    let mut series = blocking(move || {
        let mut out = Vec::new();
        for t in &targets {
            out.extend(query::run(
                &store,
                &settings.schemas,
                &settings.query,
                t,
                &range,
            )?);
        }
        Ok(out)
    })
    .await?;
    if p.has("noNullPoints") {
        series.retain(|s| s.values.iter().any(Option::is_some));
    }
    let body = match format {
        "csv" => return Ok(text("text/csv", csv(&series))),
        "raw" => return Ok(text("text/plain", raw(&series))),
        _ => json_render(&series, p.has("noNullPoints"), p.flag("meta")),
    };
    let body = body.to_string();
    Ok(match p.get("jsonp") {
        Some(cb) if !cb.is_empty() => text("text/javascript", format!("{cb}({body})")),
        _ => text("application/json", body),
    })
}

fn text(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn tags_of(s: &Output) -> Value {
    let mut tags = serde_json::Map::new();
    tags.insert("name".into(), json!(s.series.path()));
    for (k, v) in s.series.tags() {
        tags.insert(k.into(), json!(v));
    }
    Value::Object(tags)
}

fn datapoints(s: &Output, no_nulls: bool) -> Vec<Value> {
    let step = i64::from(s.step);
    s.values
        .iter()
        .enumerate()
        .filter(|(_, v)| !no_nulls || v.is_some())
        .map(|(i, v)| json!([v, s.start + i as i64 * step]))
        .collect()
}

fn json_render(series: &[Output], no_nulls: bool, meta: bool) -> Value {
    let list: Vec<Value> = series
        .iter()
        .map(|s| {
            let mut obj = json!({
                "target": s.name,
                "tags": tags_of(s),
                "datapoints": datapoints(s, no_nulls),
            });
            if meta {
                let l = &s.lineage;
                obj["meta"] = json!([{
                    "schema-name": l.schema_name,
                    "schema-retentions": l.schema_retentions,
                    "archive-read": l.archive_read,
                    "archive-interval": l.archive_interval,
                    "aggnum-norm": 1,
                    "consolidator-normfetch": "NoneConsolidator",
                    "aggnum-rc": l.aggnum_rc,
                    "consolidator-rc": l.consolidator_rc,
                    "count": 1,
                    "view": l.view.to_string(),
                }]);
            }
            obj
        })
        .collect();
    if meta {
        json!({"version": "v0.1", "meta": {"stats": {}}, "series": list})
    } else {
        Value::Array(list)
    }
}

fn format_utc(ts: i64) -> String {
    let (y, m, d) = crate::clock::civil_from_days(ts.div_euclid(86_400));
    let secs = ts.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Python's `repr` of a float, as graphite's raw format prints values.
fn py_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn csv(series: &[Output]) -> String {
    let mut out = String::new();
    for s in series {
        for (i, v) in s.values.iter().enumerate() {
            let ts = s.start + i as i64 * i64::from(s.step);
            let value = v.map(py_float).unwrap_or_default();
            out.push_str(&format!("{},{},{value}\r\n", s.name, format_utc(ts)));
        }
    }
    out
}

fn raw(series: &[Output]) -> String {
    let mut out = String::new();
    for s in series {
        let values: Vec<String> = s
            .values
            .iter()
            .map(|v| v.map(py_float).unwrap_or_else(|| "None".into()))
            .collect();
        out.push_str(&format!(
            "{},{},{},{}|{}\n",
            s.name,
            s.start,
            s.end(),
            s.step,
            values.join(",")
        ));
    }
    out
}

async fn find(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(req).await?.params;
    let query = p
        .get("query")
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Missing required parameter 'query'".into()))?
        .to_string();
    let format = p.get("format").unwrap_or("treejson").to_string();
    let wildcards = p.flag("wildcards");
    let query = if format == "completer" {
        let q = query.replace("..", "*.");
        if q.ends_with('*') { q } else { format!("{q}*") }
    } else {
        query
    };
    let glob = Glob::parse(&query).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let store = state.store.clone();
    let nodes = blocking(move || Ok(store.find(&glob))).await?;
    let base = match query.rfind('.') {
        Some(i) => query[..=i].to_string(),
        None => String::new(),
    };
    let leaf_name = |path: &str| path.rsplit('.').next().unwrap_or(path).to_string();
    let body = match format.as_str() {
        "treejson" => {
            let mut list: Vec<Value> = Vec::new();
            if wildcards && nodes.len() > 1 {
                let any_branch = nodes.iter().any(|n| n.branch);
                list.push(json!({"text": "*", "id": format!("{base}*"), "allowChildren": u8::from(any_branch),
                    "expandable": u8::from(any_branch), "leaf": u8::from(!any_branch)}));
            }
            let (branches, leaves): (Vec<_>, Vec<_>) = nodes.iter().partition(|n| n.branch);
            for n in branches.into_iter().chain(leaves) {
                let text = leaf_name(&n.path);
                list.push(json!({"text": text, "id": format!("{base}{text}"),
                    "allowChildren": u8::from(n.branch), "expandable": u8::from(n.branch), "leaf": u8::from(n.leaf && !n.branch)}));
            }
            Value::Array(list)
        }
        "completer" => {
            let metrics: Vec<Value> = nodes
                .iter()
                .map(|n| {
                    let dot = if n.branch { "." } else { "" };
                    json!({"path": format!("{}{dot}", n.path), "name": leaf_name(&n.path),
                        "is_leaf": if n.branch { "0" } else { "1" }})
                })
                .collect();
            json!({ "metrics": metrics })
        }
        "json" => Value::Array(
            nodes
                .iter()
                .map(|n| json!({"path": n.path, "is_leaf": n.leaf && !n.branch}))
                .collect(),
        ),
        other => {
            return Err(ApiError::BadRequest(format!(
                "format {other:?} is not supported (treejson, completer, json)"
            )));
        }
    };
    Ok(text("application/json", body.to_string()))
}

async fn expand(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(req).await?.params;
    let queries: Vec<String> = p.all("query").into_iter().map(String::from).collect();
    if queries.is_empty() {
        return Err(ApiError::BadRequest(
            "Missing required parameter 'query'".into(),
        ));
    }
    let leaves_only = p.flag("leavesOnly");
    let group = p.flag("groupByExpr");
    let globs = queries
        .iter()
        .map(|q| Glob::parse(q).map_err(|e| ApiError::BadRequest(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let store = state.store.clone();
    let results = blocking(move || {
        Ok(globs
            .iter()
            .map(|g| {
                let mut paths: Vec<String> = store
                    .find(g)
                    .into_iter()
                    .filter(|n| !leaves_only || n.leaf)
                    .map(|n| n.path)
                    .collect();
                paths.sort();
                paths.dedup();
                paths
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let body = if group {
        let map: serde_json::Map<String, Value> = queries
            .into_iter()
            .zip(results)
            .map(|(q, r)| (q, json!(r)))
            .collect();
        json!({ "results": map })
    } else {
        let mut all: Vec<String> = results.into_iter().flatten().collect();
        all.sort();
        all.dedup();
        json!({ "results": all })
    };
    Ok(text("application/json", body.to_string()))
}

async fn version() -> Response {
    text("text/plain", "1.1.10".to_string())
}

fn may_write(parts: &Parts, token: Option<&str>) -> Result<(), ApiError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (token, bearer) {
        (Some(t), Some(b)) if t == b => Ok(()),
        (Some(_), Some(_)) => Err(ApiError::Forbidden("bad token")),
        _ if parts.peer.is_none_or(|p| p.ip().is_loopback()) => Ok(()),
        (Some(_), None) => Err(ApiError::Forbidden(
            "writes from this address need Authorization: Bearer <token>",
        )),
        (None, _) => Err(ApiError::Forbidden(
            "writes are only accepted from loopback unless http.token is set",
        )),
    }
}

async fn events(state: S, req: Request) -> Result<Response, ApiError> {
    let parts = read(req).await?;
    if parts.method != Method::POST {
        let now = unix_now();
        let list = state.store.events(0, now);
        return Ok(text(
            "application/json",
            json!(list.iter().map(event_json).collect::<Vec<_>>()).to_string(),
        ));
    }
    may_write(&parts, state.settings().token.as_deref())?;
    let body: Value = serde_json::from_slice(&parts.body)
        .map_err(|e| ApiError::BadRequest(format!("event body is not JSON: {e}")))?;
    let what = body
        .get("what")
        .and_then(Value::as_str)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| ApiError::BadRequest("\"what\" is required".into()))?;
    if what.len() > 255 {
        return Err(ApiError::BadRequest(
            "\"what\" is longer than 255 characters".into(),
        ));
    }
    let tags: Vec<String> = match body.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "{\"error\":\"\\\"tags\\\" must be an array or space-separated string\"}".into(),
            ));
        }
    };
    let when = match body.get("when") {
        None | Some(Value::Null) => unix_now(),
        Some(v) => v
            .as_f64()
            .filter(|w| w.is_finite())
            .map(|w| w as i64)
            .ok_or_else(|| ApiError::BadRequest("\"when\" must be unix seconds".into()))?,
    };
    let data = match body.get("data") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let store = state.store.clone();
    let what = what.to_string();
    blocking(move || {
        store
            .add_event(when, &what, &tags, &data)
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    Ok(text("text/plain", String::new()))
}

fn event_json(e: &crate::store::Event) -> Value {
    json!({"when": e.when, "tags": e.tags, "data": e.data, "id": e.id, "what": e.what})
}

async fn events_get_data(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(req).await?.params;
    let now = now_param(&p)?;
    let from = time_param(&p, "from", "0", now)?;
    let until = time_param(&p, "until", "now", now)?;
    let wanted: Vec<String> = p
        .get("tags")
        .map(|t| {
            t.split(' ')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let union = p.get("set") == Some("union");
    let list: Vec<Value> = state
        .store
        .events(from, until)
        .iter()
        .filter(|e| {
            wanted.is_empty()
                || if union {
                    wanted.iter().any(|w| e.tags.contains(w))
                } else {
                    wanted.iter().all(|w| e.tags.contains(w))
                }
        })
        .map(event_json)
        .collect();
    let body = Value::Array(list).to_string();
    Ok(match p.get("jsonp") {
        Some(cb) if !cb.is_empty() => text("text/javascript", format!("{cb}({body})")),
        _ => text("application/json", body),
    })
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
}
