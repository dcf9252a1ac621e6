//! The web UI's serving and JSON through the real binary (no browser): files with CSP and
//! ETags, `/api/inputs`, `/api/series`, dashboards from files, `tally check` and SIGHUP.

use crate::util::*;
use std::io::{Read, Write};
use std::time::Duration;

/// GET with extra request headers; the status and the response head (lower case).
fn get_head(d: &Daemon, path: &str, extra: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(d.http).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head)
}

const BOARD: &str =
    "title: Web\npanels:\n  - title: Requests\n    targets: ['web.{host}.req:sumrate']\n";

#[test]
fn the_ui_is_served_with_csp_and_etags() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let (status, head) = get_head(&d, "/", "");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(
        head.contains("frame-ancestors 'none'") && head.contains("script-src 'self'"),
        "{head}"
    );
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_string();
    let (status, _) = get_head(&d, "/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(status, 304);
    let (status, head) = get_head(&d, "/ui/app.js", "");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert_eq!(get_head(&d, "/ui/missing.js", "").0, 404);
}

#[test]
fn inputs_and_series_kinds_for_the_ui() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let inputs = d.get_json("/api/inputs");
    assert_eq!(inputs["host"], "testhost");
    assert!(inputs["system"].is_null(), "{inputs}");
    assert_eq!(inputs["carbon"]["kind"], "gauge");
    assert_eq!(inputs["self"]["prefix"], "tally");
    d.send_carbon("ui.a 1 -1\nui.b 2 -1\n");
    d.wait_render("/render?target=ui.*&from=-5min", |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    });
    let v = d.get_json("/api/series?query=ui.*");
    assert_eq!(
        v,
        serde_json::json!({"series": [{"path": "ui.a", "kind": "gauge"}, {"path": "ui.b", "kind": "gauge"}], "truncated": false})
    );
    assert_eq!(d.get("/api/series?query=ui.[").0, 400);
}

#[test]
fn dashboards_are_checked_served_and_reloaded_on_sighup() {
    let dir = TestDir::new();
    let boards = dir.path().join("boards");
    std::fs::create_dir(&boards).unwrap();
    std::fs::write(boards.join("web.yaml"), BOARD).unwrap();
    let config = dir.config(&format!("dashboard_dirs: [{}]\n", boards.display()));
    let out = tally().args(["check", "-c"]).arg(&config).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 dashboard(s)"));

    let d = Daemon::start(&config);
    let list = d.get_json("/api/dashboards");
    assert_eq!(list["dashboards"][0]["name"], "web");
    let web = d.get_json("/api/dashboards/web");
    assert_eq!(web["panels"][0]["targets"][0], "web.testhost.req:sumrate");
    assert_eq!(web["from"], "-1h");
    assert_eq!(d.get("/api/dashboards/nope").0, 404);

    // A bad file: `tally check` says where; a reload serves the good ones and logs the bad.
    std::fs::write(
        boards.join("bad.yaml"),
        "title: Bad\npanels:\n  - title: x\n    targets: ['sumSeries(a']\n",
    )
    .unwrap();
    std::fs::write(boards.join("db.yaml"), BOARD.replace("Web", "Databases")).unwrap();
    let out = tally().args(["check", "-c"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:4:15: target \"sumSeries(a\""),
        "{err}"
    );
    d.signal("HUP");
    assert!(
        d.wait_log("Config reloaded", Duration::from_secs(30))
            .is_some()
    );
    let names: Vec<String> = d.get_json("/api/dashboards")["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["db", "web"]);
}
