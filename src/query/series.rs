//! Evaluated series and graphite's null-aware arithmetic (`functions/safe.py`, `aggfuncs.py`),
//! normalization to a common step, and the maxDataPoints consolidation of the json renderer.

use super::Lineage;
use std::borrow::Cow;
use std::collections::BTreeMap;

pub type Value = Option<f64>;

/// One evaluated series: `values[i]` is at `start + i × step`. `None` is graphite's `None`;
/// NaN and ±∞ are values and survive until the renderer (null and `1e9999` in JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    pub name: String,
    /// The path expression the series came from (what combining functions print).
    pub path_expression: String,
    /// Tags: always `name`, plus a tagged series' tags and what functions add.
    pub tags: BTreeMap<String, String>,
    pub start: i64,
    /// Graphite's `end`: usually `start + len × step`.
    pub end: i64,
    pub step: i64,
    pub values: Vec<Value>,
    /// How maxDataPoints (and normalization) merges points.
    pub consolidation: Agg,
    /// The series' xFilesFactor (`setXFilesFactor`), else the request's.
    pub x_files_factor: Option<f64>,
    /// How the points were read (Metrictank lineage sections).
    pub lineage: Vec<Lineage>,
    /// Drawing hints set by graph functions (color, lineWidth, …); no effect on data.
    pub style: Style,
    /// Read with maxDataPoints already applied (buckets merged exactly at read time), so the
    /// renderer's maxDataPoints consolidation leaves it alone: the `(start, end)` of the points
    /// it was merged from (what graphite's renderer measures the answer's span with).
    pub fitted: Option<(i64, i64)>,
}

/// Drawing hints for the graph renderer, set by the Graph-group functions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Style {
    pub color: Option<String>,
    pub alpha: Option<f64>,
    pub line_width: Option<f64>,
    pub dashed: Option<f64>,
    /// `stacked(…)`: the stack's name.
    pub stack: Option<String>,
    pub second_y_axis: bool,
    pub draw_as_infinite: bool,
    /// `areaBetween`: this series bounds an area with its pair.
    pub area_between: bool,
    /// `legendValue`/`cactiStyle` asked for; the name already carries the text.
    pub invisible: bool,
}

impl TimeSeries {
    /// A series named `name` (also its path expression), with tags parsed from a tagged name.
    pub fn new(name: &str, start: i64, step: i64, values: Vec<Value>) -> TimeSeries {
        let end = start + values.len() as i64 * step;
        TimeSeries {
            name: name.to_string(),
            path_expression: name.to_string(),
            tags: tags_of_name(name),
            start,
            end,
            step,
            values,
            consolidation: Agg::Average,
            x_files_factor: None,
            lineage: Vec::new(),
            style: Style::default(),
            fitted: None,
        }
    }

    /// A copy with new values and name (also the path expression), keeping everything else
    /// (graphite's `series.copy(name=…)` or `series.name = …; series.pathExpression = …`).
    pub fn derive(&self, name: String, values: Vec<Value>) -> TimeSeries {
        // Field by field: `..self.clone()` copied the old values only to drop them.
        TimeSeries {
            path_expression: name.clone(),
            name,
            tags: self.tags.clone(),
            start: self.start,
            end: self.end,
            step: self.step,
            values,
            consolidation: self.consolidation,
            x_files_factor: self.x_files_factor,
            lineage: self.lineage.clone(),
            style: self.style.clone(),
            fitted: self.fitted,
        }
    }

    /// Renames, keeping the path expression and tags (graphite's `series.name = …`).
    pub fn rename(&mut self, name: String) {
        self.name = name;
    }

    pub fn timestamp(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// The points a renderer writes: `(value, timestamp)` for timestamps up to `end`
    /// (graphite's `zip(values, range(start, end + 1, step))`).
    pub fn datapoints(&self) -> impl Iterator<Item = (Value, i64)> + '_ {
        let last = self.end.max(self.start);
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (*v, self.timestamp(i)))
            .take_while(move |(_, t)| *t <= last)
    }

    pub fn non_null(&self) -> impl Iterator<Item = f64> + '_ {
        self.values.iter().filter_map(|v| *v)
    }

    /// Merges every `n` points into one with the series' consolidation function and xff
    /// (graphite's `TimeSeries.consolidate` + `__consolidatingGenerator`).
    pub fn consolidated(&self, n: usize, xff: f64) -> Vec<Value> {
        if n <= 1 {
            return self.values.clone();
        }
        self.values
            .chunks(n)
            .map(|chunk| consolidate_chunk(self.consolidation, chunk, n, xff))
            .collect()
    }
}

