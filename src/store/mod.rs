//! The embedded store: the only writer under `data_dir`. It keeps buckets per resolution,
//! merges every commit into what it holds (late data included), survives `kill -9`, indexes
//! series names for glob `find`, and keeps events. It knows nothing of Graphite, YAML or HTTP.
//!
//! STUB: the real implementation replaces this file (see FORMAT.md).

use crate::aggregate::{Bucket, Delta};
use crate::metric::glob::Glob;
use crate::metric::{Kind, Series};
use crate::schema::Tier;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is in use by another tally (lock held)")]
    Locked(PathBuf),
    #[error("{path}: corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("store opened read-only")]
    ReadOnly,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    /// Every resolution in use, with the longest retention any schema gives it.
    pub tiers: Vec<Tier>,
    /// Seconds between writes of the in-memory head to segment files.
    pub head_flush_interval: i64,
}

/// One commit: bucket deltas to merge, and opaque input cursors (log offsets) that become
/// durable atomically with them.
#[derive(Debug, Default)]
pub struct Batch {
    pub deltas: Vec<Delta>,
    pub cursors: Vec<(String, Vec<u8>)>,
}

pub type SeriesId = u32;

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub id: SeriesId,
    pub series: Series,
    pub kind: Kind,
}

/// One node of the name tree as `find` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: String,
    /// A series has exactly this name.
    pub leaf: bool,
    /// Longer names continue below it.
    pub branch: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub when: i64,
    pub what: String,
    pub tags: Vec<String>,
    pub data: String,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub series: u64,
    pub disk_bytes: u64,
    pub wal_bytes: u64,
    pub head_buckets: u64,
    pub segments: u64,
    pub events: u64,
}

pub struct Store {}

impl Store {
    pub fn open(_options: Options) -> Result<Store, Error> {
        unimplemented!()
    }
    pub fn open_read_only(_options: Options) -> Result<Store, Error> {
        unimplemented!()
    }
    pub fn commit(&self, _batch: Batch) -> Result<(), Error> {
        unimplemented!()
    }
    pub fn cursors(&self) -> HashMap<String, Vec<u8>> {
        unimplemented!()
    }
    pub fn maintain(&self, _now: i64) -> Result<(), Error> {
        unimplemented!()
    }
    pub fn flush_head(&self) -> Result<(), Error> {
        unimplemented!()
    }
    pub fn lookup(&self, _name: &str) -> Option<SeriesInfo> {
        unimplemented!()
    }
    pub fn find(&self, _glob: &Glob) -> Vec<Node> {
        unimplemented!()
    }
    pub fn series_matching(&self, _glob: &Glob) -> Vec<SeriesInfo> {
        unimplemented!()
    }
    pub fn read(
        &self,
        _id: SeriesId,
        _resolution: u32,
        _from: i64,
        _until: i64,
    ) -> Result<Vec<(i64, Bucket)>, Error> {
        unimplemented!()
    }
    pub fn add_event(&self, _when: i64, _what: &str, _tags: &[String], _data: &str) -> Result<u64, Error> {
        unimplemented!()
    }
    pub fn events(&self, _from: i64, _until: i64) -> Vec<Event> {
        unimplemented!()
    }
    pub fn stats(&self) -> Stats {
        unimplemented!()
    }
}
