//! Render functions with graphite-web's semantics and output names, split by graphite's groups:
//! [`combine`] and [`lists`], [`transform`], [`calculate`] and [`forecast`], [`filter`],
//! [`alias`], [`special`], [`graph`], and [`mapreduce`] (functions that evaluate targets they
//! build from names) and [`resample`].
//!
//! Each function is a [`Func`]: its name, group, parameters (the `/functions` schema Grafana's
//! editor reads, also used to bind positional and keyword arguments) and `run`, which gets its
//! arguments unevaluated through [`Args`] so it can evaluate a series argument over another
//! time range.

pub mod alias;
pub mod calculate;
pub mod combine;
pub mod filter;
pub mod forecast;
pub mod graph;
pub mod lists;
pub mod mapreduce;
pub mod moving;
mod names;
pub mod resample;
pub mod special;
pub mod transform;

use super::Error;
use super::eval::{Ctx, Evaluator};
use super::series::{Agg, TimeSeries};
use super::target::{Call, Expr};
pub use names::{NodeOrTag, agg_key, first_path_expression, node_or_tag, path_expressions};
use std::collections::HashMap;
use std::sync::LazyLock;

/// A parameter type, as graphite's `ParamTypes` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    AggFunc,
    AggOrSeriesFunc,
    Boolean,
    Date,
    Float,
    Integer,
    Interval,
    IntOrInterval,
    IntOrInf,
    Node,
    NodeOrTag,
    Series,
    SeriesList,
    SeriesLists,
    Text,
    Tag,
    Any,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::AggFunc => "aggFunc",
            Type::AggOrSeriesFunc => "aggOrSeriesFunc",
            Type::Boolean => "boolean",
            Type::Date => "date",
            Type::Float => "float",
            Type::Integer => "integer",
            Type::Interval => "interval",
            Type::IntOrInterval => "intOrInterval",
            Type::IntOrInf => "intOrInf",
            Type::Node => "node",
            Type::NodeOrTag => "nodeOrTag",
            Type::Series => "series",
            Type::SeriesList => "seriesList",
            Type::SeriesLists => "seriesLists",
            Type::Text => "string",
            Type::Tag => "tag",
            Type::Any => "any",
        }
    }
}

/// A parameter's default value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Int(i64),
    Float(f64),
    Str(&'static str),
    Bool(bool),
    /// `INF`: printed as `1e9999` in `/functions`.
    Inf,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    pub default: Option<Default>,
    pub options: &'static [&'static str],
    pub multiple: bool,
}

/// A parameter (optional, no default, not repeated).
pub const fn p(name: &'static str, ty: Type) -> Param {
    Param {
        name,
        ty,
        required: false,
        default: None,
        options: &[],
        multiple: false,
    }
}

impl Param {
    pub const fn req(self) -> Param {
        Param {
            required: true,
            ..self
        }
    }
    pub const fn def(self, d: Default) -> Param {
        Param {
            default: Some(d),
            ..self
        }
    }
    pub const fn opts(self, options: &'static [&'static str]) -> Param {
        Param { options, ..self }
    }
    pub const fn multi(self) -> Param {
        Param {
            multiple: true,
            ..self
        }
    }
}

pub type Run = fn(&Args) -> Result<Vec<TimeSeries>, Error>;

/// One render function.
#[derive(Debug, Clone, Copy)]
pub struct Func {
    pub name: &'static str,
    pub group: &'static str,
    pub description: &'static str,
    pub params: &'static [Param],
    pub run: Run,
    /// Changes no values (alias, styling, filtering whole series): buckets below it may be
    /// merged to maxDataPoints at read time.
    pub transparent: bool,
    /// Metrictank's "special" functions (summarize, perSecond, derivative, integral…): a
    /// `consolidateBy` above them does not choose what is read below them.
    pub resets_consolidation: bool,
    /// Chooses, orders or names series by their values (`highest*`, `*Above`, `sortBy*`,
    /// `legendValue`…): never transparent, and the series below it are read from the tier
    /// graphite reads whatever `query.tier_choice` says, so the choice is made on the same
    /// values as graphite-web's.
    pub by_value: bool,
}

