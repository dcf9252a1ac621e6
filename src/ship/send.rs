//! The sender of one output: reads its spool in order, delivers a batch, acknowledges it, and
//! on failure retries the same batch with exponential backoff and jitter (100 ms doubling to
//! 30 s). tally and remote_write: connection errors, timeouts, 5xx, 408 and 429 are retried;
//! any other 4xx means the remote will never take the batch. A refused batch of several
//! records is sent again one record at a time, and only the records refused alone are dropped
//! and counted: a remote refuses a whole request for one bad part (Prometheus rolls back a
//! request with one out-of-order sample, which is what a batch resent after a crash between
//! its delivery and its ack looks like when new records follow the old ones in it).

use super::plaintext::Plaintext;
use super::record::Record;
use super::{Error, Output, remote_write};
use crate::config::outputs::Target;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How an output talks to its remote.
pub enum Client {
    Tally {
        http: reqwest::Client,
        url: String,
        token: Option<String>,
    },
    RemoteWrite {
        http: reqwest::Client,
        url: String,
        token: Option<String>,
        naming: crate::config::outputs::Naming,
        labels: remote_write::Labels,
    },
    Carbon(Plaintext),
}

enum Failure {
    /// Try again later.
    Retry(String),
    /// The remote refuses these records for good.
    Reject(String),
}

impl Client {
    pub fn new(output: &Output) -> Result<Client, Error> {
        let c = &output.config;
        let timeout = Duration::from_secs(c.timeout_secs.max(1));
        // reqwest is built without a crypto provider (see Cargo.toml): ring is installed for
        // the process once; a second install is refused and changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .user_agent(concat!("tally/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Client {
                    output: c.name.clone(),
                    reason: e.to_string(),
                })
        };
        Ok(match &c.target {
            Target::Tally { url, token } => Client::Tally {
                http: http()?,
                url: format!("{url}/api/ingest"),
                token: token.clone(),
            },
            Target::RemoteWrite {
                url,
                token,
                naming,
                labels,
                path_label,
            } => Client::RemoteWrite {
                http: http()?,
                url: url.clone(),
                token: token.clone(),
                naming: naming.clone(),
                labels: remote_write::Labels {
                    extra: labels.clone(),
                    path_label: path_label.clone(),
                },
            },
            Target::Carbon {
                destinations,
                mode,
                naming,
            } => Client::Carbon(Plaintext::new(
                destinations.clone(),
                *mode,
                naming.clone(),
                timeout,
            )),
        })
    }
}

/// An HTTP answer to a delivery outcome.
fn classify(result: Result<reqwest::Response, reqwest::Error>) -> Result<(), Failure> {
    match result {
        Err(e) => Err(Failure::Retry(e.to_string())),
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let s = r.status();
            let why = format!("HTTP {s}");
            if s.is_server_error() || s.as_u16() == 429 || s.as_u16() == 408 {
                Err(Failure::Retry(why))
            } else {
                Err(Failure::Reject(why))
            }
        }
    }
}

async fn with_body(result: Result<reqwest::Response, reqwest::Error>) -> Result<(), Failure> {
    match result {
        Ok(r) if !r.status().is_success() => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let text: String = text.chars().take(300).collect();
            classify_status(status, text.trim())
        }
        other => classify(other),
    }
}

fn classify_status(s: reqwest::StatusCode, body: &str) -> Result<(), Failure> {
    let why = format!("HTTP {s}: {body}");
    if s.is_server_error() || s.as_u16() == 429 || s.as_u16() == 408 {
        Err(Failure::Retry(why))
    } else {
        Err(Failure::Reject(why))
    }
}

/// State a retried batch keeps between attempts (carbon: what was already delivered where).
struct Pending {
    records: Vec<Record>,
    carbon: Option<(Vec<Vec<u8>>, Vec<bool>)>,
}

