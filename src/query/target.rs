//! The render target grammar, as graphite-web parses it (`render/grammar_unsafe.py`):
//!
//! ```text
//! target     := expression EOF
//! expression := (call | path) ( '|' call )*          a.b | f(x)  ≡  f(a.b, x)
//! call       := name '(' [ arg (',' arg)* ] [ kwarg (',' kwarg)* ] ')'
//! arg        := bool | number | none | inf | string | expression
//! kwarg      := name '=' arg
//! path       := printable characters except (){},.'"\| and space, joined by '.', with
//!               globs * ? [..] {a,b} (a brace list may hold commas), '\x' escapes one of
//!               those characters; `;tag=value` and tally's `:view` suffix are path characters
//! ```
//!
//! Numbers are ints (`-3`), floats (`2.5`) or scientific (`1e3`), and only count as numbers
//! when a `,` or `)` (or the end) follows, as in graphite; otherwise the text is a path
//! (`10s.count`). Quoted strings keep their backslashes (`"\1 A"` reaches `aliasSub` as `\1 A`,
//! a backreference), again as graphite does. Errors say where: `at char N`.

use std::fmt;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A path expression (glob, tagged name, `:view` suffix), escapes resolved.
    Path(String),
    Call(Call),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    /// Series already evaluated, held by the evaluator (`reduceSeries` calls its reduce
    /// function with them). Never produced by the parser.
    Bound(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Expr>,
    pub kwargs: Vec<(String, Expr)>,
    /// The call's text as written, kept for `seriesByTag` only: graphite-web names its series'
    /// path expression with it (`seriesByTag('a=b', 'c=d')`, spaces and quotes as given).
    pub raw: Option<String>,
}

/// A malformed target: what was expected and where (0-based character offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at char {pos}")]
pub struct Error {
    pub what: String,
    pub pos: usize,
}

/// Nesting deeper than this is refused (protects the stack from `f(f(f(…)))`).
pub const MAX_DEPTH: usize = 64;

const SYMBOLS: &str = "(){},.'\"\\|";

