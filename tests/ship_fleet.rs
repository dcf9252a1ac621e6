//! A fleet shipping to one place: two tallies of different hostnames into one real Prometheus
//! (host labels from the default mapping, counters as `_total` running totals, tally's own
//! series apart per host, nothing refused), `Retry-After`, `basic_auth` and `headers` at a
//! tiny HTTP server, TLS with a CA file, a client certificate and `server_name` against a real
//! Prometheus, and a `type: tally` output spread over two central tallies.

use crate::ship::{SCHEMA, central_config, render};
use crate::ship_remote::{prom_samples, prometheus};
use crate::util::peers::{Peer, free_port, get_json, require, urlencode, wait_until};
use crate::util::{Daemon, TestDir};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A host named `host` whose carbon input makes counters.
fn fleet_config(dir: &TestDir, host: &str, outputs: &str) -> PathBuf {
    let text = format!(
        "data_dir: {}\nhostname: {host}\nself_metrics:\n  interval: 1s\nhttp:\n  listen: 127.0.0.1:0\ninputs:\n  system:\n    enabled: false\n  carbon:\n    listen: 127.0.0.1:0\n    kind: counter\n{SCHEMA}outputs:\n{outputs}",
        dir.path().join(host).display()
    );
    dir.write(&format!("{host}.yaml"), &text)
}

fn sum_of(addr: SocketAddr, target: &str, from: &str) -> f64 {
    render(addr, target, from).iter().map(|p| p.0).sum()
}

/// The value of a one-series-per-host instant query, per host.
fn by_host(prom: SocketAddr, query: &str, time: i64) -> BTreeMap<String, f64> {
    let q = urlencode(query);
    let v = get_json(prom, &format!("/api/v1/query?query={q}&time={time}"));
    let mut out = BTreeMap::new();
    for r in v["data"]["result"].as_array().into_iter().flatten() {
        let host = r["metric"]["host"].as_str().unwrap_or_default().to_string();
        let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        out.insert(host, value);
    }
    out
}

