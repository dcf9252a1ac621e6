//! Filter Series, Filter Data and Sorting: keep, drop or order whole series by an aggregate of
//! their values or by name, and null out values past a threshold.

use super::Type::*;
use super::{Args, Default, Func, f, fmt_g, p};
use crate::query::Error;
use crate::query::series::{Agg, TimeSeries};
use std::cmp::Ordering;

const SL: super::Param = p("seriesList", SeriesList).req();
const N_INT: super::Param = p("n", Integer).req();
const N_FLOAT: super::Param = p("n", Float).req();
const OPERATORS: &[&str] = &["!=", "<", "<=", "=", ">", ">="];

pub const FUNCTIONS: &[Func] = &[
    f(
        "highest",
        "Filter Series",
        &[
            SL,
            p("n", Integer).def(Default::Int(1)),
            p("func", AggFunc)
                .def(Default::Str("average"))
                .opts(&Agg::NAMES),
        ],
        highest,
        "The n series with the highest aggregate (average by default).",
    )
    .by_value(),
    f(
        "lowest",
        "Filter Series",
        &[
            SL,
            p("n", Integer).def(Default::Int(1)),
            p("func", AggFunc)
                .def(Default::Str("average"))
                .opts(&Agg::NAMES),
        ],
        lowest,
        "The n series with the lowest aggregate (average by default).",
    )
    .by_value(),
    f(
        "highestCurrent",
        "Filter Series",
        &[SL, N_INT],
        |a| top(a, Agg::Last, true),
        "The n series with the highest last value.",
    )
    .by_value(),
    f(
        "highestMax",
        "Filter Series",
        &[SL, N_INT],
        |a| top(a, Agg::Max, true),
        "The n series with the highest maximum.",
    )
    .by_value(),
    f(
        "highestAverage",
        "Filter Series",
        &[SL, N_INT],
        |a| top(a, Agg::Average, true),
        "The n series with the highest average.",
    )
    .by_value(),
    f(
        "lowestCurrent",
        "Filter Series",
        &[SL, N_INT],
        |a| top(a, Agg::Last, false),
        "The n series with the lowest last value.",
    )
    .by_value(),
    f(
        "lowestAverage",
        "Filter Series",
        &[SL, N_INT],
        |a| top(a, Agg::Average, false),
        "The n series with the lowest average.",
    )
    .by_value(),
    f(
        "limit",
        "Filter Series",
        &[SL, N_INT],
        limit,
        "The first n series.",
    )
    .transparent(),
    f(
        "currentAbove",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Last, ">"),
        "Series whose last value is above n.",
    )
    .by_value(),
    f(
        "currentBelow",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Last, "<="),
        "Series whose last value is at or below n.",
    )
    .by_value(),
    f(
        "averageAbove",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Average, ">"),
        "Series whose average is above n.",
    )
    .by_value(),
    f(
        "averageBelow",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Average, "<="),
        "Series whose average is at or below n.",
    )
    .by_value(),
    f(
        "maximumAbove",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Max, ">"),
        "Series whose maximum is above n.",
    )
    .by_value(),
    f(
        "maximumBelow",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Max, "<="),
        "Series whose maximum is at or below n.",
    )
    .by_value(),
    f(
        "minimumAbove",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Min, ">"),
        "Series whose minimum is above n.",
    )
    .by_value(),
    f(
        "minimumBelow",
        "Filter Series",
        &[SL, N_FLOAT],
        |a| threshold(a, Agg::Min, "<="),
        "Series whose minimum is at or below n.",
    )
    .by_value(),
    f(
        "filterSeries",
        "Filter Series",
        &[
            SL,
            p("func", AggFunc).req().opts(&Agg::NAMES),
            p("operator", Text).req().opts(OPERATORS),
            p("threshold", Float).req(),
        ],
        filter_series,
        "Series whose aggregate compares to the threshold with the operator.",
    )
    .by_value(),
    f(
        "exclude",
        "Filter Series",
        &[SL, p("pattern", Text).req()],
        |a| by_regex(a, false),
        "Drops series whose name matches the regular expression.",
    )
    .transparent(),
    f(
        "grep",
        "Filter Series",
        &[SL, p("pattern", Text).req()],
        |a| by_regex(a, true),
        "Keeps series whose name matches the regular expression.",
    )
    .transparent(),
    f(
        "removeEmptySeries",
        "Filter Series",
        &[SL, p("xFilesFactor", Float)],
        remove_empty,
        "Drops series without enough non-null values.",
    )
    .by_value(),
    f(
        "unique",
        "Filter Series",
        &[p("seriesLists", SeriesList).req().multi()],
        unique,
        "Drops series whose name was seen already.",
    )
    .transparent(),
    f(
        "removeBetweenPercentile",
        "Filter Series",
        &[SL, N_FLOAT],
        remove_between_percentile,
        "Drops series that stay between the n-th and (100-n)-th percentile at every point.",
    )
    .by_value(),
    f(
        "removeAboveValue",
        "Filter Data",
        &[SL, N_FLOAT],
        |a| remove_value(a, true),
        "Values above n become null.",
    ),
    f(
        "removeBelowValue",
        "Filter Data",
        &[SL, N_FLOAT],
        |a| remove_value(a, false),
        "Values below n become null.",
    ),
    f(
        "removeAbovePercentile",
        "Filter Data",
        &[SL, N_FLOAT],
        |a| remove_percentile(a, true),
        "Values above the series' n-th percentile become null.",
    )
    .by_value(),
    f(
        "removeBelowPercentile",
        "Filter Data",
        &[SL, N_FLOAT],
        |a| remove_percentile(a, false),
        "Values below the series' n-th percentile become null.",
    )
    .by_value(),
    f(
        "mostDeviant",
        "Filter Series",
        &[SL, N_INT],
        most_deviant,
        "The n series with the largest variance.",
    )
    .by_value(),
    f(
        "averageOutsidePercentile",
        "Filter Series",
        &[SL, N_FLOAT],
        average_outside_percentile,
        "Series whose average lies outside the n-th and (100-n)-th percentile of the averages.",
    )
    .by_value(),
    f(
        "sortBy",
        "Sorting",
        &[
            SL,
            p("func", AggFunc)
                .def(Default::Str("average"))
                .opts(&Agg::NAMES),
            p("reverse", Boolean).def(Default::Bool(false)),
        ],
        sort_by,
        "Sorts series by an aggregate of their values.",
    )
    .by_value(),
    f(
        "sortByName",
        "Sorting",
        &[
            SL,
            p("natural", Boolean).def(Default::Bool(false)),
            p("reverse", Boolean).def(Default::Bool(false)),
        ],
        sort_by_name,
        "Sorts series by name (natural: numbers by value).",
    )
    .transparent(),
    f(
        "sortByTotal",
        "Sorting",
        &[SL],
        |a| sorted(a, Agg::Sum, true),
        "Sorts series by their sum, largest first.",
    )
    .by_value(),
    f(
        "sortByMaxima",
        "Sorting",
        &[SL],
        |a| sorted(a, Agg::Max, true),
        "Sorts series by their maximum, largest first.",
    )
    .by_value(),
    f(
        "sortByMinima",
        "Sorting",
        &[SL],
        sort_by_minima,
        "Sorts series by their minimum, smallest first (series never above 0 dropped).",
    )
    .by_value(),
];

