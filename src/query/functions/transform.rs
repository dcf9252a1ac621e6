//! Transform: functions of one series at a time (scale, derivatives, integral, null handling,
//! time shifts). Names follow graphite-web: `scale(x,2)`, `perSecond(x)`, `timeShift(x, "-1d")`.

use super::Type::*;
use super::{Args, Default, Func, f, fmt_g, map_values, p, py_str};
use crate::query::Error;
use crate::query::series::{TimeSeries, Value};

const SL: super::Param = p("seriesList", SeriesList).req();

pub const FUNCTIONS: &[Func] = &[
    f("scale", "Transform", &[SL, p("factor", Float).req()], scale, "Multiplies each value by a constant."),
    f("offset", "Transform", &[SL, p("factor", Float).req()], offset, "Adds a constant to each value."),
    f("add", "Transform", &[SL, p("constant", Float).req()], add, "Adds a constant to each value."),
    f("scaleToSeconds", "Transform", &[SL, p("seconds", Float).req()], scale_to_seconds, "Scales per-step values to per-`seconds` values (value × seconds / step)."),
    f("absolute", "Transform", &[SL], |a| unary(a, "absolute", |v| Some(v.abs())), "Absolute value of each point."),
    f("invert", "Transform", &[SL], |a| unary(a, "invert", |v| (v != 0.0).then(|| 1.0 / v)), "1/x for each point (null for 0)."),
    f("squareRoot", "Transform", &[SL], |a| unary(a, "squareRoot", |v| (v >= 0.0).then(|| v.sqrt())), "Square root of each point (null for negatives)."),
    f("exp", "Transform", &[SL], |a| unary(a, "exp", |v| Some(v.exp())), "e to the power of each point."),
    f("sigmoid", "Transform", &[SL], |a| unary(a, "sigmoid", |v| Some(1.0 / (1.0 + (-v).exp()))), "1 / (1 + e^-x) for each point."),
    f("logit", "Transform", &[SL], |a| unary(a, "logit", |v| { let r = (v / (1.0 - v)).ln(); r.is_finite().then_some(r) }), "ln(x / (1 - x)) for each point (null outside 0 < x < 1)."),
    f("pow", "Transform", &[SL, p("factor", Float).req()], pow, "Each point raised to a power."),
    f("log", "Transform", &[SL, p("base", Integer).def(Default::Int(10))], log, "Logarithm of each point (null for values ≤ 0)."),
    f("logarithm", "Transform", &[SL, p("base", Integer).def(Default::Int(10))], log, "Logarithm of each point (null for values ≤ 0)."),
    f("derivative", "Transform", &[SL], derivative, "Difference between consecutive points.").resets(),
    f("nonNegativeDerivative", "Transform", &[SL, p("maxValue", Float), p("minValue", Float)], non_negative_derivative,
        "Difference between consecutive points; a decrease is null, or a counter wrap when maxValue is given.").resets(),
    f("perSecond", "Transform", &[SL, p("maxValue", Float), p("minValue", Float)], per_second,
        "nonNegativeDerivative divided by the step: the per-second rate of a counter.").resets(),
    f("integral", "Transform", &[SL], integral, "Running sum (nulls stay null and are skipped).").resets(),
    f("integralByInterval", "Transform", &[SL, p("intervalUnit", Text).req()], integral_by_interval, "Running sum that restarts at every interval boundary.").resets(),
    f("keepLastValue", "Transform", &[SL, p("limit", IntOrInf).def(Default::Inf)], keep_last_value,
        "Fills gaps of at most `limit` nulls with the last value."),
    f("interpolate", "Transform", &[SL, p("limit", IntOrInf).def(Default::Inf)], interpolate, "Fills gaps of at most `limit` nulls by linear interpolation."),
    f("transformNull", "Transform", &[SL, p("default", Float).def(Default::Int(0)), p("referenceSeries", SeriesList)], transform_null,
        "Replaces nulls with a value (only where a reference series has data, if given)."),
    f("isNonNull", "Transform", &[SL], is_non_null, "1 where the series has a value, 0 elsewhere."),
    f("changed", "Transform", &[SL], changed, "1 where the value changed from the previous one, else 0."),
    f("delay", "Transform", &[SL, p("steps", Integer).req()], delay, "Shifts values later by a number of steps."),
    f("offsetToZero", "Transform", &[SL], offset_to_zero, "Subtracts the series' minimum from every value."),
    f("minMax", "Transform", &[SL], min_max, "Scales values into [0, 1] by the series' min and max."),
    f("round", "Transform", &[SL, p("precision", Integer)], round, "Rounds each value to a number of decimals."),
    f("timeShift", "Transform", &[SL, p("timeShift", Interval).req(), p("resetEnd", Boolean).def(Default::Bool(true)), p("alignDst", Boolean).def(Default::Bool(false))], time_shift,
        "Evaluates the series over a shifted time range and draws it in the current one (a bare `1d` means `-1d`)."),
    f("timeSlice", "Transform", &[SL, p("startSliceAt", Date).req(), p("endSliceAt", Date).def(Default::Str("now"))], time_slice, "Keeps only the values between two times."),
];

