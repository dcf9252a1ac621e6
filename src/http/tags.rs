//! graphite-web's tag API (`tags/views.py`) over the store's tagged series: `/tags`,
//! `/tags/<tag>`, `/tags/findSeries`, `/tags/autoComplete/tags`, `/tags/autoComplete/values`,
//! and `/tags/tagSeries` / `/tags/tagMultiSeries`, which answer the canonical name (a series
//! exists in tally once data arrives for it, so there is nothing to register).

use super::request::{blocking, json_text, read, text, with_slashes};
use super::{ApiError, Params, State};
use crate::metric::Series;
use crate::query::tags::{self, Expr};
use axum::Router;
use axum::extract::{Path, Request};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

pub fn routes() -> Router<Arc<State>> {
    with_slashes(vec![
        ("/tags", any(list)),
        ("/tags/findSeries", any(find_series)),
        ("/tags/autoComplete/tags", any(auto_tags)),
        ("/tags/autoComplete/values", any(auto_values)),
        ("/tags/tagSeries", any(tag_series)),
        ("/tags/tagMultiSeries", any(tag_multi_series)),
        ("/tags/{tag}", any(values)),
    ])
    .layer(axum::middleware::map_response(json_errors))
}

/// graphite-web's tag views answer an error as `{"error": "…"}` (its `jsonResponse`), with
/// the status kept.
async fn json_errors(r: Response) -> Response {
    if r.status().is_success() {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 16)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&bytes).trim_end().to_string();
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let body = json!({ "error": message }).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// JSON always: graphite-web's tag views (its `jsonResponse`) take no `jsonp`.
fn answer(v: Value, p: &Params) -> Result<Response, ApiError> {
    Ok(text("application/json", json_text(&v, p)))
}

fn limit(p: &Params, default: Option<usize>) -> Result<Option<usize>, ApiError> {
    Ok(p.number("limit")?.map(|n| n as usize).or(default))
}

fn filter(p: &Params) -> Result<Option<regex::Regex>, ApiError> {
    p.get("filter")
        .filter(|f| !f.is_empty())
        .map(|f| {
            regex::RegexBuilder::new(f)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| ApiError::BadRequest(format!("filter: {e}")))
        })
        .transpose()
}

fn exprs(p: &Params) -> Result<Vec<Expr>, ApiError> {
    p.all("expr")
        .into_iter()
        .filter(|e| !e.is_empty())
        .map(|e| Expr::parse(e).map_err(ApiError::from))
        .collect()
}

/// Tags of every tagged series matching `exprs` (all tagged series when there are none).
async fn matching(
    state: &Arc<State>,
    exprs: Vec<Expr>,
) -> Result<Vec<BTreeMap<String, String>>, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        let names: Vec<String> = store
            .tagged_series()
            .into_iter()
            .map(|i| i.series.to_string())
            .collect();
        let names = if exprs.is_empty() {
            names
        } else {
            tags::matching(&exprs, names)?
        };
        Ok(names.iter().map(|n| tags::tags(n)).collect())
    })
    .await
}

async fn list(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let (re, limit) = (filter(&p)?, limit(&p, None)?);
    let all: BTreeSet<String> = matching(&state, Vec::new())
        .await?
        .into_iter()
        .flat_map(|t| t.into_keys())
        .filter(|t| re.as_ref().is_none_or(|r| r.is_match(t)))
        .collect();
    let list: Vec<Value> = all
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|t| json!({ "tag": t }))
        .collect();
    answer(Value::Array(list), &p)
}

async fn values(state: S, Path(tag): Path<String>, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let (re, limit) = (filter(&p)?, limit(&p, None)?);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut known = false;
    for t in matching(&state, Vec::new()).await? {
        let Some(v) = t.get(&tag) else { continue };
        known = true;
        if re.as_ref().is_none_or(|r| r.is_match(v)) {
            *counts.entry(v.clone()).or_default() += 1;
        }
    }
    if !known {
        // graphite-web's tagdb has no such tag: `null`.
        return answer(Value::Null, &p);
    }
    let values: Vec<Value> = counts
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|(value, count)| json!({ "count": count, "value": value }))
        .collect();
    answer(json!({ "tag": tag, "values": values }), &p)
}

async fn find_series(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let exprs = exprs(&p)?;
    if exprs.is_empty() {
        return Err(ApiError::BadRequest("no tag expressions specified".into()));
    }
    let store = state.store.clone();
    let names = blocking(move || {
        let names = store
            .tagged_series()
            .into_iter()
            .map(|i| i.series.to_string())
            .collect();
        Ok(tags::matching(&exprs, names)?)
    })
    .await?;
    answer(json!(names), &p)
}

async fn auto_tags(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let exprs = exprs(&p)?;
    let prefix = p.get("tagPrefix").unwrap_or("").to_string();
    let limit = limit(&p, Some(100))?.unwrap_or(100);
    let named: BTreeSet<String> = exprs.iter().map(|e| e.tag.clone()).collect();
    let all: BTreeSet<String> = matching(&state, exprs)
        .await?
        .into_iter()
        .flat_map(|t| t.into_keys())
        .filter(|t| t.starts_with(&prefix) && !named.contains(t))
        .collect();
    let list: Vec<String> = all.into_iter().take(limit).collect();
    answer(json!(list), &p)
}

async fn auto_values(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let tag = p
        .get("tag")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Missing required parameter 'tag'".into()))?
        .to_string();
    let exprs = exprs(&p)?;
    let prefix = p.get("valuePrefix").unwrap_or("").to_string();
    let limit = limit(&p, Some(100))?.unwrap_or(100);
    let all: BTreeSet<String> = matching(&state, exprs)
        .await?
        .into_iter()
        .filter_map(|mut t| t.remove(&tag))
        .filter(|v| v.starts_with(&prefix))
        .collect();
    let list: Vec<String> = all.into_iter().take(limit).collect();
    answer(json!(list), &p)
}

fn canonical(path: &str) -> Result<String, ApiError> {
    Series::parse(path)
        .map(|s| s.to_string())
        .map_err(|e| ApiError::BadRequest(format!("{path:?}: {e}")))
}

async fn tag_series(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let path = p
        .get("path")
        .ok_or_else(|| ApiError::BadRequest("Missing required parameter 'path'".into()))?;
    answer(json!(canonical(path)?), &p)
}

async fn tag_multi_series(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let paths = p
        .all("path")
        .into_iter()
        .map(canonical)
        .collect::<Result<Vec<_>, _>>()?;
    answer(json!(paths), &p)
}
