//! Combine, pairwise: functions that match series of two lists (or a list and a total) —
//! `divideSeries(Lists)`, `asPercent`, `aggregateSeriesLists` and its short forms, `powSeries`,
//! `weightedAverage`.

use super::Type::*;
use super::combine::{aggregate, merged_lineage};
use super::{Args, Func, NodeOrTag, agg_key, f, p, path_expressions};
use crate::query::Error;
use crate::query::series::{Agg, TimeSeries, Value, aggregate_rows, normalize, rows};
use crate::query::target::Expr;

const TWO_LISTS: &[super::Param] = &[
    p("seriesListFirstPos", SeriesList).req(),
    p("seriesListSecondPos", SeriesList).req(),
];

const AS_PERCENT: &[super::Param] = &[
    p("seriesList", SeriesList).req(),
    p("total", Any),
    p("nodes", NodeOrTag).multi(),
];

pub const FUNCTIONS: &[Func] = &[
    f(
        "divideSeries",
        "Combine",
        &[
            p("dividendSeriesList", SeriesList).req(),
            p("divisorSeries", SeriesList).req(),
        ],
        divide_series,
        "Divides each series by exactly one divisor series (division by 0 gives null).",
    ),
    f(
        "divideSeriesLists",
        "Combine",
        &[
            p("dividendSeriesList", SeriesList).req(),
            p("divisorSeriesList", SeriesList).req(),
        ],
        divide_series_lists,
        "Divides the n-th series of one list by the n-th of the other.",
    ),
    f(
        "asPercent",
        "Combine",
        AS_PERCENT,
        as_percent,
        "Each series as a percentage of a total: a number, one series, a matching list, or the sum of the list; with nodes, groups are matched.",
    ),
    f(
        "pct",
        "Combine",
        AS_PERCENT,
        as_percent,
        "Short form of asPercent.",
    ),
    f(
        "aggregateSeriesLists",
        "Combine",
        &[
            p("seriesListFirstPos", SeriesList).req(),
            p("seriesListSecondPos", SeriesList).req(),
            p("func", AggFunc).req().opts(&Agg::NAMES),
            p("xFilesFactor", Float),
        ],
        aggregate_series_lists,
        "Aggregates the n-th series of one list with the n-th of the other.",
    ),
    f(
        "sumSeriesLists",
        "Combine",
        TWO_LISTS,
        |a| pairwise(a, Agg::Sum, "sum", None),
        "Adds the n-th series of one list to the n-th of the other.",
    ),
    f(
        "diffSeriesLists",
        "Combine",
        TWO_LISTS,
        |a| pairwise(a, Agg::Diff, "diff", None),
        "Subtracts the n-th series of the second list from the n-th of the first.",
    ),
    f(
        "multiplySeriesLists",
        "Combine",
        TWO_LISTS,
        |a| pairwise(a, Agg::Multiply, "multiply", None),
        "Multiplies the n-th series of one list by the n-th of the other.",
    ),
    f(
        "powSeries",
        "Combine",
        &[p("seriesList", SeriesList).req().multi()],
        pow_series,
        "The first series to the power of the second, then of the third…",
    ),
    f(
        "weightedAverage",
        "Combine",
        &[
            p("seriesListAvg", SeriesList).req(),
            p("seriesListWeight", SeriesList).req(),
            p("nodes", NodeOrTag).multi(),
        ],
        weighted_average,
        "The average of the first list weighted by the second, series matched by nodes.",
    ),
];

/// Pointwise `a / b` after normalizing the pair; division by 0 or null gives null.
pub fn divide(x: &TimeSeries, y: &TimeSeries, name: String, default_xff: f64) -> TimeSeries {
    let pair = [x.clone(), y.clone()];
    let (columns, start, end, step) = normalize(&pair, default_xff).expect("two series");
    let values = rows(&columns)
        .into_iter()
        .map(|r| match (r[0], r[1]) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        })
        .collect();
    let mut s = TimeSeries::new(&name, start, step, values);
    s.end = end;
    s.x_files_factor = Some(default_xff);
    s.lineage = merged_lineage(&pair);
    s
}

