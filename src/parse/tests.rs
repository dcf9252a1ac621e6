use super::*;
use crate::metric::{Kind, Observation};

const NOW: i64 = 1_705_320_000; // 2024-01-15T12:00:00Z

fn one(yaml: &str) -> Parser {
    let mut ps = parse_str(yaml, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ps.len(), 1);
    let mut p = ps.remove(0);
    p.set_zone(Zone::Utc);
    p
}

fn err(yaml: &str) -> Vec<Problem> {
    match parse_str(yaml, Path::new("/etc/p/bad.yaml")) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e.problems().to_vec(),
    }
}

fn run(p: &Parser, prefix: &str, lines: &[&[u8]]) -> (Output, Counters) {
    let mut st = ParseState::new();
    let mut out = Output::default();
    for l in lines {
        p.apply(l, NOW, prefix, &mut st, &mut out);
    }
    (out, *st.counters())
}

fn names(out: &Output) -> Vec<String> {
    out.observations
        .iter()
        .map(|o| o.series.to_string())
        .collect()
}

fn obs(out: &Output, name: &str) -> Vec<(Kind, f64, i64)> {
    out.observations
        .iter()
        .filter(|o| o.series.as_str() == name)
        .map(|o: &Observation| (o.kind, o.value, o.time))
        .collect()
}

const ACCESS: &str = r#"
name: access
rules:
  - regex: '^(?P<ip>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) (?P<bytes>\d+|-)(?: (?P<rt>[\d.]+))?'
    time: { capture: time, format: '%d/%b/%Y:%H:%M:%S %z' }
    metrics:
      - { name: 'requests.{status:class}', type: counter }
      - { name: 'bytes', type: counter, value: bytes }
      - { name: 'request_time', type: timer, value: rt, unit: s }
      - { name: 'clients', type: set, value: ip }
      - { name: 'by;method={method:lower}', type: counter }
"#;

#[test]
fn a_line_becomes_observations() {
    let p = one(ACCESS);
    let line = b"10.0.0.1 [15/Jan/2024:11:00:00 +0100] \"GET /a\" 404 512 0.25\n";
    let (out, c) = run(&p, "web.h1", &[line]);
    let t = NOW - 7200;
    assert_eq!(
        obs(&out, "web.h1.requests.4xx"),
        vec![(Kind::Counter, 1.0, t)]
    );
    assert_eq!(obs(&out, "web.h1.bytes"), vec![(Kind::Counter, 512.0, t)]);
    assert_eq!(
        obs(&out, "web.h1.request_time"),
        vec![(Kind::Timer, 250.0, t)]
    );
    let member = crate::metric::set_member(b"10.0.0.1");
    assert_eq!(obs(&out, "web.h1.clients"), vec![(Kind::Set, member, t)]);
    assert_eq!(
        obs(&out, "web.h1.by;method=get"),
        vec![(Kind::Counter, 1.0, t)]
    );
    assert_eq!(c.lines, 1);
    assert_eq!(c.matched, 1);
    assert_eq!(c.unmatched, 0);
}

#[test]
fn prefix_tags_merge_with_name_tags_and_an_empty_prefix_works() {
    let p = one(ACCESS);
    let line = b"10.0.0.1 [15/Jan/2024:11:00:00 +0100] \"GET /a\" 200 1";
    let (out, _) = run(&p, "web.h1;dc=eu", &[line]);
    assert!(names(&out).contains(&"web.h1.by;dc=eu;method=get".to_string()));
    assert!(names(&out).contains(&"web.h1.bytes;dc=eu".to_string()));
    let (out, _) = run(&p, "", &[line]);
    assert!(names(&out).contains(&"requests.2xx".to_string()));
}

#[test]
fn missing_optional_values_and_dashes_are_skipped_bad_numbers_counted() {
    let yaml = r#"
name: v
rules:
  - regex: '^(?P<a>\S+)(?: (?P<b>\S+))?'
    metrics:
      - { name: a, type: gauge, value: a }
      - { name: 'b.{b}', type: counter }
"#;
    let p = one(yaml);
    let (out, c) = run(&p, "x", &[b"-", b"12", b"abc", b"7 z"]);
    assert_eq!(
        names(&out),
        vec!["x.a".to_string(), "x.a".into(), "x.b.z".into()]
    );
    assert_eq!(c.bad_numbers, 1);
    assert_eq!(c.matched, 4);
}

