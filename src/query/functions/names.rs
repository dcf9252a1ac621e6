//! Reading graphite names as graphite-web does: node or tag `n` of a series, the key of a
//! group (`aggKey`), the first path expression of a function-call name, and the comma-joined
//! path expressions of a list.

use crate::query::series::TimeSeries;
use crate::query::target::{self, Expr};

#[derive(Debug, Clone, PartialEq)]
pub enum NodeOrTag {
    Node(i64),
    Tag(String),
}

/// Graphite's `getNodeOrTag`: node `n` of the name (tags cut off; negative from the end), or
/// the tag's value (`""` when missing).
pub fn node_or_tag(s: &TimeSeries, n: &NodeOrTag, path: Option<&str>) -> String {
    match n {
        NodeOrTag::Node(i) => {
            let name = path.unwrap_or(&s.name);
            let name = name.split(';').next().unwrap_or(name);
            let parts: Vec<&str> = name.split('.').collect();
            let idx = if *i < 0 { parts.len() as i64 + i } else { *i };
            if idx >= 0
                && let Some(p) = parts.get(idx as usize)
            {
                return p.to_string();
            }
            s.tags.get(&i.to_string()).cloned().unwrap_or_default()
        }
        NodeOrTag::Tag(t) => s.tags.get(t).cloned().unwrap_or_default(),
    }
}

/// Graphite's `aggKey`: nodes joined by `.`, read from the first path expression when the
/// name is a function call.
pub fn agg_key(s: &TimeSeries, nodes: &[NodeOrTag]) -> String {
    let first = if s.name.ends_with(')') {
        first_path_expression(&s.name)
    } else {
        None
    };
    nodes
        .iter()
        .map(|n| node_or_tag(s, n, first.as_deref()))
        .collect::<Vec<_>>()
        .join(".")
}

/// Graphite's `_getFirstPathExpression`: down the first arguments of a function-call name to
/// a path; none when that chain ends elsewhere (`sumSeries(seriesByTag('a=b'))` reaches a
/// string), and then the name itself is split. Where graphite's grammar rejects a call (a
/// keyword argument before a positional one, or only keywords: `timeSlice(y=26.2, 1, 2)`,
/// which `aliasQuery`'s `y=%g` makes) its parser keeps the path the name starts with.
pub fn first_path_expression(name: &str) -> Option<String> {
    let mut e = match target::parse(name) {
        Ok(e) if graphite_reads(&e) => e,
        _ => return leading_path(name),
    };
    loop {
        match e {
            Expr::Path(p) => return Some(p),
            Expr::Call(c) => e = c.args.into_iter().next()?,
            _ => return None,
        }
    }
}

/// Whether graphite's call grammar reads every call of `e`: it takes keyword arguments only
/// after a positional one.
fn graphite_reads(e: &Expr) -> bool {
    match e {
        Expr::Call(c) if c.args.is_empty() && !c.kwargs.is_empty() => false,
        Expr::Call(c) => c
            .args
            .iter()
            .chain(c.kwargs.iter().map(|(_, v)| v))
            .all(graphite_reads),
        _ => true,
    }
}

/// The path a name starts with, as graphite's `pathExpression` reads it (runs of printable
/// ASCII but `(){},.'"\|`, joined by dots); none when the name starts otherwise.
fn leading_path(name: &str) -> Option<String> {
    let element = |c: char| c.is_ascii_graphic() && !"(){},.'\"\\|".contains(c);
    let mut end = 0;
    for part in name.split('.') {
        let run = part.find(|c: char| !element(c)).unwrap_or(part.len());
        if run == 0 {
            break;
        }
        end += run + usize::from(end > 0);
        if run < part.len() {
            break;
        }
    }
    (end > 0).then(|| name[..end].to_string())
}

/// Graphite's comma-joined unique path expressions (`formatPathExpressions`).
pub fn path_expressions(list: &[TimeSeries]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for s in list {
        if !seen.contains(&s.path_expression.as_str()) {
            seen.push(&s.path_expression);
        }
    }
    seen.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_graphite_cannot_parse_gives_the_path_it_starts_with() {
        // aliasQuery's `y=%g` under timeSlice: a keyword before positional arguments.
        let first = |n: &str| first_path_expression(n);
        assert_eq!(
            first("timeSlice(y=26.2, 1795825370, 1796602970)").as_deref(),
            Some("timeSlice")
        );
        assert_eq!(first("sumSeries(f(x=a.b))").as_deref(), Some("sumSeries"));
        assert_eq!(first("a.b(y=1)").as_deref(), Some("a.b"));
        assert_eq!(first("scale(a.b.c, 2)").as_deref(), Some("a.b.c"));
        assert_eq!(first("f(a.b, k=1)").as_deref(), Some("a.b"));
        assert_eq!(first("(y=1)"), None);
    }
}
