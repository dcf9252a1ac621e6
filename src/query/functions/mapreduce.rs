//! Functions that build other targets from series names and evaluate them, as graphite-web's
//! do with `evaluateTarget`: `mapSeries`/`reduceSeries` (map/reduce by a node), `applyByNode`
//! (a target template per name prefix), `aliasQuery` (a name from another series' last value)
//! and `useSeriesAbove` (a related series when one crosses a value).
//!
//! graphite's `mapSeries` returns a list of series lists, which only `reduceSeries` can read;
//! here it returns the series regrouped (each group's series together, groups in order of
//! first appearance), which is what `reduceSeries` reads from it, and is drawable on its own.

use super::Type::*;
use super::alias::python_replacement;
use super::{Args, Func, agg_key, f, p};
use crate::query::Error;
use crate::query::eval::Ctx;
use crate::query::series::TimeSeries;
use crate::query::target::{Call, Expr};

const SL: super::Param = p("seriesList", SeriesList).req();
const MAP: &[super::Param] = &[SL, p("mapNodes", NodeOrTag).req().multi()];
const REDUCE: &[super::Param] = &[
    p("seriesLists", SeriesLists).req(),
    p("reduceFunction", Text).req(),
    p("reduceNode", Node).req(),
    p("reduceMatchers", Text).req().multi(),
];

pub const FUNCTIONS: &[Func] = &[
    f("mapSeries", "Combine", MAP, map_series,
        "Groups series by the given nodes (or tags), for reduceSeries: the series of each group together, groups in order of first appearance.").transparent(),
    f("map", "Combine", MAP, map_series, "Short form of mapSeries.").transparent(),
    f("reduceSeries", "Combine", REDUCE, reduce_series,
        "For each name prefix before reduceNode, calls reduceFunction with the series whose reduceNode is each of reduceMatchers, in that order; the result is named <prefix>.reduce.<reduceFunction>."),
    f("reduce", "Combine", REDUCE, reduce_series, "Short form of reduceSeries."),
    f("applyByNode", "Combine", &[SL, p("nodeNum", Node).req(), p("templateFunction", Text).req(), p("newName", Text)], apply_by_node,
        "Evaluates templateFunction once per distinct name prefix up to nodeNum, '%' replaced by the prefix; newName ('%' likewise) renames the results."),
    f("aliasQuery", "Alias", &[SL, p("search", Text).req(), p("replace", Text).req(), p("newName", Text).req()], alias_query,
        "Names each series newName % (the last value of the series its name turns into with search/replace), printf-style.").transparent(),
    f("useSeriesAbove", "Filter Series", &[SL, p("value", Float).req(), p("search", Text).req(), p("replace", Text).req()], use_series_above,
        "For each series whose maximum is above value, draws the series its name turns into with search/replace instead.").by_value(),
];

fn bad(msg: impl Into<String>) -> Error {
    Error::BadArgument(msg.into())
}

/// A nested query reads values, so nothing below it may be merged at read time.
fn nested(a: &Args) -> Ctx {
    Ctx {
        merge: false,
        ..a.ctx
    }
}

/// Python's index into the nodes of a name (negative from the end).
fn py_index(len: usize, n: i64) -> Option<usize> {
    let i = if n < 0 { len as i64 + n } else { n };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// Python's `nodes[:end]`.
fn py_prefix<'s, 'n>(nodes: &'s [&'n str], end: i64) -> &'s [&'n str] {
    let len = nodes.len() as i64;
    let e = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len)
    };
    &nodes[..e as usize]
}

fn map_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let nodes = a.nodes(1)?;
    let mut groups: Vec<(String, Vec<TimeSeries>)> = Vec::new();
    for s in a.series(0)? {
        let key = agg_key(&s, &nodes);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(s),
            None => groups.push((key, vec![s])),
        }
    }
    Ok(groups.into_iter().flat_map(|(_, g)| g).collect())
}

fn reduce_series(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let function = a.string(1)?;
    let node = a.int(2)?;
    let matchers = a.strings(3)?;
    // Prefix → one slot per matcher, in order of first appearance.
    let mut groups: Vec<(String, Vec<Option<TimeSeries>>)> = Vec::new();
    for s in a.series(0)? {
        let nodes: Vec<&str> = s.name.split('.').collect();
        let Some(i) = py_index(nodes.len(), node) else {
            return Err(bad(format!("{} has no node {node}", s.name)));
        };
        let Some(m) = matchers.iter().position(|m| m == nodes[i]) else {
            continue;
        };
        let key = format!("{}.reduce.{function}", py_prefix(&nodes, node).join("."));
        let at = match groups.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                groups.push((key, vec![None; matchers.len()]));
                groups.len() - 1
            }
        };
        groups[at].1[m] = Some(s);
    }
    let mut out = Vec::new();
    for (key, slots) in groups {
        let mut args = Vec::new();
        for (slot, matcher) in slots.into_iter().zip(&matchers) {
            let Some(s) = slot else {
                return Err(bad(format!(
                    "no series for {matcher:?} to reduce into {key}"
                )));
            };
            args.push(a.ev.bind_series(vec![s]));
        }
        let call = Expr::Call(Call {
            name: function.clone(),
            args,
            kwargs: Vec::new(),
            raw: None,
        });
        let Some(mut s) = a.ev.eval(&call, &a.ctx)?.into_iter().next() else {
            return Err(bad(format!("{function} gave no series for {key}")));
        };
        s.rename(key);
        out.push(s);
    }
    Ok(out)
}

