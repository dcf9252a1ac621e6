//! The vocabulary every stage shares: series names, kinds and the [`Observation`] that inputs
//! hand to aggregation. No I/O, no clock.
//!
//! A series name is a Graphite dotted path, optionally tagged (`disk.used;dc=eu;rack=a1`). Tags
//! are kept sorted so that one series has exactly one spelling (the canonical form).

pub mod glob;

use std::fmt;
use std::sync::Arc;

/// Longest series name accepted, in bytes (carbon's own limit is similar).
pub const MAX_NAME_LEN: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("empty series name")]
    Empty,
    #[error("series name longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    #[error("series name contains {0:?}, which is not allowed")]
    BadChar(char),
    #[error("series name has an empty path node")]
    EmptyNode,
    #[error("tag {0:?} is not of the form key=value")]
    BadTag(String),
    #[error("unknown kind {0:?} (expected counter, gauge, timer or set)")]
    UnknownKind(String),
}

/// What an observation's value means, recorded with the series; it decides the default view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The value is an increment (a request, a byte count). Default view: `sumrate`.
    Counter,
    /// The value is a level (temperature, queue length). Default view: `avg`.
    Gauge,
    /// The value is one measurement of a distribution (a latency); kept in a sketch.
    Timer,
    /// The value identifies a member (see [`set_member`]); the view is the distinct count.
    Set,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Counter, Kind::Gauge, Kind::Timer, Kind::Set];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Timer => "timer",
            Kind::Set => "set",
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Kind::Counter => 0,
            Kind::Gauge => 1,
            Kind::Timer => 2,
            Kind::Set => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.get(code as usize).copied()
    }
}

impl std::str::FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Kind, Error> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownKind(s.to_string()))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated series name in canonical form. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Series(Arc<str>);

impl Series {
    /// Validates `name` and puts its tags in canonical (sorted) order.
    pub fn parse(name: &str) -> Result<Series, Error> {
        if name.is_empty() {
            return Err(Error::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(Error::TooLong);
        }
        let mut parts = name.split(';');
        let path = parts.next().unwrap_or_default();
        check_path(path)?;
        let mut tags: Vec<(&str, &str)> = Vec::new();
        for tag in parts {
            let (k, v) = tag
                .split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| Error::BadTag(tag.to_string()))?;
            // Graphite's rules: a tag has no `;!^=`, a value no `;` and no leading `~`.
            if let Some(c) = k
                .chars()
                .find(|&c| is_forbidden(c) || matches!(c, '=' | '!' | '^'))
            {
                return Err(Error::BadChar(c));
            }
            if let Some(c) = v.chars().find(|&c| is_forbidden(c)) {
                return Err(Error::BadChar(c));
            }
            if v.starts_with('~') {
                return Err(Error::BadChar('~'));
            }
            // `name` is the path itself in graphite: a `name` tag given is dropped.
            if k != "name" {
                tags.push((k, v));
            }
        }
        if tags.is_empty() {
            return Ok(Series(Arc::from(path)));
        }
        // The last value given for a key wins, as in carbon's and graphite-web's parsers: a
        // stable sort by key keeps the given order within a key, and dedup_by keeps the first
        // of a run, so the run is reversed first.
        tags.reverse();
        tags.sort_by_key(|&(k, _)| k);
        tags.dedup_by(|a, b| a.0 == b.0);
        let mut canonical = String::with_capacity(name.len());
        canonical.push_str(path);
        for (k, v) in tags {
            canonical.push(';');
            canonical.push_str(k);
            canonical.push('=');
            canonical.push_str(v);
        }
        Ok(Series(Arc::from(canonical)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The dotted path without tags.
    pub fn path(&self) -> &str {
        self.0.split(';').next().unwrap_or_default()
    }

    pub fn is_tagged(&self) -> bool {
        self.0.contains(';')
    }

    /// `(key, value)` pairs in canonical order, not including `name`.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.split(';').skip(1).filter_map(|t| t.split_once('='))
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl std::borrow::Borrow<str> for Series {
    fn borrow(&self) -> &str {
        &self.0
    }
}

fn is_forbidden(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == ';'
}

fn check_path(path: &str) -> Result<(), Error> {
    if path.is_empty() {
        return Err(Error::Empty);
    }
    for node in path.split('.') {
        if node.is_empty() {
            return Err(Error::EmptyNode);
        }
    }
    if let Some(c) = path
        .chars()
        .find(|&c| is_forbidden(c) || matches!(c, '(' | ')' | ',' | '"' | '\'' | '|' | '{' | '}'))
    {
        return Err(Error::BadChar(c));
    }
    Ok(())
}

/// Turns free text (a capture, a StatsD key) into one safe path node: whitespace becomes `_`,
/// `/` becomes `-`, and anything Graphite cannot hold in a node is dropped.
pub fn sanitize_node(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_whitespace() => out.push('_'),
            '/' => out.push('-'),
            c if c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '#' | '@' | '%' | '+') => {
                out.push(c)
            }
            _ => {}
        }
    }
    out
}

/// One thing that happened, as an input saw it. `time` is unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub series: Series,
    pub kind: Kind,
    /// An increment (counter), a level (gauge), a measurement (timer) or a member id (set).
    pub value: f64,
    pub time: i64,
}

