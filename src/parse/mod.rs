//! Logster-style log parsers: YAML files of regex (or JSON) rules whose captures fill templates
//! that name counters, gauges, timers, sets and events. The file format is documented for
//! users in `parsers/README.md`.
//!
//! - [`load`] reads every `*.yaml` of some directories (a later directory's parser replaces an
//!   earlier one of the same name); [`load_file`] and [`parse_str`] read one file. Problems
//!   carry file, line, column and rule; one bad file costs only its own parsers.
//! - [`Parser::apply`] runs one line through a parser and appends to an [`Output`]. The
//!   caller keeps one [`ParseState`] per (parser, input): it holds the per-template caps and
//!   series caches, the reusable capture buffers and the [`Counters`].
//! - [`replay`] runs whole files through parsers and sums up what they would record, as
//!   Graphite plaintext (the `tally parse` command and the golden tests).
//!
//! Lines are bytes (`regex::bytes`, Unicode mode off), so invalid UTF-8 never stops a match;
//! names made from such bytes use the replacement character before sanitizing. **Invariant:**
//! no I/O except reading parser files and replayed logs, no clock (the read time is passed in).

mod compile;
mod file;
mod json;
mod replay;
mod rule;
mod template;
mod time;

pub use compile::DEFAULT_MAX_VALUES;
pub use replay::{PERCENTILES, Replay, ReplayLine, replay, replay_with};
pub use time::Zone;

use regex::bytes::{CaptureLocations, RegexSet};
use rule::{Emit, Matcher, Rule};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use template::Vars;

/// One problem (or warning) in a parser file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    /// Index of the rule in its parser's `rules:` list, when the problem is inside one.
    pub rule: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if let Some(r) = self.rule {
            write!(f, "rules[{r}]: ")?;
        }
        f.write_str(&self.message)
    }
}

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

impl Error {
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(p) => p,
            Error::Read { .. } => &[],
        }
    }
}

/// An event a rule produced (Graphite events: `when`, `what`, `tags`, `data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Unix seconds.
    pub when: i64,
    pub what: String,
    pub tags: Vec<String>,
    pub data: String,
}

/// What lines produced; [`Parser::apply`] appends, the caller drains.
#[derive(Debug, Default, Clone)]
pub struct Output {
    pub observations: Vec<crate::metric::Observation>,
    pub events: Vec<EventRecord>,
}

impl Output {
    pub fn clear(&mut self) {
        self.observations.clear();
        self.events.clear();
    }
}

/// What happened to lines, for `tally.*` self-metrics and `tally parse`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub lines: u64,
    /// Lines at least one rule matched.
    pub matched: u64,
    /// Lines no rule matched (or every matching rule excluded).
    pub unmatched: u64,
    /// Time captures that did not parse (the read time was used).
    pub time_failures: u64,
    /// Observations renamed to `other` because their template reached `max_values`.
    pub overflowed: u64,
    /// Values that were not numbers (the metric was skipped).
    pub bad_numbers: u64,
    /// Rendered names that are not valid series names (the metric was skipped).
    pub bad_names: u64,
    /// Lines a JSON rule looked at that were not JSON.
    pub bad_json: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.lines += o.lines;
        self.matched += o.matched;
        self.unmatched += o.unmatched;
        self.time_failures += o.time_failures;
        self.overflowed += o.overflowed;
        self.bad_numbers += o.bad_numbers;
        self.bad_names += o.bad_names;
        self.bad_json += o.bad_json;
    }
}

/// A caller's state for one parser on one input. Bounded: each template keeps at most its
/// `max_values` names.
#[derive(Debug, Default, Clone)]
pub struct ParseState {
    /// The rules of the parser this state was sized for (a reloaded parser gets a fresh state
    /// even under the same name).
    owner: Option<Arc<Vec<Rule>>>,
    locs: Vec<Option<CaptureLocations>>,
    set_hits: Vec<bool>,
    json_vals: Vec<Option<String>>,
    emit: Emit,
}

impl ParseState {
    pub fn new() -> ParseState {
        ParseState::default()
    }

    pub fn counters(&self) -> &Counters {
        &self.emit.counters
    }

    /// The counters so far, reset to zero.
    pub fn take_counters(&mut self) -> Counters {
        std::mem::take(&mut self.emit.counters)
    }

    fn prepare(&mut self, p: &Parser, prefix: &str) {
        if !self
            .owner
            .as_ref()
            .is_some_and(|o| Arc::ptr_eq(o, &p.rules))
        {
            let counters = self.emit.counters;
            *self = ParseState::default();
            self.emit.counters = counters;
            self.owner = Some(p.rules.clone());
            self.locs = p
                .rules
                .iter()
                .map(|r| match &r.matcher {
                    Matcher::Regex(re) => Some(re.capture_locations()),
                    Matcher::Json { .. } => None,
                })
                .collect();
            self.set_hits = vec![false; p.set.as_ref().map_or(0, RegexSet::len)];
        }
        self.emit.prepare(p.slots, p.rules.len(), prefix);
    }
}

