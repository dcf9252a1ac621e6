//! Special: series generators (`constantLine`, `seriesByTag`, `events`, `identity`) and the
//! functions that change how a series is read or consolidated (`consolidateBy`,
//! `setXFilesFactor`, `cumulative`).

use super::Type::*;
use super::{Args, Default, Func, f, p, py_str};
use crate::query::Error;
use crate::query::eval::Ctx;
use crate::query::series::{Agg, TimeSeries};

const SL: super::Param = p("seriesList", SeriesList).req();
const CONSOLIDATORS: &[&str] = &[
    "average", "avg", "avg_zero", "first", "last", "max", "min", "sum",
];

pub const FUNCTIONS: &[Func] = &[
    f("constantLine", "Special", &[p("value", Float).req()], constant_line_fn,
        "A horizontal line at value: three points at the start, middle and end of the range."),
    f("seriesByTag", "Special", &[p("tagExpressions", Text).req().multi()], series_by_tag,
        "Tagged series matching every expression (tag=v, tag!=v, tag=~regex, tag!=~regex)."),
    f("events", "Special", &[p("tags", Text).multi()], events,
        "The number of events (with all the given tags; '*' for any) at each second; usually with drawAsInfinite."),
    f("consolidateBy", "Special", &[SL, p("consolidationFunc", Text).req().opts(CONSOLIDATORS)], consolidate_by,
        "How points are merged for maxDataPoints (and which bucket field tally reads): sum, average, min, max, first, last.").transparent(),
    f("cumulative", "Special", &[SL], cumulative, "consolidateBy(seriesList, 'sum').").transparent(),
    f("setXFilesFactor", "Special", &[SL, p("xFilesFactor", Float).req()], set_xff,
        "The fraction of non-null points a consolidated or aggregated point needs (0 to 1)."),
    // Not transparent: buckets merged at read time would ignore the factor, so below it the
    // points are read as they are and the maxDataPoints consolidation applies it.
    f("xFilesFactor", "Special", &[SL, p("xFilesFactor", Float).req()], set_xff, "Short form of setXFilesFactor."),
    f("fallbackSeries", "Special", &[SL, p("fallback", SeriesList).req()], fallback_series, "The fallback series when the first list is empty.").transparent(),
    f("identity", "Calculate", &[p("name", Text).req()], identity, "A series whose value is its timestamp, every 60 s."),
    f("time", "Calculate", &[p("name", Text).req(), p("step", Integer).def(Default::Int(60))], time_fn, "A series whose value is its timestamp."),
    f("timeFunction", "Calculate", &[p("name", Text).req(), p("step", Integer).def(Default::Int(60))], time_fn, "A series whose value is its timestamp."),
    f("sin", "Calculate", &[p("name", Text).req(), p("amplitude", Integer).def(Default::Int(1)), p("step", Integer).def(Default::Int(60))], sin_fn, "A sine wave of the timestamp."),
    f("randomWalk", "Special", &[p("name", Text).req(), p("step", Integer).def(Default::Int(60))], random_walk,
        "A random walk from 0: each point adds a uniform random number in [-0.5, 0.5). The same name and range give the same walk."),
    f("randomWalkFunction", "Special", &[p("name", Text).req(), p("step", Integer).def(Default::Int(60))], random_walk, "Long form of randomWalk."),
    f("sinFunction", "Calculate", &[p("name", Text).req(), p("amplitude", Integer).def(Default::Int(1)), p("step", Integer).def(Default::Int(60))], sin_fn, "A sine wave of the timestamp."),
];

/// graphite's `constantLine`: three points, start, middle and end, named `name`.
pub fn constant_line(a: &Args, value: f64, name: String) -> TimeSeries {
    let (start, end) = (a.ctx.from, a.ctx.until);
    let step = ((end - start) / 2).max(1);
    let mut s = TimeSeries::new(&name, start, step, vec![Some(value); 3]);
    s.end = end;
    s.x_files_factor = Some(a.xff());
    s
}

fn constant_line_fn(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let value = a.float(0)?;
    // graphite's float parameter: `constantLine(100)` is named `100.0`.
    let text = py_str(value, false);
    let mut s = constant_line(a, value, text.clone());
    s.path_expression = format!("constantLine({text})");
    Ok(vec![s])
}

fn series_by_tag(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let exprs = a.strings(0)?;
    a.ev.series_by_tag(&exprs, a.call.raw.as_deref(), &a.ctx)
}

fn events(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let tags = a.strings(0)?;
    let name = format!("events(\"{}\")", tags.join("\", \""));
    let any = tags.len() == 1 && tags[0] == "*";
    let all = a.ev.source.events(i64::MIN, i64::MAX);
    let tags = crate::store::known_tags(&tags, &all);
    let (start, end) = (a.ctx.from, a.ctx.until);
    a.ev.check_points(end - start)?;
    let points = (end - start).max(0) as usize;
    let mut values = vec![None; points];
    for e in all.iter().filter(|e| (start..=end).contains(&e.when)) {
        // No tag at all matches nothing (graphite's tagged.with_all(())); '*' matches all.
        if !any && (tags.is_empty() || !tags.iter().all(|t| e.tags.contains(*t))) {
            continue;
        }
        if let Some(slot) = usize::try_from(e.when - start)
            .ok()
            .and_then(|i| values.get_mut(i))
        {
            *slot = Some(slot.unwrap_or(0.0) + 1.0);
        }
    }
    let mut s = TimeSeries::new(&name, start, 1, values);
    s.end = end;
    s.consolidation = Agg::Sum;
    s.x_files_factor = Some(a.xff());
    Ok(vec![s])
}

