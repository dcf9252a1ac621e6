//! The series index in memory: ids (dense, from 0, in order of first commit), names, kinds, and
//! a tree of untagged path nodes for Graphite `find`. Each tree node owns its own name segment
//! and a sorted map of children, so a glob walks it node by node using the glob's fast paths:
//! a literal is one lookup, a prefix is one sorted range, only real patterns scan the children.

use super::{Node, SeriesId, SeriesInfo};
use crate::metric::glob::{Glob, Node as GlobNode};
use crate::metric::{Kind, Series};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Debug, Default)]
struct TreeNode {
    children: BTreeMap<Box<str>, TreeNode>,
    leaf: Option<SeriesId>,
}

#[derive(Debug, Default)]
pub struct Index {
    series: Vec<(Series, Kind)>,
    by_name: FxHashMap<Series, SeriesId>,
    tree: TreeNode,
    /// Tagged series, in id order (they are not in the tree).
    tagged: Vec<SeriesId>,
}

impl Index {
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn id(&self, name: &str) -> Option<SeriesId> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, id: SeriesId) -> Option<&(Series, Kind)> {
        self.series.get(id as usize)
    }

    pub fn info(&self, id: SeriesId) -> Option<SeriesInfo> {
        self.get(id).map(|(series, kind)| SeriesInfo {
            id,
            series: series.clone(),
            kind: *kind,
        })
    }

    /// Adds a new series with the next id.
    pub fn push(&mut self, series: Series, kind: Kind) -> SeriesId {
        let id = self.series.len() as SeriesId;
        if !series.is_tagged() {
            let mut node = &mut self.tree;
            for part in series.as_str().split('.') {
                if !node.children.contains_key(part) {
                    node.children.insert(part.into(), TreeNode::default());
                }
                node = node.children.get_mut(part).expect("inserted just above");
            }
            node.leaf = Some(id);
        } else {
            self.tagged.push(id);
        }
        self.by_name.insert(series.clone(), id);
        self.series.push((series, kind));
        id
    }

    fn walk<'a>(&'a self, glob: &Glob) -> Vec<(String, &'a TreeNode)> {
        let mut out = Vec::new();
        let mut path = String::new();
        if !glob.nodes.is_empty() {
            walk(&self.tree, &glob.nodes, &mut path, &mut out);
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// The nodes at the glob's depth, sorted by path.
    pub fn find(&self, glob: &Glob) -> Vec<Node> {
        self.walk(glob)
            .into_iter()
            .map(|(path, n)| Node {
                path,
                leaf: n.leaf.is_some(),
                branch: !n.children.is_empty(),
            })
            .collect()
    }

    /// Every series, in order of first commit.
    pub fn all(&self) -> Vec<SeriesInfo> {
        (0..self.series.len() as SeriesId)
            .filter_map(|id| self.info(id))
            .collect()
    }

    /// Every tagged series, in order of first commit.
    pub fn tagged(&self) -> Vec<SeriesInfo> {
        self.tagged.iter().filter_map(|&id| self.info(id)).collect()
    }

    /// The series whose whole (untagged) name matches, sorted by name.
    pub fn matching(&self, glob: &Glob) -> Vec<SeriesInfo> {
        self.walk(glob)
            .into_iter()
            .filter_map(|(_, n)| n.leaf.and_then(|id| self.info(id)))
            .collect()
    }
}

fn walk<'a>(
    node: &'a TreeNode,
    globs: &[GlobNode],
    path: &mut String,
    out: &mut Vec<(String, &'a TreeNode)>,
) {
    let Some((glob, rest)) = globs.split_first() else {
        return;
    };
    let mut visit = |name: &str, child: &'a TreeNode| {
        if !rest.is_empty() && child.children.is_empty() {
            return;
        }
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(name);
        if rest.is_empty() {
            out.push((path.clone(), child));
        } else {
            walk(child, rest, path, out);
        }
        path.truncate(len);
    };
    match glob {
        GlobNode::Literal(l) => {
            if let Some(child) = node.children.get(l.as_str()) {
                visit(l, child);
            }
        }
        GlobNode::Any => node.children.iter().for_each(|(k, c)| visit(k, c)),
        GlobNode::Prefix(p) => {
            let range = node
                .children
                .range::<str, _>((Bound::Included(p.as_str()), Bound::Unbounded));
            for (k, c) in range {
                if !k.starts_with(p.as_str()) {
                    break;
                }
                visit(k, c);
            }
        }
        GlobNode::Regex(re) => {
            for (k, c) in &node.children {
                if re.is_match(k) {
                    visit(k, c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index(names: &[&str]) -> Index {
        let mut ix = Index::default();
        for n in names {
            ix.push(Series::parse(n).unwrap(), Kind::Gauge);
        }
        ix
    }

    fn find(ix: &Index, g: &str) -> Vec<(String, bool, bool)> {
        ix.find(&Glob::parse(g).unwrap())
            .into_iter()
            .map(|n| (n.path, n.leaf, n.branch))
            .collect()
    }

    #[test]
    fn find_works_like_graphite() {
        let ix = index(&["a.b.c", "a.d", "a.b", "x.y;dc=eu", "a-.z"]);
        assert_eq!(
            find(&ix, "a.*"),
            vec![("a.b".into(), true, true), ("a.d".into(), true, false)]
        );
        assert_eq!(
            find(&ix, "*"),
            vec![("a".into(), false, true), ("a-".into(), false, true)]
        );
        assert_eq!(find(&ix, "a.b.c"), vec![("a.b.c".into(), true, false)]);
        assert!(
            find(&ix, "x.*").is_empty(),
            "tagged series are not in the tree"
        );
        assert_eq!(ix.id("x.y;dc=eu"), Some(3));
        assert_eq!(find(&ix, "*.z"), vec![("a-.z".into(), true, false)]);
        let m = ix.matching(&Glob::parse("a.{b,d}").unwrap());
        assert_eq!(
            m.iter().map(|i| i.series.as_str()).collect::<Vec<_>>(),
            vec!["a.b", "a.d"]
        );
    }

    fn node_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ab]{1,2}".prop_map(String::from),
            "(cpu|cpux|c|mem|a-b|_)".prop_map(String::from),
        ]
    }

    fn glob_node() -> impl Strategy<Value = String> {
        prop_oneof![
            node_name(),
            Just("*".to_string()),
            "[abc]{0,2}\\*".prop_map(String::from),
            Just("{a,cpu}".to_string()),
            Just("?".to_string()),
            Just("[a-b]*".to_string()),
            Just("c*u".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn find_matches_a_brute_force_filter(
            names in proptest::collection::vec(proptest::collection::vec(node_name(), 1..4), 0..40),
            glob in proptest::collection::vec(glob_node(), 1..4),
        ) {
            let names: Vec<String> = names.iter().map(|n| n.join(".")).collect();
            let mut ix = Index::default();
            for n in &names {
                if ix.id(n).is_none() {
                    ix.push(Series::parse(n).unwrap(), Kind::Counter);
                }
            }
            let pattern = glob.join(".");
            let g = Glob::parse(&pattern).unwrap();
            // Brute force: every prefix of every name, at the glob's depth.
            let depth = g.nodes.len();
            let mut want: BTreeMap<String, (bool, bool)> = BTreeMap::new();
            for n in &names {
                let parts: Vec<&str> = n.split('.').collect();
                if parts.len() < depth {
                    continue;
                }
                let prefix = parts[..depth].join(".");
                if g.matches(&prefix) {
                    let e = want.entry(prefix).or_default();
                    e.0 |= parts.len() == depth;
                    e.1 |= parts.len() > depth;
                }
            }
            let got: Vec<(String, bool, bool)> = ix.find(&g).into_iter().map(|n| (n.path, n.leaf, n.branch)).collect();
            let want_vec: Vec<(String, bool, bool)> = want.iter().map(|(p, &(l, b))| (p.clone(), l, b)).collect();
            prop_assert_eq!(got, want_vec);
            let got: Vec<String> = ix.matching(&g).into_iter().map(|i| i.series.to_string()).collect();
            let want: Vec<String> = want.into_iter().filter(|(_, (l, _))| *l).map(|(p, _)| p).collect();
            prop_assert_eq!(got, want);
        }
    }
}
