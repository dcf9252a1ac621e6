//! Events (`{id, when, what, tags, data}`): few, so they live in one append-only file of
//! CRC-framed records that is read whole at open and kept in memory sorted by time. Each
//! `add` is one append and one fsync; a torn last record is cut off at the next open. An event
//! shipped from another tally carries its [`Origin`], so that a delivery repeated after a crash
//! adds it only once.

use super::file::{self, io};
use super::{Error, Event};
use crate::encoding::{Reader, put_blob, put_ivarint, put_uvarint};
use crate::frame;
use rustc_hash::FxHashSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"TLYEVT01";
pub const FILE: &str = "events";

/// Where a shipped event came from: the sending spool's epoch and the event's id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin {
    pub source: u64,
    pub id: u64,
}

#[derive(Debug)]
pub struct Events {
    path: PathBuf,
    /// Sorted by `(when, id)`.
    list: Vec<Event>,
    next_id: u64,
    /// Origins of the events received from other tallies.
    origins: FxHashSet<Origin>,
    /// Open for appending (writable stores only), and the valid length.
    file: Option<(File, u64)>,
}

fn encode(e: &Event, origin: Option<Origin>) -> Vec<u8> {
    let mut b = Vec::with_capacity(48 + e.what.len() + e.data.len());
    put_uvarint(&mut b, e.id);
    put_ivarint(&mut b, e.when);
    put_blob(&mut b, e.what.as_bytes());
    put_uvarint(&mut b, e.tags.len() as u64);
    for t in &e.tags {
        put_blob(&mut b, t.as_bytes());
    }
    put_blob(&mut b, e.data.as_bytes());
    if let Some(o) = origin {
        put_uvarint(&mut b, o.source);
        put_uvarint(&mut b, o.id);
    }
    b
}

fn decode(body: &[u8]) -> Result<(Event, Option<Origin>), crate::encoding::Error> {
    let mut r = Reader::new(body);
    let id = r.uvarint()?;
    let when = r.ivarint()?;
    let what = r.str()?.to_string();
    let n = r.uvarint()?;
    let mut tags = Vec::new();
    for _ in 0..n {
        tags.push(r.str()?.to_string());
    }
    let data = r.str()?.to_string();
    let origin = if r.is_empty() {
        None
    } else {
        Some(Origin {
            source: r.uvarint()?,
            id: r.uvarint()?,
        })
    };
    if !r.is_empty() {
        return Err(crate::encoding::Error::Invalid("trailing bytes in event"));
    }
    let event = Event {
        id,
        when,
        what,
        tags,
        data,
    };
    Ok((event, origin))
}

