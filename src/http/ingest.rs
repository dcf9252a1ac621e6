//! `POST /api/ingest`: a host tally's `type: tally` output delivering closed buckets (wire
//! format in `ship::tally`). Each bucket is merged into every tier of this store's schema for
//! the series whose resolution is a multiple of the bucket's, so every view stays exact here
//! too. Idempotent: per sending spool (its epoch) the highest record merged is kept as a store
//! cursor, committed in the same batch as the buckets, and records at or below it are skipped
//! — also after a restart of either side. The records' events are stored before that commit,
//! each with its origin (sending epoch, id there), which the store takes only once: a crash or
//! failed commit in between makes the sender repeat the batch, and the events are not doubled.
//! A write: loopback or the bearer token.

use super::request::{may_write, peer};
use super::{ApiError, State};
use crate::aggregate::Delta;
use crate::clock::unix_now;
use crate::ship::tally;
use crate::store::{self, Batch};
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

const CURSOR_PREFIX: &str = "ingest/";

/// What ingest remembers between requests.
#[derive(Debug, Default)]
pub struct Ingest {
    /// Epoch → highest record merged; loaded from the store's cursors on first use. Held
    /// across the commit so two deliveries of one batch cannot both be merged.
    seen: tokio::sync::Mutex<Option<HashMap<u64, u64>>>,
}

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new().route("/api/ingest", post(ingest))
}

fn cursor_key(epoch: u64) -> String {
    format!("{CURSOR_PREFIX}{epoch:016x}")
}

async fn ingest(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let peer = peer(&parts);
    let headers: HeaderMap = parts.headers;
    let settings = state.settings();
    may_write(&headers, peer, &settings)?;
    let body = super::limits::read_body(&state, body).await?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    if encoding != Some("snappy") {
        return Err(ApiError::BadRequest(
            "ingest bodies are snappy-compressed (Content-Encoding: snappy)".into(),
        ));
    }
    let (epoch, records) = tokio::task::spawn_blocking(move || tally::decode(&body))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| {
            state.stats.ingest_rejected.fetch_add(1, Relaxed);
            ApiError::BadRequest(format!("ingest: {e}"))
        })?;
    let mut seen = state.ingest.seen.lock().await;
    let seen = seen.get_or_insert_with(|| {
        state
            .store
            .cursors()
            .into_iter()
            .filter_map(|(k, v)| {
                let epoch = u64::from_str_radix(k.strip_prefix(CURSOR_PREFIX)?, 16).ok()?;
                Some((epoch, u64::from_le_bytes(v.as_slice().try_into().ok()?)))
            })
            .collect()
    });
    let last = seen.get(&epoch).copied().unwrap_or(0);
    let total = records.len();
    let fresh: Vec<_> = records.into_iter().filter(|r| r.seq > last).collect();
    let duplicates = total - fresh.len();
    state
        .stats
        .ingest_duplicates
        .fetch_add(duplicates as u64, Relaxed);
    let Some(newest) = fresh.last().map(|r| r.seq) else {
        return Ok(answer(0, 0, duplicates));
    };
    let events: Vec<crate::store::Event> = fresh
        .iter()
        .flat_map(|r| r.events.iter().flat_map(|e| e.list.iter().cloned()))
        .collect();
    if !events.is_empty() {
        let store = state.store.clone();
        let added = tokio::task::spawn_blocking(move || {
            let mut added = 0u64;
            for e in events {
                let origin = store::Origin {
                    source: epoch,
                    id: e.id,
                };
                if store
                    .add_event_from(origin, e.when, &e.what, &e.tags, &e.data)?
                    .is_some()
                {
                    added += 1;
                }
            }
            Ok::<u64, store::Error>(added)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        match added {
            Ok(n) => {
                state.stats.ingest_events.fetch_add(n, Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, "Ingest could not store events.");
                return Ok((
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storing events failed; retry\n",
                )
                    .into_response());
            }
        }
    }
    let schemas = settings.schemas.clone();
    let now = unix_now();
    let mut merged: FxHashMap<(crate::metric::Series, u32, i64), Delta> = FxHashMap::default();
    let mut buckets = 0u64;
    let mut unplaced = 0u64;
    for rec in &fresh {
        for e in &rec.entries {
            let schema = schemas.for_name(e.series.as_str());
            for (start, bucket) in &e.buckets {
                buckets += 1;
                let mut placed = false;
                for tier in &schema.tiers {
                    if tier.resolution % e.resolution != 0 {
                        continue;
                    }
                    let res = i64::from(tier.resolution);
                    let slot = start.div_euclid(res) * res;
                    if slot + res <= now.saturating_sub(tier.retention as i64) {
                        continue;
                    }
                    placed = true;
                    merged
                        .entry((e.series.clone(), tier.resolution, slot))
                        .and_modify(|d| d.bucket.merge(bucket))
                        .or_insert_with(|| Delta {
                            series: e.series.clone(),
                            kind: e.kind,
                            resolution: tier.resolution,
                            start: slot,
                            bucket: bucket.clone(),
                        });
                }
                unplaced += u64::from(!placed);
            }
        }
    }
    let mut deltas: Vec<Delta> = merged.into_values().collect();
    deltas.sort_by(|a, b| {
        (a.series.as_str(), a.resolution, a.start).cmp(&(b.series.as_str(), b.resolution, b.start))
    });
    // Watched series see the buckets as they came, once committed (a retried batch once):
    // whatever this store's tiers are, 1 s ones may fit a live slot, the others are late.
    let live: Vec<Delta> = if state.live.watched() > 0 {
        fresh
            .iter()
            .flat_map(|r| &r.entries)
            .flat_map(|e| {
                e.buckets.iter().map(|(start, bucket)| Delta {
                    series: e.series.clone(),
                    kind: e.kind,
                    resolution: e.resolution,
                    start: *start,
                    bucket: bucket.clone(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let batch = Batch {
        deltas,
        cursors: vec![(cursor_key(epoch), newest.to_le_bytes().to_vec())],
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.commit(batch)).await {
        Ok(Ok(())) => state.live.ingest(&live),
        Ok(Err(store::Error::Invalid(reason))) => {
            state.stats.ingest_rejected.fetch_add(1, Relaxed);
            return Err(ApiError::BadRequest(format!("ingest: {reason}")));
        }
        Ok(Err(e)) => {
            // The sender retries; 503 says so.
            tracing::error!(error = %e, "Ingest commit failed.");
            return Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                "store commit failed; retry\n",
            )
                .into_response());
        }
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    }
    seen.insert(epoch, newest);
    state.stats.ingest_buckets.fetch_add(buckets, Relaxed);
    state.stats.ingest_unplaced.fetch_add(unplaced, Relaxed);
    state.stats.ingest_batches.fetch_add(1, Relaxed);
    Ok(answer(fresh.len(), buckets, duplicates))
}

fn answer(records: usize, buckets: u64, duplicates: usize) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "records": records, "buckets": buckets, "duplicates": duplicates })
            .to_string(),
    )
        .into_response()
}
