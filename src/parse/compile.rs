//! Compiling a parser file into a [`Parser`]: regexes (without Unicode mode), templates, time
//! formats and units, with every problem collected (not just the first).

use super::file::{ParserFile, Problems, RuleFile, ValueFile};
use super::json::Glob;
use super::rule::{EventRule, FieldRule, Matcher, MetricRule, Rule, TimeSpec, ValueSrc};
use super::template::{Template, Var};
use super::time::{TimeFormat, Zone};
use super::{Parser, Problem};
use crate::metric::{Kind, Series};
use regex::bytes::{Regex, RegexBuilder, RegexSetBuilder};
use serde_saphyr::Spanned;

/// Distinct names a metric template may produce before the rest go to `other`.
pub const DEFAULT_MAX_VALUES: usize = 1000;
/// From this many regex rules on, a RegexSet picks the rules worth running.
const SET_THRESHOLD: usize = 4;

pub(super) fn compile(f: ParserFile, p: &mut Problems<'_>) -> Option<Parser> {
    p.rule = None;
    let before = p.list.len();
    let name = f.name.value.clone();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        p.at(
            &f.name,
            format!("parser name {name:?} must be letters, digits, `_` or `-`"),
        );
    }
    if f.rules.value.is_empty() {
        p.at(&f.rules, format!("parser {name:?} has no rules"));
    }
    let default_max = f
        .max_values
        .as_ref()
        .map_or(DEFAULT_MAX_VALUES, |m| m.value);
    let mut c = Compiler {
        warnings: Vec::new(),
        slots: 0,
        default_max,
    };
    let mut rules = Vec::new();
    for (i, r) in f.rules.value.into_iter().enumerate() {
        p.rule = Some(i);
        if let Some(rule) = c.rule(r, p) {
            rules.push(rule);
        }
    }
    p.rule = None;
    if p.list.len() > before {
        return None;
    }
    // A RegexSet over the regex rules, when there are enough of them to be worth it.
    let patterns: Vec<&str> = rules
        .iter()
        .filter_map(|r| match &r.matcher {
            Matcher::Regex(re) => Some(re.as_str()),
            Matcher::Json { .. } => None,
        })
        .collect();
    let set = if patterns.len() >= SET_THRESHOLD {
        let set = RegexSetBuilder::new(&patterns).unicode(false).build().ok();
        if set.is_some() {
            let mut k = 0;
            for r in &mut rules {
                if let Matcher::Regex(_) = r.matcher {
                    r.set_index = Some(k);
                    k += 1;
                }
            }
        }
        set
    } else {
        None
    };
    Some(Parser {
        name,
        source: p.file.to_path_buf(),
        warnings: c.warnings,
        rules: std::sync::Arc::new(rules),
        set,
        slots: c.slots,
    })
}

struct Compiler {
    warnings: Vec<Problem>,
    slots: usize,
    default_max: usize,
}

/// Regexes are compiled without Unicode mode, so classes like `[^"]`, `\S` and `.` match any
/// byte and lines with invalid UTF-8 still match; `(?u:…)` turns Unicode back on locally.
fn build_regex(
    s: &Spanned<String>,
    what: &str,
    p: &mut Problems<'_>,
    warn: &mut Vec<Problem>,
) -> Option<Regex> {
    if let Some(why) = dot_star(&s.value) {
        warn.push(p.make(s, format!("{what} {:?}: {why}", s.value)));
    }
    match RegexBuilder::new(&s.value).unicode(false).build() {
        Ok(re) => Some(re),
        Err(e) => {
            p.at(s, format!("bad {what}: {e}"));
            None
        }
    }
}

/// Why a leading or trailing `.*` should go, if the pattern has one.
pub(crate) fn dot_star(pattern: &str) -> Option<&'static str> {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    if body.starts_with(".*") {
        return Some(
            "a leading `.*` is not needed (patterns match anywhere in the line) and makes \
             matching several times slower; remove it",
        );
    }
    let tail = pattern.strip_suffix('$').unwrap_or(pattern);
    let tail = tail.strip_suffix('?').unwrap_or(tail);
    if let Some(before) = tail.strip_suffix(".*") {
        let escapes = before.bytes().rev().take_while(|&b| b == b'\\').count();
        if escapes % 2 == 0 {
            return Some(
                "a trailing `.*` is not needed (a match need not reach the end of the line) and \
                 makes captures several times slower; remove it",
            );
        }
    }
    None
}

fn unit_scale(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" => 1000.0,
        "ms" => 1.0,
        "us" | "µs" => 0.001,
        "ns" => 0.000_001,
        _ => return None,
    })
}

