//! The carbon listeners: Graphite plaintext over TCP and UDP (`path value timestamp\n`, `-1` as
//! the timestamp meaning now, tagged paths (`disk.used;dc=eu`) put into canonical order), and
//! carbon's pickle protocol over TCP when `pickle_listen` is set (frames of a 4-byte big-endian
//! length and a pickled list of `(path, (timestamp, value))`, read by [`pickle`] without running
//! it). A bad line or datapoint is counted and logged at a limited rate; the connection stays up
//! and the rest is read. A pickle frame that cannot be read is counted and skipped; one longer
//! than [`MAX_PICKLE_LENGTH`] closes its connection, as carbon does.

use super::{Feed, RateLimitedLog, tcp};
use crate::clock::unix_now;
use crate::metric::{Kind, Observation, Series};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

pub mod pickle;
mod syntax;

use syntax::{carbon_path, py_fields, py_float};

/// The longest pickle frame read (carbon's `PICKLE_RECEIVER_MAX_LENGTH`, 1 MiB).
pub const MAX_PICKLE_LENGTH: usize = 1 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("expected 3 fields (path value timestamp), got {0}")]
    Fields(usize),
    #[error("line is not UTF-8")]
    Utf8,
    #[error("bad path: {0}")]
    Path(#[from] crate::metric::Error),
    #[error("bad value {0:?}")]
    Value(String),
    #[error("bad timestamp {0:?}")]
    Timestamp(String),
    #[error("pickled item: {0}")]
    Item(&'static str),
}

/// Counters the agent turns into `tally.carbon.*` series.
#[derive(Debug, Default)]
pub struct Stats {
    pub lines: AtomicU64,
    pub bad_lines: AtomicU64,
    pub too_long: AtomicU64,
    /// UDP datagrams dropped because the pipeline queue was full.
    pub dropped: AtomicU64,
    pub connections: AtomicU64,
    pub refused_connections: AtomicU64,
    /// TCP connections closed after `idle_timeout` without a byte.
    pub idle_timeouts: AtomicU64,
    /// Pickle frames read (their datapoints count in `lines` and `bad_lines`).
    pub pickles: AtomicU64,
    /// Pickle frames that were not a list of datapoints, or too long (then the connection is
    /// closed).
    pub bad_pickles: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub kind: Kind,
    pub max_line_length: usize,
    pub max_connections: usize,
    /// A TCP connection that sends nothing for this long is closed, so idle sockets cannot
    /// hold every connection slot.
    pub idle_timeout: Duration,
}

/// Parses one line (without its newline). `now` replaces a timestamp of -1.
pub fn parse_line(line: &[u8], now: i64, kind: Kind) -> Result<Observation, Error> {
    let line = std::str::from_utf8(line).map_err(|_| Error::Utf8)?;
    let mut fields = py_fields(line);
    let (Some(path), Some(value), Some(ts), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(Error::Fields(py_fields(line).count()));
    };
    let value: f64 = py_float(value)
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| Error::Value(value.to_string()))?;
    let ts_f: f64 = py_float(ts).ok_or_else(|| Error::Timestamp(ts.to_string()))?;
    datapoint(path, ts_f, value, now, kind).map_err(|e| match e {
        Error::Timestamp(_) => Error::Timestamp(ts.to_string()),
        e => e,
    })
}

/// One datapoint of either protocol: the path, a finite value, a timestamp carbon reads.
pub fn datapoint(
    path: &str,
    ts: f64,
    value: f64,
    now: i64,
    kind: Kind,
) -> Result<Observation, Error> {
    let series = Series::parse(&carbon_path(path))?;
    if !value.is_finite() {
        return Err(Error::Value(value.to_string()));
    }
    let time = time_of(ts, now).ok_or_else(|| Error::Timestamp(ts.to_string()))?;
    Ok(Observation {
        series,
        kind,
        value,
        time,
    })
}

/// A timestamp's second: `now` for -1 (carbon reads `int(ts) == -1` as now, so -1.5 too),
/// else whole seconds since the epoch, before the year 5138.
fn time_of(ts: f64, now: i64) -> Option<i64> {
    if ts.trunc() == -1.0 {
        Some(now)
    } else if ts.is_finite() && (0.0..1e11).contains(&ts) {
        Some(ts as i64)
    } else {
        None
    }
}

