//! `/render` beyond json on the real binary: graphite's default format (a PNG), `tz` for
//! `from`/`until` and csv, `template[…]` request parameters.

use crate::util::*;

/// `YYYY, MM, DD, hh, mm, ss` of unix seconds `t` shifted by `offset` seconds.
fn civil(t: i64, offset: i64) -> (i64, i64, i64, i64, i64, i64) {
    let t = t + offset;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

fn at(t: i64, offset: i64) -> String {
    let (y, m, d, hh, mm, _) = civil(t, offset);
    format!("{hh:02}:{mm:02}_{y:04}{m:02}{d:02}")
}

#[test]
fn default_png_tz_and_template_parameters() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let now = unix_now();
    let t0 = (now - 3 * 3600) / 60 * 60;
    let lines: String = (0..180)
        .map(|i| {
            format!(
                "fmt.a.v {i} {}\nfmt.b.v {} {}\n",
                t0 + i * 60,
                2 * i,
                t0 + i * 60
            )
        })
        .collect();
    d.send_carbon(&lines);
    d.wait_render(&format!("/render?target=fmt.*.v&from={t0}"), |v| {
        v.as_array().is_some_and(|a| a.len() == 2) && points(v, 0).len() >= 170
    });

    // No format: a PNG, as graphite-web draws.
    let (status, ct, body) = d.get_raw("/render?target=fmt.a.v&from=-4h");
    assert_eq!((status, ct.as_str()), (200, "image/png"));
    assert!(body.starts_with(b"\x89PNG\r\n\x1a\n"));

    // from/until as wall-clock times in Asia/Kolkata (UTC+05:30, no DST): the same instants
    // as the UTC strings 5.5 h earlier.
    let (from, until) = (t0 + 30 * 60, t0 + 90 * 60);
    let ist = 19_800;
    let q = |tz: &str, off: i64| {
        format!(
            "/render?target=fmt.a.v&from={}&until={}{tz}&format=json",
            at(from, off),
            at(until, off)
        )
    };
    let in_tz = d.get_json(&q("&tz=Asia/Kolkata", ist));
    let in_utc = d.get_json(&q("", 0));
    assert_eq!(in_tz, in_utc, "the same range");
    let p = points(&in_tz, 0);
    assert!(p.len() >= 55, "{p:?}");
    assert!(p.iter().all(|(_, t)| (from..=until).contains(t)), "{p:?}");
    // (from, until]: the first point is the one after `from`.
    assert_eq!(p[0], (31.0, from + 60));
    // Without tz the IST wall-clock strings are read as UTC: 5.5 h later, past the data.
    let shifted = d.get_json(&format!(
        "/render?target=fmt.a.v&from={}&until={}&format=json",
        at(from, ist),
        at(until, ist)
    ));
    assert!(points(&shifted, 0).is_empty(), "{shifted}");
    // An unknown zone is a 400 that names it.
    let (status, body) = d.get("/render?target=fmt.a.v&tz=Mars/Olympus&format=json");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Mars/Olympus"), "{body}");

    // csv writes times in the zone (the 10 s tier: the first slot after `from`, empty).
    let (status, csv) = d.get(&format!(
        "/render?target=fmt.a.v&from={from}&until={until}&format=csv&tz=Asia/Kolkata"
    ));
    assert_eq!(status, 200);
    let (y, m, dd, hh, mm, ss) = civil(from + 10, ist);
    let first = csv.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "fmt.a.v,{y:04}-{m:02}-{dd:02} {hh:02}:{mm:02}:{ss:02},"
        )),
        "{first}"
    );

    // template(): the request's template[name] overrides the target's own value.
    let v = d.get_json(&format!(
        "/render?target=template(sumSeries(fmt.$h.v),h='a')&template[h]=b&from={from}&until={until}"
    ));
    assert_eq!(v[0]["target"], "sumSeries(fmt.b.v)");
    assert_eq!(points(&v, 0)[0].0, 62.0);
}

