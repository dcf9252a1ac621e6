//! The sender of one output: reads its spool in order, delivers a batch, acknowledges it, and
//! on failure retries the same batch with exponential backoff and jitter (100 ms doubling to
//! 30 s), or longer when a 429 or 503 says so in `Retry-After`. tally and remote_write:
//! connection errors, timeouts, 5xx, 408 and 429 are retried; any other 4xx means the remote
//! will never take the batch. Failures are logged with their cause chain (`client::chain`). A refused batch of several
//! records is sent again one record at a time, and only the records refused alone are dropped
//! and counted: a remote refuses a whole request for one bad part (Prometheus rolls back a
//! request with one out-of-order sample, which is what a batch resent after a crash between
//! its delivery and its ack looks like when new records follow the old ones in it).

use super::plaintext::Plaintext;
use super::record::Record;
use super::ring::Ring;
use super::{Error, Output, client, remote_write};
use crate::config::outputs::{Http, Target};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How an output talks to its remote.
// One per output, owned by its sender task: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Client {
    Tally {
        http: reqwest::Client,
        /// `<url>/api/ingest` of each central tally.
        urls: Vec<String>,
        /// Which central takes a series (several urls).
        ring: Ring,
        token: Option<String>,
        options: Http,
        /// Put before tally's own `tally.*` series.
        self_prefix: Option<String>,
        /// Send sketches as ±1 % ones: a central refused the ±0.5 % tag (it is older); until
        /// this tally restarts.
        coarse: bool,
    },
    RemoteWrite {
        http: reqwest::Client,
        url: String,
        token: Option<String>,
        options: Http,
        naming: crate::config::outputs::Naming,
        namer: remote_write::Namer,
        totals: remote_write::Totals,
    },
    Carbon(Plaintext),
}

enum Failure {
    /// Try again later; the remote may say when (`Retry-After`).
    Retry(String, Option<Duration>),
    /// The remote refuses these records for good.
    Reject(String),
}

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

impl Client {
    pub fn new(output: &Output) -> Result<Client, Error> {
        let c = &output.config;
        let timeout = Duration::from_secs(c.timeout_secs.max(1));
        let failed = |reason: String| Error::Client {
            output: c.name.clone(),
            reason,
        };
        Ok(match &c.target {
            Target::Tally { urls, token, http } => {
                let (client, urls) = client::build(http, timeout, urls).map_err(failed)?;
                Client::Tally {
                    http: client,
                    ring: Ring::new(urls.iter().map(|u| (u.as_str(), None))),
                    urls: urls.iter().map(|u| format!("{u}/api/ingest")).collect(),
                    token: token.clone(),
                    options: http.clone(),
                    self_prefix: c.self_prefix.clone(),
                    coarse: false,
                }
            }
            Target::RemoteWrite {
                url,
                token,
                naming,
                labels,
                path_label,
                http,
                prometheus,
                mappings,
                quantiles,
                max_series,
            } => {
                let (client, mut urls) =
                    client::build(http, timeout, std::slice::from_ref(url)).map_err(failed)?;
                Client::RemoteWrite {
                    http: client,
                    url: urls.pop().unwrap_or_default(),
                    token: token.clone(),
                    options: http.clone(),
                    naming: naming.clone(),
                    namer: remote_write::Namer {
                        extra: labels.clone(),
                        path_label: path_label.clone(),
                        mappings: mappings.clone(),
                        host: c.host.clone(),
                        prometheus: *prometheus,
                        quantiles: quantiles.clone(),
                    },
                    totals: remote_write::Totals::new(*max_series),
                }
            }
            Target::Carbon {
                destinations,
                mode,
                naming,
            } => Client::Carbon(Plaintext::new(
                destinations.clone(),
                *mode,
                naming.clone(),
                c.self_prefix.clone(),
                timeout,
            )),
        })
    }
}

