//! Calculate: moving windows (re-fetched with the window prepended, so the first points are
//! valid), summarize, hitcount, percentiles, asPercent.

use super::Type::*;
use super::{Args, Default, Func, NodeOrTag, agg_key, f, fmt_g, p, path_expressions};
use crate::query::Error;
use crate::query::eval::Ctx;
use crate::query::series::{Agg, TimeSeries, Value, normalize, rows, xff};
use crate::query::target::Expr;

const SL: super::Param = p("seriesList", SeriesList).req();
const WINDOW: super::Param = p("windowSize", IntOrInterval).req();
const XFF: super::Param = p("xFilesFactor", Float);

pub const FUNCTIONS: &[Func] = &[
    f("movingWindow", "Calculate", &[SL, WINDOW, p("func", AggFunc).def(Default::Str("average")).opts(&Agg::NAMES), XFF], moving_window,
        "Aggregates a sliding window of points (a count, or an interval such as '5min') with the given function."),
    f("movingAverage", "Calculate", &[SL, WINDOW, XFF], |a| moving(a, Agg::Average, 2), "Moving average over a window of points or an interval."),
    f("movingSum", "Calculate", &[SL, WINDOW, XFF], |a| moving(a, Agg::Sum, 2), "Moving sum over a window of points or an interval."),
    f("movingMin", "Calculate", &[SL, WINDOW, XFF], |a| moving(a, Agg::Min, 2), "Moving minimum over a window of points or an interval."),
    f("movingMax", "Calculate", &[SL, WINDOW, XFF], |a| moving(a, Agg::Max, 2), "Moving maximum over a window of points or an interval."),
    f("movingMedian", "Calculate", &[SL, WINDOW, XFF], |a| moving(a, Agg::Median, 2), "Moving median over a window of points or an interval."),
    f("exponentialMovingAverage", "Calculate", &[SL, WINDOW], exponential_moving_average, "Exponential moving average, α = 2/(N+1), seeded with the window's mean."),
    f("nPercentile", "Calculate", &[SL, p("n", Integer).req()], n_percentile, "Each series as a constant line at its own n-th percentile."),
    f("aggregateLine", "Calculate", &[SL, p("func", AggFunc).def(Default::Str("average")).opts(&Agg::NAMES), p("keepStep", Boolean).def(Default::Bool(false))], aggregate_line,
        "Each series as a constant line at its aggregate (average by default)."),
    f("summarize", "Transform", &[SL, p("intervalString", Interval).req(), p("func", AggFunc).def(Default::Str("sum")).opts(&Agg::NAMES), p("alignToFrom", Boolean).def(Default::Bool(false))], summarize,
        "Aggregates points into fixed intervals (aligned to the interval, or to `from` with alignToFrom).").resets(),
    f("hitcount", "Transform", &[SL, p("intervalString", Interval).req(), p("alignToInterval", Boolean).def(Default::Bool(false))], hitcount,
        "Treats values as per-second rates and integrates them into interval buckets.").resets(),
];

/// The window of a moving function: `(preview seconds, window text, Some(points) if a count)`.
fn window(a: &Args, i: usize, steps: &[TimeSeries]) -> Result<(i64, String, Option<usize>), Error> {
    match a.expr(i) {
        Some(Expr::Int(n)) if *n > 0 => {
            let step = steps.iter().map(|s| s.step).max().unwrap_or(0);
            Ok((step * n, n.to_string(), Some(*n as usize)))
        }
        Some(Expr::Float(v)) if *v > 0.0 && v.fract() == 0.0 => {
            let step = steps.iter().map(|s| s.step).max().unwrap_or(0);
            Ok((step * *v as i64, (*v as i64).to_string(), Some(*v as usize)))
        }
        Some(Expr::Str(s)) => {
            let secs = super::interval_seconds(s)
                .map(i64::abs)
                .filter(|&x| x > 0)
                .ok_or_else(|| Error::BadArgument(format!("bad window {s:?}")))?;
            Ok((secs, s.clone(), None))
        }
        _ => Err(Error::BadArgument(
            "windowSize must be a positive count or an interval string".into(),
        )),
    }
}

