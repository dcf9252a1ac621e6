//! The tally → tally wire format: a POST to `<url>/api/ingest` whose body, after snappy
//! (block format, `Content-Encoding: snappy`), is
//!
//! ```text
//! magic "TLYING01" | epoch <u64 LE> | frames: len <u32 LE> | crc32 <u32 LE> | spool record
//! ```
//!
//! Each frame carries one spool record unchanged, with its sequence number (and the sender's
//! events). The receiver keeps per epoch (one per sending spool) the highest sequence number it
//! merged, durably and in the same store commit as the buckets, and skips records at or below
//! it: a batch resent after a timeout, or after the sender restarted without its ack, is not
//! counted twice. Events are stored before that commit, each with its origin (epoch, id on the
//! sender), which the store adds only once: a crash between the two repeats nothing.

use super::record::{Entry, Record};
use crate::frame;
use crate::metric::Series;

pub const MAGIC: &[u8; 8] = b"TLYING01";
pub const CONTENT_TYPE: &str = "application/x-tally-ingest";
/// Most bytes a request may claim once decompressed.
pub const MAX_DECOMPRESSED: usize = 256 << 20;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("body is not snappy block data: {0}")]
    Snappy(String),
    #[error("body would decompress to {0} bytes, more than allowed")]
    TooLarge(usize),
    #[error("not a tally ingest batch (bad magic)")]
    Magic,
    #[error("record {index}: {reason}")]
    Record { index: usize, reason: String },
    #[error("records out of order: {0} after {1}")]
    Order(u64, u64),
}

/// tally's own `tally.*` series under `prefix` (`servers.<host>.tally.…`), so the self-metrics
/// of many hosts stay apart on a central tally.
pub fn own_name(series: &Series, prefix: Option<&str>) -> Option<Series> {
    let prefix = prefix?;
    let p = series.path();
    if p != "tally" && !p.starts_with("tally.") {
        return None;
    }
    Series::parse(&format!("{prefix}.{}", series.as_str())).ok()
}

/// The records each of `n` central tallies gets: every entry to the one `route` picks by its
/// series name, the events to the first, tally's own series renamed (`own_name`). A record
/// keeps its sequence number everywhere (each central skips what it merged before from this
/// spool). `None`: nothing for that central in these records (with one central, it gets every
/// record, also empty ones).
pub fn split(
    records: &[Record],
    self_prefix: Option<&str>,
    mut route: impl FnMut(&str) -> usize,
    n: usize,
) -> Vec<Option<Vec<Record>>> {
    let mut out: Vec<Vec<Record>> = vec![Vec::new(); n.max(1)];
    for rec in records {
        let mut parts: Vec<Record> = (0..out.len())
            .map(|i| Record {
                seq: rec.seq,
                horizon: rec.horizon,
                entries: Vec::new(),
                events: if i == 0 { rec.events.clone() } else { None },
            })
            .collect();
        for e in &rec.entries {
            let series = own_name(&e.series, self_prefix).unwrap_or_else(|| e.series.clone());
            let i = if out.len() == 1 {
                0
            } else {
                route(series.as_str()).min(out.len() - 1)
            };
            parts[i].entries.push(Entry {
                series,
                kind: e.kind,
                resolution: e.resolution,
                buckets: e.buckets.clone(),
            });
        }
        for (i, part) in parts.into_iter().enumerate() {
            if out.len() == 1 || !part.entries.is_empty() || part.events.is_some() {
                out[i].push(part);
            }
        }
    }
    out.into_iter()
        .map(|r| (!r.is_empty()).then_some(r))
        .collect()
}

/// The compressed request body.
pub fn encode(epoch: u64, records: &[Record]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(4096);
    raw.extend_from_slice(MAGIC);
    raw.extend_from_slice(&epoch.to_le_bytes());
    for r in records {
        let start = frame::begin(&mut raw);
        r.encode(&mut raw);
        frame::end(&mut raw, start);
    }
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compresses any input below 4 GiB")
}