#[test]
fn each_template_is_capped_and_overflow_goes_to_other() {
    let yaml = r#"
name: cap
rules:
  - regex: '^(?P<user>\S+) (?P<n>\d+)'
    metrics:
      - { name: 'user.{user}.hits', type: counter, max_values: 2 }
      - { name: 'all.{user}', type: counter }
"#;
    let p = one(yaml);
    let lines: Vec<&[u8]> = vec![b"a 1", b"b 1", b"a 1", b"c 1", b"d 1", b"b 1"];
    let (out, c) = run(&p, "p", &lines);
    let user: Vec<String> = names(&out)
        .into_iter()
        .filter(|n| n.starts_with("p.user"))
        .collect();
    assert_eq!(
        user,
        vec![
            "p.user.a.hits",
            "p.user.b.hits",
            "p.user.a.hits",
            "p.user.other.hits",
            "p.user.other.hits",
            "p.user.b.hits"
        ]
    );
    assert_eq!(c.overflowed, 2);
    // The other template has its own cap (the default, 1000).
    assert_eq!(obs(&out, "p.all.d").len(), 1);
}

#[test]
fn parser_level_max_values_is_the_default() {
    let yaml = r#"
name: cap
max_values: 1
rules:
  - regex: '^(?P<u>\S+)'
    metrics:
      - { name: 'u.{u}', type: counter }
"#;
    let (out, c) = run(&one(yaml), "p", &[b"a", b"b"]);
    assert_eq!(names(&out), vec!["p.u.a", "p.u.other"]);
    assert_eq!(c.overflowed, 1);
}

#[test]
fn units_are_stored_in_milliseconds() {
    let yaml = r#"
name: u
rules:
  - regex: '^(?P<v>\S+)'
    metrics:
      - { name: s, type: timer, value: v, unit: s }
      - { name: ms, type: timer, value: v, unit: ms }
      - { name: us, type: timer, value: v, unit: us }
      - { name: ns, type: gauge, value: v, unit: ns }
      - { name: raw, type: timer, value: v }
"#;
    let (out, _) = run(&one(yaml), "", &[b"1500"]);
    let v: Vec<f64> = out.observations.iter().map(|o| o.value).collect();
    assert_eq!(v, vec![1_500_000.0, 1500.0, 1.5, 0.0015, 1500.0]);
}

#[test]
fn every_matching_rule_applies_and_match_exclude_filter() {
    let yaml = r#"
name: multi
rules:
  - regex: 'error'
    metrics: [{ name: errors, type: counter }]
  - regex: 'disk'
    exclude: 'ignored'
    metrics: [{ name: disk, type: counter }]
  - regex: '(?P<n>\d+)'
    match: '^kern'
    metrics: [{ name: kern, type: counter, value: n }]
"#;
    let p = one(yaml);
    let (out, c) = run(
        &p,
        "h",
        &[
            b"kern: disk error 5",
            b"user: disk error 5",
            b"disk ignored",
            b"nothing",
        ],
    );
    assert_eq!(
        names(&out),
        vec!["h.errors", "h.disk", "h.kern", "h.errors", "h.disk"]
    );
    assert_eq!(obs(&out, "h.kern")[0].1, 5.0);
    assert_eq!((c.matched, c.unmatched), (2, 2));
}

#[test]
fn a_regex_set_prefilter_gives_the_same_result() {
    // Five regex rules: the parser uses a RegexSet to pick the ones to run.
    let yaml = r#"
name: many
rules:
  - { regex: 'a(?P<x>\d)', metrics: [{ name: 'a.{x}', type: counter }] }
  - { regex: 'b(?P<x>\d)', metrics: [{ name: 'b.{x}', type: counter }] }
  - { regex: 'c(?P<x>\d)', metrics: [{ name: 'c.{x}', type: counter }] }
  - { regex: 'd(?P<x>\d)', metrics: [{ name: 'd.{x}', type: counter }] }
  - { regex: '\d', metrics: [{ name: 'digit', type: counter }] }
"#;
    let p = one(yaml);
    assert!(p.set.is_some());
    let (out, c) = run(&p, "", &[b"a1 c2", b"zz", b"d9"]);
    assert_eq!(names(&out), vec!["a.1", "c.2", "digit", "d.9", "digit"]);
    assert_eq!((c.matched, c.unmatched), (2, 1));
}

#[test]
fn invalid_utf8_lines_still_match() {
    let p = one(ACCESS);
    let line = b"10.0.0.\xff [15/Jan/2024:11:00:00 +0100] \"GET /\xfe\" 200 5";
    let (out, c) = run(&p, "w", &[line]);
    assert_eq!(c.matched, 1);
    assert!(names(&out).contains(&"w.bytes".to_string()));
    let yaml = r#"
name: u
rules:
  - regex: '^user=(?P<u>\S+)'
    metrics: [{ name: 'u.{u}', type: counter }]
"#;
    let (out, _) = run(&one(yaml), "", &[b"user=b\xffob"]);
    assert_eq!(names(&out), vec!["u.bob"]);
}