impl Compiler {
    fn rule(&mut self, r: Spanned<RuleFile>, p: &mut Problems<'_>) -> Option<Rule> {
        let before = p.list.len();
        let Spanned {
            value: f,
            referenced: at,
            ..
        } = r;
        let json = f.json.as_ref().is_some_and(|j| j.value);
        let matcher = match (&f.regex, json) {
            (Some(re), false) => {
                build_regex(re, "regex", p, &mut self.warnings).map(Matcher::Regex)
            }
            (None, true) => Some(Matcher::Json { paths: Vec::new() }),
            (Some(_), true) => {
                p.list
                    .push(p.make_at(at, "a rule has either `regex:` or `json: true`, not both"));
                None
            }
            (None, false) => {
                p.list
                    .push(p.make_at(at, "a rule needs `regex:` (or `json: true` for JSON lines)"));
                None
            }
        };
        let prefilter = f
            .prefilter
            .as_ref()
            .and_then(|s| build_regex(s, "match", p, &mut self.warnings));
        let exclude = f
            .exclude
            .as_ref()
            .and_then(|s| build_regex(s, "exclude", p, &mut self.warnings));
        let mut matcher = matcher?;
        if !json && !f.fields.is_empty() {
            p.at(&f.fields[0], "`fields:` is for JSON rules (`json: true`)");
        }
        if f.metrics.is_empty() && f.events.is_empty() && f.fields.is_empty() {
            self.warnings
                .push(p.make_at(at, "rule has no metrics, events or fields"));
        }
        let time = f.time.map(|t| {
            let t = t.value;
            let var = resolve(&mut matcher, &t.capture.value, false);
            let var = var.map_err(|e| p.at(&t.capture, e)).ok();
            let formats: Vec<&str> = t.format.value.0.iter().map(String::as_str).collect();
            let format = TimeFormat::compile_all(&formats)
                .map_err(|e| p.at(&t.format, e))
                .ok();
            let zone = match &t.timezone {
                None => Zone::Local,
                Some(z) => Zone::parse(&z.value)
                    .map_err(|e| p.at(z, e))
                    .unwrap_or(Zone::Local),
            };
            (var, format, zone)
        });
        let mut metrics = Vec::new();
        for m in f.metrics {
            let m = m.value;
            let value = m.value.as_ref().map(|v| (v, &v.value));
            if let Some(metric) = self.metric(
                &mut matcher,
                &m.name,
                &m.kind,
                value,
                &m.unit,
                &m.max_values,
                false,
                p,
            ) {
                metrics.push(metric);
            }
        }
        let mut fields = Vec::new();
        for fl in f.fields {
            let fl = fl.value;
            let glob = Glob::new(&fl.path.value)
                .map_err(|e| p.at(&fl.path, e))
                .ok();
            let except: Vec<Glob> = fl
                .except
                .iter()
                .filter_map(|g| Glob::new(&g.value).map_err(|e| p.at(g, e)).ok())
                .collect();
            let name = fl.name.unwrap_or_else(|| Spanned {
                value: "{path}".to_string(),
                referenced: fl.path.referenced,
                defined: fl.path.defined,
            });
            if let Ok(Kind::Set) = fl.kind.value.parse() {
                p.at(&fl.kind, "fields are numbers: use counter, gauge or timer");
            }
            let metric = self.metric(
                &mut matcher,
                &name,
                &fl.kind,
                None,
                &fl.unit,
                &fl.max_values,
                true,
                p,
            );
            if let (Some(glob), Some(mut metric)) = (glob, metric) {
                metric.value = ValueSrc::One; // the leaf's value is used
                fields.push(FieldRule {
                    glob,
                    except,
                    metric,
                });
            }
        }
        let mut events = Vec::new();
        for e in f.events {
            let e = e.value;
            let what = self.template(&mut matcher, &e.what, false, p);
            let data = match &e.data {
                Some(d) => self.template(&mut matcher, d, false, p),
                None => Some(Template::default()),
            };
            let mut tags = Vec::new();
            for t in &e.tags {
                if t.value.is_empty() || t.value.contains([' ', ',', '\t']) {
                    p.at(
                        t,
                        format!("tag {:?} must be one word (no spaces or commas)", t.value),
                    );
                }
                tags.extend(self.template(&mut matcher, t, false, p));
            }
            if let (Some(what), Some(data)) = (what, data) {
                events.push(EventRule { what, tags, data });
            }
        }
        if p.list.len() > before {
            return None;
        }
        let time = match time {
            Some((Some(var), Some(format), zone)) => Some(TimeSpec { var, format, zone }),
            _ => None,
        };
        Some(Rule {
            matcher,
            prefilter,
            exclude,
            time,
            metrics,
            events,
            fields,
            set_index: None,
        })
    }

