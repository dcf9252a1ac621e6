//! The y axis as graphite-web computes it (`_LinearAxisTics`, `_LogAxisTics`, `format_units`
//! in `render/glyph.py`): a step of 1, 2 or 5 × 10ⁿ (powers of two for `yUnitSystem=binary`)
//! that covers the data in 4, 5 or 6 divisions with the least slop, limits rounded out to a
//! step, and labels with si/binary prefixes.

use super::Error;
use super::params::UnitSystem;

const EPSILON: f64 = 0.0001;

fn units(system: UnitSystem) -> &'static [(&'static str, f64)] {
    const K: f64 = 1000.0;
    const KI: f64 = 1024.0;
    match system {
        UnitSystem::Si => &[
            ("P", K * K * K * K * K),
            ("T", K * K * K * K),
            ("G", K * K * K),
            ("M", K * K),
            ("k", K),
        ],
        UnitSystem::Binary => &[
            ("Pi", KI * KI * KI * KI * KI),
            ("Ti", KI * KI * KI * KI),
            ("Gi", KI * KI * KI),
            ("Mi", KI * KI),
            ("Ki", KI),
        ],
        UnitSystem::Sec => &[
            ("Y", 31_536_000.0),
            ("M", 2_592_000.0),
            ("D", 86_400.0),
            ("H", 3600.0),
            ("m", 60.0),
        ],
        UnitSystem::Msec => &[
            ("Y", 31_536_000_000.0),
            ("M", 2_592_000_000.0),
            ("D", 86_400_000.0),
            ("H", 3_600_000.0),
            ("m", 60_000.0),
            ("s", 1000.0),
        ],
        UnitSystem::None => &[],
    }
}

/// `format_units`: the value scaled by the largest prefix that both it and `step` reach.
pub fn format_units(v: f64, step: Option<f64>, system: UnitSystem) -> (f64, &'static str) {
    for &(prefix, size) in units(system) {
        if v.abs() >= size && step.is_none_or(|s| s >= size) {
            let mut v2 = v / size;
            if v2 - v2.floor() < 1e-11 && v > 1.0 {
                v2 = v2.floor();
            }
            return (v2, prefix);
        }
    }
    if v - v.floor() < 1e-11 && v > 1.0 {
        return (v.floor(), "");
    }
    (v, "")
}

/// Python's `"%g" % v`: six significant digits, trailing zeros dropped, exponent form below
/// 1e-4 and from 1e6.
pub fn py_g(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (-4..6).contains(&exp) {
        trim(format!("{v:.prec$}", prec = (5 - exp).max(0) as usize))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa.to_string()), exp.abs())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Data,
    Min,
    Max,
    Extremum,
    Limit,
}

/// One y axis: data range in, step, limits and labels out.
#[derive(Debug, Clone)]
pub struct Tics {
    min: f64,
    max: f64,
    min_source: Source,
    max_source: Source,
    axis_limit: Option<f64>,
    log_base: Option<f64>,
    system: UnitSystem,
    pub step: f64,
    pub bottom: f64,
    pub top: f64,
    pub span: f64,
}

fn finite(v: f64, what: &str) -> Result<f64, Error> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::Graph(format!("Encountered non-finite {what}")))
    }
}

fn choose_delta(x: f64) -> f64 {
    if x.abs() < 1.0e-9 { 1.0 } else { 0.1 * x.abs() }
}

impl Tics {
    pub fn new(
        min: f64,
        max: f64,
        system: UnitSystem,
        log_base: Option<f64>,
    ) -> Result<Tics, Error> {
        Ok(Tics {
            min: finite(min, "data value")?,
            max: finite(max, "data value")?,
            min_source: Source::Data,
            max_source: Source::Data,
            axis_limit: None,
            log_base,
            system,
            step: 1.0,
            bottom: 0.0,
            top: 1.0,
            span: 1.0,
        })
    }

