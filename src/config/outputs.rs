//! `outputs:` — where data is sent. A carbon output with a `statsd:` block sends etsy statsd's
//! flush of the StatsD input ([`Output::Carbon`], see `statsd_flush`); every other output ships
//! the store's closed buckets through a disk spool ([`Output::Spooled`]): another tally, carbon
//! (Graphite plaintext) destinations, or a Prometheus remote_write endpoint. One flat struct
//! per list item (not a tagged enum: serde loses line numbers inside those), checked per
//! `type`.

mod http;
pub mod mapping;
mod naming;
mod remote;
mod statsd_flush;
#[cfg(test)]
mod tests;

pub use http::{BasicAuthFile, Http, Tls, TlsFile};
pub use mapping::{Mapping, MappingFile};
pub use naming::{parse_bytes, valid_label_name};
pub use statsd_flush::{BinFile, Carbon, HistogramFile, OneOrMany, StatsdFlushFile};

use super::Problems;
use crate::metric::glob::Glob;
use crate::query::View;
use naming::{naming, parse_destination};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// `tally`, `carbon` or `remote_write`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Names the spool directory and the `tally.ship.<name>.*` series (default: the type,
    /// then `<type>2`, …).
    pub name: Option<Spanned<String>>,
    /// tally: the central tally's base URL (`/api/ingest` is appended); remote_write: the
    /// write endpoint.
    pub url: Option<Spanned<String>>,
    /// tally: several central tallies; each series always goes to the same one (`mode`).
    pub urls: Option<Vec<Spanned<String>>>,
    /// Sent as `Authorization: Bearer …` (tally, remote_write).
    pub token: Option<String>,
    /// The token is this file's first line (instead of `token`; read at start and on reload).
    pub token_file: Option<Spanned<String>>,
    /// tally, remote_write: `username` and `password` or `password_file`.
    pub basic_auth: Option<BasicAuthFile>,
    /// tally, remote_write: sent with every request (`X-Scope-OrgID: tenant` for Mimir).
    pub headers: Option<BTreeMap<String, Spanned<String>>>,
    /// tally, remote_write: `ca_file`, `cert_file`/`key_file`, `server_name`.
    pub tls: Option<TlsFile>,
    /// remote_write: Graphite paths to names and labels (see `mapping`).
    pub mappings: Option<Vec<MappingFile>>,
    /// remote_write with `naming: prometheus`: the quantiles of each timer (default 0.5, 0.9,
    /// 0.99).
    pub quantiles: Option<Spanned<Vec<f64>>>,
    /// remote_write: most series whose running totals (`_total`, `_count`, `_sum`) are kept;
    /// past it the least recently sent start again from 0 (default 1000000).
    pub max_series: Option<usize>,
    /// carbon: `host:port` or `host:port:instance` (the instance names a node on the ring as
    /// carbon-relay's DESTINATIONS do).
    pub destinations: Option<Vec<Spanned<String>>>,
    /// carbon: `consistent_hash` (default), `replicate` or `failover`; tally with `urls`:
    /// `consistent_hash`.
    pub mode: Option<Spanned<String>>,
    /// carbon: `views` (default: the per-kind `views` below) or `statsd` (etsy StatsD's
    /// legacy namespace: `stats.`, `stats_counts.`, `stats.timers.`, `stats.gauges.`, …);
    /// remote_write: `prometheus` (default: counters `_total`, timers as summaries) or `views`.
    pub naming: Option<Spanned<String>>,
    /// carbon, remote_write: which views of each kind become which names, `suffix=view`
    /// (empty suffix: the bare path). Kinds not given keep their defaults.
    pub views: Option<BTreeMap<String, Vec<Spanned<String>>>>,
    /// carbon, remote_write: put before every name; `{host}` is the hostname.
    pub prefix: Option<Spanned<String>>,
    /// remote_write: labels added to every series; `{host}` is the hostname.
    pub labels: Option<BTreeMap<String, Spanned<String>>>,
    /// remote_write: also keep the Graphite path in this label.
    pub path_label: Option<Spanned<String>>,
    /// Ship only series matching one of these Graphite globs (a glob also matches every path
    /// below it). Default: everything.
    pub include: Option<Vec<Spanned<String>>>,
    /// Then leave out series matching one of these.
    pub exclude: Option<Vec<Spanned<String>>>,
    /// Which tier of each series' schema is shipped: 0 = finest (default).
    pub tier: Option<usize>,
    /// A slot is shipped once it ended this long ago (default `5s`): time for the last
    /// observations of the slot to arrive.
    pub grace: Option<Spanned<String>>,
    /// Bound of the disk spool (default `1GiB`); past it the oldest data is dropped, counted.
    pub spool_max_bytes: Option<Spanned<String>>,
    /// Most buckets per request (default 20000).
    pub max_batch: Option<u64>,
    /// Per request or connection (default `10s`).
    pub timeout: Option<Spanned<String>>,
    /// carbon with `statsd:`: wait before reconnecting, doubled after each failure up to
    /// `reconnect_max` (defaults `100ms` and `30s`).
    pub reconnect_min: Option<String>,
    pub reconnect_max: Option<String>,
    /// carbon with `statsd:`: lines waiting per destination while it is down; past it new
    /// lines are dropped and counted (default 1000000).
    pub queue_lines: Option<usize>,
    /// carbon: send etsy statsd's flush of the StatsD input instead of the store's buckets.
    pub statsd: Option<StatsdFlushFile>,
}

