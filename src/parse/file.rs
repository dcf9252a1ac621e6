//! A parser file as written: every struct rejects unknown keys and keeps the position of its
//! values, so that every problem names the file, line and column (and the rule it is in).

use super::{Error, Parser, Problem};
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};
use std::fmt;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ParserFile {
    pub(super) name: Spanned<String>,
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    /// Default `max_values` for this parser's metrics.
    pub(super) max_values: Option<Spanned<usize>>,
    pub(super) rules: Spanned<Vec<Spanned<RuleFile>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    pub(super) regex: Option<Spanned<String>>,
    pub(super) json: Option<Spanned<bool>>,
    #[serde(rename = "match")]
    pub(super) prefilter: Option<Spanned<String>>,
    pub(super) exclude: Option<Spanned<String>>,
    pub(super) time: Option<Spanned<TimeFile>>,
    #[serde(default)]
    pub(super) metrics: Vec<Spanned<MetricFile>>,
    #[serde(default)]
    pub(super) events: Vec<Spanned<EventFile>>,
    #[serde(default)]
    pub(super) fields: Vec<Spanned<FieldFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimeFile {
    pub(super) capture: Spanned<String>,
    pub(super) format: Spanned<OneOrMany<String>>,
    pub(super) timezone: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MetricFile {
    pub(super) name: Spanned<String>,
    #[serde(rename = "type")]
    pub(super) kind: Spanned<String>,
    pub(super) value: Option<Spanned<ValueFile>>,
    pub(super) unit: Option<Spanned<String>>,
    pub(super) max_values: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FieldFile {
    pub(super) path: Spanned<String>,
    #[serde(default)]
    pub(super) except: Vec<Spanned<String>>,
    #[serde(rename = "type")]
    pub(super) kind: Spanned<String>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) unit: Option<Spanned<String>>,
    pub(super) max_values: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventFile {
    pub(super) what: Spanned<String>,
    #[serde(default)]
    pub(super) tags: Vec<Spanned<String>>,
    pub(super) data: Option<Spanned<String>>,
}

/// `value:` is a capture name (`bytes`, `{bytes}`) or a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ValueFile {
    Number(f64),
    Name(String),
}

/// One item or a list of them.
#[derive(Debug)]
pub(crate) struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one item or a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // Element by element, so that each is read by the YAML deserializer itself
                // (and `Spanned` fields inside keep their positions).
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::new(s)).map(|t| OneOrMany(vec![t]))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Problems found while compiling one file.
pub(super) struct Problems<'a> {
    pub(super) file: &'a Path,
    pub(super) rule: Option<usize>,
    pub(super) list: Vec<Problem>,
}

impl Problems<'_> {
    pub(super) fn at<T>(&mut self, s: &Spanned<T>, message: impl fmt::Display) {
        self.list.push(self.make_at(s.referenced, message));
    }

    pub(super) fn make<T>(&self, s: &Spanned<T>, message: impl fmt::Display) -> Problem {
        self.make_at(s.referenced, message)
    }

    pub(super) fn make_at(&self, at: Location, message: impl fmt::Display) -> Problem {
        Problem {
            file: self.file.to_path_buf(),
            line: at.line(),
            column: at.column(),
            rule: self.rule,
            message: message.to_string(),
        }
    }
}

/// YAML 1.2 booleans only: `value: n` names a capture, it is not `false`.
fn yaml_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.strict_booleans = true;
    o
}

/// Parses the text of a parser file (one parser or a list); `path` is used in messages.
pub(crate) fn parse_text(text: &str, path: &Path) -> Result<Vec<Parser>, Error> {
    let files: Vec<ParserFile> = match serde_saphyr::from_str_with_options::<
        Option<OneOrMany<ParserFile>>,
    >(text, yaml_options())
    {
        Ok(Some(v)) => v.0,
        Ok(None) => Vec::new(),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            return Err(Error::Invalid(vec![Problem {
                file: path.to_path_buf(),
                line,
                column,
                rule: None,
                message: e.without_snippet().to_string(),
            }]));
        }
    };
    if files.is_empty() {
        return Err(Error::Invalid(vec![Problem {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            rule: None,
            message: "no parser in this file".into(),
        }]));
    }
    let mut p = Problems {
        file: path,
        rule: None,
        list: Vec::new(),
    };
    let mut out = Vec::new();
    for f in files {
        if let Some(parser) = super::compile::compile(f, &mut p)
            && !out.iter().any(|q: &Parser| q.name == parser.name)
        {
            out.push(parser);
        }
    }
    if p.list.is_empty() {
        Ok(out)
    } else {
        Err(Error::Invalid(p.list))
    }
}
