//! Tag expressions (graphite's `seriesByTag`, `/tags/findSeries`, `/tags/autoComplete/*`):
//! `tag=value`, `tag!=value`, `tag=~regex`, `tag!=~regex`. A regex is anchored at the start;
//! a spec that matches the empty value also matches series without the tag, so at least one
//! expression must need a non-empty value. The metric name is the tag `name`.

use super::Error;
use super::series::tags_of_name;
use regex::Regex;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Expr {
    pub tag: String,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Eq(String),
    Ne(String),
    Match(Regex),
    NotMatch(Regex),
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, Error> {
        let bad = |why: &str| Error::BadArgument(format!("tag expression {text:?}: {why}"));
        let (tag, op) = if let Some((t, v)) = text.split_once("!=~") {
            (t, Op::NotMatch(anchored(v).map_err(|e| bad(&e))?))
        } else if let Some((t, v)) = text.split_once("!=") {
            (t, Op::Ne(v.to_string()))
        } else if let Some((t, v)) = text.split_once("=~") {
            (t, Op::Match(anchored(v).map_err(|e| bad(&e))?))
        } else if let Some((t, v)) = text.split_once('=') {
            (t, Op::Eq(v.to_string()))
        } else {
            return Err(bad(
                "expected tag=value, tag!=value, tag=~regex or tag!=~regex",
            ));
        };
        let tag = tag.trim();
        if tag.is_empty() || tag.contains([';', '!', '^', '=', ' ']) {
            return Err(bad("bad tag name"));
        }
        Ok(Expr {
            tag: tag.to_string(),
            op,
        })
    }

    /// Whether a series with this tag value (`""` when it lacks the tag) matches.
    pub fn matches(&self, value: &str) -> bool {
        match &self.op {
            Op::Eq(v) => value == v,
            Op::Ne(v) => value != v,
            Op::Match(r) => r.is_match(value),
            Op::NotMatch(r) => !r.is_match(value),
        }
    }

    /// True if the expression also matches series without the tag.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// `tag=value` exactly (used to skip tags already named in autocompletion).
    pub fn is_equality(&self) -> bool {
        matches!(self.op, Op::Eq(_))
    }
}

fn anchored(re: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{re})"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

/// Parses a tagged name into its tags (`name` included).
pub fn tags(name: &str) -> BTreeMap<String, String> {
    tags_of_name(name)
}

/// Names (sorted) whose tags match every expression.
pub fn matching(exprs: &[Expr], names: Vec<String>) -> Result<Vec<String>, Error> {
    if exprs.is_empty() {
        return Err(Error::BadArgument("no tag expressions".into()));
    }
    if exprs.iter().all(Expr::matches_empty) {
        return Err(Error::BadArgument(
            "at least one tag expression must require a non-empty value".into(),
        ));
    }
    let mut out: Vec<String> = names
        .into_iter()
        .filter(|n| {
            let t = tags(n);
            exprs
                .iter()
                .all(|e| e.matches(t.get(&e.tag).map(String::as_str).unwrap_or("")))
        })
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        [
            "disk.used;datacenter=dc1;rack=a1;server=web01",
            "disk.used;datacenter=dc1;rack=b2;server=web02",
            "disk.used;datacenter=dc2;server=db01",
            "cpu.load;datacenter=dc1;server=web01",
        ]
        .map(String::from)
        .to_vec()
    }

    fn find(exprs: &[&str]) -> Vec<String> {
        let e: Vec<Expr> = exprs.iter().map(|e| Expr::parse(e).unwrap()).collect();
        matching(&e, names()).unwrap()
    }

    #[test]
    fn operators() {
        assert_eq!(find(&["name=disk.used", "rack=a1"]).len(), 1);
        assert_eq!(
            find(&["name=disk.used", "rack!=a1"]).len(),
            2,
            "no rack matches !="
        );
        assert_eq!(find(&["server=~web"]).len(), 3, "anchored at the start");
        assert_eq!(find(&["server=~eb"]).len(), 0);
        assert_eq!(
            find(&["name=disk.used", "server!=~web"]),
            vec!["disk.used;datacenter=dc2;server=db01".to_string()]
        );
        assert_eq!(
            find(&["name=disk.used", "rack="]).len(),
            1,
            "empty matches missing"
        );
    }

    #[test]
    fn needs_one_non_empty_expression() {
        let e = vec![Expr::parse("rack!=a1").unwrap()];
        assert!(matching(&e, names()).is_err());
        assert!(Expr::parse("novalue").is_err());
        assert!(Expr::parse("=x").is_err());
        assert!(Expr::parse("a=~(").is_err());
    }
}
