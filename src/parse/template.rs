//! Templates over a rule's captures: `requests.{status:class}`, `deploy {version}`.
//!
//! `{name}` is a capture (a named group of a regex rule, a dotted path of a JSON rule), `{line}`
//! the whole line, `{path}` a JSON leaf's path (in `fields:` only). Filters follow a colon and
//! chain: `{status:class}` (`200` → `2xx`), `{method:lower}`, `{code:upper}`. `{{` and `}}`
//! are literal braces. In series names and tags, captured text is made into a path node with
//! [`metric::sanitize_node`](crate::metric::sanitize_node) (a JSON `{path}` keeps its dots).

use memchr::memchr;
use regex::bytes::CaptureLocations;
use std::borrow::Cow;

/// Where a template variable takes its text from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Var {
    Line,
    /// A regex capture group, by index.
    Group(usize),
    /// A JSON rule's path, by index into the rule's path table.
    Json(usize),
    /// The path of the JSON leaf a `fields:` entry is looking at.
    Path,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    Class,
    Lower,
    Upper,
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Var(Var, Vec<Filter>),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

/// The text a line offers to templates.
pub(crate) struct Vars<'a> {
    pub line: &'a [u8],
    pub groups: Option<&'a CaptureLocations>,
    pub json: &'a [Option<String>],
    /// The sanitized dotted path of the current JSON leaf.
    pub path: &'a str,
}

impl<'a> Vars<'a> {
    /// The variable's text, or None when it did not take part in this match.
    #[inline]
    pub fn get(&self, v: Var) -> Option<&'a [u8]> {
        match v {
            Var::Line => Some(self.line),
            Var::Group(i) => {
                let (s, e) = self.groups?.get(i)?;
                Some(&self.line[s..e])
            }
            Var::Json(i) => self.json.get(i)?.as_deref().map(str::as_bytes),
            Var::Path => Some(self.path.as_bytes()),
        }
    }
}

impl Template {
    /// Parses `text`, asking `resolve` what each variable name refers to.
    pub fn parse(
        text: &str,
        resolve: &mut dyn FnMut(&str) -> Result<Var, String>,
    ) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            let b = rest.as_bytes()[0];
            if b == b'{' && rest.as_bytes().get(1) == Some(&b'{') {
                lit.push('{');
                rest = &rest[2..];
            } else if b == b'}' && rest.as_bytes().get(1) == Some(&b'}') {
                lit.push('}');
                rest = &rest[2..];
            } else if b == b'}' {
                return Err(format!("lone `}}` in {text:?} (write `}}}}` for a brace)"));
            } else if b == b'{' {
                let Some(end) = memchr(b'}', rest.as_bytes()) else {
                    return Err(format!("unclosed `{{` in {text:?}"));
                };
                let inner = &rest[1..end];
                let mut pieces = inner.split(':');
                let name = pieces.next().unwrap_or_default().trim();
                if name.is_empty() || name.contains('{') {
                    return Err(format!("empty or malformed `{{{inner}}}` in {text:?}"));
                }
                let var = resolve(name)?;
                let filters = pieces
                    .map(|f| match f.trim() {
                        "class" => Ok(Filter::Class),
                        "lower" => Ok(Filter::Lower),
                        "upper" => Ok(Filter::Upper),
                        other => Err(format!(
                            "unknown filter {other:?} in `{{{inner}}}` (known: class, lower, upper)"
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var(var, filters));
                rest = &rest[end + 1..];
            } else {
                let next = rest.find(['{', '}']).unwrap_or(rest.len());
                lit.push_str(&rest[..next]);
                rest = &rest[next..];
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    pub fn literal_text(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Lit(s) => Some(s.as_str()),
            Part::Var(..) => None,
        })
    }

    /// The text of a template without variables.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// Renders with every variable replaced by `fill` (for checks at load time and for the
    /// overflow name).
    pub fn render_filled(&self, fill: &str) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(..) => out.push_str(fill),
            }
        }
        out
    }

    /// Renders a series name or tag into `out`: captured text sanitized into a node. False
    /// when a variable did not take part in the match (the metric is then skipped).
    #[inline]
    pub fn render_name(&self, vars: &Vars<'_>, out: &mut String) -> bool {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v, filters) => {
                    let Some(raw) = vars.get(*v) else {
                        return false;
                    };
                    if *v == Var::Path {
                        // Already sanitized node by node; keeps its dots.
                        push_filtered(&String::from_utf8_lossy(raw), filters, out, false);
                    } else if filters.is_empty() && raw.iter().all(|&b| is_plain_node_byte(b)) {
                        // sanitize_node would keep every byte: skip the allocation.
                        out.push_str(std::str::from_utf8(raw).unwrap_or_default());
                    } else {
                        push_filtered(&String::from_utf8_lossy(raw), filters, out, true);
                    }
                }
            }
        }
        true
    }

    /// Renders free text (an event's `what` or `data`): captures as they are (invalid UTF-8
    /// replaced), a variable that did not take part as nothing.
    pub fn render_text(&self, vars: &Vars<'_>, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v, filters) => {
                    if let Some(raw) = vars.get(*v) {
                        push_filtered(&String::from_utf8_lossy(raw), filters, out, false);
                    }
                }
            }
        }
    }
}

