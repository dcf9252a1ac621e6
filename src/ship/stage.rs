//! One output's side of the pipeline: the buckets of its tier still open, the horizon up to
//! which everything is spooled, late deltas waiting as amendments, a record whose append
//! failed, and how far the store's events are spooled.

use super::amend::{self, Late};
use super::record::{self, Entry, Record};
use super::{Output, Work, spool};
use crate::aggregate::Bucket;
use crate::metric::{Kind, Series};
use crate::store::Store;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

pub(super) struct OpenSeries {
    kind: Kind,
    resolution: u32,
    /// By slot start; one or two slots most of the time, so a vector (a `BTreeMap` node is
    /// about 800 bytes however few it holds: 40 MB at 50,000 series).
    buckets: Vec<(i64, Bucket)>,
}

impl OpenSeries {
    pub(super) fn new(kind: Kind, resolution: u32) -> OpenSeries {
        OpenSeries {
            kind,
            resolution,
            buckets: Vec::new(),
        }
    }

    /// Merges a bucket into its slot.
    pub(super) fn add(&mut self, start: i64, bucket: Bucket) {
        match self.buckets.binary_search_by_key(&start, |b| b.0) {
            Ok(i) => self.buckets[i].1.merge(&bucket),
            Err(i) => self.buckets.insert(i, (start, bucket)),
        }
    }
}

pub(super) struct Stage {
    pub(super) output: Arc<Output>,
    pub(super) open: FxHashMap<Series, OpenSeries>,
    /// Every bucket ending at or before this is spooled (or in `retry`).
    pub(super) horizon: i64,
    /// Late deltas, sent with the next record.
    pub(super) amend: Vec<Late>,
    /// Late deltas since the last append that succeeded (in `amend` or in `retry`): what the
    /// output's amendment cursor must hold (see `amend`).
    pub(super) unspooled: Vec<Late>,
    /// A record whose append failed, merged into the next one.
    pub(super) retry: Option<Record>,
    /// Every event up to this id is spooled or in `retry` (`None`: the output ships none).
    pub(super) events_through: Option<u64>,
}

/// Appends `newer` to `older` (a record whose append failed, kept for the next one).
pub(super) fn absorb(older: &mut Record, mut newer: Record) {
    older.entries.append(&mut newer.entries);
    older.horizon = newer.horizon;
    match (&mut older.events, newer.events) {
        (Some(old), Some(new)) => {
            old.through = new.through;
            old.list.extend(new.list);
        }
        (old, new) => *old = new.or(old.take()),
    }
}

impl Stage {
    /// Spools from the store what ends after the horizon: closed slots in slices of bounded
    /// size (each one record, so a crash in between is harmless), the rest as open buckets.
    pub(super) fn catch_up(
        &mut self,
        store: &Store,
        series: &[(crate::store::SeriesInfo, u32)],
        close_to: i64,
    ) -> Result<(), crate::store::Error> {
        let max_res = series.iter().map(|s| i64::from(s.1)).max().unwrap_or(1);
        // About `max_batch` buckets per record, so each one fits one request.
        let budget = self.output.config.max_batch.max(1) as usize;
        let per_slice = (budget / series.len().max(1)).max(1) as i64;
        let width = (per_slice * max_res).clamp(max_res, 86_400.max(max_res));
        let mut from = self.horizon;
        while from < close_to {
            let to = (from + width).min(close_to);
            let mut entries = Vec::new();
            for (info, res) in series {
                let r = i64::from(*res);
                let buckets = store.read(info.id, *res, from - r + 1, to - r + 1)?;
                if !buckets.is_empty() {
                    entries.push(Entry {
                        series: info.series.clone(),
                        kind: info.kind,
                        resolution: *res,
                        buckets,
                    });
                }
            }
            if !entries.is_empty() {
                let rec = Record {
                    seq: 0,
                    horizon: to,
                    entries,
                    events: self.events_marker(),
                };
                let points = rec.points();
                match self.output.spool().append(rec) {
                    Ok(_) => {
                        tracing::info!(output = %self.output.config.name, buckets = points,
                            from, to, "Spooled buckets committed before the last stop.");
                    }
                    Err(spool::Error::TooLarge(bytes)) => {
                        self.output.stats.dropped.fetch_add(points, Relaxed);
                        tracing::error!(output = %self.output.config.name, bytes,
                            "A catch-up record is larger than the spool allows; dropped.");
                    }
                    Err(error) => {
                        tracing::error!(output = %self.output.config.name, %error,
                            "Could not spool catch-up buckets; they stay open for a retry.");
                        break;
                    }
                }
            }
            self.horizon = to;
            from = to;
        }
        for (info, res) in series {
            let r = i64::from(*res);
            for (start, bucket) in store.read(info.id, *res, self.horizon - r + 1, i64::MAX)? {
                self.open
                    .entry(info.series.clone())
                    .or_insert_with(|| OpenSeries::new(info.kind, *res))
                    .add(start, bucket);
            }
        }
        Ok(())
    }

