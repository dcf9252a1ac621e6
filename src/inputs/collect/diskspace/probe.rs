//! Measuring mounts with a deadline. A dead NFS server makes `stat` and `statvfs` on its mount
//! point hang, and the collectors share one thread: so every mount is measured on a short-lived
//! thread of its own, all of a round's at once, and the round waits for them at most
//! [`DEADLINE`]. A mount that has not answered by then is left out of the round; while its call
//! is still stuck it is not asked again (so at most one thread per mount ever waits on it), and
//! it is left out of every round until the call returns. Each mount left out so is counted in
//! `tally.collect.diskspace.timeouts`; a mount is logged once when it stops answering, and once
//! when it answers again.

use super::Space;
use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a round waits for its mounts.
pub(crate) const DEADLINE: Duration = Duration::from_secs(1);

/// What a mount point says: its device (to measure a filesystem mounted twice once) and, when
/// `statvfs` worked, its space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Measured {
    pub dev: u64,
    pub space: Option<Space>,
}

/// How a mount point is measured: [`measure`], or a stand-in in tests.
pub(crate) type Measure = Arc<dyn Fn(&Path) -> io::Result<Measured> + Send + Sync>;

/// `stat` and `statvfs` on a mount point: either may hang on a dead network filesystem.
pub(crate) fn measure(path: &Path) -> io::Result<Measured> {
    let dev = std::fs::metadata(path)?.dev();
    Ok(Measured {
        dev,
        space: statvfs(path).ok(),
    })
}

/// `statvfs(2)` through rustix.
pub(crate) fn statvfs(path: &Path) -> io::Result<Space> {
    let s = rustix::fs::statvfs(path)?;
    Ok(Space {
        frsize: s.f_frsize,
        blocks: s.f_blocks,
        bfree: s.f_bfree,
        bavail: s.f_bavail,
        files: s.f_files,
        ffree: s.f_ffree,
        favail: s.f_favail,
    })
}

/// What one round got for one mount point.
#[derive(Debug)]
pub(crate) enum Answer {
    /// It answered in time (an error: unmounted since, skipped as Diamond does).
    Got(io::Result<Measured>),
    /// No answer within the deadline, or its call of an earlier round is still stuck.
    TimedOut,
    /// No thread could be started for it.
    NoThread(io::Error),
}

pub(crate) struct Prober {
    measure: Measure,
    deadline: Duration,
    /// Mount points whose call has not returned yet; a thread removes its own when it does.
    stuck: Arc<Mutex<HashSet<PathBuf>>>,
    /// Mount points logged as not answering (logged again once they answer).
    logged: HashSet<PathBuf>,
}

impl Prober {
    pub(crate) fn new(measure: Measure, deadline: Duration) -> Prober {
        Prober {
            measure,
            deadline,
            stuck: Arc::default(),
            logged: HashSet::new(),
        }
    }

    /// Measures every path at once and waits at most the deadline; an answer per path, in order.
    pub(crate) fn round(&mut self, paths: &[PathBuf]) -> Vec<Answer> {
        let (tx, rx) = mpsc::channel();
        let mut answers: Vec<Option<Answer>> = Vec::with_capacity(paths.len());
        let mut waiting = 0;
        for (i, path) in paths.iter().enumerate() {
            if !self.lock().insert(path.clone()) {
                answers.push(Some(Answer::TimedOut));
                continue;
            }
            match self.spawn(i, path, tx.clone()) {
                Ok(()) => {
                    answers.push(None);
                    waiting += 1;
                }
                Err(e) => {
                    self.lock().remove(path);
                    answers.push(Some(Answer::NoThread(e)));
                }
            }
        }
        let until = Instant::now() + self.deadline;
        while waiting > 0 {
            let left = until.saturating_duration_since(Instant::now());
            let Ok((i, got)) = rx.recv_timeout(left) else {
                break;
            };
            answers[i] = Some(Answer::Got(got));
            waiting -= 1;
        }
        let answers: Vec<Answer> = answers
            .into_iter()
            .map(|a| a.unwrap_or(Answer::TimedOut))
            .collect();
        self.log(paths, &answers);
        answers
    }

    /// Starts the thread that measures `path` and, done, frees it for later rounds.
    fn spawn(
        &self,
        i: usize,
        path: &Path,
        tx: mpsc::Sender<(usize, io::Result<Measured>)>,
    ) -> io::Result<()> {
        let (measure, stuck, path) = (self.measure.clone(), self.stuck.clone(), path.to_owned());
        std::thread::Builder::new()
            .name("statvfs".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let got = measure(&path);
                stuck
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&path);
                // The round may be over (the receiver gone): the answer is then dropped.
                let _ = tx.send((i, got));
            })
            .map(|_| ())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.stuck.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs a mount once when it stops answering and once when it answers again.
    fn log(&mut self, paths: &[PathBuf], answers: &[Answer]) {
        for (path, answer) in paths.iter().zip(answers) {
            match answer {
                Answer::TimedOut if self.logged.insert(path.clone()) => {
                    tracing::warn!(mount = %path.display(), deadline_ms = self.deadline.as_millis() as u64,
                        "diskspace: the mount point did not answer stat/statvfs in time (a dead network filesystem?); left out until it does, counted in tally.collect.diskspace.timeouts.");
                }
                Answer::Got(_) if self.logged.remove(path) => {
                    tracing::info!(mount = %path.display(), "diskspace: the mount point answers again.");
                }
                _ => {}
            }
        }
    }
}