#[test]
fn time_failures_fall_back_to_the_read_time() {
    let p = one(ACCESS);
    let good = b"1.1.1.1 [15/Jan/2024:10:00:00 +0000] \"GET /\" 200 5";
    let bad = b"1.1.1.1 [15/Foo/2024:10:00:00 +0000] \"GET /\" 200 5";
    let (out, c) = run(&p, "", &[good, bad, good]);
    let times: Vec<i64> = obs(&out, "bytes").into_iter().map(|o| o.2).collect();
    assert_eq!(times, vec![NOW - 7200, NOW, NOW - 7200]);
    assert_eq!(c.time_failures, 1);
}

#[test]
fn syslog_times_in_the_rules_zone() {
    let yaml = r#"
name: s
rules:
  - regex: '^(?P<t>\w{3} [ \d]\d [\d:]{8}) (?:(?P<ts>\S+) )?x'
    time: { capture: t, format: syslog, timezone: '+01:00' }
    metrics: [{ name: x, type: counter }]
"#;
    let mut ps = parse_str(yaml, Path::new("s.yaml")).unwrap();
    let p = ps.remove(0);
    let (out, _) = run(&p, "", &[b"Jan 15 12:00:00 x", b"Dec 31 23:00:00 x"]);
    let t: Vec<i64> = out.observations.iter().map(|o| o.time).collect();
    assert_eq!(t, vec![NOW - 3600, 1_704_060_000]); // 2023-12-31T22:00:00Z
}

#[test]
fn events_render_text_and_tags() {
    let yaml = r#"
name: deploys
rules:
  - regex: '^(?P<t>\d+) deployed (?P<app>\S+) (?P<version>\S+)'
    time: { capture: t, format: epoch }
    events:
      - { what: 'deploy {app} {version}', tags: [deploy, '{app}'], data: '{line}' }
"#;
    let (out, _) = run(&one(yaml), "p", &[b"1700000000 deployed web/front 1.2.3"]);
    assert_eq!(
        out.events,
        vec![EventRecord {
            when: 1_700_000_000,
            what: "deploy web/front 1.2.3".into(),
            tags: vec!["deploy".into(), "web-front".into()],
            data: "1700000000 deployed web/front 1.2.3".into(),
        }]
    );
    assert!(out.observations.is_empty());
}

#[test]
fn constant_values() {
    let yaml = r#"
name: c
rules:
  - regex: 'ok'
    metrics:
      - { name: pct, type: gauge, value: 100 }
      - { name: weighted, type: counter, value: 2.5 }
"#;
    let (out, _) = run(&one(yaml), "", &[b"ok"]);
    let v: Vec<f64> = out.observations.iter().map(|o| o.value).collect();
    assert_eq!(v, vec![100.0, 2.5]);
}

#[test]
fn json_rules_read_paths_and_fields() {
    let yaml = r#"
name: j
rules:
  - json: true
    time: { capture: ts, format: [rfc3339, epoch] }
    metrics:
      - { name: 'status.{http.status:class}', type: counter }
      - { name: latency, type: timer, value: http.ms, unit: ms }
      - { name: users, type: set, value: user }
    fields:
      - { path: 'http.ms', type: timer, name: 'latency_by_field' }
      - { path: '**', except: [ts, 'http.*'], type: gauge, name: 'g.{path}' }
"#;
    let p = one(yaml);
    let lines: Vec<&[u8]> = vec![
        br#"{"ts":"2024-01-15T10:00:00Z","user":"ann","http":{"status":503,"ms":12.5},"q":{"depth":3,"a b":1},"list":[7]}"#,
        b"not json",
        br#"{"ts":1705312800,"http":{"status":200}}"#,
    ];
    let (out, c) = run(&p, "app", &lines);
    assert_eq!(
        names(&out),
        vec![
            "app.status.5xx",
            "app.latency",
            "app.users",
            "app.latency_by_field",
            "app.g.q.depth",
            "app.g.q.a_b",
            "app.g.list.0",
            "app.status.2xx",
        ]
    );
    assert!(out.observations.iter().all(|o| o.time == NOW - 7200));
    assert_eq!(
        obs(&out, "app.g.q.depth")[0],
        (Kind::Gauge, 3.0, NOW - 7200)
    );
    assert_eq!(c.bad_json, 1);
    assert_eq!((c.matched, c.unmatched), (2, 1));
}

