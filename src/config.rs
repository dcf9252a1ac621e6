//! Configuration in two phases: [`File`] is exactly what the YAML says (every struct rejects
//! unknown keys); [`File::validate`] turns it into a [`Config`] that later code can trust.
//! Every error names the file, line and column it comes from, and validation reports all of
//! them at once.

mod env;
mod include;
pub mod live;
pub mod outputs;
mod problem;
mod schemas;
pub mod statsd;
mod tail;

pub use live::Live;
pub use outputs::{Output, Spooled, Target};
pub use problem::{Error, Problem};
use problem::{Places, Problems};
pub use schemas::SchemaFile;
pub use statsd::Statsd;
pub use tail::{StartAt, Tail, TailFile};

use crate::schema::{self, Schemas};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod system;
pub use system::{System, SystemFile};

// ---------------------------------------------------------------------------------------------
// Phase 1: the file as written.

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Where the store keeps its files (default `./tally-data`).
    pub data_dir: Option<Spanned<String>>,
    /// `auto` (the host's name, first label) or a literal, used for `{host}` in prefixes.
    pub hostname: Option<Spanned<String>>,
    #[serde(default)]
    pub http: HttpFile,
    #[serde(default)]
    pub storage: StorageFile,
    #[serde(default)]
    pub query: QueryFile,
    #[serde(default)]
    pub inputs: InputsFile,
    /// Directories of parser YAML files; a later directory overrides a parser of the same name.
    pub parser_dirs: Option<Vec<String>>,
    /// Directories of dashboard YAML files (see `dashboard.rs`); a later one overrides a name.
    pub dashboard_dirs: Option<Vec<String>>,
    #[serde(default)]
    pub self_metrics: SelfMetricsFile,
    /// Where closed buckets are shipped (see `config/outputs.rs`).
    pub outputs: Option<Vec<outputs::OutputFile>>,
    /// The live tier and `/stream` (see `config/live.rs`).
    pub live: Option<live::LiveFile>,
    /// More files (a file, a directory's `*.yaml`, or `dir/*.yaml`) whose inputs, outputs and
    /// schemas join this file's (see `config/include.rs`).
    pub include: Option<Spanned<include::Entries>>,
    /// Which file each merged list element came from (filled by `include::resolve`).
    #[serde(skip)]
    pub origins: include::Origins,
    /// Schemas came only from included files: the built-in default still catches the rest.
    #[serde(skip)]
    pub default_schema_last: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SelfMetricsFile {
    /// How often tally records its own `tally.*` series (default `10s`).
    pub interval: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpFile {
    /// `host:port`; set `enabled: false` to run without the HTTP API.
    pub listen: Option<Spanned<String>>,
    pub enabled: Option<bool>,
    /// Bearer token required for writes (events, ingest) from non-loopback clients.
    pub token: Option<String>,
    /// A file holding the token (first line), so it need not sit in a readable config.
    pub token_file: Option<Spanned<String>>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: Option<usize>,
    /// `/-/ready` answers 503 while an output's spool holds data older than this (default `10m`).
    pub ready_max_spool_lag: Option<Spanned<String>>,
    /// Open connections at most (default 512); more are closed at once and counted.
    pub max_connections: Option<usize>,
    /// A request's headers, and the next request on a kept-alive connection, must arrive
    /// within this (default `10s`).
    pub header_timeout: Option<Spanned<String>>,
    /// A connection on which nothing moves either way for this long is closed (default `60s`).
    pub idle_timeout: Option<Spanned<String>>,
    /// Require the token from loopback clients too (default false): set it when a reverse
    /// proxy on this host forwards outside clients, which all arrive from loopback.
    pub require_token_on_loopback: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StorageFile {
    pub schemas: Option<Vec<SchemaFile>>,
    /// How often aggregated buckets are committed to the store (default `1s`; `ms` allowed).
    pub commit_interval: Option<Spanned<String>>,
    /// How often the in-memory head is written to segment files (default `10m`).
    pub head_flush_interval: Option<Spanned<String>>,
    /// Observations further ahead of the clock than this are dropped (default `10m`).
    pub max_future: Option<Spanned<String>>,
    /// Buckets kept for retry while the store refuses commits; past it the oldest are dropped
    /// and counted (default 2000000). Also the bound on buckets of new series waiting for
    /// `max_new_series_per_minute`.
    pub max_pending_buckets: Option<usize>,
    /// Series the store does not have yet admitted per minute (default 60000); more wait, then
    /// are refused and counted. Existing series are never held back.
    pub max_new_series_per_minute: Option<u64>,
    /// The in-memory head is written out early once it holds about this much (default `128MiB`).
    pub head_max_bytes: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct QueryFile {
    /// `graphite` (default: the finest tier that covers the range, as graphite-web reads) or
    /// `metrictank` (its ratio rule for maxDataPoints and its soft caps read coarser tiers).
    pub tier_choice: Option<Spanned<String>>,
    /// Metrictank plan: most points one series may read from a tier before a coarser tier is
    /// used (default 20000).
    pub max_points_per_series: Option<u64>,
    /// maxDataPoints when a request gives none (default: no consolidation).
    pub default_max_data_points: Option<u64>,
    /// Most series one target may expand to (default 10000).
    pub max_series: Option<usize>,
    /// Most series one render request may fetch in all (default 20000).
    pub max_series_per_request: Option<usize>,
    /// Metrictank plan: points fetched per request past which coarser tiers are read
    /// (default 1000000).
    pub max_points_soft: Option<u64>,
    /// Points fetched per request past which it is refused (default 20000000).
    pub max_points_hard: Option<u64>,
    /// Longest a render request may run (default 30s).
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InputsFile {
    /// Batches of observations queued between inputs and aggregation (default 4096). When it
    /// is full, TCP senders wait and UDP datagrams are dropped and counted.
    pub queue_batches: Option<usize>,
    pub carbon: Option<CarbonFile>,
    /// The StatsD server (see [`statsd`]).
    pub statsd: Option<statsd::StatsdFile>,
    /// Log files bound to parsers.
    pub tail: Option<Vec<TailFile>>,
    /// Diamond-style system collectors reading /proc.
    pub system: Option<SystemFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CarbonFile {
    pub enabled: Option<bool>,
    /// TCP and UDP address (default `127.0.0.1:2003`).
    pub listen: Option<Spanned<String>>,
    /// Also listen on UDP at the same address (default true).
    pub udp: Option<bool>,
    /// Carbon's pickle protocol on this TCP address (carbon's port is 2004; default: off).
    pub pickle_listen: Option<Spanned<String>>,
    /// Lines longer than this are dropped and counted (default 4096).
    pub max_line_length: Option<usize>,
    /// Kind given to carbon series (default `gauge`).
    pub kind: Option<Spanned<String>>,
    /// Most concurrent TCP connections (default 1024).
    pub max_connections: Option<usize>,
    /// A TCP connection that sends nothing for this long is closed (default `2m`).
    pub idle_timeout: Option<Spanned<String>>,
}

// ---------------------------------------------------------------------------------------------
// Phase 2: validated.

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (None: built-in defaults).
    pub source: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub hostname: String,
    pub http: Option<Http>,
    pub storage: Storage,
    pub query: Query,
    pub queue_batches: usize,
    pub carbon: Option<Carbon>,
    pub tail: Vec<Tail>,
    pub parser_dirs: Vec<PathBuf>,
    pub dashboard_dirs: Vec<PathBuf>,
    pub system: Option<System>,
    /// Seconds between recordings of the `tally.*` self-metrics.
    pub self_metrics_interval: u64,
    pub statsd: Option<Statsd>,
    pub outputs: Vec<Output>,
    pub live: Live,
}

/// Parser directories when the config names none: the packaged ones, then the local ones.
pub const DEFAULT_PARSER_DIRS: [&str; 2] = ["/usr/share/tally/parsers", "/etc/tally/parsers.d"];

#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub max_body_bytes: usize,
    /// Seconds of spool lag past which `/-/ready` says not ready.
    pub ready_max_spool_lag: i64,
    pub max_connections: usize,
    /// Milliseconds.
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub require_token_on_loopback: bool,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub schemas: Arc<Schemas>,
    pub commit_interval_ms: u64,
    pub head_flush_interval: i64,
    pub max_future: i64,
    pub max_pending_buckets: usize,
    pub max_new_series_per_minute: u64,
    pub head_max_bytes: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub tier_choice: schema::TierChoice,
    pub max_points_per_series: u64,
    pub default_max_data_points: Option<u64>,
    pub max_series: usize,
    pub max_series_per_request: usize,
    pub max_points_soft: u64,
    pub max_points_hard: u64,
    /// Milliseconds.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Carbon {
    pub listen: SocketAddr,
    pub udp: bool,
    /// Where the pickle receiver listens (`None`: off).
    pub pickle_listen: Option<SocketAddr>,
    pub max_line_length: usize,
    pub kind: crate::metric::Kind,
    pub max_connections: usize,
    /// Milliseconds.
    pub idle_timeout_ms: u64,
}

pub const DEFAULT_DATA_DIR: &str = "./tally-data";

fn validate_http(h: HttpFile, p: &mut Problems) -> Http {
    let token = secret(h.token, h.token_file.as_ref(), "token", p);
    let require_token_on_loopback = match &h.require_token_on_loopback {
        Some(s) if s.value && token.is_none() => {
            p.at(s, "require_token_on_loopback needs http.token");
            true
        }
        Some(s) => s.value,
        None => false,
    };
    Http {
        listen: p.addr(&h.listen, "127.0.0.1:8080"),
        token,
        max_body_bytes: h.max_body_bytes.unwrap_or(8 << 20),
        max_connections: h.max_connections.unwrap_or(512).max(1),
        header_timeout_ms: p.duration_ms(&h.header_timeout, 10_000).max(100),
        idle_timeout_ms: p.duration_ms(&h.idle_timeout, 60_000).max(100),
        require_token_on_loopback,
        ready_max_spool_lag: p.duration(&h.ready_max_spool_lag, 600) as i64,
    }
}

/// The `*.yaml` files of a directory of parsers or dashboards, sorted by name; none when the
/// directory does not exist.
pub fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` names it in messages, and `include:` entries are
/// read relative to its directory.
pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
    let mut file: File = include::read(text, path).map_err(Error::Invalid)?;
    include::resolve(&mut file, path).map_err(Error::Invalid)?;
    file.validate(Some(path))
}

/// A secret given inline or as a file (its first line; a file is re-read on every reload).
fn secret(
    inline: Option<String>,
    file: Option<&Spanned<String>>,
    what: &str,
    p: &mut Problems<'_>,
) -> Option<String> {
    let Some(f) = file else {
        return inline.filter(|t| !t.is_empty());
    };
    if inline.is_some() {
        p.at(f, format!("give either {what} or {what}_file, not both"));
    }
    match std::fs::read_to_string(&f.value) {
        Ok(text) => {
            let first = text.lines().next().unwrap_or("").trim().to_string();
            if first.is_empty() {
                p.at(f, format!("{}: the file is empty", f.value));
            }
            Some(first).filter(|t| !t.is_empty())
        }
        Err(e) => {
            p.at(f, format!("cannot read {what}_file {}: {e}", f.value));
            None
        }
    }
}

/// The configuration used when no file is given: everything on loopback, data in ./tally-data.
pub fn defaults() -> Config {
    File::default()
        .validate(None)
        .expect("the built-in defaults are valid")
}

impl File {
    pub fn validate(mut self, path: Option<&Path>) -> Result<Config, Error> {
        let origins = std::mem::take(&mut self.origins);
        let mut p = Problems {
            file: path,
            list: Vec::new(),
        };
        let data_dir = PathBuf::from(
            self.data_dir
                .map(|s| s.value)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.to_string()),
        );
        let hostname = match self.hostname {
            Some(s) if s.value != "auto" => {
                if s.value.is_empty() || s.value.contains(['.', ' ', ';']) {
                    p.at(&s, "hostname must be one path node: no dots, spaces or ';'");
                }
                s.value
            }
            _ => detect_hostname(),
        };
        let http = (self.http.enabled != Some(false)).then(|| validate_http(self.http, &mut p));
        let schemas = match self.storage.schemas {
            None => Schemas::default_list(),
            Some(list) => {
                let places = (&origins.schemas[..], path);
                schemas::validate(list, places, self.default_schema_last, &mut p)
            }
        };
        let storage = Storage {
            schemas: Arc::new(schemas),
            commit_interval_ms: match &self.storage.commit_interval {
                None => 1000,
                Some(s) => schema::parse_duration_ms(&s.value).unwrap_or_else(|e| {
                    p.at(s, e);
                    1000
                }),
            },
            head_flush_interval: p.duration(&self.storage.head_flush_interval, 600) as i64,
            max_future: p.duration(&self.storage.max_future, 600) as i64,
            max_pending_buckets: self
                .storage
                .max_pending_buckets
                .unwrap_or(2_000_000)
                .max(1000),
            max_new_series_per_minute: self
                .storage
                .max_new_series_per_minute
                .unwrap_or(60_000)
                .max(1),
            head_max_bytes: match &self.storage.head_max_bytes {
                None => crate::store::HEAD_MAX_BYTES,
                Some(s) => match outputs::parse_bytes(&s.value) {
                    Some(b) if b >= 1 << 20 => usize::try_from(b).unwrap_or(usize::MAX),
                    _ => {
                        p.at(s, format!("head_max_bytes {:?}: expected a size of at least 1MiB, e.g. 128MiB", s.value));
                        crate::store::HEAD_MAX_BYTES
                    }
                },
            },
        };
        let query = Query {
            tier_choice: match &self.query.tier_choice {
                None => schema::TierChoice::Graphite,
                Some(s) => schema::TierChoice::parse(&s.value).unwrap_or_else(|| {
                    p.at(
                        s,
                        format!("tier_choice {:?}: expected graphite or metrictank", s.value),
                    );
                    schema::TierChoice::Graphite
                }),
            },
            max_points_per_series: self.query.max_points_per_series.unwrap_or(20_000).max(1),
            default_max_data_points: self.query.default_max_data_points.filter(|&n| n > 0),
            max_series: self.query.max_series.unwrap_or(10_000).max(1),
            max_series_per_request: self.query.max_series_per_request.unwrap_or(20_000).max(1),
            max_points_soft: self.query.max_points_soft.unwrap_or(1_000_000).max(1),
            max_points_hard: self.query.max_points_hard.unwrap_or(20_000_000).max(1),
            timeout_ms: match &self.query.timeout {
                None => 30_000,
                Some(s) => schema::parse_duration_ms(&s.value).unwrap_or_else(|e| {
                    p.at(s, e);
                    30_000
                }),
            }
            .max(1),
        };
        let carbon_file = self.inputs.carbon.unwrap_or_default();
        let carbon = (carbon_file.enabled != Some(false)).then(|| Carbon {
            listen: p.addr(&carbon_file.listen, "127.0.0.1:2003"),
            udp: carbon_file.udp.unwrap_or(true),
            pickle_listen: (carbon_file.pickle_listen.is_some())
                .then(|| p.addr(&carbon_file.pickle_listen, "127.0.0.1:2004")),
            max_line_length: carbon_file.max_line_length.unwrap_or(4096).max(64),
            kind: match &carbon_file.kind {
                None => crate::metric::Kind::Gauge,
                Some(k) => k.value.parse().unwrap_or_else(|e| {
                    p.at(k, e);
                    crate::metric::Kind::Gauge
                }),
            },
            max_connections: carbon_file.max_connections.unwrap_or(1024).max(1),
            idle_timeout_ms: p.duration_ms(&carbon_file.idle_timeout, 120_000).max(100),
        });
        let pickle = carbon.as_ref().and_then(|c| c.pickle_listen);
        let tcp = [
            ("http", http.as_ref().map(|h| h.listen)),
            ("carbon", carbon.as_ref().map(|c| c.listen)),
            ("carbon's pickle_listen", pickle),
        ];
        for (i, (a, x)) in tcp.iter().enumerate() {
            for (b, y) in &tcp[i + 1..] {
                if let (Some(x), Some(y)) = (x, y)
                    && x == y
                    && x.port() != 0
                {
                    p.list.push(Problem {
                        file: path.map(Path::to_path_buf).unwrap_or_default(),
                        line: 0,
                        column: 0,
                        message: format!("{a} and {b} both listen on {x}"),
                    });
                }
            }
        }
        let tail_files = self.inputs.tail.unwrap_or_default();
        let mut seen: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
        for (i, t) in tail_files.iter().enumerate() {
            p.file = include::origin(&origins.tail, i, path);
            for path in &t.paths {
                let here = p.place(path);
                if let Some(first) = seen.get(path.value.as_str()) {
                    let message = format!(
                        "{:?} is tailed twice (also at {first}): give each path to one input",
                        path.value
                    );
                    p.at(path, message);
                } else {
                    seen.insert(&path.value, here);
                }
            }
        }
        let tail = tail_files
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                p.file = include::origin(&origins.tail, i, path);
                tail::validate(t, &hostname, &mut p)
            })
            .collect();
        p.file = path;
        let parser_dirs = self
            .parser_dirs
            .unwrap_or_else(|| DEFAULT_PARSER_DIRS.iter().map(|d| d.to_string()).collect())
            .into_iter()
            .map(PathBuf::from)
            .collect();
        // Built-in defaults (no file, e.g. `cargo run -- run` in a checkout) also read ./dashboards.
        let checkout = path.is_none().then_some("./dashboards");
        let dashboard_dirs = match self.dashboard_dirs {
            Some(dirs) => dirs.into_iter().map(PathBuf::from).collect(),
            None => crate::dashboard::DEFAULT_DIRS
                .into_iter()
                .chain(checkout)
                .map(PathBuf::from)
                .collect(),
        };
        let system = system::validate(self.inputs.system.unwrap_or_default(), &hostname, &mut p);
        let self_metrics_interval = p.duration(&self.self_metrics.interval, 10);
        let statsd = statsd::validate(self.inputs.statsd, &mut p);
        if let (Some(s), Some(c)) = (&statsd, &carbon)
            && s.listen == c.listen
            && s.listen.port() != 0
        {
            p.list.push(Problem {
                file: path.map(Path::to_path_buf).unwrap_or_default(),
                line: 0,
                column: 0,
                message: format!("statsd and carbon both listen on {}", s.listen),
            });
        }
        let places = (&origins.outputs[..], path);
        let outputs =
            outputs::validate(self.outputs.unwrap_or_default(), places, &hostname, &mut p);
        let live = live::validate(self.live, &mut p);
        if !p.list.is_empty() {
            return Err(Error::Invalid(p.list));
        }
        Ok(Config {
            source: path.map(Path::to_path_buf),
            data_dir,
            hostname,
            http,
            storage,
            query,
            queue_batches: self.inputs.queue_batches.unwrap_or(4096).max(1),
            carbon,
            tail,
            parser_dirs,
            dashboard_dirs,
            system,
            self_metrics_interval,
            statsd,
            outputs,
            live,
        })
    }
}

/// The host's name up to the first dot, as Diamond's `smart` method gives it.
pub fn detect_hostname() -> String {
    // gethostname(2) is uname(2)'s nodename.
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let short = name.split('.').next().unwrap_or_default();
    if short.is_empty() {
        "localhost".to_string()
    } else {
        crate::metric::sanitize_node(short)
    }
}

#[cfg(test)]
mod tests;
