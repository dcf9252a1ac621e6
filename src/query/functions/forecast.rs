//! Forecasts: Holt-Winters (triple exponential smoothing, graphite-web's `holtWintersAnalysis`
//! with α = γ = 0.1, β = 0.0035), re-fetched with a bootstrap interval before `from`, and
//! `linearRegression` over a source range.

use super::Type::*;
use super::{Args, Default, Func, f, p};
use crate::query::Error;
use crate::query::eval::{Ctx, Evaluator};
use crate::query::series::{TimeSeries, Value};

const SL: super::Param = p("seriesList", SeriesList).req();
const BOOTSTRAP: super::Param = p("bootstrapInterval", Interval).def(Default::Str("7d"));
const SEASON: super::Param = p("seasonality", Interval).def(Default::Str("1d"));
const DELTA: super::Param = p("delta", Integer).def(Default::Int(3));

pub const FUNCTIONS: &[Func] = &[
    f(
        "holtWintersForecast",
        "Calculate",
        &[SL, BOOTSTRAP, SEASON],
        forecast,
        "The Holt-Winters forecast of each series, trained on bootstrapInterval before the range.",
    ),
    f(
        "holtWintersConfidenceBands",
        "Calculate",
        &[SL, DELTA, BOOTSTRAP, SEASON],
        bands,
        "The forecast ± delta × the Holt-Winters deviation: a lower and an upper series.",
    ),
    f(
        "holtWintersAberration",
        "Calculate",
        &[SL, DELTA, BOOTSTRAP, SEASON],
        aberration,
        "How far each value lies outside the confidence bands (0 inside).",
    ),
    f(
        "holtWintersConfidenceArea",
        "Calculate",
        &[SL, DELTA, BOOTSTRAP, SEASON],
        area,
        "The confidence bands drawn as an area.",
    ),
    f(
        "linearRegression",
        "Calculate",
        &[SL, p("startSourceAt", Date), p("endSourceAt", Date)],
        linear_regression,
        "The least-squares line through the series (or through it over another source range).",
    ),
];

struct Analysis {
    predictions: Vec<Value>,
    deviations: Vec<Value>,
}

/// graphite's `holtWintersAnalysis`. Long series check the request's deadline as they go.
fn analyse(s: &TimeSeries, season_secs: i64, ev: &Evaluator) -> Result<Analysis, Error> {
    let (alpha, gamma, beta) = (0.1, 0.1, 0.0035);
    let season = ((season_secs / s.step.max(1)) as usize).max(2);
    let n = s.values.len();
    let mut intercepts: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut slopes = Vec::with_capacity(n);
    let mut seasonals: Vec<f64> = Vec::with_capacity(n);
    let mut predictions = Vec::with_capacity(n);
    let mut deviations: Vec<f64> = Vec::with_capacity(n);
    let last = |v: &Vec<f64>, i: usize| if i >= season { v[i - season] } else { 0.0 };
    let mut next_pred: Option<f64> = None;
    for (i, actual) in s.values.iter().enumerate() {
        if i % (1 << 16) == (1 << 16) - 1 {
            ev.check_deadline()?;
        }
        let Some(actual) = *actual else {
            intercepts.push(None);
            slopes.push(0.0);
            seasonals.push(0.0);
            predictions.push(next_pred);
            deviations.push(0.0);
            next_pred = None;
            continue;
        };
        let (last_intercept, last_slope, prediction) = if i == 0 {
            (actual, 0.0, Some(actual))
        } else {
            (
                intercepts[i - 1].unwrap_or(actual),
                slopes[i - 1],
                next_pred,
            )
        };
        let last_seasonal = last(&seasonals, i);
        let next_last_seasonal = if i + 1 >= season {
            seasonals.get(i + 1 - season).copied().unwrap_or(0.0)
        } else {
            0.0
        };
        let last_dev = last(&deviations, i);
        let intercept =
            alpha * (actual - last_seasonal) + (1.0 - alpha) * (last_intercept + last_slope);
        let slope = beta * (intercept - last_intercept) + (1.0 - beta) * last_slope;
        let seasonal = gamma * (actual - intercept) + (1.0 - gamma) * last_seasonal;
        next_pred = Some(intercept + slope + next_last_seasonal);
        let deviation =
            gamma * (actual - prediction.unwrap_or(0.0)).abs() + (1.0 - gamma) * last_dev;
        intercepts.push(Some(intercept));
        slopes.push(slope);
        seasonals.push(seasonal);
        predictions.push(prediction);
        deviations.push(deviation);
    }
    Ok(Analysis {
        predictions,
        deviations: deviations.into_iter().map(Some).collect(),
    })
}

fn interval(a: &Args, i: usize) -> Result<i64, Error> {
    Ok(a.interval(i)?.abs())
}

/// Each series re-fetched with the bootstrap, with its analysis, and the points to skip.
fn trained(
    a: &Args,
    bootstrap_at: usize,
    season_at: usize,
) -> Result<Vec<(TimeSeries, Analysis, usize, i64)>, Error> {
    let bootstrap = interval(a, bootstrap_at)?;
    let season = interval(a, season_at)?;
    let ctx = Ctx {
        from: a.ctx.from - bootstrap,
        ..a.ctx
    };
    a.series_in(0, ctx)?
        .into_iter()
        .map(|s| {
            let analysis = analyse(&s, season, a.ev)?;
            let skip = ((bootstrap / s.step.max(1)) as usize).min(s.values.len());
            Ok((s, analysis, skip, bootstrap))
        })
        .collect()
}

