//! A replay of what Grafana's Graphite data source sends, in order, against the real daemon,
//! each answer read the way Grafana's code reads it (`datasource.ts`, `gfunc.ts`,
//! `state/providers.ts`, backend `pkg/tsdb/graphite`): health check, `/functions`, metric
//! browsing, tag autocompletion, a panel query wrapped in `aliasSub(…, "(^.*$)", "\1 A")`,
//! template variables and annotations from events.

use crate::util::*;
use serde_json::Value;

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn post_form(d: &Daemon, path: &str, body: &str) -> Value {
    let (status, text) = d.post(path, "application/x-www-form-urlencoded", body);
    assert_eq!(status, 200, "POST {path} {body}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// Grafana's frontend: `result.data.series || result.data`, refId from the last word of the
/// target, timestamps × 1000.
/// `(target, refId, [(value, ms)])` per series.
type Frame = (String, String, Vec<(Option<f64>, i64)>);

fn frames(v: &Value) -> Vec<Frame> {
    let list = v
        .get("series")
        .unwrap_or(v)
        .as_array()
        .expect("series array");
    list.iter()
        .map(|s| {
            let target = s["target"].as_str().expect("target string").to_string();
            let ref_id = target.rsplit(' ').next().unwrap().to_string();
            let points = s["datapoints"]
                .as_array()
                .expect("datapoints")
                .iter()
                .map(|p| (p[0].as_f64(), p[1].as_i64().expect("ts seconds") * 1000))
                .collect();
            (target, ref_id, points)
        })
        .collect()
}

#[test]
fn grafana_request_sequence() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let now = unix_now();
    let t0 = (now - 1800) / 60 * 60;
    let mut lines = String::new();
    for i in 0..20 {
        let t = t0 + i * 60;
        lines.push_str(&format!("servers.web1.cpu.user {} {t}\n", i));
        lines.push_str(&format!("servers.web2.cpu.user {} {t}\n", 100 + i));
        lines.push_str(&format!("disk.used;dc=eu;rack=a1 {} {t}\n", 1));
        lines.push_str(&format!("disk.used;rack=b2;dc=us {} {t}\n", 2));
    }
    d.send_carbon(&lines);
    let (status, _) = d.post(
        "/events/",
        "application/json",
        &format!(
            r#"{{"what":"deploy v1","tags":["deploy","web"],"when":{},"data":"v1 out"}}"#,
            t0 + 300
        ),
    );
    assert_eq!(status, 200);
    let (from, until) = (t0 - 60, now);
    let range = format!("from={from}&until={until}");
    d.wait_render(
        &format!("/render?target=servers.web2.cpu.user&{range}&format=json"),
        |v| points(v, 0).len() == 20,
    );

    // 1. Test the data source (frontend): aliasSub(constantLine(100)) over the last hour.
    let health = post_form(
        &d,
        "/render",
        &form(&[
            ("target", r#"aliasSub(constantLine(100), "(^.*$)", "\1 A")"#),
            ("from", "-1h"),
            ("until", "now"),
            ("format", "json"),
            ("maxDataPoints", "300"),
        ]),
    );
    let f = frames(&health);
    assert_eq!(f.len(), 1);
    // graphite-web names it str(float(100)).
    assert_eq!(f[0].0, "100.0 A");
    assert_eq!(f[0].1, "A");
    assert_eq!(f[0].2.len(), 3);
    assert!(f[0].2.iter().all(|p| p.0 == Some(100.0)));
    // ...and the backend's health check: constantLine(100), unix times, maxDataPoints 100.
    let backend = post_form(
        &d,
        "/render",
        &form(&[
            ("target", "constantLine(100)"),
            ("from", &(now - 3600).to_string()),
            ("until", &now.to_string()),
            ("format", "json"),
            ("maxDataPoints", "100"),
        ]),
    );
    assert!(backend.is_array(), "backend mode needs a plain array");
    assert_eq!(backend[0]["target"], "100.0");

    // 2. The function editor: GET /functions, read as text, must be JSON as it is.
    let (status, text) = d.get("/functions");
    assert_eq!(status, 200);
    assert!(!text.contains("Infinity"), "Infinity is not JSON");
    assert!(
        text.contains("\"default\":1e9999"),
        "keepLastValue's INF default"
    );
    // JavaScript's JSON.parse reads 1e9999 as Infinity; serde_json refuses out-of-range
    // numbers, so it reads the largest finite one in its place.
    let funcs: Value =
        serde_json::from_str(&text.replace("1e9999", "1e308")).expect("/functions is valid JSON");
    let funcs = funcs.as_object().unwrap();
    for (name, def) in funcs {
        // gfunc.ts parseFuncDefs reads these keys.
        assert_eq!(def["name"], name.as_str());
        assert!(
            def["group"].is_string() && def["description"].is_string(),
            "{name}"
        );
        for p in def["params"].as_array().expect("params") {
            assert!(
                p["name"].is_string() && p["type"].is_string(),
                "{name}: {p}"
            );
        }
    }
    let alias_sub = &funcs["aliasSub"];
    assert_eq!(alias_sub["group"], "Alias");
    let params: Vec<&str> = alias_sub["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["seriesList", "search", "replace"]);
    assert_eq!(funcs["seriesByTag"]["params"][0]["multiple"], true);
    assert_eq!(d.get("/functions/movingAverage").0, 200);
    assert_eq!(d.get("/functions/noSuchThing").0, 404);

    // 3. Metric browsing: POST /metrics/find, query in the body, range in the URL.
    let find = |q: &str| {
        post_form(
            &d,
            &format!("/metrics/find?{range}"),
            &form(&[("query", q)]),
        )
    };
    let root = find("*");
    let texts: Vec<(&str, i64)> = root
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["text"].as_str().unwrap(),
                n["expandable"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(texts.contains(&("servers", 1)), "{texts:?}");
    let hosts = find("servers.*");
    assert_eq!(hosts[0]["text"], "web1");
    assert_eq!(hosts[0]["expandable"], 1);
    let leaf = find("servers.web1.cpu.*");
    assert_eq!(leaf[0]["text"], "user");
    assert_eq!(leaf[0]["expandable"], 0);
    assert_eq!(leaf[0]["leaf"], 1);
    // Tags for the first segment, and the seriesByTag editor.
    let tags = d.get_json("/tags/autoComplete/tags?expr=&tagPrefix=&limit=5000");
    assert_eq!(tags, serde_json::json!(["dc", "name", "rack"]));
    let tags = d.get_json("/tags/autoComplete/tags?expr=name%3Ddisk.used&tagPrefix=r&limit=5000");
    assert_eq!(tags, serde_json::json!(["rack"]));
    let values = d
        .get_json("/tags/autoComplete/values?tag=dc&expr=name%3Ddisk.used&valuePrefix=&limit=5000");
    assert_eq!(values, serde_json::json!(["eu", "us"]));

    // 4. A panel refresh: every target wrapped in aliasSub with its refId, one POST.
    let panel = post_form(
        &d,
        "/render",
        &form(&[
            (
                "target",
                r#"aliasSub(aliasByNode(servers.*.cpu.user, 1), "(^.*$)", "\1 A")"#,
            ),
            (
                "target",
                r#"aliasSub(sumSeries(seriesByTag('name=disk.used')), "(^.*$)", "\1 B")"#,
            ),
            ("from", &from.to_string()),
            ("until", &until.to_string()),
            ("format", "json"),
            ("maxDataPoints", "10"),
        ]),
    );
    let f = frames(&panel);
    let names: Vec<(&str, &str)> = f.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
    assert_eq!(
        names,
        [
            ("web1 A", "A"),
            ("web2 A", "A"),
            ("sumSeries(seriesByTag('name=disk.used')) B", "B")
        ]
    );
    for (target, _, points) in &f {
        assert!(
            points.len() <= 11,
            "{target}: maxDataPoints 10 gave {}",
            points.len()
        );
        assert!(
            points
                .iter()
                .all(|p| p.1 % 1000 == 0 && p.1 / 1000 > from - 3600)
        );
    }
    let b: Vec<f64> = f[2].2.iter().filter_map(|p| p.0).collect();
    assert!(!b.is_empty() && b.iter().all(|v| *v == 3.0), "{b:?}");
    // The Metrictank data source type asks for meta=true and reads result.data.series.
    let meta = post_form(
        &d,
        "/render",
        &form(&[
            (
                "target",
                r#"aliasSub(servers.web1.cpu.user, "(^.*$)", "\1 A")"#,
            ),
            ("from", &from.to_string()),
            ("until", &until.to_string()),
            ("format", "json"),
            ("maxDataPoints", "10"),
            ("meta", "true"),
        ]),
    );
    assert_eq!(frames(&meta)[0].1, "A");
    let lineage = &meta["series"][0]["meta"][0];
    assert!(lineage["archive-read"].is_u64());
    assert!(
        lineage["consolidator-normfetch"]
            .as_str()
            .unwrap()
            .ends_with("Consolidator")
    );

    // 5. Template variables: expand(), tags(), tag_values().
    let expanded = d.get_json(&format!("/metrics/expand?query=servers.*&{range}"));
    assert_eq!(
        expanded["results"],
        serde_json::json!(["servers.web1", "servers.web2"])
    );

    // 6. Annotations: from events by tag (relative times), and from a target.
    let events = d.get_json("/events/get_data?from=-6h&until=now&tags=deploy%20web");
    let e = &events[0];
    assert_eq!(e["what"], "deploy v1");
    assert_eq!(e["when"].as_i64().unwrap() * 1000, (t0 + 300) * 1000);
    assert_eq!(e["tags"], serde_json::json!(["deploy", "web"]));
    assert_eq!(e["data"], "v1 out");
    let marks = post_form(
        &d,
        "/render",
        &form(&[
            ("target", r#"drawAsInfinite(events("deploy"))"#),
            ("from", &from.to_string()),
            ("until", &until.to_string()),
            ("format", "json"),
            ("maxDataPoints", "100"),
        ]),
    );
    let hits: Vec<(Option<f64>, i64)> = frames(&marks)[0]
        .2
        .iter()
        .filter(|p| p.0.is_some_and(|v| v != 0.0))
        .cloned()
        .collect();
    assert_eq!(hits.len(), 1, "one annotation: {hits:?}");
    let at = hits[0].1 / 1000;
    // maxDataPoints 100 merges ~19 s per point: the mark lands within a point of the event.
    assert!((at - (t0 + 300)).abs() <= 40, "{at} vs {}", t0 + 300);
}

#[test]
fn render_errors_are_graphite_style_400s() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config("query:\n  max_points_hard: 1000\n  max_points_soft: 500\n"));
    d.send_carbon(&format!("a.b 1 {}\n", unix_now() - 60));
    for (target, status, reason) in [
        ("sumSeries(a.b", 400, "at char 13"),
        ("nope(a.b)", 400, "unknown function: nope"),
        ("scale(a.b)", 400, "factor"),
        // One series over 30 days: 1h tier keeps it under the soft cap; over a year the hard
        // cap of 1000 points refuses even the coarsest tier.
        ("events(\"x\")", 413, "max_points_hard"),
    ] {
        let path = format!("/render?target={}&from=-2d&format=json", urlencode(target));
        let (s, body) = d.get(&path);
        assert_eq!(s, status, "{target}: {body}");
        assert!(body.contains(reason), "{target}: {body}");
    }
}

#[test]
fn tag_index_and_format_endpoints() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let t = unix_now() / 60 * 60 - 600;
    d.send_carbon(&format!(
        "disk.used;dc=eu;rack=a1 1 {t}\ndisk.used;dc=us;rack=b2 2 {t}\ncpu.load;dc=eu 3 {t}\nplain.a 4 {t}\nplain.b 5 {t}\n"
    ));
    d.wait_render(&format!("/render?target=plain.b&from={}", t - 60), |v| {
        points(v, 0).len() == 1
    });
    let expr = |e: &str| urlencode(e);
    assert_eq!(
        d.get_json("/tags"),
        serde_json::json!([{"tag": "dc"}, {"tag": "name"}, {"tag": "rack"}])
    );
    assert_eq!(
        d.get_json("/tags?filter=^r"),
        serde_json::json!([{"tag": "rack"}])
    );
    assert_eq!(
        d.get_json("/tags/dc"),
        serde_json::json!({"tag": "dc", "values": [{"count": 2, "value": "eu"}, {"count": 1, "value": "us"}]})
    );
    // A tag no series has: graphite-web's local tagdb answers null; one filtered to nothing, [].
    assert_eq!(d.get_json("/tags/nothing"), serde_json::Value::Null);
    // graphite-web's tag views answer JSON whatever jsonp says.
    assert_eq!(
        d.get_json("/tags?filter=^r&jsonp=cb"),
        serde_json::json!([{"tag": "rack"}])
    );
    assert_eq!(
        d.get_json("/tags/dc?filter=xx"),
        serde_json::json!({"tag": "dc", "values": []})
    );
    assert_eq!(
        d.get_json(&format!(
            "/tags/findSeries?expr={}&expr={}",
            expr("dc=eu"),
            expr("name!=cpu.load")
        )),
        serde_json::json!(["disk.used;dc=eu;rack=a1"])
    );
    // Errors of the tag views are graphite-web's {"error": "…"}.
    let (status, body) = d.get("/tags/findSeries");
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    let (s, body) = d.post(
        "/tags/tagSeries",
        "application/x-www-form-urlencoded",
        &format!("path={}", expr("x.y;b=2;a=1")),
    );
    assert_eq!((s, body.as_str()), (200, "\"x.y;a=1;b=2\""));
    let index = d.get_json("/metrics/index.json");
    let names: Vec<&str> = index
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .filter(|n| n.starts_with("plain."))
        .collect();
    assert_eq!(names, ["plain.a", "plain.b"]);
    assert!(
        !index.to_string().contains("disk.used"),
        "tagged names are not paths"
    );

    // csv and raw of a function's output.
    let range = format!("from={}&until={}", t - 60, t + 60);
    let (s, csv) = d.get(&format!(
        "/render?target={}&{range}&format=csv",
        expr("sumSeries(plain.*)")
    ));
    assert_eq!(s, 200);
    assert!(
        csv.lines()
            .any(|l| l.starts_with("sumSeries(plain.*),") && l.ends_with(",9.0")),
        "{csv}"
    );
    let (s, raw) = d.get(&format!(
        "/render?target={}&{range}&format=raw",
        expr("alias(plain.a,'A')")
    ));
    assert_eq!(s, 200);
    assert!(
        raw.starts_with("A,") && raw.contains("|") && raw.contains("4.0"),
        "{raw}"
    );
    // noNullPoints drops nulls and empty series; jsonp wraps.
    let v = d.get_json(&format!(
        "/render?target=plain.*&target=nothing.here&{range}&noNullPoints"
    ));
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert!(
        v[0]["datapoints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| !p[0].is_null())
    );
    let (_, js) = d.get(&format!(
        "/render?target=plain.a&{range}&format=json&jsonp=cb"
    ));
    assert!(js.starts_with("cb([") && js.ends_with("])"), "{js}");
}
