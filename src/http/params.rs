//! Request parameters from the query string and a form body together, repeated keys kept.

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