/// Splits `buf` into lines, parses each, and pushes good ones into `out`.
struct LineSplitter {
    partial: Vec<u8>,
    discarding: bool,
}

struct Context {
    settings: Settings,
    stats: Arc<Stats>,
    log: RateLimitedLog,
}

impl Context {
    fn line(&self, line: &[u8], now: i64, out: &mut Vec<Observation>, peer: &SocketAddr) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.stats.lines.fetch_add(1, Relaxed);
        match parse_line(line, now, self.settings.kind) {
            Ok(obs) => out.push(obs),
            Err(error) => {
                self.stats.bad_lines.fetch_add(1, Relaxed);
                self.log.log(|suppressed| {
                    let shown = String::from_utf8_lossy(&line[..line.len().min(200)]);
                    tracing::warn!(%peer, %error, line = %shown, suppressed, "Bad carbon line.");
                });
            }
        }
    }
}

impl Context {
    /// The datapoints of one pickle frame; a frame that cannot be read is counted and logged.
    fn pickle(&self, payload: &[u8], now: i64, out: &mut Vec<Observation>, peer: &SocketAddr) {
        self.stats.pickles.fetch_add(1, Relaxed);
        let items = match pickle::decode(payload) {
            Ok(items) => items,
            Err(error) => {
                self.stats.bad_pickles.fetch_add(1, Relaxed);
                self.log.log(|suppressed| {
                    tracing::warn!(%peer, %error, bytes = payload.len(), suppressed, "Bad carbon pickle frame; skipped.");
                });
                return;
            }
        };
        out.reserve(items.len());
        for item in items {
            self.stats.lines.fetch_add(1, Relaxed);
            let parsed = item
                .map_err(Error::Item)
                .and_then(|(path, ts, value)| datapoint(&path, ts, value, now, self.settings.kind));
            match parsed {
                Ok(obs) => out.push(obs),
                Err(error) => {
                    self.stats.bad_lines.fetch_add(1, Relaxed);
                    self.log.log(|suppressed| {
                        tracing::warn!(%peer, %error, suppressed, "Bad carbon pickle datapoint.");
                    });
                }
            }
        }
    }
}

impl LineSplitter {
    fn new() -> Self {
        LineSplitter {
            partial: Vec::new(),
            discarding: false,
        }
    }

    fn feed(
        &mut self,
        mut data: &[u8],
        cx: &Context,
        out: &mut Vec<Observation>,
        peer: &SocketAddr,
    ) {
        let now = unix_now();
        let max = cx.settings.max_line_length;
        while let Some(nl) = memchr::memchr(b'\n', data) {
            let (head, rest) = (&data[..nl], &data[nl + 1..]);
            if self.discarding {
                self.discarding = false;
            } else if self.partial.is_empty() {
                if head.len() > max {
                    cx.stats.too_long.fetch_add(1, Relaxed);
                } else {
                    cx.line(head, now, out, peer);
                }
            } else if self.partial.len() + head.len() > max {
                cx.stats.too_long.fetch_add(1, Relaxed);
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(head);
                let line = std::mem::take(&mut self.partial);
                cx.line(&line, now, out, peer);
            }
            data = rest;
        }
        if self.discarding {
            return;
        }
        if self.partial.len() + data.len() > max {
            cx.stats.too_long.fetch_add(1, Relaxed);
            self.partial.clear();
            self.discarding = true;
        } else {
            self.partial.extend_from_slice(data);
        }
    }
}

/// What a carbon TCP listener reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `path value timestamp` lines.
    Plaintext,
    /// Length-prefixed pickles of `[(path, (timestamp, value)), …]`.
    Pickle,
}

