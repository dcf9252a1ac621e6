//! A Graphite plaintext sender: every chunk of `path value timestamp\n` lines goes to every
//! destination over TCP. Each destination has its own task and a queue bounded in lines; while
//! a destination is down it reconnects with exponential backoff (`reconnect_min` doubling up to
//! `reconnect_max`), and lines that do not fit its queue are dropped and counted. A chunk whose
//! write failed is sent again whole after the reconnect (Graphite keeps the last value of a
//! timestamp, so a repeated line is harmless).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `host:port` each.
    pub destinations: Vec<String>,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Most lines waiting per destination.
    pub queue_lines: usize,
}

/// Counters the agent turns into `tally.ship.<output>.*` series (summed over destinations).
#[derive(Debug, Default)]
pub struct Stats {
    pub sent_lines: AtomicU64,
    pub sent_bytes: AtomicU64,
    /// Lines that did not fit a destination's queue.
    pub dropped_lines: AtomicU64,
    pub connect_errors: AtomicU64,
    pub write_errors: AtomicU64,
    /// Lines waiting now, over all destinations.
    pub queued_lines: AtomicUsize,
}

/// Lines ready to send, counted.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub text: Arc<str>,
    pub lines: usize,
}

impl Chunk {
    pub fn new(text: String) -> Chunk {
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
        Chunk {
            text: text.into(),
            lines,
        }
    }
}

struct Queue {
    chunks: Mutex<VecDeque<Chunk>>,
    lines: AtomicUsize,
    ready: Notify,
}

/// The handle inputs and flushes use; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    queues: Vec<Arc<Queue>>,
    stats: Arc<Stats>,
    max_lines: usize,
}

impl Sender {
    /// Starts one task per destination; they stop when `shutdown` turns true, after trying
    /// for up to `drain` to send what is queued.
    pub fn start(
        settings: &Settings,
        stats: Arc<Stats>,
        shutdown: watch::Receiver<bool>,
        drain: Duration,
    ) -> (Sender, Vec<tokio::task::JoinHandle<()>>) {
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for dest in &settings.destinations {
            let q = Arc::new(Queue {
                chunks: Mutex::new(VecDeque::new()),
                lines: AtomicUsize::new(0),
                ready: Notify::new(),
            });
            queues.push(q.clone());
            tasks.push(tokio::spawn(destination(
                dest.clone(),
                q,
                settings.clone(),
                stats.clone(),
                shutdown.clone(),
                drain,
            )));
        }
        let sender = Sender {
            queues,
            stats,
            max_lines: settings.queue_lines,
        };
        (sender, tasks)
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    pub fn destinations(&self) -> usize {
        self.queues.len()
    }

    /// Queues a chunk for every destination; returns how many destinations took it (the others
    /// were full: their lines are counted as dropped).
    pub fn send(&self, chunk: Chunk) -> usize {
        let mut taken = 0;
        for q in &self.queues {
            if q.lines.load(Relaxed) + chunk.lines > self.max_lines {
                self.stats
                    .dropped_lines
                    .fetch_add(chunk.lines as u64, Relaxed);
                continue;
            }
            q.lines.fetch_add(chunk.lines, Relaxed);
            self.stats.queued_lines.fetch_add(chunk.lines, Relaxed);
            q.chunks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(chunk.clone());
            q.ready.notify_one();
            taken += 1;
        }
        taken
    }
}

fn pop(q: &Queue) -> Option<Chunk> {
    q.chunks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop_front()
}

fn done(q: &Queue, stats: &Stats, chunk: &Chunk) {
    q.lines.fetch_sub(chunk.lines, Relaxed);
    stats.queued_lines.fetch_sub(chunk.lines, Relaxed);
}

async fn destination(
    dest: String,
    q: Arc<Queue>,
    settings: Settings,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) {
    let mut conn: Option<TcpStream> = None;
    let mut backoff = settings.reconnect_min;
    let mut stopping: Option<tokio::time::Instant> = None;
    loop {
        let Some(chunk) = pop(&q) else {
            if stopping.is_some() {
                return;
            }
            tokio::select! {
                _ = q.ready.notified() => {}
                _ = shutdown.changed() => stopping = Some(tokio::time::Instant::now() + drain),
            }
            continue;
        };
        // Send this chunk, reconnecting as long as it takes (or until the drain deadline).
        loop {
            if stopping.is_some_and(|d| tokio::time::Instant::now() >= d) {
                done(&q, &stats, &chunk);
                stats.dropped_lines.fetch_add(chunk.lines as u64, Relaxed);
                break;
            }
            if conn.is_none() {
                let connect =
                    tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&dest));
                match connect.await {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        tracing::info!(destination = %dest, "Carbon output connected.");
                        conn = Some(s);
                        backoff = settings.reconnect_min;
                    }
                    failed => {
                        let error = match failed {
                            Ok(Err(e)) => super::client::chain(&e),
                            _ => "no answer within 5s".to_string(),
                        };
                        stats.connect_errors.fetch_add(1, Relaxed);
                        tracing::debug!(destination = %dest, %error, ?backoff, "Carbon output cannot connect; retrying.");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = shutdown.changed(), if stopping.is_none() => {
                                stopping = Some(tokio::time::Instant::now() + drain);
                            }
                        }
                        backoff = (backoff * 2).min(settings.reconnect_max);
                        continue;
                    }
                }
            }
            let Some(stream) = conn.as_mut() else {
                continue;
            };
            match stream.write_all(chunk.text.as_bytes()).await {
                Ok(()) => {
                    stats.sent_lines.fetch_add(chunk.lines as u64, Relaxed);
                    stats.sent_bytes.fetch_add(chunk.text.len() as u64, Relaxed);
                    done(&q, &stats, &chunk);
                    break;
                }
                Err(error) => {
                    stats.write_errors.fetch_add(1, Relaxed);
                    tracing::warn!(destination = %dest, %error, "Carbon output write failed; reconnecting.");
                    conn = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn settings(dest: String) -> Settings {
        Settings {
            destinations: vec![dest],
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_millis(100),
            queue_lines: 1000,
        }
    }

    #[tokio::test]
    async fn sends_and_reconnects_after_the_receiver_comes_back() {
        // Reserve a port, then close it: the first attempts are refused.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let stats = Arc::new(Stats::default());
        let (_stop_tx, stop_rx) = watch::channel(false);
        let (sender, _tasks) = Sender::start(
            &settings(addr.to_string()),
            stats.clone(),
            stop_rx,
            Duration::ZERO,
        );
        assert_eq!(sender.send(Chunk::new("a 1 1\nb 2 1\n".into())), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(stats.connect_errors.load(Relaxed) >= 1);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = vec![0u8; 12];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"a 1 1\nb 2 1\n");
        assert_eq!(stats.sent_lines.load(Relaxed), 2);
        assert_eq!(stats.queued_lines.load(Relaxed), 0);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts() {
        let stats = Arc::new(Stats::default());
        let (_stop_tx, stop_rx) = watch::channel(false);
        // Port 1 on loopback refuses: everything stays queued.
        let (sender, _tasks) = Sender::start(
            &settings("127.0.0.1:1".into()),
            stats.clone(),
            stop_rx,
            Duration::ZERO,
        );
        let chunk = Chunk::new("x 1 1\n".repeat(400));
        assert_eq!(sender.send(chunk.clone()), 1);
        assert_eq!(sender.send(chunk.clone()), 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sender.send(chunk), 0);
        assert_eq!(stats.dropped_lines.load(Relaxed), 400);
    }
}