/// graphite's `keyFunc`: a null aggregate sorts as -∞.
fn key(agg: Agg, s: &TimeSeries) -> f64 {
    agg.apply(&s.values).unwrap_or(f64::NEG_INFINITY)
}

fn cmp(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Stable sort by the aggregate; `reverse` keeps equal elements in order, as Python does.
/// Each key is computed once (in the comparator it was computed 2 n log n times).
fn sort(list: &mut Vec<TimeSeries>, agg: Agg, reverse: bool) {
    let mut keyed: Vec<(f64, TimeSeries)> = list.drain(..).map(|s| (key(agg, &s), s)).collect();
    if reverse {
        keyed.sort_by(|a, b| cmp(b.0, a.0));
    } else {
        keyed.sort_by(|a, b| cmp(a.0, b.0));
    }
    list.extend(keyed.into_iter().map(|(_, s)| s));
}

fn count(a: &Args, i: usize) -> Result<usize, Error> {
    Ok(a.int(i)?.max(0) as usize)
}

fn highest(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    let n = count(a, 1)?;
    sort(&mut list, a.agg(2)?, true);
    list.truncate(n);
    Ok(list)
}

fn lowest(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    let n = count(a, 1)?;
    sort(&mut list, a.agg(2)?, false);
    list.truncate(n);
    Ok(list)
}

fn top(a: &Args, agg: Agg, high: bool) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    let n = count(a, 1)?;
    sort(&mut list, agg, high);
    list.truncate(n);
    Ok(list)
}

