//! The carbon output: Graphite plaintext (`path value timestamp\n`) over TCP to one or more
//! carbon destinations, `consistent_hash` (carbon-relay's ring), `replicate` (every line to
//! every destination) or `failover` (all to the first destination that takes it).
//!
//! The plaintext protocol has no acknowledgement, and bytes in a socket buffer are lost when
//! the peer dies. So each batch travels on its own connection: tally writes the lines, closes
//! its sending side, and counts the batch delivered only when the peer has closed too — carbon
//! closes after it has read every line. A destination that failed is retried alone with the
//! same lines; the others are not sent the batch twice.

use super::record::Record;
use super::ring::Ring;
use crate::config::outputs::{CarbonMode, Destination, Naming};
use std::io::Write as _;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug)]
pub struct Plaintext {
    destinations: Vec<Destination>,
    mode: CarbonMode,
    ring: Ring,
    naming: Naming,
    /// Put before tally's own `tally.*` series (`servers.<host>`).
    self_prefix: Option<String>,
    timeout: Duration,
}

/// Appends one line per shipped number of the records to the buffer of its destination.
/// tally's own `tally.*` series get `self_prefix` in front (see `tally::own_name`).
pub fn lines(
    records: &[Record],
    naming: &Naming,
    self_prefix: Option<&str>,
    mut route: impl FnMut(&str) -> usize,
    out: &mut [Vec<u8>],
) -> u64 {
    let mut n = 0;
    let mut full = String::new();
    for rec in records {
        for e in &rec.entries {
            let own = super::tally::own_name(&e.series, self_prefix);
            let series = own.as_ref().unwrap_or(&e.series);
            for (start, bucket) in &e.buckets {
                super::naming::each_point(
                    naming,
                    series,
                    e.kind,
                    e.resolution,
                    bucket,
                    |path, value| {
                        full.clear();
                        full.push_str(path);
                        for (k, v) in series.tags() {
                            full.push(';');
                            full.push_str(k);
                            full.push('=');
                            full.push_str(v);
                        }
                        let buf = &mut out[route(&full)];
                        let _ = writeln!(buf, "{full} {value} {start}");
                        n += 1;
                    },
                );
            }
        }
    }
    n
}

impl Plaintext {
    pub fn new(
        destinations: Vec<Destination>,
        mode: CarbonMode,
        naming: Naming,
        self_prefix: Option<String>,
        timeout: Duration,
    ) -> Plaintext {
        let ring = Ring::new(
            destinations
                .iter()
                .map(|d| (d.host.as_str(), d.instance.as_deref())),
        );
        Plaintext {
            destinations,
            mode,
            ring,
            naming,
            self_prefix,
            timeout,
        }
    }

    /// The bytes each destination gets for these records (`failover`: one buffer, for
    /// whichever destination takes it).
    pub fn split(&self, records: &[Record]) -> Vec<Vec<u8>> {
        match self.mode {
            CarbonMode::ConsistentHash => {
                let mut out = vec![Vec::new(); self.destinations.len()];
                lines(
                    records,
                    &self.naming,
                    self.self_prefix.as_deref(),
                    |path| self.ring.node(path).unwrap_or(0),
                    &mut out,
                );
                out
            }
            CarbonMode::Replicate | CarbonMode::Failover => {
                let mut one = vec![Vec::new()];
                lines(
                    records,
                    &self.naming,
                    self.self_prefix.as_deref(),
                    |_| 0,
                    &mut one,
                );
                one
            }
        }
    }

    /// Sends what `done` does not mark as sent yet; `done` has one flag per buffer of
    /// [`Plaintext::split`]. `Err` carries the last failure; what succeeded stays marked.
    pub async fn deliver(&self, buffers: &[Vec<u8>], done: &mut [bool]) -> Result<(), String> {
        let mut last_error = None;
        match self.mode {
            CarbonMode::ConsistentHash => {
                for (i, buf) in buffers.iter().enumerate() {
                    if done[i] || buf.is_empty() {
                        done[i] = true;
                        continue;
                    }
                    match send(&self.destinations[i], buf, self.timeout).await {
                        Ok(()) => done[i] = true,
                        Err(e) => last_error = Some(e),
                    }
                }
            }
            CarbonMode::Replicate => {
                if done.len() != self.destinations.len() {
                    return Err("internal: replicate needs one flag per destination".into());
                }
                for (i, dest) in self.destinations.iter().enumerate() {
                    if done[i] || buffers[0].is_empty() {
                        done[i] = true;
                        continue;
                    }
                    match send(dest, &buffers[0], self.timeout).await {
                        Ok(()) => done[i] = true,
                        Err(e) => last_error = Some(e),
                    }
                }
            }
            CarbonMode::Failover => {
                if buffers[0].is_empty() {
                    done[0] = true;
                }
                for dest in &self.destinations {
                    if done[0] {
                        break;
                    }
                    match send(dest, &buffers[0], self.timeout).await {
                        Ok(()) => done[0] = true,
                        Err(e) => last_error = Some(e),
                    }
                }
            }
        }
        if done.iter().all(|&d| d) {
            Ok(())
        } else {
            Err(last_error.unwrap_or_else(|| "not delivered".into()))
        }
    }

    /// Flags for [`Plaintext::deliver`], all unsent.
    pub fn flags(&self) -> Vec<bool> {
        match self.mode {
            CarbonMode::ConsistentHash | CarbonMode::Replicate => {
                vec![false; self.destinations.len()]
            }
            CarbonMode::Failover => vec![false],
        }
    }
}

/// One batch on its own connection, delivered once the peer closed after reading it all.
async fn send(dest: &Destination, buf: &[u8], timeout: Duration) -> Result<(), String> {
    let addr = format!("{}:{}", dest.host, dest.port);
    let work = async {
        let mut conn = tokio::net::TcpStream::connect(&addr).await?;
        conn.write_all(buf).await?;
        conn.shutdown().await?;
        let mut sink = [0u8; 256];
        while conn.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{addr}: {e}")),
        Err(_) => Err(format!("{addr}: no answer within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bucket;
    use crate::metric::{Kind, Series};
    use crate::ship::record::Entry;

    #[test]
    fn lines_carry_tags_and_slot_start() {
        let naming = Naming {
            statsd: false,
            prefix: "hosts".into(),
            views: Naming::default_views(),
        };
        let rec = Record {
            seq: 1,
            horizon: 0,
            entries: vec![Entry {
                series: Series::parse("cpu.user;dc=eu").unwrap(),
                kind: Kind::Gauge,
                resolution: 10,
                buckets: vec![(1700000000, Bucket::new(Kind::Gauge, 1.5, 1700000003))],
            }],
            events: None,
        };
        let mut out = vec![Vec::new()];
        assert_eq!(
            lines(std::slice::from_ref(&rec), &naming, None, |_| 0, &mut out),
            1
        );
        assert_eq!(
            String::from_utf8(out.remove(0)).unwrap(),
            "hosts.cpu.user;dc=eu 1.5 1700000000\n"
        );
        // tally's own series get the host's node.
        let mut own = rec;
        own.entries[0].series = Series::parse("tally.store.series").unwrap();
        let mut out = vec![Vec::new()];
        lines(&[own], &naming, Some("servers.h1"), |_| 0, &mut out);
        assert_eq!(
            String::from_utf8(out.remove(0)).unwrap(),
            "hosts.servers.h1.tally.store.series 1.5 1700000000\n"
        );
    }
}
