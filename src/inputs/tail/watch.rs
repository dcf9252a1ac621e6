//! The wake-up: notify (inotify on Linux) watching the directories that hold followed files,
//! non-recursively. Events are hints only: which paths to look at first and when to stop
//! waiting. The periodic stat pass stays the truth (NFS has no events, the queue can overflow).

use super::Stats;
use notify::event::{EventKind, ModifyKind, RenameMode};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// More paths than this between two polls: forget them and rescan everything.
const MAX_PENDING_PATHS: usize = 4096;
/// Directories watched at most (inotify watches are a per-user kernel resource).
pub const MAX_WATCHED_DIRS: usize = 8192;

/// What happened since the last `take`.
#[derive(Debug, Default)]
pub struct Events {
    /// Paths whose data changed.
    pub hot: HashSet<PathBuf>,
    /// Paths created, removed or renamed (from or to).
    pub changed: HashSet<PathBuf>,
    /// Renames away from a wanted path, `(from, to)`: the file may have been there too briefly
    /// for any look at the path to see it (a writer recreating its log between logrotate's
    /// rename and create; two rotations in a row).
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// Events were lost (queue overflow, watcher error): look at everything.
    pub rescan: bool,
}

impl Events {
    fn pending(&self) -> bool {
        self.rescan || !self.hot.is_empty() || !self.changed.is_empty() || !self.moved.is_empty()
    }
}

struct Shared {
    events: Mutex<Events>,
    cond: Condvar,
}

pub struct Watch {
    shared: Arc<Shared>,
    watcher: Option<RecommendedWatcher>,
    /// Watched directory → its inode when watched (a directory replaced needs a new watch).
    watched: HashMap<PathBuf, u64>,
    stats: Arc<Stats>,
}

impl Watch {
    /// `wanted`: whether an event about this path matters (a followed path, or a directory a
    /// glob lists); the others (busy neighbours in `/var/log`) do not wake the tailer.
    pub fn new(stats: Arc<Stats>, wanted: impl Fn(&Path) -> bool + Send + 'static) -> Watch {
        let shared = Arc::new(Shared {
            events: Mutex::new(Events::default()),
            cond: Condvar::new(),
        });
        let handler = {
            let shared = shared.clone();
            let stats = stats.clone();
            move |res: notify::Result<notify::Event>| {
                let mut ev = shared.events.lock().unwrap_or_else(|e| e.into_inner());
                match res {
                    Ok(event) => {
                        stats.events.fetch_add(1, Relaxed);
                        if event.need_rescan() {
                            ev.rescan = true;
                        }
                        match event.kind {
                            // Opens (our own included), closes, attribute changes: no data.
                            EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => {
                                if !event.need_rescan() {
                                    return;
                                }
                            }
                            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                                ev.hot.extend(event.paths.into_iter().filter(|p| wanted(p)));
                            }
                            EventKind::Modify(ModifyKind::Name(RenameMode::Both))
                                if event.paths.len() == 2 && wanted(&event.paths[0]) =>
                            {
                                let mut paths = event.paths.into_iter();
                                let (from, to) = (paths.next(), paths.next());
                                // Its From and To halves came first and marked the paths.
                                if let (Some(from), Some(to)) = (from, to) {
                                    ev.moved.push((from, to));
                                }
                            }
                            _ => ev
                                .changed
                                .extend(event.paths.into_iter().filter(|p| wanted(p))),
                        }
                        if !ev.pending() {
                            return;
                        }
                        if ev.hot.len() + ev.changed.len() + ev.moved.len() > MAX_PENDING_PATHS {
                            ev.hot.clear();
                            ev.changed.clear();
                            ev.moved.clear();
                            ev.rescan = true;
                        }
                    }
                    Err(_) => ev.rescan = true,
                }
                drop(ev);
                shared.cond.notify_all();
            }
        };
        let watcher = match RecommendedWatcher::new(handler, notify::Config::default()) {
            Ok(w) => Some(w),
            Err(error) => {
                stats.watch_errors.fetch_add(1, Relaxed);
                tracing::warn!(%error, "File watcher unavailable; tail input falls back to polling.");
                None
            }
        };
        Watch {
            shared,
            watcher,
            watched: HashMap::new(),
            stats,
        }
    }

    /// No watcher: the tailer sees only what its stat passes see (as where inotify is
    /// unavailable). Model tests use it: events arrive in their own time.
    #[cfg(test)]
    pub fn disabled(stats: Arc<Stats>) -> Watch {
        Watch {
            shared: Arc::new(Shared {
                events: Mutex::new(Events::default()),
                cond: Condvar::new(),
            }),
            watcher: None,
            watched: HashMap::new(),
            stats,
        }
    }

    /// Takes what happened since the last call.
    pub fn take(&self) -> Events {
        std::mem::take(&mut *self.shared.events.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Blocks until something happened or `deadline`.
    pub fn wait_until(&self, deadline: Instant) {
        let mut ev = self.shared.events.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            if ev.pending() || now >= deadline {
                return;
            }
            ev = self
                .shared
                .cond
                .wait_timeout(ev, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Watches exactly `dirs` (existing ones, up to the bound).
    pub fn set_dirs(&mut self, dirs: &HashSet<PathBuf>) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        self.watched.retain(|d, ino| {
            let keep = dirs.contains(d) && std::fs::metadata(d).is_ok_and(|m| m.ino() == *ino);
            if !keep {
                let _ = watcher.unwatch(d);
            }
            keep
        });
        for d in dirs {
            if self.watched.len() >= MAX_WATCHED_DIRS {
                break;
            }
            if self.watched.contains_key(d) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(d) else {
                continue;
            };
            match watcher.watch(d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(d.clone(), meta.ino());
                }
                Err(error) => {
                    self.stats.watch_errors.fetch_add(1, Relaxed);
                    tracing::debug!(%error, dir = %d.display(), "Cannot watch directory.");
                }
            }
        }
        self.stats
            .dirs_watched
            .store(self.watched.len() as u64, Relaxed);
    }
}
