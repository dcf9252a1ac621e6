//! The daemon end to end: carbon in, Graphite API out, bad input survived, reload, shutdown.

use crate::util::*;
use std::time::Duration;

#[test]
fn carbon_lines_come_back_through_render_with_every_view() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let t0 = (unix_now() - 3600) / 60 * 60; // an hour ago, on a minute boundary
    // Three values in one 10 s slot, one in the next, and one tagged line.
    d.send_carbon(&format!(
        "web.req 1 {t0}\nweb.req 5 {}\nweb.req 3 {}\nweb.req 10 {}\nweb.other 2 -1\ndisk.used;rack=a1;dc=eu 7 {t0}\n",
        t0 + 1,
        t0 + 2,
        t0 + 10
    ));
    let from = t0 - 60;
    let until = t0 + 60;
    let q = |target: &str| format!("/render?target={target}&from={from}&until={until}&format=json");
    let v = d.wait_render(&q("web.req:obvs"), |v| {
        points(v, 0).iter().map(|p| p.0).sum::<f64>() == 4.0
    });
    assert_eq!(v[0]["target"], "web.req:obvs");
    assert_eq!(points(&v, 0), vec![(3.0, t0), (1.0, t0 + 10)]);
    assert_eq!(
        points(&d.get_json(&q("web.req")), 0),
        vec![(3.0, t0), (10.0, t0 + 10)],
        "gauge → avg"
    );
    assert_eq!(
        points(&d.get_json(&q("web.req:sum")), 0),
        vec![(9.0, t0), (10.0, t0 + 10)]
    );
    assert_eq!(points(&d.get_json(&q("web.req:min")), 0)[0], (1.0, t0));
    assert_eq!(points(&d.get_json(&q("web.req:max")), 0)[0], (5.0, t0));
    assert_eq!(points(&d.get_json(&q("web.req:last")), 0)[0], (3.0, t0));
    assert_eq!(points(&d.get_json(&q("web.req:sumrate")), 0)[0], (0.9, t0));
    // maxDataPoints merges buckets exactly: one point for the whole range.
    let one = d.get_json(&format!("{}&maxDataPoints=1", q("web.req:sum")));
    assert_eq!(
        points(&one, 0).iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![19.0]
    );
    // Tags are canonical; the render answer carries them.
    let tagged = d.get_json(&q("disk.used;dc=eu;rack=a1"));
    assert_eq!(tagged[0]["tags"]["dc"], "eu");
    assert_eq!(tagged[0]["tags"]["name"], "disk.used");
    // Lineage (Metrictank's meta=true envelope).
    // 20 minutes, maxDataPoints 10: 120 points at 10 s. graphite's choice (the default) reads
    // the 10 s tier and merges 12 buckets a point, as graphite-web's renderer groups them.
    let wide = format!(
        "/render?target=web.req:sum&from={}&until={}&maxDataPoints=10&meta=true",
        t0 - 600,
        t0 + 600
    );
    let meta = d.get_json(&wide);
    let m = &meta["series"][0]["meta"][0];
    assert_eq!(m["schema-name"], "default");
    assert_eq!(m["schema-retentions"], "10s:7d,1m:90d,1h:5y");
    assert_eq!(m["archive-read"], 0);
    assert_eq!(m["archive-finest"], 0);
    assert!(m.get("coarser").is_none(), "{m}");
    assert_eq!(m["archive-interval"], 10);
    assert_eq!(m["aggnum-rc"], 12);
    assert_eq!(m["consolidator-rc"], "SumConsolidator");
    assert_eq!(m["view"], "sum");
    let total: f64 = meta["series"][0]["datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[0].as_f64())
        .sum();
    assert_eq!(total, 19.0, "the merged sum equals the raw sum");
    // Globs expand to every match.
    let both = d.wait_render("/render?target=web.*&from=-2h&until=now", |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    });
    let mut names: Vec<&str> = both
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["target"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["web.other", "web.req"]);
    // POST form, as Grafana sends it.
    let (status, body) = d.post(
        "/render",
        "application/x-www-form-urlencoded",
        &format!("target=web.req%3Asum&from={from}&until={until}&format=json&maxDataPoints=1"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("[19.0,") || body.contains("[19,"), "{body}");
    // csv and raw
    let (_, csv) = d.get(&format!(
        "{}&format=csv",
        q("web.req:sum").replace("&format=json", "")
    ));
    assert!(
        csv.contains("web.req:sum,") && csv.contains(",9.0\r\n"),
        "{csv}"
    );
    let (_, raw) = d.get(&q("web.req:sum").replace("format=json", "format=raw"));
    // (from, until]: the first point is the slot after `from`, as graphite's whisper reads.
    assert!(
        raw.starts_with(&format!("web.req:sum,{},", from + 10)),
        "{raw}"
    );
    assert!(raw.contains("None,9.0,10.0,None"), "{raw}");
}