/// Bytes [`crate::metric::sanitize_node`] keeps as they are.
#[inline]
fn is_plain_node_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'#' | b'@' | b'%' | b'+')
}

fn push_filtered(text: &str, filters: &[Filter], out: &mut String, sanitize: bool) {
    // The common `{status:class}`: no allocation.
    if let [Filter::Class] = filters
        && let Some(c) = text.chars().next()
        && (!sanitize || (c.is_ascii() && is_plain_node_byte(c as u8)))
    {
        out.push(c);
        out.push_str("xx");
        return;
    }
    let mut s = Cow::Borrowed(text);
    for f in filters {
        s = Cow::Owned(match f {
            Filter::Class => match s.chars().next() {
                Some(c) => format!("{c}xx"),
                None => String::new(),
            },
            Filter::Lower => s.to_lowercase(),
            Filter::Upper => s.to_uppercase(),
        });
    }
    if sanitize && !s.bytes().all(is_plain_node_byte) {
        out.push_str(&crate::metric::sanitize_node(&s));
    } else {
        out.push_str(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::Regex;

    fn compile(text: &str, re: &Regex) -> Result<Template, String> {
        Template::parse(text, &mut |name| {
            if name == "line" {
                return Ok(Var::Line);
            }
            re.capture_names()
                .position(|n| n == Some(name))
                .map(Var::Group)
                .ok_or_else(|| format!("no capture {name:?}"))
        })
    }

    fn render(text: &str, re: &str, line: &[u8]) -> (Option<String>, String) {
        let re = Regex::new(re).unwrap();
        let t = compile(text, &re).unwrap();
        let mut locs = re.capture_locations();
        re.captures_read(&mut locs, line).unwrap();
        let vars = Vars {
            line,
            groups: Some(&locs),
            json: &[],
            path: "",
        };
        let mut name = String::new();
        let ok = t.render_name(&vars, &mut name);
        let mut text = String::new();
        t.render_text(&vars, &mut text);
        (ok.then_some(name), text)
    }

    #[test]
    fn captures_filters_and_escapes() {
        let re = r"(?P<status>\d+) (?P<method>\w+)(?: (?P<opt>x))?";
        let (name, _) = render("req.{status:class}.{method:lower}", re, b"404 GET");
        assert_eq!(name.as_deref(), Some("req.4xx.get"));
        let (name, _) = render("m;method={method:upper}", re, b"200 post");
        assert_eq!(name.as_deref(), Some("m;method=POST"));
        let (_, text) = render("{{literal}} {status} {line}", re, b"200 GET");
        assert_eq!(text, "{literal} 200 200 GET");
    }

    #[test]
    fn names_are_sanitized_text_is_not() {
        let re = r"^(?P<who>.*)$";
        let (name, text) = render("u.{who}", re, b"John Smith/x.y");
        assert_eq!(name.as_deref(), Some("u.John_Smith-xy"));
        assert_eq!(text, "u.John Smith/x.y");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let re = r"(?-u)^(?P<who>\S+)";
        let (name, text) = render("u.{who}", re, b"ab\xffcd rest");
        assert_eq!(name.as_deref(), Some("u.abcd"));
        assert_eq!(text, "u.ab\u{fffd}cd");
    }

    #[test]
    fn a_missing_capture_skips_names_and_empties_text() {
        let re = r"(?P<status>\d+)(?: (?P<opt>x))?";
        let (name, text) = render("a.{opt}", re, b"200");
        assert_eq!(name, None);
        assert_eq!(text, "a.");
    }

    #[test]
    fn syntax_errors() {
        let re = Regex::new(r"(?P<a>x)").unwrap();
        for (t, want) in [
            ("a.{b}", "no capture"),
            ("a.{a", "unclosed"),
            ("a}b", "lone"),
            ("a.{}", "empty"),
            ("a.{a:bogus}", "unknown filter"),
        ] {
            let e = compile(t, &re).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
        }
        let t = compile("x.{a}.{line}", &re).unwrap();
        assert_eq!(t.render_filled("other"), "x.other.other");
    }
}