#[test]
fn a_state_follows_its_parser_and_prefix() {
    let a = one(ACCESS);
    let b = one("name: b\nrules:\n  - { regex: 'x', metrics: [{ name: x, type: counter }] }\n");
    let mut st = ParseState::new();
    let mut out = Output::default();
    let line = b"1.1.1.1 [15/Jan/2024:10:00:00 +0000] \"GET /\" 200 5";
    a.apply(line, NOW, "one", &mut st, &mut out);
    a.apply(line, NOW, "two", &mut st, &mut out);
    b.apply(b"x", NOW, "two", &mut st, &mut out);
    let n = names(&out);
    assert!(n.contains(&"one.bytes".to_string()) && n.contains(&"two.bytes".to_string()));
    assert_eq!(n.last().map(String::as_str), Some("two.x"));
    assert_eq!(st.take_counters().lines, 3);
    assert_eq!(st.counters().lines, 0);
    // A reloaded parser of the same name (other groups, other templates) gets fresh caches.
    let b2 = one(
        "name: b\nrules:\n  - { regex: '(?P<a>x)(?P<b>y)?', metrics: [{ name: 'y.{a}', type: counter }] }\n",
    );
    out.clear();
    b2.apply(b"xy", NOW, "two", &mut st, &mut out);
    b.apply(b"x", NOW, "two", &mut st, &mut out);
    assert_eq!(names(&out), vec!["two.y.x", "two.x"]);
}

#[test]
fn a_list_of_parsers_in_one_file() {
    let yaml = r#"
- name: one
  rules: [{ regex: 'a', metrics: [{ name: a, type: counter }] }]
- name: two
  rules: [{ regex: 'b', metrics: [{ name: b, type: counter }] }]
"#;
    let ps = parse_str(yaml, Path::new("l.yaml")).unwrap();
    let names: Vec<&str> = ps.iter().map(Parser::name).collect();
    assert_eq!(names, vec!["one", "two"]);
}

// ---------------------------------------------------------------------------------------------
// Errors and warnings.

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    let p = err("name: x\nrules:\n  - regex: 'a\n    metrics: [\n");
    assert_eq!(p.len(), 1);
    assert!(p[0].line >= 3, "{}", p[0]);
    assert!(p[0].to_string().starts_with("/etc/p/bad.yaml:"), "{}", p[0]);
}

#[test]
fn unknown_keys_are_rejected_with_line_and_column() {
    for (yaml, line) in [
        ("name: x\nbogus: 1\nrules: []\n", 2),
        ("name: x\nrules:\n  - regex: a\n    metric: []\n", 4),
        (
            "name: x\nrules:\n  - regex: a\n    metrics:\n      - { name: a, type: counter, vaule: x }\n",
            5,
        ),
        (
            "name: x\nrules:\n  - regex: a\n    time: { capture: a, format: epoch, tz: utc }\n",
            4,
        ),
        ("- name: x\n  rules: []\n  extra: 1\n", 3),
    ] {
        let p = err(yaml);
        assert_eq!(p.len(), 1, "{yaml}");
        assert_eq!(p[0].line, line, "{yaml}: {}", p[0]);
        assert!(p[0].column > 0, "{}", p[0]);
    }
}

#[test]
fn a_bad_regex_names_file_line_and_rule() {
    let yaml = "name: x\nrules:\n  - regex: 'ok'\n    metrics: [{ name: a, type: counter }]\n  - regex: '(unclosed'\n    metrics: [{ name: a, type: counter }]\n";
    let p = err(yaml);
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].line, p[0].rule), (5, Some(1)));
    let s = p[0].to_string();
    assert!(
        s.starts_with("/etc/p/bad.yaml:5:12: rules[1]: bad regex"),
        "{s}"
    );
}

