//! A `/stream` request's parameters, checked before anything is watched (README, "Live
//! stream"). Pure: the fuzz target `stream_request` feeds it arbitrary pairs.

use crate::config;
use crate::query::View;
use crate::query::target::{self, Expr};

/// What one `target=` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A path or glob, with an optional `:view`.
    Path { path: String, view: Option<View> },
    /// `seriesByTag('k=v', …)`: tag expressions (resolved like `/render`'s).
    Tags(Vec<String>),
    /// Graphite functions, evaluated over the live window at each step (whole-second steps).
    Function(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The targets as given, and what each asks for.
    pub targets: Vec<(String, Target)>,
    /// Slot width of this stream, ms (a multiple of `live.step`).
    pub step_ms: i64,
    /// Continue after this slot end (ms): `Last-Event-ID`, `last_event_id=` or `from=`.
    pub cursor: Option<i64>,
}

/// Functions that read data from before the window they are asked for.
const NEEDS_HISTORY: [&str; 9] = [
    "timeShift",
    "timeStack",
    "timeSlice",
    "holtWintersForecast",
    "holtWintersConfidenceBands",
    "holtWintersConfidenceArea",
    "holtWintersAberration",
    "linearRegression",
    "events",
];

/// Functions whose window (a duration string or a number of points) must fit the live window.
const WINDOWED: [&str; 10] = [
    "movingAverage",
    "movingSum",
    "movingMin",
    "movingMax",
    "movingMedian",
    "movingWindow",
    "summarize",
    "smartSummarize",
    "hitcount",
    "exponentialMovingAverage",
];