/// A set member's identity as an observation value: 52 bits of a stable 64-bit hash, so the
/// value is an exact integer in an `f64`. Distinct counting works on these ids.
pub fn set_member(member: &[u8]) -> f64 {
    // FNV-1a, then a murmur3 finaliser to spread the bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in member {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h >> 12) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_sorted_into_canonical_form() {
        let s = Series::parse("disk.used;rack=a1;dc=eu").unwrap();
        assert_eq!(s.as_str(), "disk.used;dc=eu;rack=a1");
        assert_eq!(s.path(), "disk.used");
        assert_eq!(
            s.tags().collect::<Vec<_>>(),
            vec![("dc", "eu"), ("rack", "a1")]
        );
    }

    #[test]
    fn tags_follow_graphites_rules() {
        // The last value of a key wins, whatever the values' order (carbon, graphite-web).
        for (name, canonical) in [
            ("a;x=2;x=1", "a;x=1"),
            ("a;x=1;x=2", "a;x=2"),
            ("a;z=1;x=3;z=0;x=2", "a;x=2;z=0"),
        ] {
            assert_eq!(Series::parse(name).unwrap().as_str(), canonical, "{name}");
        }
        // A `name` tag is the path (carbon and graphite-web overwrite it).
        assert_eq!(Series::parse("a;name=b").unwrap().as_str(), "a");
        assert_eq!(Series::parse("a;z=1;name=b").unwrap().as_str(), "a;z=1");
        // `~` may not start a value; inside one it is an ordinary character.
        assert_eq!(Series::parse("a;k=v~w").unwrap().as_str(), "a;k=v~w");
        assert_eq!(Series::parse("a;k=~v"), Err(Error::BadChar('~')));
        // A tag may not hold `;!^=`.
        assert_eq!(Series::parse("a;k^=v"), Err(Error::BadChar('^')));
        assert_eq!(Series::parse("a;k!=v"), Err(Error::BadChar('!')));
    }

    #[test]
    fn bad_names_are_rejected_with_a_reason() {
        assert_eq!(Series::parse(""), Err(Error::Empty));
        assert_eq!(Series::parse("a..b"), Err(Error::EmptyNode));
        assert_eq!(Series::parse("a b"), Err(Error::BadChar(' ')));
        assert_eq!(Series::parse("a;dc"), Err(Error::BadTag("dc".into())));
        assert_eq!(Series::parse("a(b)"), Err(Error::BadChar('(')));
        assert_eq!(Series::parse(&"x".repeat(2000)), Err(Error::TooLong));
    }

    #[test]
    fn sanitize_makes_a_node() {
        assert_eq!(sanitize_node("GET /index.html"), "GET_-indexhtml");
        assert_eq!(sanitize_node("200"), "200");
    }

    #[test]
    fn set_members_are_exact_integers() {
        let a = set_member(b"alice");
        assert_eq!(a, a.trunc());
        assert!(a < 2f64.powi(52));
        assert_ne!(a, set_member(b"bob"));
    }
}
