//! The HTTP API: graphite-web's endpoints, so Grafana's Graphite data source and graphite
//! clients work unchanged. Read-only over the store, except event writes. GET and POST form
//! parameters are read alike, repeated keys included, as graphite-web does.

mod api;
mod binary;
pub mod conn;
mod find;
mod functions;
mod graphite;
pub mod health;
pub mod image;
pub mod ingest;
pub mod limits;
pub mod params;
pub mod render;
mod request;
mod stream;
mod tags;
mod text_formats;
pub mod ui;

pub use api::Site;

pub use limits::Limits;
pub use params::Params;

use crate::query;
use crate::schema::Schemas;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

/// What can change on reload.
#[derive(Debug, Clone)]
pub struct Settings {
    pub schemas: Arc<Schemas>,
    pub query: query::Options,
    pub default_max_data_points: Option<u64>,
    /// Required (as `Authorization: Bearer …`) for writes from clients not on loopback.
    pub token: Option<String>,
    /// What the web UI reads: inputs and dashboards (see `api.rs`).
    pub site: Arc<Site>,
    /// The token is required from loopback clients too (behind a reverse proxy on the host).
    pub token_on_loopback: bool,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    /// Answers with a 4xx status.
    pub client_errors: AtomicU64,
    /// Answers with a 5xx status.
    pub server_errors: AtomicU64,
    /// `/api/ingest`: batches merged, buckets in them, buckets no tier here could take,
    /// records skipped as already merged, bodies refused.
    pub ingest_batches: AtomicU64,
    pub ingest_buckets: AtomicU64,
    pub ingest_unplaced: AtomicU64,
    pub ingest_duplicates: AtomicU64,
    /// Events stored from other tallies (not counting repeats).
    pub ingest_events: AtomicU64,
    pub ingest_rejected: AtomicU64,
    /// What `/-/ready` and `/-/metrics` answer (kept by the agent).
    pub health: health::Health,
    /// Dashboard files not loaded (at startup and on each reload).
    pub dashboard_errors: AtomicU64,
    /// Bodies refused as over `max_body_bytes` (413).
    pub too_large: AtomicU64,
    /// Connections accepted, refused at `max_connections`, and closed by a header, body or
    /// idle timeout; accept failures (EMFILE …).
    pub connections: AtomicU64,
    pub refused_connections: AtomicU64,
    pub timeouts: AtomicU64,
    pub accept_errors: AtomicU64,
}

impl Stats {
    /// The bounds' counters as `tally.http.*` self-metrics.
    pub fn limit_counters(&self) -> [(&'static str, u64); 5] {
        [
            ("tally.http.too_large", self.too_large.load(Relaxed)),
            ("tally.http.connections", self.connections.load(Relaxed)),
            (
                "tally.http.refused_connections",
                self.refused_connections.load(Relaxed),
            ),
            ("tally.http.timeouts", self.timeouts.load(Relaxed)),
            ("tally.http.accept_errors", self.accept_errors.load(Relaxed)),
        ]
    }
}

pub struct State {
    pub store: Arc<Store>,
    /// The live tier `/stream` reads.
    pub live: Arc<crate::live::Tier>,
    pub settings: RwLock<Settings>,
    pub stats: Stats,
    pub limits: Limits,
    pub ingest: ingest::Ingest,
    /// Regular expressions of render targets, compiled once (`query::pattern`).
    pub patterns: query::pattern::Cache,
}

impl State {
    pub fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// An error answer: 4xx with the reason for the client, or a generic 500 (details logged).
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    /// A malformed render target: the reason and the 0-based character it is at (also sent
    /// as the `Tally-Error-Position` header, for the UI's target editor).
    BadTarget(String, usize),
    NotFound(String),
    Forbidden(&'static str),
    MethodNotAllowed,
    /// A request over a configured limit (413).
    TooLarge(String),
    /// A request that did not arrive in time (408).
    Timeout(String),
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadTarget(m, pos) => {
                let mut r = ApiError::BadRequest(m).into_response();
                r.headers_mut()
                    .insert("tally-error-position", header::HeaderValue::from(pos));
                return r;
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.to_string()),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed".to_string(),
            ),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::Timeout(m) => (StatusCode::REQUEST_TIMEOUT, m),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "Request failed.");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the tally log".to_string(),
                )
            }
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body + "\n",
        )
            .into_response()
    }
}

impl From<query::Error> for ApiError {
    // Limits are 413 with the reason; anything else the client sent is a 400.
    fn from(e: query::Error) -> Self {
        match e {
            e @ (query::Error::Store(_) | query::Error::NotInline) => {
                ApiError::Internal(e.to_string())
            }
            e @ (query::Error::TooManyPoints(..) | query::Error::TooManySeries(..)) => {
                ApiError::TooLarge(e.to_string())
            }
            query::Error::Target(t, e) => {
                let pos = e.pos;
                ApiError::BadTarget(query::Error::Target(t, e).to_string(), pos)
            }
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// The whole API as a router, so tests can call it without a socket.
pub fn router(state: Arc<State>) -> Router {
    let limit = state.limits.max_body_bytes;
    graphite::routes()
        .merge(render::routes())
        .merge(functions::routes())
        .merge(tags::routes())
        .merge(ingest::routes())
        .merge(health::routes())
        .merge(api::routes())
        .merge(ui::routes())
        // Every route merged above goes through the limits (`limits.rs`).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::body_limit,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .merge(stream::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    state.stats.requests.fetch_add(1, Relaxed);
    let response = next.run(request).await;
    if response.status().is_client_error() {
        state.stats.client_errors.fetch_add(1, Relaxed);
    } else if response.status().is_server_error() {
        state.stats.server_errors.fetch_add(1, Relaxed);
    }
    response
}

/// Serves the API on `listener` until `shutdown` resolves, within `state.limits`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    conn::serve(listener, state, app, shutdown).await
}
