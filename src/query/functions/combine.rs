//! Combine: cross-series functions. Inputs are normalized to the lcm of their steps; each
//! aligned row is aggregated when enough of it is non-null (xFilesFactor); the output is named
//! `<func>Series(<path expressions>)`.

use super::Type::*;
use super::{Args, Func, NodeOrTag, agg_key, f, p, path_expressions};
use crate::query::Error;
use crate::query::series::{Agg, TimeSeries, aggregate_rows, normalize, rows, xff};
use crate::query::target::{Call, Expr};
use std::collections::{BTreeMap, HashMap};

const SERIES_LISTS: &[super::Param] = &[p("seriesLists", SeriesList).req().multi()];

pub const FUNCTIONS: &[Func] = &[
    f(
        "aggregate",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("func", AggFunc).req().opts(&Agg::NAMES),
            p("xFilesFactor", Float),
        ],
        aggregate_fn,
        "Aggregates series with the given function (average, avg_zero, median, sum, min, max, diff, stddev, count, range, multiply, last).",
    ),
    f(
        "sumSeries",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Sum, "sum"),
        "Adds series together pointwise (nulls ignored; null if all null).",
    ),
    f(
        "sum",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Sum, "sum"),
        "Short form of sumSeries.",
    ),
    f(
        "averageSeries",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Average, "average"),
        "Pointwise mean of the non-null values.",
    ),
    f(
        "avg",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Average, "average"),
        "Short form of averageSeries.",
    ),
    f(
        "minSeries",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Min, "min"),
        "Pointwise minimum.",
    ),
    f(
        "maxSeries",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Max, "max"),
        "Pointwise maximum.",
    ),
    f(
        "diffSeries",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Diff, "diff"),
        "The first series minus the others.",
    ),
    f(
        "multiplySeries",
        "Combine",
        SERIES_LISTS,
        multiply_series,
        "Pointwise product (null if any is null).",
    ),
    f(
        "stddevSeries",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Stddev, "stddev"),
        "Pointwise standard deviation.",
    ),
    f(
        "rangeOfSeries",
        "Combine",
        SERIES_LISTS,
        |a| by(a, Agg::Range, "rangeOf"),
        "Pointwise max minus min.",
    ),
    f(
        "countSeries",
        "Combine",
        &[p("seriesLists", SeriesList).multi()],
        count_series,
        "A constant line of the number of series.",
    ),
    f(
        "percentileOfSeries",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("n", Float).req(),
            p("interpolate", Boolean).def(super::Default::Bool(false)),
        ],
        percentile_of_series,
        "The n-th percentile of the values of all series at each point.",
    ),
    f(
        "sumSeriesWithWildcards",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("position", Node).multi(),
        ],
        |a| with_wildcards(a, Agg::Sum, "sum", 1),
        "Sums series after removing the given nodes from their names.",
    ),
    f(
        "averageSeriesWithWildcards",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("position", Node).multi(),
        ],
        |a| with_wildcards(a, Agg::Average, "average", 1),
        "Averages series after removing the given nodes from their names.",
    ),
    f(
        "multiplySeriesWithWildcards",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("position", Node).multi(),
        ],
        |a| with_wildcards(a, Agg::Multiply, "multiply", 1),
        "Multiplies series after removing the given nodes from their names.",
    ),
    f(
        "aggregateWithWildcards",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("func", AggFunc).req().opts(&Agg::NAMES),
            p("position", Node).multi(),
        ],
        aggregate_with_wildcards,
        "Aggregates series after removing the given nodes from their names.",
    ),
    f(
        "group",
        "Combine",
        &[p("seriesLists", SeriesList).multi()],
        |a| a.series_lists(0),
        "Concatenates series lists.",
    )
    .transparent(),
    f(
        "groupByNode",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("nodeNum", NodeOrTag).req(),
            p("callback", AggOrSeriesFunc)
                .def(super::Default::Str("average"))
                .opts(&Agg::NAMES),
        ],
        group_by_node,
        "Groups series by one node (or tag) and aggregates each group; the output is named by the node value.",
    ),
    f(
        "groupByNodes",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("callback", AggOrSeriesFunc).req().opts(&Agg::NAMES),
            p("nodes", NodeOrTag).multi(),
        ],
        group_by_nodes,
        "Groups series by several nodes (or tags) and aggregates each group; the output is named by the joined node values.",
    ),
    f(
        "groupByTags",
        "Combine",
        &[
            p("seriesList", SeriesList).req(),
            p("callback", AggOrSeriesFunc).req().opts(&Agg::NAMES),
            p("tags", Tag).req().multi(),
        ],
        group_by_tags,
        "Groups tagged series by tag values and aggregates each group; the output is named name;tag=value…",
    ),
];

