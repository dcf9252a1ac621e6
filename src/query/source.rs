//! The store as a [`Source`] of series for target evaluation: a path (glob, exact tagged name,
//! `:view` suffix) becomes one [`TimeSeries`] per matching series, read from the tier the plan
//! picks. Buckets are merged exactly down to maxDataPoints when nothing between the root of
//! the target and the path changes values; `consolidateBy` picks the bucket field read when
//! the path has no explicit view (Metrictank's rollup choice; exact at every tier).

use super::eval::{Fetch, Source};
use super::series::{Agg, TimeSeries};
use super::{
    Coarser, Error, Lineage, Options, Output, Plan, Range, TierChoice, View, beyond_retention,
    pattern, resolve_with, view_suffix,
};
use crate::aggregate::Bucket;
use crate::metric::Kind;
use crate::schema::{Schema, Schemas};
use crate::store::{Event, SeriesInfo, Store};

/// Fetches that read at least this many slots in all are read on two threads.
const PARALLEL_MIN_SLOTS: u64 = 100_000;

pub struct StoreSource<'a> {
    pub store: &'a Store,
    pub schemas: &'a Schemas,
    pub options: &'a Options,
    /// Globs parsed once across requests (none: parsed each time).
    pub patterns: Option<&'a pattern::Cache>,
}

/// How one series is read beyond the plain range.
#[derive(Debug, Clone, Copy)]
pub struct Read {
    pub consolidate: Option<Agg>,
    pub merge: bool,
    pub coarser: usize,
    /// A function above decides by value: read graphite's tier whatever the tier choice.
    pub by_value: bool,
}

impl Default for Read {
    fn default() -> Self {
        Read {
            consolidate: None,
            merge: true,
            coarser: 0,
            by_value: false,
        }
    }
}

/// The graphite consolidation function that matches merging buckets under a view.
pub fn natural_agg(view: View) -> Agg {
    match view {
        View::Sum | View::Obvs => Agg::Sum,
        View::Min => Agg::Min,
        View::Max => Agg::Max,
        View::Last => Agg::Last,
        View::Distinct => Agg::Max,
        View::Avg | View::SumRate | View::SumN(_) | View::ObvsRate | View::Percentile(_) => {
            Agg::Average
        }
    }
}

/// The view read: the explicit one, else the kind's default, except that `consolidateBy`
/// picks the matching bucket field (sum, min, max, last) as Metrictank picks a rollup.
pub fn view_for(explicit: Option<View>, kind: Kind, consolidate: Option<Agg>) -> View {
    if let Some(v) = explicit {
        return v;
    }
    let default = View::default_for(kind);
    match (default, consolidate) {
        (View::Avg, Some(Agg::Sum)) | (View::SumRate, Some(Agg::Sum)) => View::Sum,
        (View::Avg, Some(Agg::Min)) => View::Min,
        (View::Avg, Some(Agg::Max)) => View::Max,
        (View::Avg, Some(Agg::Last)) => View::Last,
        _ => default,
    }
}

fn range_of(f: &Fetch) -> Range {
    Range {
        from: f.from,
        until: f.until,
        now: f.now,
        max_data_points: f.max_data_points,
    }
}

/// The tier and the buckets per point for one series.
fn plan_read(schema: &Schema, options: &Options, range: &Range, read: &Read) -> Plan {
    let mut options = *options;
    if read.by_value {
        options.tier_choice = TierChoice::Graphite;
    }
    let mut p = super::plan(schema, &options, range);
    if read.coarser > 0 && options.tier_choice == TierChoice::Metrictank {
        let tier = (p.tier + read.coarser).min(schema.tiers.len() - 1);
        if tier > p.tier {
            p.tier = tier;
            p.coarser = Some(Coarser::SoftCap);
            let res = i64::from(schema.tiers[tier].resolution);
            let (first, end) = super::window(schema, range, res);
            let slots = ((end - first) / res).max(1) as u64;
            p.vpp = range
                .max_data_points
                .filter(|&m| m > 0)
                .map_or(1, |m| slots.div_ceil(m).max(1));
        }
    }
    if !read.merge {
        p.vpp = 1;
    }
    p
}

