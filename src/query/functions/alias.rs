//! Alias: functions that only rename series (the legend). `aliasSub` uses Python's `re.sub`
//! replacement syntax (`\1`, `\g<name>`), translated to the `regex` crate's (`${1}`), since
//! Grafana wraps every query as `aliasSub(…, "(^.*$)", "\1 A")`.

use super::Type::*;
use super::{Args, Func, agg_key, f, p, py_str};
use crate::query::Error;
use crate::query::series::{Agg, TimeSeries};

const SL: super::Param = p("seriesList", SeriesList).req();

pub const FUNCTIONS: &[Func] = &[
    f("alias", "Alias", &[SL, p("newName", Text).req()], alias, "Names every series newName.").transparent(),
    f("aliasByNode", "Alias", &[SL, p("nodes", NodeOrTag).req().multi()], alias_by_node,
        "Names series by nodes of their path (0-based, negative from the end) or tag values, joined by '.'.").transparent(),
    f("aliasByTags", "Alias", &[SL, p("tags", NodeOrTag).req().multi()], alias_by_node, "Names series by tag values (or nodes), joined by '.'.").transparent(),
    f("aliasByMetric", "Alias", &[SL], alias_by_metric, "Names series by the last node of their path.").transparent(),
    f("aliasSub", "Alias", &[SL, p("search", Text).req(), p("replace", Text).req()], alias_sub,
        "Renames series with a regular expression substitution; \\1 refers to a group.").transparent(),
    f("legendValue", "Alias", &[SL, p("valuesTypes", Text).multi().opts(&["average", "avg", "avg_zero", "binary", "count", "current", "diff", "last", "max", "median", "min", "multiply", "range", "rangeOf", "si", "stddev", "sum", "total"])], legend_value,
        "Appends aggregate values (avg, total, min, max, last…) to the name.").by_value(),
    f("toUpperCase", "Alias", &[SL, p("pos", Integer).multi()], |a| case(a, true), "Upper-cases the name (or the characters at the given positions).").transparent(),
    f("toLowerCase", "Alias", &[SL, p("pos", Integer).multi()], |a| case(a, false), "Lower-cases the name (or the characters at the given positions).").transparent(),
    f("upper", "Alias", &[SL, p("pos", Integer).multi()], |a| case(a, true), "Short form of toUpperCase.").transparent(),
    f("lower", "Alias", &[SL, p("pos", Integer).multi()], |a| case(a, false), "Short form of toLowerCase.").transparent(),
    f("substr", "Special", &[SL, p("start", NodeOrTag).def(super::Default::Int(0)), p("stop", NodeOrTag).def(super::Default::Int(0))], substr,
        "Names series by a slice of the nodes of their (innermost) path.").transparent(),
];

fn alias(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let name = a.string(1)?;
    let mut list = a.series(0)?;
    for s in &mut list {
        s.rename(name.clone());
    }
    Ok(list)
}

fn alias_by_node(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let nodes = a.nodes(1)?;
    let mut list = a.series(0)?;
    for s in &mut list {
        let key = agg_key(s, &nodes);
        s.rename(key);
    }
    Ok(list)
}

/// graphite's `substr(series, start, stop)` on the innermost path of a name.
pub fn substr_name(name: &str, start: i64, stop: i64) -> String {
    let left = name.rfind('(').map(|i| i + 1).unwrap_or(0);
    let right = name.find(')').unwrap_or(name.len());
    // Python's name[left:right]: empty when the first ')' comes before the last '('.
    let clean = if left <= right {
        &name[left..right]
    } else {
        ""
    };
    let parts: Vec<&str> = clean.split('.').collect();
    let len = parts.len() as i64;
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) } as usize;
    let (from, to) = (
        norm(start),
        if stop == 0 { parts.len() } else { norm(stop) },
    );
    let joined = if from < to {
        parts[from..to].join(".")
    } else {
        String::new()
    };
    match joined.find(',') {
        Some(i) => joined[..i].to_string(),
        None => joined,
    }
}

fn substr(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let start = a.int(1)?;
    let stop = a.int(2)?;
    let mut list = a.series(0)?;
    for s in &mut list {
        let n = substr_name(&s.name, start, stop);
        s.rename(n);
    }
    Ok(list)
}

fn alias_by_metric(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    for s in &mut list {
        let n = substr_name(&s.name, -1, 0);
        s.rename(n);
    }
    Ok(list)
}

