//! `mappings:` of a remote_write output: Graphite paths to a metric name and labels, in the
//! spirit of graphite_exporter's glob mappings. `match` is a dotted glob: `*` inside a node
//! matches any characters but `.` and captures them; a `**` node matches one or more whole
//! nodes and captures them with their dots. `name` and each label value are templates over the
//! captures, `$1` … `$9` or `${12}` (`$$` is a `$`). The first rule that matches wins; a path
//! no rule matches is named as without rules. Without `mappings:` the default is one rule,
//! `servers.*.**` → name `$2`, `host: $1` (Diamond's `servers.<host>.…`); `mappings: []`
//! turns it off.

use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    #[serde(rename = "match")]
    pub pattern: Spanned<String>,
    pub name: Spanned<String>,
    pub labels: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub pattern: String,
    regex: Regex,
    pub name: String,
    /// `(label, template)`, sorted by label.
    pub labels: Vec<(String, String)>,
}

impl PartialEq for Mapping {
    fn eq(&self, other: &Mapping) -> bool {
        (&self.pattern, &self.name, &self.labels) == (&other.pattern, &other.name, &other.labels)
    }
}

/// The regex of a glob and its number of captures.
fn glob_regex(pattern: &str) -> Result<(Regex, usize), String> {
    if pattern.is_empty() || pattern.split('.').any(str::is_empty) {
        return Err("empty node (two dots, or a dot at an end)".into());
    }
    let mut re = String::from("^");
    let mut groups = 0;
    for (i, node) in pattern.split('.').enumerate() {
        if i > 0 {
            re.push_str("\\.");
        }
        if node == "**" {
            re.push_str("(.+)");
            groups += 1;
            continue;
        }
        if node.contains("**") {
            return Err(format!("node {node:?}: ** is a node of its own"));
        }
        for (j, part) in node.split('*').enumerate() {
            if j > 0 {
                re.push_str("([^.]*)");
                groups += 1;
            }
            re.push_str(&regex::escape(part));
        }
    }
    re.push('$');
    Regex::new(&re)
        .map(|r| (r, groups))
        .map_err(|e| e.to_string())
}

/// The highest capture a template refers to, or why it is malformed.
fn highest_ref(template: &str) -> Result<usize, String> {
    let mut max = 0;
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        let (digits, used) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').ok_or("unclosed ${")?;
            (&inner[..end], end + 2)
        } else if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
            continue;
        } else {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            (&after[..end.min(1)], end.min(1))
        };
        let n: usize = digits
            .parse()
            .map_err(|_| format!("{:?}: expected $1 … $9 or ${{n}}", &rest[at..]))?;
        if n == 0 {
            return Err("captures count from $1".into());
        }
        max = max.max(n);
        rest = &after[used..];
    }
    Ok(max)
}

fn expand(template: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (n, used) = match after.strip_prefix('{') {
            Some(inner) => {
                let end = inner.find('}').unwrap_or(inner.len());
                (inner[..end].parse::<usize>().unwrap_or(0), end + 2)
            }
            None => (after.get(..1).and_then(|d| d.parse().ok()).unwrap_or(0), 1),
        };
        out.push_str(caps.get(n).map_or("", |m| m.as_str()));
        rest = after.get(used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

impl Mapping {
    pub fn new(pattern: &str, name: &str, labels: &[(&str, &str)]) -> Result<Mapping, String> {
        let (regex, groups) = glob_regex(pattern).map_err(|e| format!("match {pattern:?}: {e}"))?;
        for t in std::iter::once(name).chain(labels.iter().map(|(_, v)| *v)) {
            let n = highest_ref(t).map_err(|e| format!("template {t:?}: {e}"))?;
            if n > groups {
                return Err(format!(
                    "template {t:?} refers to ${n}, but {pattern:?} captures {groups}"
                ));
            }
        }
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        Ok(Mapping {
            pattern: pattern.to_string(),
            regex,
            name: name.to_string(),
            labels,
        })
    }

    /// The default: Diamond's `servers.<host>.…` into `host=`.
    pub fn defaults() -> Vec<Mapping> {
        vec![Mapping::new("servers.*.**", "$2", &[("host", "$1")]).expect("a valid rule")]
    }

    /// `(name, labels)` for a path this rule matches. The name is not sanitized yet.
    pub fn apply(&self, path: &str) -> Option<(String, Vec<(String, String)>)> {
        let caps = self.regex.captures(path)?;
        let labels = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), expand(v, &caps)))
            .collect();
        Some((expand(&self.name, &caps), labels))
    }
}

