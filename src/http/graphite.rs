//! graphite-web's endpoints: `/metrics/find` (its bodies in `find.rs`), `/metrics/expand`,
//! `/metrics/index.json`, `/version`, `/events/` and `/events/get_data`. `/render` is in
//! `render.rs`, `/functions` in `functions.rs`, `/tags/…` in `tags.rs`; the helpers they share
//! in `request.rs`.

use super::request::{
    blocking, json_or_jsonp, may_write, now_param, read, text, time_param, tz_param, with_slashes,
};
use super::{ApiError, State};
use crate::clock::unix_now;
use crate::metric::glob::Glob;
use axum::Router;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

/// Every path answers with and without a trailing slash, as graphite-web's URL map does.
pub fn routes() -> Router<Arc<State>> {
    with_slashes(vec![
        ("/metrics/find", any(find)),
        ("/metrics", any(find)),
        ("/metrics/expand", any(expand)),
        ("/metrics/index.json", get(index_json)),
        ("/version", get(version)),
        ("/events", any(events)),
        ("/events/get_data", get(events_get_data)),
    ])
}

async fn find(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let query = p
        .get("query")
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Missing required parameter 'query'".into()))?
        .to_string();
    let format = p.get("format").unwrap_or("treejson").to_string();
    let wildcards = p.flag("wildcards");
    let original = query.clone();
    let query = if format == "completer" {
        let q = query.replace("..", "*.");
        if q.ends_with('*') { q } else { format!("{q}*") }
    } else {
        query
    };
    let glob = Glob::parse(&query).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let store = state.store.clone();
    let nodes = blocking(move || Ok(store.find(&glob))).await?;
    let mut nodes = found_nodes(&state, &nodes);
    super::find::sort_by_name(&mut nodes);
    // graphite-web's base path is the query's, before the completer's `*` is added.
    let base = match original.rfind('.') {
        Some(i) => original[..=i].to_string(),
        None => String::new(),
    };
    let body = match format.as_str() {
        "treejson" => super::find::tree_json(&nodes, &base, wildcards),
        "completer" => super::find::completer(&nodes, wildcards),
        "json" => super::find::json_nodes(&nodes),
        "nodelist" => {
            let position = match p.get("position").filter(|s| !s.is_empty()) {
                None => -1,
                Some(s) => s.parse().map_err(|_| {
                    ApiError::BadRequest(format!("Invalid int value {s:?} for param position"))
                })?,
            };
            super::find::nodelist(&nodes, position).map_err(ApiError::BadRequest)?
        }
        "pickle" | "msgpack" => {
            let info = super::binary::nodes_info(&nodes);
            return Ok(if format == "pickle" {
                binary("application/pickle", super::binary::pickle(&info))
            } else {
                binary("application/x-msgpack", super::binary::msgpack(&info))
            });
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "format {other:?} is not supported (treejson, completer, json, nodelist, pickle, msgpack)"
            )));
        }
    };
    json_or_jsonp(&p, body.to_string())
}

/// graphite-web's nodes for a find: a name that is both a series and a branch (`a.b` and
/// `a.b.c` stored) is two nodes, as a whisper directory and file of one name are.
fn found_nodes(state: &State, nodes: &[crate::store::Node]) -> Vec<super::binary::FoundNode> {
    let schemas = state.settings().schemas;
    let now = unix_now();
    let mut out = Vec::new();
    for n in nodes {
        if n.branch {
            out.push(super::binary::FoundNode {
                path: n.path.clone(),
                interval: None,
            });
        }
        if n.leaf {
            let kept = schemas
                .for_name(&n.path)
                .tiers
                .iter()
                .map(|t| t.retention)
                .max();
            let kept = i64::try_from(kept.unwrap_or(0)).unwrap_or(i64::MAX);
            out.push(super::binary::FoundNode {
                path: n.path.clone(),
                interval: Some((now.saturating_sub(kept), now)),
            });
        }
    }
    out
}

fn binary(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn expand(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
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
    json_or_jsonp(&p, body.to_string())
}

async fn index_json(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let store = state.store.clone();
    let names = blocking(move || {
        let mut names: Vec<String> = store
            .all_series()
            .into_iter()
            .filter(|i| !i.series.is_tagged())
            .map(|i| i.series.to_string())
            .collect();
        names.sort();
        Ok(names)
    })
    .await?;
    let body = json!(names).to_string();
    json_or_jsonp(&p, body)
}

async fn version() -> Response {
    text("text/plain", "1.1.10".to_string())
}

async fn events(state: S, req: Request) -> Result<Response, ApiError> {
    let parts = read(&state, req).await?;
    if parts.method != Method::POST {
        let now = unix_now();
        let list = state.store.events(0, now);
        return Ok(text(
            "application/json",
            json!(list.iter().map(event_json).collect::<Vec<_>>()).to_string(),
        ));
    }
    may_write(&parts.headers, parts.peer, &state.settings())?;
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
    super::limits::event_tags(&tags)?;
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
    let p = read(&state, req).await?.params;
    let tz = tz_param(&p)?;
    let now = now_param(&p, &tz)?;
    let from = time_param(&p, "from", "0", now, &tz)?;
    let until = time_param(&p, "until", "now", now, &tz)?;
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
    let asked = !wanted.is_empty();
    // With tags, every event is read once: for the tags graphite's tag store knows, and the range.
    let events = if asked {
        state.store.events(i64::MIN, i64::MAX)
    } else {
        state.store.events(from, until)
    };
    let wanted = crate::store::known_tags(&wanted, &events);
    let list: Vec<Value> = events
        .iter()
        .filter(|e| (from..=until).contains(&e.when))
        .filter(|e| {
            !asked
                || !wanted.is_empty()
                    && if union {
                        wanted.iter().any(|w| e.tags.contains(w))
                    } else {
                        wanted.iter().all(|w| e.tags.contains(w))
                    }
        })
        .map(event_json)
        .collect();
    let body = Value::Array(list).to_string();
    json_or_jsonp(&p, body)
}