impl Source for StoreSource<'_> {
    fn fetch(&self, path: &str, fetch: &Fetch) -> Result<Vec<TimeSeries>, Error> {
        let mut range = range_of(fetch);
        if range.from >= range.until {
            return Err(Error::EmptyRange);
        }
        // As whisper's fetch: a range that starts after `now` has no data (graphite-web leaves
        // the series out); one that ends after `now` ends at `now`.
        if range.from > range.now {
            return Ok(Vec::new());
        }
        range.until = range.until.min(range.now);
        let (glob, explicit) = View::split(path);
        let read = Read {
            consolidate: fetch.consolidate,
            merge: fetch.merge,
            coarser: fetch.coarser,
            by_value: fetch.by_value,
        };
        let mut found = resolve_with(self.store, glob, self.options, self.patterns)?;
        found.retain(|info| !beyond_retention(self.schemas.for_name(info.series.as_str()), &range));
        let one = |info: &SeriesInfo, scratch: &mut Vec<(i64, Bucket)>| {
            let schema = self.schemas.for_name(info.series.as_str());
            let view = view_for(explicit, info.kind, fetch.consolidate);
            let name = match view_suffix(path) {
                Some(suffix) => format!("{}:{suffix}", info.series),
                None => info.series.to_string(),
            };
            let o = read_series(
                self.store,
                schema,
                self.options,
                info,
                view,
                name,
                &range,
                &read,
                scratch,
            )?;
            let mut s = TimeSeries::new(&o.name, o.start, i64::from(o.step), o.values);
            s.path_expression = path.to_string();
            s.tags = super::series::tags_of_name(o.series.as_str());
            s.consolidation = fetch.consolidate.unwrap_or(natural_agg(view));
            if read.merge && range.max_data_points.is_some_and(|m| m > 0) {
                let res = i64::from(schema.tiers[o.lineage.archive_read].resolution);
                s.fitted = Some(super::window(schema, &range, res));
            }
            s.lineage = vec![o.lineage];
            Ok(s)
        };
        // One buffer for the buckets of every series read in a row.
        let all = |list: &[SeriesInfo]| -> Result<Vec<TimeSeries>, Error> {
            let mut scratch = Vec::new();
            list.iter().map(|info| one(info, &mut scratch)).collect()
        };
        let slots: u64 = found
            .iter()
            .map(|info| {
                let schema = self.schemas.for_name(info.series.as_str());
                let idx = plan_read(schema, self.options, &range, &read).tier;
                let res = i64::from(schema.tiers[idx].resolution);
                ((range.until - range.from) / res).max(1) as u64
            })
            .sum();
        if found.len() < 2 || slots < PARALLEL_MIN_SLOTS || crate::cores() < 2 {
            return all(&found);
        }
        // Half of the series on another thread: decoding dominates a large read.
        let (a, b) = found.split_at(found.len() / 2);
        let (first, second) = std::thread::scope(|s| {
            let other = s.spawn(|| all(b));
            let first = all(a);
            let second = other
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (first, second)
        });
        let mut out = first?;
        out.extend(second?);
        Ok(out)
    }

    fn estimate(&self, path: &str, fetch: &Fetch) -> Result<(usize, u64), Error> {
        let mut range = range_of(fetch);
        // What `fetch` reads: nothing after `now`, nothing before the longest retention.
        if range.from > range.now {
            return Ok((0, 0));
        }
        range.until = range.until.min(range.now);
        let (glob, _) = View::split(path);
        let read = Read {
            consolidate: fetch.consolidate,
            merge: fetch.merge,
            coarser: fetch.coarser,
            by_value: fetch.by_value,
        };
        let found = resolve_with(self.store, glob, self.options, self.patterns)?;
        let mut points = 0u64;
        for info in &found {
            let schema = self.schemas.for_name(info.series.as_str());
            let idx = plan_read(schema, self.options, &range, &read).tier;
            let res = i64::from(schema.tiers[idx].resolution);
            let (first, end) = super::window(schema, &range, res);
            points += ((end - first) / res).max(1) as u64;
        }
        Ok((found.len(), points))
    }

    fn tagged_names(&self) -> Vec<String> {
        self.store
            .tagged_series()
            .into_iter()
            .map(|i| i.series.to_string())
            .collect()
    }

    fn events(&self, from: i64, until: i64) -> Vec<Event> {
        self.store.events(from, until)
    }
}