    fn template(
        &mut self,
        matcher: &mut Matcher,
        s: &Spanned<String>,
        fields: bool,
        p: &mut Problems<'_>,
    ) -> Option<Template> {
        Template::parse(&s.value, &mut |name| resolve(matcher, name, fields))
            .map_err(|e| p.at(s, e))
            .ok()
    }

    #[allow(clippy::too_many_arguments)]
    fn metric(
        &mut self,
        matcher: &mut Matcher,
        name: &Spanned<String>,
        kind: &Spanned<String>,
        value: Option<(&Spanned<ValueFile>, &ValueFile)>,
        unit: &Option<Spanned<String>>,
        max_values: &Option<Spanned<usize>>,
        fields: bool,
        p: &mut Problems<'_>,
    ) -> Option<MetricRule> {
        let before = p.list.len();
        let template = self.template(matcher, name, fields, p);
        if let Some(t) = &template {
            let filled = t.render_filled("x");
            if let Err(e) = Series::parse(&filled) {
                p.at(
                    name,
                    format!(
                        "metric name {:?} is not a valid series name: {e}",
                        name.value
                    ),
                );
            }
            if t.literal_text().any(|l| l.contains(char::is_whitespace)) {
                p.at(name, "metric names cannot contain spaces");
            }
        }
        let kind_v: Option<Kind> = kind.value.parse().map_err(|e| p.at(kind, e)).ok();
        let value = match value {
            None => ValueSrc::One,
            Some((_, ValueFile::Number(n))) => ValueSrc::Const(*n),
            Some((s, ValueFile::Name(v))) => {
                let v = v.trim();
                let v = v
                    .strip_prefix('{')
                    .and_then(|v| v.strip_suffix('}'))
                    .unwrap_or(v);
                match resolve(matcher, v, fields) {
                    Ok(var) => ValueSrc::Var(var),
                    Err(e) => {
                        p.at(s, e);
                        ValueSrc::One
                    }
                }
            }
        };
        if let Some(k) = kind_v
            && !fields
        {
            match (k, value) {
                (Kind::Gauge | Kind::Timer | Kind::Set, ValueSrc::One) => {
                    p.at(kind, format!("a {k} needs `value:` (a capture)"))
                }
                (Kind::Set, ValueSrc::Const(_)) => p.at(kind, "a set's `value:` must be a capture"),
                _ => {}
            }
        }
        let scale = match unit {
            None => 1.0,
            Some(_) if kind_v == Some(Kind::Set) => {
                p.at(kind, "a set has no unit");
                1.0
            }
            Some(u) => unit_scale(&u.value).unwrap_or_else(|| {
                p.at(
                    u,
                    format!("unknown unit {:?} (s, ms, us or ns; stored in ms)", u.value),
                );
                1.0
            }),
        };
        let max_values = max_values.as_ref().map_or(self.default_max, |m| m.value);
        if p.list.len() > before {
            return None;
        }
        let template = template?;
        let overflow = template.render_filled("other");
        self.slots += 1;
        Some(MetricRule {
            name: template,
            kind: kind_v?,
            value,
            scale,
            max_values,
            slot: self.slots - 1,
            overflow,
        })
    }
}

/// What a variable name refers to in a rule.
fn resolve(matcher: &mut Matcher, name: &str, fields: bool) -> Result<Var, String> {
    match matcher {
        Matcher::Regex(re) => {
            if let Some(i) = re.capture_names().position(|n| n == Some(name)) {
                return Ok(Var::Group(i));
            }
            if name == "line" {
                return Ok(Var::Line);
            }
            let names: Vec<&str> = re.capture_names().flatten().collect();
            Err(format!(
                "no capture named {name:?} in the regex (it has: {}; and {{line}})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        }
        Matcher::Json { paths } => {
            if name == "line" {
                return Ok(Var::Line);
            }
            if name == "path" && fields {
                return Ok(Var::Path);
            }
            let path: Vec<String> = name.split('.').map(String::from).collect();
            if path.iter().any(String::is_empty) {
                return Err(format!("JSON path {name:?} has an empty node"));
            }
            let i = paths.iter().position(|p| *p == path).unwrap_or_else(|| {
                paths.push(path);
                paths.len() - 1
            });
            Ok(Var::Json(i))
        }
    }
}
