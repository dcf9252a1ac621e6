//! `storage.schemas`: which tiers a series is kept in, chosen by the first matching pattern.

use super::{Places, Problems, include};
use crate::schema::{self, Schema, Schemas};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    pub name: Spanned<String>,
    pub pattern: Spanned<String>,
    pub retentions: Vec<Spanned<String>>,
}

pub(super) fn validate<'a>(
    list: Vec<SchemaFile>,
    places: Places<'a>,
    default_last: bool,
    p: &mut Problems<'a>,
) -> Schemas {
    let mut out = Vec::new();
    let mut names: Vec<(String, String)> = Vec::new();
    for (i, s) in list.into_iter().enumerate() {
        p.file = include::origin(places.0, i, places.1);
        let here = p.place(&s.name);
        match names.iter().find(|(n, _)| *n == s.name.value) {
            Some((_, first)) => {
                let message = format!(
                    "two schemas are named {:?} (also at {first}): give each a distinct name",
                    s.name.value
                );
                p.at(&s.name, message);
            }
            None => names.push((s.name.value.clone(), here)),
        }
        let mut tiers = Vec::new();
        for r in &s.retentions {
            match schema::parse_retention(&r.value) {
                Ok(t) => tiers.push(t),
                Err(e) => p.at(r, e),
            }
        }
        if tiers.len() != s.retentions.len() {
            continue;
        }
        if let Err(e) = schema::check_tiers(&tiers) {
            p.at(&s.name, format!("schema {:?}: {e}", s.name.value));
            continue;
        }
        match regex::Regex::new(&s.pattern.value) {
            Ok(pattern) => out.push(Schema {
                name: s.name.value,
                pattern,
                tiers,
                retentions: s
                    .retentions
                    .iter()
                    .map(|r| r.value.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            }),
            Err(e) => p.at(&s.pattern, format!("bad pattern: {e}")),
        }
    }
    p.file = places.1;
    if out.is_empty() {
        return Schemas::default_list();
    }
    if default_last {
        out.extend(Schemas::default_list().list);
    }
    Schemas { list: out }
}