    /// Appends the amendments of the output's cursor that a crash kept from their append (see
    /// `amend`); call before [`Stage::catch_up`], with the horizon the output starts from.
    pub(super) fn recover_amendments(&mut self, store: &Store, cursor: &[u8]) {
        let name = &self.output.config.name;
        let (epoch, rec) = match amend::decode(cursor) {
            Ok(got) => got,
            Err(error) => {
                self.output.error();
                tracing::error!(output = %name, %error, "The amendment cursor does not decode; amendments committed just before the last stop may be missing.");
                return;
            }
        };
        let (spool_epoch, next) = {
            let sp = self.output.spool();
            (sp.epoch(), sp.next_seq())
        };
        if epoch != spool_epoch || rec.seq < next {
            return; // spent: appended, or the spool was made anew
        }
        // Slots after the horizon are read back whole by the catch-up.
        let horizon = self.horizon;
        let late: Vec<Late> = rec
            .entries
            .into_iter()
            .flat_map(|e| {
                let r = i64::from(e.resolution);
                let (series, kind, res) = (e.series, e.kind, e.resolution);
                e.buckets
                    .into_iter()
                    .filter(move |(start, _)| start + r <= horizon)
                    .map(move |(start, b)| (series.clone(), kind, res, start, b))
            })
            .collect();
        if late.is_empty() {
            return;
        }
        let entries = amend::group(late.iter().cloned());
        let amended: Vec<usize> = (0..entries.len()).collect();
        let mut rec = Record {
            seq: 0,
            horizon,
            entries,
            events: self.events_marker(),
        };
        super::complete_amendments(store, &self.output, &mut rec, &amended);
        let points = rec.points();
        match self.output.spool().append(rec) {
            Ok(_) => tracing::info!(output = %name, buckets = points,
                "Spooled late buckets whose append the last stop interrupted."),
            Err(spool::Error::TooLarge(bytes)) => {
                self.output.stats.dropped.fetch_add(points, Relaxed);
                tracing::error!(output = %name, bytes, "A record of late buckets is larger than the spool allows; dropped.");
            }
            Err(error) => {
                self.output.error();
                tracing::error!(output = %name, %error, "Could not spool late buckets; will retry.");
                self.unspooled.clone_from(&late);
                self.amend = late;
            }
        }
    }

    /// A spool without records gets an empty one, which makes its epoch, horizon and events
    /// position durable from the start: a crash before the first close then resumes from
    /// them (and an amendment cursor of this spool matches its epoch).
    pub(super) fn start_spool(&mut self) -> Result<(), spool::Error> {
        if self.output.spool().horizon().is_some() {
            return Ok(());
        }
        let rec = Record {
            seq: 0,
            horizon: self.horizon,
            entries: Vec::new(),
            events: self.events_marker(),
        };
        self.output.spool().append(rec).map(drop)
    }

    /// What a record says of events with none in it yet (`None` for outputs without events).
    fn events_marker(&self) -> Option<record::Events> {
        self.events_through.map(|through| record::Events {
            through,
            list: Vec::new(),
        })
    }

    /// The next record: closed buckets by series, then amendments (`amended` lists the
    /// indexes of amendment entries, which carbon and remote_write complete from the store),
    /// and which events to add to it.
    pub(super) fn close(&mut self, now: i64, last_event_id: u64) -> Option<Work> {
        let to = now - self.output.config.grace;
        let mut entries = Vec::new();
        if to > self.horizon {
            self.open.retain(|series, open| {
                let r = i64::from(open.resolution);
                let cut = open.buckets.partition_point(|b| b.0 < to - r + 1);
                if cut > 0 {
                    entries.push(Entry {
                        series: series.clone(),
                        kind: open.kind,
                        resolution: open.resolution,
                        buckets: open.buckets.drain(..cut).collect(),
                    });
                }
                !open.buckets.is_empty()
            });
            entries.sort_by(|a, b| a.series.as_str().cmp(b.series.as_str()));
            self.horizon = to;
        }
        let mut amended = Vec::new();
        for entry in amend::group(self.amend.drain(..)) {
            amended.push(entries.len());
            entries.push(entry);
        }
        let mut events = None;
        if let Some(through) = self.events_through
            && last_event_id > through
        {
            // At most `max_batch` per close; more wait for the next one.
            let upto = last_event_id.min(through + self.output.config.max_batch.max(1));
            events = Some((through, upto));
            self.events_through = Some(upto);
        }
        let retry = self.retry.take();
        if entries.is_empty() && retry.is_none() && events.is_none() {
            return None;
        }
        let mut rec = Record {
            seq: 0,
            horizon: self.horizon,
            entries,
            events: self.events_marker(),
        };
        if let Some(mut older) = retry {
            // Amendments of this round were counted from index 0 of the new entries.
            let shift = older.entries.len();
            absorb(&mut older, rec);
            rec = older;
            amended.iter_mut().for_each(|i| *i += shift);
        }
        Some(Work {
            output: self.output.clone(),
            record: rec,
            amended,
            events,
        })
    }
}
