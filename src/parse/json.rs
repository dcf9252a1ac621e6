//! JSON lines: values by dotted path, and every numeric leaf with its path.
//!
//! A path is object keys (and array indexes) joined by dots: `http.status`, `items.0.price`.
//! A key that itself contains a dot cannot be addressed. Globs for `fields:` match node by
//! node: `*` is any one node, `**` any number of nodes (also none), anything else literally.

use serde_json::Value;

/// The value at `path`, if there is one.
pub(crate) fn lookup<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut v = root;
    for node in path {
        v = match v {
            Value::Object(map) => map.get(node.as_str())?,
            Value::Array(items) => items.get(node.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A leaf's text for templates: strings as they are, numbers and booleans as written;
/// null, objects and arrays have none.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Lit(String),
    One,
    Any,
}

/// A compiled path glob.
#[derive(Debug, Clone)]
pub(crate) struct Glob(Vec<Node>);

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty path".into());
        }
        let mut nodes = Vec::new();
        for n in pattern.split('.') {
            nodes.push(match n {
                "" => return Err(format!("path {pattern:?} has an empty node")),
                "*" => Node::One,
                "**" => Node::Any,
                _ if n.contains('*') => {
                    return Err(format!(
                        "path {pattern:?}: `*` must be a whole node (`a.*.b`, `a.**`)"
                    ));
                }
                _ => Node::Lit(n.to_string()),
            });
        }
        Ok(Glob(nodes))
    }

    pub fn matches(&self, path: &[String]) -> bool {
        fn go(glob: &[Node], path: &[String]) -> bool {
            match glob.split_first() {
                None => path.is_empty(),
                Some((Node::Any, rest)) => (0..=path.len()).any(|k| go(rest, &path[k..])),
                Some((node, rest)) => match path.split_first() {
                    None => false,
                    Some((first, tail)) => {
                        (*node == Node::One || *node == Node::Lit(first.clone())) && go(rest, tail)
                    }
                },
            }
        }
        go(&self.0, path)
    }
}

/// Calls `f` with the path and value of every finite numeric leaf, in document order.
pub(crate) fn for_each_number(
    v: &Value,
    path: &mut Vec<String>,
    f: &mut dyn FnMut(&[String], f64),
) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64().filter(|x| x.is_finite()) {
                f(path, x);
            }
        }
        Value::Object(map) => {
            for (k, child) in map {
                path.push(k.clone());
                for_each_number(child, path, f);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                for_each_number(child, path, f);
                path.pop();
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// Parses one line that must hold a JSON object; invalid UTF-8 inside strings is replaced
/// rather than rejected.
pub(crate) fn parse_line(line: &[u8]) -> Option<Value> {
    let v = match serde_json::from_slice::<Value>(line) {
        Ok(v) => v,
        Err(_) if std::str::from_utf8(line).is_err() => {
            serde_json::from_str(&String::from_utf8_lossy(line)).ok()?
        }
        Err(_) => return None,
    };
    v.is_object().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn lookup_walks_objects_and_arrays() {
        let v: Value = serde_json::from_str(r#"{"a":{"b":[10,{"c":"x"}]},"n":null}"#).unwrap();
        assert_eq!(lookup(&v, &p("a.b.0")), Some(&Value::from(10)));
        assert_eq!(lookup(&v, &p("a.b.1.c")).and_then(text), Some("x".into()));
        assert_eq!(lookup(&v, &p("a.b.9")), None);
        assert_eq!(lookup(&v, &p("a.x")), None);
        assert_eq!(lookup(&v, &p("n")).and_then(text), None);
    }

    #[test]
    fn numeric_leaves_in_order() {
        let v: Value =
            serde_json::from_str(r#"{"z":1,"a":{"b":2.5,"s":"no","t":true},"l":[3,[4]]}"#).unwrap();
        let mut seen = Vec::new();
        for_each_number(&v, &mut Vec::new(), &mut |path, x| {
            seen.push((path.join("."), x))
        });
        assert_eq!(
            seen,
            vec![
                ("z".into(), 1.0),
                ("a.b".into(), 2.5),
                ("l.0".into(), 3.0),
                ("l.1.0".into(), 4.0)
            ]
        );
    }

    #[test]
    fn globs() {
        let g = Glob::new("a.*.c").unwrap();
        assert!(g.matches(&p("a.b.c")));
        assert!(!g.matches(&p("a.c")));
        let g = Glob::new("a.**").unwrap();
        assert!(g.matches(&p("a")));
        assert!(g.matches(&p("a.b.c")));
        assert!(!g.matches(&p("b.a")));
        let g = Glob::new("**.ms").unwrap();
        assert!(g.matches(&p("ms")));
        assert!(g.matches(&p("x.y.ms")));
        assert!(!g.matches(&p("x.ms.y")));
        assert!(Glob::new("a.b*").is_err());
        assert!(Glob::new("a..b").is_err());
    }

    #[test]
    fn invalid_utf8_in_a_string_is_replaced() {
        let v = parse_line(b"{\"u\":\"a\xffb\",\"n\":1}").unwrap();
        assert_eq!(v["u"], Value::from("a\u{fffd}b"));
        assert!(parse_line(b"{\"u\":").is_none());
        assert!(parse_line(b"not json").is_none());
        assert!(parse_line(b"[1, 2]").is_none());
    }
}