fn capitalized(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => first
            .to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

fn moving_with(
    a: &Args,
    agg: Agg,
    func_name: &str,
    xff_at: usize,
) -> Result<Vec<TimeSeries>, Error> {
    let first = a.series(0)?;
    if first.is_empty() {
        return Ok(Vec::new());
    }
    let (preview, text, points) = window(a, 1, &first)?;
    let factor = a.float_opt(xff_at)?;
    let ctx = Ctx {
        from: a.ctx.from - preview,
        ..a.ctx
    };
    let tag = format!("moving{}", capitalized(func_name));
    let quoted = points.is_none();
    let mut out = Vec::new();
    for s in a.series_in(0, ctx)? {
        let name = if quoted {
            format!("{tag}({},\"{text}\")", s.name)
        } else {
            format!("{tag}({},{text})", s.name)
        };
        let w = points.unwrap_or((preview / s.step.max(1)) as usize).max(1);
        let effective = factor.or(s.x_files_factor).unwrap_or(a.xff());
        let values: Vec<Value> = (w + 1..=s.values.len())
            .map(|i| {
                let window: Vec<Value> = s.values[i - w..i]
                    .iter()
                    .filter(|v| v.is_some())
                    .copied()
                    .collect();
                if xff(window.len(), w, effective) {
                    agg.apply(&window)
                } else {
                    None
                }
            })
            .collect();
        let mut o = s.derive(name, values);
        o.start = s.start + preview;
        o.end = s.end;
        o.tags.insert(tag.clone(), text.clone());
        out.push(o);
    }
    Ok(out)
}

fn moving(a: &Args, agg: Agg, xff_at: usize) -> Result<Vec<TimeSeries>, Error> {
    moving_with(a, agg, agg.name(), xff_at)
}

fn moving_window(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(2)?;
    let agg = a.agg(2)?;
    moving_with(a, agg, &name, 3)
}

fn exponential_moving_average(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let first = a.series(0)?;
    if first.is_empty() {
        return Ok(Vec::new());
    }
    let (preview, text, points) = window(a, 1, &first)?;
    let constant = 2.0 / (points.map(|p| p as f64).unwrap_or(preview as f64) + 1.0);
    let ctx = Ctx {
        from: a.ctx.from - preview,
        ..a.ctx
    };
    let mut out = Vec::new();
    for s in a.series_in(0, ctx)? {
        let name = match points {
            Some(_) => format!("exponentialMovingAverage({},{text})", s.name),
            None => format!("exponentialMovingAverage({},\"{text}\")", s.name),
        };
        let w = points
            .unwrap_or((preview / s.step.max(1)) as usize)
            .min(s.values.len());
        let mut ema = Agg::Average
            .apply(&s.values[..w])
            .filter(|&v| v != 0.0)
            .unwrap_or(0.0);
        let mut values = vec![Some(super::transform::round_to(ema, 6))];
        for v in &s.values[w..] {
            values.push(v.map(|v| {
                ema = constant * v + (1.0 - constant) * ema;
                super::transform::round_to(ema, 6)
            }));
        }
        let mut o = s.derive(name, values);
        o.start = s.start + preview;
        o.tags
            .insert("exponentialMovingAverage".into(), text.clone());
        out.push(o);
    }
    Ok(out)
}

fn n_percentile(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let n = a.float(1)?;
    if n == 0.0 {
        return Err(Error::BadArgument(
            "The requested percent is required to be greater than 0".into(),
        ));
    }
    let mut out = Vec::new();
    for s in a.series(0)? {
        let vals: Vec<f64> = s.non_null().collect();
        if vals.is_empty() {
            continue;
        }
        if let Some(v) = super::combine::percentile(&vals, n, false) {
            let points = ((s.end - s.start) / s.step.max(1)).max(0) as usize;
            let mut o = s.derive(
                format!("nPercentile({}, {})", s.name, fmt_g(n)),
                vec![Some(v); points],
            );
            o.tags.insert("nPercentile".into(), fmt_g(n));
            out.push(o);
        }
    }
    Ok(out)
}

fn aggregate_line(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let agg = a.agg(1)?;
    let keep_step = a.bool(2)?;
    let mut out = Vec::new();
    for s in a.series(0)? {
        let value = agg.apply(&s.values);
        let name = match value {
            Some(v) => format!("aggregateLine({}, {})", s.name, fmt_g(v)),
            None => format!("aggregateLine({}, None)", s.name),
        };
        if keep_step {
            out.push(s.derive(name, vec![value; s.values.len()]));
        } else {
            let mut line =
                super::special::constant_line(a, value.unwrap_or(f64::NAN), name.clone());
            if value.is_none() {
                line.values = vec![None; line.values.len()];
            }
            line.rename(name);
            out.push(line);
        }
    }
    Ok(out)
}

/// graphite's `_summarizeValues`, the bucket-start quirk included (a bucket's slice starts at
/// the last point at or before the bucket start).
fn summarize_values(
    s: &TimeSeries,
    agg: Agg,
    interval: i64,
    start: i64,
    end: i64,
    factor: f64,
) -> (Vec<Value>, i64) {
    let n = (((s.end - s.start) + s.step - 1) / s.step.max(1)).max(0) as usize;
    let n = n.min(s.values.len());
    let points_per = interval as f64 / s.step as f64;
    let mut out = Vec::new();
    let mut i = 0;
    let mut t = start;
    while t < end {
        let mut first = i;
        let mut non_null = 0;
        while i < n && s.timestamp(i) < t + interval {
            if s.timestamp(i) <= t {
                first = i;
            }
            if s.timestamp(i) >= t && s.values[i].is_some() {
                non_null += 1;
            }
            i += 1;
        }
        let ok = non_null > 0 && (non_null as f64 / points_per) >= factor;
        out.push(if ok {
            agg.apply(&s.values[first..i])
        } else {
            None
        });
        t += interval;
    }
    (out, t)
}

fn summarize(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let text = a.string(1)?;
    let interval = super::interval_seconds(&text)
        .map(i64::abs)
        .filter(|&i| i > 0)
        .ok_or_else(|| Error::BadArgument("_summarizeValues(): interval parsed to 0".into()))?;
    let func = a.string(2)?;
    let agg = a.agg(2)?;
    let align = a.bool(3)?;
    let mut out = Vec::new();
    for s in a.series(0)? {
        let (start, end) = if align {
            (s.start, s.end)
        } else {
            (
                s.start - s.start.rem_euclid(interval),
                s.end - s.end.rem_euclid(interval) + interval,
            )
        };
        let factor = s.x_files_factor.unwrap_or(a.xff());
        let (values, aligned_end) = summarize_values(&s, agg, interval, start, end, factor);
        let name = format!(
            "summarize({}, \"{text}\", \"{func}\"{})",
            s.name,
            if align { ", true" } else { "" }
        );
        let mut o = s.derive(name, values);
        o.start = start;
        o.end = if align { aligned_end } else { end };
        o.step = interval;
        o.tags.insert("summarize".into(), text.clone());
        o.tags.insert("summarizeFunction".into(), func.clone());
        out.push(o);
    }
    Ok(out)
}

fn hitcount(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let text = a.string(1)?;
    let interval = super::interval_seconds(&text)
        .map(i64::abs)
        .filter(|&i| i > 0)
        .ok_or_else(|| Error::BadArgument(format!("bad interval {text:?}")))?;
    let align = a.bool(2)?;
    let list = if align {
        let unit = if interval >= 86_400 {
            86_400
        } else if interval >= 3600 {
            3600
        } else if interval >= 60 {
            60
        } else {
            1
        };
        let ctx = Ctx {
            from: a.ctx.from - a.ctx.from.rem_euclid(unit),
            ..a.ctx
        };
        let mut list = a.series_in(0, ctx)?;
        for s in &mut list {
            let count = (s.end - s.start) / interval;
            s.end = s.start + count * interval + interval;
        }
        list
    } else {
        a.series(0)?
    };
    let mut out = Vec::new();
    for s in list {
        let step = s.step;
        let buckets_n = ((s.end - s.start) as f64 / interval as f64).ceil().max(0.0) as usize;
        let mut buckets: Vec<Option<f64>> = vec![None; buckets_n];
        let new_start = s.end - buckets_n as i64 * interval;
        let mut add = |b: i64, v: f64| {
            if let Some(slot) = usize::try_from(b).ok().and_then(|b| buckets.get_mut(b)) {
                *slot = Some(slot.unwrap_or(0.0) + v);
            }
        };
        for (i, v) in s.values.iter().enumerate() {
            let Some(v) = *v else { continue };
            let t0 = s.start + i as i64 * step;
            let (sb, sm) = (
                (t0 - new_start).div_euclid(interval),
                (t0 - new_start).rem_euclid(interval),
            );
            let t1 = t0 + step;
            let (mut eb, mut em) = (
                (t1 - new_start).div_euclid(interval),
                (t1 - new_start).rem_euclid(interval),
            );
            if eb >= buckets_n as i64 {
                eb = buckets_n as i64 - 1;
                em = interval;
            }
            if sb == eb {
                if sb >= 0 {
                    add(sb, v * (em - sm) as f64);
                }
            } else {
                if sb >= 0 {
                    add(sb, v * (interval - sm) as f64);
                }
                for j in sb + 1..eb {
                    add(j, v * interval as f64);
                }
                if em > 0 {
                    add(eb, v * em as f64);
                }
            }
        }
        let name = format!(
            "hitcount({}, \"{text}\"{})",
            s.name,
            if align { ", true" } else { "" }
        );
        let mut o = s.derive(name, buckets);
        o.start = new_start;
        o.step = interval;
        o.tags.insert("hitcount".into(), text.clone());
        out.push(o);
    }
    Ok(out)
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
    let values = rows(&cols)
        .into_iter()
        .map(|r| Agg::Sum.apply(&r))
        .collect();
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