fn tagged(s: &mut TimeSeries, key: &str, value: impl ToString) {
    s.tags.insert(key.into(), value.to_string());
}

fn each(a: &Args, mut f: impl FnMut(&TimeSeries) -> TimeSeries) -> Result<Vec<TimeSeries>, Error> {
    Ok(a.series(0)?.iter().map(&mut f).collect())
}

fn unary(a: &Args, name: &str, op: fn(f64) -> Option<f64>) -> Result<Vec<TimeSeries>, Error> {
    each(a, |s| {
        let mut out = s.derive(format!("{name}({})", s.name), map_values(s, op));
        out.path_expression = out.name.clone();
        // graphite tags most of these `1`; exp, sigmoid and logit with a word.
        match name {
            "exp" => tagged(&mut out, name, "e"),
            "sigmoid" | "logit" => tagged(&mut out, name, name),
            _ => tagged(&mut out, name, 1),
        }
        out
    })
}

fn scale(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let k = a.float(1)?;
    each(a, |s| {
        let mut out = s.derive(
            format!("scale({},{})", s.name, fmt_g(k)),
            map_values(s, |v| Some(v * k)),
        );
        tagged(&mut out, "scale", py_str(k, false));
        out
    })
}

fn offset(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let k = a.float(1)?;
    each(a, |s| {
        let mut out = s.derive(
            format!("offset({},{})", s.name, fmt_g(k)),
            map_values(s, |v| Some(v + k)),
        );
        tagged(&mut out, "offset", py_str(k, false));
        out
    })
}

fn add(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let k = a.float(1)?;
    each(a, |s| {
        let mut out = s.derive(
            format!("add({},{})", s.name, k as i64),
            map_values(s, |v| Some(v + k)),
        );
        tagged(&mut out, "add", py_str(k, false));
        out
    })
}

fn scale_to_seconds(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let secs = a.float(1)?;
    each(a, |s| {
        let factor = secs / s.step as f64;
        let values = map_values(s, |v| Some(round_to(v * factor, 6)));
        let mut out = s.derive(
            format!("scaleToSeconds({},{})", s.name, secs as i64),
            values,
        );
        tagged(&mut out, "scaleToSeconds", py_str(secs, false));
        out
    })
}

fn pow(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let k = a.float(1)?;
    each(a, |s| {
        let values = map_values(s, |v| {
            let r = v.powf(k);
            r.is_finite().then_some(r)
        });
        let mut out = s.derive(format!("pow({},{})", s.name, fmt_g(k)), values);
        tagged(&mut out, "pow", py_str(k, false));
        out
    })
}

