//! The query core: for one path (glob and `:view` suffix allowed) and a time range, pick the
//! tier to read, merge its buckets exactly down to `maxDataPoints`, turn buckets into numbers
//! through the view, and say how it was done (lineage, as Metrictank reports it).
//!
//! Because every bucket keeps count, sum, min, max and last, consolidation merges buckets
//! rather than averaging values: `:sum` read from the 1h tier equals the sum of the raw
//! observations, at any zoom.

pub mod attime;
pub mod eval;
pub mod functions;
pub mod series;
mod source;
pub mod tags;
pub mod target;
pub mod template;
pub mod view;

use crate::metric::glob::{self, Glob};
use crate::metric::{Kind, Series};
use crate::schema::{Schema, Schemas};
use crate::store::{self, SeriesInfo, Store};
pub use eval::{Evaluator, Fetch, Limits, Request, Source};
pub use series::{Agg, Style, TimeSeries};
pub use source::{StoreSource, natural_agg, view_for};
pub use view::View;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad path: {0}")]
    Glob(#[from] glob::Error),
    #[error("{0} matches more than {1} series; narrow it or raise query.max_series")]
    TooManySeries(String, usize),
    #[error("invalid empty time range")]
    EmptyRange,
    #[error("invalid target {0:?}: {1}")]
    Target(String, target::Error),
    #[error("Received request for unknown function: {0}")]
    UnknownFunction(String),
    #[error("Invalid parameters: {0}")]
    BadArgument(String),
    #[error(
        "the request would fetch {0} points, more than query.max_points_hard ({1}); narrow the time range or the targets"
    )]
    TooManyPoints(u64, u64),
    #[error("the query took longer than query.timeout; narrow the time range or the targets")]
    Timeout,
    #[error(transparent)]
    Store(#[from] store::Error),
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A tier is read only if a series needs at most this many of its points.
    pub max_points_per_series: u64,
    /// Most series one path may expand to (glob expansion).
    pub max_series: usize,
    /// Most series one request may fetch.
    pub max_series_per_request: usize,
    /// Points fetched per request past which coarser tiers are read (Metrictank's soft cap).
    pub max_points_soft: u64,
    /// Points fetched per request past which it is refused (Metrictank's hard cap).
    pub max_points_hard: u64,
    /// Longest a request may run, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_points_per_series: 20_000,
            max_series: 10_000,
            max_series_per_request: 20_000,
            max_points_soft: 1_000_000,
            max_points_hard: 20_000_000,
            timeout_ms: 30_000,
        }
    }
}

/// What to read: `(from, until]` in unix seconds, as graphite treats them.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub from: i64,
    pub until: i64,
    pub now: i64,
    pub max_data_points: Option<u64>,
}

/// How a series' points were produced (Metrictank's lineage, plus tally's view).
#[derive(Debug, Clone, PartialEq)]
pub struct Lineage {
    pub schema_name: String,
    pub schema_retentions: String,
    /// Tier index: 0 is the finest.
    pub archive_read: usize,
    /// Seconds per bucket of the tier read.
    pub archive_interval: u32,
    /// Points merged by normalization (1: none).
    pub aggnum_norm: u64,
    /// The bucket field read (Metrictank: the rollup chosen).
    pub consolidator_normfetch: &'static str,
    /// Tier buckets merged into each returned point (0: none merged).
    pub aggnum_rc: u64,
    pub consolidator_rc: &'static str,
    pub view: View,
    /// Input series sharing this section.
    pub count: u32,
}

impl Lineage {
    /// Same properties (so the counts of two sections add up when series combine).
    pub fn same_section(&self, other: &Lineage) -> bool {
        Lineage {
            count: other.count,
            ..self.clone()
        } == *other
    }
}

/// One series of points, evenly spaced: `values[i]` is at `start + i × step`.
#[derive(Debug, Clone)]
pub struct Output {
    /// The name as asked for: the series name, plus `:view` if the request had one.
    pub name: String,
    pub series: Series,
    pub kind: Kind,
    pub start: i64,
    pub step: u32,
    pub values: Vec<Option<f64>>,
    pub lineage: Lineage,
}

impl Output {
    pub fn end(&self) -> i64 {
        self.start + self.values.len() as i64 * i64::from(self.step)
    }
}

/// The series a path names: a glob over untagged names, or one exact (tagged) name.
pub fn resolve(store: &Store, path: &str, options: &Options) -> Result<Vec<SeriesInfo>, Error> {
    let found = if path.contains(';') || !glob::has_wildcard(path) {
        match Series::parse(path) {
            Ok(s) => store.lookup(s.as_str()).into_iter().collect(),
            Err(_) => Vec::new(),
        }
    } else {
        store.series_matching(&Glob::parse(path)?)
    };
    if found.len() > options.max_series {
        return Err(Error::TooManySeries(path.to_string(), options.max_series));
    }
    Ok(found)
}

/// Reads every series `target` (`path[:view]`) names over `range`.
pub fn run(
    store: &Store,
    schemas: &Schemas,
    options: &Options,
    target: &str,
    range: &Range,
) -> Result<Vec<Output>, Error> {
    if range.from >= range.until {
        return Err(Error::EmptyRange);
    }
    let (path, view) = View::split(target);
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for info in resolve(store, path, options)? {
        let schema = schemas.for_name(info.series.as_str());
        let view = view.unwrap_or_else(|| View::default_for(info.kind));
        let name = match view_suffix(target) {
            Some(suffix) => format!("{}:{suffix}", info.series),
            None => info.series.to_string(),
        };
        out.push(source::read_series(
            store,
            schema,
            options,
            &info,
            view,
            name,
            range,
            &source::Read::default(),
            &mut scratch,
        )?);
    }
    Ok(out)
}

pub fn view_suffix(target: &str) -> Option<&str> {
    let (_, view) = View::split(target);
    view.and_then(|_| target.rsplit_once(':').map(|(_, s)| s))
}

/// Chooses the tier and how many of its buckets make one point.
pub fn plan(schema: &Schema, options: &Options, range: &Range) -> (usize, u64) {
    let tiers = &schema.tiers;
    let age = range.now - range.from;
    // The finest tier whose retention reaches back to `from`; else the one that keeps longest.
    let mut idx = tiers
        .iter()
        .position(|t| t.retention as i64 >= age)
        .unwrap_or(tiers.len() - 1);
    let points =
        |i: usize| ((range.until - range.from) / i64::from(tiers[i].resolution)).max(1) as u64;
    while idx + 1 < tiers.len() && points(idx) > options.max_points_per_series {
        idx += 1;
    }
    if let Some(mdp) = range.max_data_points.filter(|&m| m > 0) {
        // Metrictank's ratio rule: the coarsest tier that still gives ≤ mdp points... unless
        // the next finer tier overshoots mdp by less than this one undershoots it.
        if let Some(fit) = (idx..tiers.len()).find(|&i| points(i) <= mdp) {
            let finer = fit.checked_sub(1).filter(|&f| f >= idx);
            idx = match finer {
                Some(f) if (points(f) as f64 / mdp as f64) < (mdp as f64 / points(fit) as f64) => f,
                _ => fit,
            };
        } else {
            idx = tiers.len() - 1;
        }
        let vpp = points(idx).div_ceil(mdp);
        return (idx, vpp.max(1));
    }
    (idx, 1)
}

#[cfg(test)]
mod attime_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod props_tests;
#[cfg(test)]
mod test_source;
#[cfg(test)]
mod tests;