#[test]
fn metrics_find_in_graphite_formats() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    d.send_carbon(
        "servers.web1.cpu.user 1 -1\nservers.web1.cpu.system 1 -1\nservers.web2.load 1 -1\n",
    );
    let v = d.wait_render("/render?target=servers.*.*.*&from=-5min", |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    });
    assert_eq!(v.as_array().unwrap().len(), 2);
    let tree = d.get_json("/metrics/find?query=servers.*");
    assert_eq!(
        tree,
        serde_json::json!([
            {"text": "web1", "id": "servers.web1", "allowChildren": 1, "expandable": 1, "leaf": 0},
            {"text": "web2", "id": "servers.web2", "allowChildren": 1, "expandable": 1, "leaf": 0},
        ])
    );
    let leaves = d.get_json("/metrics/find?query=servers.*.cpu.*");
    assert_eq!(
        leaves[0]["id"], "servers.*.cpu.system",
        "id keeps the wildcard prefix"
    );
    assert_eq!(leaves[0]["leaf"], 1);
    let completer = d.get_json("/metrics/find?query=servers.web2.&format=completer");
    assert_eq!(completer["metrics"][0]["path"], "servers.web2.load");
    assert_eq!(completer["metrics"][0]["is_leaf"], "1");
    let wild = d.get_json("/metrics/find?query=servers.*&wildcards=1");
    assert_eq!(wild[0]["text"], "*");
    let expand = d.get_json("/metrics/expand?query=servers.*.cpu.*");
    assert_eq!(
        expand["results"],
        serde_json::json!(["servers.web1.cpu.system", "servers.web1.cpu.user"])
    );
    let (status, body) = d.get("/metrics/expand?query=servers.web1.cpu.*&jsonp=cb");
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            r#"cb({"results":["servers.web1.cpu.system","servers.web1.cpu.user"]})"#
        )
    );
    let nodes = d.get_json("/metrics/find?query=servers.*.cpu.*&format=nodelist&position=1");
    assert_eq!(nodes, serde_json::json!({"nodes": ["web1"]}));
    let (status, body) = d.get("/metrics/find");
    assert_eq!(
        (status, body.trim()),
        (400, "Missing required parameter 'query'")
    );
    assert_eq!(d.get("/version"), (200, "1.1.10".to_string()));
    // The same name under several parents is one node of the tree (graphite-web's tree_json);
    // the completer lists every path.
    d.send_carbon("servers.web2.cpu.idle 1 -1\n");
    d.wait_render("/render?target=servers.web2.cpu.idle&from=-5min", |v| {
        !points(v, 0).is_empty()
    });
    let names = d.get_json("/metrics/find?query=servers.*.*");
    let texts: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["cpu", "load"], "{names}");
    let both = d.get_json("/metrics/find?query=servers.*.*&format=completer");
    assert_eq!(both["metrics"].as_array().unwrap().len(), 3);
}