#[test]
fn two_hosts_into_one_prometheus_sum_by_host() {
    let dir = TestDir::new();
    let Some(prom) = prometheus(&dir) else {
        return;
    };
    let output = format!(
        "  - {{ type: remote_write, name: prom, url: 'http://127.0.0.1:{}/api/v1/write', grace: 1s, timeout: 2s, labels: {{ job: tally }} }}\n",
        prom.addr.port()
    );
    let hosts: Vec<Daemon> = ["web1", "web2"]
        .iter()
        .map(|h| Daemon::start(&fleet_config(&dir, h, &output)))
        .collect();
    // Different amounts per host, over several slots.
    for round in 0..24 {
        for (i, (h, name)) in hosts.iter().zip(["web1", "web2"]).enumerate() {
            let v = (round % 5 + 1) * (i + 1);
            h.send_carbon(&format!("servers.{name}.app.hits {v} -1\n"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // Each host's slots, as its /render says, and their running sums, once all 24 lines are
    // stored (a fixed wait could read them before a commit that was late on a loaded machine).
    std::thread::sleep(Duration::from_secs(2));
    for (h, name) in hosts.iter().zip(["web1", "web2"]) {
        wait_until("the host stored all 24", Duration::from_secs(30), || {
            sum_of(h.http, &format!("servers.{name}.app.hits:obvs"), "-10min") == 24.0
        });
    }
    let mut want: Vec<BTreeMap<i64, f64>> = Vec::new();
    for (h, name) in hosts.iter().zip(["web1", "web2"]) {
        let mut total = 0.0;
        let running: BTreeMap<i64, f64> =
            render(h.http, &format!("servers.{name}.app.hits:sum"), "-10min")
                .into_iter()
                .map(|(v, t)| {
                    total += v;
                    (t, total)
                })
                .collect();
        assert!(running.len() >= 4, "{name}: {running:?}");
        want.push(running);
    }
    for (name, want) in ["web1", "web2"].iter().zip(&want) {
        wait_until(
            &format!("prometheus has app_hits_total of {name}"),
            Duration::from_secs(20),
            || prom_samples(prom.addr, &format!("app_hits_total{{host=\"{name}\"}}")) == *want,
        );
    }
    // sum by (host): the total, and the increase between two sample times, equal /render's
    // sum over the same range, (from, until].
    for ((h, name), want) in hosts.iter().zip(["web1", "web2"]).zip(&want) {
        let (&t0, _) = want.iter().nth(1).unwrap();
        let (&t1, _) = want.iter().next_back().unwrap();
        let at = |t| by_host(prom.addr, "sum by (host) (app_hits_total)", t)[&name.to_string()];
        let path =
            format!("/render?target=servers.{name}.app.hits:sum&from={t0}&until={t1}&format=json");
        let (status, body) = crate::util::http(h.http, "GET", &path, "", "");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let range: f64 = crate::util::points(&v, 0).iter().map(|p| p.0).sum();
        assert!(range > 0.0);
        assert_eq!(at(t1) - at(t0), range, "{name}: increase over ({t0}, {t1}]");
        // Prometheus 2's ranges are closed, [t0, t1]: with samples at both ends rate() and
        // increase() do not extrapolate, and equal /render's sum over (t0, t1].
        let d = t1 - t0;
        let inc = by_host(
            prom.addr,
            &format!("sum by (host) (increase(app_hits_total[{d}s]))"),
            t1,
        )[&name.to_string()];
        assert_eq!(inc, range, "{name}: increase()");
        let rate = by_host(
            prom.addr,
            &format!("sum by (host) (rate(app_hits_total[{d}s]))"),
            t1,
        )[&name.to_string()];
        assert!(
            (rate * d as f64 - range).abs() <= range * 1e-12,
            "{name}: rate() {rate} over {d}s vs {range}"
        );
        assert_eq!(
            at(t1),
            sum_of(h.http, &format!("servers.{name}.app.hits:sum"), "-10min"),
            "{name}: the total"
        );
    }
    // rate() over the last minute sees both hosts apart.
    let now = crate::util::unix_now();
    let rates = by_host(prom.addr, "sum by (host) (rate(app_hits_total[1m]))", now);
    assert_eq!(rates.len(), 2, "{rates:?}");
    assert!(rates.values().all(|&r| r > 0.0), "{rates:?}");
    // tally's own series: one per host, nothing refused anywhere.
    wait_until(
        "self-metrics of both hosts",
        Duration::from_secs(20),
        || by_host(prom.addr, "tally_store_series", now).len() == 2,
    );
    let log = prom.log();
    assert!(
        !log.contains("duplicate sample") && !log.contains("Out of order"),
        "{log}"
    );
    let (_, metrics) = crate::util::http(prom.addr, "GET", "/metrics", "", "");
    let refused: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("prometheus_http_requests_total") && l.contains("/api/v1/write"))
        .filter(|l| !l.contains("code=\"204\"") && !l.contains("code=\"200\""))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    for h in &hosts {
        assert_eq!(sum_of(h.http, "tally.ship.prom.dropped:sum", "-10min"), 0.0);
        assert!(sum_of(h.http, "tally.ship.prom.sent:sum", "-10min") > 0.0);
    }
    drop(prom);
}

/// What the tiny server saw of one request.
struct Seen {
    at: Instant,
    head: String,
}

/// An HTTP server answering each request with the next of `answers` (the last repeats).
fn tiny_server(answers: Vec<&'static str>) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            loop {
                let mut head = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                    line.clear();
                }
                if head.is_empty() {
                    break;
                }
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let n = {
                    let mut s = log.lock().unwrap();
                    s.push(Seen {
                        at: Instant::now(),
                        head,
                    });
                    s.len()
                };
                let answer = answers[(n - 1).min(answers.len() - 1)];
                if conn.write_all(answer.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    (addr, seen)
}

#[test]
fn retry_after_basic_auth_headers_and_the_cause_of_a_failure() {
    let dir = TestDir::new();
    let (addr, seen) = tiny_server(vec![
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 4\r\n\r\nslow",
        "HTTP/1.1 204 No Content\r\n\r\n",
    ]);
    let closed = free_port();
    let outputs = format!(
        "  - type: remote_write\n    url: 'http://{addr}/push'\n    grace: 1s\n    include: [ship]\n    basic_auth: {{ username: fleet, password: 'pa:ss' }}\n    headers: {{ X-Scope-OrgID: team-a }}\n  - {{ type: remote_write, name: nowhere, url: 'http://127.0.0.1:{closed}/push', grace: 1s, include: [ship] }}\n  - {{ type: tally, name: nocentral, url: 'http://127.0.0.1:{closed}', grace: 1s, include: [ship] }}\n"
    );
    let host = Daemon::start(&fleet_config(&dir, "web1", &outputs));
    host.send_carbon("ship.hits 1 -1\n");
    wait_until("two requests", Duration::from_secs(30), || {
        seen.lock().unwrap().len() >= 2
    });
    let seen = seen.lock().unwrap();
    let waited = seen[1].at - seen[0].at;
    // The backoff alone would have been 100 ms or less.
    assert!(waited >= Duration::from_millis(2900), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    for s in seen.iter() {
        let head = s.head.to_ascii_lowercase();
        // base64("fleet:pa:ss")
        assert!(
            head.contains("authorization: basic zmxlzxq6cge6c3m="),
            "{}",
            s.head
        );
        assert!(
            s.head.contains("x-scope-orgid: team-a") || s.head.contains("X-Scope-OrgID: team-a"),
            "{}",
            s.head
        );
    }
    // The causes of a failure are in its log line, for both HTTP output types.
    // (wait_log consumes the lines before the one it finds: read them all here.)
    let mut failed: BTreeMap<&str, String> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while failed.len() < 2 && Instant::now() < deadline {
        let Some(line) = host.wait_log("Delivery failed", Duration::from_secs(5)) else {
            continue;
        };
        for name in ["nowhere", "nocentral"] {
            if line.contains(&format!("\"output\":\"{name}\"")) {
                failed.insert(name, line.clone());
            }
        }
    }
    assert_eq!(failed.len(), 2, "{failed:?}");
    for line in failed.values() {
        assert!(line.contains("Connection refused"), "{line}");
    }
}

/// A CA, a server certificate for `tally-test.example` and a client certificate, by openssl.
fn certificates(dir: &Path) -> Option<()> {
    require("openssl")?;
    let run = |args: &str| {
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cd '{}' && {args}", dir.display()))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{args}");
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run(&format!(
        "openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=tally-test-ca"
    ));
    for (name, cn, ext) in [
        (
            "server",
            "tally-test.example",
            "subjectAltName=DNS:tally-test.example\nextendedKeyUsage=serverAuth",
        ),
        ("client", "tally-client", "extendedKeyUsage=clientAuth"),
    ] {
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!("basicConstraints=CA:FALSE\n{ext}\n"),
        )
        .unwrap();
        run(&format!(
            "openssl req {ec} -keyout {name}.key -out {name}.csr -subj /CN={cn}"
        ));
        run(&format!(
            "openssl x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out {name}.pem -days 2 -extfile {name}.ext"
        ));
    }
    Some(())
}

#[test]
fn tls_with_a_ca_file_a_client_certificate_and_a_server_name() {
    let dir = TestDir::new();
    let (Some(bin), Some(()), Some(curl)) = (
        require("prometheus"),
        certificates(dir.path()),
        require("curl"),
    ) else {
        return;
    };
    let p = |f: &str| dir.path().join(f).display().to_string();
    let web = dir.write(
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            p("server.pem"),
            p("server.key"),
            p("ca.pem")
        ),
    );
    let cfg = dir.write("prometheus.yml", "global:\n  scrape_interval: 1m\n");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _prom = Peer::start(
        "prometheus",
        vec![
            bin.display().to_string(),
            format!("--config.file={}", cfg.display()),
            format!("--storage.tsdb.path={}", p("prom-data")),
            format!("--web.listen-address={addr}"),
            format!("--web.config.file={}", web.display()),
            "--web.enable-remote-write-receiver".into(),
        ],
        addr,
        dir.path().join("prometheus.log"),
    );
    let url = format!("https://127.0.0.1:{port}/api/v1/write");
    let tls = format!(
        "{{ ca_file: '{}', cert_file: '{}', key_file: '{}', server_name: tally-test.example }}",
        p("ca.pem"),
        p("client.pem"),
        p("client.key")
    );
    let outputs = format!(
        "  - {{ type: remote_write, name: good, url: '{url}', grace: 1s, include: [ship], tls: {tls} }}\n  - {{ type: remote_write, name: noca, url: '{url}', grace: 1s, include: [ship], tls: {{ server_name: tally-test.example }} }}\n"
    );
    let host = Daemon::start(&fleet_config(&dir, "web1", &outputs));
    for _ in 0..8 {
        host.send_carbon("ship.tls 2 -1\n");
        std::thread::sleep(Duration::from_millis(250));
    }
    wait_until("delivered over TLS", Duration::from_secs(30), || {
        sum_of(host.http, "tally.ship.good.sent:sum", "-10min") > 0.0
    });
    // All eight stored (a commit can come late on a loaded machine; then more is delivered).
    wait_until("the host stored the lines", Duration::from_secs(30), || {
        sum_of(host.http, "ship.tls:sum", "-10min") == 16.0
    });
    // Read back over TLS with the same certificates.
    let want = sum_of(host.http, "ship.tls:sum", "-10min");
    assert_eq!(want, 16.0);
    let query = urlencode("sum(ship_tls_total)");
    wait_until("prometheus has the total", Duration::from_secs(20), || {
        let out = std::process::Command::new(&curl)
            .args([
                "-s",
                "--cacert",
                &p("ca.pem"),
                "--cert",
                &p("client.pem"),
                "--key",
                &p("client.key"),
            ])
            .arg("--resolve")
            .arg(format!("tally-test.example:{port}:127.0.0.1"))
            .arg(format!(
                "https://tally-test.example:{port}/api/v1/query?query={query}"
            ))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["data"]["result"][0]["value"][1].as_str() == Some("16")
    });
    // Without the CA file the system roots do not know this server.
    let line = host
        .wait_log("\"output\":\"noca\"", Duration::from_secs(10))
        .unwrap_or_default();
    assert!(line.to_ascii_lowercase().contains("certificate"), "{line}");
    assert_eq!(sum_of(host.http, "tally.ship.noca.sent:sum", "-10min"), 0.0);
}

#[test]
fn a_tally_output_spreads_series_over_two_centrals() {
    let dir = TestDir::new();
    let ports = [free_port(), free_port()];
    let centrals: Vec<Daemon> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            let cfg = central_config(&dir, *port);
            let text = std::fs::read_to_string(&cfg)
                .unwrap()
                .replace("/central", &format!("/central{i}"));
            Daemon::start(&dir.write(&format!("central{i}.yaml"), &text))
        })
        .collect();
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("'http://127.0.0.1:{p}'"))
        .collect();
    let outputs = format!(
        "  - {{ type: tally, urls: [{}], mode: consistent_hash, grace: 1s }}\n",
        urls.join(", ")
    );
    let host = Daemon::start(&fleet_config(&dir, "web1", &outputs));
    let names: Vec<String> = (0..12).map(|i| format!("app.s{i}")).collect();
    for round in 0..8 {
        let lines: String = names
            .iter()
            .map(|n| format!("{n} {} -1\n", round + 1))
            .collect();
        host.send_carbon(&lines);
        std::thread::sleep(Duration::from_millis(250));
    }
    // Every line stored before the host's totals are read (a fixed second could come before
    // a commit that was late on a loaded machine).
    wait_until(
        "the host stored every line",
        Duration::from_secs(30),
        || {
            names
                .iter()
                .all(|n| sum_of(host.http, &format!("{n}:sum"), "-10min") == 36.0)
        },
    );
    let ring = tally::ship::ring::Ring::new(
        ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .iter()
            .map(|u| (u.as_str(), None)),
    );
    let mut per_central = [0, 0];
    for n in &names {
        let want = sum_of(host.http, &format!("{n}:sum"), "-10min");
        assert_eq!(want, 36.0, "{n}");
        let home = ring.node(n).unwrap();
        per_central[home] += 1;
        wait_until(
            &format!("{n} on central {home}"),
            Duration::from_secs(20),
            || sum_of(centrals[home].http, &format!("{n}:sum"), "-10min") == want,
        );
        assert!(
            render(centrals[1 - home].http, &format!("{n}:sum"), "-10min").is_empty(),
            "{n} only on its own central"
        );
    }
    assert!(per_central.iter().all(|&c| c > 0), "{per_central:?}");
    // tally's own series arrive under the host's name.
    wait_until(
        "self-metrics under servers.web1",
        Duration::from_secs(20),
        || {
            centrals
                .iter()
                .any(|c| !render(c.http, "servers.web1.tally.store.series", "-10min").is_empty())
        },
    );
}

