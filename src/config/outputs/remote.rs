//! The targets of the HTTP outputs: `type: tally` (one URL or several on a ring) and
//! `type: remote_write` (naming, mappings, labels, quantiles).

use super::super::Problems;
use super::{Mapping, OutputFile, Target, http, mapping, naming, valid_label_name};
use serde_saphyr::Spanned;

fn check_url(u: &Spanned<String>, p: &mut Problems<'_>) -> String {
    if !(u.value.starts_with("http://") || u.value.starts_with("https://")) {
        p.at(u, "url must start with http:// or https://");
    } else if reqwest::Url::parse(&u.value).is_err() {
        p.at(u, format!("url {:?} does not parse", u.value));
    }
    u.value.trim_end_matches('/').to_string()
}

fn http(o: &OutputFile, p: &mut Problems<'_>) -> http::Http {
    http::validate(
        o.token.is_some() || o.token_file.is_some(),
        o.basic_auth.as_ref(),
        o.headers.as_ref(),
        o.tls.as_ref(),
        p,
    )
}

pub(super) fn tally(o: &OutputFile, p: &mut Problems<'_>) -> Target {
    let mut urls = Vec::new();
    match (&o.url, &o.urls) {
        (Some(u), None) => urls.push(check_url(u, p)),
        (None, Some(list)) if !list.is_empty() => {
            for u in list {
                let url = check_url(u, p);
                if urls.contains(&url) {
                    p.at(u, format!("{:?} is listed twice", u.value));
                }
                urls.push(url);
            }
        }
        (Some(u), Some(_)) => p.at(u, "give url or urls, not both"),
        _ => p.at(&o.kind, "a tally output needs url (or urls)"),
    }
    if let Some(m) = &o.mode
        && m.value != "consistent_hash"
    {
        p.at(
            m,
            format!(
                "mode {:?}: a tally output spreads its series over urls with consistent_hash",
                m.value
            ),
        );
    }
    Target::Tally {
        urls,
        token: super::super::secret(o.token.clone(), o.token_file.as_ref(), "token", p),
        http: http(o, p),
    }
}

pub(super) fn remote_write(o: &OutputFile, hostname: &str, p: &mut Problems<'_>) -> Target {
    let prometheus = match o.naming.as_ref().map(|n| (n, n.value.as_str())) {
        None | Some((_, "prometheus")) => true,
        Some((_, "views")) => false,
        Some((n, other)) => {
            p.at(
                n,
                format!("naming {other:?}: expected prometheus or views (statsd is for carbon)"),
            );
            true
        }
    };
    if prometheus && let Some(views) = &o.views {
        for (kind, list) in views {
            if matches!(kind.as_str(), "counter" | "timer") {
                let at = list.first().map_or(&o.kind, |s| s);
                p.at(
                    at,
                    format!("views of a {kind} do not apply with naming: prometheus (counters are _total, timers summaries)"),
                );
            }
        }
    }
    if !prometheus && o.quantiles.is_some() {
        p.at(&o.kind, "quantiles are for naming: prometheus");
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
    let mut labels = Vec::new();
    for (k, v) in o.labels.iter().flatten() {
        if !valid_label_name(k) {
            p.at(
                v,
                format!("label {k:?} is not a valid Prometheus label name"),
            );
        }
        labels.push((k.clone(), v.value.replace("{host}", hostname)));
    }
    labels.sort();
    let mappings: Vec<Mapping> = match &o.mappings {
        None => Mapping::defaults(),
        Some(list) => mapping::validate(list, hostname, p),
    };
    let quantiles = match &o.quantiles {
        None => vec![0.5, 0.9, 0.99],
        Some(q) => {
            if q.value.is_empty() || q.value.iter().any(|x| !(0.0..=1.0).contains(x)) {
                p.at(q, "quantiles: numbers from 0 to 1, e.g. [0.5, 0.9, 0.99]");
            }
            q.value.clone()
        }
    };
    let url = match &o.url {
        None => {
            p.at(&o.kind, "a remote_write output needs url");
            String::new()
        }
        Some(u) => check_url(u, p),
    };
    Target::RemoteWrite {
        url,
        token: super::super::secret(o.token.clone(), o.token_file.as_ref(), "token", p),
        naming: naming(o, hostname, p),
        labels,
        path_label,
        http: http(o, p),
        prometheus,
        mappings,
        quantiles,
        max_series: o.max_series.unwrap_or(1_000_000).max(1000),
    }
}
