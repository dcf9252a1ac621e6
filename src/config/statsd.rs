//! `inputs.statsd`: the StatsD listener. Present (and not `enabled: false`) means on; the
//! built-in defaults without a config file run no StatsD listener.

use super::Problems;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::SocketAddr;

/// The default UDP receive buffer: holds the bursts of a 1 M metrics/s stream (measured: the
/// kernel's 208 KiB default lost 1.06 % at that rate, 4 MiB nothing; 16 MiB leaves room).
pub const RECV_BUFFER_BYTES: usize = 16 << 20;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StatsdFile {
    /// Default true when the section is present.
    pub enabled: Option<bool>,
    /// TCP and UDP address (default `127.0.0.1:8125`).
    pub listen: Option<Spanned<String>>,
    /// Listen on UDP (default true) and TCP (default true).
    pub udp: Option<bool>,
    pub tcp: Option<bool>,
    /// SO_RCVBUF for the UDP socket in bytes (default 16 MiB, [`RECV_BUFFER_BYTES`]; 0: the
    /// system's default). Capped by `net.core.rmem_max` unless tally runs as root
    /// (SO_RCVBUFFORCE); the packages raise rmem_max to 16 MiB (`60-tally.conf`).
    pub recv_buffer_bytes: Option<usize>,
    /// Longest datagram, and longest TCP line, accepted; longer ones are dropped and counted
    /// (default 65535).
    pub max_packet_size: Option<usize>,
    /// Batches of observations queued between this listener and aggregation (default 1024);
    /// when full, UDP batches are dropped and counted and TCP senders wait.
    pub queue_batches: Option<usize>,
    /// Most concurrent TCP connections (default 1024).
    pub max_connections: Option<usize>,
    /// Most StatsD keys remembered (gauge levels, the name cache) (default 100000).
    pub max_keys: Option<usize>,
    /// etsy's management console (TCP); present means on.
    pub management: Option<ManagementFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ManagementFile {
    /// Default 127.0.0.1:8126.
    pub listen: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statsd {
    pub listen: SocketAddr,
    pub udp: bool,
    pub tcp: bool,
    /// 0: leave the system default.
    pub recv_buffer_bytes: usize,
    pub max_packet_size: usize,
    pub queue_batches: usize,
    pub max_connections: usize,
    pub max_keys: usize,
    /// Where the management console listens (`None`: off).
    pub management: Option<SocketAddr>,
}

pub(super) fn validate(file: Option<StatsdFile>, p: &mut Problems<'_>) -> Option<Statsd> {
    let f = file?;
    if f.enabled == Some(false) {
        return None;
    }
    let udp = f.udp.unwrap_or(true);
    let tcp = f.tcp.unwrap_or(true);
    let listen = p.addr(&f.listen, "127.0.0.1:8125");
    if !udp
        && !tcp
        && let Some(l) = &f.listen
    {
        p.at(
            l,
            "statsd: udp and tcp are both off; set enabled: false instead",
        );
    }
    Some(Statsd {
        listen,
        udp,
        tcp,
        recv_buffer_bytes: f.recv_buffer_bytes.unwrap_or(RECV_BUFFER_BYTES),
        max_packet_size: f.max_packet_size.unwrap_or(65_535).clamp(512, 65_535),
        queue_batches: f.queue_batches.unwrap_or(1024).max(1),
        max_connections: f.max_connections.unwrap_or(1024).max(1),
        max_keys: f.max_keys.unwrap_or(100_000).max(100),
        management: f.management.map(|m| p.addr(&m.listen, "127.0.0.1:8126")),
    })
}