fn apply_by_node(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let node = a.int(1)?;
    let template = a.string(2)?;
    let new_name = a.string_opt(3)?;
    let mut prefixes: Vec<String> = Vec::new();
    for s in a.series(0)? {
        let nodes: Vec<&str> = s.name.split('.').collect();
        if node >= nodes.len() as i64 {
            return Err(bad(format!("{} do not contains {node} nodes", s.name)));
        }
        prefixes.push(py_prefix(&nodes, node + 1).join("."));
    }
    prefixes.sort();
    prefixes.dedup();
    let mut out = Vec::new();
    for prefix in prefixes {
        for mut s in a.ev.eval_text(&template.replace('%', &prefix), &a.ctx)? {
            if let Some(n) = &new_name {
                s.rename(n.replace('%', &prefix));
            }
            s.path_expression = prefix.clone();
            out.push(s);
        }
    }
    Ok(out)
}

fn alias_query(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let re = a.ev.regex(&a.string(1)?)?;
    let replacement = python_replacement(&a.string(2)?);
    let new_name = a.string(3)?;
    let mut list = a.series(0)?;
    for s in &mut list {
        let query = re.replace_all(&s.name, replacement.as_str()).into_owned();
        // The name is made of a value: read it as graphite does, whatever the tier choice.
        let ctx = Ctx {
            by_value: true,
            ..nested(a)
        };
        let found = a.ev.eval_text(&query, &ctx)?;
        let Some(first) = found.first() else {
            return Err(bad(format!("No series found with query: {query}")));
        };
        let Some(current) = first.values.iter().rev().find_map(|v| *v) else {
            return Err(bad(format!(
                "Cannot get last value of series: {}",
                first.name
            )));
        };
        s.rename(percent_format(&new_name, current)?);
    }
    Ok(list)
}

fn use_series_above(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let value = a.float(1)?;
    let re = a.ev.regex(&a.string(2)?)?;
    let replacement = python_replacement(&a.string(3)?);
    let mut names = Vec::new();
    for s in a.series(0)? {
        let max = s
            .non_null()
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        if max.is_some_and(|m| m > value) {
            names.push(re.replace_all(&s.name, replacement.as_str()).into_owned());
        }
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let found =
        a.ev.eval_text(&format!("group({})", names.join(",")), &a.ctx)?;
    Ok(found.into_iter().filter(|s| !s.values.is_empty()).collect())
}

/// Python's `fmt % value` for one number: `%d %i %u %f %F %e %E %g %G %s %r %x %X %o %%`,
/// with flags `-+ 0#`, a width and a precision.
/// The largest width or precision a format may ask for (Rust's formatter panics past
/// 65535; a name of a thousand characters is already more than a graph can show).
const MAX_WIDTH: usize = 1000;

pub fn percent_format(fmt: &str, v: f64) -> Result<String, Error> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut used = false;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut flags = String::new();
        while let Some(&c) = chars.get(i).filter(|c| "-+ 0#".contains(**c)) {
            flags.push(c);
            i += 1;
        }
        let mut width = 0usize;
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            width = width * 10 + d as usize;
            i += 1;
            if width > MAX_WIDTH {
                return Err(bad(format!("format width over {MAX_WIDTH} in {fmt:?}")));
            }
        }
        let mut precision = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = 0usize;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                i += 1;
                if p > MAX_WIDTH {
                    return Err(bad(format!("format precision over {MAX_WIDTH} in {fmt:?}")));
                }
            }
            precision = Some(p);
        }
        let Some(&conv) = chars.get(i) else {
            return Err(bad(format!("incomplete format {fmt:?}")));
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        if used {
            return Err(bad(format!("not enough arguments for format {fmt:?}")));
        }
        used = true;
        let body = match conv {
            'd' | 'i' | 'u' => format!("{}", v.trunc() as i64),
            'x' => format!("{:x}", v.trunc() as i64),
            'X' => format!("{:X}", v.trunc() as i64),
            'o' => format!("{:o}", v.trunc() as i64),
            'f' | 'F' => format!("{:.*}", precision.unwrap_or(6), v),
            'e' | 'E' => {
                let s = py_exp(v, precision.unwrap_or(6));
                if conv == 'E' { s.to_uppercase() } else { s }
            }
            'g' | 'G' => {
                let s = py_general(v, precision.unwrap_or(6), flags.contains('#'));
                if conv == 'G' { s.to_uppercase() } else { s }
            }
            's' | 'r' => {
                let s = super::py_str(v, false);
                match precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            other => return Err(bad(format!("unsupported format character {other:?}"))),
        };
        let numeric = !matches!(conv, 's' | 'r');
        let body = if numeric && !body.starts_with('-') {
            if flags.contains('+') {
                format!("+{body}")
            } else if flags.contains(' ') {
                format!(" {body}")
            } else {
                body
            }
        } else {
            body
        };
        let len = body.chars().count();
        if len >= width {
            out.push_str(&body);
        } else if flags.contains('-') {
            out.push_str(&body);
            out.push_str(&" ".repeat(width - len));
        } else if flags.contains('0') && numeric && v.is_finite() {
            let (sign, digits) = match body.chars().next() {
                Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &body[1..]),
                _ => (String::new(), body.as_str()),
            };
            out.push_str(&sign);
            out.push_str(&"0".repeat(width - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(width - len));
            out.push_str(&body);
        }
    }
    if !used {
        return Err(bad(format!(
            "not all arguments converted during string formatting of {fmt:?}"
        )));
    }
    Ok(out)
}