/// A compiled parser. Cheap to share (`Send + Sync`); all per-line state is in [`ParseState`].
#[derive(Debug, Clone)]
pub struct Parser {
    name: String,
    source: PathBuf,
    warnings: Vec<Problem>,
    rules: Arc<Vec<Rule>>,
    set: Option<RegexSet>,
    /// Number of metric templates (caches in the state).
    slots: usize,
}

impl Parser {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Things that work but should change (a leading or trailing `.*`, a rule that does
    /// nothing), with file, line and column.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// Reads times without a zone of their own in `zone` instead of what each rule says.
    /// For reproducible replays (tests) and hosts whose logs are written in another zone.
    pub fn set_zone(&mut self, zone: Zone) {
        for r in Arc::make_mut(&mut self.rules) {
            if let Some(t) = &mut r.time {
                t.zone = zone.clone();
            }
        }
    }

    /// Runs one line (a trailing `\n` or `\r\n` is ignored) through every rule; each rule
    /// that matches adds its observations and events to `out`. `read_time` (unix seconds) is
    /// used when a rule has no time capture or it does not parse; `prefix` (e.g. `web.host1`)
    /// goes before every name.
    pub fn apply(
        &self,
        line: &[u8],
        read_time: i64,
        prefix: &str,
        state: &mut ParseState,
        out: &mut Output,
    ) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        state.prepare(self, prefix);
        state.emit.counters.lines += 1;
        if let Some(set) = &self.set {
            state.set_hits.fill(false);
            set.matches_read_at(&mut state.set_hits, line, 0);
        }
        let mut json: Option<Option<serde_json::Value>> = None;
        let mut matched = false;
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(k) = rule.set_index
                && !state.set_hits[k]
            {
                continue;
            }
            if let Some(m) = &rule.prefilter
                && !m.is_match(line)
            {
                continue;
            }
            match &rule.matcher {
                Matcher::Regex(re) => {
                    let Some(locs) = state.locs[i].as_mut() else {
                        continue;
                    };
                    if re.captures_read(locs, line).is_none() {
                        continue;
                    }
                    if rule.exclude.as_ref().is_some_and(|x| x.is_match(line)) {
                        continue;
                    }
                    matched = true;
                    let vars = Vars {
                        line,
                        groups: Some(locs),
                        json: &[],
                        path: "",
                    };
                    rule::emit(rule, i, &vars, None, read_time, &mut state.emit, out);
                }
                Matcher::Json { paths } => {
                    if rule.exclude.as_ref().is_some_and(|x| x.is_match(line)) {
                        continue;
                    }
                    let parsed = json.get_or_insert_with(|| {
                        let v = json::parse_line(line);
                        if v.is_none() {
                            state.emit.counters.bad_json += 1;
                        }
                        v
                    });
                    let Some(root) = parsed.as_ref() else {
                        continue;
                    };
                    matched = true;
                    state.json_vals.clear();
                    state.json_vals.extend(
                        paths
                            .iter()
                            .map(|p| json::lookup(root, p).and_then(json::text)),
                    );
                    let vars = Vars {
                        line,
                        groups: None,
                        json: &state.json_vals,
                        path: "",
                    };
                    rule::emit(rule, i, &vars, Some(root), read_time, &mut state.emit, out);
                }
            }
        }
        if matched {
            state.emit.counters.matched += 1;
        } else {
            state.emit.counters.unmatched += 1;
        }
    }
}

/// Reads one parser file (one parser or a list of them).
pub fn load_file(path: &Path) -> Result<Vec<Parser>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text, path)
}

/// Parses parser-file text; `path` is used in messages and as the parsers' source.
pub fn parse_str(text: &str, path: &Path) -> Result<Vec<Parser>, Error> {
    file::parse_text(text, path)
}

/// Reads every `*.yaml` in `dirs`, in order, each directory's files by name. A parser in a
/// later directory replaces one of the same name from an earlier directory (`/etc` over
/// `/usr/share`); the same name twice in one directory is an error (the first stays). A
/// missing directory is skipped. Returns the parsers sorted by name and every error.
pub fn load(dirs: &[PathBuf]) -> (Vec<Parser>, Vec<Error>) {
    let mut parsers: Vec<(Parser, usize)> = Vec::new();
    let mut errors = Vec::new();
    for (d, dir) in dirs.iter().enumerate() {
        let files = match crate::config::yaml_files(dir) {
            Ok(files) => files,
            Err(source) => {
                errors.push(Error::Read {
                    path: dir.clone(),
                    source,
                });
                continue;
            }
        };
        for path in files {
            let loaded = match load_file(&path) {
                Ok(l) => l,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for parser in loaded {
                match parsers.iter_mut().find(|(p, _)| p.name == parser.name) {
                    Some((old, od)) if *od == d => errors.push(Error::Invalid(vec![Problem {
                        file: path.clone(),
                        line: 1,
                        column: 1,
                        rule: None,
                        message: format!(
                            "parser {:?} is already defined in {}",
                            parser.name,
                            old.source.display()
                        ),
                    }])),
                    Some(slot) => *slot = (parser, d),
                    None => parsers.push((parser, d)),
                }
            }
        }
    }
    let mut out: Vec<Parser> = parsers.into_iter().map(|(p, _)| p).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, errors)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod golden;