#[test]
fn semantic_errors_are_all_reported_with_positions() {
    let yaml = r#"name: 'bad name'
rules:
  - regex: '(?P<a>\d+)'
    time: { capture: nope, format: '%Q' }
    metrics:
      - { name: 'x.{b}', type: counter }
      - { name: 'x', type: histogram }
      - { name: 'g', type: gauge }
      - { name: 't', type: timer, value: a, unit: hours }
      - { name: 'a..b', type: counter }
      - { name: 'x.{a:bogus}', type: counter }
      - { name: 's', type: set, value: 3 }
  - metrics: [{ name: a, type: counter }]
  - regex: a
    json: true
  - json: true
    fields: [{ path: 'a.b*', type: gauge }]
"#;
    let p = err(yaml);
    let got: Vec<(u64, Option<usize>)> = p.iter().map(|p| (p.line, p.rule)).collect();
    assert_eq!(
        got,
        vec![
            (1, None),
            (4, Some(0)),
            (4, Some(0)),
            (6, Some(0)),
            (7, Some(0)),
            (8, Some(0)),
            (9, Some(0)),
            (10, Some(0)),
            (11, Some(0)),
            (12, Some(0)),
            (13, Some(1)),
            (14, Some(2)),
            (17, Some(3)),
        ],
        "{}",
        p.iter()
            .map(Problem::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(p[3].message.contains("no capture named \"b\""), "{}", p[3]);
}

#[test]
fn leading_and_trailing_dot_star_warn() {
    let yaml = "name: x\nrules:\n  - regex: '^.*HTTP/1.\\d\" (?P<code>\\d{3}) .*'\n    metrics: [{ name: 'c.{code}', type: counter }]\n  - regex: 'a\\.*'\n    match: 'b.*$'\n    metrics: [{ name: a, type: counter }]\n";
    let ps = parse_str(yaml, Path::new("w.yaml")).unwrap();
    let w = ps[0].warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!((w[0].line, w[0].column, w[0].rule), (3, 12, Some(0)));
    assert!(w[0].message.contains("leading"), "{}", w[0]);
    assert_eq!((w[1].line, w[1].rule), (6, Some(1)));
    assert!(w[1].message.contains("trailing"), "{}", w[1]);
    assert!(compile::dot_star(".*x").is_some());
    assert!(compile::dot_star("x.*?").is_some());
    assert!(compile::dot_star("x\\.*").is_none());
    assert!(compile::dot_star("x\\\\.*").is_some());
    assert!(compile::dot_star("a.*b").is_none());
}

#[test]
fn empty_files_and_empty_rules_are_errors() {
    assert_eq!(err("").len(), 1);
    assert_eq!(err("# only a comment\n").len(), 1);
    assert_eq!(err("name: x\nrules: []\n")[0].line, 2);
}

// ---------------------------------------------------------------------------------------------
// Loading directories.

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn simple(name: &str, metric: &str) -> String {
    format!(
        "name: {name}\nrules: [{{ regex: 'x', metrics: [{{ name: {metric}, type: counter }}] }}]\n"
    )
}

#[test]
fn later_dirs_override_and_bad_files_cost_only_themselves() {
    let usr = tempfile::tempdir().unwrap();
    let etc = tempfile::tempdir().unwrap();
    write(usr.path(), "a.yaml", &simple("nginx", "usr"));
    write(usr.path(), "b.yaml", &simple("other", "usr"));
    write(usr.path(), "c.yaml", &simple("other", "dup"));
    write(usr.path(), "notes.txt", "not yaml");
    write(etc.path(), "mine.yaml", &simple("nginx", "etc"));
    write(
        etc.path(),
        "broken.yaml",
        "name: broken\nrules: [{ regex: '(' }]\n",
    );
    let missing = etc.path().join("missing");
    let dirs = vec![usr.path().to_path_buf(), missing, etc.path().to_path_buf()];
    let (parsers, errors) = load(&dirs);
    let got: Vec<(&str, String)> = parsers
        .iter()
        .map(|p| {
            let (out, _) = run(p, "", &[b"x"]);
            (p.name(), names(&out).join(","))
        })
        .collect();
    assert_eq!(got, vec![("nginx", "etc".into()), ("other", "usr".into())]);
    let msgs: Vec<String> = errors.iter().map(Error::to_string).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs.iter()
            .any(|m| m.contains("broken.yaml:2:") && m.contains("bad regex")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("c.yaml") && m.contains("already defined")),
        "{msgs:?}"
    );
    assert!(load_file(&usr.path().join("nope.yaml")).is_err());
}

#[test]
fn the_examples_in_the_parsers_readme_load() {
    let readme = include_str!("../../parsers/README.md");
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or_default())
        .collect();
    assert_eq!(blocks.len(), 2);
    let p = one(blocks[0]);
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    let line =
        b"10.0.0.1 - - [15/Jan/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl\" 0.5";
    let (out, _) = run(&p, "web", &[line, b"deployed version 1.2"]);
    assert_eq!(out.observations.len(), 6);
    assert_eq!(out.events.len(), 1);
    let json = format!("name: j\nrules:\n{}", blocks[1]);
    one(&json);
}