fn log(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let base = a.float(1)?;
    each(a, |s| {
        let values = map_values(s, |v| (v > 0.0).then(|| v.ln() / base.ln()));
        // Python's str() of the base as given: `2`, `0.5`, the default `10`.
        let text = match a.expr(1) {
            Some(e) => super::literal_text(Some(e)),
            None => "10".into(),
        };
        let mut out = s.derive(format!("log({}, {text})", s.name), values);
        tagged(&mut out, "log", text);
        out
    })
}

fn derivative(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    each(a, |s| {
        let mut prev: Value = None;
        let values = s
            .values
            .iter()
            .map(|&v| {
                let d = match (prev, v) {
                    (Some(p), Some(v)) => Some(v - p),
                    _ => None,
                };
                prev = v;
                d
            })
            .collect();
        let mut out = s.derive(format!("derivative({})", s.name), values);
        tagged(&mut out, "derivative", 1);
        out
    })
}

/// graphite's `_nonNegativeDelta`: `(delta, new prev)`.
pub fn non_negative_delta(
    v: Value,
    prev: Value,
    max: Option<f64>,
    min: Option<f64>,
) -> (Value, Value) {
    let Some(v) = v else { return (None, None) };
    if max.is_some_and(|m| v > m) || min.is_some_and(|m| v < m) {
        return (None, None);
    }
    let Some(p) = prev else {
        return (None, Some(v));
    };
    if v >= p {
        return (Some(v - p), Some(v));
    }
    if let Some(m) = max {
        return (Some(m + 1.0 + v - p - min.unwrap_or(0.0)), Some(v));
    }
    if let Some(m) = min {
        return (Some(v - m), Some(v));
    }
    (None, Some(v))
}

fn non_negative(a: &Args, name: &str, per_second: bool) -> Result<Vec<TimeSeries>, Error> {
    let max = a.float_opt(1)?;
    let min = a.float_opt(2)?;
    each(a, |s| {
        let mut prev = None;
        let step = s.step as f64;
        let values = s
            .values
            .iter()
            .map(|&v| {
                let (d, p) = non_negative_delta(v, prev, max, min);
                prev = p;
                if per_second {
                    d.map(|d| round_to(d / step, 6))
                } else {
                    d
                }
            })
            .collect();
        let mut out = s.derive(format!("{name}({})", s.name), values);
        tagged(&mut out, name, 1);
        out
    })
}

fn non_negative_derivative(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    non_negative(a, "nonNegativeDerivative", false)
}

fn per_second(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    non_negative(a, "perSecond", true)
}

/// Python's `round(x, n)`: correctly rounded from the exact binary value, ties to even.
pub fn round_to(v: f64, decimals: i32) -> f64 {
    if !v.is_finite() {
        return v;
    }
    // Past 340 decimals an f64 has no digit left to round; past 308 tens nothing is left.
    if decimals > 340 {
        return v;
    }
    if decimals < -308 {
        return 0.0;
    }
    if decimals >= 0 {
        let d = decimals as usize;
        return format!("{v:.d$}").parse().unwrap_or(v);
    }
    let m = 10f64.powi(-decimals);
    (v / m).round_ties_even() * m
}

fn integral(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    each(a, |s| {
        let mut total = 0.0;
        let values = map_values(s, |v| {
            total += v;
            Some(total)
        });
        let mut out = s.derive(format!("integral({})", s.name), values);
        tagged(&mut out, "integral", 1);
        out
    })
}

fn integral_by_interval(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let unit = a.string(1)?;
    let interval = super::interval_seconds(&unit)
        .map(i64::abs)
        .filter(|&i| i > 0)
        .ok_or_else(|| Error::BadArgument(format!("bad interval {unit:?}")))?;
    let origin = a.ctx.from;
    each(a, |s| {
        let mut total = 0.0;
        let values = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let t = s.timestamp(i);
                if (t - origin).div_euclid(interval) != (t - origin - s.step).div_euclid(interval) {
                    total = 0.0;
                }
                if let Some(v) = v {
                    total += v;
                }
                Some(total)
            })
            .collect();
        let mut out = s.derive(format!("integralByInterval({},'{unit}')", s.name), values);
        tagged(&mut out, "integralByInterval", &unit);
        out
    })
}