#[test]
fn events_are_posted_and_read_back_by_tags() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let (status, body) = d.post(
        "/events/",
        "application/json",
        r#"{"what":"deploy api","tags":["deploy","prod"],"when":1700000000,"data":"v1.2"}"#,
    );
    assert_eq!(status, 200, "{body}");
    d.post(
        "/events/",
        "application/json",
        r#"{"what":"reboot","tags":"ops prod","when":1700000100}"#,
    );
    let all = d.get_json("/events/get_data?from=1699999999&until=1700000200");
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["what"], "deploy api");
    assert_eq!(all[0]["id"], 1);
    let both = d.get_json("/events/get_data?from=0&until=now&tags=deploy%20prod");
    assert_eq!(both.as_array().unwrap().len(), 1);
    let union = d.get_json("/events/get_data?from=0&until=now&tags=deploy%20ops&set=union");
    assert_eq!(union.as_array().unwrap().len(), 2);
    // A tag no event has is left out before matching, as graphite's tag store does; with no
    // known tag left nothing matches.
    let known = d.get_json("/events/get_data?from=0&until=now&tags=deploy%20nosuchtag");
    assert_eq!(known.as_array().unwrap().len(), 1);
    let none = d.get_json("/events/get_data?from=0&until=now&tags=nosuchtag");
    assert_eq!(none.as_array().unwrap().len(), 0);
    let (status, body) = d.post("/events/", "application/json", r#"{"what":"x","tags":5}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("must be an array"), "{body}");
    // Events survive a restart.
    assert!(d.stop(Duration::from_secs(30)).success());
    let d = Daemon::start(&dir.path().join("tally.yaml"));
    assert_eq!(
        d.get_json("/events/get_data?from=0&until=now")
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn bad_input_is_counted_and_survived() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let mut garbage = Vec::new();
    garbage.extend_from_slice(b"no_value\nx nan 1\ny inf -1\nz 1 soon\n\xff\xfe\x00\x01 1 1\n");
    garbage.extend(std::iter::repeat_n(b'a', 100_000)); // a huge line
    garbage.extend_from_slice(b" 1 -1\n(bad) 1 -1\nok.after 1 -1\n");
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(d.carbon).unwrap();
        s.write_all(&garbage).unwrap();
    }
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(b"\x00\x00garbage\nudp.ok 2 -1\n", d.carbon_udp.unwrap())
        .unwrap();
    d.wait_render("/render?target=ok.after&from=-5min", |v| {
        !points(v, 0).is_empty()
    });
    d.wait_render("/render?target=udp.ok&from=-5min", |v| {
        !points(v, 0).is_empty()
    });
    // Six bad lines over TCP and one over UDP, counted as tally.carbon.bad_lines; one too long.
    let total = |v: &serde_json::Value| points(v, 0).iter().map(|p| p.0).sum::<f64>();
    d.wait_render(
        "/render?target=tally.carbon.bad_lines:sum&from=-5min",
        |v| total(v) == 7.0,
    );
    d.wait_render("/render?target=tally.carbon.too_long:sum&from=-5min", |v| {
        total(v) == 1.0
    });
    for (path, reason) in [
        ("/render?target=a&from=-5m", "from"),
        ("/render?target=a&from=yesterdayish", "from"),
        ("/render?target=a&maxDataPoints=ten", "maxDataPoints"),
        ("/render?target=a&format=pdf", "format"),
        ("/render?target=a&format=png&width=wide", "width"),
        (
            "/render?target=noSuchFunction(a.*)",
            "unknown function: noSuchFunction",
        ),
        ("/render?target=sumSeries(a.*", "at char 13"),
        ("/render?target=a.{b&from=-1h", "unbalanced"),
        (
            "/render?target=a&from=now&until=now",
            "Invalid empty time range",
        ),
        ("/metrics/find?query=a.[b", "unbalanced"),
    ] {
        let (status, body) = d.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(reason), "{path}: {body}");
    }
    // Still alive and serving.
    assert_eq!(d.get("/version").0, 200);
}

#[test]
fn sighup_reloads_and_a_bad_config_is_rejected() {
    let dir = TestDir::new();
    let config = dir.config("");
    let d = Daemon::start(&config);
    let good = std::fs::read_to_string(&config).unwrap()
        + "storage:\n  schemas:\n    - {name: fine, pattern: '.*', retentions: [10s:7d, 1m:90d, 1h:5y]}\n";
    std::fs::write(&config, &good).unwrap();
    d.signal("HUP");
    assert!(
        d.wait_log("Config reloaded", Duration::from_secs(30))
            .is_some()
    );
    std::fs::write(&config, "bogus: [\n").unwrap();
    d.signal("HUP");
    let line = d
        .wait_log("Reload rejected", Duration::from_secs(30))
        .expect("rejection logged");
    assert!(line.contains("tally.yaml"), "{line}");
    d.send_carbon("still.running 1 -1\n");
    d.wait_render("/render?target=still.running&from=-5min", |v| {
        !points(v, 0).is_empty()
    });
    let v = d.get_json("/render?target=still.running&from=-5min&meta=true");
    assert_eq!(
        v["series"][0]["meta"][0]["schema-name"], "fine",
        "the reloaded schema applies"
    );
}

