//! `compressPeriodicGaps`: a series written every N steps into a finer archive (so every
//! N-1 points are null) gets its real step back, as graphite-web's `_compressPeriodicGaps`
//! guesses it from the first three values, then `summarize(…, 'last')` from the first value.

use super::Type::*;
use super::{Args, Func, f, p};
use crate::query::Error;
use crate::query::series::{Agg, TimeSeries, Value};

pub const FUNCTIONS: &[Func] = &[f(
    "compressPeriodicGaps",
    "Transform",
    &[p("seriesList", SeriesList).req()],
    compress_periodic_gaps,
    "Removes periodic nulls (a value every N points, nulls between), so the step becomes N steps; a series without such a pattern is left as it is.",
)];

fn compress_periodic_gaps(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let xff = a.xff();
    Ok(a.series(0)?
        .into_iter()
        .map(|s| {
            let name = format!("compressPeriodicGaps({})", s.name);
            let mut out = compress(&s, xff).unwrap_or(s);
            out.rename(name.clone());
            out.path_expression = name;
            out
        })
        .collect())
}

/// Python's truth of a value: `None`, `0` and `0.0` are false (NaN is true).
fn truthy(v: Value) -> bool {
    v.is_some_and(|x| x != 0.0)
}

/// The compressed series, or `None` when no period is recognized.
fn compress(s: &TimeSeries, request_xff: f64) -> Option<TimeSeries> {
    let v = &s.values;
    let mut seen = v
        .iter()
        .enumerate()
        .filter(|(_, x)| truthy(**x))
        .map(|(i, _)| i);
    let first = seen.next()?;
    let second = seen.next()?;
    let guess = second - first;
    let third = second + guess;
    if guess <= 1 || third + 2 > v.len() {
        return None;
    }
    if !(truthy(v[third]) && v[third - 1].is_none() && v[third + 1].is_none()) {
        return None;
    }
    let interval = guess as i64 * s.step;
    let start = s.start + first as i64 * s.step;
    let values = summarize_last(s, interval, start, s.x_files_factor.unwrap_or(request_xff));
    let mut out = s.derive(s.name.clone(), values);
    out.path_expression = s.path_expression.clone();
    out.start = start;
    out.step = interval;
    out.end = start + interval * (out.values.len() as i64 - 1);
    Some(out)
}

/// graphite's `_summarizeValues(series, 'last', interval, newStart, series.end)`: buckets
/// from `start` while before the series' end; the points from the last one at or before a
/// bucket's start up to its end, kept if `nonNull / (interval / step) >= xff`.
fn summarize_last(s: &TimeSeries, interval: i64, start: i64, xff: f64) -> Vec<Value> {
    let step = s.step.max(1);
    let count = ((s.end - s.start + step - 1) / step).max(0) as usize;
    let n = count.min(s.values.len());
    let ts = |i: usize| s.start + i as i64 * step;
    let per_bucket = interval as f64 / step as f64;
    let mut out = Vec::new();
    let mut i = 0;
    let mut bucket = start;
    while bucket < s.end {
        let mut from = i;
        let mut non_null = 0usize;
        while i < n && ts(i) < bucket + interval {
            if ts(i) <= bucket {
                from = i;
            }
            if ts(i) >= bucket && s.values[i].is_some() {
                non_null += 1;
            }
            i += 1;
        }
        let keep = non_null > 0 && non_null as f64 / per_bucket >= xff;
        out.push(if keep {
            Agg::Last.apply(&s.values[from..i])
        } else {
            None
        });
        bucket += interval;
    }
    out
}
