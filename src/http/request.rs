//! What the endpoint files share, below all of them: reading a request (parameters from the
//! query string and a form body, the peer, graphite's `tz`/`now`/time parameters), answering
//! (`text`, JSON or JSONP), running store work on a blocking thread, the write permission, and
//! routes with and without a trailing slash.

use super::{ApiError, Params, State};
use crate::clock::unix_now;
use crate::query::attime;
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, header, request};
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// A request read: its method, parameters, peer, headers and body.
pub(super) struct Parts {
    pub method: Method,
    pub params: Params,
    pub peer: Option<SocketAddr>,
    pub headers: HeaderMap,
    pub body: axum::body::Bytes,
}

/// The client's address (absent when the router is called without a socket, in tests).
pub(super) fn peer(parts: &request::Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// Reads the body (within `limits`) and the parameters of the query string and a form body.
pub(super) async fn read(state: &State, req: Request) -> Result<Parts, ApiError> {
    let (parts, body) = req.into_parts();
    let peer = peer(&parts);
    let body = super::limits::read_body(state, body).await?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = Params::from_request(parts.uri.query(), content_type, &body);
    Ok(Parts {
        method: parts.method,
        params,
        peer,
        headers: parts.headers,
        body,
    })
}

/// The request's `tz` (graphite's `tzinfo`): UTC when absent; an unknown zone is a 400.
pub(super) fn tz_param(p: &Params) -> Result<TimeZone, ApiError> {
    match p.get("tz").filter(|s| !s.is_empty()) {
        None => Ok(TimeZone::UTC),
        Some(name) => crate::graph::zone(name)
            .map_err(|_| ApiError::BadRequest(format!("tz: unknown time zone {name:?}"))),
    }
}

/// The request's `now`: the clock when absent.
pub(super) fn now_param(p: &Params, tz: &TimeZone) -> Result<i64, ApiError> {
    match p.get("now") {
        None | Some("") => Ok(unix_now()),
        Some(s) => attime::parse_in(s, unix_now(), tz)
            .map_err(|e| ApiError::BadRequest(format!("now: {e}"))),
    }
}

/// A time parameter in graphite's formats, references in the request's zone.
pub(super) fn time_param(
    p: &Params,
    key: &str,
    default: &str,
    now: i64,
    tz: &TimeZone,
) -> Result<i64, ApiError> {
    let s = p.get(key).filter(|s| !s.is_empty()).unwrap_or(default);
    attime::parse_in(s, now, tz).map_err(|e| ApiError::BadRequest(format!("{key}: {e}")))
}

/// Runs `f` (store reads, evaluation) on a blocking thread.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
}

/// A JSON value as text, indented with `pretty=1`.
pub(super) fn json_text(v: &Value, p: &Params) -> String {
    if p.flag("pretty") {
        serde_json::to_string_pretty(v).unwrap_or_default()
    } else {
        v.to_string()
    }
}

/// A JSON answer, or with `jsonp=cb` the script `cb(…)` (checked by `limits::callback`).
pub(super) fn json_or_jsonp(p: &Params, body: String) -> Result<Response, ApiError> {
    Ok(match p.get("jsonp").filter(|cb| !cb.is_empty()) {
        Some(cb) => text(
            "text/javascript",
            format!("{}({body})", super::limits::callback(cb)?),
        ),
        None => text("application/json", body),
    })
}

/// A `no-cache` answer of `content_type`.
pub(super) fn text(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Writes (events, ingest) are for loopback clients, or anyone with the bearer token when one
/// is configured; with `token_on_loopback` the token is required from everyone.
pub(super) fn may_write(
    headers: &axum::http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
    settings: &super::Settings,
) -> Result<(), ApiError> {
    let token = settings.token.as_deref();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (token, bearer) {
        (Some(t), Some(b)) if t == b => Ok(()),
        (Some(_), Some(_)) => Err(ApiError::Forbidden("bad token")),
        (Some(_), None) if settings.token_on_loopback => Err(ApiError::Forbidden(
            "writes need Authorization: Bearer <token> (http.require_token_on_loopback)",
        )),
        _ if peer.is_none_or(|p| p.ip().is_loopback()) => Ok(()),
        (Some(_), None) => Err(ApiError::Forbidden(
            "writes from this address need Authorization: Bearer <token>",
        )),
        (None, _) => Err(ApiError::Forbidden(
            "writes are only accepted from loopback unless http.token is set",
        )),
    }
}

/// Routes every path with and without a trailing slash, as graphite-web's URL map does.
pub(super) fn with_slashes(
    table: Vec<(&str, axum::routing::MethodRouter<Arc<State>>)>,
) -> Router<Arc<State>> {
    table
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router
                .route(path, handler.clone())
                .route(&format!("{path}/"), handler)
        })
}
