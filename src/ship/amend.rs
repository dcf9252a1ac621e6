//! Amendments (data for a slot an output has already closed) survive a crash between their
//! store commit and their spool append.
//!
//! Closed buckets need nothing of this: at start, [`super::Ship::open`] re-reads from the store
//! every bucket ending after the spool's horizon. An amendment's slot ends at or before that
//! horizon, so from its commit until the append of the record that carries it, it exists for
//! the output only in memory. Hence the commit carries it twice: as its deltas, and in the store
//! cursor `ship/<output>` — cursors are part of the same WAL record, so both are durable or
//! neither. The cursor holds the spool's epoch, the seq the next appended record gets (the one
//! that will carry the amendments, or absorb them after a failed append), and every amendment
//! of the output not yet appended. It is written only by commits with amendments; a cursor
//! whose seq the spool has reached is spent.
//!
//! At start, an unspent cursor's amendments whose slot ends at or before the horizon the output
//! starts from are appended before anything else; later slots are re-read whole by the
//! catch-up, which already includes them. FORMAT.md, "Spool", describes the encoding.

use super::record::{Entry, Record};
use crate::aggregate::Bucket;
use crate::encoding;
use crate::metric::{Kind, Series};
use std::collections::BTreeMap;

/// Store cursors of outputs start with this (inputs' cursors never do).
const KEY_PREFIX: &str = "ship/";

/// One late delta: series, kind, resolution, slot start, the delta.
pub type Late = (Series, Kind, u32, i64, Bucket);

/// The store cursor that holds an output's amendments not yet appended.
pub fn key(output: &str) -> String {
    format!("{KEY_PREFIX}{output}")
}

/// Amendments as record entries: by series and resolution, each slot once (deltas of one slot
/// merged in the order given) and in slot order.
pub fn group(late: impl IntoIterator<Item = Late>) -> Vec<Entry> {
    let mut by: BTreeMap<(Series, u32), (Kind, BTreeMap<i64, Bucket>)> = BTreeMap::new();
    for (series, kind, res, start, bucket) in late {
        let slots = &mut by
            .entry((series, res))
            .or_insert_with(|| (kind, BTreeMap::new()))
            .1;
        match slots.entry(start) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(bucket);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().merge(&bucket),
        }
    }
    by.into_iter()
        .map(|((series, resolution), (kind, slots))| Entry {
            series,
            kind,
            resolution,
            buckets: slots.into_iter().collect(),
        })
        .collect()
}

/// The cursor's value: `epoch <u64 LE>`, then a spool record (FORMAT.md) whose seq is the seq
/// the amendments will be appended with, whose horizon is the output's when they were staged,
/// and whose entries are the amendments.
pub fn encode(epoch: u64, seq: u64, horizon: i64, late: &[Late]) -> Vec<u8> {
    let rec = Record {
        seq,
        horizon,
        entries: group(late.iter().cloned()),
        events: None,
    };
    let mut out = Vec::with_capacity(64 + late.len() * 32);
    out.extend_from_slice(&epoch.to_le_bytes());
    rec.encode(&mut out);
    out
}

/// `(epoch, record)` of a cursor's value.
pub fn decode(value: &[u8]) -> Result<(u64, Record), encoding::Error> {
    let (epoch, rest) = value
        .split_first_chunk::<8>()
        .ok_or(encoding::Error::Invalid(
            "an amendment cursor shorter than 8 bytes",
        ))?;
    let rec = Record::decode(rest)?;
    if rec.events.is_some() {
        return Err(encoding::Error::Invalid("events in an amendment cursor"));
    }
    Ok((u64::from_le_bytes(*epoch), rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn late(name: &str, res: u32, start: i64, v: f64) -> Late {
        let kind = Kind::Counter;
        (
            Series::parse(name).unwrap(),
            kind,
            res,
            start,
            Bucket::new(kind, v, start),
        )
    }

    #[test]
    fn groups_by_series_and_slot_and_round_trips() {
        let list = vec![
            late("b", 10, 20, 1.0),
            late("a", 10, 30, 2.0),
            late("b", 10, 10, 3.0),
            late("b", 10, 20, 4.0),
            late("b", 60, 0, 5.0),
        ];
        let entries = group(list.clone());
        type Slots = Vec<(i64, f64)>;
        let got: Vec<(String, u32, Slots)> = entries
            .iter()
            .map(|e| {
                (
                    e.series.to_string(),
                    e.resolution,
                    e.buckets.iter().map(|(s, b)| (*s, b.sum)).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".into(), 10, vec![(30, 2.0)]),
                ("b".into(), 10, vec![(10, 3.0), (20, 5.0)]),
                ("b".into(), 60, vec![(0, 5.0)]),
            ]
        );
        let value = encode(0xfeed, 42, 1000, &list);
        let (epoch, rec) = decode(&value).unwrap();
        assert_eq!((epoch, rec.seq, rec.horizon), (0xfeed, 42, 1000));
        assert_eq!(rec.entries, entries);
        assert!(decode(&value[..7]).is_err());
        assert!(decode(&value[..value.len() - 1]).is_err());
    }
}
