//! HTTP clients of the `tally` and `remote_write` outputs: timeouts, `tls` (a CA file instead of
//! the system's roots, a client certificate, a `server_name` to check the certificate
//! against), `basic_auth`, `headers`, `Retry-After`, and errors told with their causes.
//!
//! `server_name`: the request goes to `https://<server_name>:<port>/…`, and a resolver sends
//! that name to the addresses of the URL's own host, so SNI, the certificate check and `Host`
//! all use `server_name` while the connection goes where the URL says.

use crate::config::outputs::Http;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The error and every cause below it, `": "`-joined, repeats left out: reqwest's "error
/// sending request for url (…)" alone does not say "Connection refused".
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// How long a 429 or 503 asks to wait: `Retry-After` in seconds or as an HTTP date, at most
/// `max`.
pub fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: i64,
    max: Duration,
) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let t = http_date(v)?;
            u64::try_from(t - now).unwrap_or(0)
        }
    };
    Some(Duration::from_secs(secs).min(max))
}

/// Unix seconds of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(s: &str) -> Option<i64> {
    let rest = s.split_once(", ")?.1;
    let ts: jiff::Timestamp = jiff::fmt::strtime::parse("%d %b %Y %H:%M:%S GMT", rest)
        .ok()?
        .to_datetime()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp();
    Some(ts.as_second())
}

/// Sends `server_name` to the URL host's addresses.
struct Rename {
    server_name: String,
    host: String,
}

impl reqwest::dns::Resolve for Rename {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = if name.as_str() == self.server_name {
            self.host.clone()
        } else {
            name.as_str().to_string()
        };
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A client for these settings, and the URLs rewritten for `server_name`.
pub fn build(
    http: &Http,
    timeout: Duration,
    urls: &[String],
) -> Result<(reqwest::Client, Vec<String>), String> {
    // reqwest is built without a crypto provider (see Cargo.toml): ring is installed for the
    // process once; a second install is refused and changes nothing.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("tally/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &http.tls.ca_file {
        let pem = read(ca)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("{}: {}", ca.display(), chain(&e)))?;
        b = b.tls_certs_only(certs);
    }
    if let Some((cert, key)) = &http.tls.identity {
        let mut pem = read(cert)?;
        pem.push(b'\n');
        pem.extend(read(key)?);
        let id = reqwest::Identity::from_pem(&pem)
            .map_err(|e| format!("{} and {}: {}", cert.display(), key.display(), chain(&e)))?;
        b = b.identity(id);
    }
    let mut out = urls.to_vec();
    if let Some(name) = &http.tls.server_name {
        let mut host = None;
        for u in &mut out {
            let mut url = reqwest::Url::parse(u).map_err(|e| format!("{u}: {e}"))?;
            let h = url
                .host_str()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_string();
            if host.as_ref().is_some_and(|x| *x != h) {
                return Err("server_name needs every url on one host".into());
            }
            url.set_host(Some(name))
                .map_err(|e| format!("server_name {name}: {e}"))?;
            *u = url.as_str().trim_end_matches('/').to_string();
            host = Some(h);
        }
        if let Some(host) = host {
            b = b.dns_resolver(Arc::new(Rename {
                server_name: name.clone(),
                host,
            }));
        }
    }
    let client = b.build().map_err(|e| chain(&e))?;
    Ok((client, out))
}

/// `basic_auth` and `headers` on a request.
pub fn decorate(req: reqwest::RequestBuilder, http: &Http) -> reqwest::RequestBuilder {
    let mut req = req;
    if let Some((user, password)) = &http.basic_auth {
        req = req.basic_auth(user, Some(password));
    }
    for (k, v) in &http.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let mut h = reqwest::header::HeaderMap::new();
        let max = Duration::from_secs(300);
        assert_eq!(retry_after(&h, 0, max), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h, 0, max), Some(Duration::from_secs(7)));
        h.insert("retry-after", "99999".parse().unwrap());
        assert_eq!(retry_after(&h, 0, max), Some(max));
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h, 784111777 - 20, max),
            Some(Duration::from_secs(20))
        );
        assert_eq!(retry_after(&h, 784111777 + 5, max), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h, 0, max), None);
    }

    #[test]
    fn the_chain_names_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            chain(&Outer(io)),
            "error sending request: connection refused"
        );
    }
}