/// Tags of a series name: `{name: path, k: v…}` for `path;k=v`, else `{name: name}`.
pub fn tags_of_name(name: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut parts = name.split(';');
    let path = parts.next().unwrap_or(name);
    let mut all_tags = true;
    let mut extra = Vec::new();
    for p in parts {
        match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => extra.push((k, v)),
            _ => all_tags = false,
        }
    }
    if all_tags && !extra.is_empty() && !name.ends_with(')') {
        tags.insert("name".into(), path.to_string());
        for (k, v) in extra {
            tags.insert(k.to_string(), v.to_string());
        }
    } else {
        tags.insert("name".into(), name.to_string());
    }
    tags
}

fn consolidate_chunk(agg: Agg, chunk: &[Value], per_point: usize, xff: f64) -> Value {
    let non_null = chunk.iter().filter(|v| v.is_some()).count();
    if non_null == 0 || (non_null as f64 / per_point as f64) < xff {
        return None;
    }
    match agg {
        Agg::First => chunk.iter().find_map(|v| *v),
        Agg::AvgZero => {
            Some(chunk.iter().map(|v| v.unwrap_or(0.0)).sum::<f64>() / chunk.len() as f64)
        }
        other => other.apply(chunk),
    }
}

/// Graphite's aggregation functions (`aggFuncs`, consolidation functions, and Metrictank's
/// names for them in lineage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Average,
    AvgZero,
    Median,
    Sum,
    Min,
    Max,
    Diff,
    Stddev,
    Count,
    Range,
    Multiply,
    Last,
    First,
}

impl Agg {
    /// An aggregation function name (`aggregate`'s `func`, aliases included).
    pub fn parse(name: &str) -> Option<Agg> {
        Some(match name {
            "average" | "avg" => Agg::Average,
            "avg_zero" => Agg::AvgZero,
            "median" => Agg::Median,
            "sum" | "total" => Agg::Sum,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "diff" => Agg::Diff,
            "stddev" => Agg::Stddev,
            "count" => Agg::Count,
            "range" | "rangeOf" => Agg::Range,
            "multiply" => Agg::Multiply,
            "last" | "current" => Agg::Last,
            _ => return None,
        })
    }

    /// The names `aggregate` accepts, for `/functions` options.
    pub const NAMES: [&'static str; 16] = [
        "average", "avg", "avg_zero", "count", "current", "diff", "last", "max", "median", "min",
        "multiply", "range", "rangeOf", "stddev", "sum", "total",
    ];

    /// The consolidation functions `consolidateBy` accepts.
    pub fn parse_consolidation(name: &str) -> Option<Agg> {
        match name {
            // `first` is a consolidation function only (graphite's aggFuncs have no `first`).
            "first" => Some(Agg::First),
            "sum" | "average" | "avg" | "avg_zero" | "min" | "max" | "last" => Agg::parse(name),
            _ => None,
        }
    }