/// graphite's `aggregate`: one series from the whole list, or none for an empty list. `func`
/// is the name as given (`avg` makes `avgSeries(…)`, `rangeOf` makes `rangeOfSeries(…)`).
pub fn aggregate(
    list: &[TimeSeries],
    agg: Agg,
    func: &str,
    factor: Option<f64>,
    default_xff: f64,
) -> Option<TimeSeries> {
    // The argument, else what setXFilesFactor set on the inputs, else the request's.
    let factor = factor
        .or_else(|| list.iter().find_map(|s| s.x_files_factor))
        .unwrap_or(default_xff);
    let (columns, start, end, step) = normalize(list, default_xff)?;
    let name = format!("{func}Series({})", path_expressions(list));
    let values = aggregate_rows(&columns, agg, |nn, len| xff(nn, len, factor));
    // Tags common to every input; the name when they share none.
    let mut tags: BTreeMap<String, String> = list[0].tags.clone();
    for s in &list[1..] {
        tags.retain(|k, v| s.tags.get(k) == Some(v));
    }
    tags.entry("name".into()).or_insert_with(|| name.clone());
    tags.insert("aggregatedBy".into(), func.into());
    let mut out = TimeSeries::new(&name, start, step, values);
    out.end = end;
    out.tags = tags;
    out.x_files_factor = Some(factor);
    out.lineage = merged_lineage(list);
    Some(out)
}

/// Lineage sections of many series, identical sections counted together.
pub fn merged_lineage(list: &[TimeSeries]) -> Vec<crate::query::Lineage> {
    let mut out: Vec<crate::query::Lineage> = Vec::new();
    for l in list.iter().flat_map(|s| &s.lineage) {
        match out.iter_mut().find(|o| o.same_section(l)) {
            Some(o) => o.count += l.count,
            None => out.push(l.clone()),
        }
    }
    out
}

fn by(a: &Args, agg: Agg, func: &str) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series_lists(0)?;
    Ok(aggregate(&list, agg, func, None, a.xff())
        .into_iter()
        .collect())
}

/// graphite's "legacy" multiplySeries: one list of one series is returned as it is.
fn multiply_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    if a.rest(0).len() == 1 {
        let list = a.series(0)?;
        if list.len() == 1 {
            return Ok(list);
        }
    }
    by(a, Agg::Multiply, "multiply")
}

fn aggregate_fn(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series(0)?;
    let agg = a.agg(1)?;
    let name = a.string(1)?;
    let func = name.strip_suffix("Series").unwrap_or(&name);
    let factor = a.float_opt(2)?;
    Ok(aggregate(&list, agg, func, factor, a.xff())
        .into_iter()
        .collect())
}

fn count_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series_lists(0)?;
    if list.is_empty() && a.given(0) {
        // graphite's normalize() of an empty list: no series (a glob that matches nothing).
        return Ok(Vec::new());
    }
    if list.is_empty() {
        let mut s = super::special::constant_line(a, 0.0, "0".into());
        s.path_expression = "countSeries()".into();
        return Ok(vec![s]);
    }
    let (columns, start, end, step) = normalize(&list, a.xff()).expect("non-empty");
    let name = format!("countSeries({})", path_expressions(&list));
    let n = rows(&columns).len();
    let mut s = TimeSeries::new(&name, start, step, vec![Some(list.len() as f64); n]);
    s.end = end;
    s.x_files_factor = Some(a.xff());
    Ok(vec![s])
}

