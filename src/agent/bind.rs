//! Listeners that survive a busy host: a listener whose address cannot be bound (a carbon-cache
//! already on 2003, an app server on 8080) does not stop the start. The error is logged once
//! with the key and address, counted (`tally.listen.bind_failures`, `tally.listen.unbound`),
//! shown by `/-/ready` (not ready, naming the listener), and the bind is retried with backoff
//! (0.5 s doubling to 10 s) while every other input, the store and the outputs run. Once the
//! address frees, the listener binds, logs its usual "… listening" line and serves; readiness
//! returns with the next self-metrics round.
//!
//! `tally check` uses [`taken`] to say which configured addresses are in use right now.

use crate::config::Config;
use crate::metric::{Kind, Observation, Series};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// One configured listener: its config key, protocol and address, and whether it is bound.
#[derive(Debug)]
pub(super) struct Listener {
    pub key: &'static str,
    pub proto: &'static str,
    pub addr: SocketAddr,
    /// The last bind error while not bound; `None` once bound.
    error: Mutex<Option<String>>,
}

/// Every listener of the running agent.
#[derive(Debug, Default)]
pub(super) struct Registry {
    list: Mutex<Vec<Arc<Listener>>>,
    failures: Arc<AtomicU64>,
    /// What `failures` was at the last self-metrics round.
    reported: AtomicU64,
}

impl Registry {
    /// Why tally is not ready because of its listeners, one line each.
    pub(super) fn reasons(&self) -> Vec<String> {
        lock(&self.list)
            .iter()
            .filter_map(|l| {
                let e = lock(&l.error).clone()?;
                Some(format!(
                    "listener {} ({} {}) not bound: {e}; retrying",
                    l.key, l.proto, l.addr
                ))
            })
            .collect()
    }

    /// `tally.listen.bind_failures` (failed attempts since the last round) and
    /// `tally.listen.unbound` (listeners not bound now).
    pub(super) fn self_metrics(&self, now: i64) -> Vec<Observation> {
        let total = self.failures.load(Relaxed);
        let new = total.saturating_sub(self.reported.swap(total, Relaxed));
        let unbound = lock(&self.list)
            .iter()
            .filter(|l| lock(&l.error).is_some())
            .count();
        [
            ("tally.listen.bind_failures", Kind::Counter, new as f64),
            ("tally.listen.unbound", Kind::Gauge, unbound as f64),
        ]
        .into_iter()
        .map(|(name, kind, value)| Observation {
            series: Series::parse(name).expect("self-metric names are valid"),
            kind,
            value,
            time: now,
        })
        .collect()
    }

    /// Binds `addr` with `bind` and runs `serve` on what it gives, in a task. The first attempt
    /// is made before this returns (so a bound listener logs before "tally is running."); when
    /// it fails, the task retries until the bind succeeds or `stop` turns true.
    pub(super) async fn listen<T, B, BF, S, SF>(
        &self,
        (key, proto, addr): (&'static str, &'static str, SocketAddr),
        bind: B,
        serve: S,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()>
    where
        T: Send + 'static,
        B: Fn(SocketAddr) -> BF + Send + 'static,
        BF: Future<Output = io::Result<T>> + Send,
        S: FnOnce(T) -> SF + Send + 'static,
        SF: Future<Output = ()> + Send + 'static,
    {
        let listener = Arc::new(Listener {
            key,
            proto,
            addr,
            error: Mutex::new(None),
        });
        lock(&self.list).push(listener.clone());
        let first = bind(addr).await;
        if let Err(e) = &first {
            self.failures.fetch_add(1, Relaxed);
            tracing::error!(key, proto, %addr, error = %e,
                "Cannot listen: the address is taken or not allowed. Retrying every {}s at most; everything else runs.",
                RETRY_MAX.as_secs());
            *lock(&listener.error) = Some(e.to_string());
        }
        let failures = self.failures.clone();
        tokio::spawn(async move {
            let bound = match first {
                Ok(t) => t,
                Err(_) => {
                    let mut wait = RETRY_MIN;
                    loop {
                        tokio::select! {
                            _ = stop.changed() => return,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        match bind(addr).await {
                            Ok(t) => break t,
                            Err(e) => {
                                failures.fetch_add(1, Relaxed);
                                *lock(&listener.error) = Some(e.to_string());
                                wait = (wait * 2).min(RETRY_MAX);
                            }
                        }
                    }
                }
            };
            *lock(&listener.error) = None;
            serve(bound).await;
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every configured listener address (port 0 left out: the kernel picks a free one).
pub fn addresses(config: &Config) -> Vec<(&'static str, &'static str, SocketAddr)> {
    let mut out = Vec::new();
    if let Some(h) = &config.http {
        out.push(("http.listen", "tcp", h.listen));
    }
    if let Some(c) = &config.carbon {
        out.push(("inputs.carbon.listen", "tcp", c.listen));
        if c.udp {
            out.push(("inputs.carbon.listen", "udp", c.listen));
        }
        if let Some(addr) = c.pickle_listen {
            out.push(("inputs.carbon.pickle_listen", "tcp", addr));
        }
    }
    if let Some(s) = &config.statsd {
        if s.tcp {
            out.push(("inputs.statsd.listen", "tcp", s.listen));
        }
        if s.udp {
            out.push(("inputs.statsd.listen", "udp", s.listen));
        }
        if let Some(m) = s.management {
            out.push(("inputs.statsd.management", "tcp", m));
        }
    }
    out.retain(|(_, _, a)| a.port() != 0);
    out
}

/// For `tally check`: a line for every configured address that cannot be bound now.
pub fn taken(config: &Config) -> Vec<String> {
    addresses(config)
        .into_iter()
        .filter_map(|(key, proto, addr)| {
            let r = match proto {
                "tcp" => std::net::TcpListener::bind(addr).map(drop),
                _ => std::net::UdpSocket::bind(addr).map(drop),
            };
            let e = r.err()?;
            Some(format!(
                "{key}: {proto} {addr} cannot be bound now ({e}); tally would start without this listener and retry it, not ready until it binds"
            ))
        })
        .collect()
}
