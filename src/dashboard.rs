//! Dashboards as files: one YAML file per dashboard in `dashboard_dirs` (the packaged
//! `/usr/share/tally/dashboards`, then the operator's `/etc/tally/dashboards.d`; a later
//! directory replaces a dashboard of the same name). The file name without `.yaml` is the
//! dashboard's name. Every problem names file:line:col; a bad file disables only itself.
//!
//! ```yaml
//! title: This host                # shown as the page title
//! description: What the host does # optional, shown under the title
//! from: -6h                       # graphite time formats; every panel's default range
//! until: now
//! live: true                      # panels follow the live stream (default false)
//! panels:
//!   - title: CPU
//!     targets: ['servers.{host}.cpu.total.*']   # anything /render takes; {host} is the hostname
//!     height: 220                 # pixels (default 220)
//!     from: -1h                   # optional: this panel's own range and live state
//! ```

use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};
use std::path::{Path, PathBuf};

/// One problem in a dashboard file, with where it is (the config's own type: `file:line:col:`).
pub use crate::config::Problem;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// A checked dashboard, as `/api/dashboards/<name>` serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    pub name: String,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub from: String,
    pub until: String,
    pub live: bool,
    pub panels: Vec<Panel>,
    /// The file it came from.
    pub source: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    pub title: String,
    pub targets: Vec<String>,
    pub from: String,
    pub until: String,
    pub live: bool,
    pub height: u32,
}

/// Pixels a panel is tall unless its file says otherwise.
pub const DEFAULT_HEIGHT: u32 = 220;

/// Dashboard directories when the config names none.
pub const DEFAULT_DIRS: [&str; 2] = ["/usr/share/tally/dashboards", "/etc/tally/dashboards.d"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DashboardFile {
    title: Spanned<String>,
    description: Option<String>,
    from: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    live: Option<bool>,
    panels: Spanned<Vec<Spanned<PanelFile>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PanelFile {
    title: Spanned<String>,
    targets: Spanned<Vec<Spanned<String>>>,
    from: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    live: Option<bool>,
    height: Option<Spanned<u32>>,
}

/// Reads every `*.yaml` of `dirs` in order (a missing directory is skipped); `host` replaces
/// `{host}` in targets. Returns the dashboards sorted by name and every error.
pub fn load(dirs: &[PathBuf], host: &str) -> (Vec<Dashboard>, Vec<Error>) {
    let mut out: Vec<Dashboard> = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        let files = match crate::config::yaml_files(dir) {
            Ok(files) => files,
            Err(source) => {
                let path = dir.clone();
                errors.push(Error::Read { path, source });
                continue;
            }
        };
        for path in files {
            match load_file(&path, host) {
                Ok(d) => match out.iter_mut().find(|o| o.name == d.name) {
                    Some(old) => *old = d,
                    None => out.push(d),
                },
                Err(e) => errors.push(e),
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, errors)
}

pub fn load_file(path: &Path, host: &str) -> Result<Dashboard, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, host)
}

/// Parses dashboard text; `path` names it (its stem is the name) and is used in messages.
pub fn parse(text: &str, path: &Path, host: &str) -> Result<Dashboard, Error> {
    let problem = |line, column, message: String| Problem {
        file: path.to_path_buf(),
        line,
        column,
        message,
    };
    let file: DashboardFile = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        Error::Invalid(vec![problem(line, column, e.to_string())])
    })?;
    let mut problems = Vec::new();
    let mut at = |s: &Location, message: String| {
        problems.push(problem(s.line(), s.column(), message));
    };
    let from = time(&file.from, "-1h", &mut at);
    let until = time(&file.until, "now", &mut at);
    let live = file.live.unwrap_or(false);
    if file.title.value.trim().is_empty() {
        at(&file.title.referenced, "title is empty".into());
    }
    if file.panels.value.is_empty() {
        at(
            &file.panels.referenced,
            "a dashboard needs at least one panel".into(),
        );
    }
    let mut panels = Vec::new();
    for p in file.panels.value {
        let p = p.value;
        if p.targets.value.is_empty() {
            at(
                &p.targets.referenced,
                "a panel needs at least one target".into(),
            );
        }
        let mut targets = Vec::new();
        for t in p.targets.value {
            let target = t.value.replace("{host}", host);
            if let Err(e) = crate::query::target::parse(&target) {
                // The target's own position; the message says the character within it.
                at(&t.referenced, format!("target {:?}: {e}", t.value));
            }
            targets.push(target);
        }
        let height = match p.height {
            None => DEFAULT_HEIGHT,
            Some(h) if (40..=2000).contains(&h.value) => h.value,
            Some(h) => {
                at(
                    &h.referenced,
                    format!("height {}: expected 40 to 2000 pixels", h.value),
                );
                DEFAULT_HEIGHT
            }
        };
        panels.push(Panel {
            title: p.title.value,
            targets,
            from: time(&p.from, &from, &mut at),
            until: time(&p.until, &until, &mut at),
            live: p.live.unwrap_or(live),
            height,
        });
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    Ok(Dashboard {
        name: name_of(path),
        title: file.title.value,
        description: file.description.unwrap_or_default(),
        from,
        until,
        live,
        panels,
        source: path.to_path_buf(),
    })
}

/// A time in graphite's formats (checked against an arbitrary `now`), or `default`.
fn time(
    value: &Option<Spanned<String>>,
    default: &str,
    at: &mut impl FnMut(&Location, String),
) -> String {
    match value {
        None => default.to_string(),
        Some(s) => {
            if let Err(e) = crate::query::attime::parse(&s.value, 1_700_000_000) {
                at(&s.referenced, format!("{:?}: {e}", s.value));
            }
            s.value.clone()
        }
    }
}

fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
