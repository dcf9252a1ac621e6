//! graphite's `template()`: a target with `$name` placeholders and their values
//! (`render/evaluator.py evaluateTokens`, `docs/functions.rst` "Templates"):
//!
//! ```text
//! template(hosts.$hostname.cpu, hostname="worker1")        keyword values
//! template(hosts.$1.cpu, "worker1")                         positional values: $1, $2, …
//! template(movingAverage(x, $n), n=5)                       a whole `$n` argument is the value
//! &template[hostname]=worker2                               request parameters override both
//! ```
//!
//! Values are numbers or strings (graphite's grammar allows nothing else), given all
//! positionally or all by keyword. A placeholder inside a path is replaced by the value's
//! Python `str()`; a path that is exactly `$name` becomes the value itself (a string of digits
//! and dots becomes a float, as graphite does). A nested `template()` uses only its own values.

use super::Error;
use super::functions::py_str;
use super::target::{Call, Expr};

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    /// Python's `str()` of the value, as graphite splices it into a path.
    fn text(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Float(v) => py_str(*v, false),
            Value::Str(s) => s.clone(),
        }
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadArgument(format!("template: {}", msg.into()))
}

fn literal(e: &Expr) -> Result<Value, Error> {
    match e {
        Expr::Int(n) => Ok(Value::Int(*n)),
        Expr::Float(v) => Ok(Value::Float(*v)),
        Expr::Str(s) => Ok(Value::Str(s.clone())),
        other => Err(bad(format!(
            "invalid template() syntax, only string/numeric arguments are allowed, got {other}"
        ))),
    }
}

/// Placeholder names and their values, in the order they are applied.
pub type Replacements = Vec<(String, Value)>;

/// The target inside `template(…)` and its replacements, in graphite's order: the call's
/// values (keywords, then positions `1`, `2`, …), then the request's `template[…]` parameters,
/// which override a value of the same name.
pub fn bind<'c>(
    call: &'c Call,
    request: &[(String, String)],
) -> Result<(&'c Expr, Replacements), Error> {
    let Some(inner) = call.args.first() else {
        return Err(bad("needs a target"));
    };
    if !matches!(inner, Expr::Path(_) | Expr::Call(_)) {
        return Err(bad(format!(
            "the first argument must be a target, got {inner}"
        )));
    }
    if call.args.len() > 1 && !call.kwargs.is_empty() {
        return Err(bad(
            "give the values either all by position or all by keyword",
        ));
    }
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in &call.kwargs {
        out.push((k.clone(), literal(v)?));
    }
    for (i, v) in call.args[1..].iter().enumerate() {
        out.push(((i + 1).to_string(), literal(v)?));
    }
    for (k, v) in request {
        let v = Value::Str(v.clone());
        match out.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k.clone(), v)),
        }
    }
    Ok((inner, out))
}

/// `expr` with every placeholder replaced.
pub fn substitute(expr: &Expr, replacements: &[(String, Value)]) -> Result<Expr, Error> {
    Ok(match expr {
        Expr::Path(p) => path(p, replacements)?,
        Expr::Call(c) if c.name == "template" => expr.clone(),
        Expr::Call(c) => Expr::Call(Call {
            name: c.name.clone(),
            args: c
                .args
                .iter()
                .map(|a| substitute(a, replacements))
                .collect::<Result<_, _>>()?,
            kwargs: c
                .kwargs
                .iter()
                .map(|(k, v)| Ok((k.clone(), substitute(v, replacements)?)))
                .collect::<Result<_, Error>>()?,
            // The text as written may hold placeholders: seriesByTag rebuilds its own.
            raw: None,
        }),
        other => other.clone(),
    })
}

/// graphite's loop over the replacements for one path expression.
fn path(p: &str, replacements: &[(String, Value)]) -> Result<Expr, Error> {
    let mut expression = p.to_string();
    for (name, value) in replacements {
        let placeholder = format!("${name}");
        if expression == placeholder {
            return Ok(match value {
                Value::Int(n) => Expr::Int(*n),
                Value::Float(v) => Expr::Float(*v),
                Value::Str(s) if is_number_like(s) => Expr::Float(
                    s.parse()
                        .map_err(|_| bad(format!("{name}={s:?} is not a number")))?,
                ),
                Value::Str(s) => Expr::Str(s.clone()),
            });
        }
        expression = expression.replace(&placeholder, &value.text());
    }
    Ok(Expr::Path(expression))
}

/// graphite's `re.match(r'^-?[\d.]+$', val)`.
fn is_number_like(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::target::parse;

    fn run(target: &str, request: &[(&str, &str)]) -> Result<String, Error> {
        let Expr::Call(c) = parse(target).unwrap() else {
            panic!("not a call")
        };
        let request: Vec<(String, String)> = request
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (inner, r) = bind(&c, &request)?;
        Ok(substitute(inner, &r)?.to_string())
    }

    #[test]
    fn placeholders_in_paths_and_whole_arguments() {
        assert_eq!(
            run("template(hosts.$hostname.cpu, hostname='worker1')", &[]).unwrap(),
            "hosts.worker1.cpu"
        );
        assert_eq!(
            run("template(sumSeries(hosts.$1.$2), 'a', 3)", &[]).unwrap(),
            "sumSeries(hosts.a.3)"
        );
        assert_eq!(
            run("template(movingAverage(x.$h, $n), h='y', n=5)", &[]).unwrap(),
            "movingAverage(x.y,5)"
        );
        assert_eq!(
            run("template(movingAverage(x, $n), n='5')", &[]).unwrap(),
            "movingAverage(x,5)"
        );
        assert_eq!(
            run("template(alias(x, $n), n='name')", &[]).unwrap(),
            "alias(x,'name')"
        );
        assert_eq!(
            run("template(x.$v, v=1.5)", &[]).unwrap(),
            "x.1.5",
            "a float is spliced as Python prints it"
        );
        // Request parameters override the call's values and add new ones.
        assert_eq!(
            run(
                "template(hosts.$hostname.$m, hostname='worker1')",
                &[("hostname", "worker2"), ("m", "cpu")]
            )
            .unwrap(),
            "hosts.worker2.cpu"
        );
        // A nested template keeps its own values.
        assert_eq!(
            run(
                "template(group(a.$x, template(b.$x, x='in')), x='out')",
                &[]
            )
            .unwrap(),
            "group(a.out,template(b.$x,x='in'))"
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(run("template(a.$x, 'v', x='w')", &[]).is_err());
        assert!(run("template(a.$x, x=b.c)", &[]).is_err());
        assert!(run("template(a.$x, x=true)", &[]).is_err());
        assert!(run("template()", &[]).is_err());
        assert!(run("template(x, $n)", &[]).is_err());
        assert!(run("template(scale(x, $n), n='1.2.3')", &[]).is_err());
    }
}
