//! `/render?format=pickle|msgpack`: graphite-web's `renderViewPickle`/`renderViewMsgPack`, a list
//! of each series' `getInfo()`:
//!
//! ```text
//! [{"name", "start", "end", "step", "values" (floats, None for nulls), "pathExpression",
//!   "valuesPerPoint", "consolidationFunc", "xFilesFactor"}, …]
//! ```
//!
//! `/metrics/find?format=pickle|msgpack` (graphite-web's `pickle_nodes`, what its cluster's
//! `RemoteFinder` reads) is `nodes_info`: `[{"path", "is_leaf", "intervals": [(start, end)]}]`,
//! `intervals` on leaves only.
//!
//! Both encoders are hand-written for this one shape. Pickle is protocol 2 (graphite-web writes
//! its highest protocol; any protocol reads back the same with `pickle.loads`), without memo
//! entries. msgpack is what msgpack-python writes with `use_bin_type=True`: the smallest integer
//! and container forms, str types for text, float64 for floats.

use crate::query::TimeSeries;

/// A value of the getInfo shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// Keys in order.
    Dict(Vec<(String, Value)>),
}

/// graphite's `TimeSeries.getInfo()` for every series.
pub fn series_info(series: &[TimeSeries], x_files_factor: f64) -> Value {
    Value::List(
        series
            .iter()
            .map(|s| {
                Value::Dict(vec![
                    ("name".into(), Value::Str(s.name.clone())),
                    ("start".into(), Value::Int(s.start)),
                    ("end".into(), Value::Int(s.end)),
                    ("step".into(), Value::Int(s.step)),
                    (
                        "values".into(),
                        Value::List(
                            s.values
                                .iter()
                                .map(|v| v.map_or(Value::None, Value::Float))
                                .collect(),
                        ),
                    ),
                    (
                        "pathExpression".into(),
                        Value::Str(s.path_expression.clone()),
                    ),
                    ("valuesPerPoint".into(), Value::Int(1)),
                    (
                        "consolidationFunc".into(),
                        Value::Str(s.consolidation.name().into()),
                    ),
                    (
                        "xFilesFactor".into(),
                        Value::Float(s.x_files_factor.unwrap_or(x_files_factor)),
                    ),
                ])
            })
            .collect(),
    )
}

/// One found node for `nodes_info`: its path, whether it is a series, and for a series the
/// time it may hold data in (`(now - longest retention, now)`, as whisper's file says).
pub struct FoundNode {
    pub path: String,
    pub interval: Option<(i64, i64)>,
}

/// graphite-web's `pickle_nodes`/`msgpack_nodes` shape.
pub fn nodes_info(nodes: &[FoundNode]) -> Value {
    Value::List(
        nodes
            .iter()
            .map(|n| {
                let mut d = vec![
                    ("path".into(), Value::Str(n.path.clone())),
                    ("is_leaf".into(), Value::Bool(n.interval.is_some())),
                ];
                if let Some((start, end)) = n.interval {
                    let i = Value::List(vec![Value::Int(start), Value::Int(end)]);
                    d.push(("intervals".into(), Value::List(vec![i])));
                }
                Value::Dict(d)
            })
            .collect(),
    )
}

/// Pickle protocol 2.
pub fn pickle(v: &Value) -> Vec<u8> {
    let mut out = vec![0x80, 2];
    pickle_value(v, &mut out);
    out.push(b'.');
    out
}

fn pickle_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::None => out.push(b'N'),
        Value::Bool(b) => out.push(if *b { 0x88 } else { 0x89 }),
        Value::Int(n) => match *n {
            0..=0xff => out.extend([b'K', *n as u8]),
            0x100..=0xffff => {
                out.push(b'M');
                out.extend((*n as u16).to_le_bytes());
            }
            n if i32::try_from(n).is_ok() => {
                out.push(b'J');
                out.extend((n as i32).to_le_bytes());
            }
            n => {
                // LONG1: little-endian two's complement, 8 bytes is always enough.
                out.extend([0x8a, 8]);
                out.extend(n.to_le_bytes());
            }
        },
        Value::Float(f) => {
            out.push(b'G');
            out.extend(f.to_be_bytes());
        }
        Value::Str(s) => {
            out.push(b'X');
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.as_bytes());
        }
        Value::List(items) => {
            out.push(b']');
            for chunk in items.chunks(1000) {
                out.push(b'(');
                for i in chunk {
                    pickle_value(i, out);
                }
                out.push(b'e');
            }
        }
        Value::Dict(items) => {
            out.push(b'}');
            if !items.is_empty() {
                out.push(b'(');
                for (k, v) in items {
                    pickle_value(&Value::Str(k.clone()), out);
                    pickle_value(v, out);
                }
                out.push(b'u');
            }
        }
    }
}

