//! The points caps on the real store. With `query.tier_choice: metrictank`, past
//! `query.max_points_soft` a render reads coarser tiers (Grafana's rollup indicator sees it in
//! the lineage); with graphite's choice (the default) the soft cap never does. Past
//! `query.max_points_hard` a request is refused with the documented 413.

use crate::util::*;
use serde_json::Value;

/// `(archive-read, archive-interval, points)` of one series of a meta=true answer.
type Tier = (i64, i64, Vec<(f64, i64)>);

fn tiers(v: &Value) -> Vec<Tier> {
    v["series"]
        .as_array()
        .expect("meta envelope")
        .iter()
        .map(|s| {
            let m = &s["meta"][0];
            let pts = s["datapoints"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_i64()?)))
                .collect();
            (
                m["archive-read"].as_i64().unwrap(),
                m["archive-interval"].as_i64().unwrap(),
                pts,
            )
        })
        .collect()
}

#[test]
fn soft_cap_reads_coarser_tiers_and_hard_cap_refuses() {
    let dir = TestDir::new();
    let schema = "storage:\n  schemas:\n    - name: capped\n      pattern: '^cap\\.'\n      retentions: [10s:1d, 1m:7d, 1h:60d]\n";
    let caps = |soft: u64| {
        format!(
            "{schema}query:\n  tier_choice: metrictank\n  max_points_soft: {soft}\n  max_points_hard: 2000\n"
        )
    };
    // 2 h of 10 s points for three series; each minute's six values are m, m+1, …, m+5
    // (minute m counted from the start), so the 1 m tier's average is m + 2.5.
    let t0 = (unix_now() - 2 * 3600) / 3600 * 3600;
    let mut lines = String::new();
    for i in 0..720i64 {
        let v = i / 6 + i % 6;
        for name in ["cap.a", "cap.b", "cap.c"] {
            lines.push_str(&format!("{name} {v} {}\n", t0 + i * 10));
        }
    }
    let (from, until) = (t0 + 1800, t0 + 5400);
    let two = format!(
        "/render?target=cap.a&target=cap.b&from={from}&until={until}&format=json&meta=true"
    );

    // A high soft cap: both series from the 10 s tier (360 points each).
    let d = Daemon::start(&dir.config(&caps(1_000_000)));
    d.send_carbon(&lines);
    let v = d.wait_render(&two, |v| {
        let t = tiers(v);
        t.len() == 2 && t.iter().all(|(_, _, p)| p.len() >= 355)
    });
    let t = tiers(&v);
    assert_eq!((t[0].0, t[0].1, t[1].0, t[1].1), (0, 10, 0, 10), "{v}");
    d.stop(std::time::Duration::from_secs(20));

    // Soft cap 450: cap.a's 360 points fit; cap.b's 360 more would pass 450, so cap.b is read
    // one tier coarser, from the 1 m tier (60 points, each the exact mean of its six 10 s
    // values), which brings the total (420) under the cap.
    let d = Daemon::start(&dir.config(&caps(450)));
    let v = d.get_json(&two);
    let t = tiers(&v);
    assert_eq!((t[0].0, t[0].1), (0, 10), "cap.a stays fine: {v}");
    assert_eq!((t[1].0, t[1].1), (1, 60), "cap.b goes coarser: {v}");
    let m = &v["series"][1]["meta"][0];
    assert_eq!(m["archive-finest"], 0, "{m}");
    assert_eq!(
        m["coarser"], "query.tier_choice metrictank: query.max_points_soft",
        "{m}"
    );
    // (from, until]: each tier's points, the one at `until` included.
    assert!((360..=361).contains(&t[0].2.len()), "{}", t[0].2.len());
    assert!((60..=61).contains(&t[1].2.len()), "{}", t[1].2.len());
    for (value, ts) in &t[1].2 {
        let minute = (ts - t0) / 60;
        assert_eq!(*value, minute as f64 + 2.5, "at {ts}");
    }
    // The caps count points as range / resolution per series.
    let stats = &v["meta"]["stats"];
    assert_eq!(
        stats["executeplan.points-fetch.count"].as_u64(),
        Some(360 + 60)
    );
    d.stop(std::time::Duration::from_secs(20));

    // Soft cap 400: 360 + 60 still passes it, so cap.b steps on to the 1 h tier (Metrictank
    // steps coarser while the total is over the soft cap).
    let d = Daemon::start(&dir.config(&caps(400)));
    let t = tiers(&d.get_json(&two));
    assert_eq!((t[0].0, t[0].1, t[1].0, t[1].1), (0, 10, 2, 3600));

    // Hard cap 2000: three series over 59 days need 3 × 1416 points even from the 1 h tier.
    let (status, body) = d.get("/render?target=sumSeries(cap.*)&from=-59d&until=now&format=json");
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("max_points_hard"), "{body}");
    // The same over one day reads coarser tiers and is answered.
    let v = d.get_json("/render?target=sumSeries(cap.*)&from=-1d&until=now&meta=true");
    assert_eq!(v["series"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(
        v["series"][0]["meta"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["archive-read"].as_i64() > Some(0)),
        "{v}"
    );
}

/// Issue 18, item 2: with graphite's tier choice the soft cap never answers from a coarser
/// tier; the finest covering tier is read within the hard cap, or the request is a 413.
#[test]
fn graphite_choice_never_reads_coarser_for_the_soft_cap() {
    let dir = TestDir::new();
    let config = "storage:\n  schemas:\n    - name: capped\n      pattern: '^cap\\.'\n      retentions: [10s:1d, 1m:7d, 1h:60d]\nquery:\n  max_points_soft: 100\n  max_points_per_series: 100\n  max_points_hard: 800\n";
    let t0 = (unix_now() - 2 * 3600) / 3600 * 3600;
    let mut lines = String::new();
    for i in 0..720i64 {
        for name in ["cap.a", "cap.b"] {
            lines.push_str(&format!("{name} {} {}\n", i % 7, t0 + i * 10));
        }
    }
    let d = Daemon::start(&dir.config(config));
    d.send_carbon(&lines);
    let two = format!(
        "/render?target=cap.a&target=cap.b&from={}&until={}&format=json&meta=true",
        t0 + 1800,
        t0 + 5400
    );
    let v = d.wait_render(&two, |v| {
        let t = tiers(v);
        t.len() == 2 && t.iter().all(|(_, _, p)| p.len() >= 355)
    });
    for s in v["series"].as_array().unwrap() {
        let m = &s["meta"][0];
        assert_eq!(
            (m["archive-read"].as_i64(), m["archive-interval"].as_i64()),
            (Some(0), Some(10)),
            "{m}"
        );
        assert!(m.get("coarser").is_none(), "{m}");
    }
    // Three hours of both at 10 s is 2 × 1080 points, past the hard cap: a 413, not 1 m data.
    let (status, body) = d.get(&format!(
        "/render?target=cap.*&from={}&until={}&format=json",
        t0 - 3600,
        t0 + 7200
    ));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("max_points_hard"), "{body}");
}