/// Accepts TCP connections until `shutdown` turns true.
pub async fn serve_tcp(
    listener: TcpListener,
    protocol: Protocol,
    tx: mpsc::Sender<Feed>,
    settings: Settings,
    stats: Arc<Stats>,
    shutdown: watch::Receiver<bool>,
) {
    let max_connections = settings.max_connections;
    let cx = Arc::new(Context {
        settings,
        stats: stats.clone(),
        log: RateLimitedLog::new(Duration::from_secs(10)),
    });
    let counters = tcp::Counters {
        connections: &stats.connections,
        refused_connections: &stats.refused_connections,
    };
    tcp::accept(
        listener,
        "Carbon",
        max_connections,
        counters,
        shutdown,
        |stream, peer, shutdown| {
            let (cx, tx) = (cx.clone(), tx.clone());
            async move {
                match protocol {
                    Protocol::Plaintext => connection(stream, peer, &cx, &tx, shutdown).await,
                    Protocol::Pickle => pickle_connection(stream, peer, &cx, &tx, shutdown).await,
                }
            }
        },
    )
    .await;
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    cx: &Context,
    tx: &mpsc::Sender<Feed>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut splitter = LineSplitter::new();
    loop {
        let read = tokio::time::timeout(cx.settings.idle_timeout, stream.read(&mut buf));
        let n = tokio::select! {
            _ = shutdown.changed() => return,
            r = read => match r {
                Err(_) => {
                    cx.stats.idle_timeouts.fetch_add(1, Relaxed);
                    tracing::debug!(%peer, "Carbon connection idle past idle_timeout; closed.");
                    break;
                }
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "Carbon connection error.");
                    break;
                }
            },
        };
        let mut batch = Vec::new();
        splitter.feed(&buf[..n], cx, &mut batch, &peer);
        // Waiting here is the backpressure: TCP senders slow down instead of losing data.
        if !batch.is_empty() && tx.send(Feed::observations(batch)).await.is_err() {
            return;
        }
    }
    // A last line without a newline still counts (carbon-cache, a Twisted line receiver,
    // drops it at the close; tally keeps what was sent).
    let mut batch = Vec::new();
    splitter.feed(b"\n", cx, &mut batch, &peer);
    if !batch.is_empty() {
        let _ = tx.send(Feed::observations(batch)).await;
    }
}

/// Reads pickle frames until the peer closes, stays silent past `idle_timeout`, sends a frame
/// longer than [`MAX_PICKLE_LENGTH`] (closed, as carbon does) or shutdown.
async fn pickle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    cx: &Context,
    tx: &mpsc::Sender<Feed>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut frame = Vec::new();
    while read_frame_part(&mut stream, &mut frame, 4, cx, &mut shutdown, &peer).await {
        let n = u32::from_be_bytes(frame[..4].try_into().expect("4 bytes")) as usize;
        if n > MAX_PICKLE_LENGTH {
            cx.stats.bad_pickles.fetch_add(1, Relaxed);
            tracing::warn!(%peer, bytes = n, max = MAX_PICKLE_LENGTH, "Carbon pickle frame too long; connection closed.");
            return;
        }
        if !read_frame_part(&mut stream, &mut frame, n, cx, &mut shutdown, &peer).await {
            return;
        }
        let mut batch = Vec::new();
        cx.pickle(&frame, unix_now(), &mut batch, &peer);
        if frame.capacity() > CHUNK {
            frame = Vec::new(); // an idle connection keeps no large frame's buffer
        }
        // Batches of a plaintext read's size; waiting here is the backpressure, as there.
        let mut batch = batch.into_iter().peekable();
        while batch.peek().is_some() {
            let part: Vec<Observation> = batch.by_ref().take(PICKLE_BATCH).collect();
            if tx.send(Feed::observations(part)).await.is_err() {
                return;
            }
        }
    }
}

/// A pickle frame is read this much at a time.
const CHUNK: usize = 64 * 1024;
/// Most datapoints of a pickle frame sent to aggregation in one batch.
const PICKLE_BATCH: usize = 8192;