/// msgpack as msgpack-python's `packb(…, use_bin_type=True)` writes it.
pub fn msgpack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack_value(v, &mut out);
    out
}

fn msgpack_len(len: usize, fix: u8, fix_max: usize, wide: [u8; 3], out: &mut Vec<u8>) {
    match len {
        n if n <= fix_max => out.push(fix | n as u8),
        n if wide[0] != 0 && n <= 0xff => out.extend([wide[0], n as u8]),
        n if n <= 0xffff => {
            out.push(wide[1]);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(wide[2]);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn msgpack_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::None => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(n) => {
            let n = *n;
            if (0..=0x7f).contains(&n) || (-32..0).contains(&n) {
                out.push(n as u8);
            } else if n >= 0 {
                if n <= 0xff {
                    out.extend([0xcc, n as u8]);
                } else if n <= 0xffff {
                    out.push(0xcd);
                    out.extend((n as u16).to_be_bytes());
                } else if n <= 0xffff_ffff {
                    out.push(0xce);
                    out.extend((n as u32).to_be_bytes());
                } else {
                    out.push(0xcf);
                    out.extend((n as u64).to_be_bytes());
                }
            } else if n >= -0x80 {
                out.extend([0xd0, n as i8 as u8]);
            } else if n >= -0x8000 {
                out.push(0xd1);
                out.extend((n as i16).to_be_bytes());
            } else if n >= -0x8000_0000 {
                out.push(0xd2);
                out.extend((n as i32).to_be_bytes());
            } else {
                out.push(0xd3);
                out.extend(n.to_be_bytes());
            }
        }
        Value::Float(f) => {
            out.push(0xcb);
            out.extend(f.to_be_bytes());
        }
        Value::Str(s) => {
            msgpack_len(s.len(), 0xa0, 31, [0xd9, 0xda, 0xdb], out);
            out.extend(s.as_bytes());
        }
        Value::List(items) => {
            msgpack_len(items.len(), 0x90, 15, [0, 0xdc, 0xdd], out);
            for i in items {
                msgpack_value(i, out);
            }
        }
        Value::Dict(items) => {
            msgpack_len(items.len(), 0x80, 15, [0, 0xde, 0xdf], out);
            for (k, v) in items {
                msgpack_value(&Value::Str(k.clone()), out);
                msgpack_value(v, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Bytes msgpack-python 1.0.3 writes for
    /// `packb([{'a':1.5,'b':None,'c':[1,300,-1,70000,2**40]}], use_bin_type=True)`.
    #[test]
    fn msgpack_matches_msgpack_python() {
        let v = Value::List(vec![Value::Dict(vec![
            ("a".into(), Value::Float(1.5)),
            ("b".into(), Value::None),
            (
                "c".into(),
                Value::List(vec![
                    Value::Int(1),
                    Value::Int(300),
                    Value::Int(-1),
                    Value::Int(70000),
                    Value::Int(1 << 40),
                ]),
            ),
        ])]);
        assert_eq!(
            hex(&msgpack(&v)),
            "9183a161cb3ff8000000000000a162c0a1639501cd012cffce00011170cf0000010000000000"
        );
        // Lengths past the fix forms.
        let long = "x".repeat(40);
        assert!(hex(&msgpack(&Value::Str(long))).starts_with("d928"));
        let items = Value::List(vec![Value::None; 20]);
        assert!(hex(&msgpack(&items)).starts_with("dc0014"));
        assert_eq!(hex(&msgpack(&Value::Int(-200))), "d1ff38");
        assert_eq!(hex(&msgpack(&Value::Int(-33))), "d0df");
        assert_eq!(hex(&msgpack(&Value::Bool(true))), "c3");
        assert_eq!(hex(&pickle(&Value::Bool(false))), "8002892e");
    }

    #[test]
    fn pickle_opcodes() {
        let v = Value::List(vec![Value::Dict(vec![
            ("name".into(), Value::Str("x".into())),
            ("start".into(), Value::Int(-5)),
            (
                "v".into(),
                Value::List(vec![Value::Float(1.5), Value::None]),
            ),
            ("big".into(), Value::Int(1 << 40)),
        ])]);
        assert_eq!(
            hex(&pickle(&v)),
            concat!(
                "8002",
                "5d",
                "28",
                "7d",
                "28",
                "5804000000",
                "6e616d65",
                "5801000000",
                "78",
                "5805000000",
                "7374617274",
                "4afbffffff",
                "5801000000",
                "76",
                "5d",
                "28",
                "473ff8000000000000",
                "4e",
                "65",
                "5803000000",
                "626967",
                "8a08",
                "0000000000010000",
                "75",
                "65",
                "2e"
            )
        );
    }
}