fn consolidate_by(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(1)?;
    let agg = Agg::parse_consolidation(&name)
        .ok_or_else(|| Error::BadArgument(format!("Invalid consolidation function: '{name}'")))?;
    let ctx = Ctx {
        consolidate: Some(agg),
        // avg_zero counts the empty slots of a group as zeros: no bucket field holds that, so
        // the points are read as they are and the renderer consolidates them as graphite does.
        merge: a.ctx.merge && agg != Agg::AvgZero,
        ..a.ctx
    };
    let mut list = a.series_in(0, ctx)?;
    for s in &mut list {
        s.consolidation = agg;
        let n = format!("consolidateBy({},\"{name}\")", s.name);
        s.rename(n.clone());
        s.path_expression = n;
        s.tags.insert("consolidateBy".into(), name.clone());
    }
    Ok(list)
}

fn cumulative(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let ctx = Ctx {
        consolidate: Some(Agg::Sum),
        ..a.ctx
    };
    let mut list = a.series_in(0, ctx)?;
    for s in &mut list {
        s.consolidation = Agg::Sum;
        let n = format!("consolidateBy({},\"sum\")", s.name);
        s.rename(n.clone());
        s.path_expression = n;
        s.tags.insert("consolidateBy".into(), "sum".into());
    }
    Ok(list)
}

fn set_xff(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let x = a.float(1)?;
    if !(0.0..=1.0).contains(&x) {
        return Err(Error::BadArgument(
            "xFilesFactor must be between 0 and 1".into(),
        ));
    }
    let mut list = a.series(0)?;
    for s in &mut list {
        s.x_files_factor = Some(x);
        // graphite's float(xFilesFactor): `1.0`, `0.5`.
        s.tags.insert("xFilesFactor".into(), py_str(x, false));
    }
    Ok(list)
}

fn fallback_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let list = a.series(0)?;
    if list.is_empty() {
        a.series(1)
    } else {
        Ok(list)
    }
}

fn generated(a: &Args, name: &str, step: i64, f: impl Fn(i64) -> f64) -> Result<TimeSeries, Error> {
    let (start, end) = (a.ctx.from, a.ctx.until);
    let step = step.max(1);
    a.ev.check_points((end - start) / step)?;
    let values = (start..end)
        .step_by(step as usize)
        .map(|t| Some(f(t)))
        .collect();
    let mut s = TimeSeries::new(name, start, step, values);
    s.end = end;
    s.x_files_factor = Some(a.xff());
    Ok(s)
}

fn identity(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(0)?;
    let mut s = generated(a, &name, 60, |t| t as f64)?;
    s.path_expression = format!("identity(\"{name}\")");
    Ok(vec![s])
}

fn time_fn(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(0)?;
    let step = a.int(1)?;
    let mut s = generated(a, &name, step, |t| t as f64)?;
    s.path_expression = name;
    Ok(vec![s])
}

fn sin_fn(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(0)?;
    let amplitude = a.float(1)?;
    let step = a.int(2)?;
    let mut s = generated(a, &name, step, |t| amplitude * (t as f64).sin())?;
    s.path_expression = name;
    Ok(vec![s])
}

/// graphite's `randomWalkFunction`: `x(0) = 0`, `x(t) = x(t-1) + random() - 0.5`. The random
/// numbers come from a SplitMix64 stream seeded by the name, range and step (the query core
/// reads no clock and no entropy), so a request is repeatable.
fn random_walk(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(0)?;
    let step = a.int(1)?.max(1);
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name
        .bytes()
        .chain(a.ctx.from.to_le_bytes())
        .chain(a.ctx.until.to_le_bytes())
        .chain(step.to_le_bytes())
    {
        seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut current = 0.0;
    let mut s = generated(a, &name, step, |_| 0.0)?;
    for v in &mut s.values {
        *v = Some(current);
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        current += (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    }
    s.path_expression = name;
    Ok(vec![s])
}

#[cfg(test)]
mod tests {
    use crate::query::eval::{Evaluator, Limits, Request};
    use crate::query::test_source::Memory;

    fn walk(target: &str, from: i64, until: i64) -> Vec<f64> {
        let src = Memory::default();
        let request = Request {
            from,
            until,
            now: until,
            max_data_points: None,
            x_files_factor: 0.0,
        };
        let out = Evaluator::new(&src, request, Limits::default())
            .targets(&[target])
            .unwrap();
        out[0].values.iter().map(|v| v.unwrap()).collect()
    }

    #[test]
    fn random_walk_steps_are_uniform_in_half_open_unit_interval_and_repeatable() {
        let a = walk("randomWalk('a.b', 1)", 0, 20_000);
        assert_eq!(a.len(), 20_000);
        assert_eq!(a[0], 0.0);
        let steps: Vec<f64> = a.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().all(|d| (-0.5..0.5).contains(d)));
        let mean = steps.iter().sum::<f64>() / steps.len() as f64;
        assert!(mean.abs() < 0.02, "mean step {mean}");
        let below = steps.iter().filter(|d| **d < 0.0).count() as f64 / steps.len() as f64;
        assert!((0.47..0.53).contains(&below), "{below}");
        assert_eq!(a, walk("randomWalk('a.b', 1)", 0, 20_000));
        assert_ne!(a, walk("randomWalk('a.c', 1)", 0, 20_000));
    }
}