fn limit_arg(a: &Args) -> Result<f64, Error> {
    Ok(a.float_opt(1)?.unwrap_or(f64::INFINITY))
}

fn keep_last_value(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let limit = limit_arg(a)?;
    each(a, |s| {
        let mut values = s.values.clone();
        let mut nones = 0usize;
        let mut last: Value = None;
        for i in 0..values.len() {
            match values[i] {
                None => nones += 1,
                Some(v) => {
                    if nones > 0 && nones as f64 <= limit && last.is_some() {
                        values[i - nones..i].fill(last);
                    }
                    nones = 0;
                    last = Some(v);
                }
            }
        }
        let n = values.len();
        if nones > 0 && nones as f64 <= limit && last.is_some() {
            values[n - nones..].fill(last);
        }
        let name = format!("keepLastValue({})", s.name);
        let mut out = s.derive(name.clone(), values);
        out.path_expression = name;
        out
    })
}

fn interpolate(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let limit = limit_arg(a)?;
    each(a, |s| {
        let mut values = s.values.clone();
        let mut nones = 0usize;
        let mut last: Option<(usize, f64)> = None;
        for i in 0..values.len() {
            match values[i] {
                None => nones += 1,
                Some(v) => {
                    if nones > 0
                        && nones as f64 <= limit
                        && let Some((j, lv)) = last
                    {
                        let gap = (i - j) as f64;
                        for (k, slot) in values.iter_mut().enumerate().take(i).skip(j + 1) {
                            *slot = Some(lv + (v - lv) * (k - j) as f64 / gap);
                        }
                    }
                    nones = 0;
                    last = Some((i, v));
                }
            }
        }
        let name = format!("interpolate({})", s.name);
        let mut out = s.derive(name.clone(), values);
        out.path_expression = name;
        out
    })
}

fn transform_null(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let default = a.float(1)?;
    let default_text = if a.given(1) {
        py_str(default, false)
    } else {
        "0".to_string()
    };
    let reference = if a.given(2) { Some(a.series(2)?) } else { None };
    let mask: Option<Vec<bool>> = reference.filter(|r| !r.is_empty()).map(|r| {
        let len = r.iter().map(|s| s.values.len()).max().unwrap_or(0);
        (0..len)
            .map(|i| {
                r.iter()
                    .any(|s| s.values.get(i).copied().flatten().is_some())
            })
            .collect()
    });
    each(a, |s| {
        let values = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| match (v, &mask) {
                (Some(v), _) => Some(*v),
                (None, None) => Some(default),
                (None, Some(m)) => m.get(i).copied().unwrap_or(false).then_some(default),
            })
            .collect();
        let name = if mask.is_some() {
            format!(
                "transformNull({},{},referenceSeries)",
                s.name,
                fmt_g(default)
            )
        } else {
            format!("transformNull({},{})", s.name, fmt_g(default))
        };
        let mut out = s.derive(name.clone(), values);
        out.path_expression = name;
        // A given default went through graphite's float(); the default default is the int 0.
        tagged(&mut out, "transformNull", default_text.clone());
        if mask.is_some() {
            tagged(&mut out, "referenceSeries", 1);
        }
        out
    })
}

fn is_non_null(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    each(a, |s| {
        let values = s
            .values
            .iter()
            .map(|v| Some(f64::from(u8::from(v.is_some()))))
            .collect();
        let name = format!("isNonNull({})", s.name);
        let mut out = s.derive(name.clone(), values);
        out.path_expression = name;
        tagged(&mut out, "isNonNull", 1);
        out
    })
}

fn changed(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    each(a, |s| {
        let mut prev: Value = None;
        let values = s
            .values
            .iter()
            .map(|&v| {
                let c = match (prev, v) {
                    (Some(p), Some(v)) if p != v => 1.0,
                    _ => 0.0,
                };
                if v.is_some() {
                    prev = v;
                }
                Some(c)
            })
            .collect();
        let name = format!("changed({})", s.name);
        let mut out = s.derive(name.clone(), values);
        out.path_expression = name;
        out
    })
}