/// `(resets, increase)` of raw counter samples, counted as Prometheus does: a drop is a reset
/// and starts again from 0.
fn counted(samples: &BTreeMap<i64, f64>) -> (u32, f64) {
    let (mut prev, mut increase, mut resets) = (0.0, 0.0, 0);
    for &v in samples.values() {
        if v < prev {
            resets += 1;
            increase += v;
        } else {
            increase += v - prev;
        }
        prev = v;
    }
    (resets, increase)
}

/// A restart starts the running totals again from 0: Prometheus sees one reset, and
/// increase() over the whole time still equals what tally's /render says.
#[test]
fn a_restart_is_a_counter_reset_that_increase_reads_right() {
    let dir = TestDir::new();
    let Some(prom) = prometheus(&dir) else {
        return;
    };
    let output = format!(
        "  - {{ type: remote_write, name: prom, url: 'http://127.0.0.1:{}/api/v1/write', grace: 1s, timeout: 2s, include: [app] }}\n",
        prom.addr.port()
    );
    let cfg = fleet_config(&dir, "web1", &output);
    // Sends twelve lines, then waits until the host stored them (its totals are read next; a
    // commit late on a loaded machine made them one line short, and the peer then had more).
    let feed = |h: &Daemon, v: u32| {
        let start = sum_of(h.http, "app.hits:sum", "-10min");
        for _ in 0..12 {
            h.send_carbon(&format!("app.hits {v} -1\n"));
            std::thread::sleep(Duration::from_millis(250));
        }
        let want = start + 12.0 * f64::from(v);
        wait_until("the host stored the lines", Duration::from_secs(30), || {
            sum_of(h.http, "app.hits:sum", "-10min") == want
        });
    };
    let host = Daemon::start(&cfg);
    feed(&host, 50);
    let before = sum_of(host.http, "app.hits:sum", "-10min");
    wait_until(
        "delivered before the restart",
        Duration::from_secs(20),
        || prom_samples(prom.addr, "app_hits_total").values().last() == Some(&before),
    );
    host.stop(Duration::from_secs(20));
    let host = Daemon::start(&cfg);
    feed(&host, 1);
    let all = sum_of(host.http, "app.hits:sum", "-10min");
    assert_eq!(all, before + 12.0);
    let mut seen = BTreeMap::new();
    wait_until(
        "delivered after the restart",
        Duration::from_secs(20),
        || {
            seen = prom_samples(prom.addr, "app_hits_total");
            seen.values().last() == Some(&12.0)
        },
    );
    assert_eq!(counted(&seen), (1, all), "{seen:?}");
    let now = crate::util::unix_now();
    let q = by_host(prom.addr, "resets(app_hits_total[15m])", now);
    assert_eq!(q.values().copied().collect::<Vec<_>>(), [1.0]);
}