    /// `applySettings`: `axis_max` of `Some(None)` is `yMax=max` (the data's maximum).
    pub fn apply(
        &mut self,
        axis_min: Option<f64>,
        axis_max: Option<Option<f64>>,
        axis_limit: Option<f64>,
    ) -> Result<(), Error> {
        if let Some(m) = axis_min {
            self.min_source = Source::Min;
            self.min = finite(m, "axis min")?;
        }
        match axis_max {
            Some(None) => self.max_source = Source::Extremum,
            Some(Some(m)) => {
                self.max_source = Source::Max;
                self.max = finite(m, "axis max")?;
            }
            None => {}
        }
        self.axis_limit = None;
        if let Some(limit) = axis_limit.filter(|l| !l.is_nan()) {
            if limit < self.max {
                self.max = finite(limit, "axis limit")?;
                self.max_source = Source::Limit;
            } else if limit.is_finite() {
                self.axis_limit = Some(limit);
            }
        }
        self.reconcile()
    }

    fn reconcile(&mut self) -> Result<(), Error> {
        if self.min < self.max {
            return Ok(());
        }
        let min_fixed = self.min_source == Source::Min;
        let max_fixed = matches!(self.max_source, Source::Max | Source::Limit);
        if min_fixed && max_fixed {
            return Err(Error::Graph(format!(
                "yMin ({}) must be less than yMax ({})",
                self.min, self.max
            )));
        } else if min_fixed {
            self.max = self.min + choose_delta(self.min);
        } else if max_fixed {
            self.min = self.max - choose_delta(self.max);
        } else {
            let delta = choose_delta(self.min.abs().max(self.max.abs()));
            let average = (self.min + self.max) / 2.0;
            self.min = average - delta;
            self.max = average + delta;
        }
        Ok(())
    }

    pub fn set_step(&mut self, step: f64) {
        self.step = step;
    }

    fn slop(&self, step: f64, divisor: u32) -> Option<f64> {
        let bottom = step * (self.min / step + EPSILON).floor();
        let top = bottom + step * f64::from(divisor);
        (top >= self.max - EPSILON * step).then(|| (top - self.max).max(self.min - bottom))
    }