/// An HTTP answer to a delivery outcome; the body of a failure is part of its reason.
async fn outcome(result: Result<reqwest::Response, reqwest::Error>) -> Result<(), Failure> {
    match result {
        Err(e) => Err(Failure::Retry(client::chain(&e), None)),
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let s = r.status();
            let wait = client::retry_after(r.headers(), crate::clock::unix_now(), MAX_RETRY_AFTER);
            let text = r.text().await.unwrap_or_default();
            let text: String = text.chars().take(300).collect();
            let why = format!("HTTP {s}: {}", text.trim());
            if s.is_server_error() || s.as_u16() == 429 || s.as_u16() == 408 {
                Err(Failure::Retry(why, wait))
            } else {
                Err(Failure::Reject(why))
            }
        }
    }
}

/// State a retried batch keeps between attempts: the bytes for each destination and which
/// were delivered (carbon, tally over several urls).
struct Pending {
    records: Vec<Record>,
    parts: Option<(Vec<Vec<u8>>, Vec<bool>)>,
}

async fn deliver(client: &mut Client, epoch: u64, batch: &mut Pending) -> Result<(), Failure> {
    match client {
        Client::Tally {
            http,
            urls,
            ring,
            token,
            options,
            self_prefix,
            coarse,
        } => {
            let (bodies, done) = batch.parts.get_or_insert_with(|| {
                let coarsened: Vec<Record>;
                let records = if *coarse {
                    coarsened = batch.records.iter().map(Record::coarsened).collect();
                    &coarsened
                } else {
                    &batch.records
                };
                let split = super::tally::split(
                    records,
                    self_prefix.as_deref(),
                    |s| ring.node(s).unwrap_or(0),
                    urls.len(),
                );
                let done = split.iter().map(Option::is_none).collect();
                let bodies = split
                    .into_iter()
                    .map(|r| r.map_or_else(Vec::new, |r| super::tally::encode(epoch, &r)))
                    .collect();
                (bodies, done)
            });
            let mut last = None;
            for (i, url) in urls.iter().enumerate() {
                if done[i] {
                    continue;
                }
                let mut req = http
                    .post(url.as_str())
                    .header("Content-Type", super::tally::CONTENT_TYPE)
                    .header("Content-Encoding", "snappy")
                    .body(bodies[i].clone());
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                req = client::decorate(req, options);
                match outcome(req.send().await).await {
                    Ok(()) => done[i] = true,
                    Err(f) => last = Some(f),
                }
            }
            last.map_or(Ok(()), Err)
        }
        Client::RemoteWrite {
            http,
            url,
            token,
            options,
            naming,
            namer,
            totals,
        } => {
            let (request, running) = remote_write::request(&batch.records, naming, namer, totals);
            if request.timeseries.is_empty() {
                return Ok(());
            }
            let mut req = http
                .post(url.as_str())
                .header("Content-Type", "application/x-protobuf")
                .header("Content-Encoding", "snappy")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(remote_write::encode(&request));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req = client::decorate(req, options);
            outcome(req.send().await).await?;
            totals.commit(running);
            Ok(())
        }
        Client::Carbon(p) => {
            let (buffers, done) = batch
                .parts
                .get_or_insert_with(|| (p.split(&batch.records), p.flags()));
            p.deliver(buffers, done)
                .await
                .map_err(|e| Failure::Retry(e, None))
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

/// Whether a refusal is a central tally older than the ±0.5 % sketches (its decoder's "bucket
/// extra tag") while this client still sends them; if so the client sends coarse ones from now.
fn older_central(client: &mut Client, reason: &str) -> bool {
    match client {
        Client::Tally { coarse, .. } if !*coarse && reason.contains("bucket extra tag") => {
            *coarse = true;
            true
        }
        _ => false,
    }
}

/// Runs until `stop` turns true. Whatever is not acknowledged stays in the spool.
pub async fn run_sender(output: Arc<Output>, mut client: Client, mut stop: watch::Receiver<bool>) {
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
                parts: None,
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
                        parts: None,
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
            r = deliver(&mut client, epoch, batch) => r,
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
            Err(Failure::Reject(reason)) if older_central(&mut client, &reason) => {
                tracing::warn!(output = %name, %reason,
                    "A central tally is older and reads only ±1 % sketches; sending it coarse sketches until this tally restarts. Upgrade the centrals before the hosts.");
                batch.parts = None;
                continue;
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
            Err(Failure::Retry(reason, asked)) => {
                output.stats.retried.fetch_add(1, Relaxed);
                output.error();
                if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    last_log = Some(Instant::now());
                    tracing::warn!(output = %name, %reason, "Delivery failed; will retry.");
                }
                // The remote's Retry-After (429, 503) when it asks for longer than the backoff.
                let wait = backoff.step().max(asked.unwrap_or_default());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::sketch::{Accuracy, Sketch};
    use crate::aggregate::{Bucket, Extra};
    use crate::metric::{Kind, Series};
    use crate::ship::record::Entry;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A central tally from before the ±0.5 % sketches, as far as the wire shows: a body with
    /// a fine sketch is a 400 with its decoder's reason; any other body is taken (and kept).
    async fn old_central_server(
        listener: tokio::net::TcpListener,
        got: Arc<std::sync::Mutex<Vec<Record>>>,
    ) {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut req = Vec::new();
            let mut buf = [0u8; 65536];
            let body = loop {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed mid-request");
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req);
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let len: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if req.len() >= end + 4 + len {
                    break req[end + 4..end + 4 + len].to_vec();
                }
            };
            let (_, records) = crate::ship::tally::decode(&body).unwrap();
            let fine = records
                .iter()
                .flat_map(|r| &r.entries)
                .flat_map(|e| &e.buckets)
                .any(
                    |(_, b)| matches!(&b.extra, Extra::Sketch(s) if s.accuracy() == Accuracy::Fine),
                );
            let answer = if fine {
                let why = "ingest: record 0: invalid data: bucket extra tag";
                format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}",
                    why.len()
                )
            } else {
                got.lock().unwrap().extend(records);
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            conn.write_all(answer.as_bytes()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn an_older_central_gets_coarse_sketches_and_loses_nothing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        tokio::spawn(old_central_server(listener, got.clone()));
        let (http, _) = client::build(
            &Http::default(),
            Duration::from_secs(10),
            std::slice::from_ref(&url),
        )
        .unwrap();
        let mut client = Client::Tally {
            http,
            urls: vec![format!("{url}/api/ingest")],
            ring: Ring::new([(url.as_str(), None)]),
            token: None,
            options: Http::default(),
            self_prefix: None,
            coarse: false,
        };
        let values: Vec<f64> = (1..500).map(|i| f64::from(i) * 1.37).collect();
        let mut bucket = Bucket::new(Kind::Timer, values[0], 100);
        for v in &values[1..] {
            bucket.add(*v, 100);
        }
        let record = Record {
            seq: 1,
            horizon: 110,
            entries: vec![Entry {
                series: Series::parse("web.req").unwrap(),
                kind: Kind::Timer,
                resolution: 10,
                buckets: vec![(100, bucket.clone())],
            }],
            events: None,
        };
        let mut batch = Pending {
            records: vec![record],
            parts: None,
        };
        // What run_sender does with the answers: the refusal switches the client, the batch is
        // encoded again and delivered.
        let Err(Failure::Reject(reason)) = deliver(&mut client, 7, &mut batch).await else {
            panic!("the older central took a fine sketch");
        };
        assert!(older_central(&mut client, &reason), "{reason}");
        batch.parts = None;
        assert!(deliver(&mut client, 7, &mut batch).await.is_ok());
        assert!(!older_central(&mut client, &reason), "switches once");

        let got = got.lock().unwrap();
        let [rec] = &got[..] else {
            panic!("{} records", got.len())
        };
        let (_, b) = &rec.entries[0].buckets[0];
        assert_eq!(
            (b.count, b.sum, b.min, b.max),
            (bucket.count, bucket.sum, bucket.min, bucket.max)
        );
        let mut coarse = Sketch::with_accuracy(Accuracy::Coarse);
        for v in &values {
            coarse.add(*v);
        }
        let Extra::Sketch(s) = &b.extra else {
            panic!("no sketch")
        };
        assert_eq!(**s, coarse, "the coarse sketch of the same values");
    }
}