/// Reads `n` bytes into `buf` (cleared first) [`CHUNK`] at a time, so memory follows what the
/// peer has sent rather than what its length prefix announced, each read within
/// `idle_timeout`; false when the connection ends (closed, idle, an error) or shutdown begins.
async fn read_frame_part(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    n: usize,
    cx: &Context,
    shutdown: &mut watch::Receiver<bool>,
    peer: &SocketAddr,
) -> bool {
    buf.clear();
    while buf.len() < n {
        let start = buf.len();
        buf.resize(start + (n - start).min(CHUNK), 0);
        let read = tokio::time::timeout(
            cx.settings.idle_timeout,
            stream.read_exact(&mut buf[start..]),
        );
        let ok = tokio::select! {
            _ = shutdown.changed() => false,
            r = read => match r {
                Ok(Ok(_)) => true,
                Err(_) => {
                    cx.stats.idle_timeouts.fetch_add(1, Relaxed);
                    tracing::debug!(%peer, "Carbon pickle connection idle past idle_timeout; closed.");
                    false
                }
                Ok(Err(error)) => {
                    if error.kind() != std::io::ErrorKind::UnexpectedEof {
                        tracing::debug!(%peer, %error, "Carbon pickle connection error.");
                    }
                    false
                }
            },
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Reads UDP datagrams (each holding one or more lines) until `shutdown` turns true.
pub async fn serve_udp(
    socket: UdpSocket,
    tx: mpsc::Sender<Feed>,
    settings: Settings,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cx = Context {
        settings,
        stats,
        log: RateLimitedLog::new(Duration::from_secs(10)),
    };
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(error) => {
                    tracing::debug!(%error, "Carbon UDP receive error.");
                    continue;
                }
            },
        };
        let mut batch = Vec::new();
        let mut splitter = LineSplitter::new();
        splitter.feed(&buf[..n], &cx, &mut batch, &peer);
        splitter.feed(b"\n", &cx, &mut batch, &peer);
        if batch.is_empty() {
            continue;
        }
        if let Err(mpsc::error::TrySendError::Full(f)) = tx.try_send(Feed::observations(batch)) {
            cx.stats
                .dropped
                .fetch_add(f.observations.len() as u64, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plaintext_lines() {
        let o = parse_line(b"a.b.c 4.5 1700000000", 0, Kind::Gauge).unwrap();
        assert_eq!(
            (o.series.as_str(), o.value, o.time),
            ("a.b.c", 4.5, 1_700_000_000)
        );
        assert_eq!(parse_line(b"a 1 -1", 42, Kind::Gauge).unwrap().time, 42);
        assert_eq!(
            parse_line(b"a 1 1700000000.7", 0, Kind::Gauge)
                .unwrap()
                .time,
            1_700_000_000
        );
        let t = parse_line(b"disk.used;rack=a1;dc=eu 1 -1", 0, Kind::Gauge).unwrap();
        assert_eq!(t.series.as_str(), "disk.used;dc=eu;rack=a1");
    }

    #[test]
    fn rejects_bad_lines_with_a_reason() {
        let bad: [(&[u8], Error); 8] = [
            (b"a 1", Error::Fields(2)),
            (b"a 1 2 3", Error::Fields(4)),
            (b"a x 1", Error::Value("x".into())),
            (b"a nan 1", Error::Value("nan".into())),
            (b"a inf 1", Error::Value("inf".into())),
            (b"a 1 soon", Error::Timestamp("soon".into())),
            (b"a\xff 1 1", Error::Utf8),
            (b"a.b. 1 1", Error::Path(crate::metric::Error::EmptyNode)),
        ];
        for (line, err) in bad {
            assert_eq!(parse_line(line, 0, Kind::Gauge).unwrap_err(), err);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if let Ok(o) = parse_line(&line, 0, Kind::Gauge) {
                proptest::prop_assert!(o.value.is_finite());
            }
        }

        #[test]
        fn good_lines_round_trip(name in "[a-z]{1,8}(\\.[a-z0-9_]{1,8}){0,4}", value in -1e12f64..1e12, ts in 0i64..4_000_000_000) {
            let o = parse_line(format!("{name} {value} {ts}").as_bytes(), 0, Kind::Counter).unwrap();
            proptest::prop_assert_eq!(o.series.as_str(), name.as_str());
            proptest::prop_assert_eq!(o.value, value);
            proptest::prop_assert_eq!(o.time, ts);
        }
    }

    #[test]
    fn splitter_handles_partial_and_long_lines() {
        let cx = Context {
            settings: Settings {
                kind: Kind::Gauge,
                max_line_length: 20,
                max_connections: 1,
                idle_timeout: Duration::from_secs(1),
            },
            stats: Arc::default(),
            log: RateLimitedLog::new(Duration::from_secs(10)),
        };
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.feed(b"a 1 1\nb 2", &cx, &mut out, &peer);
        s.feed(b" 2\n", &cx, &mut out, &peer);
        s.feed(&[b'x'; 30], &cx, &mut out, &peer);
        s.feed(b"yyy 1 1\nc 3 3\r\n\ngarbage\n", &cx, &mut out, &peer);
        let names: Vec<_> = out.iter().map(|o| o.series.as_str().to_string()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(cx.stats.too_long.load(Relaxed), 1);
        assert_eq!(cx.stats.bad_lines.load(Relaxed), 1);
    }
}