/// A function definition with the common defaults.
pub const fn f(
    name: &'static str,
    group: &'static str,
    params: &'static [Param],
    run: Run,
    description: &'static str,
) -> Func {
    Func {
        name,
        group,
        description,
        params,
        run,
        transparent: false,
        resets_consolidation: false,
        by_value: false,
    }
}

impl Func {
    pub const fn transparent(self) -> Func {
        Func {
            transparent: true,
            ..self
        }
    }
    pub const fn by_value(self) -> Func {
        Func {
            by_value: true,
            transparent: false,
            ..self
        }
    }
    pub const fn resets(self) -> Func {
        Func {
            resets_consolidation: true,
            ..self
        }
    }
}

static REGISTRY: LazyLock<(Vec<Func>, HashMap<&'static str, usize>)> = LazyLock::new(|| {
    let mut all: Vec<Func> = Vec::new();
    all.extend(combine::FUNCTIONS);
    all.extend(lists::FUNCTIONS);
    all.extend(forecast::FUNCTIONS);
    all.extend(transform::FUNCTIONS);
    all.extend(calculate::FUNCTIONS);
    all.extend(filter::FUNCTIONS);
    all.extend(alias::FUNCTIONS);
    all.extend(special::FUNCTIONS);
    all.extend(graph::FUNCTIONS);
    all.extend(mapreduce::FUNCTIONS);
    all.extend(resample::FUNCTIONS);
    let index = all.iter().enumerate().map(|(i, f)| (f.name, i)).collect();
    (all, index)
});

/// Every function, in definition order.
pub fn all() -> &'static [Func] {
    &REGISTRY.0
}

pub fn lookup(name: &str) -> Option<&'static Func> {
    REGISTRY.1.get(name).map(|&i| &REGISTRY.0[i])
}

/// A call's arguments bound to the function's parameters, evaluated on demand.
pub struct Args<'e, 'a> {
    pub ev: &'e Evaluator<'a>,
    pub func: &'static Func,
    pub call: &'e Call,
    pub ctx: Ctx,
    /// Per parameter: the argument given for it (a repeated parameter takes the rest).
    slots: Vec<Vec<&'e Expr>>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadArgument(msg.into())
}

impl<'e, 'a> Args<'e, 'a> {
    pub fn bind(
        ev: &'e Evaluator<'a>,
        func: &'static Func,
        call: &'e Call,
        ctx: Ctx,
    ) -> Result<Args<'e, 'a>, Error> {
        let mut slots: Vec<Vec<&Expr>> = vec![Vec::new(); func.params.len()];
        let mut i = 0;
        for arg in &call.args {
            let Some(param) = func.params.get(i) else {
                return Err(bad(format!(
                    "takes at most {} arguments, got {}",
                    func.params.len(),
                    call.args.len()
                )));
            };
            slots[i].push(arg);
            if !param.multiple {
                i += 1;
            }
        }
        for (key, value) in &call.kwargs {
            let Some(j) = func.params.iter().position(|p| p.name == key) else {
                return Err(bad(format!("unexpected keyword argument {key:?}")));
            };
            if !slots[j].is_empty() && !func.params[j].multiple {
                return Err(bad(format!("{key} given twice")));
            }
            slots[j].push(value);
        }
        for (param, slot) in func.params.iter().zip(&slots) {
            if param.required && slot.is_empty() {
                return Err(bad(format!("missing required parameter {:?}", param.name)));
            }
        }
        Ok(Args {
            ev,
            func,
            call,
            ctx,
            slots,
        })
    }

