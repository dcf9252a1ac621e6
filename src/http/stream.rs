//! `GET /stream`: the live tier as Server-Sent Events, one connection for many targets
//! (README, "Live stream"). Each connection reads the rings at its own cursor once per step;
//! hyper polls the body only when its buffer has room, so a slow client costs no queue. The
//! stream ends when the connection closes (its watches are freed at once) or at shutdown.

use super::request::with_slashes;
use super::{ApiError, Params, State};
use crate::live::request::{self, Target};
use crate::live::{self, Frame, Reader, Watched};
use crate::metric::Kind;
use crate::query::{self, Evaluator, Limits, View};
use crate::store::SeriesInfo;
use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Slots are read this long after they end (lets the pipeline fold what arrived just then).
const READ_DELAY_MS: i64 = 5;
/// Globs and tag expressions are resolved again this often.
const RESOLVE_EVERY_MS: i64 = 1000;

pub fn routes() -> Router<Arc<State>> {
    with_slashes(vec![("/stream", get(stream))])
}

/// One target of the connection and the series it watches.
struct TargetState {
    text: String,
    target: Target,
    /// Names watched for it (plain targets), or the rings a function reads.
    names: FxHashSet<String>,
    /// Function targets: ids of the result series, by name.
    results: FxHashMap<String, usize>,
}

struct Streaming {
    state: Arc<State>,
    conn: live::Connection,
    reader: Reader,
    targets: Vec<TargetState>,
    /// Rings by name, for function targets.
    rings: FxHashMap<String, Arc<live::Ring>>,
    next_id: usize,
    pending: VecDeque<Event>,
    events_seen: u64,
    last_resolve: i64,
    /// The client gave a cursor (a reconnect): it is kept.
    resumed: bool,
    stop: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

async fn stream(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), b"");
    let last_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let tier = state.live.clone();
    let req = request::parse(p.pairs(), last_id, &tier.settings).map_err(ApiError::BadRequest)?;
    let conn = match tier.connect() {
        Ok(c) => c,
        Err(e) => return Ok(unavailable(e)),
    };
    let targets = req
        .targets
        .into_iter()
        .map(|(text, target)| TargetState {
            text,
            target,
            names: FxHashSet::default(),
            results: FxHashMap::default(),
        })
        .collect();
    let mut s = Streaming {
        reader: Reader {
            step: req.step_ms,
            window: tier.settings.window_ms as i64,
            cursor: req.cursor.map(|c| c.div_euclid(req.step_ms) * req.step_ms),
            watched: Vec::new(),
            functions: 0,
        },
        events_seen: state.store.last_event_id(),
        state,
        conn,
        targets,
        rings: FxHashMap::default(),
        next_id: 0,
        pending: VecDeque::new(),
        last_resolve: live::now_ms(),
        resumed: req.cursor.is_some(),
        stop: Box::pin(tier.stopping()),
    };
    s.reader.functions = s
        .targets
        .iter()
        .filter(|t| matches!(t.target, Target::Function(_)))
        .count();
    s.pending.push_back(hello(&s, &tier.settings));
    let announced = match s.resolve(true).await {
        Ok(a) => a,
        Err(e) => return Ok(refusal(e)),
    };
    if !announced.is_empty() {
        s.pending.push_back(series_event(announced));
    }
    let body = futures_util::stream::unfold(s, next);
    Ok((
        [
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Sse::new(body).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
        .into_response())
}

fn unavailable(e: live::Error) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{e}\n"),
    )
        .into_response()
}

/// A refused watch: over a series limit (413), the daemon stopping (503), a bad target (400).
fn refusal(e: Refusal) -> Response {
    match e {
        Refusal::Live(e @ live::Error::TooManyConnections(_))
        | Refusal::Live(e @ live::Error::ShuttingDown) => unavailable(e),
        Refusal::Live(e) => ApiError::TooLarge(e.to_string()).into_response(),
        Refusal::Query(e) => ApiError::from(e).into_response(),
    }
}

enum Refusal {
    Live(live::Error),
    Query(query::Error),
}

fn hello(s: &Streaming, settings: &crate::config::Live) -> Event {
    let targets: Vec<&str> = s.targets.iter().map(|t| t.text.as_str()).collect();
    message(
        &s.state,
        "hello",
        None,
        json!({
            "step": s.reader.step,
            "window": settings.window_ms,
            "now": live::now_ms(),
            "targets": targets,
        })
        .to_string(),
    )
}

fn message(state: &State, name: &str, id: Option<i64>, data: String) -> Event {
    let stats = &state.live.stats;
    stats.messages.fetch_add(1, Relaxed);
    // What goes on the wire: "event: …\nid: …\ndata: …\n\n".
    let id_len = id.map_or(0, |i| 5 + i.to_string().len());
    stats
        .bytes
        .fetch_add((8 + name.len() + id_len + 7 + data.len()) as u64, Relaxed);
    let e = Event::default().event(name).data(data);
    match id {
        Some(id) => e.id(id.to_string()),
        None => e,
    }
}

