//! Events (`{id, when, what, tags, data}`): few, so they live in one append-only file of
//! CRC-framed records that is read whole at open and kept in memory sorted by time. Each
//! `add` is one append and one fsync; a torn last record is cut off at the next open.

use super::frame::{self, io};
use super::{Error, Event};
use crate::encoding::{Reader, put_blob, put_ivarint, put_uvarint};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"TLYEVT01";
pub const FILE: &str = "events";

#[derive(Debug)]
pub struct Events {
    path: PathBuf,
    /// Sorted by `(when, id)`.
    list: Vec<Event>,
    next_id: u64,
    /// Open for appending (writable stores only), and the valid length.
    file: Option<(File, u64)>,
}

fn encode(e: &Event) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + e.what.len() + e.data.len());
    put_uvarint(&mut b, e.id);
    put_ivarint(&mut b, e.when);
    put_blob(&mut b, e.what.as_bytes());
    put_uvarint(&mut b, e.tags.len() as u64);
    for t in &e.tags {
        put_blob(&mut b, t.as_bytes());
    }
    put_blob(&mut b, e.data.as_bytes());
    b
}

fn decode(body: &[u8]) -> Result<Event, crate::encoding::Error> {
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
    if !r.is_empty() {
        return Err(crate::encoding::Error::Invalid("trailing bytes in event"));
    }
    Ok(Event {
        id,
        when,
        what,
        tags,
        data,
    })
}

impl Events {
    /// Loads `dir/events`. A writable store cuts off a torn tail and keeps the file open.
    pub fn open(dir: &Path, writable: bool) -> Result<Events, Error> {
        let path = dir.join(FILE);
        let buf = frame::read_optional(&path)?.unwrap_or_default();
        let mut list = Vec::new();
        let mut good = 0u64;
        if !buf.is_empty() {
            frame::check_magic(&path, &buf, MAGIC)?;
            let mut frames = frame::Frames::new(&buf[8..]);
            for (_, body) in frames.by_ref() {
                match decode(body) {
                    Ok(e) => list.push(e),
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
                frame::sync_dir(dir)?;
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
        let Some((file, len)) = &mut self.file else {
            return Err(Error::ReadOnly);
        };
        let event = Event {
            id: self.next_id,
            when,
            what: what.to_string(),
            tags: tags.to_vec(),
            data: data.to_string(),
        };
        let mut rec = Vec::new();
        frame::put(&mut rec, &encode(&event));
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
        Ok(id)
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