fn divide_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let dividends = a.series(0)?;
    let divisors = a.series(1)?;
    if divisors.is_empty() {
        return Ok(dividends
            .into_iter()
            .map(|s| {
                let name = format!("divideSeries({},MISSING)", s.name);
                let mut out = s.derive(name.clone(), vec![None; s.values.len()]);
                out.path_expression = name;
                out
            })
            .collect());
    }
    if divisors.len() > 1 {
        return Err(Error::BadArgument(format!(
            "divideSeries second argument must reference exactly 1 series (got {})",
            divisors.len()
        )));
    }
    let d = &divisors[0];
    Ok(dividends
        .iter()
        .map(|s| {
            divide(
                s,
                d,
                format!("divideSeries({},{})", s.name, d.name),
                a.xff(),
            )
        })
        .collect())
}

fn divide_series_lists(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let dividends = a.series(0)?;
    let divisors = a.series(1)?;
    if dividends.len() != divisors.len() {
        return Err(Error::BadArgument(
            "dividendSeriesList and divisorSeriesList argument must have equal length".into(),
        ));
    }
    Ok(dividends
        .iter()
        .zip(&divisors)
        .map(|(x, y)| {
            divide(
                x,
                y,
                format!("divideSeries({},{})", x.name, y.name),
                a.xff(),
            )
        })
        .collect())
}

fn pct(v: Value, total: Value) -> Value {
    match (v, total) {
        (Some(v), Some(t)) if t != 0.0 => Some(v / t * 100.0),
        _ => None,
    }
}

fn sum_of(list: &[TimeSeries], default_xff: f64) -> TimeSeries {
    if list.len() == 1 {
        return list[0].clone();
    }
    let (cols, start, end, step) = normalize(list, default_xff).expect("non-empty");
    let values = aggregate_rows(&cols, Agg::Sum, |_, _| true);
    let mut s = TimeSeries::new(
        &format!("sumSeries({})", path_expressions(list)),
        start,
        step,
        values,
    );
    s.end = end;
    s
}

fn percent_pair(x: &TimeSeries, total: &TimeSeries, name: String, default_xff: f64) -> TimeSeries {
    let pair = [x.clone(), total.clone()];
    let (cols, start, end, step) = normalize(&pair, default_xff).expect("two");
    let values = rows(&cols).into_iter().map(|r| pct(r[0], r[1])).collect();
    let mut s = TimeSeries::new(&name, start, step, values);
    s.end = end;
    s.x_files_factor = Some(default_xff);
    s
}

pub fn as_percent(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series(0)?;
    let xf = a.xff();
    let nodes = a.nodes(2)?;
    enum Total {
        None,
        Number(f64, String),
        List(Vec<TimeSeries>),
    }
    let total = match a.expr(1) {
        None | Some(Expr::None) => Total::None,
        Some(Expr::Int(n)) => Total::Number(*n as f64, n.to_string()),
        Some(Expr::Float(v)) => Total::Number(*v, super::py_str(*v, false)),
        Some(_) => Total::List(a.series(1)?),
    };
    if list.is_empty() && matches!(total, Total::Number(..)) {
        // graphite's first normalize of no series returns [] before it reads the total.
        return Ok(Vec::new());
    }
    if !nodes.is_empty() {
        return as_percent_nodes(list, total_list(total)?, &nodes, xf);
    }
    fn total_list(t: Total) -> Result<Option<Vec<TimeSeries>>, Error> {
        match t {
            Total::None => Ok(None),
            Total::List(l) => Ok(Some(l)),
            Total::Number(..) => Err(Error::BadArgument(
                "total must be None or a seriesList".into(),
            )),
        }
    }
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let (cols, _, _, _) = normalize(&list, xf).expect("non-empty");
    match total {
        Total::None => {
            let total_values: Vec<Value> = rows(&cols).into_iter().map(|r| Agg::Sum.apply(&r)).collect();
            let text = format!("sumSeries({})", path_expressions(&list));
            Ok(list
                .iter()
                .zip(&cols)
                .map(|(s, col)| {
                    let values = col.iter().zip(total_values.iter().chain(std::iter::repeat(&None))).map(|(v, t)| pct(*v, *t)).collect();
                    let mut o = TimeSeries::new(&format!("asPercent({},{text})", s.name), s.start, s.step, values);
                    o.end = s.end;
                    o.x_files_factor = Some(xf);
                    o
                })
                .collect())
        }
        Total::Number(k, text) => Ok(list
            .iter()
            .map(|s| {
                let values = s.values.iter().map(|v| pct(*v, Some(k))).collect();
                let mut o = TimeSeries::new(&format!("asPercent({},{text})", s.name), s.start, s.step, values);
                o.end = s.end;
                o.x_files_factor = Some(xf);
                o
            })
            .collect()),
        Total::List(t) if t.len() == 1 => Ok(list
            .iter()
            .map(|s| percent_pair(s, &t[0], format!("asPercent({},{})", s.name, t[0].name), xf))
            .collect()),
        Total::List(mut t) if t.len() == list.len() => {
            let mut l = list.clone();
            l.sort_by(|x, y| x.name.cmp(&y.name));
            t.sort_by(|x, y| x.name.cmp(&y.name));
            Ok(l.iter()
                .zip(&t)
                .map(|(x, y)| percent_pair(x, y, format!("asPercent({},{})", x.name, y.name), xf))
                .collect())
        }
        Total::List(_) => Err(Error::BadArgument(
            "asPercent second argument must be missing, a single digit, reference exactly 1 series or reference the same number of series as the first argument".into(),
        )),
    }
}