/// One series' points for the range, as the plan reads them. `scratch` holds the buckets
/// while they become values; a caller reading many series keeps it between them, so the
/// buffer is allocated once.
#[allow(clippy::too_many_arguments)]
pub fn read_series(
    store: &Store,
    schema: &Schema,
    options: &Options,
    info: &SeriesInfo,
    view: View,
    name: String,
    range: &Range,
    read: &Read,
    scratch: &mut Vec<(i64, Bucket)>,
) -> Result<Output, Error> {
    let plan = plan_read(schema, options, range, read);
    let (tier_idx, vpp) = (plan.tier, plan.vpp);
    let tier = schema.tiers[tier_idx];
    let res = i64::from(tier.resolution);
    let step = res * vpp as i64;
    // `(from, until]` as whisper reads it: the slots whose timestamp is after `from`, up to
    // the one holding `until` (a slot's bucket holds `[t, t + res)`); a range inside one slot
    // reads that slot (whisper would answer the next, empty one).
    let (first, end) = super::window(schema, range, res);
    let oldest_kept = (range.now - tier.retention as i64).div_euclid(res) * res;
    let mut lost = Vec::new();
    store.read_into_lossy(
        info.id,
        tier.resolution,
        first.max(oldest_kept),
        end,
        scratch,
        &mut lost,
    )?;
    // Points of `vpp` buckets grouped as graphite's json renderer groups values: the first
    // point is at the first multiple of the step after the first slot (its "nudge"), and holds
    // the slot before it too (graphite drops one value too few), so each point holds the slots
    // [t - res, t + step - res). Slots before that are left out; the last point may be partial.
    // (Under a function, which reads every slot, there is no such point.)
    let one = read.merge && range.max_data_points == Some(1);
    let (start, kept_from, n) = if one {
        // graphite's maxDataPoints=1: every value in one point at the start, no nudge.
        (first, first, 1)
    } else if vpp > 1 {
        let start = (first.div_euclid(step) + 1) * step;
        let kept_from = start - res;
        let values = (end - kept_from).max(0) / res;
        let stamps = if end >= start {
            (end - start) / step + 1
        } else {
            0
        };
        let points = (values.max(0) as u64).div_ceil(vpp) as i64;
        (start, kept_from, points.min(stamps).max(0) as usize)
    } else {
        (first, first, ((end - first) / res).max(0) as usize)
    };
    let index = |slot: i64| -> Option<usize> {
        (slot >= kept_from)
            .then(|| {
                if one {
                    0
                } else {
                    ((slot - kept_from) / step) as usize
                }
            })
            .filter(|&i| i < n)
    };
    // Merging buckets is exact when the consolidator is the view's own; otherwise each bucket
    // becomes a value first and the values are consolidated (graphite's semantics).
    let exact = read.consolidate.is_none_or(|c| c == natural_agg(view));
    let values = if exact || vpp == 1 {
        // Buckets come sorted by slot and `index` never decreases with the slot, so the
        // buckets of one point are neighbours: merge them in a running bucket and write its
        // value when the point changes (no buffer of buckets per point).
        let mut values: Vec<Option<f64>> = vec![None; n];
        let mut open: Option<(usize, Bucket)> = None;
        for (slot, bucket) in scratch.drain(..) {
            let Some(i) = index(slot) else { continue };
            match &mut open {
                Some((j, b)) if *j == i => b.merge(&bucket),
                _ => {
                    if let Some((j, b)) = open.replace((i, bucket)) {
                        values[j] = view.value(&b, step as u32);
                    }
                }
            }
        }
        if let Some((j, b)) = open {
            values[j] = view.value(&b, step as u32);
        }
        values
    } else {
        let agg = read.consolidate.unwrap_or(Agg::Average);
        let mut parts: Vec<Vec<Option<f64>>> = vec![Vec::new(); n];
        for (slot, bucket) in scratch.drain(..) {
            if let Some(i) = index(slot) {
                parts[i].push(view.value(&bucket, tier.resolution));
            }
        }
        parts.iter().map(|p| agg.apply(p)).collect()
    };
    let consolidator = read
        .consolidate
        .map(Agg::consolidator)
        .unwrap_or_else(|| view.consolidator());
    Ok(Output {
        name,
        series: info.series.clone(),
        kind: info.kind,
        start,
        step: step as u32,
        values,
        lineage: Lineage {
            schema_name: schema.name.clone(),
            schema_retentions: schema.retentions.clone(),
            archive_read: tier_idx,
            archive_finest: plan.finest,
            coarser: plan.coarser,
            archive_interval: tier.resolution,
            aggnum_norm: 1,
            consolidator_normfetch: view.consolidator(),
            aggnum_rc: if vpp > 1 { vpp } else { 0 },
            consolidator_rc: if vpp > 1 {
                consolidator
            } else {
                "NoneConsolidator"
            },
            view,
            count: 1,
            lost: lost
                .into_iter()
                .map(|(from, until)| super::Lost {
                    series: info.series.as_str().to_string(),
                    from,
                    until,
                })
                .collect(),
        },
    })
}
