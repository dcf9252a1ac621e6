//! Regular expressions compiled once: a dashboard sends the same patterns on every refresh
//! (Grafana wraps each query in `aliasSub(…, '(^.*$)', '\1 A')`), and compiling one (Unicode
//! classes such as `\w` especially) costs more than the rest of a small request; so does a
//! path glob with braces or classes, which is a regular expression per node. The HTTP
//! state holds one [`Cache`] for the process; the evaluator reads through it.

use crate::metric::glob::{self, Glob};
use regex::Regex;
use std::collections::HashMap;
use std::sync::Mutex;

/// Patterns kept; past this the cache starts over (a bound, not a policy worth more).
const KEPT: usize = 256;
/// The `regex` crate's limit on a compiled pattern (a pattern is user input).
const SIZE_LIMIT: usize = 1 << 20;

/// Compiled regular expressions and path globs (`web{1,3}` is a regular expression too) by
/// their text.
#[derive(Debug, Default)]
pub struct Cache {
    regexes: Kept<Regex>,
    globs: Kept<Glob>,
}

impl Cache {
    /// `pattern` compiled, from the cache when it was compiled before (errors are not kept).
    pub fn get(&self, pattern: &str) -> Result<Regex, regex::Error> {
        self.regexes.get(pattern, compile)
    }

    /// A path glob parsed, from the cache when it was parsed before.
    pub fn glob(&self, pattern: &str) -> Result<Glob, glob::Error> {
        self.globs.get(pattern, Glob::parse)
    }
}

#[derive(Debug)]
struct Kept<T>(Mutex<HashMap<String, T>>);

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept(Mutex::default())
    }
}

impl<T: Clone> Kept<T> {
    fn get<E>(&self, text: &str, make: impl FnOnce(&str) -> Result<T, E>) -> Result<T, E> {
        if let Some(v) = self.lock().get(text) {
            return Ok(v.clone());
        }
        let v = make(text)?;
        let mut kept = self.lock();
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(text.to_string(), v.clone());
        Ok(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, T>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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
        assert_eq!(cache.regexes.lock().len(), 1);
        let g = cache.glob("tiers.web{1,3}.req").unwrap();
        assert!(g.matches("tiers.web3.req") && !g.matches("tiers.web2.req"));
        let g = cache.glob("tiers.web{1,3}.req").unwrap();
        assert!(g.matches("tiers.web1.req"));
        assert!(cache.glob("").is_err(), "errors are not kept");
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
            assert!(cache.regexes.lock().len() <= KEPT);
        }
    }
}