/// Decodes a pickle or msgpack answer with Debian's python3 (`pickle.loads`, python3-msgpack's
/// `unpackb`) into JSON; `None` outside CI when python3-msgpack is missing (scripts/test.sh
/// installs it; under CI=true the test fails instead).
fn python_decode(format: &str, body: &[u8]) -> Option<serde_json::Value> {
    let python = "/usr/bin/python3";
    let ok = std::process::Command::new(python)
        .args(["-c", "import msgpack"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "/usr/bin/python3 with python3-msgpack is required in CI (scripts/test.sh installs it)"
        );
        eprintln!(
            "SKIPPED: /usr/bin/python3 -c 'import msgpack' failed (apt-get install python3-msgpack)"
        );
        return None;
    }
    let dir = TestDir::new();
    let file = dir.path().join("body");
    std::fs::write(&file, body).unwrap();
    let script = "import sys, json, pickle, msgpack\n\
        data = open(sys.argv[2], 'rb').read()\n\
        v = pickle.loads(data) if sys.argv[1] == 'pickle' else msgpack.unpackb(data, raw=False)\n\
        print(json.dumps(v))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script, format])
        .arg(&file)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 could not decode the {format} answer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("python's json"))
}

#[test]
fn pickle_and_msgpack_decode_in_python_like_graphite_web() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let t0 = (unix_now() - 3600) / 60 * 60;
    let lines: String = (0..30)
        .filter(|i| i % 7 != 3)
        .map(|i| {
            format!(
                "bin.a {}.25 {}\nbin.b;dc=eu {} {}\n",
                i,
                t0 + i * 60,
                -i,
                t0 + i * 60
            )
        })
        .collect();
    d.send_carbon(&lines);
    let range = format!("from={t0}&until={}", t0 + 30 * 60);
    let targets = "target=bin.a&target=seriesByTag('dc=eu')&target=sumSeries(bin.*)";
    let json = d.wait_render(&format!("/render?{targets}&{range}&format=json"), |v| {
        v.as_array().is_some_and(|a| a.len() == 3) && points(v, 0).len() >= 25
    });
    for (format, content_type) in [
        ("pickle", "application/pickle"),
        ("msgpack", "application/x-msgpack"),
    ] {
        let (status, ct, body) = d.get_raw(&format!("/render?{targets}&{range}&format={format}"));
        assert_eq!((status, ct.as_str()), (200, content_type));
        let Some(decoded) = python_decode(format, &body) else {
            return;
        };
        let list = decoded.as_array().expect("a list");
        assert_eq!(list.len(), 3, "{decoded}");
        for (info, series) in list.iter().zip(json.as_array().unwrap()) {
            let keys: Vec<&str> = info
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                [
                    "name",
                    "start",
                    "end",
                    "step",
                    "values",
                    "pathExpression",
                    "valuesPerPoint",
                    "consolidationFunc",
                    "xFilesFactor"
                ],
                "{format}"
            );
            assert_eq!(info["name"], series["target"], "{format}");
            assert_eq!(info["valuesPerPoint"], 1);
            assert_eq!(info["consolidationFunc"], "average");
            assert_eq!(info["xFilesFactor"], 0.0);
            let step = info["step"].as_i64().unwrap();
            let start = info["start"].as_i64().unwrap();
            let values = info["values"].as_array().unwrap();
            // The same points as the json answer: value i at start + i × step.
            let from_json: Vec<(serde_json::Value, i64)> = series["datapoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].clone(), p[1].as_i64().unwrap()))
                .collect();
            let from_info: Vec<(serde_json::Value, i64)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), start + i as i64 * step))
                .collect();
            assert_eq!(from_info, from_json, "{format}");
            assert!(values.iter().any(|v| v.is_null()), "the gaps are None");
        }
        assert_eq!(list[0]["pathExpression"], "bin.a");
        assert_eq!(list[1]["name"], "bin.b;dc=eu");
        assert_eq!(list[2]["name"], "sumSeries(bin.*)");
    }
}
