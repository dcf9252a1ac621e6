//! Request parameters from the query string and a form body together, repeated keys kept.
//! A body is read as `application/x-www-form-urlencoded` or as `multipart/form-data` (what
//! graphite-web's cluster requests send with `REMOTE_STORE_USE_POST`, through urllib3).

use super::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>, form_body: &[u8]) -> Params {
        let mut list: Vec<(String, String)> = query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        list.extend(form_urlencoded::parse(form_body).into_owned());
        Params(list)
    }

    /// The query string and a body of the given `Content-Type` (other bodies add nothing).
    pub fn from_request(query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Params {
        let ct = content_type.unwrap_or("").trim();
        if ct.starts_with("application/x-www-form-urlencoded") {
            return Params::parse(query, body);
        }
        let mut p = Params::parse(query, b"");
        if ct.starts_with("multipart/form-data")
            && let Some(boundary) = boundary(ct)
        {
            p.0.extend(multipart(body, &boundary));
        }
        p
    }

    /// Every `(key, value)` in order, query string first.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (and of `key[]`, as jQuery sends arrays).
    pub fn all(&self, key: &str) -> Vec<&str> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| k == key || *k == bracketed)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True" | "yes" | "on"))
    }

    /// A non-negative integer parameter; anything but digits is a 400.
    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) if v.chars().all(|c| c.is_ascii_digit()) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("{key}: number too large"))),
            Some(v) => Err(ApiError::BadRequest(format!(
                "{key} must be digits only, got {v:?}"
            ))),
        }
    }
}

/// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// The named parts of a multipart body as `(name, value)`, values read as UTF-8 (lossily).
/// A malformed part is left out; the request then lacks that parameter and says so.
fn multipart(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((headers, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let name = headers.split("\r\n").find_map(|h| {
            let (k, v) = h.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            let start = v.find("name=\"")? + 6;
            let len = v[start..].find('"')?;
            Some(v[start..start + len].to_string())
        });
        if let Some(name) = name {
            out.push((name, value.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body as urllib3's `encode_multipart_formdata` writes it (graphite-web's RemoteReader
    /// with `REMOTE_STORE_USE_POST = True`).
    #[test]
    fn multipart_form_fields_in_order() {
        let body = concat!(
            "--b0\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\npickle\r\n",
            "--b0\r\nContent-Disposition: form-data; name=\"target\"\r\n\r\na.*.x\r\n",
            "--b0\r\nContent-Disposition: form-data; name=\"target\"\r\n\r\nline1\r\nline2\r\n",
            "--b0\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\n100\r\n",
            "--b0--\r\n"
        );
        let p = Params::from_request(
            Some("local=1"),
            Some("multipart/form-data; boundary=b0"),
            body.as_bytes(),
        );
        assert_eq!(p.get("local"), Some("1"));
        assert_eq!(p.get("format"), Some("pickle"));
        assert_eq!(p.all("target"), vec!["a.*.x", "line1\r\nline2"]);
        assert_eq!(p.get("from"), Some("100"));
        // Quoted boundary; a body of another type adds nothing.
        let q = Params::from_request(
            None,
            Some("multipart/form-data; boundary=\"b0\""),
            body.as_bytes(),
        );
        assert_eq!(q.get("format"), Some("pickle"));
        let j = Params::from_request(Some("a=1"), Some("application/json"), b"{}");
        assert_eq!(j.pairs().len(), 1);
        let u = Params::from_request(None, Some("application/x-www-form-urlencoded"), b"t=1&t=2");
        assert_eq!(u.all("t"), vec!["1", "2"]);
    }
}