/// Records delivered before a `kill -9` whose ack was lost are sent again after the restart
/// (here the whole spool, from its first record), with totals counted again from 0, then the
/// records spooled during the outage: nothing is counted twice.
#[test]
fn a_resend_after_a_lost_ack_counts_nothing_twice() {
    let dir = TestDir::new();
    let Some(mut prom) = prometheus(&dir) else {
        return;
    };
    let output = format!(
        "  - {{ type: remote_write, name: prom, url: 'http://127.0.0.1:{}/api/v1/write', grace: 1s, timeout: 2s, include: [app] }}\n",
        prom.addr.port()
    );
    let cfg = fleet_config(&dir, "web1", &output);
    // Sends twelve lines, then waits until the host stored them (its totals are read next; a
    // commit late on a loaded machine made them one line short, and the peer then had more).
    let feed = |h: &Daemon, v: u32| {
        let start = sum_of(h.http, "app.hits:sum", "-10min");
        for _ in 0..12 {
            h.send_carbon(&format!("app.hits {v} -1\n"));
            std::thread::sleep(Duration::from_millis(250));
        }
        let want = start + 12.0 * f64::from(v);
        wait_until("the host stored the lines", Duration::from_secs(30), || {
            sum_of(h.http, "app.hits:sum", "-10min") == want
        });
    };
    let host = Daemon::start(&cfg);
    feed(&host, 50);
    let before = sum_of(host.http, "app.hits:sum", "-10min");
    wait_until("delivered", Duration::from_secs(20), || {
        prom_samples(prom.addr, "app_hits_total").values().last() == Some(&before)
    });
    prom.stop();
    feed(&host, 1);
    assert!(
        host.wait_log("Delivery failed; will retry.", Duration::from_secs(20))
            .is_some()
    );
    std::thread::sleep(Duration::from_secs(2));
    host.kill9();
    let ack = dir.path().join("web1/spool/prom/ack");
    assert!(ack.exists(), "{}", ack.display());
    std::fs::remove_file(ack).unwrap();
    prom.restart();
    wait_until("prometheus ready", Duration::from_secs(30), || {
        crate::util::http(prom.addr, "GET", "/-/ready", "", "").0 == 200
    });
    let host = Daemon::start(&cfg);
    let all = sum_of(host.http, "app.hits:sum", "-10min");
    assert_eq!(all, before + 12.0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = prom_samples(prom.addr, "app_hits_total");
    while seen.values().last() != Some(&all) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        seen = prom_samples(prom.addr, "app_hits_total");
    }
    let mut log = Vec::new();
    while let Some(l) = host.wait_log("output", Duration::from_millis(100)) {
        log.push(l);
    }
    let slots = render(host.http, "app.hits:sum", "-10min");
    // Prometheus 2.42 refuses the resent records (older than the series' newest sample:
    // "out of order"; at its newest time with another total: "duplicate sample"), tally drops
    // and counts them without adding them to the totals, and the records after them count
    // from 0: one reset, and the increase is exactly what tally has.
    let (resets, increase) = counted(&seen);
    assert_eq!(increase, all, "{seen:?}\n{slots:?}\n{log:#?}");
    assert!(resets <= 1, "{seen:?}");
    let dropped = sum_of(host.http, "tally.ship.prom.dropped:sum", "-10min");
    assert_eq!(dropped > 0.0, resets == 1, "{dropped} dropped; {log:#?}");
}
