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
pub mod pattern;
pub mod series;
mod source;
pub mod tags;
pub mod target;
pub mod template;
pub mod view;

use crate::metric::glob::{self, Glob};
use crate::metric::{Kind, Series};
pub use crate::schema::TierChoice;
use crate::schema::{Schema, Schemas};
use crate::store::{self, SeriesInfo, Store};
pub use eval::{Evaluator, Fetch, Inline, Limits, Request, Source};
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
    /// Over the budget of an evaluation on an async worker ([`eval::Inline`]): run it again on
    /// a blocking thread (never an answer).
    #[error("the query is too large to run inline")]
    NotInline,
    #[error(transparent)]
    Store(#[from] store::Error),
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// graphite's tier choice (the default) or Metrictank's plan.
    pub tier_choice: TierChoice,
    /// Metrictank plan: a tier is read only if a series needs at most this many of its points.
    pub max_points_per_series: u64,
    /// Most series one path may expand to (glob expansion).
    pub max_series: usize,
    /// Most series one request may fetch.
    pub max_series_per_request: usize,
    /// Metrictank plan: points fetched per request past which coarser tiers are read.
    pub max_points_soft: u64,
    /// Points fetched per request past which it is refused (Metrictank's hard cap).
    pub max_points_hard: u64,
    /// Longest a request may run, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tier_choice: TierChoice::Graphite,
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
    /// The finest tier whose retention reaches `from` (the one graphite-web reads).
    pub archive_finest: usize,
    /// Why a tier coarser than `archive_finest` was read.
    pub coarser: Option<Coarser>,
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
    /// Data the store could not read (a segment block that failed its checksum): which
    /// series and which `[from, until)`; the values there are missing, not zero.
    pub lost: Vec<Lost>,
}

/// A range of one series lost to damage on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Lost {
    pub series: String,
    pub from: i64,
    pub until: i64,
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
    resolve_with(store, path, options, None)
}

/// [`resolve`], globs parsed through `patterns` when given.
pub fn resolve_with(
    store: &Store,
    path: &str,
    options: &Options,
    patterns: Option<&pattern::Cache>,
) -> Result<Vec<SeriesInfo>, Error> {
    let found = if path.contains(';') || !glob::has_wildcard(path) {
        match Series::parse(path) {
            Ok(s) => store.lookup(s.as_str()).into_iter().collect(),
            Err(_) => Vec::new(),
        }
    } else {
        let glob = match patterns {
            Some(p) => p.glob(path)?,
            None => Glob::parse(path)?,
        };
        store.series_matching(&glob)
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

/// Why a tier coarser than the finest covering one was read (said in the lineage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coarser {
    /// Metrictank plan: the finest tier would give a series more than `max_points_per_series`.
    MaxPointsPerSeries,
    /// Metrictank plan: its ratio rule for `maxDataPoints`.
    RatioRule,
    /// Metrictank plan: the request passed `max_points_soft`.
    SoftCap,
}

impl Coarser {
    pub fn reason(self) -> &'static str {
        match self {
            Coarser::MaxPointsPerSeries => {
                "query.tier_choice metrictank: query.max_points_per_series"
            }
            Coarser::RatioRule => "query.tier_choice metrictank: ratio rule for maxDataPoints",
            Coarser::SoftCap => "query.tier_choice metrictank: query.max_points_soft",
        }
    }
}

/// The tier one series is read from and how many of its buckets make one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub tier: usize,
    /// Buckets merged into one point (1: none).
    pub vpp: u64,
    /// The finest tier whose retention reaches `from`: graphite-web's choice.
    pub finest: usize,
    pub coarser: Option<Coarser>,
}

/// The slots `(from, until]` covers at `res` as whisper reads them: `[first, end)`, after
/// whisper's clamp of `from` to the longest retention. A range inside one slot reads that slot.
/// As whisper's fetch: a range that ends before the longest retention has no data at all
/// (graphite-web leaves the series out).
pub fn beyond_retention(schema: &Schema, range: &Range) -> bool {
    let longest = schema.tiers.iter().map(|t| t.retention).max().unwrap_or(0);
    range.until < range.now.saturating_sub(longest as i64)
}

pub fn window(schema: &Schema, range: &Range, res: i64) -> (i64, i64) {
    let longest = schema.tiers.iter().map(|t| t.retention).max().unwrap_or(0);
    let from = range.from.max(range.now.saturating_sub(longest as i64));
    let end = range.until.div_euclid(res) * res + res;
    let first = ((from.div_euclid(res) + 1) * res).min(end - res);
    (first, end)
}

/// Chooses the tier and how many of its buckets make one point. graphite's rule by default:
/// the finest tier whose retention reaches `from`, then graphite's renderer consolidation
/// (`ceil(slots / maxDataPoints)` buckets per point); Metrictank's plan as an option.
pub fn plan(schema: &Schema, options: &Options, range: &Range) -> Plan {
    let tiers = &schema.tiers;
    let longest = tiers.iter().map(|t| t.retention).max().unwrap_or(0) as i64;
    let age = (range.now - range.from).min(longest);
    // The finest tier whose retention reaches back to `from`; else the one that keeps longest.
    let finest = tiers
        .iter()
        .position(|t| t.retention as i64 >= age)
        .unwrap_or(tiers.len() - 1);
    let mut p = Plan {
        tier: finest,
        vpp: 1,
        finest,
        coarser: None,
    };
    let mdp = range.max_data_points.filter(|&m| m > 0);
    if options.tier_choice == TierChoice::Metrictank {
        metrictank(schema, options, range, mdp, &mut p);
    }
    if let Some(mdp) = mdp {
        let res = i64::from(tiers[p.tier].resolution);
        let (first, end) = window(schema, range, res);
        let slots = ((end - first) / res).max(1) as u64;
        p.vpp = slots.div_ceil(mdp).max(1);
    }
    p
}

/// Metrictank's plan: coarser past the per-series cap, then the ratio rule for maxDataPoints.
fn metrictank(schema: &Schema, options: &Options, range: &Range, mdp: Option<u64>, p: &mut Plan) {
    let tiers = &schema.tiers;
    let points =
        |i: usize| ((range.until - range.from) / i64::from(tiers[i].resolution)).max(1) as u64;
    while p.tier + 1 < tiers.len() && points(p.tier) > options.max_points_per_series {
        p.tier += 1;
        p.coarser = Some(Coarser::MaxPointsPerSeries);
    }
    let Some(mdp) = mdp else { return };
    // The coarsest tier that still gives ≤ mdp points... unless the next finer tier
    // overshoots mdp by less than this one undershoots it.
    let idx = p.tier;
    let chosen = match (idx..tiers.len()).find(|&i| points(i) <= mdp) {
        Some(fit) => match fit.checked_sub(1).filter(|&f| f >= idx) {
            Some(f) if (points(f) as f64 / mdp as f64) < (mdp as f64 / points(fit) as f64) => f,
            _ => fit,
        },
        None => tiers.len() - 1,
    };
    if chosen > p.tier {
        p.tier = chosen;
        p.coarser = Some(Coarser::RatioRule);
    }
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
#[cfg(test)]
mod tier_tests;
