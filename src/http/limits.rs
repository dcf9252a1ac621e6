//! Every bound the API puts on one request, in one place that every route goes through: the
//! body (413 as soon as `Content-Length` or the bytes read pass `max_body_bytes`, the rest
//! never read), the time a body may take to arrive, and the `jsonp` callback (a JavaScript
//! identifier path only, since the web UI shares this origin). Connections are bounded in
//! `conn.rs`.

use super::{ApiError, State};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{LengthLimitError, Limited};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// An event's tags: at most this many, each at most `MAX_TAG_BYTES` (graphite-web has no
/// bound; 100,000 tags in one event were taken before).
pub const MAX_EVENT_TAGS: usize = 100;
pub const MAX_TAG_BYTES: usize = 255;

/// An event's tags within the bounds, else a 413 that says which.
pub(super) fn event_tags(tags: &[String]) -> Result<(), ApiError> {
    if tags.len() > MAX_EVENT_TAGS {
        return Err(ApiError::TooLarge(format!(
            "an event has at most {MAX_EVENT_TAGS} tags, this one {}",
            tags.len()
        )));
    }
    match tags.iter().find(|t| t.len() > MAX_TAG_BYTES) {
        Some(t) => Err(ApiError::TooLarge(format!(
            "event tags are at most {MAX_TAG_BYTES} bytes, one has {}",
            t.len()
        ))),
        None => Ok(()),
    }
}

/// Text the graph lays out, measured and drawn per tick or line: `xFormat` at most 100
/// characters (10,000 `%n` cost 2 s of CPU), titles at most 1,000.
pub const MAX_X_FORMAT: usize = 100;
pub const MAX_TITLE: usize = 1000;

/// The graph's text parameters within the bounds, else a 400 that names the parameter.
pub(super) fn graph_text(p: &super::Params) -> Result<(), ApiError> {
    for (key, max) in [
        ("xFormat", MAX_X_FORMAT),
        ("title", MAX_TITLE),
        ("vtitle", MAX_TITLE),
        ("vtitleRight", MAX_TITLE),
    ] {
        if let Some(v) = p.get(key).filter(|v| v.chars().count() > max) {
            return Err(ApiError::BadRequest(format!(
                "{key}: at most {max} characters, got {}",
                v.chars().count()
            )));
        }
    }
    Ok(())
}

/// The HTTP server's bounds (config `http:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Open connections at most; more are closed at once and counted.
    pub max_connections: usize,
    /// A request's headers (and the wait for the next request on a kept-alive connection)
    /// must arrive within this.
    pub header_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed; a request
    /// body must arrive within it too.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 8 << 20,
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Middleware on every route: a declared body over the limit is a 413 before any of it is
/// read (and the connection is closed rather than drained); any other body is wrapped so
/// that reading past the limit fails, whoever reads it.
pub(super) async fn body_limit(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        state.stats.too_large.fetch_add(1, Relaxed);
        return too_large(limit);
    }
    let request = request.map(|body| Body::new(Limited::new(body, limit)));
    next.run(request).await
}

fn too_large(limit: usize) -> Response {
    let mut response =
        ApiError::TooLarge(format!("request body over http.max_body_bytes ({limit})"))
            .into_response();
    // The unread rest of the body is not drained: the connection ends with this answer.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads a whole request body: past the limit a 413, slower than the idle timeout a 408.
pub(super) async fn read_body(state: &State, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.limits.max_body_bytes;
    let read = axum::body::to_bytes(body, limit);
    match tokio::time::timeout(state.limits.idle_timeout, read).await {
        Err(_) => {
            state.stats.timeouts.fetch_add(1, Relaxed);
            Err(ApiError::Timeout(format!(
                "the request body did not arrive within http.idle_timeout ({:?})",
                state.limits.idle_timeout
            )))
        }
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if over_limit(&e) => {
            state.stats.too_large.fetch_add(1, Relaxed);
            Err(ApiError::TooLarge(format!(
                "request body over http.max_body_bytes ({limit})"
            )))
        }
        Ok(Err(e)) => Err(ApiError::BadRequest(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

fn over_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A `jsonp` callback as graphite-web takes it, but only a JavaScript identifier path
/// (`cb`, `jQuery123_456`, `a.b.c`, at most 128 characters): anything else would be script
/// written by whoever made the link.
pub(super) fn callback(cb: &str) -> Result<&str, ApiError> {
    let ident = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    if cb.len() <= 128 && cb.split('.').all(ident) {
        Ok(cb)
    } else {
        Err(ApiError::BadRequest(
            "jsonp must be a JavaScript identifier path such as cb or a.b_c".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_identifier_paths_only() {
        for ok in ["cb", "jQuery1124_1700000000", "a.b.c", "$", "_x1"] {
            assert!(callback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "</script><x>(",
            "alert(1)//",
            "a..b",
            ".a",
            "a.",
            "1a",
            "a b",
            "a[0]",
            "é",
            &"a".repeat(129),
        ] {
            assert!(callback(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_too_large_not_bad() {
        use http_body_util::BodyExt;
        let body = Body::new(Limited::new(Body::from(vec![b'x'; 100]), 10));
        let e = body.collect().await.unwrap_err();
        assert!(over_limit(&e));
        assert!(!over_limit(&std::io::Error::other("x")));
    }
}
