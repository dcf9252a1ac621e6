//! Graphite globs over dotted paths: `*`, `?`, `[a-z]`, `[!a]`, `{a,b}` inside one node.
//! Wildcards never cross a `.`. Each node compiles to the cheapest matcher that fits it, so the
//! common cases (`literal`, `*`, `prefix*`) need no regex at all.

use regex::Regex;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("empty pattern")]
    Empty,
    #[error("unbalanced {0:?} in pattern {1:?}")]
    Unbalanced(char, String),
    #[error("pattern {0:?} is too complex: {1}")]
    Regex(String, String),
}

/// How one node of a glob matches one node of a path.
#[derive(Debug, Clone)]
pub enum Node {
    Literal(String),
    /// `*`
    Any,
    /// `abc*`
    Prefix(String),
    Regex(Regex),
}

impl Node {
    pub fn matches(&self, node: &str) -> bool {
        match self {
            Node::Literal(l) => l == node,
            Node::Any => true,
            Node::Prefix(p) => node.starts_with(p.as_str()),
            Node::Regex(r) => r.is_match(node),
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, Node::Literal(_))
    }
}

/// A compiled Graphite glob, one [`Node`] per dotted node.
#[derive(Debug, Clone)]
pub struct Glob {
    pub nodes: Vec<Node>,
}

/// True when `s` contains any glob syntax.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

impl Glob {
    pub fn parse(pattern: &str) -> Result<Glob, Error> {
        if pattern.is_empty() {
            return Err(Error::Empty);
        }
        let nodes = split_nodes(pattern)?
            .into_iter()
            .map(|n| compile_node(n, pattern))
            .collect::<Result<_, _>>()?;
        Ok(Glob { nodes })
    }

    /// Whether a whole dotted path matches (same number of nodes, each matching).
    pub fn matches(&self, path: &str) -> bool {
        let mut parts = path.split('.');
        for node in &self.nodes {
            match parts.next() {
                Some(p) if node.matches(p) => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }
}

/// Splits on `.` outside of `{}` and `[]`.
fn split_nodes(pattern: &str) -> Result<Vec<&str>, Error> {
    let mut nodes = Vec::new();
    let (mut depth_brace, mut in_class, mut start) = (0usize, false, 0usize);
    for (i, c) in pattern.char_indices() {
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => depth_brace += 1,
            '}' if !in_class => {
                depth_brace = depth_brace
                    .checked_sub(1)
                    .ok_or_else(|| Error::Unbalanced('}', pattern.to_string()))?
            }
            '.' if !in_class && depth_brace == 0 => {
                nodes.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_class {
        return Err(Error::Unbalanced('[', pattern.to_string()));
    }
    if depth_brace > 0 {
        return Err(Error::Unbalanced('{', pattern.to_string()));
    }
    nodes.push(&pattern[start..]);
    Ok(nodes)
}

fn compile_node(node: &str, pattern: &str) -> Result<Node, Error> {
    if !has_wildcard(node) {
        return Ok(Node::Literal(node.to_string()));
    }
    if node == "*" {
        return Ok(Node::Any);
    }
    if let Some(prefix) = node.strip_suffix('*')
        && !has_wildcard(prefix)
    {
        return Ok(Node::Prefix(prefix.to_string()));
    }
    let mut re = String::with_capacity(node.len() * 2 + 8);
    re.push_str("^(?:");
    translate(node, &mut re);
    re.push_str(")$");
    Regex::new(&re)
        .map(Node::Regex)
        .map_err(|e| Error::Regex(pattern.to_string(), e.to_string()))
}

fn translate(node: &str, re: &mut String) {
    let mut chars = node.chars().peekable();
    let mut brace_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if matches!(c, '\\' | '[' | '&' | '~' | '^') {
                        re.push('\\');
                    }
                    re.push(c);
                }
                re.push(']');
            }
            '{' => {
                brace_depth += 1;
                re.push_str("(?:");
            }
            ',' if brace_depth > 0 => re.push('|'),
            '}' if brace_depth > 0 => {
                brace_depth -= 1;
                re.push(')');
            }
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        Glob::parse(p).unwrap().matches(path)
    }

    #[test]
    fn graphite_globs() {
        assert!(m("a.b.c", "a.b.c"));
        assert!(!m("a.b", "a.b.c"));
        assert!(m("a.*.c", "a.xyz.c"));
        assert!(!m("a.*", "a.b.c"), "wildcards never cross a dot");
        assert!(m("a.c*", "a.cpu"));
        assert!(m("a.?pu", "a.cpu"));
        assert!(m("a.{cpu,mem}", "a.mem"));
        assert!(!m("a.{cpu,mem}", "a.disk"));
        assert!(m("a.{cpu,mem*}.x", "a.memory.x"));
        assert!(m("a.[0-9]x", "a.5x"));
        assert!(!m("a.[!0-9]x", "a.5x"));
        assert!(m("a.b+c", "a.b+c"), "regex metacharacters are literal");
        assert!(m("web.{a.b,c}", "web.c"));
    }

    #[test]
    fn cheap_matchers_are_chosen() {
        let g = Glob::parse("a.*.pre*.{x,y}").unwrap();
        assert!(matches!(g.nodes[0], Node::Literal(_)));
        assert!(matches!(g.nodes[1], Node::Any));
        assert!(matches!(g.nodes[2], Node::Prefix(_)));
        assert!(matches!(g.nodes[3], Node::Regex(_)));
    }

    #[test]
    fn bad_globs_are_errors() {
        assert!(Glob::parse("a.{b").is_err());
        assert!(Glob::parse("a.[b").is_err());
        assert!(Glob::parse("a.b}").is_err());
        assert!(Glob::parse("").is_err());
    }
}
