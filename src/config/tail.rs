//! `inputs.tail`: the log files tailed and the parsers their lines go through.

use super::{Problem, Problems};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailFile {
    /// Files or globs, e.g. `/var/log/nginx/*.log`.
    pub paths: Vec<Spanned<String>>,
    /// Names of the parsers every line of these files goes through.
    pub parsers: Vec<Spanned<String>>,
    /// Prepended to every metric name the parsers make; `{host}` is the hostname.
    pub prefix: Option<Spanned<String>>,
    /// Where to start in a file seen for the first time: `end` (default) or `beginning`.
    pub start_at: Option<Spanned<String>>,
    /// Longer lines are cut to this many bytes and counted (default 65536).
    pub max_line_length: Option<usize>,
}

/// Where a file seen for the first time is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    End,
    Beginning,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tail {
    pub paths: Vec<String>,
    pub parsers: Vec<String>,
    /// With `{host}` already replaced; empty for none.
    pub prefix: String,
    pub start_at: StartAt,
    pub max_line_length: usize,
}

pub(super) fn validate(t: TailFile, hostname: &str, p: &mut Problems<'_>) -> Tail {
    for path in &t.paths {
        if path.value.is_empty() || !Path::new(&path.value).is_absolute() {
            p.at(path, format!("tail path {:?} must be absolute", path.value));
        }
    }
    if t.parsers.is_empty() {
        p.list.push(Problem {
            file: p.file.map(Path::to_path_buf).unwrap_or_default(),
            line: t.paths.first().map_or(0, |s| s.referenced.line()),
            column: t.paths.first().map_or(0, |s| s.referenced.column()),
            message: "a tail input needs at least one parser".into(),
        });
    }
    let prefix = match &t.prefix {
        None => String::new(),
        Some(s) => {
            let expanded = s.value.replace("{host}", hostname);
            if !expanded.is_empty() && crate::metric::Series::parse(&expanded).is_err() {
                p.at(
                    s,
                    format!("prefix {:?} is not a valid series name", s.value),
                );
            }
            expanded
        }
    };
    let start_at = match t.start_at.as_ref().map(|s| (s, s.value.as_str())) {
        None | Some((_, "end")) => StartAt::End,
        Some((_, "beginning")) => StartAt::Beginning,
        Some((s, other)) => {
            p.at(s, format!("start_at {other:?}: expected end or beginning"));
            StartAt::End
        }
    };
    Tail {
        paths: t.paths.into_iter().map(|s| s.value).collect(),
        parsers: t.parsers.into_iter().map(|s| s.value).collect(),
        prefix,
        start_at,
        max_line_length: t.max_line_length.unwrap_or(65_536).max(64),
    }
}
