//! `live:`: the in-memory live tier and the `/stream` endpoint (README, "Live stream").
//! Always on: it costs one atomic load per feed while nobody watches.

use super::Problems;
use crate::schema;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LiveFile {
    /// Width of a live slot (default `100ms`): divides a second, or is whole seconds.
    pub step: Option<Spanned<String>>,
    /// How much a ring keeps (default `60s`, at least `60s`).
    pub window: Option<Spanned<String>>,
    /// How long a ring stays after its last watcher left (default `10s`).
    pub linger: Option<Spanned<String>>,
    /// Open `/stream` connections at most (default 64); more get a 503.
    pub max_connections: Option<usize>,
    /// Series one connection may watch (default 1024); more get a 413.
    pub max_series_per_connection: Option<usize>,
    /// Series watched by all connections together (default 10000); more get a 413.
    pub max_watched_series: Option<usize>,
    /// Observations whose time is further than this from their arrival stay out of the live
    /// tier, counted in `tally.live.late` (default `2s`).
    pub max_lag: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub step_ms: u64,
    pub window_ms: u64,
    pub linger_ms: u64,
    pub max_connections: usize,
    pub max_series_per_connection: usize,
    pub max_watched_series: usize,
    pub max_lag_ms: u64,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            step_ms: 100,
            window_ms: 60_000,
            linger_ms: 10_000,
            max_connections: 64,
            max_series_per_connection: 1024,
            max_watched_series: 10_000,
            max_lag_ms: 2_000,
        }
    }
}

fn ms(p: &mut Problems<'_>, value: &Option<Spanned<String>>, default: u64) -> u64 {
    match value {
        None => default,
        Some(s) => schema::parse_duration_ms(&s.value).unwrap_or_else(|e| {
            p.at(s, e);
            default
        }),
    }
}

pub(super) fn validate(file: Option<LiveFile>, p: &mut Problems<'_>) -> Live {
    let f = file.unwrap_or_default();
    let d = Live::default();
    let step_ms = ms(p, &f.step, d.step_ms);
    if let Some(s) = &f.step
        && !(1000u64.is_multiple_of(step_ms) || step_ms.is_multiple_of(1000))
    {
        p.at(
            s,
            format!(
                "live.step {:?}: must divide a second (e.g. 100ms, 250ms) or be whole seconds",
                s.value
            ),
        );
    }
    let window_ms = ms(p, &f.window, d.window_ms);
    if let Some(s) = &f.window
        && (!(60_000..=3_600_000).contains(&window_ms) || !window_ms.is_multiple_of(step_ms.max(1)))
    {
        p.at(
            s,
            format!(
                "live.window {:?}: must be from 60s to 1h and a multiple of live.step",
                s.value
            ),
        );
    }
    let max_lag_ms = ms(p, &f.max_lag, d.max_lag_ms);
    if let Some(s) = &f.max_lag
        && max_lag_ms >= window_ms
    {
        p.at(
            s,
            format!(
                "live.max_lag {:?}: must be shorter than live.window",
                s.value
            ),
        );
    }
    Live {
        step_ms,
        window_ms,
        linger_ms: ms(p, &f.linger, d.linger_ms),
        max_connections: f.max_connections.unwrap_or(d.max_connections).max(1),
        max_series_per_connection: f
            .max_series_per_connection
            .unwrap_or(d.max_series_per_connection)
            .max(1),
        max_watched_series: f.max_watched_series.unwrap_or(d.max_watched_series).max(1),
        max_lag_ms,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use std::path::Path;

    #[test]
    fn defaults_and_keys() {
        let c = parse("", Path::new("t.yaml")).unwrap();
        assert_eq!(c.live, super::Live::default());
        let c = parse(
            "live:\n  step: 250ms\n  window: 2m\n  linger: 5s\n  max_connections: 3\n  max_series_per_connection: 7\n  max_watched_series: 9\n  max_lag: 1s\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        assert_eq!(c.live.step_ms, 250);
        assert_eq!(c.live.window_ms, 120_000);
        assert_eq!(c.live.linger_ms, 5_000);
        assert_eq!(
            (
                c.live.max_connections,
                c.live.max_series_per_connection,
                c.live.max_watched_series
            ),
            (3, 7, 9)
        );
        assert_eq!(c.live.max_lag_ms, 1000);
    }

    #[test]
    fn bad_values_name_their_place() {
        let e = parse("live:\n  step: 300ms\n  window: 10s\n", Path::new("t.yaml")).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("t.yaml:2:9: live.step"), "{text}");
        assert!(text.contains("t.yaml:3:11: live.window"), "{text}");
        let e = parse("live:\n  nope: 1\n", Path::new("t.yaml")).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