/// Parses the parameters (`last_event_id` as the `Last-Event-ID` header gave it, which wins
/// over the parameters). The error is the 400's reason.
pub fn parse(
    pairs: &[(String, String)],
    last_event_id: Option<&str>,
    live: &config::Live,
) -> Result<Request, String> {
    let mut targets = Vec::new();
    let mut step_ms = live.step_ms as i64;
    let mut cursor = None;
    for (k, v) in pairs {
        match k.as_str() {
            "target" | "target[]" => {
                let t = v.trim();
                if !t.is_empty() {
                    targets.push((t.to_string(), parse_target(t)?));
                }
            }
            "step" => step_ms = parse_step(v, live)?,
            "from" | "last_event_id" => cursor = Some(parse_ms(k, v)?),
            // Cache busters.
            "_" => {}
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    if let Some(id) = last_event_id.filter(|s| !s.trim().is_empty()) {
        cursor = Some(parse_ms("Last-Event-ID", id.trim())?);
    }
    if targets.is_empty() {
        return Err("no target: give at least one target=".into());
    }
    if targets.len() > live.max_series_per_connection {
        return Err(format!(
            "{} targets: more than live.max_series_per_connection ({})",
            targets.len(),
            live.max_series_per_connection
        ));
    }
    for (text, t) in &targets {
        if let Target::Function(expr) = t {
            if step_ms % 1000 != 0 {
                return Err(format!(
                    "{text:?}: graphite functions stream at whole-second steps; add step=1s"
                ));
            }
            check_window(expr, live.window_ms as i64, step_ms)?;
        }
    }
    Ok(Request {
        targets,
        step_ms,
        cursor,
    })
}

fn parse_ms(key: &str, v: &str) -> Result<i64, String> {
    v.parse::<i64>()
        .ok()
        .filter(|&ms| ms >= 0)
        .ok_or_else(|| format!("{key} must be Unix milliseconds, got {v:?}"))
}

fn parse_step(v: &str, live: &config::Live) -> Result<i64, String> {
    let ms = if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) {
        v.parse::<u64>().ok()
    } else {
        crate::schema::parse_duration_ms(v).ok()
    }
    .filter(|&ms| ms > 0)
    .ok_or_else(|| format!("step {v:?}: expected a duration such as 100ms or 1s"))?;
    if ms % live.step_ms != 0 || ms > live.window_ms / 10 {
        return Err(format!(
            "step {v:?}: must be a multiple of live.step ({} ms) and at most a tenth of the window",
            live.step_ms
        ));
    }
    Ok(ms as i64)
}

fn parse_target(t: &str) -> Result<Target, String> {
    let expr = target::parse(t).map_err(|e| format!("bad target {t:?}: {e}"))?;
    match expr {
        Expr::Path(p) => {
            let (path, view) = View::split(&p);
            if view == Some(View::Distinct) {
                return Err(format!(
                    "{t:?}: the live tier keeps no set members; use :obvs instead of :distinct"
                ));
            }
            Ok(Target::Path {
                path: path.to_string(),
                view,
            })
        }
        Expr::Call(c) if c.name == "seriesByTag" => {
            let mut exprs = Vec::new();
            for a in &c.args {
                match a {
                    Expr::Str(s) => exprs.push(s.clone()),
                    _ => {
                        return Err(format!(
                            "{t:?}: seriesByTag takes tag expressions as strings"
                        ));
                    }
                }
            }
            if exprs.is_empty() {
                return Err(format!("{t:?}: seriesByTag needs a tag expression"));
            }
            Ok(Target::Tags(exprs))
        }
        e @ Expr::Call(_) => Ok(Target::Function(e)),
        _ => Err(format!("{t:?} is not a series target")),
    }
}

/// Refuses functions that need data from before the live window.
fn check_window(expr: &Expr, window_ms: i64, step_ms: i64) -> Result<(), String> {
    let Expr::Call(c) = expr else {
        return Ok(());
    };
    if NEEDS_HISTORY.contains(&c.name.as_str()) {
        return Err(format!(
            "{}() needs data from before the live window ({} s); use /render for it",
            c.name,
            window_ms / 1000
        ));
    }
    if WINDOWED.contains(&c.name.as_str()) {
        let arg = c.args.get(1).or_else(|| {
            c.kwargs
                .iter()
                .find(|(k, _)| k == "windowSize" || k == "intervalString")
                .map(|(_, v)| v)
        });
        let ms = match arg {
            Some(Expr::Int(points)) => points.saturating_mul(step_ms),
            Some(Expr::Str(s)) => {
                let s = s.trim_start_matches(['-', '+']);
                crate::query::attime::offset_seconds(s)
                    .map_or(i64::MAX, |secs| secs.saturating_mul(1000).abs())
            }
            _ => 0,
        };
        if ms > window_ms {
            return Err(format!(
                "{}() over {} s needs data from before the live window ({} s); use /render for it",
                c.name,
                ms / 1000,
                window_ms / 1000
            ));
        }
    }
    for a in c.args.iter().chain(c.kwargs.iter().map(|(_, v)| v)) {
        check_window(a, window_ms, step_ms)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn live() -> config::Live {
        config::Live::default()
    }

    #[test]
    fn targets_steps_and_cursors() {
        let r = parse(
            &pairs(&[
                ("target", "web.*.req:sumrate"),
                ("target", "seriesByTag('dc=a')"),
                ("step", "200ms"),
                ("last_event_id", "5"),
            ]),
            Some("1700000000100"),
            &live(),
        )
        .unwrap();
        assert_eq!(r.step_ms, 200);
        assert_eq!(r.cursor, Some(1_700_000_000_100));
        assert_eq!(
            r.targets[0].1,
            Target::Path {
                path: "web.*.req".into(),
                view: Some(View::SumRate)
            }
        );
        assert_eq!(r.targets[1].1, Target::Tags(vec!["dc=a".into()]));
        let r = parse(
            &pairs(&[("target", "sumSeries(a.*)"), ("step", "1s")]),
            None,
            &live(),
        )
        .unwrap();
        assert!(matches!(r.targets[0].1, Target::Function(_)));
    }

    #[test]
    fn refusals_say_why() {
        let bad = |list: &[(&str, &str)]| parse(&pairs(list), None, &live()).unwrap_err();
        assert!(bad(&[("target", "a"), ("nope", "1")]).contains("unknown parameter"));
        assert!(bad(&[]).contains("no target"));
        assert!(bad(&[("target", "a"), ("step", "150ms")]).contains("multiple of live.step"));
        assert!(bad(&[("target", "a("), ("step", "1s")]).contains("bad target"));
        assert!(bad(&[("target", "sumSeries(a.*)")]).contains("whole-second"));
        assert!(
            bad(&[("target", "timeShift(a, '1d')"), ("step", "1s")])
                .contains("timeShift() needs data")
        );
        assert!(
            bad(&[("target", "movingAverage(a, '5min')"), ("step", "1s")])
                .contains("movingAverage() over 300 s")
        );
        assert!(bad(&[("target", "movingAverage(a, 120)"), ("step", "1s")]).contains("over 120 s"));
        assert!(
            parse(
                &pairs(&[("target", "movingAverage(a, '10s')"), ("step", "1s")]),
                None,
                &live()
            )
            .is_ok()
        );
        assert!(bad(&[("target", "a:distinct")]).contains("set members"));
        assert!(bad(&[("target", "a"), ("from", "-3")]).contains("Unix milliseconds"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any parameters: a request or a reason, never a panic (the fuzz target's property).
        #[test]
        fn never_panics(pairs in proptest::collection::vec(
            (prop::sample::select(vec!["target", "step", "from", "last_event_id", "x", "_"]), ".{0,40}"),
            0..5,
        ), header in proptest::option::of("[0-9a-z-]{0,20}")) {
            let pairs: Vec<(String, String)> =
                pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let live = config::Live::default();
            if let Ok(r) = parse(&pairs, header.as_deref(), &live) {
                prop_assert!(r.step_ms > 0 && r.step_ms % live.step_ms as i64 == 0);
            }
        }
    }
}