fn forecast(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    Ok(trained(a, 1, 2)?
        .into_iter()
        .map(|(s, an, skip, bootstrap)| {
            let mut o = s.derive(
                format!("holtWintersForecast({})", s.name),
                an.predictions[skip..].to_vec(),
            );
            o.start = s.start + bootstrap;
            o.tags.insert("holtWintersForecast".into(), "1".into());
            // graphite's analysis tags the input (shared tags dict) with its deviation series.
            o.tags.insert("holtWintersDeviation".into(), "1".into());
            o
        })
        .collect())
}

/// `(lower, upper)` per series, over the request's range.
fn band_pairs(a: &Args) -> Result<Vec<(TimeSeries, TimeSeries)>, Error> {
    let delta = a.float(1)?;
    Ok(trained(a, 2, 3)?
        .into_iter()
        .map(|(s, an, skip, bootstrap)| {
            let (mut lower, mut upper) = (Vec::new(), Vec::new());
            for (f, d) in an.predictions[skip..].iter().zip(&an.deviations[skip..]) {
                match (f, d) {
                    (Some(f), Some(d)) => {
                        lower.push(Some(f - delta * d));
                        upper.push(Some(f + delta * d));
                    }
                    _ => {
                        lower.push(None);
                        upper.push(None);
                    }
                }
            }
            let make = |which: &str, values: Vec<Value>| {
                let mut o = s.derive(format!("holtWintersConfidence{which}({})", s.name), values);
                o.start = s.start + bootstrap;
                o.path_expression = s.path_expression.clone();
                o.tags
                    .insert(format!("holtWintersConfidence{which}"), "1".into());
                o
            };
            (make("Lower", lower), make("Upper", upper))
        })
        .collect())
}

fn bands(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    Ok(band_pairs(a)?
        .into_iter()
        .flat_map(|(l, u)| [l, u])
        .collect())
}

fn aberration(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let pairs = band_pairs(a)?;
    let mut out = Vec::new();
    for s in a.series(0)? {
        let Some((lower, upper)) = pairs
            .iter()
            .find(|(l, _)| l.name == format!("holtWintersConfidenceLower({})", s.name))
        else {
            continue;
        };
        let values = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (lo, hi) = (
                    lower.values.get(i).copied().flatten(),
                    upper.values.get(i).copied().flatten(),
                );
                Some(match *v {
                    None => 0.0,
                    Some(v) if hi.is_some_and(|h| v > h) => v - hi.unwrap_or(v),
                    Some(v) if lo.is_some_and(|l| v < l) => v - lo.unwrap_or(v),
                    Some(_) => 0.0,
                })
            })
            .collect();
        let mut o = s.derive(format!("holtWintersAberration({})", s.name), values);
        o.tags.insert("holtWintersAberration".into(), "1".into());
        out.push(o);
    }
    Ok(out)
}

fn area(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut out = Vec::new();
    for (mut lower, mut upper) in band_pairs(a)? {
        let name = format!("holtWintersConfidenceArea({})", upper.path_expression);
        for (i, s) in [&mut lower, &mut upper].into_iter().enumerate() {
            s.style.area_between = true;
            s.style.stack = Some("areaBetween".into());
            s.style.invisible = i == 0;
            s.tags
                .insert("holtWintersConfidenceArea".into(), "1".into());
            s.rename(name.clone());
            s.path_expression = name.clone();
        }
        out.push(lower);
        out.push(upper);
    }
    Ok(out)
}

/// graphite's `_linearRegressionAnalysis`: `(factor per second, offset)`.
fn regression(s: &TimeSeries) -> Option<(f64, f64)> {
    let (mut n, mut si, mut sv, mut sii, mut siv) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, v) in s.values.iter().enumerate() {
        if let Some(v) = v {
            let i = i as f64;
            n += 1.0;
            si += i;
            sv += v;
            sii += i * i;
            siv += i * v;
        }
    }
    let denominator = n * sii - si * si;
    if denominator == 0.0 {
        return None;
    }
    let factor = (n * siv - si * sv) / denominator / s.step as f64;
    let offset = (sii * sv - siv * si) / denominator - factor * s.start as f64;
    Some((factor, offset))
}

fn linear_regression(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let now = a.ev.request.now;
    let time = |i: usize, default: i64| -> Result<i64, Error> {
        let text = match a.expr(i) {
            None => return Ok(default),
            Some(crate::query::target::Expr::Int(n)) => n.to_string(),
            Some(_) => a.string(i)?,
        };
        crate::query::attime::parse(&text, now).map_err(|e| Error::BadArgument(e.to_string()))
    };
    let (from, until) = (time(1, a.ctx.from)?, time(2, a.ctx.until)?);
    if from >= until {
        // graphite-web reads one point at most there: no regression, no series.
        return Ok(Vec::new());
    }
    let sources = a.series_in(
        0,
        Ctx {
            from,
            until,
            ..a.ctx
        },
    )?;
    let list = a.series(0)?;
    let mut out = Vec::new();
    for (source, s) in sources.iter().zip(&list) {
        let Some((factor, offset)) = regression(source) else {
            continue;
        };
        let values = (0..s.values.len())
            .map(|i| Some(offset + s.timestamp(i) as f64 * factor))
            .collect();
        let mut o = s.derive(
            format!("linearRegression({}, {from}, {until})", s.name),
            values,
        );
        o.tags
            .insert("linearRegressions".into(), format!("{from}, {until}"));
        out.push(o);
    }
    Ok(out)
}
