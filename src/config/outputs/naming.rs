//! Helpers of the outputs' validation: how buckets are named (`naming`, `views`, `prefix`),
//! sizes, carbon destinations and Prometheus label names.

use super::super::Problems;
use super::{Destination, Naming, OutputFile};
use crate::metric::{Kind, Series};
use crate::query::View;

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

pub(super) fn parse_destination(s: &str) -> Option<Destination> {
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

/// `{host}` in `prefix` is the hostname. `naming: prometheus` (remote_write's) is checked by
/// the caller; here it reads as `views`.
pub(super) fn naming(o: &OutputFile, hostname: &str, p: &mut Problems<'_>) -> Naming {
    let statsd = match o.naming.as_ref().map(|n| (n, n.value.as_str())) {
        None | Some((_, "views" | "prometheus")) => false,
        Some((_, "statsd")) => true,
        Some((n, other)) => {
            p.at(n, format!("naming {other:?}: expected views or statsd"));
            false
        }
    };
    let prefix = match &o.prefix {
        None => String::new(),
        Some(s) => {
            let expanded = s.value.replace("{host}", hostname);
            if !expanded.is_empty() && Series::parse(&expanded).is_err() {
                p.at(s, format!("prefix {:?} is not a valid path", s.value));
            }
            expanded
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