fn delay(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let steps = a.int(1)?;
    each(a, |s| {
        let n = s.values.len();
        let k = (steps.unsigned_abs() as usize).min(n);
        let values: Vec<Value> = if steps < 0 {
            s.values[k..]
                .iter()
                .copied()
                .chain(std::iter::repeat_n(None, k))
                .collect()
        } else {
            std::iter::repeat_n(None, k)
                .chain(s.values[..n - k].iter().copied())
                .collect()
        };
        let mut out = s.derive(format!("delay({},{steps})", s.name), values);
        tagged(&mut out, "delay", steps);
        out
    })
}

fn offset_to_zero(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    each(a, |s| {
        let min = s.non_null().reduce(f64::min);
        let values = map_values(s, |v| min.map(|m| v - m));
        let mut out = s.derive(format!("offsetToZero({})", s.name), values);
        // graphite's str() of the float minimum (`-5.0`), or of None when there is none.
        tagged(
            &mut out,
            "offsetToZero",
            min.map_or_else(|| "None".into(), |m| py_str(m, false)),
        );
        out
    })
}

fn min_max(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    each(a, |s| {
        let min = s.non_null().reduce(f64::min).unwrap_or(0.0);
        let max = s.non_null().reduce(f64::max).unwrap_or(0.0);
        let values = map_values(s, |v| {
            Some(if max == min {
                0.0
            } else {
                (v - min) / (max - min)
            })
        });
        s.derive(format!("minMax({})", s.name), values)
    })
}

fn round(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let precision = if a.given(1) { Some(a.int(1)?) } else { None };
    each(a, |s| {
        let p = precision.unwrap_or(0).clamp(-400, 400) as i32;
        let values = map_values(s, |v| Some(round_to(v, p)));
        let name = match precision {
            None => format!("round({})", s.name),
            Some(p) => format!("round({},{p})", s.name),
        };
        let mut out = s.derive(name, values);
        tagged(&mut out, "round", p);
        out
    })
}

fn time_shift(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut text = a.string(1)?;
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        text.insert(0, '-');
    }
    let delta = super::interval_seconds(&text)
        .ok_or_else(|| Error::BadArgument(format!("bad time shift {text:?}")))?;
    let reset_end = a.bool(2)?;
    let here = a.series(0)?;
    let Some(first) = here.first() else {
        return Ok(Vec::new());
    };
    let (start, end) = (first.start, first.end);
    let ctx = crate::query::eval::Ctx {
        from: a.ctx.from + delta,
        until: a.ctx.until + delta,
        ..a.ctx
    };
    let mut out = a.series_in(0, ctx)?;
    for s in &mut out {
        tagged(s, "timeShift", &text);
        s.rename(format!("timeShift({}, \"{text}\")", s.name));
        s.end = if reset_end {
            end
        } else {
            s.end - s.start + start
        };
        s.start = start;
    }
    Ok(out)
}

fn time_slice(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let now = a.ev.request.now;
    let parse = |i: usize| -> Result<i64, Error> {
        let text = match a.expr(i) {
            Some(crate::query::target::Expr::Int(n)) => n.to_string(),
            _ => a.string(i)?,
        };
        crate::query::attime::parse(&text, now).map_err(|e| Error::BadArgument(e.to_string()))
    };
    let (from, until) = (parse(1)?, parse(2)?);
    let origin = a.ctx.from;
    each(a, |s| {
        let values = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let t = origin + i as i64 * s.step;
                v.filter(|_| t >= from && t <= until)
            })
            .collect();
        let mut out = s.derive(format!("timeSlice({}, {from}, {until})", s.name), values);
        // graphite renames the series but keeps its path expression (what sumSeries… name).
        out.path_expression.clone_from(&s.path_expression);
        tagged(&mut out, "timeSliceStart", from);
        tagged(&mut out, "timeSliceEnd", until);
        out
    })
}
