//! carbon-relay's consistent-hash ring (`carbon.hashing.ConsistentHashRing` with the default
//! `carbon_ch` hash and 100 replicas), so tally sends each path to the same carbon-cache that
//! a carbon-relay with the same DESTINATIONS would.
//!
//! A position is the first 16 bits of the MD5 of a string. Each node `(server, instance)` is
//! placed 100 times, at the positions of `"<python repr of the tuple>:<i>"` — for example
//! `"('127.0.0.1', 'a'):0"`, or `"('127.0.0.1', None):0"` without an instance — moving up by
//! one while the position is taken. A path goes to the first node at or after its own
//! position, wrapping around.

use md5::{Digest, Md5};

pub const REPLICAS: u32 = 100;

#[derive(Debug, Clone)]
pub struct Ring {
    /// `(position, node index)`, sorted by position; positions are unique.
    entries: Vec<(u32, usize)>,
}

fn position(key: &str) -> u32 {
    let d = Md5::digest(key.as_bytes());
    u32::from(u16::from_be_bytes([d[0], d[1]]))
}

/// Python's `repr()` of a str, for the characters hostnames and instance names use.
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

impl Ring {
    /// Nodes are `(server, instance)`, in the order they are configured (that order decides
    /// who moves on a position collision, as in carbon).
    pub fn new<'a>(nodes: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Ring {
        let mut entries: Vec<(u32, usize)> = Vec::new();
        let mut taken = std::collections::HashSet::new();
        for (idx, (server, instance)) in nodes.into_iter().enumerate() {
            let tuple = format!(
                "({}, {})",
                py_repr(server),
                instance.map_or_else(|| "None".to_string(), py_repr)
            );
            for i in 0..REPLICAS {
                let mut pos = position(&format!("{tuple}:{i}"));
                while !taken.insert(pos) {
                    pos += 1;
                }
                entries.push((pos, idx));
            }
        }
        entries.sort_unstable();
        Ring { entries }
    }

    /// The index of the node `key` belongs to; `None` for an empty ring.
    pub fn node(&self, key: &str) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let pos = position(key);
        let i = self.entries.partition_point(|(p, _)| *p < pos) % self.entries.len();
        Some(self.entries[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected nodes computed by carbon 1.1.7 itself (Debian graphite-carbon):
    /// `ConsistentHashRing([('127.0.0.1','a'),('127.0.0.1','b'),('10.0.0.5',None)]).get_node(k)`.
    /// The integration tests also compare against the installed carbon live.
    #[test]
    fn same_nodes_as_carbon() {
        let ring = Ring::new([
            ("127.0.0.1", Some("a")),
            ("127.0.0.1", Some("b")),
            ("10.0.0.5", None),
        ]);
        assert_eq!(ring.entries.len(), 300);
        assert_eq!(ring.entries[..3], [(315, 2), (398, 0), (463, 2)]);
        let x50 = "x".repeat(50);
        for (key, node) in [
            ("servers.web1.cpu.total.user", 2),
            ("stats.gauges.q", 2),
            ("a", 0),
            ("carbon.agents.x.metricsReceived", 1),
            ("web.hits.count", 0),
            (x50.as_str(), 1),
        ] {
            assert_eq!(ring.node(key), Some(node), "{key}");
        }
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(py_repr("a"), "'a'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a\\b"), "'a\\\\b'");
    }
}
