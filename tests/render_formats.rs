//! `/render` beyond json on the real binary: graphite's default format (a PNG), `tz` for
//! `from`/`until` and csv, `template[…]` request parameters.

use crate::util::*;

/// `YYYY, MM, DD, hh, mm` of unix seconds `t` shifted by `offset` seconds.
fn civil(t: i64, offset: i64) -> (i64, i64, i64, i64, i64) {
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
    (y, m, d, secs / 3600, secs % 3600 / 60)
}

fn at(t: i64, offset: i64) -> String {
    let (y, m, d, hh, mm) = civil(t, offset);
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
    assert_eq!(p[0].0, 30.0);
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

    // csv writes times in the zone.
    let (status, csv) = d.get(&format!(
        "/render?target=fmt.a.v&from={from}&until={until}&format=csv&tz=Asia/Kolkata"
    ));
    assert_eq!(status, 200);
    let (y, m, dd, hh, mm) = civil(from, ist);
    let first = csv.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "fmt.a.v,{y:04}-{m:02}-{dd:02} {hh:02}:{mm:02}:00,"
        )),
        "{first}"
    );

    // template(): the request's template[name] overrides the target's own value.
    let v = d.get_json(&format!(
        "/render?target=template(sumSeries(fmt.$h.v),h='a')&template[h]=b&from={from}&until={until}"
    ));
    assert_eq!(v[0]["target"], "sumSeries(fmt.b.v)");
    assert_eq!(points(&v, 0)[0].0, 60.0);
}