fn group(
    list: Vec<TimeSeries>,
    nodes: &[NodeOrTag],
    keys: &mut Vec<String>,
) -> Vec<(String, Vec<TimeSeries>)> {
    let mut groups: Vec<(String, Vec<TimeSeries>)> = Vec::new();
    for s in list {
        let key = agg_key(&s, nodes);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(s),
            None => {
                if !keys.contains(&key) {
                    keys.push(key.clone());
                }
                groups.push((key, vec![s]));
            }
        }
    }
    groups
}

fn as_percent_nodes(
    list: Vec<TimeSeries>,
    total: Option<Vec<TimeSeries>>,
    nodes: &[NodeOrTag],
    xf: f64,
) -> Result<Vec<TimeSeries>, Error> {
    let mut keys = Vec::new();
    let series_groups = group(list, nodes, &mut keys);
    let totals: Vec<(String, TimeSeries)> = match total {
        None => series_groups
            .iter()
            .map(|(k, g)| (k.clone(), sum_of(g, xf)))
            .collect(),
        Some(t) => group(t, nodes, &mut keys)
            .into_iter()
            .map(|(k, g)| (k, sum_of(&g, xf)))
            .collect(),
    };
    let mut out = Vec::new();
    for key in keys {
        let total = totals.iter().find(|(k, _)| *k == key).map(|(_, t)| t);
        match series_groups.iter().find(|(k, _)| *k == key) {
            None => {
                let t = total.expect("key came from a total");
                let mut o = TimeSeries::new(
                    &format!("asPercent(MISSING,{})", t.name),
                    t.start,
                    t.step,
                    vec![None; t.values.len()],
                );
                o.x_files_factor = Some(xf);
                out.push(o);
            }
            Some((_, members)) => {
                for s in members {
                    out.push(match total {
                        None => {
                            let mut o = TimeSeries::new(
                                &format!("asPercent({},MISSING)", s.name),
                                s.start,
                                s.step,
                                vec![None; s.values.len()],
                            );
                            o.x_files_factor = Some(xf);
                            o
                        }
                        Some(t) => {
                            percent_pair(s, t, format!("asPercent({},{})", s.name, t.name), xf)
                        }
                    });
                }
            }
        }
    }
    Ok(out)
}

fn pairwise(a: &Args, agg: Agg, func: &str, factor: Option<f64>) -> Result<Vec<TimeSeries>, Error> {
    let first = a.series(0)?;
    let second = a.series(1)?;
    if first.len() != second.len() {
        return Err(Error::BadArgument(
            "seriesListFirstPos and seriesListSecondPos argument must have equal length".into(),
        ));
    }
    let mut out = Vec::new();
    for (x, y) in first.iter().zip(&second) {
        if let Some(mut s) = aggregate(&[x.clone(), y.clone()], agg, func, factor, a.xff()) {
            s.rename(format!("{func}Series({},{})", x.name, y.name));
            out.push(s);
        }
    }
    Ok(out)
}

fn aggregate_series_lists(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let agg = a.agg(2)?;
    let name = a.string(2)?;
    let factor = a.float_opt(3)?;
    pairwise(a, agg, name.strip_suffix("Series").unwrap_or(&name), factor)
}