    /// Graphite's name (`average`, `sum`, …).
    pub fn name(self) -> &'static str {
        match self {
            Agg::Average => "average",
            Agg::AvgZero => "avg_zero",
            Agg::Median => "median",
            Agg::Sum => "sum",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Diff => "diff",
            Agg::Stddev => "stddev",
            Agg::Count => "count",
            Agg::Range => "range",
            Agg::Multiply => "multiply",
            Agg::Last => "last",
            Agg::First => "first",
        }
    }

    /// Metrictank's consolidator name, for lineage.
    pub fn consolidator(self) -> &'static str {
        match self {
            Agg::Average | Agg::AvgZero => "AverageConsolidator",
            Agg::Median => "MedianConsolidator",
            Agg::Sum => "SumConsolidator",
            Agg::Min => "MinimumConsolidator",
            Agg::Max => "MaximumConsolidator",
            Agg::Diff => "DifferenceConsolidator",
            Agg::Stddev => "StdDevConsolidator",
            Agg::Count => "CountConsolidator",
            Agg::Range => "RangeConsolidator",
            Agg::Multiply => "MultiplyConsolidator",
            Agg::Last => "LastConsolidator",
            Agg::First => "FirstConsolidator",
        }
    }

    /// Applies the function to a row, nulls handled as graphite's `safe*` helpers do.
    pub fn apply(self, row: &[Value]) -> Value {
        let vals = || row.iter().filter_map(|v| *v);
        let n = vals().count();
        match self {
            Agg::AvgZero => (!row.is_empty())
                .then(|| row.iter().map(|v| v.unwrap_or(0.0)).sum::<f64>() / row.len() as f64),
            Agg::Multiply => {
                if row.is_empty() || row.iter().any(Option::is_none) {
                    None
                } else {
                    Some(vals().product())
                }
            }
            Agg::Count => Some(n as f64),
            _ if n == 0 => None,
            Agg::Average => Some(vals().sum::<f64>() / n as f64),
            Agg::Sum => Some(vals().sum()),
            Agg::Min => vals().reduce(f64::min),
            Agg::Max => vals().reduce(f64::max),
            Agg::Diff => {
                let mut it = vals();
                let first = it.next()?;
                Some(first - it.sum::<f64>())
            }
            Agg::Median => {
                let mut v: Vec<f64> = vals().collect();
                v.sort_by(f64::total_cmp);
                let mid = v.len() / 2;
                Some(if v.len().is_multiple_of(2) {
                    (v[mid - 1] + v[mid]) / 2.0
                } else {
                    v[mid]
                })
            }
            Agg::Stddev => {
                let avg = vals().sum::<f64>() / n as f64;
                Some((vals().map(|x| (x - avg) * (x - avg)).sum::<f64>() / n as f64).sqrt())
            }
            Agg::Range => Some(vals().reduce(f64::max)? - vals().reduce(f64::min)?),
            Agg::Last => row.iter().rev().find_map(|v| *v),
            Agg::First => row.iter().find_map(|v| *v),
        }
    }
}

/// Graphite's `xff(nonNull, total, xFilesFactor)`.
pub fn xff(non_null: usize, total: usize, factor: f64) -> bool {
    non_null > 0 && total > 0 && non_null as f64 / total as f64 >= factor
}

pub fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

pub fn lcm(a: i64, b: i64) -> i64 {
    if a == b || b == 0 {
        return a;
    }
    a / gcd(a, b) * b
}

/// One series' values at a common step, borrowed when it already has that step.
pub type Column<'a> = Cow<'a, [Value]>;

/// Graphite's `normalize`: every series consolidated to the lcm of the steps, and the common
/// `(start, end, step)`. Values are returned per series at the common step (borrowed when a
/// series is already at it).
pub fn normalize(list: &[TimeSeries], xff: f64) -> Option<(Vec<Column<'_>>, i64, i64, i64)> {
    let step = list.iter().map(|s| s.step.max(1)).reduce(lcm)?;
    let start = list.iter().map(|s| s.start).min()?;
    let mut end = list.iter().map(|s| s.end).max()?;
    end -= (end - start) % step;
    let rows = list
        .iter()
        .map(|s| {
            let factor = (step / s.step.max(1)) as usize;
            if factor <= 1 {
                Cow::Borrowed(s.values.as_slice())
            } else {
                Cow::Owned(s.consolidated(factor, s.x_files_factor.unwrap_or(xff)))
            }
        })
        .collect();
    Some((rows, start, end, step))
}

/// Rows of aligned values (`izip_longest`): row `i` holds every series' `i`-th value.
pub fn rows<C: AsRef<[Value]>>(columns: &[C]) -> Vec<Vec<Value>> {
    map_rows(columns, <[Value]>::to_vec)
}

/// `f` of every row of aligned values (`izip_longest`), one row buffer reused.
pub fn map_rows<C: AsRef<[Value]>, T>(columns: &[C], mut f: impl FnMut(&[Value]) -> T) -> Vec<T> {
    let len = columns.iter().map(|c| c.as_ref().len()).max().unwrap_or(0);
    let mut row = Vec::with_capacity(columns.len());
    (0..len)
        .map(|i| {
            row.clear();
            row.extend(columns.iter().map(|c| c.as_ref().get(i).copied().flatten()));
            f(&row)
        })
        .collect()
}

