//! tally's own JSON for the web UI (graphite-web has no equivalent):
//!
//! - `GET /api/inputs`: which prefix belongs to which input (system collectors, each tail input
//!   and its parsers, StatsD, carbon, tally's own `tally.*`), so the overview needs no
//!   configuration.
//! - `GET /api/series[?query=GLOB]`: series with their kind (`counter`, `gauge`, `timer`,
//!   `set`), which decides the views the UI offers; at most `query.max_series` of them, with
//!   `truncated` saying when there were more.
//! - `GET /api/dashboards` (name, title, description of each) and `/api/dashboards/<name>`
//!   (the whole dashboard) from the files in `dashboard_dirs`, re-read on SIGHUP.

use super::request::{blocking, read, text};
use super::{ApiError, State};
use crate::dashboard::Dashboard;
use crate::metric::glob::Glob;
use axum::Router;
use axum::extract::{Path, Request};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

/// What the agent knows for the UI; replaced as a whole on reload.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The body of `/api/inputs`, made by the agent from the config.
    pub inputs: Value,
    pub dashboards: Vec<Dashboard>,
    /// Dashboard files left out for their problems (counted in `tally.dashboards.errors`).
    pub problems: u64,
}

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/inputs", get(inputs))
        .route("/api/series", get(series))
        .route("/api/dashboards", get(dashboards))
        .route("/api/dashboards/{name}", get(dashboard))
}

fn json_response(v: &Value) -> Response {
    text("application/json", v.to_string())
}

async fn inputs(state: S) -> Response {
    json_response(&state.settings().site.inputs)
}

async fn series(state: S, req: Request) -> Result<Response, ApiError> {
    let p = read(&state, req).await?.params;
    let glob = match p.get("query").filter(|q| !q.is_empty()) {
        None => None,
        Some(q) => Some(Glob::parse(q).map_err(|e| ApiError::BadRequest(format!("query: {e}")))?),
    };
    let limit = state.settings().query.max_series;
    let store = state.store.clone();
    let (list, truncated) = blocking(move || {
        let infos: Vec<(String, &'static str)> = match glob {
            None => store
                .all_series()
                .into_iter()
                .map(|i| (i.series.to_string(), i.kind.as_str()))
                .collect(),
            Some(g) => store
                .find(&g)
                .into_iter()
                .filter(|n| n.leaf)
                .filter_map(|n| store.lookup(&n.path))
                .map(|i| (i.series.to_string(), i.kind.as_str()))
                .collect(),
        };
        let truncated = infos.len() > limit;
        let mut infos = infos;
        infos.sort();
        infos.truncate(limit);
        Ok((infos, truncated))
    })
    .await?;
    let list: Vec<Value> = list
        .into_iter()
        .map(|(path, kind)| json!({"path": path, "kind": kind}))
        .collect();
    Ok(json_response(
        &json!({"series": list, "truncated": truncated}),
    ))
}

async fn dashboards(state: S) -> Response {
    let site = state.settings().site;
    let list: Vec<Value> = site
        .dashboards
        .iter()
        .map(|d| json!({"name": d.name, "title": d.title, "description": d.description}))
        .collect();
    json_response(&json!({ "dashboards": list }))
}

async fn dashboard(state: S, Path(name): Path<String>) -> Result<Response, ApiError> {
    let site = state.settings().site;
    let d = site
        .dashboards
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard named {name:?}")))?;
    let v = serde_json::to_value(d).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_response(&v))
}