async fn deliver(client: &Client, epoch: u64, batch: &mut Pending) -> Result<(), Failure> {
    match client {
        Client::Tally { http, url, token } => {
            let body = super::tally::encode(epoch, &batch.records);
            let mut req = http
                .post(url)
                .header("Content-Type", super::tally::CONTENT_TYPE)
                .header("Content-Encoding", "snappy")
                .body(body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            with_body(req.send().await).await
        }
        Client::RemoteWrite {
            http,
            url,
            token,
            naming,
            labels,
        } => {
            let request = remote_write::request(&batch.records, naming, labels);
            if request.timeseries.is_empty() {
                return Ok(());
            }
            let mut req = http
                .post(url)
                .header("Content-Type", "application/x-protobuf")
                .header("Content-Encoding", "snappy")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(remote_write::encode(&request));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            with_body(req.send().await).await
        }
        Client::Carbon(p) => {
            let (buffers, done) = batch
                .carbon
                .get_or_insert_with(|| (p.split(&batch.records), p.flags()));
            p.deliver(buffers, done).await.map_err(Failure::Retry)
        }
    }
}

struct Backoff {
    next: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(30);

    /// The next wait: the current step, with up to half of it taken off at random.
    fn step(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = base.mul_f64(f64::from(nanos % 1000) / 2000.0);
        base - jitter
    }

    fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

/// Runs until `stop` turns true. Whatever is not acknowledged stays in the spool.
pub async fn run_sender(output: Arc<Output>, client: Client, mut stop: watch::Receiver<bool>) {
    let name = output.config.name.clone();
    let max_batch = output.config.max_batch;
    let epoch = output.spool().epoch();
    let mut backoff = Backoff { next: Backoff::MIN };
    let mut pending: Option<Pending> = None;
    // Records of a refused batch, to be sent one at a time before reading on.
    let mut alone: VecDeque<Record> = VecDeque::new();
    let mut last_log: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        if pending.is_none()
            && let Some(rec) = alone.pop_front()
        {
            pending = Some(Pending {
                records: vec![rec],
                carbon: None,
            });
        }
        if pending.is_none() {
            let o = output.clone();
            let read = tokio::task::spawn_blocking(move || o.spool().read(max_batch)).await;
            match read {
                Ok(Ok(records)) if records.is_empty() => {
                    tokio::select! {
                        _ = output.wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
                Ok(Ok(records)) => {
                    pending = Some(Pending {
                        records,
                        carbon: None,
                    })
                }
                Ok(Err(error)) => {
                    output.error();
                    tracing::error!(output = %name, %error, "Spool read failed; skipping ahead.");
                    output.spool().rewind();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(_) => continue,
            }
        }
        let batch = pending.as_mut().expect("set above");
        let outcome = tokio::select! {
            r = deliver(&client, epoch, batch) => r,
            _ = stop.changed() => break,
        };
        let points: u64 = batch.records.iter().map(Record::points).sum();
        let last = batch.records.last().expect("batches are not empty");
        let (seq, horizon) = (last.seq, last.horizon);
        match outcome {
            Ok(()) => {
                output.stats.sent.fetch_add(points, Relaxed);
                backoff.reset();
            }
            Err(Failure::Reject(reason)) if batch.records.len() > 1 => {
                tracing::warn!(output = %name, %reason, records = batch.records.len(),
                    "The remote refused a batch; sending its records one at a time.");
                let records = std::mem::take(&mut batch.records);
                pending = None;
                alone.extend(records);
                continue;
            }
            Err(Failure::Reject(reason)) => {
                output.stats.dropped.fetch_add(points, Relaxed);
                output.error();
                tracing::error!(output = %name, %reason, buckets = points,
                    "The remote refused a batch for good; dropped.");
            }
            Err(Failure::Retry(reason)) => {
                output.stats.retried.fetch_add(1, Relaxed);
                output.error();
                if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    last_log = Some(Instant::now());
                    tracing::warn!(output = %name, %reason, "Delivery failed; will retry.");
                }
                let wait = backoff.step();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => break,
                }
                continue;
            }
        }
        pending = None;
        let o = output.clone();
        let acked = tokio::task::spawn_blocking(move || o.spool().ack(seq, horizon)).await;
        if let Ok(Err(error)) = acked {
            output.error();
            tracing::error!(output = %name, %error, "Could not record a delivery; it may be sent again.");
        }
    }
}