/// graphite's `_getPercentile` (NIST: rank `n/100 × (len+1)`, rounded up unless
/// interpolating).
pub fn percentile(values: &[f64], n: f64, interpolate: bool) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let len = v.len() as i64;
    // Python's list index: a negative one counts from the end; out of range is None (graphite's
    // IndexError, which nPercentile's callers catch or fail on).
    let at = |i: i64| {
        v.get(usize::try_from(if i < 0 { i + len } else { i }).ok()?)
            .copied()
    };
    let fractional = n / 100.0 * (len as f64 + 1.0);
    let mut rank = fractional.trunc() as i64;
    let frac = fractional - fractional.trunc();
    if !interpolate {
        rank += frac.ceil() as i64;
    }
    let mut result = match rank {
        0 => v[0],
        r if r - 1 == len => v[v.len() - 1],
        r => at(r - 1)?,
    };
    if interpolate && rank != len {
        result += frac * (at(rank)? - result);
    }
    Some(result)
}

fn percentile_of_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series(0)?;
    let n = a.float(1)?;
    let interpolate = a.bool(2)?;
    if n <= 0.0 {
        return Err(Error::BadArgument(
            "The requested percent is required to be greater than 0".into(),
        ));
    }
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let (columns, start, end, step) = normalize(&list, a.xff()).expect("non-empty");
    let name = format!(
        "percentileOfSeries({},{})",
        list[0].path_expression,
        super::fmt_g(n)
    );
    let values = rows(&columns)
        .into_iter()
        .map(|row| {
            let vals: Vec<f64> = row.into_iter().flatten().collect();
            percentile(&vals, n, interpolate)
        })
        .collect();
    let mut s = TimeSeries::new(&name, start, step, values);
    s.end = end;
    s.x_files_factor = Some(a.xff());
    Ok(vec![s])
}

fn with_wildcards(
    a: &Args,
    agg: Agg,
    func: &str,
    positions_at: usize,
) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series(0)?;
    let positions: Vec<i64> = a
        .nodes(positions_at)?
        .into_iter()
        .filter_map(|n| match n {
            NodeOrTag::Node(i) => Some(i),
            NodeOrTag::Tag(_) => None,
        })
        .collect();
    let mut groups: Vec<(String, Vec<TimeSeries>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for s in list {
        let key = s
            .name
            .split('.')
            .enumerate()
            .filter(|(i, _)| !positions.contains(&(*i as i64)))
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
            .join(".");
        match index.get(&key) {
            Some(&i) => groups[i].1.push(s),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![s]));
            }
        }
    }
    let mut out = Vec::new();
    for (key, members) in groups {
        if let Some(mut s) = aggregate(&members, agg, func, None, a.xff()) {
            s.rename(key);
            out.push(s);
        }
    }
    Ok(out)
}

fn aggregate_with_wildcards(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let agg = a.agg(1)?;
    let name = a.string(1)?;
    with_wildcards(a, agg, name.strip_suffix("Series").unwrap_or(&name), 2)
}

/// Applies a group callback: an aggregation name, or an aggregating function's name
/// (`sumSeries`, `averageSeries`…), as graphite's `SeriesFunctions[callback]`.
fn apply_callback(
    a: &Args,
    callback: &str,
    members: &[TimeSeries],
) -> Result<Option<TimeSeries>, Error> {
    if callback == "countSeries" {
        // graphite calls its countSeries: the number of series at every point, no aggregatedBy.
        let Some((columns, start, end, step)) = normalize(members, a.xff()) else {
            return Ok(None);
        };
        let name = format!("countSeries({})", path_expressions(members));
        let mut s = TimeSeries::new(
            &name,
            start,
            step,
            vec![Some(members.len() as f64); rows(&columns).len()],
        );
        s.end = end;
        s.x_files_factor = Some(a.xff());
        return Ok(Some(s));
    }
    if callback == "multiplySeries" && members.len() == 1 {
        // graphite calls its multiplySeries, which returns one series as it is.
        return Ok(Some(members[0].clone()));
    }
    let short = callback.strip_suffix("Series").unwrap_or(callback);
    let (agg, func) = match callback {
        "sumSeries" => (Agg::Sum, "sum"),
        // `avg` is graphite's alias function of averageSeries, which groupBy* call by name.
        "averageSeries" | "avg" => (Agg::Average, "average"),
        "rangeOfSeries" => (Agg::Range, "rangeOf"),
        _ => match Agg::parse(short) {
            Some(agg) => (agg, short),
            None => return series_callback(a, callback, members),
        },
    };
    Ok(aggregate(members, agg, func, None, a.xff()))
}