fn limit(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    list.truncate(count(a, 1)?);
    Ok(list)
}

fn compare(op: &str, v: Option<f64>, t: f64) -> bool {
    match op {
        "=" => v == Some(t),
        "!=" => v != Some(t),
        ">" => v.is_some_and(|v| v > t),
        ">=" => v.is_some_and(|v| v >= t),
        "<" => v.is_none_or(|v| v < t),
        "<=" => v.is_none_or(|v| v <= t),
        _ => false,
    }
}

fn threshold(a: &Args, agg: Agg, op: &str) -> Result<Vec<TimeSeries>, Error> {
    let t = a.float(1)?;
    Ok(a.series(0)?
        .into_iter()
        .filter(|s| compare(op, agg.apply(&s.values), t))
        .collect())
}

fn filter_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let agg = a.agg(1)?;
    let op = a.string(2)?;
    if !OPERATORS.contains(&op.as_str()) {
        return Err(Error::BadArgument(format!("Unsupported operator: {op}")));
    }
    let t = a.float(3)?;
    Ok(a.series(0)?
        .into_iter()
        .filter(|s| compare(&op, agg.apply(&s.values), t))
        .collect())
}

fn by_regex(a: &Args, keep: bool) -> Result<Vec<TimeSeries>, Error> {
    let re = a.ev.regex(&a.string(1)?)?;
    Ok(a.series(0)?
        .into_iter()
        .filter(|s| re.is_match(&s.name) == keep)
        .collect())
}

fn remove_empty(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let factor = a.float_opt(1)?.unwrap_or(0.0);
    Ok(a.series(0)?
        .into_iter()
        .filter(|s| {
            let nn = s.values.iter().filter(|v| v.is_some()).count();
            crate::query::series::xff(nn, s.values.len(), factor)
        })
        .collect())
}

fn unique(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut seen = std::collections::HashSet::new();
    Ok(a.series_lists(0)?
        .into_iter()
        .filter(|s| seen.insert(s.name.clone()))
        .collect())
}

fn remove_between_percentile(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut n = a.float(1)?;
    if n < 50.0 {
        n = 100.0 - n;
    }
    let list = a.series(0)?;
    let len = list.iter().map(|s| s.values.len()).min().unwrap_or(0);
    let bounds: Vec<(Option<f64>, Option<f64>)> = (0..len)
        .map(|i| {
            let col: Vec<f64> = list.iter().filter_map(|s| s.values[i]).collect();
            (
                super::combine::percentile(&col, 100.0 - n, false),
                super::combine::percentile(&col, n, false),
            )
        })
        .collect();
    Ok(list
        .into_iter()
        .filter(|s| {
            bounds.iter().zip(&s.values).any(|((lo, hi), v)| {
                // Python compares None as smaller than any number.
                let inside = match (lo, v, hi) {
                    (Some(lo), Some(v), Some(hi)) => lo < v && v < hi,
                    _ => false,
                };
                !inside
            })
        })
        .collect())
}

