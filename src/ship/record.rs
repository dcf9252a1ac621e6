//! One spool record: the buckets one output takes from one close of the pipeline, in a
//! self-delimiting encoding shared by the spool files and tally's ingest requests (FORMAT.md,
//! "Spool"). Buckets are grouped per series and sorted by slot start, so order per series holds
//! within a record as it does across records. A `tally` output's records also carry the
//! store's events, in id order, with the id up to which every event is in.

use crate::aggregate::Bucket;
use crate::encoding::{self, Reader};
use crate::metric::{Kind, Series};
use crate::store::Event;

/// One series' buckets at one resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub series: Series,
    pub kind: Kind,
    pub resolution: u32,
    /// `(slot start, bucket)`, ascending.
    pub buckets: Vec<(i64, Bucket)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Strictly increasing per spool, from 1.
    pub seq: u64,
    /// Every bucket of the output's tier ending at or before this time (Unix seconds) that the
    /// store held when the record was made is in this record or an earlier one.
    pub horizon: i64,
    pub entries: Vec<Entry>,
    /// Events (outputs that ship them: `tally`); `None` in the others' records.
    pub events: Option<Events>,
}

/// The events a record carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Events {
    /// Every event of the sender's store with an id up to this one is in this record or an
    /// earlier one.
    pub through: u64,
    /// By id, each above the previous record's `through` and at most this one's.
    pub list: Vec<Event>,
}

impl Record {
    /// The record with every sketch coarse (`Bucket::coarsen`): what a central tally older than
    /// the ±0.5 % sketches can read.
    pub fn coarsened(&self) -> Record {
        let mut r = self.clone();
        for e in &mut r.entries {
            for (_, b) in &mut e.buckets {
                b.coarsen();
            }
        }
        r
    }

    /// Buckets and events in the record (what the `sent` and `dropped` counters count).
    pub fn points(&self) -> u64 {
        let events = self.events.as_ref().map_or(0, |e| e.list.len() as u64);
        self.entries
            .iter()
            .map(|e| e.buckets.len() as u64)
            .sum::<u64>()
            + events
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        encoding::put_uvarint(out, self.seq);
        encoding::put_ivarint(out, self.horizon);
        encode_entries(&self.entries, out);
        if let Some(ev) = &self.events {
            encoding::put_uvarint(out, ev.through);
            encoding::put_uvarint(out, ev.list.len() as u64);
            for e in &ev.list {
                encoding::put_uvarint(out, e.id);
                encoding::put_ivarint(out, e.when);
                encoding::put_blob(out, e.what.as_bytes());
                encoding::put_uvarint(out, e.tags.len() as u64);
                for t in &e.tags {
                    encoding::put_blob(out, t.as_bytes());
                }
                encoding::put_blob(out, e.data.as_bytes());
            }
        }
    }

    pub fn decode(buf: &[u8]) -> Result<Record, encoding::Error> {
        let mut r = Reader::new(buf);
        let seq = r.uvarint()?;
        let horizon = r.ivarint()?;
        let entries = decode_entries(&mut r)?;
        let events = if r.is_empty() {
            None
        } else {
            Some(decode_events(&mut r)?)
        };
        if !r.is_empty() {
            return Err(encoding::Error::Invalid("trailing bytes after a record"));
        }
        Ok(Record {
            seq,
            horizon,
            entries,
            events,
        })
    }
}

fn decode_events(r: &mut Reader<'_>) -> Result<Events, encoding::Error> {
    let through = r.uvarint()?;
    let n = r.uvarint()?;
    // Every event takes at least 6 bytes.
    let mut list: Vec<Event> = Vec::with_capacity((n as usize).min(r.remaining().len() / 6));
    for _ in 0..n {
        let id = r.uvarint()?;
        if id > through || list.last().is_some_and(|e| e.id >= id) {
            return Err(encoding::Error::Invalid("event ids out of order"));
        }
        let when = r.ivarint()?;
        let what = r.str()?.to_string();
        let tags_len = r.uvarint()?;
        let mut tags = Vec::with_capacity((tags_len as usize).min(r.remaining().len()));
        for _ in 0..tags_len {
            tags.push(r.str()?.to_string());
        }
        let data = r.str()?.to_string();
        list.push(Event {
            id,
            when,
            what,
            tags,
            data,
        });
    }
    Ok(Events { through, list })
}

fn encode_entries(entries: &[Entry], out: &mut Vec<u8>) {
    encoding::put_uvarint(out, entries.len() as u64);
    for e in entries {
        encoding::put_blob(out, e.series.as_str().as_bytes());
        out.push(e.kind.code());
        encoding::put_uvarint(out, u64::from(e.resolution));
        encoding::put_uvarint(out, e.buckets.len() as u64);
        let mut prev = 0i64;
        for (start, b) in &e.buckets {
            encoding::put_ivarint(out, start.wrapping_sub(prev));
            prev = *start;
            b.encode(out);
        }
    }
}

