//! The bodies of graphite-web's `/metrics/find` (its `metrics/views.py`): the nodes sorted by
//! name, then `treejson`, `completer`, `json` and `nodelist`. `graphite.rs` reads the request
//! and the store; `binary.rs` writes `pickle` and `msgpack` from the same nodes.

use super::binary::FoundNode;
use serde_json::{Value, json};

/// The last node of a path (graphite's `node.name`).
fn name(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// graphite-web's `matches.sort(key=lambda node: node.name)`. It is stable, so nodes of one
/// name keep the store's order, which for whisper is `os.listdir`'s; here it is the path's.
pub fn sort_by_name(nodes: &mut [FoundNode]) {
    nodes.sort_by(|a, b| name(&a.path).cmp(name(&b.path)).then(a.path.cmp(&b.path)));
}

fn kind(branch: bool) -> [(&'static str, Value); 3] {
    let b = u8::from(branch);
    [
        ("allowChildren", json!(b)),
        ("expandable", json!(b)),
        ("leaf", json!(1 - b)),
    ]
}

/// `tree_json`: one entry per name (the first node of it), branches before leaves, after a
/// `*` entry when asked for and more than one node matched.
pub fn tree_json(nodes: &[FoundNode], base: &str, wildcards: bool) -> Value {
    let mut out = Vec::new();
    if wildcards && nodes.len() > 1 {
        let mut node = serde_json::Map::new();
        node.insert("text".into(), json!("*"));
        node.insert("id".into(), json!(format!("{base}*")));
        node.extend(kind(nodes.iter().any(|n| n.interval.is_none())).map(|(k, v)| (k.into(), v)));
        out.push(Value::Object(node));
    }
    let mut seen = std::collections::HashSet::new();
    let (mut branches, mut leaves) = (Vec::new(), Vec::new());
    for n in nodes {
        let name = name(&n.path);
        if !seen.insert(name) {
            continue;
        }
        let mut node = serde_json::Map::new();
        node.insert("text".into(), json!(unquote_plus(name)));
        node.insert("id".into(), json!(format!("{base}{name}")));
        let branch = n.interval.is_none();
        node.extend(kind(branch).map(|(k, v)| (k.into(), v)));
        if branch { &mut branches } else { &mut leaves }.push(Value::Object(node));
    }
    out.extend(branches);
    out.extend(leaves);
    Value::Array(out)
}

/// The `completer` format: every node, a branch's path ending in `.`; a `{"name": "*"}` entry
/// last when asked for and more than one node matched.
pub fn completer(nodes: &[FoundNode], wildcards: bool) -> Value {
    let mut metrics: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let leaf = n.interval.is_some();
            let dot = if leaf { "" } else { "." };
            json!({"path": format!("{}{dot}", n.path), "name": name(&n.path),
                "is_leaf": if leaf { "1" } else { "0" }})
        })
        .collect();
    if wildcards && metrics.len() > 1 {
        metrics.push(json!({"name": "*"}));
    }
    json!({ "metrics": metrics })
}

/// `json_nodes`: path, is_leaf and a leaf's intervals, sorted by path.
pub fn json_nodes(nodes: &[FoundNode]) -> Value {
    let mut out: Vec<(&str, Value)> = nodes
        .iter()
        .map(|n| {
            let v = match n.interval {
                Some((start, end)) => json!({"path": n.path, "is_leaf": true,
                    "intervals": [{"start": start as f64, "end": end as f64}]}),
                None => json!({"path": n.path, "is_leaf": false}),
            };
            (n.path.as_str(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    Value::Array(out.into_iter().map(|(_, v)| v).collect())
}

/// `nodes_by_position`: the distinct nodes at `position` (negative from the end) of every
/// path, sorted. A position past a path's end is an error (graphite-web's is a 500).
pub fn nodelist(nodes: &[FoundNode], position: i64) -> Result<Value, String> {
    let mut found = std::collections::BTreeSet::new();
    for n in nodes {
        let parts: Vec<&str> = n.path.split('.').collect();
        let len = parts.len() as i64;
        let i = if position < 0 {
            len + position
        } else {
            position
        };
        let part = usize::try_from(i)
            .ok()
            .and_then(|i| parts.get(i))
            .ok_or_else(|| format!("position {position} is outside {:?}", n.path))?;
        found.insert(*part);
    }
    Ok(json!({ "nodes": found }))
}

/// Python's `unquote_plus`: `+` is a space, `%XX` a byte (invalid escapes kept).
fn unquote_plus(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, leaf: bool) -> FoundNode {
        FoundNode {
            path: path.into(),
            interval: leaf.then_some((100, 200)),
        }
    }

    fn nodes() -> Vec<FoundNode> {
        let mut n = vec![
            node("cmp.a.x", true),
            node("cmp.b.x", true),
            node("cmp.freq.1", true),
            node("cmp.freq.2", true),
            node("cmp.power.1", true),
        ];
        sort_by_name(&mut n);
        n
    }

    #[test]
    fn sorted_by_name_then_path_as_graphite_web() {
        let n = nodes();
        let paths: Vec<&str> = n.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "cmp.freq.1",
                "cmp.power.1",
                "cmp.freq.2",
                "cmp.a.x",
                "cmp.b.x"
            ]
        );
    }

    #[test]
    fn completer_and_tree_json() {
        let c = completer(&nodes(), true);
        assert_eq!(c["metrics"][0]["path"], "cmp.freq.1");
        assert_eq!(c["metrics"][5], json!({"name": "*"}));
        let mut b = vec![
            node("cmp.b", false),
            node("cmp.a", false),
            node("cmp.a", true),
        ];
        sort_by_name(&mut b);
        let t = tree_json(&b, "cmp.", true);
        assert_eq!(t[0]["text"], "*");
        assert_eq!(t[0]["leaf"], 0);
        // One entry per name: cmp.a is a branch (its first node), then cmp.b.
        assert_eq!(t.as_array().unwrap().len(), 3);
        assert_eq!(
            (t[1]["id"].clone(), t[1]["leaf"].clone()),
            (json!("cmp.a"), json!(0))
        );
        let leaves = tree_json(&[node("a.b+c%41", true)], "a.", false);
        assert_eq!(leaves[0]["text"], "b cA");
        assert_eq!(leaves[0]["id"], "a.b+c%41");
    }

    #[test]
    fn json_nodes_and_nodelist() {
        let j = json_nodes(&nodes());
        assert_eq!(j[0]["path"], "cmp.a.x");
        assert_eq!(j[0]["intervals"], json!([{"start": 100.0, "end": 200.0}]));
        assert_eq!(
            json_nodes(&[node("a", false)]),
            json!([{"path": "a", "is_leaf": false}])
        );
        assert_eq!(
            nodelist(&nodes(), -1),
            Ok(json!({"nodes": ["1", "2", "x"]}))
        );
        assert_eq!(
            nodelist(&nodes(), 1),
            Ok(json!({"nodes": ["a", "b", "freq", "power"]}))
        );
        assert!(nodelist(&nodes(), 3).is_err());
        assert!(nodelist(&nodes(), -4).is_err());
    }
}