fn series_event(list: Vec<serde_json::Value>) -> Event {
    Event::default()
        .event("series")
        .data(json!({ "series": list }).to_string())
}

/// The stream's next message: waits for the end of the next slot, or ends at shutdown.
async fn next(mut s: Streaming) -> Option<(Result<Event, Infallible>, Streaming)> {
    loop {
        if let Some(e) = s.pending.pop_front() {
            return Some((Ok(e), s));
        }
        let now = live::now_ms();
        let wait = s.reader.step - now.rem_euclid(s.reader.step) + READ_DELAY_MS;
        tokio::select! {
            _ = &mut s.stop => return None,
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
        }
        s.tick().await;
    }
}

impl Streaming {
    async fn tick(&mut self) {
        let now = live::now_ms();
        if now - self.last_resolve >= RESOLVE_EVERY_MS {
            self.last_resolve = now;
            match self.resolve(false).await {
                Ok(list) if !list.is_empty() => {
                    let e = series_event(list);
                    self.pending.push_back(e);
                }
                Ok(_) => {}
                Err(e) => {
                    let text = match e {
                        Refusal::Live(e) => e.to_string(),
                        Refusal::Query(e) => e.to_string(),
                    };
                    let e = message(
                        &self.state,
                        "error",
                        None,
                        json!({ "message": text }).to_string(),
                    );
                    self.pending.push_back(e);
                }
            }
        }
        self.push_events();
        let Some(mut frame) = self.reader.frame(now - READ_DELAY_MS) else {
            return;
        };
        self.functions(&mut frame, now);
        if frame.reset {
            self.state.live.stats.resets.fetch_add(1, Relaxed);
        }
        let name = if frame.reset { "reset" } else { "data" };
        let id = frame.end(self.reader.step);
        let e = message(&self.state, name, Some(id), frame.json());
        self.pending.push_back(e);
    }

    /// New graphite events (`POST /events/`, parser rules, other tallies) since the last tick.
    fn push_events(&mut self) {
        let last = self.state.store.last_event_id();
        if last <= self.events_seen {
            return;
        }
        for e in self.state.store.events_by_id(self.events_seen, last) {
            let data =
                json!({"id": e.id, "when": e.when, "what": e.what, "tags": e.tags, "data": e.data});
            let m = message(&self.state, "event", None, data.to_string());
            self.pending.push_back(m);
        }
        self.events_seen = last;
    }

    /// Resolves every target against the store's index and watches what is new. The first
    /// time, a target over the limits refuses the whole request; later an `error` says so.
    async fn resolve(&mut self, first: bool) -> Result<Vec<serde_json::Value>, Refusal> {
        let settings = self.state.settings();
        let mut announced = Vec::new();
        for ti in 0..self.targets.len() {
            let mut wanted: Vec<(SeriesInfo, Option<View>)> = Vec::new();
            let inner = match &self.targets[ti].target {
                Target::Function(expr) => {
                    let mut list = Vec::new();
                    live::source::paths(expr, &mut list);
                    list
                }
                t => vec![t.clone()],
            };
            for t in &inner {
                for info in resolve(&self.state, t, &settings.query).map_err(Refusal::Query)? {
                    if !self.targets[ti].names.contains(info.series.as_str()) {
                        let view = match t {
                            Target::Path { view, .. } => *view,
                            _ => None,
                        };
                        wanted.push((info, view));
                    }
                }
            }
            wanted.sort_by(|a, b| a.0.series.as_str().cmp(b.0.series.as_str()));
            wanted.dedup_by(|a, b| a.0.series == b.0.series);
            if wanted.is_empty() {
                continue;
            }
            let list = wanted
                .iter()
                .map(|(i, _)| (i.series.clone(), i.kind))
                .collect();
            let rings = match self.conn.attach(list).await {
                Ok(r) => r,
                Err(e) if first => return Err(Refusal::Live(e)),
                Err(e) => {
                    // Tell the client once per target and stop trying for it.
                    let seen: Vec<String> =
                        wanted.iter().map(|(i, _)| i.series.to_string()).collect();
                    self.targets[ti].names.extend(seen);
                    let m = json!({"target": ti, "message": e.to_string()}).to_string();
                    let m = message(&self.state, "error", None, m);
                    self.pending.push_back(m);
                    continue;
                }
            };
            let function = matches!(self.targets[ti].target, Target::Function(_));
            for ((info, view), ring) in wanted.into_iter().zip(rings) {
                self.targets[ti].names.insert(info.series.to_string());
                if function {
                    self.rings.insert(info.series.to_string(), ring);
                    continue;
                }
                let view = live_view(view, info.kind);
                let res = settings
                    .schemas
                    .for_name(info.series.as_str())
                    .finest()
                    .resolution;
                let now = live::now_ms();
                let oldest = now - self.reader.window + self.reader.step;
                let join = ring.join_for(oldest, i64::from(res) * 1000, view, self.reader.step);
                if first && self.reader.cursor.is_none_or(|c| c > join.live_ms) && !self.resumed {
                    // A new stream starts where the earliest series went live.
                    self.reader.cursor =
                        Some(join.live_ms.div_euclid(self.reader.step) * self.reader.step);
                }
                announced.push(describe(self.next_id, ti, &ring, &join, view));
                let seen = ring.lock().late_start(self.resumed);
                self.reader.watched.push(Watched {
                    id: self.next_id,
                    ring,
                    view,
                    seen,
                });
                self.next_id += 1;
            }
        }
        Ok(announced)
    }

