//! `outputs:` — where data is sent. A carbon output with a `statsd:` block sends etsy statsd's
//! flush of the StatsD input ([`Output::Carbon`], see `statsd_flush`); every other output ships
//! the store's closed buckets through a disk spool ([`Output::Spooled`]): another tally, carbon
//! (Graphite plaintext) destinations, or a Prometheus remote_write endpoint. One flat struct
//! per list item (not a tagged enum: serde loses line numbers inside those), checked per
//! `type`.

mod statsd_flush;
#[cfg(test)]
mod tests;

pub use statsd_flush::{BinFile, Carbon, HistogramFile, OneOrMany, StatsdFlushFile};

use super::{Problem, Problems};
use crate::metric::glob::Glob;
use crate::metric::{Kind, Series};
use crate::query::View;
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
    /// Sent as `Authorization: Bearer …` (tally, remote_write).
    pub token: Option<String>,
    /// carbon: `host:port` or `host:port:instance` (the instance names a node on the ring as
    /// carbon-relay's DESTINATIONS do).
    pub destinations: Option<Vec<Spanned<String>>>,
    /// carbon: `consistent_hash` (default), `replicate` or `failover`.
    pub mode: Option<Spanned<String>>,
    /// carbon: `views` (default: the per-kind `views` below) or `statsd` (etsy StatsD's
    /// legacy namespace: `stats.`, `stats_counts.`, `stats.timers.`, `stats.gauges.`, …).
    pub naming: Option<Spanned<String>>,
    /// carbon, remote_write: which views of each kind become which names, `suffix=view`
    /// (empty suffix: the bare path). Kinds not given keep their defaults.
    pub views: Option<BTreeMap<String, Vec<Spanned<String>>>>,
    /// carbon, remote_write: put before every name.
    pub prefix: Option<Spanned<String>>,
    /// remote_write: labels added to every series.
    pub labels: Option<BTreeMap<String, String>>,
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
    pub include: Filter,
    pub exclude: Filter,
    pub tier: usize,
    pub grace: i64,
    pub spool_max_bytes: u64,
    pub max_batch: u64,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Tally {
        url: String,
        token: Option<String>,
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

/// Parses `512MiB`, `1GiB`, `10MB` or bare bytes.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn parse_destination(s: &str) -> Option<Destination> {
    let mut parts = s.split(':');
    let host = parts.next().filter(|h| !h.is_empty())?.to_string();
    let port = parts.next()?.parse().ok().filter(|&p| p > 0)?;
    let instance = parts.next().map(str::to_string);
    if parts.next().is_some() || instance.as_deref() == Some("") {
        return None;
    }
    Some(Destination {
        host,
        port,
        instance,
    })
}

/// Checks every output; names must be unique.
pub(super) fn validate(list: Vec<OutputFile>, p: &mut Problems<'_>) -> Vec<Output> {
    let mut out: Vec<Output> = Vec::new();
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    for o in list {
        let at = (o.kind.referenced.line(), o.kind.referenced.column());
        if let Some(output) = validate_one(o, &mut per_type, p) {
            if out.iter().any(|x| x.name() == output.name()) {
                p.list.push(Problem {
                    file: p.file.map(|f| f.to_path_buf()).unwrap_or_default(),
                    line: at.0,
                    column: at.1,
                    message: format!(
                        "output {:?}: two outputs are named {:?}: give each a distinct `name`",
                        output.name(),
                        output.name()
                    ),
                });
            }
            out.push(output);
        }
    }
    out
}

