//! etsy statsd's management console: a TCP server (`inputs.statsd.management`, by default
//! 127.0.0.1:8126) taking one command per line:
//! - `help`; `health` (`up`/`down` set what it answers); `stats` (uptime, the last message,
//!   bad lines, and the graphite backend's bookkeeping); `quit`;
//! - `counters`, `timers`, `gauges`: the etsy state as node's `util.inspect` prints it;
//! - `delcounters`, `deltimers`, `delgauges` with names, or folders `a.b.*`.
//!
//! The state shown is the first carbon output's etsy flush state; deletions apply to every
//! output's. Keys are listed with etsy's internal counters first and the rest sorted (etsy:
//! arrival order).

use super::inspect::{self, Value};
use super::{SharedFlush, Stats};
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The longest command line read; a longer one closes the connection.
const MAX_LINE: usize = 64 * 1024;

/// What a command line gets back.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Text(String),
    /// `quit`: close the connection.
    Quit,
}

pub struct Console {
    /// The first is shown; deletions go to all.
    flushes: Vec<SharedFlush>,
    stats: Arc<Stats>,
    /// Unix seconds.
    startup: i64,
    healthy: AtomicBool,
}

#[derive(Clone, Copy)]
enum Which {
    Counters,
    Timers,
    Gauges,
}

impl Console {
    /// `flushes` must not be empty.
    pub fn new(flushes: Vec<SharedFlush>, stats: Arc<Stats>, startup: i64) -> Console {
        assert!(!flushes.is_empty(), "the console needs an etsy state");
        Console {
            flushes,
            stats,
            startup,
            healthy: AtomicBool::new(true),
        }
    }

    /// Answers one command line at `now` (unix seconds).
    pub fn answer(&self, line: &str, now: i64) -> Reply {
        let mut words = line.trim().split(' ');
        let command = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let text = match command {
            "help" => "Commands: stats, counters, timers, gauges, delcounters, deltimers, \
                       delgauges, health, quit\n\n"
                .to_string(),
            "health" => {
                match args.first().map(|a| a.to_lowercase()).as_deref() {
                    Some("up") => self.healthy.store(true, Relaxed),
                    Some("down") => self.healthy.store(false, Relaxed),
                    _ => {}
                }
                let up = self.healthy.load(Relaxed);
                format!("health: {}\n", if up { "up" } else { "down" })
            }
            "stats" => self.stats(now),
            "counters" => self.show(Which::Counters),
            "timers" => self.show(Which::Timers),
            "gauges" => self.show(Which::Gauges),
            "delcounters" => self.delete(Which::Counters, &args),
            "deltimers" => self.delete(Which::Timers, &args),
            "delgauges" => self.delete(Which::Gauges, &args),
            "quit" => return Reply::Quit,
            _ => "ERROR\n".to_string(),
        };
        Reply::Text(text)
    }

    pub fn healthy(&self) -> bool {
        self.healthy.load(Relaxed)
    }

    fn stats(&self, now: i64) -> String {
        let last_message = match self.stats.last_message.load(Relaxed) {
            0 => self.startup,
            t => t,
        };
        let d = lock(&self.flushes[0]).delivery;
        let mut out = format!("uptime: {}\n", now - self.startup);
        for (name, value) in [
            ("messages.last_msg_seen", now - last_message),
            (
                "messages.bad_lines_seen",
                self.stats.bad_lines.load(Relaxed) as i64,
            ),
            ("graphite.last_flush", now - d.last_flush),
            ("graphite.last_exception", now - d.last_exception),
            ("graphite.flush_time", d.flush_time_ms as i64),
            ("graphite.flush_length", d.flush_length as i64),
        ] {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push_str("END\n\n");
        out
    }

    fn show(&self, which: Which) -> String {
        let mut state = lock(&self.flushes[0]);
        let internal: Vec<String> = state
            .internal_counters()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut entries: Vec<(String, Value)> = match which {
            Which::Counters => state
                .counters_mut()
                .iter()
                .map(|(k, v)| (k.clone(), Value::Number(*v)))
                .collect(),
            Which::Timers => state
                .timers_mut()
                .iter()
                .map(|(k, v)| (k.clone(), Value::Numbers(v.clone())))
                .collect(),
            Which::Gauges => state
                .gauges_mut()
                .iter()
                .map(|(k, v)| (k.clone(), Value::Number(*v)))
                .collect(),
        };
        drop(state);
        entries.sort_by(|a, b| {
            let rank = |k: &str| internal.iter().position(|i| i == k).unwrap_or(3);
            (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0))
        });
        format!("{}\nEND\n\n", inspect::object(&entries))
    }

    /// etsy's `delete_stats`: each argument a name, or a folder `a.b.*` (every key starting
    /// with `a.b.`).
    fn delete(&self, which: Which, args: &[&str]) -> String {
        let mut out = String::new();
        for arg in args {
            let mut deleted: Vec<String> = Vec::new();
            for (i, flush) in self.flushes.iter().enumerate() {
                let mut state = lock(flush);
                let names = match which {
                    Which::Counters => remove(state.counters_mut(), arg),
                    Which::Timers => remove(state.timers_mut(), arg),
                    Which::Gauges => remove(state.gauges_mut(), arg),
                };
                if i == 0 {
                    deleted = names;
                }
            }
            if deleted.is_empty() {
                out.push_str(&format!("metric {arg} not found\n"));
            }
            deleted.sort();
            deleted.dedup();
            for name in deleted {
                out.push_str(&format!("deleted: {name}\n"));
            }
        }
        out.push_str("END\n\n");
        out
    }
}

/// Removes `arg` (a name, or a folder `a.b.*`) from `map`; returns the names removed.
fn remove<V>(map: &mut FxHashMap<String, V>, arg: &str) -> Vec<String> {
    let mut names = Vec::new();
    if map.contains_key(arg) {
        names.push(arg.to_string());
    }
    if let Some(folder) = arg.strip_suffix('*')
        && folder.ends_with('.')
    {
        names.extend(map.keys().filter(|k| k.starts_with(folder)).cloned());
    }
    for name in &names {
        map.remove(name);
    }
    names
}

fn lock(flush: &SharedFlush) -> std::sync::MutexGuard<'_, super::flush::State> {
    flush.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves the console until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    console: Arc<Console>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, console.clone(), shutdown.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "StatsD management accept failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

async fn connection(stream: TcpStream, console: Arc<Console>, mut shutdown: watch::Receiver<bool>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let mut limited = (&mut lines).take(MAX_LINE as u64);
        let n = tokio::select! {
            _ = shutdown.changed() => return,
            r = limited.read_line(&mut line) => match r {
                Ok(n) => n,
                Err(_) => return, // not UTF-8, or the peer went away
            },
        };
        if n == 0 || (n == MAX_LINE && !line.ends_with('\n')) {
            return;
        }
        if line.trim().is_empty() {
            continue;
        }
        let reply = console.answer(&line, crate::clock::unix_now());
        let Reply::Text(text) = reply else {
            let _ = write.shutdown().await;
            return;
        };
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
#[path = "console_tests.rs"]
mod tests;