/// Translates a Python `re.sub` replacement into the `regex` crate's syntax.
pub fn python_replacement(replace: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = replace.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '$' => out.push_str("$$"),
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                if next.is_ascii_digit() {
                    let mut j = i + 1;
                    while j < chars.len() && j < i + 3 && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    let group: String = chars[i + 1..j].iter().collect();
                    out.push_str(&format!("${{{group}}}"));
                    i = j;
                    continue;
                }
                if next == 'g'
                    && chars.get(i + 2) == Some(&'<')
                    && let Some(end) = chars[i + 3..].iter().position(|&c| c == '>')
                {
                    let group: String = chars[i + 3..i + 3 + end].iter().collect();
                    out.push_str(&format!("${{{group}}}"));
                    i += 4 + end;
                    continue;
                }
                match next {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    '\\' => out.push('\\'),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                i += 2;
                continue;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn alias_sub(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let re = a.ev.regex(&a.string(1)?)?;
    let replacement = python_replacement(&a.string(2)?);
    let mut list = a.series(0)?;
    for s in &mut list {
        let n = re.replace_all(&s.name, replacement.as_str()).into_owned();
        s.rename(n);
    }
    Ok(list)
}

fn legend_value(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut types = a.strings(1)?;
    let system = match types.last().map(String::as_str) {
        Some("si" | "binary") => types.pop(),
        _ => None,
    };
    let mut list = a.series(0)?;
    for t in &types {
        let agg = Agg::parse(t);
        for s in &mut list {
            let value = agg.map(|g| g.apply(&s.values));
            let name = match (&system, value) {
                (None, None) => format!("{} ({t}: (?))", s.name),
                // graphite's count is safeLen: an int, 0 when every value is null.
                (None, Some(v)) if agg == Some(Agg::Count) => {
                    format!("{} ({t}: {})", s.name, v.unwrap_or(0.0) as i64)
                }
                (None, Some(v)) => format!(
                    "{} ({t}: {})",
                    s.name,
                    v.map(|v| py_str(v, false)).unwrap_or_else(|| "None".into())
                ),
                (Some(sys), v) => {
                    let formatted = match v {
                        None => "(?)".to_string(),
                        Some(None) => "None".to_string(),
                        Some(Some(v)) => {
                            let (x, prefix) = format_units(v, sys == "binary");
                            format!("{x:.2}{prefix}")
                        }
                    };
                    format!("{:<20}{t:<5}{formatted:<10}", s.name)
                }
            };
            s.rename(name);
        }
    }
    Ok(list)
}

/// graphite's `format_units`: scales by SI (1000) or binary (1024) prefixes.
pub fn format_units(v: f64, binary: bool) -> (f64, &'static str) {
    let (base, prefixes): (f64, [&str; 8]) = if binary {
        (1024.0, ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"])
    } else {
        (1000.0, ["k", "M", "G", "T", "P", "E", "Z", "Y"])
    };
    let mut best = (v, "");
    let mut size = base;
    for p in prefixes {
        if v.abs() >= size {
            best = (v / size, p);
        } else {
            break;
        }
        size *= base;
    }
    best
}

fn case(a: &Args, upper: bool) -> Result<Vec<TimeSeries>, Error> {
    let positions: Vec<i64> = a
        .rest(1)
        .iter()
        .map(|e| match e {
            crate::query::target::Expr::Int(n) => Ok(*n),
            other => Err(Error::BadArgument(format!("{other} is not a position"))),
        })
        .collect::<Result<_, _>>()?;
    let mut list = a.series(0)?;
    for s in &mut list {
        let n = if positions.is_empty() {
            if upper {
                s.name.to_uppercase()
            } else {
                s.name.to_lowercase()
            }
        } else {
            let mut chars: Vec<char> = s.name.chars().collect();
            let len = chars.len() as i64;
            for &p in &positions {
                let i = if p < 0 { len + p } else { p };
                if let Some(c) = usize::try_from(i).ok().and_then(|i| chars.get_mut(i)) {
                    *c = if upper {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    };
                }
            }
            chars.into_iter().collect()
        };
        s.rename(n);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_replacements() {
        assert_eq!(python_replacement(r"\1 A"), "${1} A");
        assert_eq!(python_replacement(r"\g<1>-\g<name>"), "${1}-${name}");
        assert_eq!(python_replacement("cost $5"), "cost $$5");
        assert_eq!(python_replacement(r"a\\b"), r"a\b");
    }

    #[test]
    fn substr_of_names() {
        assert_eq!(substr_name("a.b.c", -1, 0), "c");
        assert_eq!(substr_name("sumSeries(a.b.c)", 1, 0), "b.c");
        assert_eq!(substr_name("scale(a.b.c,2)", 1, 0), "b.c");
        assert_eq!(substr_name("a.b.c.d", 1, 3), "b.c");
        // The first ")" before the last "(": Python's slice is empty.
        assert_eq!(substr_name("sumSeries(f(a.b),g(c.d))", 1, 0), "");
    }
}