/// The epoch and records of a compressed request body, checked whole.
pub fn decode(body: &[u8]) -> Result<(u64, Vec<Record>), Error> {
    let len = snap::raw::decompress_len(body).map_err(|e| Error::Snappy(e.to_string()))?;
    if len > MAX_DECOMPRESSED {
        return Err(Error::TooLarge(len));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Error::Snappy(e.to_string()))?;
    if raw.len() < 16 || &raw[..8] != MAGIC {
        return Err(Error::Magic);
    }
    let epoch = u64::from_le_bytes(raw[8..16].try_into().expect("8 bytes"));
    let mut rest = &raw[16..];
    let mut records: Vec<Record> = Vec::new();
    while !rest.is_empty() {
        let index = records.len();
        let bad = |reason: &str| Error::Record {
            index,
            reason: reason.to_string(),
        };
        let (body, after) = frame::split(rest, usize::MAX).map_err(|e| match e {
            frame::Error::Long => bad("frame longer than the body"),
            e => bad(&e.to_string()),
        })?;
        let rec = Record::decode(body).map_err(|e| bad(&e.to_string()))?;
        if let Some(prev) = records.last()
            && rec.seq <= prev.seq
        {
            return Err(Error::Order(rec.seq, prev.seq));
        }
        records.push(rec);
        rest = after;
    }
    Ok((epoch, records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::sketch::{Accuracy, Sketch};
    use crate::aggregate::{Bucket, Extra};
    use crate::metric::{Kind, Series};
    use crate::ship::record::Entry;

    fn rec(seq: u64) -> Record {
        Record {
            seq,
            horizon: 100,
            entries: vec![Entry {
                series: Series::parse("a.b").unwrap(),
                kind: Kind::Timer,
                resolution: 10,
                buckets: vec![(90, Bucket::new(Kind::Timer, 3.0, 91))],
            }],
            events: None,
        }
    }

    /// The request body as FORMAT.md describes it, byte for byte (the framing as written
    /// before it moved to `crate::frame`; the timer's extra tag 3, a ±0.5 % sketch); it decodes.
    /// A body of the version before issue 18 (tag 1, a ±1 % sketch) still decodes, as coarse.
    #[test]
    fn a_body_is_framed_as_before() {
        let body = encode(7, &[rec(5), rec(6)]);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "544c59494e47303107000000000000001f0000000e0a096f05c8010103612e62020a01\
             b401010000000000000840b601030001dc0101001f0000007d33217c06c8010103612e\
             62020a01b401010000000000000840b601030001dc010100"
        );
        let (epoch, got) = decode(&body).unwrap();
        assert_eq!((epoch, got), (7, vec![rec(5), rec(6)]));
        let old = "544c59494e47303107000000000000001e0000001324024a05c8010103612e62020a01\
                   b401010000000000000840b6010100016e01001e0000000b01a30e06c8010103612e62\
                   020a01b401010000000000000840b6010100016e0100";
        let old: Vec<u8> = (0..old.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&old[i..i + 2], 16).unwrap())
            .collect();
        let old = snap::raw::Encoder::new().compress_vec(&old).unwrap();
        let coarse = |seq| {
            let mut r = rec(seq);
            let mut k = Sketch::with_accuracy(Accuracy::Coarse);
            k.add(3.0);
            r.entries[0].buckets[0].1.extra = Extra::Sketch(Box::new(k));
            r
        };
        assert_eq!(decode(&old).unwrap(), (7, vec![coarse(5), coarse(6)]));
    }

    #[test]
    fn split_routes_entries_renames_own_series_and_sends_events_to_the_first() {
        let mut r = rec(5);
        r.entries.push(Entry {
            series: Series::parse("tally.store.series").unwrap(),
            kind: Kind::Gauge,
            resolution: 10,
            buckets: vec![(90, Bucket::new(Kind::Gauge, 1.0, 91))],
        });
        r.events = Some(Default::default());
        let parts = split(
            &[r],
            Some("servers.h1"),
            |s| usize::from(s.starts_with("servers")),
            2,
        );
        let names = |i: usize| -> Vec<String> {
            parts[i].as_ref().unwrap()[0]
                .entries
                .iter()
                .map(|e| e.series.as_str().to_string())
                .collect()
        };
        assert_eq!(names(0), ["a.b"]);
        assert_eq!(names(1), ["servers.h1.tally.store.series"]);
        assert!(parts[0].as_ref().unwrap()[0].events.is_some());
        assert!(parts[1].as_ref().unwrap()[0].events.is_none());
        assert_eq!(parts[1].as_ref().unwrap()[0].seq, 5);
        // One central gets every record, even an empty one; none named: no renaming.
        let empty = Record {
            entries: Vec::new(),
            ..rec(6)
        };
        let one = split(std::slice::from_ref(&empty), None, |_| 0, 1);
        assert_eq!(one, vec![Some(vec![empty.clone()])]);
        assert_eq!(split(&[empty], None, |_| 0, 2), vec![None, None]);
    }

    #[test]
    fn round_trip() {
        let body = encode(7, &[rec(3), rec(4)]);
        assert_eq!(decode(&body).unwrap(), (7, vec![rec(3), rec(4)]));
    }

    #[test]
    fn garbage_and_damage_are_errors() {
        assert!(decode(b"hello").is_err());
        let body = encode(7, &[rec(4), rec(3)]);
        assert_eq!(decode(&body), Err(Error::Order(3, 4)));
        let mut raw = snap::raw::Decoder::new()
            .decompress_vec(&encode(7, &[rec(1)]))
            .unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        assert!(matches!(decode(&body), Err(Error::Record { .. })));
    }
}