/// `agg` of every row of aligned values whose count of non-nulls passes `keep(non_null,
/// row_len)`, else `None`: graphite's `aggregate` loop. Sums and averages are added up column
/// by column, which is the same additions in the same order as [`Agg::apply`] on each row.
pub fn aggregate_rows<C: AsRef<[Value]>>(
    columns: &[C],
    agg: Agg,
    keep: impl Fn(usize, usize) -> bool,
) -> Vec<Value> {
    let width = columns.len();
    if !matches!(agg, Agg::Sum | Agg::Average) {
        return map_rows(columns, |row| {
            let nn = row.iter().filter(|v| v.is_some()).count();
            if keep(nn, row.len()) {
                agg.apply(row)
            } else {
                None
            }
        });
    }
    let len = columns.iter().map(|c| c.as_ref().len()).max().unwrap_or(0);
    // The value `Iterator::sum` starts from, so the folds below are exactly its folds.
    let zero: f64 = std::iter::empty::<f64>().sum();
    let mut sums = vec![zero; len];
    let mut counts = vec![0usize; len];
    for c in columns {
        for ((v, sum), n) in c.as_ref().iter().zip(&mut sums).zip(&mut counts) {
            if let Some(v) = v {
                *sum += v;
                *n += 1;
            }
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(&sum, &n)| {
            if n == 0 || !keep(n, width) {
                None
            } else if agg == Agg::Sum {
                Some(sum)
            } else {
                Some(sum / n as f64)
            }
        })
        .collect()
}

/// The json renderer's maxDataPoints consolidation (graphite's `renderViewJson`), nudge and
/// its off-by-one included. Series already `fitted` at read time are left alone. Returns the points merged into each output point, per series.
pub fn max_data_points(list: &mut [TimeSeries], mdp: u64, default_xff: f64) -> Vec<usize> {
    let mut per_point = vec![1; list.len()];
    if list.is_empty() || mdp == 0 {
        return per_point;
    }
    let (start, end) = span(list);
    let range = (end - start) as f64;
    for (s, vpp_out) in list.iter_mut().zip(per_point.iter_mut()) {
        if s.fitted.is_some() {
            continue;
        }
        let xff = s.x_files_factor.unwrap_or(default_xff);
        if mdp == 1 {
            let n = s.values.len().max(1);
            s.values = s.consolidated(n, xff);
            s.step *= n as i64;
            *vpp_out = n;
            continue;
        }
        let points = range / s.step.max(1) as f64;
        if (mdp as f64) < points {
            let vpp = (points / mdp as f64).ceil() as i64;
            let spp = vpp * s.step;
            let nudge = spp + s.start.rem_euclid(s.step) - s.start.rem_euclid(spp);
            s.start += nudge;
            let lose = (nudge / s.step) as usize;
            if lose > 1 {
                s.values.drain(..(lose - 1).min(s.values.len()));
            }
            s.values = s.consolidated(vpp as usize, xff);
            s.step = spp;
            *vpp_out = vpp as usize;
        }
    }
    per_point
}

/// The answer's span as graphite's json renderer measures it: the earliest start and latest
/// end of its series (a fitted series by the points it was merged from).
pub fn span(list: &[TimeSeries]) -> (i64, i64) {
    let spans = list.iter().map(|s| s.fitted.unwrap_or((s.start, s.end)));
    let start = spans.clone().map(|s| s.0).min().unwrap_or(0);
    let end = spans.map(|s| s.1).max().unwrap_or(0);
    (start, end)
}

/// Whether a fitted series was merged over another span than the answer's (a function's
/// output that reaches further, a series of another schema): its points per bucket are not
/// graphite's then, and the answer must be read unmerged.
pub fn fitted_elsewhere(list: &[TimeSeries]) -> bool {
    let whole = span(list);
    list.iter().any(|s| s.fitted.is_some_and(|f| f != whole))
}

#[cfg(test)]
#[path = "series_tests.rs"]
mod tests;