/// The first rule that matches.
pub fn apply(rules: &[Mapping], path: &str) -> Option<(String, Vec<(String, String)>)> {
    rules.iter().find_map(|r| r.apply(path))
}

pub(super) fn validate(
    list: &[MappingFile],
    hostname: &str,
    p: &mut super::super::Problems<'_>,
) -> Vec<Mapping> {
    let mut out = Vec::new();
    for m in list {
        let labels: Vec<(String, String)> = m
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.value.replace("{host}", hostname)))
            .collect();
        for (k, v) in m.labels.iter().flatten() {
            if !super::valid_label_name(k) {
                p.at(
                    v,
                    format!("label {k:?} is not a valid Prometheus label name"),
                );
            }
        }
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let name = m.name.value.replace("{host}", hostname);
        if name.is_empty() {
            p.at(&m.name, "a mapping needs a name");
        }
        match Mapping::new(&m.pattern.value, &name, &pairs) {
            Ok(rule) => out.push(rule),
            Err(e) => p.at(&m.pattern, e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(rule: &Mapping, path: &str) -> Option<(String, Vec<(String, String)>)> {
        rule.apply(path)
    }

    #[test]
    fn default_puts_the_host_in_a_label() {
        let d = Mapping::defaults();
        assert_eq!(
            apply(&d, "servers.web1.cpu.total.user"),
            Some((
                "cpu.total.user".to_string(),
                vec![("host".to_string(), "web1".to_string())]
            ))
        );
        assert_eq!(apply(&d, "servers.web1"), None);
        assert_eq!(apply(&d, "web.hits"), None);
    }

    #[test]
    fn captures_templates_and_first_match() {
        let rules = vec![
            Mapping::new(
                "servers.*.cpu.*.*",
                "cpu_$3",
                &[("host", "$1"), ("cpu", "${2}")],
            )
            .unwrap(),
            Mapping::new(
                "app-*.requests.**",
                "requests",
                &[("app", "$1"), ("what", "$2")],
            )
            .unwrap(),
            Mapping::new("servers.*.**", "$2", &[("host", "$1")]).unwrap(),
        ];
        let got = apply(&rules, "servers.web1.cpu.total.user").unwrap();
        assert_eq!(got.0, "cpu_user");
        assert_eq!(
            got.1,
            [
                ("cpu".into(), "total".into()),
                ("host".into(), "web1".into())
            ]
        );
        let got = apply(&rules, "app-shop.requests.http.200").unwrap();
        assert_eq!(got.0, "requests");
        assert_eq!(
            got.1,
            [
                ("app".into(), "shop".into()),
                ("what".into(), "http.200".into())
            ]
        );
        // `*` stays inside a node; the third rule takes it.
        assert_eq!(
            apply(&rules, "servers.db1.memory.free").unwrap().0,
            "memory.free"
        );
        assert_eq!(one(&rules[0], "servers.web1.cpu.total"), None);
        // Dots in the pattern are literal.
        let r = Mapping::new("a.b", "x", &[]).unwrap();
        assert_eq!(one(&r, "aXb"), None);
        let r = Mapping::new("cost", "price_$$", &[]).unwrap();
        assert_eq!(one(&r, "cost").unwrap().0, "price_$");
    }

    #[test]
    fn bad_rules_say_why() {
        assert!(
            Mapping::new("a..b", "x", &[])
                .unwrap_err()
                .contains("empty node")
        );
        assert!(
            Mapping::new("a.*", "$2", &[])
                .unwrap_err()
                .contains("captures 1")
        );
        assert!(
            Mapping::new("a.**x", "x", &[])
                .unwrap_err()
                .contains("node of its own")
        );
        assert!(
            Mapping::new("a.*", "${1", &[])
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(Mapping::new("a.*", "$0", &[]).is_err());
    }
}
