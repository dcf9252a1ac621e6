//! Calculate: moving windows (re-fetched with the window prepended, so the first points are
//! valid), summarize, hitcount, percentiles, asPercent.

use super::Type::*;
use super::{Args, Default, Func, f, fmt_g, p};
use crate::query::Error;
use crate::query::eval::Ctx;
use crate::query::series::{Agg, TimeSeries, Value};
use crate::query::target::Expr;

const SL: super::Param = p("seriesList", SeriesList).req();
const WINDOW: super::Param = p("windowSize", IntOrInterval).req();
const XFF: super::Param = p("xFilesFactor", Float);

/// Moving windows over at least this many points in all are computed by two threads.
const PARALLEL_MIN_POINTS: usize = 50_000;

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
    f("smartSummarize", "Transform", &[SL, p("intervalString", Interval).req(), p("func", AggFunc).def(Default::Str("sum")).opts(&Agg::NAMES), p("alignTo", Text).opts(&["days", "hours", "minutes", "months", "seconds", "weeks", "years"])], smart_summarize,
        "summarize with buckets starting at the series start (after aligning `from` to alignTo's unit).").resets(),
    f("timeStack", "Transform", &[SL, p("timeShiftUnit", Interval).def(Default::Str("1d")), p("timeShiftStart", Integer).def(Default::Int(0)), p("timeShiftEnd", Integer).def(Default::Int(7))], time_stack,
        "The series shifted back by 0, 1, … units, each drawn in the current range."),
    f("stdev", "Calculate", &[SL, p("points", Integer).req(), p("windowTolerance", Float).def(Default::Float(0.1))], stdev,
        "Standard deviation over a moving window of points."),
];

/// The window of a moving function: `(preview seconds, window text, Some(points) if a count)`.
/// Only a count needs the series (their step); an interval does not read them.
fn window(
    a: &Args,
    i: usize,
    steps: impl FnOnce() -> Result<i64, Error>,
) -> Result<(i64, String, Option<usize>), Error> {
    let count = match a.expr(i) {
        // 0 is graphite's empty window: every point null.
        Some(Expr::Int(n)) if *n >= 0 => *n,
        Some(Expr::Float(v)) if *v >= 0.0 && v.fract() == 0.0 => *v as i64,
        Some(Expr::Str(s)) => {
            let secs = super::interval_seconds(s)
                .map(i64::abs)
                .filter(|&x| x > 0)
                .ok_or_else(|| Error::BadArgument(format!("bad window {s:?}")))?;
            return Ok((secs, s.clone(), None));
        }
        _ => {
            return Err(Error::BadArgument(
                "windowSize must be a positive count or an interval string".into(),
            ));
        }
    };
    Ok((steps()? * count, count.to_string(), Some(count as usize)))
}

/// The largest step of the series of argument `i` (0 if there are none).
fn max_step(a: &Args, i: usize) -> Result<i64, Error> {
    Ok(a.series(i)?.iter().map(|s| s.step).max().unwrap_or(0))
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
    let (preview, text, points) = window(a, 1, || max_step(a, 0))?;
    let factor = a.float_opt(xff_at)?;
    let ctx = Ctx {
        from: a.ctx.from - preview,
        ..a.ctx
    };
    let tag = format!("moving{}", capitalized(func_name));
    let quoted = points.is_none();
    let xff = a.xff();
    let input = a.series_in(0, ctx)?;
    let heavy = input.iter().map(|s| s.values.len()).sum::<usize>() >= PARALLEL_MIN_POINTS;
    Ok(crate::split_map(&input, heavy, |s| {
        let name = if quoted {
            format!("{tag}({},\"{text}\")", s.name)
        } else {
            format!("{tag}({},{text})", s.name)
        };
        // A window shorter than the step holds no point (graphite's `windowPoints` 0).
        let w = points.unwrap_or((preview / s.step.max(1)) as usize);
        let effective = factor.or(s.x_files_factor).unwrap_or(xff);
        let values = match w {
            0 => vec![None; s.values.len()],
            w => super::moving::values(&s.values, w, agg, effective),
        };
        let mut o = s.derive(name, values);
        o.start = s.start + preview;
        o.end = s.end;
        o.tags.insert(tag.clone(), text.clone());
        o
    }))
}

/// `agg` of the `w` points before each point from the `w + 1`-th on, or null where fewer than
/// `factor` of them are non-null. Each window is aggregated on its own, in order (as graphite
/// does, so sums round alike); average and sum in one pass over the window, other functions
/// that ignore nulls on the window itself, the rest on a copy of its non-null points.
fn moving(a: &Args, agg: Agg, xff_at: usize) -> Result<Vec<TimeSeries>, Error> {
    moving_with(a, agg, agg.name(), xff_at)
}

fn moving_window(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(2)?;
    let agg = a.agg(2)?;
    moving_with(a, agg, &name, 3)
}