/// A small request is evaluated on the thread that serves the connection; one past that
/// budget (50,000 points, 200 series or 2 ms) is evaluated again on a blocking thread. Both
/// give the same answer, and a request that stops being small midway (its first targets fit
/// the budget, the later ones do not) is answered whole.
#[test]
fn requests_past_the_inline_budget_answer_the_same() {
    let dir = TestDir::new();
    let config = "storage:\n  schemas:\n    - name: fine\n      pattern: '^fine\\.'\n      retentions: [10s:1d]\n";
    let t0 = (unix_now() - 2 * 3600) / 3600 * 3600;
    let mut lines = String::new();
    for i in 0..720i64 {
        lines.push_str(&format!("fine.a {} {}\n", i % 7, t0 + i * 10));
    }
    let d = Daemon::start(&dir.config(config));
    d.send_carbon(&lines);
    // Over a day at 10 s, each target is 8,640 points: one is small, seven are not.
    let range = format!(
        "from={}&until={}&format=json",
        t0 + 7200 - 86_400,
        t0 + 7200
    );
    let one = format!("/render?target=aliasSub(fine.a,'(\\w+)$','\\1')&{range}");
    let v = d.wait_render(&one, |v| {
        v[0]["datapoints"]
            .as_array()
            .is_some_and(|p| p.iter().filter(|x| !x[0].is_null()).count() >= 719)
    });
    let seven: String = (0..7)
        .map(|_| "target=aliasSub(fine.a,'(\\w+)$','\\1')&")
        .collect();
    let all = d.get_json(&format!("/render?{seven}{range}"));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 7);
    for s in all {
        assert_eq!(s, &v[0]);
    }
}