pub fn parse(target: &str) -> Result<Expr, Error> {
    let mut p = Parser {
        chars: target.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let expr = p.expression()?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(p.error(format!("unexpected {:?}", p.chars[p.pos])));
    }
    Ok(expr)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn error(&self, what: impl Into<String>) -> Error {
        Error {
            what: what.into(),
            pos: self.pos,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expression(&mut self) -> Result<Expr, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH}")));
        }
        let mut expr = self.call_or_path()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.peek() != Some('|') {
                self.pos = save;
                break;
            }
            self.pos += 1;
            self.skip_ws();
            let start = self.pos;
            let Expr::Call(mut call) = self.call_or_path()? else {
                self.pos = start;
                return Err(self.error("expected a function call after '|'"));
            };
            call.args.insert(0, expr);
            expr = Expr::Call(call);
        }
        self.depth -= 1;
        Ok(expr)
    }

    fn ident_at(&self, at: usize) -> usize {
        let mut end = at;
        while let Some(&c) = self.chars.get(end) {
            let ok = c == '_' || c.is_ascii_alphabetic() || (end > at && c.is_ascii_digit());
            if !ok {
                break;
            }
            end += 1;
        }
        end
    }

    fn call_or_path(&mut self) -> Result<Expr, Error> {
        let end = self.ident_at(self.pos);
        if end > self.pos && self.chars.get(end) == Some(&'(') {
            let start = self.pos;
            let name: String = self.chars[start..end].iter().collect();
            self.pos = end + 1;
            let mut call = self.call_rest(name)?;
            if call.name == "seriesByTag" {
                call.raw = Some(self.chars[start..self.pos].iter().collect());
            }
            return Ok(Expr::Call(call));
        }
        self.path().map(Expr::Path)
    }

    fn call_rest(&mut self, name: String) -> Result<Call, Error> {
        let mut call = Call {
            name,
            args: Vec::new(),
            kwargs: Vec::new(),
            raw: None,
        };
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(call);
        }
        loop {
            self.skip_ws();
            // name '=' → a keyword argument (graphite's lookahead `~kwarg + arg`).
            let end = self.ident_at(self.pos);
            let mut after = end;
            while self.chars.get(after).is_some_and(|c| c.is_whitespace()) {
                after += 1;
            }
            if end > self.pos && self.chars.get(after) == Some(&'=') {
                let key: String = self.chars[self.pos..end].iter().collect();
                self.pos = after + 1;
                self.skip_ws();
                let value = self.arg()?;
                call.kwargs.push((key, value));
            } else {
                if !call.kwargs.is_empty() {
                    return Err(self.error("positional argument after a keyword argument"));
                }
                let value = self.arg()?;
                call.args.push(value);
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(call);
                }
                Some(c) => return Err(self.error(format!("expected ',' or ')', found {c:?}"))),
                None => return Err(self.error("expected ')', found end of text")),
            }
        }
    }

    /// True if a `,` or `)` (or the end) follows position `at`, whitespace skipped.
    fn ends_arg(&self, mut at: usize) -> bool {
        while self.chars.get(at).is_some_and(|c| c.is_whitespace()) {
            at += 1;
        }
        matches!(self.chars.get(at), None | Some(',' | ')'))
    }

    fn arg(&mut self) -> Result<Expr, Error> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => return self.string(q).map(Expr::Str),
            None => return Err(self.error("expected an argument, found end of text")),
            Some(')' | ',') => return Err(self.error("expected an argument")),
            _ => {}
        }
        if let Some((value, end)) = self.number() {
            self.pos = end;
            return Ok(value);
        }
        let end = self.ident_at(self.pos);
        if end > self.pos && self.ends_arg(end) {
            let word: String = self.chars[self.pos..end].iter().collect();
            let keyword = match word.to_ascii_lowercase().as_str() {
                "true" => Some(Expr::Bool(true)),
                "false" => Some(Expr::Bool(false)),
                "none" => Some(Expr::None),
                "inf" => Some(Expr::Float(f64::INFINITY)),
                _ => None,
            };
            if let Some(k) = keyword {
                self.pos = end;
                return Ok(k);
            }
        }
        self.expression()
    }

    /// `-?\d+`, `-?\d+\.\d+`, either followed by `e-?\d+`, then `,` or `)` or the end.
    fn number(&self) -> Option<(Expr, usize)> {
        let c = &self.chars;
        let mut i = self.pos;
        if c.get(i) == Some(&'-') {
            i += 1;
        }
        let digits = |mut i: usize| {
            let s = i;
            while c.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            (i > s).then_some(i)
        };
        i = digits(i)?;
        let mut float = false;
        if c.get(i) == Some(&'.')
            && let Some(j) = digits(i + 1)
        {
            i = j;
            float = true;
        }
        if matches!(c.get(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if c.get(j) == Some(&'-') {
                j += 1;
            }
            if let Some(j) = digits(j) {
                i = j;
                float = true;
            }
        }
        if !self.ends_arg(i) {
            return None;
        }
        let text: String = c[self.pos..i].iter().collect();
        let expr = if float {
            Expr::Float(text.parse().ok()?)
        } else {
            match text.parse::<i64>() {
                Ok(n) => Expr::Int(n),
                Err(_) => Expr::Float(text.parse().ok()?),
            }
        };
        Some((expr, i))
    }

    /// A quoted string, its content taken raw (backslashes kept, the escaped quote included;
    /// a doubled quote, `'it''s'`, is kept doubled, as graphite's pyparsing grammar keeps it).
    fn string(&mut self, quote: char) -> Result<String, Error> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == quote && self.peek() == Some(quote) {
                out.extend([quote, quote]);
                self.pos += 1;
                continue;
            }
            if c == quote {
                return Ok(out);
            }
            out.push(c);
            if c == '\\'
                && let Some(next) = self.peek()
            {
                out.push(next);
                self.pos += 1;
            }
        }
        self.pos = start;
        Err(self.error("unterminated string"))
    }

    fn path(&mut self) -> Result<String, Error> {
        let start = self.pos;
        let mut out = String::new();
        let mut braces = 0usize;
        let mut node_empty = true;
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    let Some(next) = self.chars.get(self.pos + 1).copied() else {
                        return Err(self.error("a '\\' at the end of a path escapes nothing"));
                    };
                    if !(SYMBOLS.contains(next) || next == '=') {
                        return Err(self.error(format!("'\\{next}' is not an escape")));
                    }
                    out.push(next);
                    self.pos += 2;
                    node_empty = false;
                    continue;
                }
                '{' => braces += 1,
                '}' if braces > 0 => braces -= 1,
                ',' if braces > 0 => {}
                '.' if braces == 0 => {
                    if node_empty {
                        return Err(self.error("empty path node"));
                    }
                    out.push(c);
                    self.pos += 1;
                    node_empty = true;
                    continue;
                }
                c if c.is_whitespace() || c.is_control() => break,
                c if SYMBOLS.contains(c) => break,
                _ => {}
            }
            out.push(c);
            self.pos += 1;
            node_empty = false;
        }
        if braces > 0 {
            return Err(self.error("unbalanced '{' in path"));
        }
        if self.pos == start {
            return Err(self.error(match self.peek() {
                Some(c) => format!("expected a path or function call, found {c:?}"),
                None => "expected a path or function call, found end of text".into(),
            }));
        }
        if node_empty {
            return Err(self.error("empty path node"));
        }
        Ok(out)
    }
}

impl fmt::Display for Expr {
    /// Graphite-style text of an argument, as output names print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Path(p) => f.write_str(p),
            Expr::Call(c) => {
                write!(f, "{}(", c.name)?;
                let mut first = true;
                for a in &c.args {
                    if !first {
                        f.write_str(",")?;
                    }
                    first = false;
                    write!(f, "{a}")?;
                }
                for (k, v) in &c.kwargs {
                    if !first {
                        f.write_str(",")?;
                    }
                    first = false;
                    write!(f, "{k}={v}")?;
                }
                f.write_str(")")
            }
            Expr::Str(s) => write!(f, "'{s}'"),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Float(v) => write!(f, "{v}"),
            Expr::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Expr::None => f.write_str("None"),
            Expr::Bound(i) => write!(f, "<series {i}>"),
        }
    }
}

impl Expr {
    /// Every path expression inside, in order (the data a target needs).
    pub fn paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Path(p) => out.push(p),
            Expr::Call(c) => {
                for a in c.args.iter().chain(c.kwargs.iter().map(|(_, v)| v)) {
                    a.collect_paths(out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