fn pow_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series_lists(0)?;
    let Some((cols, start, end, step)) = normalize(&list, a.xff()) else {
        return Ok(Vec::new());
    };
    let name = format!(
        "powSeries({})",
        list.iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let values = rows(&cols)
        .into_iter()
        .map(|row| {
            let mut it = row.into_iter();
            let first = it.next().flatten();
            it.fold(first, |acc, e| match (acc, e) {
                (Some(b), Some(x)) => Some(b.powf(x)).filter(|r| r.is_finite()),
                _ => None,
            })
        })
        .collect();
    let mut s = TimeSeries::new(&name, start, step, values);
    s.end = end;
    s.x_files_factor = Some(a.xff());
    Ok(vec![s])
}

/// graphite's pairing for weightedAverage: series keyed by their nodes, in the order the keys
/// first appear (avg and weight lists interleaved); under one key the last average and the
/// last weight count (graphite's dict keeps the last), so without nodes only the last of each.
fn weighted_pairs<'s>(
    avgs: &'s [TimeSeries],
    weights: &'s [TimeSeries],
    nodes: &[NodeOrTag],
) -> Vec<(&'s TimeSeries, &'s TimeSeries)> {
    type Pair<'s> = (Option<&'s TimeSeries>, Option<&'s TimeSeries>);
    let mut keyed: Vec<(String, Pair<'s>)> = Vec::new();
    let mut slot = |key: String| match keyed.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            keyed.push((key, (None, None)));
            keyed.len() - 1
        }
    };
    let mut at = Vec::new();
    for i in 0..avgs.len().max(weights.len()) {
        if let Some(s) = avgs.get(i) {
            at.push((slot(agg_key(s, nodes)), true, s));
        }
        if let Some(s) = weights.get(i) {
            at.push((slot(agg_key(s, nodes)), false, s));
        }
    }
    for (i, is_avg, s) in at {
        let pair = &mut keyed[i].1;
        if is_avg {
            pair.0 = Some(s)
        } else {
            pair.1 = Some(s)
        }
    }
    keyed
        .into_iter()
        .filter_map(|(_, (a, w))| Some((a?, w?)))
        .collect()
}

fn weighted_average(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let avgs = a.series(0)?;
    let weights = a.series(1)?;
    let nodes = a.nodes(2)?;
    if avgs.len() != weights.len() {
        return Err(Error::BadArgument(format!(
            "weightedAverage must receive the same number of series for seriesListAvg and seriesListWeight but received respectively {} and {}",
            avgs.len(),
            weights.len()
        )));
    }
    let mut products = Vec::new();
    for (avg, weight) in weighted_pairs(&avgs, &weights, &nodes) {
        let values = avg
            .values
            .iter()
            .zip(weight.values.iter().chain(std::iter::repeat(&None)))
            .map(|(x, w)| Some((*x)? * (*w)?))
            .collect();
        let mut s = TimeSeries::new(
            &format!("product({},{})", weight.name, avg.name),
            avg.start,
            avg.step,
            values,
        );
        s.end = avg.end;
        products.push(s);
    }
    if products.is_empty() {
        return Ok(Vec::new());
    }
    let xf = a.xff();
    let (Some(sum_products), Some(sum_weights)) = (
        aggregate(&products, Agg::Sum, "sum", None, xf),
        aggregate(&weights, Agg::Sum, "sum", None, xf),
    ) else {
        return Ok(Vec::new());
    };
    let values: Vec<Value> = sum_products
        .values
        .iter()
        .zip(sum_weights.values.iter().chain(std::iter::repeat(&None)))
        .map(|(x, w)| match (x, w) {
            (Some(x), Some(w)) if *w != 0.0 => Some(x / w),
            _ => None,
        })
        .collect();
    let set = |l: &[TimeSeries]| {
        let mut v: Vec<&str> = l.iter().map(|s| s.path_expression.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v.join(",")
    };
    let node_text: Vec<String> = nodes
        .iter()
        .map(|n| match n {
            NodeOrTag::Node(i) => i.to_string(),
            NodeOrTag::Tag(t) => t.clone(),
        })
        .collect();
    let name = format!(
        "weightedAverage({}, {}, {})",
        set(&avgs),
        set(&weights),
        node_text.join(",")
    );
    let mut s = TimeSeries::new(&name, sum_products.start, sum_products.step, values);
    s.end = sum_products.end;
    s.x_files_factor = Some(xf);
    s.lineage = merged_lineage(&avgs);
    Ok(vec![s])
}