/// Python's `%.{p}e`: at least two exponent digits.
fn py_exp(v: f64, p: usize) -> String {
    if !v.is_finite() {
        return super::fmt_g(v);
    }
    let s = format!("{v:.p$e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// Python's `%.{p}g` (`#` keeps trailing zeros).
fn py_general(v: f64, p: usize, alt: bool) -> String {
    if !v.is_finite() {
        return super::fmt_g(v);
    }
    let p = p.max(1);
    if v == 0.0 {
        return if alt {
            format!("{:.*}", p - 1, 0.0)
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", p - 1, v);
    let e: i32 = sci
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let trim = |s: String| {
        if alt || !s.contains('.') {
            s
        } else {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    };
    if e < -4 || e >= p as i32 {
        let (m, _) = sci.split_once('e').unwrap_or((&sci, ""));
        format!(
            "{}e{}{:02}",
            trim(m.to_string()),
            if e < 0 { '-' } else { '+' },
            e.abs()
        )
    } else {
        trim(format!("{:.*}", (p as i32 - 1 - e).max(0) as usize, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_widths_and_precisions_are_refused_not_panics() {
        for fmt in ["%.70000f", "%99999999999999999999999d", "%.1001g", "%2000s"] {
            assert!(percent_format(fmt, 1.5).is_err(), "{fmt}");
        }
        assert_eq!(percent_format("%.2f", 1.005).unwrap(), "1.00");
        assert!(super::super::transform::round_to(1.5, 400) == 1.5);
        assert_eq!(super::super::transform::round_to(1e300, -400), 0.0);
        assert_eq!(super::super::transform::round_to(1234.5, -2), 1200.0);
    }

    #[test]
    fn python_percent_formatting() {
        for (fmt, v, want) in [
            ("Channel %d MHz", 2412.0, "Channel 2412 MHz"),
            ("%d", -3.9, "-3"),
            ("%s", 5.0, "5.0"),
            ("%s", 2.5, "2.5"),
            ("%.2f%%", 12.3456, "12.35%"),
            ("%5.1f|", 1.23456, "  1.2|"),
            ("%-5d|", 42.0, "42   |"),
            ("%05d", 42.0, "00042"),
            ("%+d", 42.0, "+42"),
            ("%g", 0.0001, "0.0001"),
            ("%g", 1234567.0, "1.23457e+06"),
            ("%.3g", 1.23456, "1.23"),
            ("%e", 1234.5, "1.234500e+03"),
            ("%x", 255.0, "ff"),
            ("%.3s", 1234.0, "123"),
        ] {
            assert_eq!(percent_format(fmt, v).unwrap(), want, "{fmt}");
        }
        assert!(percent_format("no conversion", 1.0).is_err());
        assert!(percent_format("%d %d", 1.0).is_err());
        assert!(percent_format("%q", 1.0).is_err());
        assert!(percent_format("%", 1.0).is_err());
    }

    #[test]
    fn python_slices_of_nodes() {
        let nodes = ["a", "b", "c"];
        assert_eq!(py_prefix(&nodes, 2), ["a", "b"]);
        assert_eq!(py_prefix(&nodes, -1), ["a", "b"]);
        assert_eq!(py_prefix(&nodes, 9), ["a", "b", "c"]);
        assert!(py_prefix(&nodes, -9).is_empty());
        assert_eq!(py_index(3, -1), Some(2));
        assert_eq!(py_index(3, 3), None);
    }
}
