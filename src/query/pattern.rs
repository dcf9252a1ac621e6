//! Regular expressions compiled once: a dashboard sends the same patterns on every refresh
//! (Grafana wraps each query in `aliasSub(…, '(^.*$)', '\1 A')`), and compiling one (Unicode
//! classes such as `\w` especially) costs more than the rest of a small request. The HTTP
//! state holds one [`Cache`] for the process; the evaluator reads through it.

use regex::Regex;
use std::collections::HashMap;
use std::sync::Mutex;

/// Patterns kept; past this the cache starts over (a bound, not a policy worth more).
const KEPT: usize = 256;
/// The `regex` crate's limit on a compiled pattern (a pattern is user input).
const SIZE_LIMIT: usize = 1 << 20;

/// Compiled patterns by their text.
#[derive(Debug, Default)]
pub struct Cache {
    kept: Mutex<HashMap<String, Regex>>,
}

impl Cache {
    /// `pattern` compiled, from the cache when it was compiled before (errors are not kept).
    pub fn get(&self, pattern: &str) -> Result<Regex, regex::Error> {
        if let Some(re) = self.lock().get(pattern) {
            return Ok(re.clone());
        }
        let re = compile(pattern)?;
        let mut kept = self.lock();
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(pattern.to_string(), re.clone());
        Ok(re)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Regex>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `pattern` compiled, within the size limit.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(SIZE_LIMIT)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_answers_from_the_cache_and_errors_not_kept() {
        let cache = Cache::default();
        let a = cache.get(r"^cmp\.(\w+)\.x$").unwrap();
        let b = cache.get(r"^cmp\.(\w+)\.x$").unwrap();
        assert_eq!(a.as_str(), b.as_str());
        assert_eq!(b.replace_all("cmp.é1.x", "$1"), "é1");
        assert!(cache.get("(").is_err());
        assert!(cache.get("(").is_err());
        assert!(cache.get("a{1000}{1000}").is_err(), "size limit");
        assert_eq!(cache.lock().len(), 1);
    }

    #[test]
    fn bounded() {
        let cache = Cache::default();
        for i in 0..KEPT + 10 {
            assert!(
                cache
                    .get(&format!("x{i}"))
                    .unwrap()
                    .is_match(&format!("x{i}"))
            );
            assert!(cache.lock().len() <= KEPT);
        }
    }
}