    /// `chooseStep`: the step and division count with the least slop outside the data.
    pub fn choose_step(&mut self, divisors: &[u32], binary: bool) {
        if self.log_base.is_some() {
            return;
        }
        if self.min == self.max {
            if self.min == 0.0 {
                self.max = 1.0;
            } else if self.min < 0.0 {
                self.min *= 1.1;
                self.max *= 0.9;
            } else {
                self.min *= 0.9;
                self.max *= 1.1;
            }
        }
        let variance = self.max - self.min;
        let max_div = f64::from(*divisors.iter().max().unwrap_or(&6));
        let min_div = f64::from(*divisors.iter().min().unwrap_or(&4));
        let min_step = variance / max_div;
        let (base, mantissas): (f64, &[f64]) = if binary {
            (2.0, &[1.0])
        } else {
            (10.0, &[1.0, 2.0, 5.0])
        };
        let mut exponent = (min_step.log(base) - EPSILON).floor();
        let mut best: Option<(f64, f64)> = None;
        'steps: for _ in 0..2000 {
            let multiplier = base.powf(exponent);
            for &m in mantissas {
                let step = m * multiplier;
                if step < min_step * (1.0 - EPSILON) {
                    continue;
                }
                if let Some((best_slop, _)) = best
                    && step * min_div >= 2.0 * best_slop + variance
                {
                    break 'steps;
                }
                for &d in divisors {
                    if let Some(slop) = self.slop(step, d)
                        && best.is_none_or(|(b, _)| slop < b)
                    {
                        best = Some((slop, step));
                    }
                }
            }
            exponent += 1.0;
        }
        self.step = best.map_or(variance.max(1.0), |(_, s)| s);
    }

    /// `chooseLimits`: bottom and top, rounded out to the step where they come from the data.
    pub fn choose_limits(&mut self) -> Result<(), Error> {
        if let Some(base) = self.log_base {
            if self.min <= 0.0 {
                return Err(Error::Graph(
                    "Logarithmic scale specified with a dataset with a minimum value less than or equal to zero".into(),
                ));
            }
            self.bottom = base.powf(self.min.log(base).floor());
            self.top = base.powf(self.max.log(base).ceil());
            self.span = self.top - self.bottom;
            if self.span == 0.0 {
                self.top *= base;
                self.span = self.top - self.bottom;
            }
            return Ok(());
        }
        self.bottom = if self.min_source == Source::Data {
            self.step * (self.min / self.step + EPSILON).floor()
        } else {
            self.min
        };
        self.top = if self.max_source == Source::Data {
            let top = self.step * (self.max / self.step - EPSILON).ceil();
            match self.axis_limit {
                Some(l) if top > l + EPSILON * self.step => l,
                _ => top,
            }
        } else {
            self.max
        };
        self.span = self.top - self.bottom;
        if self.span == 0.0 {
            self.top += 1.0;
            self.span += 1.0;
        }
        Ok(())
    }

    /// `getLabelValues`: every step multiple from bottom to top (powers of the base for log).
    pub fn label_values(&mut self) -> Vec<f64> {
        if let Some(base) = self.log_base {
            let mut values = Vec::new();
            let mut v = base.powf((self.bottom.log(base) - EPSILON).ceil());
            while v < self.top * (1.0 + EPSILON) && values.len() < 1000 {
                values.push(v);
                v *= base;
            }
            return values;
        }
        if self.span > 1000.0 * self.step {
            // graphite-web's guard against a silly yStep.
            self.choose_step(&[4, 5, 6], false);
        }
        let start = self.step * (self.bottom / self.step - EPSILON).ceil();
        (0..)
            .map(|i| start + f64::from(i) * self.step)
            .take_while(|v| *v <= self.top + EPSILON * self.step)
            .take(1001)
            .collect()
    }

    /// `makeLabel`, including graphite-web's trailing space after the number.
    pub fn label(&self, value: f64) -> String {
        let step = if self.log_base.is_some() {
            None
        } else {
            Some(self.step)
        };
        let (v, prefix) = format_units(value, step, self.system);
        let (span, span_prefix) = format_units(self.span, step, self.system);
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix} ")
        };
        if v < 0.1 {
            format!("{} {prefix}", py_g(v))
        } else if v < 1.0 {
            format!("{v:.2} {prefix}")
        } else if span > 3.0 || span_prefix != prefix {
            // graphite-web prints `%d` here for ints; its label values are always floats.
            format!("{v:.1} {prefix}")
        } else if span > 0.1 {
            format!("{v:.2} {prefix}")
        } else {
            format!("{} {prefix}", py_g(v))
        }
    }

    /// Where `value` sits between bottom (0) and top (1); `None` for ≤ 0 on a log axis.
    pub fn fraction(&self, value: f64) -> Option<f64> {
        match self.log_base {
            Some(b) => (value > 0.0).then(|| {
                (value.log(b) - self.bottom.log(b)) / (self.top.log(b) - self.bottom.log(b))
            }),
            None => Some((value - self.bottom) / (self.top - self.bottom)),
        }
    }
}

/// `dataLimits`: the smallest and largest finite value (the largest column sum if stacked),
/// ignoring `drawAsInfinite` series; (0, 1) without data.
pub fn data_limits<'a>(
    series: impl Iterator<Item = (&'a [Option<f64>], bool)> + Clone,
    draw_null_as_zero: bool,
    stacked: bool,
) -> (f64, f64) {
    let missing = series.clone().any(|(v, _)| v.iter().any(Option::is_none));
    let finite: Vec<&[Option<f64>]> = series.filter(|(_, inf)| !inf).map(|(v, _)| v).collect();
    let values = || finite.iter().flat_map(|v| v.iter().flatten().copied());
    let Some(mut min) = values().reduce(f64::min) else {
        return (0.0, 1.0);
    };
    if min > 0.0 && draw_null_as_zero && missing {
        min = 0.0;
    }
    let mut max = if stacked {
        let len = finite.iter().map(|v| v.len()).min().unwrap_or(0);
        (0..len)
            .map(|i| finite.iter().filter_map(|v| v[i]).sum::<f64>())
            .reduce(f64::max)
            .unwrap_or(min)
    } else {
        values().reduce(f64::max).unwrap_or(min)
    };
    if max < 0.0 && draw_null_as_zero && missing {
        max = 0.0;
    }
    (min, max)
}

#[cfg(test)]
mod tests;