    fn param(&self, i: usize) -> &'static Param {
        &self.func.params[i]
    }

    pub fn given(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(|s| !s.is_empty())
    }

    pub fn expr(&self, i: usize) -> Option<&'e Expr> {
        self.slots.get(i).and_then(|s| s.first().copied())
    }

    /// Every argument of a repeated parameter.
    pub fn rest(&self, i: usize) -> &[&'e Expr] {
        self.slots.get(i).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The series of argument `i` over the current range.
    pub fn series(&self, i: usize) -> Result<Vec<TimeSeries>, Error> {
        self.series_in(i, self.ctx)
    }

    /// The series of argument `i` evaluated with another context (time range).
    pub fn series_in(&self, i: usize, ctx: Ctx) -> Result<Vec<TimeSeries>, Error> {
        match self.expr(i) {
            Some(e) => self.ev.eval(e, &ctx),
            None => Err(bad(format!("missing {}", self.param(i).name))),
        }
    }

    /// Every series of a repeated `seriesLists` parameter, concatenated.
    pub fn series_lists(&self, i: usize) -> Result<Vec<TimeSeries>, Error> {
        let mut out = Vec::new();
        for e in self.rest(i) {
            out.extend(self.ev.eval(e, &self.ctx)?);
        }
        Ok(out)
    }

    fn literal(&self, i: usize) -> Option<Lit<'e>> {
        match self.expr(i) {
            Some(e) => Some(Lit::Expr(e)),
            None => self.param(i).default.map(Lit::Default),
        }
    }

    pub fn float_opt(&self, i: usize) -> Result<Option<f64>, Error> {
        match self.literal(i) {
            None | Some(Lit::Expr(Expr::None)) => Ok(None),
            Some(l) => l
                .float()
                .map(Some)
                .ok_or_else(|| self.type_error(i, "a number")),
        }
    }

    pub fn float(&self, i: usize) -> Result<f64, Error> {
        self.float_opt(i)?
            .ok_or_else(|| bad(format!("missing {}", self.param(i).name)))
    }

    pub fn int(&self, i: usize) -> Result<i64, Error> {
        let v = self.float(i)?;
        if v.fract() != 0.0 || !v.is_finite() {
            return Err(self.type_error(i, "an integer"));
        }
        Ok(v as i64)
    }

    pub fn string_opt(&self, i: usize) -> Result<Option<String>, Error> {
        match self.literal(i) {
            None => Ok(None),
            Some(Lit::Expr(Expr::Str(s))) => Ok(Some(s.clone())),
            Some(Lit::Default(Default::Str(s))) => Ok(Some(s.to_string())),
            Some(Lit::Expr(Expr::None)) => Ok(None),
            Some(_) => Err(self.type_error(i, "a string")),
        }
    }

    pub fn string(&self, i: usize) -> Result<String, Error> {
        self.string_opt(i)?
            .ok_or_else(|| bad(format!("missing {}", self.param(i).name)))
    }

    pub fn bool(&self, i: usize) -> Result<bool, Error> {
        match self.literal(i) {
            None => Ok(false),
            Some(Lit::Expr(Expr::Bool(b))) => Ok(*b),
            Some(Lit::Default(Default::Bool(b))) => Ok(b),
            Some(Lit::Expr(Expr::Int(n))) => Ok(*n != 0),
            Some(Lit::Expr(Expr::Str(s))) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Lit::Expr(Expr::Str(s))) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(self.type_error(i, "true or false")),
        }
    }

    /// An aggregation function name (`average`, `sum`, … or `sumSeries`-style).
    pub fn agg(&self, i: usize) -> Result<Agg, Error> {
        let name = self.string(i)?;
        let short = name.strip_suffix("Series").unwrap_or(&name);
        Agg::parse(short).ok_or_else(|| bad(format!("Unsupported aggregation function: {name}")))
    }

    /// Node numbers or tag names of a repeated parameter starting at `i`.
    pub fn nodes(&self, i: usize) -> Result<Vec<NodeOrTag>, Error> {
        self.rest(i)
            .iter()
            .map(|e| match e {
                Expr::Int(n) => Ok(NodeOrTag::Node(*n)),
                Expr::Float(v) if v.fract() == 0.0 => Ok(NodeOrTag::Node(*v as i64)),
                Expr::Str(s) => Ok(NodeOrTag::Tag(s.clone())),
                other => Err(bad(format!("{other} is not a node number or tag name"))),
            })
            .collect()
    }

    /// Strings of a repeated parameter starting at `i`.
    pub fn strings(&self, i: usize) -> Result<Vec<String>, Error> {
        self.rest(i)
            .iter()
            .map(|e| match e {
                Expr::Str(s) => Ok(s.clone()),
                Expr::Int(n) => Ok(n.to_string()),
                other => Err(bad(format!("{other} is not a string"))),
            })
            .collect()
    }

    /// An interval string (`'5min'`, `'-1d'`) in seconds, sign kept.
    pub fn interval(&self, i: usize) -> Result<i64, Error> {
        let s = self.string(i)?;
        interval_seconds(&s).ok_or_else(|| bad(format!("bad interval {s:?}")))
    }

    fn type_error(&self, i: usize, want: &str) -> Error {
        bad(format!("{} must be {want}", self.param(i).name))
    }

    pub fn xff(&self) -> f64 {
        self.ev.xff(&self.ctx)
    }
}