    /// Adds the points of the function targets for the frame's slots.
    fn functions(&mut self, frame: &mut Frame, now: i64) {
        let step = self.reader.step;
        if !self
            .targets
            .iter()
            .any(|t| matches!(t.target, Target::Function(_)))
        {
            return;
        }
        let settings = self.state.settings();
        let source = live::source::Source {
            store: &self.state.store,
            options: &settings.query,
            rings: &self.rings,
            step_ms: step,
        };
        let end = frame.end(step) / 1000;
        let until = end - step / 1000;
        let request = query::Request {
            from: end - self.reader.window / 1000,
            until,
            now: now / 1000,
            max_data_points: None,
            x_files_factor: 0.0,
        };
        let ev =
            Evaluator::new(&source, request, Limits::default()).with_patterns(&self.state.patterns);
        let mut announced = Vec::new();
        for (ti, t) in self.targets.iter_mut().enumerate() {
            if !matches!(t.target, Target::Function(_)) {
                continue;
            }
            let result = match ev.targets(std::slice::from_ref(&t.text)) {
                Ok(r) => r,
                Err(e) => {
                    let m = json!({"target": ti, "message": e.to_string()}).to_string();
                    self.pending
                        .push_back(message(&self.state, "error", None, m));
                    continue;
                }
            };
            // Slots from the one after the newest ring's first: before it some inputs were
            // not watched yet, and a point there would differ from /render's.
            let ready = t
                .names
                .iter()
                .filter_map(|n| self.rings.get(n))
                .map(|r| r.live_ms.div_euclid(step) * step + step)
                .max()
                .unwrap_or(i64::MAX);
            for series in result {
                let id = *t.results.entry(series.name.clone()).or_insert_with(|| {
                    let id = self.next_id;
                    self.next_id += 1;
                    let live = ready.max(frame.t);
                    announced.push(json!({
                        "id": id, "target": ti, "name": series.name, "kind": null,
                        "view": null, "join": live, "live": live, "bridge": null,
                    }));
                    id
                });
                let vals: Vec<Option<f64>> = (0..frame.n as i64)
                    .map(|k| {
                        if frame.t + k * step < ready {
                            return None;
                        }
                        let ts = (frame.t + k * step) / 1000;
                        let i = (ts - series.start).checked_div(series.step)?;
                        (ts >= series.start && (ts - series.start) % series.step == 0)
                            .then(|| series.values.get(i as usize).copied().flatten())
                            .flatten()
                    })
                    .collect();
                if frame.reset || vals.iter().any(Option::is_some) {
                    frame.values.push((id, vals));
                }
            }
        }
        if !announced.is_empty() {
            self.pending.push_back(series_event(announced));
        }
    }
}

/// The view streamed: the explicit one, else the kind's default (sets: `obvs`, the live tier
/// keeps no members).
fn live_view(explicit: Option<View>, kind: Kind) -> View {
    match explicit.unwrap_or_else(|| View::default_for(kind)) {
        View::Distinct => View::Obvs,
        v => v,
    }
}

fn describe(
    id: usize,
    target: usize,
    ring: &live::Ring,
    j: &live::Join,
    view: View,
) -> serde_json::Value {
    let secs = (j.live_ms - j.join_ms) as f64 / 1000.0;
    let bridge = j
        .bridge
        .as_ref()
        .filter(|_| secs > 0.0)
        .and_then(|b| view.value_secs(b, secs));
    json!({
        "id": id,
        "target": target,
        "name": ring.series.as_str(),
        "kind": ring.kind.as_str(),
        "view": view.to_string(),
        "join": j.join_ms,
        "live": j.live_ms,
        "bridge": bridge,
    })
}

/// The series a plain or tag target names now.
fn resolve(
    state: &State,
    target: &Target,
    options: &query::Options,
) -> Result<Vec<SeriesInfo>, query::Error> {
    match target {
        Target::Path { path, .. } => query::resolve(&state.store, path, options),
        Target::Tags(exprs) => {
            let parsed = exprs
                .iter()
                .map(|e| query::tags::Expr::parse(e))
                .collect::<Result<Vec<_>, _>>()?;
            let names = state
                .store
                .tagged_series()
                .into_iter()
                .map(|i| i.series.to_string())
                .collect();
            Ok(query::tags::matching(&parsed, names)?
                .into_iter()
                .filter_map(|n| state.store.lookup(&n))
                .collect())
        }
        Target::Function(_) => Ok(Vec::new()),
    }
}
