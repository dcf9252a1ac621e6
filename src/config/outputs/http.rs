//! The HTTP settings of `tally` and `remote_write` outputs: `basic_auth`, `headers` and `tls`.
//! Files named here (password, CA, client certificate and key) are read when the config is
//! checked, so `tally check` names a missing or unreadable one with its place.

use super::super::Problems;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthFile {
    pub username: Spanned<String>,
    pub password: Option<Spanned<String>>,
    /// The password is this file's content, without its trailing newline.
    pub password_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// PEM certificates trusted for the remote's certificate (instead of the system's).
    pub ca_file: Option<Spanned<String>>,
    /// PEM client certificate and its key, both or neither.
    pub cert_file: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
    /// The name the remote's certificate is checked against (and sent as SNI and Host),
    /// when the URL holds another name or an address.
    pub server_name: Option<Spanned<String>>,
}

/// Validated HTTP settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Http {
    /// `(username, password)`.
    pub basic_auth: Option<(String, String)>,
    /// Sent with every request, after tally's own headers.
    pub headers: Vec<(String, String)>,
    pub tls: Tls,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    /// `(cert_file, key_file)`.
    pub identity: Option<(PathBuf, PathBuf)>,
    pub server_name: Option<String>,
}

/// Headers tally sets itself, or that `basic_auth`/`token` set.
const RESERVED: [&str; 4] = [
    "content-type",
    "content-encoding",
    "content-length",
    "authorization",
];

fn readable(s: &Spanned<String>, what: &str, pem: bool, p: &mut Problems<'_>) -> Option<String> {
    match std::fs::read(&s.value) {
        Err(e) => {
            p.at(s, format!("{what} {:?}: {e}", s.value));
            None
        }
        Ok(bytes) => {
            if pem && !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
                p.at(s, format!("{what} {:?}: not a PEM file", s.value));
            }
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

pub(super) fn validate(
    token: bool,
    basic_auth: Option<&BasicAuthFile>,
    headers: Option<&BTreeMap<String, Spanned<String>>>,
    tls: Option<&TlsFile>,
    p: &mut Problems<'_>,
) -> Http {
    let mut out = Http::default();
    if let Some(b) = basic_auth {
        let password = match (&b.password, &b.password_file) {
            (Some(pw), None) => pw.value.clone(),
            (None, Some(f)) => readable(f, "password_file", false, p)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .unwrap_or_default(),
            _ => {
                p.at(
                    &b.username,
                    "basic_auth needs password or password_file (one of them)",
                );
                String::new()
            }
        };
        if b.username.value.contains(':') {
            p.at(&b.username, "a basic_auth username cannot contain ':'");
        }
        if token {
            p.at(&b.username, "give token or basic_auth, not both");
        }
        out.basic_auth = Some((b.username.value.clone(), password));
    }
    for (name, value) in headers.into_iter().flatten() {
        let ok_name = !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c));
        if !ok_name {
            p.at(value, format!("header {name:?}: not a valid header name"));
        } else if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            p.at(
                value,
                format!(
                    "header {name:?} is set by tally (use token or basic_auth for Authorization)"
                ),
            );
        }
        if value
            .value
            .bytes()
            .any(|c| c.is_ascii_control() && c != b'\t')
        {
            p.at(
                value,
                format!("header {name:?}: control characters in its value"),
            );
        }
        out.headers.push((name.clone(), value.value.clone()));
    }
    if let Some(t) = tls {
        if let Some(ca) = &t.ca_file {
            readable(ca, "ca_file", true, p);
            out.tls.ca_file = Some(PathBuf::from(&ca.value));
        }
        match (&t.cert_file, &t.key_file) {
            (Some(c), Some(k)) => {
                readable(c, "cert_file", true, p);
                readable(k, "key_file", true, p);
                out.tls.identity = Some((PathBuf::from(&c.value), PathBuf::from(&k.value)));
            }
            (Some(one), None) | (None, Some(one)) => {
                p.at(one, "tls needs cert_file and key_file together");
            }
            (None, None) => {}
        }
        if let Some(n) = &t.server_name {
            let ok = !n.value.is_empty()
                && n.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !ok {
                p.at(n, format!("server_name {:?}: expected a DNS name", n.value));
            }
            out.tls.server_name = Some(n.value.clone());
        }
    }
    out
}