#[test]
fn sigterm_flushes_everything_accepted_and_exits_zero() {
    let dir = TestDir::new();
    // A long commit interval: only the shutdown flush can have committed these lines.
    let config = dir.config("storage:\n  commit_interval: 1h\n");
    let d = Daemon::start(&config);
    let t = unix_now() - 600;
    let lines: String = (0..1000).map(|i| format!("flush.test {i} {t}\n")).collect();
    // Accepted: tally read every line and handed it on, which it has once it closes the
    // connection after our end of it (a fixed 500 ms could pass before it read them on a loaded
    // machine; /-/metrics is no sign here, its numbers come with the hourly commit round).
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(d.carbon).unwrap();
        s.write_all(lines.as_bytes()).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest)
            .expect("tally closes the connection");
    }
    let started = std::time::Instant::now();
    assert!(d.stop(Duration::from_secs(30)).success());
    assert!(started.elapsed() < Duration::from_secs(5));
    let out = tally()
        .args(["query", "flush.test:obvs", "--from", "-1h", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("flush.test:obvs 1000 {}", t / 10 * 10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_inputs_the_daemon_still_commits_its_own_metrics() {
    let dir = TestDir::new();
    let config = dir.write(
        "tally.yaml",
        &format!(
            "data_dir: {}\nself_metrics:\n  interval: 1s\nhttp:\n  listen: 127.0.0.1:0\ninputs:\n  system:\n    enabled: false\n  carbon:\n    enabled: false\nstorage:\n  commit_interval: 200ms\n",
            dir.path().join("data").display()
        ),
    );
    let d = Daemon::start(&config);
    d.wait_render("/render?target=tally.http.requests:sum&from=-5min", |v| {
        points(v, 0).iter().map(|p| p.0).sum::<f64>() >= 1.0
    });
    assert!(d.stop(Duration::from_secs(30)).success());
}

#[test]
fn system_collectors_store_diamond_named_series() {
    let dir = TestDir::new();
    let config = dir.config("").to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "  system:\n    enabled: false\n",
        "  system:\n    interval: 1s\n",
    );
    std::fs::write(&config, text).unwrap();
    let d = Daemon::start(std::path::Path::new(&config));
    for target in [
        "servers.testhost.cpu.total.user",
        "servers.testhost.memory.MemTotal",
        "servers.testhost.loadavg.01",
    ] {
        d.wait_render(&format!("/render?target={target}&from=-5min"), |v| {
            !points(v, 0).is_empty()
        });
    }
    let tree = d.get_json("/metrics/find?query=servers.testhost.*");
    let names: Vec<&str> = tree
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["text"].as_str())
        .collect();
    for collector in ["cpu", "memory", "loadavg", "vmstat", "network"] {
        assert!(names.contains(&collector), "{collector} not in {names:?}");
    }
}

/// Under systemd (`Type=notify`): READY=1 once serving, RELOADING=1 then READY=1 around a
/// SIGHUP, STOPPING=1 on SIGTERM, and exit 0.
#[test]
fn speaks_systemds_notify_protocol() {
    use std::os::unix::net::UnixDatagram;
    let dir = TestDir::new();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let config = dir.config("");
    let d = Daemon::start_env(&config, &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())]);
    let mut buf = [0u8; 512];
    let mut next = || {
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = next();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    assert!(
        ready.contains(&format!("MAINPID={}", d.child.id())),
        "{ready}"
    );
    d.signal("HUP");
    let reloading = next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(next().starts_with("READY=1"));
    let status = d.stop(Duration::from_secs(20));
    assert!(next().starts_with("STOPPING=1"));
    assert!(status.success(), "{status:?}");
}
