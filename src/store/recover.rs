//! Opening a store: lock, read the manifest, load the series catalog and the live segments,
//! delete files no manifest names (what a crash mid-flush, mid-compaction or mid-retention
//! leaves), and replay the WAL records the manifest does not cover into the head, cutting off a
//! torn tail. A read-only open does the same in memory without touching a byte, and retries if
//! the running daemon replaced the manifest while it was reading.

use super::events::Events;
use super::file::{self, corrupt, io};
use super::index::Index;
use super::manifest::{self, Manifest, SegMeta};
use super::segment::Segment;
use super::{Error, Maint, Options, State, Store, catalog, wal};
use crate::frame;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub const SEG_DIR: &str = "seg";
pub const LOCK: &str = "LOCK";

fn take_lock(dir: &Path) -> Result<File, Error> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
    }
}

struct Loaded {
    maint: Maint,
    state: State,
    wal: Option<wal::Writer>,
    /// WAL files found corrupt (records lost in the middle) and moved aside.
    corrupt_wal_files: u64,
}

pub fn open(options: Options, writable: bool) -> Result<Store, Error> {
    let dir = options.data_dir.clone();
    let lock = if writable {
        for d in [dir.clone(), dir.join(wal::DIR), dir.join(SEG_DIR)] {
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
        let lock = take_lock(&dir)?;
        file::remove(&file::tmp_path(&dir.join(manifest::FILE)))?;
        Some(lock)
    } else {
        if !dir.is_dir() {
            return Err(io(&dir)(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such data directory",
            )));
        }
        None
    };
    let loaded = if writable {
        load(&dir, writable)?
    } else {
        // The daemon may flush or compact while we read: retry until the manifest held still.
        let mpath = dir.join(manifest::FILE);
        let mut attempt = 0;
        loop {
            let before = file::read_optional(&mpath)?;
            let result = load(&dir, false);
            if file::read_optional(&mpath)? == before || attempt >= 20 {
                break result?;
            }
            attempt += 1;
        }
    };
    let events = Events::open(&dir, writable)?;
    Ok(Store {
        dir,
        options,
        _lock: lock,
        wal: Mutex::new(loaded.wal),
        state: RwLock::new(loaded.state),
        maint: Mutex::new(loaded.maint),
        events: Mutex::new(events),
        damage: super::Damage {
            wal_files: loaded.corrupt_wal_files.into(),
            ..Default::default()
        },
        #[cfg(test)]
        crash_at: Mutex::new(None),
    })
}

fn load(dir: &Path, writable: bool) -> Result<Loaded, Error> {
    let mut manifest = Manifest::load(dir)?.unwrap_or(Manifest {
        next_file: 1,
        ..Manifest::default()
    });
    // Before anything is cut or deleted: the WAL must continue where the manifest stops, or
    // records are missing (a lost or foreign MANIFEST) and guessing would destroy data.
    let wal_files = wal_files(&dir.join(wal::DIR))?;
    if let Some((first, path)) = wal_files.first()
        && *first > manifest.covered + 1
    {
        return Err(corrupt(
            path,
            format!(
                "the WAL starts at record {first} but the manifest covers only up to {}: records are missing",
                manifest.covered
            ),
        ));
    }
    let cat_path = dir.join(catalog::FILE);
    let series = catalog::load(&cat_path, manifest.catalog_len)?;
    let catalog_series = series.len();
    let mut index = Index::default();
    for (s, k) in series {
        index.push(s, k);
    }
    let mut state = State {
        index,
        cursors: manifest.cursors.iter().cloned().collect(),
        ..State::default()
    };
    load_segments(dir, writable, &mut manifest, &mut state)?;
    if writable {
        catalog::truncate(&cat_path, manifest.catalog_len)?;
    }
    let (wal, corrupt_wal_files) = replay(dir, writable, &wal_files, manifest.covered, &mut state)?;
    Ok(Loaded {
        corrupt_wal_files,
        maint: Maint {
            manifest,
            catalog_series,
            last_flush: None,
        },
        state,
        wal,
    })
}

fn wal_files(wal_dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let mut files = wal::list(wal_dir)?;
    files.retain(|(first, path)| {
        if *first == 0 {
            tracing::warn!(path = %path.display(), "ignoring a WAL file numbered 0");
        }
        *first > 0
    });
    Ok(files)
}