fn exponential_moving_average(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let (preview, text, points) = window(a, 1, || max_step(a, 0))?;
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
            o.tags.insert("nPercentile".into(), super::py_str(n, false));
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
            // graphite draws it with constantLine(value), whose name tag stays str(value): an
            // int for count (safeLen), a float otherwise.
            let int = agg == Agg::Count;
            let tag = value.map_or_else(|| "None".to_string(), |v| super::py_str(v, int));
            let mut line = super::special::constant_line(a, value.unwrap_or(f64::NAN), tag);
            if value.is_none() {
                line.values = vec![None; line.values.len()];
            }
            // graphite sets the path expression too: an aggregate of it names the function.
            line.path_expression.clone_from(&name);
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
        a.ev.check_points((end - start) / interval)?;
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
        // Aligned on the wall clock of the request's zone, with `from`'s offset, as graphite's
        // datetime(s.year, …, tzinfo=s.tzinfo) does.
        let off = a.ev.utc_offset(a.ctx.from);
        let ctx = Ctx {
            from: a.ctx.from - (a.ctx.from + off).rem_euclid(unit),
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
        a.ev.check_points((s.end - s.start) / interval)?;
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

/// `from` moved back to the start of its unit (graphite's `smartSummarize` alignTo).
fn align_start(t: i64, unit: &str) -> Option<i64> {
    let day = t.div_euclid(86_400);
    // The start of the day of `t` with its year, month or day replaced by `pick`.
    type Ymd = (i64, u32, u32);
    let start = |pick: fn(Ymd) -> Ymd| {
        let (y, m, d) = pick(crate::clock::civil_from_days(day)?);
        crate::clock::days_from_civil(y, m, d).map(|d| d * 86_400)
    };
    Some(if unit.starts_with('y') {
        start(|(y, _, _)| (y, 1, 1))?
    } else if unit.starts_with("mon") {
        start(|(y, m, _)| (y, m, 1))?
    } else if unit.starts_with('w') {
        // ISO weekday: 1970-01-01 was a Thursday (4). A trailing digit picks the weekday.
        let want = unit
            .chars()
            .last()
            .and_then(|c| c.to_digit(10))
            .unwrap_or(1) as i64;
        let weekday = (day + 3).rem_euclid(7) + 1;
        (day - (weekday - want).rem_euclid(7)) * 86_400
    } else if unit.starts_with('d') {
        start(|ymd| ymd)?
    } else if unit.starts_with('h') {
        t - t.rem_euclid(3600)
    } else if unit.starts_with("min") {
        t - t.rem_euclid(60)
    } else if unit.starts_with('s') {
        t
    } else {
        return None;
    })
}

fn smart_summarize(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let text = a.string(1)?;
    let interval = super::interval_seconds(&text)
        .map(i64::abs)
        .filter(|&i| i > 0)
        .ok_or_else(|| Error::BadArgument("_summarizeValues(): interval parsed to 0".into()))?;
    let func = a.string(2)?;
    let agg = a.agg(2)?;
    let list = match a.string_opt(3)? {
        Some(unit) => {
            // On the wall clock of the request's zone, with `from`'s offset (graphite's
            // datetime(…, tzinfo=s.tzinfo)).
            let off = a.ev.utc_offset(a.ctx.from);
            let from = align_start(a.ctx.from + off, &unit.to_lowercase())
                .ok_or_else(|| Error::BadArgument(format!("alignTo: unknown unit {unit:?}")))?
                - off;
            a.series_in(0, Ctx { from, ..a.ctx })?
        }
        None => a.series(0)?,
    };
    let mut out = Vec::new();
    for s in list {
        a.ev.check_points((s.end - s.start) / interval)?;
        let factor = s.x_files_factor.unwrap_or(a.xff());
        let (values, aligned_end) = summarize_values(&s, agg, interval, s.start, s.end, factor);
        let mut o = s.derive(
            format!("smartSummarize({}, \"{text}\", \"{func}\")", s.name),
            values,
        );
        o.end = aligned_end;
        o.step = interval;
        o.tags.insert("smartSummarize".into(), text.clone());
        o.tags.insert("smartSummarizeFunction".into(), func.clone());
        out.push(o);
    }
    Ok(out)
}

fn time_stack(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut unit = a.string(1)?;
    if unit.starts_with(|c: char| c.is_ascii_digit()) {
        unit.insert(0, '-');
    }
    let delta = super::interval_seconds(&unit)
        .ok_or_else(|| Error::BadArgument(format!("bad time shift unit {unit:?}")))?;
    let (first, last) = (a.int(2)?, a.int(3)?);
    if last - first > 1000 {
        return Err(Error::BadArgument("timeStack: at most 1000 shifts".into()));
    }
    let here = a.series(0)?;
    let Some(base) = here.first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for shift in first..last {
        let ctx = Ctx {
            from: a.ctx.from + delta * shift,
            until: a.ctx.until + delta * shift,
            ..a.ctx
        };
        for mut s in a.series_in(0, ctx)? {
            s.tags.insert("timeShiftUnit".into(), unit.clone());
            s.tags.insert("timeShift".into(), shift.to_string());
            let name = format!("timeShift({}, {unit}, {shift})", s.name);
            s.rename(name.clone());
            s.path_expression = name;
            s.start = base.start;
            s.end = base.end;
            out.push(s);
        }
    }
    Ok(out)
}

fn stdev(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let points = a.int(1)?;
    if points <= 0 {
        return Err(Error::BadArgument("points must be positive".into()));
    }
    let points = points as usize;
    let tolerance = a.float(2)?;
    let mut out = Vec::new();
    for s in a.series(0)? {
        let (mut valid, mut sum, mut squares) = (0usize, 0.0, 0.0);
        let values = (0..s.values.len())
            .map(|i| {
                if i >= points
                    && let Some(dropped) = s.values[i - points]
                {
                    valid -= 1;
                    sum -= dropped;
                    squares -= dropped * dropped;
                }
                if let Some(v) = s.values[i] {
                    valid += 1;
                    sum += v;
                    squares += v * v;
                }
                if valid > 0 && valid as f64 / points as f64 >= tolerance {
                    let n = valid as f64;
                    let d = n * squares - sum * sum;
                    (d >= 0.0).then(|| d.sqrt() / n)
                } else {
                    None
                }
            })
            .collect();
        let mut o = s.derive(format!("stdev({},{points})", s.name), values);
        o.tags.insert("stdev".into(), points.to_string());
        out.push(o);
    }
    Ok(out)
}