impl Events {
    /// Loads `dir/events`. A writable store cuts off a torn tail and keeps the file open.
    pub fn open(dir: &Path, writable: bool) -> Result<Events, Error> {
        let path = dir.join(FILE);
        let buf = file::read_optional(&path)?.unwrap_or_default();
        let mut list = Vec::new();
        let mut origins = FxHashSet::default();
        let mut good = 0u64;
        if !buf.is_empty() {
            file::check_magic(&path, &buf, MAGIC)?;
            let mut frames = frame::Frames::new(&buf[8..], file::MAX_FRAME);
            for (_, body) in frames.by_ref() {
                match decode(body) {
                    Ok((e, origin)) => {
                        origins.extend(origin);
                        list.push(e);
                    }
                    // A record with a good checksum that does not decode: skip it, keep the rest.
                    Err(err) => {
                        tracing::error!(path = %path.display(), %err, "skipping an undecodable event")
                    }
                }
            }
            good = 8 + frames.good() as u64;
            if !frames.clean() {
                tracing::warn!(path = %path.display(), at = good, "events file has a torn tail; cutting it off");
            }
        }
        list.sort_by_key(|e| (e.when, e.id));
        let next_id = list.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        let file = if writable {
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            if good == 0 {
                f.set_len(0).map_err(io(&path))?;
                f.write_all_at(MAGIC, 0).map_err(io(&path))?;
                good = 8;
                f.sync_all().map_err(io(&path))?;
                file::sync_dir(dir)?;
            } else if good != buf.len() as u64 {
                f.set_len(good).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
            Some((f, good))
        } else {
            None
        };
        Ok(Events {
            path,
            list,
            next_id,
            origins,
            file,
        })
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Appends an event durably and returns its id.
    pub fn add(
        &mut self,
        when: i64,
        what: &str,
        tags: &[String],
        data: &str,
    ) -> Result<u64, Error> {
        self.add_from(None, when, what, tags, data)
            .map(|id| id.expect("only an origin makes a duplicate"))
    }

    /// Like [`Events::add`], for an event received from elsewhere: `Ok(None)` when an event
    /// of the same origin is already here.
    pub fn add_from(
        &mut self,
        origin: Option<Origin>,
        when: i64,
        what: &str,
        tags: &[String],
        data: &str,
    ) -> Result<Option<u64>, Error> {
        let Some((file, len)) = &mut self.file else {
            return Err(Error::ReadOnly);
        };
        if origin.is_some_and(|o| self.origins.contains(&o)) {
            return Ok(None);
        }
        let event = Event {
            id: self.next_id,
            when,
            what: what.to_string(),
            tags: tags.to_vec(),
            data: data.to_string(),
        };
        let mut rec = Vec::new();
        frame::put(&mut rec, &encode(&event, origin));
        if let Err(e) = file
            .write_all_at(&rec, *len)
            .and_then(|()| file.sync_data())
        {
            let _ = file.set_len(*len);
            return Err(io(&self.path)(e));
        }
        *len += rec.len() as u64;
        self.next_id += 1;
        let at = self
            .list
            .partition_point(|e| (e.when, e.id) < (when, event.id));
        let id = event.id;
        self.list.insert(at, event);
        self.origins.extend(origin);
        Ok(Some(id))
    }

    /// The id the newest event got (0: none yet). Every id up to it is taken.
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// Events with `after < id <= upto`, by id.
    pub fn by_id(&self, after: u64, upto: u64) -> Vec<Event> {
        let mut out: Vec<Event> = self
            .list
            .iter()
            .filter(|e| e.id > after && e.id <= upto)
            .cloned()
            .collect();
        out.sort_unstable_by_key(|e| e.id);
        out
    }

    /// Events with `from <= when <= until`, by time then id.
    pub fn range(&self, from: i64, until: i64) -> Vec<Event> {
        let lo = self.list.partition_point(|e| e.when < from);
        let hi = self.list.partition_point(|e| e.when <= until);
        self.list.get(lo..hi).map(<[_]>::to_vec).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn events_persist_in_time_order_and_survive_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut ev = Events::open(dir.path(), true).unwrap();
        assert_eq!(
            ev.add(200, "deploy v2", &["deploy".into()], "x").unwrap(),
            1
        );
        assert_eq!(ev.add(100, "deploy v1", &[], "").unwrap(), 2);
        assert_eq!(ev.add(200, "restart", &[], "").unwrap(), 3);
        let ids = |v: Vec<Event>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(ev.range(0, 1000)), vec![2, 1, 3]);
        assert_eq!(ids(ev.range(100, 100)), vec![2]);
        assert_eq!(ids(ev.range(101, 200)), vec![1, 3]);
        drop(ev);
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[7, 0, 0, 0, 1, 2]);
        std::fs::write(&path, &bytes).unwrap();
        let ro = Events::open(dir.path(), false).unwrap();
        assert_eq!(ro.len(), 3);
        assert!(matches!(ro.range(0, 0).len(), 0));
        let mut ev = Events::open(dir.path(), true).unwrap();
        assert_eq!(ev.add(50, "later", &[], "").unwrap(), 4);
        drop(ev);
        let ev = Events::open(dir.path(), false).unwrap();
        assert_eq!(ids(ev.range(i64::MIN, i64::MAX)), vec![4, 2, 1, 3]);
        let mut ro = ev;
        assert!(matches!(ro.add(1, "x", &[], ""), Err(Error::ReadOnly)));
    }

    #[test]
    fn an_origin_is_added_once_also_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut ev = Events::open(dir.path(), true).unwrap();
        let o = Origin { source: 9, id: 4 };
        assert_eq!(ev.add(300, "local", &[], "").unwrap(), 1);
        assert_eq!(ev.add_from(Some(o), 100, "a", &[], "d").unwrap(), Some(2));
        assert_eq!(ev.add_from(Some(o), 100, "a", &[], "d").unwrap(), None);
        let other = Origin { source: 8, id: 4 };
        assert_eq!(
            ev.add_from(Some(other), 100, "a", &[], "d").unwrap(),
            Some(3)
        );
        assert_eq!(ev.last_id(), 3);
        drop(ev);
        let mut ev = Events::open(dir.path(), true).unwrap();
        assert_eq!(ev.add_from(Some(o), 100, "a", &[], "d").unwrap(), None);
        assert_eq!(ev.add_from(Some(other), 1, "x", &[], "").unwrap(), None);
        assert_eq!(ev.len(), 3);
        let ids = |v: Vec<Event>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(ev.by_id(0, 3)), vec![1, 2, 3], "by id, not by time");
        assert_eq!(ids(ev.by_id(1, 2)), vec![2]);
        assert_eq!(ids(ev.by_id(3, 9)), Vec::<u64>::new());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let dir = tempfile::tempdir().unwrap();
            let mut b = MAGIC.to_vec();
            frame::put(&mut b, &bytes);
            b.extend_from_slice(&bytes);
            std::fs::write(dir.path().join(FILE), &b).unwrap();
            let _ = Events::open(dir.path(), false);
            std::fs::write(dir.path().join(FILE), &bytes).unwrap();
            let _ = Events::open(dir.path(), false);
        }
    }
}