/// A validated output.
// One per configured output, never many in a collection: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// etsy statsd's flush of the StatsD input, as Graphite lines.
    Carbon(Carbon),
    /// The store's closed buckets, through a spool.
    Spooled(Spooled),
}

impl Output {
    pub fn name(&self) -> &str {
        match self {
            Output::Carbon(c) => &c.name,
            Output::Spooled(s) => &s.name,
        }
    }

    pub fn as_spooled(&self) -> Option<&Spooled> {
        match self {
            Output::Spooled(s) => Some(s),
            Output::Carbon(_) => None,
        }
    }
}

/// Graphite globs as written and compiled; a glob also matches every path below it.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub patterns: Vec<String>,
    pub globs: Vec<Glob>,
}

impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        self.patterns == other.patterns
    }
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    /// Whether a glob matches the path or any leading nodes of it.
    pub fn matches(&self, path: &str) -> bool {
        self.globs.iter().any(|g| {
            let n = g.nodes.len();
            let mut end = 0;
            for (i, part) in path.split('.').enumerate() {
                end += part.len() + usize::from(i > 0);
                if i + 1 == n {
                    return g.matches(&path[..end]);
                }
            }
            false
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spooled {
    pub name: String,
    pub target: Target,
    /// The hostname: a `host` label on tally's own `tally.*` series (remote_write).
    pub host: String,
    /// Put before tally's own `tally.*` series by carbon and tally outputs (`servers.<host>`),
    /// unless the output's `prefix` holds `{host}` already.
    pub self_prefix: Option<String>,
    pub include: Filter,
    pub exclude: Filter,
    pub tier: usize,
    pub grace: i64,
    pub spool_max_bytes: u64,
    pub max_batch: u64,
    pub timeout_secs: u64,
}

// One per configured output (see `Output`).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Tally {
        /// Base URLs; several: each series to one of them on carbon's consistent-hash ring.
        urls: Vec<String>,
        token: Option<String>,
        http: Http,
    },
    Carbon {
        destinations: Vec<Destination>,
        mode: CarbonMode,
        naming: Naming,
    },
    RemoteWrite {
        url: String,
        token: Option<String>,
        naming: Naming,
        labels: Vec<(String, String)>,
        path_label: Option<String>,
        http: Http,
        /// `naming: prometheus`: counters as `_total`, timers as summaries.
        prometheus: bool,
        mappings: Vec<Mapping>,
        quantiles: Vec<f64>,
        max_series: usize,
    },
}

impl Target {
    pub fn type_name(&self) -> &'static str {
        match self {
            Target::Tally { .. } => "tally",
            Target::Carbon { .. } => "carbon",
            Target::RemoteWrite { .. } => "remote_write",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: String,
    pub port: u16,
    /// carbon-relay's instance name (part of the ring key).
    pub instance: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarbonMode {
    ConsistentHash,
    Replicate,
    Failover,
}

/// How buckets become named numbers (carbon paths, Prometheus metric names).
#[derive(Debug, Clone, PartialEq)]
pub struct Naming {
    pub statsd: bool,
    pub prefix: String,
    /// Per kind (indexed by `Kind::code`): `(suffix, view)`.
    pub views: [Vec<(String, View)>; 4],
}

impl Naming {
    pub fn default_views() -> [Vec<(String, View)>; 4] {
        let v = |list: &[(&str, View)]| {
            list.iter()
                .map(|(s, v)| (s.to_string(), *v))
                .collect::<Vec<_>>()
        };
        [
            v(&[("count", View::Sum), ("rate", View::SumRate)]),
            v(&[("", View::Avg)]),
            v(&[
                ("mean", View::Avg),
                ("upper", View::Max),
                ("lower", View::Min),
                ("count", View::Obvs),
                ("p99", View::Percentile(99.0)),
            ]),
            v(&[("count", View::Distinct)]),
        ]
    }
}

/// Checks every output (each at the file it came from); names must be unique.
pub(super) fn validate<'a>(
    list: Vec<OutputFile>,
    places: super::Places<'a>,
    hostname: &str,
    p: &mut Problems<'a>,
) -> Vec<Output> {
    let mut out: Vec<Output> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    for (i, o) in list.into_iter().enumerate() {
        p.file = super::include::origin(places.0, i, places.1);
        let kind = o.kind.clone();
        if let Some(output) = validate_one(o, hostname, &mut per_type, p) {
            if let Some(j) = out.iter().position(|x| x.name() == output.name()) {
                let message = format!(
                    "two outputs are named {:?} (also at {}): give each a distinct `name`",
                    output.name(),
                    seen[j]
                );
                p.at(&kind, message);
            }
            seen.push(p.place(&kind));
            out.push(output);
        }
    }
    p.file = places.1;
    out
}

fn validate_one(
    o: OutputFile,
    hostname: &str,
    per_type: &mut BTreeMap<String, usize>,
    p: &mut Problems<'_>,
) -> Option<Output> {
    let ty = o.kind.value.as_str();
    if !matches!(ty, "tally" | "carbon" | "remote_write") {
        p.at(
            &o.kind,
            format!("unknown output type {ty:?}: expected tally, carbon or remote_write"),
        );
        return None;
    }
    let n = per_type.entry(ty.to_string()).or_default();
    *n += 1;
    let name = match &o.name {
        Some(s) => {
            if s.value.is_empty()
                || !s
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                p.at(s, "an output name is letters, digits, '_' and '-'");
            }
            s.value.clone()
        }
        None if *n == 1 => ty.to_string(),
        None => format!("{ty}{n}"),
    };
    if ty == "carbon"
        && let Some(mut flush) = o.statsd
    {
        // `{host}` is the hostname in every prefix, as in the spooled outputs'.
        for f in [
            &mut flush.global_prefix,
            &mut flush.prefix_counter,
            &mut flush.prefix_timer,
            &mut flush.prefix_gauge,
            &mut flush.prefix_set,
            &mut flush.prefix_stats,
            &mut flush.global_suffix,
        ]
        .into_iter()
        .flatten()
        {
            *f = f.replace("{host}", hostname);
        }
        // etsy statsd's flush of the StatsD input: lines, queued in memory.
        for (field, set) in [
            ("mode", o.mode.is_some()),
            ("naming", o.naming.is_some()),
            ("views", o.views.is_some()),
            ("prefix", o.prefix.is_some()),
            ("include", o.include.is_some()),
            ("exclude", o.exclude.is_some()),
            ("tier", o.tier.is_some()),
            ("grace", o.grace.is_some()),
            ("spool_max_bytes", o.spool_max_bytes.is_some()),
            ("max_batch", o.max_batch.is_some()),
            ("timeout", o.timeout.is_some()),
        ] {
            if set {
                p.at(
                    &o.kind,
                    format!("{field} does not apply with statsd: (etsy's flush is sent as it is)"),
                );
            }
        }
        let mut problems = Vec::new();
        let destinations: Vec<String> = o
            .destinations
            .iter()
            .flatten()
            .map(|d| d.value.clone())
            .collect();
        if destinations.is_empty() {
            problems.push("destinations: give at least one host:port".to_string());
        }
        let c = statsd_flush::carbon(
            name,
            destinations,
            &o.reconnect_min,
            &o.reconnect_max,
            o.queue_lines,
            flush,
            &mut problems,
        );
        for m in problems {
            p.at(&o.kind, format!("output {:?}: {m}", c.name));
        }
        return Some(Output::Carbon(c));
    }
    for (field, set) in [
        ("reconnect_min", o.reconnect_min.is_some()),
        ("reconnect_max", o.reconnect_max.is_some()),
        ("queue_lines", o.queue_lines.is_some()),
    ] {
        if set {
            p.at(&o.kind, format!("{field} is for a carbon output with statsd:; spooled outputs retry from their spool"));
        }
    }
    let not_for = |field: &str, set: bool, p: &mut Problems<'_>| {
        if set {
            p.at(&o.kind, format!("{field} does not apply to a {ty} output"));
        }
    };
    let target = match ty {
        "tally" => {
            not_for("destinations", o.destinations.is_some(), p);
            not_for("naming", o.naming.is_some(), p);
            not_for("views", o.views.is_some(), p);
            not_for("prefix", o.prefix.is_some(), p);
            not_for("labels", o.labels.is_some(), p);
            not_for("path_label", o.path_label.is_some(), p);
            not_for("mappings", o.mappings.is_some(), p);
            not_for("quantiles", o.quantiles.is_some(), p);
            not_for("max_series", o.max_series.is_some(), p);
            remote::tally(&o, p)
        }
        "carbon" => {
            not_for("url", o.url.is_some(), p);
            not_for("token", o.token.is_some(), p);
            not_for("token_file", o.token_file.is_some(), p);
            not_for("labels", o.labels.is_some(), p);
            not_for("path_label", o.path_label.is_some(), p);
            not_for("urls", o.urls.is_some(), p);
            not_for("basic_auth", o.basic_auth.is_some(), p);
            not_for("headers", o.headers.is_some(), p);
            not_for("tls", o.tls.is_some(), p);
            not_for("mappings", o.mappings.is_some(), p);
            not_for("quantiles", o.quantiles.is_some(), p);
            not_for("max_series", o.max_series.is_some(), p);
            let mut destinations = Vec::new();
            for d in o.destinations.iter().flatten() {
                match parse_destination(&d.value) {
                    Some(dest) => destinations.push(dest),
                    None => p.at(
                        d,
                        format!(
                            "bad destination {:?}: expected host:port or host:port:instance",
                            d.value
                        ),
                    ),
                }
            }
            if o.destinations.as_ref().is_none_or(Vec::is_empty) {
                p.at(&o.kind, "a carbon output needs destinations");
            }
            let mode = match o.mode.as_ref().map(|m| (m, m.value.as_str())) {
                None | Some((_, "consistent_hash")) => CarbonMode::ConsistentHash,
                Some((_, "replicate")) => CarbonMode::Replicate,
                Some((_, "failover")) => CarbonMode::Failover,
                Some((m, other)) => {
                    p.at(
                        m,
                        format!("mode {other:?}: expected consistent_hash, replicate or failover"),
                    );
                    CarbonMode::ConsistentHash
                }
            };
            Target::Carbon {
                destinations,
                mode,
                naming: naming(&o, hostname, p),
            }
        }
        _ => {
            not_for("destinations", o.destinations.is_some(), p);
            not_for("mode", o.mode.is_some(), p);
            not_for("urls", o.urls.is_some(), p);
            remote::remote_write(&o, hostname, p)
        }
    };
    let globs = |list: &Option<Vec<Spanned<String>>>, p: &mut Problems<'_>| {
        let mut out = Filter::default();
        for g in list.iter().flatten() {
            match Glob::parse(&g.value) {
                Ok(glob) => {
                    out.globs.push(glob);
                    out.patterns.push(g.value.clone());
                }
                Err(e) => p.at(g, format!("bad pattern {:?}: {e}", g.value)),
            }
        }
        out
    };
    let spool_max_bytes = match &o.spool_max_bytes {
        None => 1 << 30,
        Some(s) => match parse_bytes(&s.value) {
            Some(b) if b >= 1 << 20 => b,
            _ => {
                p.at(s, format!("spool_max_bytes {:?}: expected a size of at least 1MiB, e.g. 512MiB or 2GiB", s.value));
                1 << 30
            }
        },
    };
    // A prefix holding the host names tally's own series too.
    let host_in_prefix = o
        .prefix
        .as_ref()
        .is_some_and(|s| s.value.contains("{host}"));
    Some(Output::Spooled(Spooled {
        name,
        host: hostname.to_string(),
        self_prefix: (!host_in_prefix).then(|| format!("servers.{hostname}")),
        include: globs(&o.include, p),
        exclude: globs(&o.exclude, p),
        tier: o.tier.unwrap_or(0),
        grace: p.duration(&o.grace, 5) as i64,
        spool_max_bytes,
        max_batch: o.max_batch.unwrap_or(20_000).max(1),
        timeout_secs: p.duration(&o.timeout, 10),
        target,
    }))
}