/// An interval such as `5min`, `1h`, `-1d2h`: seconds with the sign.
pub fn interval_seconds(s: &str) -> Option<i64> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    super::attime::offset_seconds(&s.to_lowercase())
}

enum Lit<'e> {
    Expr(&'e Expr),
    Default(Default),
}

impl Lit<'_> {
    fn float(&self) -> Option<f64> {
        match self {
            Lit::Expr(Expr::Int(n)) => Some(*n as f64),
            Lit::Expr(Expr::Float(v)) => Some(*v),
            Lit::Expr(Expr::Bool(b)) => Some(f64::from(u8::from(*b))),
            // graphite's float parameters go through Python's `float()`: `scale(x, '2')`.
            Lit::Expr(Expr::Str(s)) => s.trim().parse().ok(),
            Lit::Default(Default::Int(n)) => Some(*n as f64),
            Lit::Default(Default::Float(v)) => Some(*v),
            Lit::Default(Default::Inf) => Some(f64::INFINITY),
            _ => None,
        }
    }
}

/// Python's `%g`.
pub fn fmt_g(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = v.abs().log10().floor() as i32;
    let sci = format!("{v:.5e}");
    let (mantissa, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..6).contains(&e) {
        let m = trim_zeros(mantissa);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (5 - e).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Python's `str()` of a number literal: `100`, `1.5`, `100.0`.
pub fn py_str(v: f64, was_int: bool) -> String {
    if was_int && v.fract() == 0.0 {
        format!("{}", v as i64)
    } else if v.is_finite() && v != 0.0 && !(1e-4..1e16).contains(&v.abs()) {
        // Python's repr goes to exponent form out there: `1e-05`, `2.5e+16`.
        let sci = format!("{v:e}");
        let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Python's `str()` of argument `i`'s literal (ints stay ints).
pub fn literal_text(e: Option<&Expr>) -> String {
    match e {
        Some(Expr::Int(n)) => n.to_string(),
        Some(Expr::Float(v)) => py_str(*v, false),
        Some(Expr::Str(s)) => s.clone(),
        Some(Expr::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
        Some(Expr::None) | None => "None".to_string(),
        Some(other) => other.to_string(),
    }
}

/// Applies `f` to every value, keeping `None`.
pub fn map_values(s: &TimeSeries, mut f: impl FnMut(f64) -> Option<f64>) -> Vec<Option<f64>> {
    s.values.iter().map(|v| v.and_then(&mut f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_g_format() {
        for (v, s) in [
            (2.0, "2"),
            (0.5, "0.5"),
            (100.0, "100"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-3.25, "-3.25"),
            (123456.0, "123456"),
            (1.0 / 3.0, "0.333333"),
        ] {
            assert_eq!(fmt_g(v), s, "{v}");
        }
    }

    #[test]
    fn python_str_of_a_float() {
        for (v, s) in [
            (6.0, "6.0"),
            (-2.5, "-2.5"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (2.2646330285840106e123, "2.2646330285840106e+123"),
        ] {
            assert_eq!(py_str(v, false), s, "{v}");
        }
    }

    #[test]
    fn every_function_has_a_unique_name_and_sane_params() {
        let mut seen = std::collections::HashSet::new();
        for f in all() {
            assert!(seen.insert(f.name), "{} twice", f.name);
            let multi = f.params.iter().filter(|p| p.multiple).count();
            assert!(multi <= 1, "{}", f.name);
            if let Some(i) = f.params.iter().position(|p| p.multiple) {
                assert_eq!(i + 1, f.params.len(), "{}: repeated param is last", f.name);
            }
        }
    }
}