fn load_segments(
    dir: &Path,
    writable: bool,
    manifest: &mut Manifest,
    state: &mut State,
) -> Result<(), Error> {
    let seg_dir = dir.join(SEG_DIR);
    let mut dropped: Vec<SegMeta> = Vec::new();
    for meta in &manifest.segments {
        match Segment::open(&seg_dir, *meta) {
            Ok(seg) => state.insert_segment(Arc::new(seg)),
            Err(e @ Error::Corrupt { .. }) if writable => {
                tracing::error!(error = %e, "segment file is corrupt; moving it aside, its data is lost");
                quarantine(&seg_dir, meta);
                dropped.push(*meta);
            }
            Err(Error::Io { path, source })
                if writable && source.kind() == std::io::ErrorKind::NotFound =>
            {
                tracing::error!(path = %path.display(), "segment file named by the manifest is missing");
                dropped.push(*meta);
            }
            Err(e @ Error::Corrupt { .. }) => {
                tracing::error!(error = %e, "segment file is corrupt; skipping it");
            }
            Err(e) => return Err(e),
        }
    }
    if !dropped.is_empty() {
        manifest.segments.retain(|s| !dropped.contains(s));
        manifest.store(dir)?;
    }
    if writable {
        // Anything else is an unfinished write or a file a finished step no longer needs.
        let live: std::collections::HashSet<String> =
            manifest.segments.iter().map(SegMeta::file_name).collect();
        for entry in std::fs::read_dir(&seg_dir).map_err(io(&seg_dir))? {
            let entry = entry.map_err(io(&seg_dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if (name.ends_with(".seg") || name.ends_with(".tmp")) && !live.contains(&name) {
                tracing::info!(file = %name, "removing a segment file no manifest names");
                file::remove(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// Moves a corrupt segment out of the way (kept for inspection, never read again).
pub fn quarantine(seg_dir: &Path, meta: &SegMeta) {
    let path = seg_dir.join(meta.file_name());
    let mut aside = path.clone().into_os_string();
    aside.push(".corrupt");
    if let Err(e) = std::fs::rename(&path, &aside) {
        tracing::error!(path = %path.display(), error = %e, "could not move a corrupt segment aside");
    }
}

/// Replays the WAL into `state`; returns the writer positioned after the last good record
/// and how many files were corrupt. A torn tail is cut off; a file with bad records followed
/// by good ones keeps every good record, is moved aside as `<name>.corrupt` and rewritten
/// with the good records only, and the loss is logged as an error.
fn replay(
    dir: &Path,
    writable: bool,
    files: &[(u64, PathBuf)],
    covered: u64,
    state: &mut State,
) -> Result<(Option<wal::Writer>, u64), Error> {
    let wal_dir = dir.join(wal::DIR);
    let mut last_seq = covered;
    let mut buf = Vec::new();
    let mut writer = None;
    let mut corrupt_files = 0;
    for i in 0..files.len() {
        let (first, path) = &files[i];
        let is_last = i + 1 == files.len();
        if !is_last && files[i + 1].0 <= covered + 1 {
            // Wholly covered by the segments: left over from a flush that crashed after its
            // manifest was written.
            if writable {
                file::remove(path)?;
            }
            continue;
        }
        let mut scanned = wal::scan(path, *first, &mut buf)?;
        let mut kept = Vec::with_capacity(scanned.records.len());
        for &(a, b) in &scanned.records {
            let body = &buf[a..b];
            let seq = wal::peek_seq(body).unwrap_or(0);
            if seq <= last_seq {
                kept.push((a, b));
                continue; // already in the segments
            }
            let applied = wal::decode(body)
                .map_err(|e| e.to_string())
                .and_then(|rec| state.apply(rec));
            match applied {
                Ok(()) => {
                    last_seq = seq;
                    kept.push((a, b));
                }
                Err(reason) => {
                    // A good checksum but a record that cannot be applied: damage too.
                    tracing::error!(path = %path.display(), seq, %reason, "Bad WAL record skipped; its data is lost.");
                    let at = (a - frame::HEADER) as u64;
                    scanned.damaged.push((at, b as u64));
                    scanned.good_len = scanned.good_len.min(at);
                }
            }
        }
        last_seq = last_seq.max(first - 1);
        if !scanned.damaged.is_empty() {
            corrupt_files += 1;
            let lost: u64 = scanned.damaged.iter().map(|(a, b)| b - a).sum();
            tracing::error!(
                path = %path.display(),
                records_kept = kept.len(),
                damaged_bytes = lost,
                ranges = ?scanned.damaged,
                "WAL file is CORRUPT (damage followed by good records, not a torn write): every \
                 good record is kept, the records in the damaged ranges are lost; the file is \
                 moved aside as .corrupt for inspection"
            );
            if writable {
                let good_len = rewrite_aside(path, *first, &buf, &kept)?;
                if is_last {
                    writer = Some(wal::Writer::resume(path, *first, good_len, last_seq)?);
                }
            }
            continue;
        }
        let good_len = scanned.good_len;
        if good_len != scanned.len {
            tracing::warn!(
                path = %path.display(),
                good_len,
                len = scanned.len,
                "WAL has a torn tail; cutting it off"
            );
        }
        if writable {
            if is_last {
                writer = Some(wal::Writer::resume(path, *first, good_len, last_seq)?);
            } else if good_len != scanned.len {
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io(path))?;
                f.set_len(good_len.max(wal::HEADER)).map_err(io(path))?;
            }
        }
    }
    if writable && writer.is_none() {
        writer = Some(wal::Writer::create(&wal_dir, last_seq)?);
    }
    Ok((writer, corrupt_files))
}

/// Moves a corrupt WAL file aside (`<name>.corrupt`, never read again) and writes its good
/// records under the old name; returns the new file's length.
fn rewrite_aside(
    path: &Path,
    first: u64,
    buf: &[u8],
    kept: &[(usize, usize)],
) -> Result<u64, Error> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    std::fs::rename(path, &aside).map_err(io(path))?;
    let mut clean = wal::MAGIC.to_vec();
    clean.extend_from_slice(&first.to_le_bytes());
    for &(a, b) in kept {
        clean.extend_from_slice(&buf[a - frame::HEADER..b]);
    }
    file::write_atomic(path, &clean)?;
    Ok(clean.len() as u64)
}

/// `(resolution, partition)` → the manifest's segments of it, oldest data first.
pub fn by_partition(segments: &[SegMeta]) -> BTreeMap<(u32, i64), Vec<SegMeta>> {
    let mut out: BTreeMap<(u32, i64), Vec<SegMeta>> = BTreeMap::new();
    for s in segments {
        out.entry((s.resolution, s.partition)).or_default().push(*s);
    }
    for list in out.values_mut() {
        list.sort_by_key(|s| s.min_seq);
    }
    out
}