fn validate_one(
    o: OutputFile,
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
        && let Some(flush) = o.statsd
    {
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
    let url = |p: &mut Problems<'_>| match &o.url {
        None => {
            p.at(&o.kind, format!("a {ty} output needs url"));
            String::new()
        }
        Some(u) => {
            if !(u.value.starts_with("http://") || u.value.starts_with("https://")) {
                p.at(u, "url must start with http:// or https://");
            }
            u.value.trim_end_matches('/').to_string()
        }
    };
    let naming = |p: &mut Problems<'_>| naming(&o, p);
    let target = match ty {
        "tally" => {
            not_for("destinations", o.destinations.is_some(), p);
            not_for("mode", o.mode.is_some(), p);
            not_for("naming", o.naming.is_some(), p);
            not_for("views", o.views.is_some(), p);
            not_for("prefix", o.prefix.is_some(), p);
            not_for("labels", o.labels.is_some(), p);
            not_for("path_label", o.path_label.is_some(), p);
            Target::Tally {
                url: url(p),
                token: o.token.clone(),
            }
        }
        "carbon" => {
            not_for("url", o.url.is_some(), p);
            not_for("token", o.token.is_some(), p);
            not_for("labels", o.labels.is_some(), p);
            not_for("path_label", o.path_label.is_some(), p);
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
                naming: naming(p),
            }
        }
        _ => {
            not_for("destinations", o.destinations.is_some(), p);
            not_for("mode", o.mode.is_some(), p);
            if o.naming.as_ref().is_some_and(|n| n.value == "statsd") {
                p.at(&o.kind, "naming: statsd is for carbon outputs");
            }
            let path_label = o.path_label.as_ref().map(|l| {
                if !valid_label_name(&l.value) {
                    p.at(
                        l,
                        format!("{:?} is not a valid Prometheus label name", l.value),
                    );
                }
                l.value.clone()
            });
            let mut labels: Vec<(String, String)> =
                o.labels.clone().unwrap_or_default().into_iter().collect();
            for (k, _) in &labels {
                if !valid_label_name(k) {
                    p.at(
                        &o.kind,
                        format!("label {k:?} is not a valid Prometheus label name"),
                    );
                }
            }
            labels.sort();
            Target::RemoteWrite {
                url: url(p),
                token: o.token.clone(),
                naming: naming(p),
                labels,
                path_label,
            }
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
    Some(Output::Spooled(Spooled {
        name,
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

fn naming(o: &OutputFile, p: &mut Problems<'_>) -> Naming {
    let statsd = match o.naming.as_ref().map(|n| (n, n.value.as_str())) {
        None | Some((_, "views")) => false,
        Some((_, "statsd")) => true,
        Some((n, other)) => {
            p.at(n, format!("naming {other:?}: expected views or statsd"));
            false
        }
    };
    let prefix = match &o.prefix {
        None => String::new(),
        Some(s) => {
            if !s.value.is_empty() && Series::parse(&s.value).is_err() {
                p.at(s, format!("prefix {:?} is not a valid path", s.value));
            }
            s.value.clone()
        }
    };
    let mut views = Naming::default_views();
    for (kind, list) in o.views.iter().flatten() {
        let Ok(k) = kind.parse::<Kind>() else {
            let at = list.first().unwrap_or(&o.kind);
            p.at(
                at,
                format!("views: unknown kind {kind:?}; expected counter, gauge, timer or set"),
            );
            continue;
        };
        let mut parsed = Vec::new();
        for item in list {
            let (suffix, view) = item.value.split_once('=').unwrap_or(("", &item.value));
            let suffix_ok =
                suffix.is_empty() || Series::parse(suffix).is_ok_and(|s| !s.is_tagged());
            match View::parse(view) {
                Some(v) if suffix_ok => parsed.push((suffix.to_string(), v)),
                _ => p.at(
                    item,
                    format!(
                        "view {:?}: expected suffix=view, e.g. rate=sumrate or p99=p99",
                        item.value
                    ),
                ),
            }
        }
        views[usize::from(k.code())] = parsed;
    }
    if statsd && o.views.is_some() {
        p.at(&o.kind, "views do not apply with naming: statsd");
    }
    Naming {
        statsd,
        prefix,
        views,
    }
}

pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}
