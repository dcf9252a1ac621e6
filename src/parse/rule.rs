//! A compiled rule and what one matching line makes of it: observations and events, with the
//! per-template caches and caps that live in the caller's [`ParseState`](super::ParseState).

use super::json::Glob;
use super::template::{Template, Var, Vars};
use super::time::{TimeFormat, Zone, ZoneCache};
use super::{Counters, EventRecord, Output};
use crate::metric::{Kind, Observation, Series, set_member};
use regex::bytes::Regex;
use rustc_hash::FxHashMap;

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub matcher: Matcher,
    /// `match:` — the line must also match this.
    pub prefilter: Option<Regex>,
    /// `exclude:` — a line matching this is skipped by the rule.
    pub exclude: Option<Regex>,
    pub time: Option<TimeSpec>,
    pub metrics: Vec<MetricRule>,
    pub events: Vec<EventRule>,
    pub fields: Vec<FieldRule>,
    /// Position in the parser's RegexSet, when it has one.
    pub set_index: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Regex(Regex),
    /// The paths the rule's templates read, in `Var::Json` index order.
    Json {
        paths: Vec<Vec<String>>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct TimeSpec {
    pub var: Var,
    pub format: TimeFormat,
    pub zone: Zone,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueSrc {
    /// Counters without `value:` count the match.
    One,
    Const(f64),
    Var(Var),
}

#[derive(Debug, Clone)]
pub(crate) struct MetricRule {
    pub name: Template,
    pub kind: Kind,
    pub value: ValueSrc,
    /// Multiplier from the `unit:` to milliseconds (1 without a unit).
    pub scale: f64,
    pub max_values: usize,
    /// Index of this template's cache in the state.
    pub slot: usize,
    /// The name with every variable replaced by `other`.
    pub overflow: String,
}

#[derive(Debug, Clone)]
pub(crate) struct EventRule {
    pub what: Template,
    pub tags: Vec<Template>,
    pub data: Template,
}

/// `fields:` in a JSON rule: every numeric leaf whose path matches.
#[derive(Debug, Clone)]
pub(crate) struct FieldRule {
    pub glob: Glob,
    pub except: Vec<Glob>,
    pub metric: MetricRule,
}

/// One template's distinct names (the cap) and the series made of them.
#[derive(Debug, Default, Clone)]
struct Slot {
    names: FxHashMap<Box<str>, Option<Series>>,
    overflow: Option<Option<Series>>,
    /// The series of a template without variables (no rendering or hashing per line).
    fixed: Option<Option<Series>>,
}

/// The part of [`ParseState`](super::ParseState) that emitting needs.
#[derive(Debug, Default, Clone)]
pub(crate) struct Emit {
    pub counters: Counters,
    prefix: String,
    prefix_path: String,
    prefix_tags: String,
    slots: Vec<Slot>,
    buf: String,
    zones: ZoneCache,
    /// Per rule: the last time text, its day of reading, and what it gave.
    last_time: Vec<(Vec<u8>, i64, Option<i64>)>,
}

impl Emit {
    /// Sizes the caches for a parser and a prefix; a new prefix drops the cached series.
    pub fn prepare(&mut self, slots: usize, rules: usize, prefix: &str) {
        if self.slots.len() != slots {
            self.slots = vec![Slot::default(); slots];
        }
        if self.last_time.len() != rules {
            self.last_time = vec![(Vec::new(), 0, None); rules];
        }
        if self.prefix != prefix {
            self.prefix = prefix.to_string();
            let (path, tags) = prefix.split_once(';').unwrap_or((prefix, ""));
            self.prefix_path = path.trim_end_matches('.').to_string();
            self.prefix_tags = tags.to_string();
            for s in &mut self.slots {
                *s = Slot::default();
            }
        }
    }

    fn full_name(&self, rel: &str) -> String {
        let (path, tags) = rel.split_once(';').unwrap_or((rel, ""));
        let mut s = String::with_capacity(self.prefix.len() + rel.len() + 2);
        s.push_str(&self.prefix_path);
        if !s.is_empty() && !path.is_empty() {
            s.push('.');
        }
        s.push_str(path);
        for t in [self.prefix_tags.as_str(), tags] {
            if !t.is_empty() {
                s.push(';');
                s.push_str(t);
            }
        }
        s
    }

    /// The series a metric template gives for this line, under its cap.
    fn series(&mut self, m: &MetricRule, vars: &Vars<'_>) -> Option<Series> {
        if let Some(name) = m.name.as_literal() {
            if let Some(s) = &self.slots[m.slot].fixed {
                if s.is_none() {
                    self.counters.bad_names += 1;
                }
                return s.clone();
            }
            let s = self.series_named(m, name);
            self.slots[m.slot].fixed = Some(s.clone());
            return s;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let rendered = m.name.render_name(vars, &mut buf);
        let found = if rendered {
            Some(self.series_named(m, &buf))
        } else {
            None
        };
        self.buf = buf;
        found.flatten()
    }

    fn series_named(&mut self, m: &MetricRule, rel: &str) -> Option<Series> {
        if let Some(s) = self.slots[m.slot].names.get(rel) {
            if s.is_none() {
                self.counters.bad_names += 1;
            }
            return s.clone();
        }
        if self.slots[m.slot].names.len() >= m.max_values {
            self.counters.overflowed += 1;
            if self.slots[m.slot].overflow.is_none() {
                let s = Series::parse(&self.full_name(&m.overflow)).ok();
                self.slots[m.slot].overflow = Some(s);
            }
            return self.slots[m.slot].overflow.clone().flatten();
        }
        let s = Series::parse(&self.full_name(rel)).ok();
        if s.is_none() {
            self.counters.bad_names += 1;
        }
        self.slots[m.slot].names.insert(rel.into(), s.clone());
        s
    }

    /// The line's time for a rule: from its time capture, else the read time.
    fn when(
        &mut self,
        rule: usize,
        spec: &Option<TimeSpec>,
        vars: &Vars<'_>,
        read_time: i64,
    ) -> i64 {
        let Some(spec) = spec else {
            return read_time;
        };
        let Some(text) = vars.get(spec.var).filter(|t| !t.is_empty()) else {
            return read_time;
        };
        let day = read_time.div_euclid(86_400);
        let cached = &self.last_time[rule];
        let t = if cached.0 == text && cached.1 == day {
            cached.2
        } else {
            let t = spec
                .format
                .parse(text, &spec.zone, read_time, &mut self.zones);
            let c = &mut self.last_time[rule];
            c.0.clear();
            c.0.extend_from_slice(text);
            c.1 = day;
            c.2 = t;
            t
        };
        t.unwrap_or_else(|| {
            self.counters.time_failures += 1;
            read_time
        })
    }

    fn value(&mut self, m: &MetricRule, vars: &Vars<'_>) -> Option<f64> {
        let var = match m.value {
            ValueSrc::One => return Some(1.0),
            ValueSrc::Const(v) => return Some(v * m.scale),
            ValueSrc::Var(v) => v,
        };
        let text = vars.get(var).filter(|t| !t.is_empty() && *t != b"-")?;
        if m.kind == Kind::Set {
            return Some(set_member(text));
        }
        match parse_number(text) {
            Some(v) => Some(v * m.scale),
            None => {
                self.counters.bad_numbers += 1;
                None
            }
        }
    }

    fn metric(&mut self, m: &MetricRule, vars: &Vars<'_>, when: i64, out: &mut Output) {
        let Some(value) = self.value(m, vars) else {
            return;
        };
        if let Some(series) = self.series(m, vars) {
            out.observations.push(Observation {
                series,
                kind: m.kind,
                value,
                time: when,
            });
        }
    }
}

/// A number as logs write it: `12`, `-3.5`, `1e3`; not `inf` or `NaN`.
pub(crate) fn parse_number(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    let s = s.strip_prefix('+').unwrap_or(s);
    if !s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Everything a matched line produces for one rule.
pub(crate) fn emit(
    rule: &Rule,
    index: usize,
    vars: &Vars<'_>,
    json: Option<&serde_json::Value>,
    read_time: i64,
    st: &mut Emit,
    out: &mut Output,
) {
    let when = st.when(index, &rule.time, vars, read_time);
    for m in &rule.metrics {
        st.metric(m, vars, when, out);
    }
    if let Some(root) = json
        && !rule.fields.is_empty()
    {
        let mut path_text = String::new();
        super::json::for_each_number(root, &mut Vec::new(), &mut |path, x| {
            let Some(f) = rule
                .fields
                .iter()
                .find(|f| f.glob.matches(path) && !f.except.iter().any(|g| g.matches(path)))
            else {
                return;
            };
            path_text.clear();
            for (i, node) in path.iter().enumerate() {
                if i > 0 {
                    path_text.push('.');
                }
                path_text.push_str(&crate::metric::sanitize_node(node));
            }
            let leaf = Vars {
                path: &path_text,
                ..*vars
            };
            if let Some(series) = st.series(&f.metric, &leaf) {
                out.observations.push(Observation {
                    series,
                    kind: f.metric.kind,
                    value: x * f.metric.scale,
                    time: when,
                });
            }
        });
    }
    for e in &rule.events {
        let mut what = String::new();
        e.what.render_text(vars, &mut what);
        let mut data = String::new();
        e.data.render_text(vars, &mut data);
        let mut tags = Vec::with_capacity(e.tags.len());
        for t in &e.tags {
            let mut tag = String::new();
            if t.render_name(vars, &mut tag) && !tag.is_empty() {
                tags.push(tag);
            }
        }
        out.events.push(EventRecord {
            when,
            what,
            tags,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"12"), Some(12.0));
        assert_eq!(parse_number(b"+0.25"), Some(0.25));
        assert_eq!(parse_number(b"-3"), Some(-3.0));
        assert_eq!(parse_number(b"1e3"), Some(1000.0));
        assert_eq!(parse_number(b".5"), Some(0.5));
        for bad in [
            &b"inf"[..],
            b"NaN",
            b"infinity",
            b"1e999",
            b"12ms",
            b"",
            b"\xff",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefix_joins_paths_and_tags() {
        let mut e = Emit::default();
        e.prepare(0, 0, "web.h1;dc=eu");
        assert_eq!(e.full_name("req.2xx;m=GET"), "web.h1.req.2xx;dc=eu;m=GET");
        e.prepare(0, 0, "");
        assert_eq!(e.full_name("req"), "req");
        e.prepare(0, 0, "web.");
        assert_eq!(e.full_name("req"), "web.req");
    }
}
