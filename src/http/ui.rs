//! The web UI's files: every file of the top-level `ui/` directory, embedded in the binary by
//! `build.rs` as a plain table with an ETag computed at compile time. `GET /` is
//! `ui/index.html`, `GET /ui/<file>` the rest. Answers carry a strict Content-Security-Policy
//! (scripts, styles and connections only from this origin, no inline code, no framing) and
//! `no-cache`, so browsers revalidate with `If-None-Match` and get a 304 while nothing changed.
//! Nothing runs while nobody asks.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// `(file name, bytes, ETag)`, sorted by name.
pub static FILES: &[(&str, &[u8], &str)] = include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));

/// What a UI page may load: everything from this origin, nothing inline, no plugins, no frames.
/// `img-src data:` is for canvas snapshots; `blob:` for "show as YAML" downloads.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{file}", get(file))
}

/// The embedded file named `name`, with its ETag.
pub fn find(name: &str) -> Option<(&'static [u8], &'static str)> {
    FILES
        .binary_search_by(|(n, _, _)| (*n).cmp(name))
        .ok()
        .map(|i| (FILES[i].1, FILES[i].2))
}

pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some((bytes, etag)) = find(name) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no UI file {name:?}\n"),
        )
            .into_response();
    };
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = bytes.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(name)),
        );
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_static(etag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const UI_BUDGET: usize = 100_000;

    fn on_disk() -> Vec<(String, usize)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut names: Vec<(String, usize)> = std::fs::read_dir(dir)
            .expect("ui/ exists")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().map_or(0, |m| m.len() as usize),
                )
            })
            .filter(|(n, _)| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_ui_file_is_embedded_and_the_whole_ui_fits_the_budget() {
        let disk = on_disk();
        let names = |list: &[(String, usize)]| list.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        let table: Vec<(String, usize)> = FILES
            .iter()
            .map(|(n, b, _)| (n.to_string(), b.len()))
            .collect();
        assert_eq!(
            names(&table),
            names(&disk),
            "ui/ and the embedded table differ"
        );
        // What is served: JavaScript without its comment lines (build.rs), the rest as written.
        for ((name, served), (_, written)) in table.iter().zip(&disk) {
            if name.ends_with(".js") {
                assert!(served <= written, "{name}");
            } else {
                assert_eq!(served, written, "{name}: rebuild");
            }
        }
        let total: usize = FILES.iter().map(|(_, b, _)| b.len()).sum();
        assert!(
            total <= UI_BUDGET,
            "the UI is {total} bytes served, over {UI_BUDGET}"
        );
        assert!(find("index.html").is_some());
        assert!(FILES.windows(2).all(|w| w[0].0 < w[1].0), "sorted for find");
        for (name, _, etag) in FILES {
            assert!(
                etag.starts_with('"') && etag.ends_with('"'),
                "{name}: {etag}"
            );
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }

    #[test]
    fn index_with_csp_then_304_on_its_etag_and_404_for_the_unknown() {
        let get = |name: &str, etag: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(e) = etag {
                h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(e).unwrap());
            }
            serve(name, &h)
        };
        let r = get("index.html", None);
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for rule in [
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(rule), "{csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        let etag = h[header::ETAG].to_str().unwrap().to_string();
        assert_eq!(get("index.html", Some(&etag)).status(), 304);
        assert_eq!(
            get("index.html", Some(&format!("W/{etag}, \"x\""))).status(),
            304
        );
        assert_eq!(get("index.html", Some("\"other\"")).status(), 200);
        assert_eq!(get("nope.js", None).status(), 404);
        assert_eq!(get("../Cargo.toml", None).status(), 404);
    }
}