fn remove_value(a: &Args, above: bool) -> Result<Vec<TimeSeries>, Error> {
    let n = a.float(1)?;
    let name = if above {
        "removeAboveValue"
    } else {
        "removeBelowValue"
    };
    Ok(a.series(0)?
        .iter()
        .map(|s| {
            let values = s
                .values
                .iter()
                .map(|v| v.filter(|&v| if above { v <= n } else { v >= n }))
                .collect();
            s.derive(format!("{name}({}, {})", s.name, fmt_g(n)), values)
        })
        .collect())
}

fn remove_percentile(a: &Args, above: bool) -> Result<Vec<TimeSeries>, Error> {
    let n = a.float(1)?;
    let name = if above {
        "removeAbovePercentile"
    } else {
        "removeBelowPercentile"
    };
    Ok(a.series(0)?
        .iter()
        .map(|s| {
            let vals: Vec<f64> = s.non_null().collect();
            let p = super::combine::percentile(&vals, n, false);
            let values = match p {
                Some(p) => s
                    .values
                    .iter()
                    .map(|v| v.filter(|&v| if above { v <= p } else { v >= p }))
                    .collect(),
                None => s.values.clone(),
            };
            let mut o = s.derive(format!("{name}({}, {})", s.name, fmt_g(n)), values);
            // graphite computes the percentile with nPercentile, which tags the series when
            // there is one (no value, or n past 100: no tag and nothing removed).
            if p.is_some() {
                o.tags.insert("nPercentile".into(), super::py_str(n, false));
            }
            o
        })
        .collect())
}

fn sorted(a: &Args, agg: Agg, reverse: bool) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    sort(&mut list, agg, reverse);
    Ok(list)
}

fn sort_by(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let agg = a.agg(1)?;
    let reverse = a.bool(2)?;
    sorted(a, agg, reverse)
}

fn natural_key(name: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in name.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            let trimmed = digits.trim_start_matches('0');
            out.push_str(&format!(
                "{:0>10}",
                if trimmed.is_empty() { "0" } else { trimmed }
            ));
            digits.clear();
        }
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

fn sort_by_name(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let natural = a.bool(1)?;
    let reverse = a.bool(2)?;
    let mut list = a.series(0)?;
    let k = |s: &TimeSeries| {
        if natural {
            natural_key(&s.name)
        } else {
            s.name.clone()
        }
    };
    if reverse {
        list.sort_by_key(|s| std::cmp::Reverse(k(s)));
    } else {
        list.sort_by_key(k);
    }
    Ok(list)
}

fn sort_by_minima(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut list: Vec<TimeSeries> = a
        .series(0)?
        .into_iter()
        .filter(|s| Agg::Max.apply(&s.values).unwrap_or(0.0) > 0.0)
        .collect();
    sort(&mut list, Agg::Min, false);
    Ok(list)
}

fn most_deviant(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let n = count(a, 1)?;
    let mut scored: Vec<(f64, TimeSeries)> = a
        .series(0)?
        .into_iter()
        .filter_map(|s| {
            let mean = Agg::Average.apply(&s.values)?;
            let count = s.non_null().count() as f64;
            let sigma = s.non_null().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
            Some((sigma, s))
        })
        .collect();
    scored.sort_by(|x, y| cmp(y.0, x.0));
    Ok(scored.into_iter().take(n).map(|(_, s)| s).collect())
}

fn average_outside_percentile(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut n = a.float(1)?;
    if n < 50.0 {
        n = 100.0 - n;
    }
    let list = a.series(0)?;
    let averages: Vec<f64> = list
        .iter()
        .filter_map(|s| Agg::Average.apply(&s.values))
        .collect();
    let lo = super::combine::percentile(&averages, 100.0 - n, false);
    let hi = super::combine::percentile(&averages, n, false);
    Ok(list
        .into_iter()
        .filter(|s| {
            // Python compares None below every number: a null average is never inside.
            match (lo, Agg::Average.apply(&s.values), hi) {
                (Some(lo), Some(v), Some(hi)) => !(lo < v && v < hi),
                _ => true,
            }
        })
        .collect())
}
