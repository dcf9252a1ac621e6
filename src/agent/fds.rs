//! File descriptors: the store's own files (WAL, segments, catalog, events, spools) must never
//! be starved by clients. At startup the soft `RLIMIT_NOFILE` is raised to the hard limit, and
//! the sum of every configured bound on client sockets and tailed files plus a reserve for the
//! store is checked against it; when it does not fit, the log says which keys to lower.

use crate::config::Config;

/// Descriptors kept for the store, the outputs and the runtime beyond every client bound.
pub const RESERVE: u64 = 256;

/// Raises the soft limit to the hard one; returns the limit now in force.
fn raise_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    // `None` is RLIM_INFINITY.
    let current = lim.current.unwrap_or(u64::MAX);
    if current < lim.maximum.unwrap_or(u64::MAX) {
        let raised = Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return Some(lim.maximum.unwrap_or(u64::MAX));
        }
    }
    Some(current)
}

/// What the config lets clients and tailing hold at once.
pub fn client_bound(config: &Config) -> u64 {
    let http = config.http.as_ref().map_or(0, |h| h.max_connections);
    // The pickle listener has its own bound of the same size.
    let carbon = config.carbon.as_ref().map_or(0, |c| {
        c.max_connections * if c.pickle_listen.is_some() { 2 } else { 1 }
    });
    let statsd = config
        .statsd
        .as_ref()
        .map_or(0, |s| if s.tcp { s.max_connections } else { 0 });
    let tail = config.tail.len() * crate::inputs::tail::Settings::new(Vec::new()).max_open_files;
    (http + carbon + statsd + tail) as u64
}

/// Raises the limit and warns when the client bounds leave less than [`RESERVE`] for the
/// store.
pub fn check(config: &Config) {
    let Some(limit) = raise_limit() else {
        return;
    };
    let wanted = client_bound(config) + RESERVE;
    if wanted > limit {
        tracing::warn!(
            limit,
            wanted,
            "The file descriptor limit (RLIMIT_NOFILE) is below what http.max_connections, \
             inputs.carbon.max_connections, inputs.statsd.max_connections and the tail inputs \
             may hold plus {RESERVE} for the store: lower those bounds or raise LimitNOFILE."
        );
    }
}