fn decode_entries(r: &mut Reader<'_>) -> Result<Vec<Entry>, encoding::Error> {
    let n = r.uvarint()?;
    // Every entry takes at least 5 bytes: a bound on what a length may claim.
    let mut entries = Vec::with_capacity((n as usize).min(r.remaining().len() / 5));
    for _ in 0..n {
        let name = r.str()?;
        let series =
            Series::parse(name).map_err(|_| encoding::Error::Invalid("bad series name"))?;
        if series.as_str() != name {
            return Err(encoding::Error::Invalid("series name not canonical"));
        }
        let kind = Kind::from_code(r.u8()?).ok_or(encoding::Error::Invalid("bad kind"))?;
        let resolution = u32::try_from(r.uvarint()?)
            .ok()
            .filter(|&r| r > 0)
            .ok_or(encoding::Error::Invalid("bad resolution"))?;
        let count = r.uvarint()?;
        let mut buckets = Vec::with_capacity((count as usize).min(r.remaining().len() / 3));
        let mut prev = 0i64;
        for _ in 0..count {
            let start = prev.wrapping_add(r.ivarint()?);
            if start.rem_euclid(i64::from(resolution)) != 0 {
                return Err(encoding::Error::Invalid("slot start off the resolution"));
            }
            if buckets.last().is_some_and(|(s, _)| *s >= start) {
                return Err(encoding::Error::Invalid("buckets out of order"));
            }
            prev = start;
            buckets.push((start, Bucket::decode(r)?));
        }
        entries.push(Entry {
            series,
            kind,
            resolution,
            buckets,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample(seq: u64) -> Record {
        let mut timer = Bucket::new(Kind::Timer, 5.0, 100);
        timer.add(7.5, 104);
        Record {
            seq,
            horizon: 120,
            entries: vec![
                Entry {
                    series: Series::parse("web.latency;dc=eu").unwrap(),
                    kind: Kind::Timer,
                    resolution: 10,
                    buckets: vec![(100, timer), (110, Bucket::new(Kind::Timer, 1.0, 111))],
                },
                Entry {
                    series: Series::parse("web.hits").unwrap(),
                    kind: Kind::Counter,
                    resolution: 10,
                    buckets: vec![(-10, Bucket::new(Kind::Counter, 3.0, -5))],
                },
            ],
            events: None,
        }
    }

    fn with_events(mut rec: Record) -> Record {
        let event = |id, what: &str| Event {
            id,
            when: 1_700_000_000 + id as i64,
            what: what.into(),
            tags: vec!["deploy".into(), "web".into()],
            data: format!("{{\"n\": {id}}}"),
        };
        rec.events = Some(Events {
            through: 9,
            list: vec![event(3, "v1"), event(7, "v2 ✓")],
        });
        rec
    }

    #[test]
    fn round_trip() {
        for rec in [sample(42), with_events(sample(43))] {
            let mut buf = Vec::new();
            rec.encode(&mut buf);
            assert_eq!(Record::decode(&buf).unwrap(), rec);
        }
        assert_eq!(sample(1).points(), 3);
        assert_eq!(with_events(sample(1)).points(), 5, "buckets and events");
        let mut marker = sample(1);
        marker.events = Some(Events::default());
        let mut buf = Vec::new();
        marker.encode(&mut buf);
        assert_eq!(
            Record::decode(&buf).unwrap(),
            marker,
            "no events, a through"
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        with_events(sample(1)).encode(&mut buf);
        let mut without = Vec::new();
        sample(1).encode(&mut without);
        for n in 0..buf.len() {
            // The prefix that ends with the entries is a valid record without events.
            if n != without.len() {
                assert!(Record::decode(&buf[..n]).is_err(), "prefix of {n} bytes");
            }
        }
    }

    #[test]
    fn events_out_of_order_or_past_through_are_errors() {
        for (through, ids) in [(9, [7, 3]), (5, [3, 7]), (9, [3, 3])] {
            let mut rec = with_events(sample(1));
            let ev = rec.events.as_mut().unwrap();
            ev.through = through;
            ev.list[0].id = ids[0];
            ev.list[1].id = ids[1];
            let mut buf = Vec::new();
            rec.encode(&mut buf);
            assert!(Record::decode(&buf).is_err(), "{through} {ids:?}");
        }
    }
}

#[cfg(test)]
mod sketch_round_trip {
    use crate::aggregate::Bucket;
    use crate::encoding::Reader;
    use crate::metric::Kind;

    #[test]
    fn quantiles_survive_encoding() {
        for split in 1..48 {
            let mut b = Bucket::new(Kind::Timer, 0.0, 0);
            for i in 1..split {
                b.add(i as f64 * 0.25, 0);
            }
            let mut out = Vec::new();
            b.encode(&mut out);
            let back = Bucket::decode(&mut Reader::new(&out)).unwrap();
            for q in [0.5, 0.9, 0.99] {
                assert_eq!(b.quantile(q), back.quantile(q), "split {split} q {q}");
            }
        }
    }
}