/// Any other series function named as a callback (`asPercent`, `sumSeriesWithWildcards`…):
/// graphite calls it with the group as its one series list and keeps its first series.
fn series_callback(
    a: &Args,
    callback: &str,
    members: &[TimeSeries],
) -> Result<Option<TimeSeries>, Error> {
    if super::lookup(callback).is_none() {
        return Err(Error::BadArgument(format!(
            "Unsupported aggregation function: {callback}"
        )));
    }
    let call = Expr::Call(Call {
        name: callback.to_string(),
        args: vec![a.ev.bind_series(members.to_vec())],
        kwargs: Vec::new(),
        raw: None,
    });
    Ok(a.ev.eval(&call, &a.ctx)?.into_iter().next())
}

fn group_by(a: &Args, callback: &str, nodes: &[NodeOrTag]) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series(0)?;
    let mut groups: Vec<(String, Vec<TimeSeries>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for s in list {
        let key = agg_key(&s, nodes);
        match index.get(&key) {
            Some(&i) => groups[i].1.push(s),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![s]));
            }
        }
    }
    let mut out = Vec::new();
    for (key, members) in groups {
        if let Some(mut s) = apply_callback(a, callback, &members)? {
            s.rename(key);
            out.push(s);
        }
    }
    Ok(out)
}

fn group_by_node(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let node = match a.expr(1) {
        Some(crate::query::target::Expr::Str(s)) => NodeOrTag::Tag(s.clone()),
        _ => NodeOrTag::Node(a.int(1)?),
    };
    let callback = a.string(2)?;
    group_by(a, &callback, &[node])
}

fn group_by_nodes(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let callback = a.string(1)?;
    let nodes = a.nodes(2)?;
    group_by(a, &callback, &nodes)
}

fn group_by_tags(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series(0)?;
    let callback = a.string(1)?;
    let tags = a.strings(2)?;
    if tags.is_empty() {
        return Err(Error::BadArgument(
            "groupByTags(): no tags specified".into(),
        ));
    }
    let by_name = tags.iter().any(|t| t == "name");
    let common_name = {
        let mut names: Vec<&str> = list
            .iter()
            .filter_map(|s| s.tags.get("name").map(String::as_str))
            .collect();
        names.sort();
        names.dedup();
        if names.len() == 1 {
            names[0].to_string()
        } else {
            callback.clone()
        }
    };
    let mut groups: Vec<(String, Vec<TimeSeries>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for s in list {
        let name = if by_name {
            s.tags.get("name").cloned().unwrap_or_default()
        } else {
            common_name.clone()
        };
        let mut parts: Vec<String> = tags
            .iter()
            .filter(|t| *t != "name")
            .map(|t| format!("{t}={}", s.tags.get(t).map(String::as_str).unwrap_or("")))
            .collect();
        parts.sort();
        let key = std::iter::once(name)
            .chain(parts)
            .collect::<Vec<_>>()
            .join(";");
        match index.get(&key) {
            Some(&i) => groups[i].1.push(s),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![s]));
            }
        }
    }
    let mut out = Vec::new();
    for (key, members) in groups {
        if let Some(mut s) = apply_callback(a, &callback, &members)? {
            s.rename(key.clone());
            s.path_expression = key.clone();
            s.tags = crate::query::series::tags_of_name(&key);
            out.push(s);
        }
    }
    Ok(out)
}
