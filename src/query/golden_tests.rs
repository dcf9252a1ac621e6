//! Golden tests of the render functions: every `tests/data/functions/*.golden` file holds input
//! series and, per target, the output series graphite-web gives (names, start, step, values),
//! worked out from graphite-web's documented behaviour or ported as data from its own tests.
//! Any mismatch fails. The format is described in `tests/data/functions/README.md`.

use super::eval::{Evaluator, Limits, Request};
use super::series::{Value, max_data_points};
use super::test_source::Memory;
use crate::store::Event;

/// An expected value written `?`: any number (a NaN with a payload no computation gives).
const ANY: f64 = f64::from_bits(0x7ff8_0000_dead_beef);

fn parse_values(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let (v, n) = match item.split_once('*') {
            Some((v, n)) => (v, n.parse::<usize>().expect("repeat count")),
            None => (item, 1),
        };
        let v = match v {
            "None" => None,
            "?" => Some(ANY),
            "nan" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            x => Some(
                x.parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value {x:?}")),
            ),
        };
        out.extend(std::iter::repeat_n(v, n));
    }
    out
}

fn kv(text: &str) -> std::collections::HashMap<&str, &str> {
    text.split_whitespace()
        .filter_map(|p| p.split_once('='))
        .collect()
}

fn same(a: Value, b: Value) -> bool {
    match (a, b) {
        (Some(x), Some(y)) if y.to_bits() == ANY.to_bits() => x.is_finite(),
        (None, None) => true,
        (Some(x), Some(y)) if x.is_nan() && y.is_nan() => true,
        (Some(x), Some(y)) if x == y => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

struct Case {
    file: String,
    line: usize,
    target: String,
    request: Request,
    /// The request's `tz` (IANA name), UTC if unset.
    tz: Option<String>,
    expect: Vec<(String, i64, i64, Vec<Value>)>,
    /// Per expected series, its tags as `k:v,k:v` (sorted by key), if the case gives them.
    tags: Vec<Option<String>>,
    error: Option<String>,
}

fn run_case(data: &Memory, case: &Case) -> Result<(), String> {
    let mut ev = Evaluator::new(data, case.request, Limits::default());
    if let Some(tz) = &case.tz {
        ev = ev.with_tz(jiff::tz::TimeZone::get(tz).expect("a time zone"));
    }
    let at = format!("{}:{} {}", case.file, case.line, case.target);
    let result = ev.targets(&[case.target.as_str()]);
    match (&case.error, result) {
        (Some(want), Err(e)) if e.to_string().contains(want.as_str()) => Ok(()),
        (Some(want), Err(e)) => Err(format!("{at}: error {e:?}, wanted one containing {want:?}")),
        (Some(want), Ok(_)) => Err(format!(
            "{at}: succeeded, wanted an error containing {want:?}"
        )),
        (None, Err(e)) => Err(format!("{at}: {e}")),
        (None, Ok(mut got)) => {
            if let Some(mdp) = case.request.max_data_points {
                max_data_points(&mut got, mdp, case.request.x_files_factor);
            }
            let got_tags: Vec<String> = got
                .iter()
                .map(|s| {
                    s.tags
                        .iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            let got: Vec<(String, i64, i64, Vec<Value>)> = got
                .iter()
                .map(|s| {
                    let (v, t): (Vec<Value>, Vec<i64>) = s.datapoints().unzip();
                    (
                        s.name.clone(),
                        t.first().copied().unwrap_or(s.start),
                        s.step,
                        v,
                    )
                })
                .collect();
            let show = |l: &[(String, i64, i64, Vec<Value>)]| {
                l.iter()
                    .map(|(n, s, st, v)| format!("  {n} | start={s} step={st} values={v:?}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let ok = got.len() == case.expect.len()
                && got.iter().zip(&case.expect).all(|(g, e)| {
                    g.0 == e.0
                        && g.1 == e.1
                        && g.2 == e.2
                        && g.3.len() == e.3.len()
                        && g.3.iter().zip(&e.3).all(|(a, b)| same(*a, *b))
                })
                && got_tags
                    .iter()
                    .zip(&case.tags)
                    .all(|(g, e)| e.as_ref().is_none_or(|e| e == g));
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{at}:\n expected\n{}\n tags {:?}\n got\n{}\n tags {got_tags:?}",
                    show(&case.expect),
                    case.tags,
                    show(&got)
                ))
            }
        }
    }
}

fn run_file(file: &str, text: &str) -> (usize, Vec<String>) {
    let mut data = Memory::default();
    let mut cases: Vec<Case> = Vec::new();
    let mut request = Request {
        from: 0,
        until: 600,
        now: 600,
        max_data_points: None,
        x_files_factor: 0.0,
    };
    let mut tz: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "data" => {
                let (name, attrs) = rest.split_once(' ').expect("data NAME attrs");
                let a = kv(attrs);
                data.series.push((
                    name.to_string(),
                    a["start"].parse().unwrap(),
                    a["step"].parse().unwrap(),
                    parse_values(a["values"]),
                ));
            }
            "event" => {
                let mut parts = rest.splitn(3, ' ');
                let when = parts.next().unwrap().parse().unwrap();
                let tags = parts.next().unwrap().split(',').map(String::from).collect();
                data.events.push(Event {
                    id: data.events.len() as u64 + 1,
                    when,
                    what: parts.next().unwrap_or("").to_string(),
                    tags,
                    data: String::new(),
                });
            }
            "range" => {
                let a = kv(rest);
                request.from = a["from"].parse().unwrap();
                request.until = a["until"].parse().unwrap();
                request.now = a.get("now").map_or(request.until, |v| v.parse().unwrap());
                request.x_files_factor = a.get("xff").map_or(0.0, |v| v.parse().unwrap());
                request.max_data_points = a.get("mdp").map(|v| v.parse().unwrap());
                tz = a.get("tz").map(|v| v.to_string());
            }
            "target" => cases.push(Case {
                file: file.to_string(),
                line: n + 1,
                target: rest.to_string(),
                request,
                tz: tz.clone(),
                expect: Vec::new(),
                tags: Vec::new(),
                error: None,
            }),
            "=" => {
                let (name, attrs) = rest.rsplit_once(" | ").expect("= NAME | attrs");
                let a = kv(attrs);
                let case = cases.last_mut().expect("a target first");
                case.tags.push(a.get("tags").map(|t| t.to_string()));
                case.expect.push((
                    name.to_string(),
                    a["start"].parse().unwrap(),
                    a["step"].parse().unwrap(),
                    parse_values(a["values"]),
                ));
            }
            "error" => cases.last_mut().expect("a target first").error = Some(rest.to_string()),
            other => panic!("{file}:{}: unknown line kind {other:?}", n + 1),
        }
    }
    let failures = cases
        .iter()
        .filter_map(|c| run_case(&data, c).err())
        .collect();
    (cases.len(), failures)
}

#[test]
fn functions_match_graphite_goldens() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/functions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data/functions")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "golden"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let (mut total, mut failures) = (0, Vec::new());
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (n, f) = run_file(&name, &text);
        total += n;
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} golden cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(total >= 100, "only {total} golden cases");
}

/// Every registered function has at least one golden case.
#[test]
fn every_function_has_a_golden_case() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/functions");
    let mut all = String::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    let missing: Vec<&str> = super::functions::all()
        .iter()
        .map(|f| f.name)
        .filter(|name| {
            !all.lines().any(|l| {
                l.starts_with("target ")
                    && (l.contains(&format!("{name}(")) || l.contains(&format!("|{name}(")))
            })
        })
        .collect();
    assert!(missing.is_empty(), "no golden case for: {missing:?}");
}
