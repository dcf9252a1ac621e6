//! Log parsing throughput: the shipped parsers over synthetic lines, one thread, with the
//! Logster-style regex (`.*HTTP/1.\d" (?P<code>\d{3}) .*`, SampleLogster) as the peer baseline in
//! the same run. Target: ≥ 1 M lines/s/core for nginx_access.
//!
//! Run: `cargo bench --bench parse` (needs `[[bench]] name = "parse" harness = false`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use tally::parse::{Output, ParseState, Parser};

const LINES: usize = 10_000;
const NOW: i64 = 1_705_320_000;

/// A small deterministic generator (no rand dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

fn nginx_lines(timed: bool) -> Vec<Vec<u8>> {
    let ips = [
        "203.0.113.5",
        "198.51.100.23",
        "192.0.2.77",
        "10.1.2.3",
        "2001:db8::1",
    ];
    let methods = ["GET", "GET", "GET", "POST", "HEAD", "PUT"];
    let paths = [
        "/",
        "/index.html",
        "/api/v1/users?page=2",
        "/static/app.4f3a9c.js",
        "/images/logo.png",
    ];
    let statuses = [200, 200, 200, 200, 304, 404, 500, 301, 201];
    let uas = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "curl/8.5.0",
    ];
    let mut r = Lcg(7);
    (0..LINES)
        .map(|i| {
            let mut l = format!(
                "{} - - [15/Jan/2024:10:{:02}:{:02} +0000] \"{} {} HTTP/1.1\" {} {} \"https://example.com/\" \"{}\"",
                ips[r.next(ips.len())],
                (i / 60) % 60,
                i % 60,
                methods[r.next(methods.len())],
                paths[r.next(paths.len())],
                statuses[r.next(statuses.len())],
                r.next(50_000),
                uas[r.next(uas.len())],
            );
            if timed {
                l.push_str(&format!(" 0.{:03}", r.next(1000)));
            }
            l.into_bytes()
        })
        .collect()
}

fn auth_lines() -> Vec<Vec<u8>> {
    let kinds = [
        "sshd[2001]: Accepted publickey for alice from 203.0.113.50 port 51234 ssh2: RSA SHA256:abc",
        "sshd[2002]: Failed password for invalid user admin from 185.220.101.4 port 40000 ssh2",
        "sshd[2002]: Invalid user admin from 185.220.101.4 port 40000",
        "sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
        "sshd[2003]: Connection closed by authenticating user root 198.51.100.7 port 50000 [preauth]",
        "CRON[2004]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    ];
    let mut r = Lcg(11);
    (0..LINES)
        .map(|i| {
            format!(
                "Jan 15 10:{:02}:{:02} web1 {}",
                (i / 60) % 60,
                i % 60,
                kinds[r.next(kinds.len())]
            )
            .into_bytes()
        })
        .collect()
}

fn json_lines() -> Vec<Vec<u8>> {
    let mut r = Lcg(13);
    (0..LINES)
        .map(|i| {
            format!(
                r#"{{"time":"2024-01-15T10:{:02}:{:02}Z","level":"info","msg":"request","http":{{"method":"GET","status":{},"duration_ms":{}.5,"bytes":{}}},"user":"alice"}}"#,
                (i / 60) % 60,
                i % 60,
                [200, 404, 500][r.next(3)],
                r.next(300),
                r.next(90_000)
            )
            .into_bytes()
        })
        .collect()
}

fn shipped(name: &str) -> Parser {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("parsers/{name}.yaml"));
    let mut ps = tally::parse::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut p = ps.remove(0);
    p.set_zone(tally::parse::Zone::Utc);
    p
}

fn run(p: &Parser, lines: &[Vec<u8>], st: &mut ParseState, out: &mut Output) {
    for l in lines {
        p.apply(l, NOW, "web.host1", st, out);
        out.clear();
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(LINES as u64));
    let mut out = Output::default();

    for (name, lines) in [
        ("nginx_access", nginx_lines(false)),
        ("nginx_access_timed", nginx_lines(true)),
    ] {
        let p = shipped("nginx_access");
        let mut st = ParseState::new();
        g.bench_function(name, |b| {
            b.iter(|| run(&p, black_box(&lines), &mut st, &mut out))
        });
    }

    // The peer: Logster's SampleLogster regex, captures only (no names, no time, no output).
    let lines = nginx_lines(false);
    let logster = regex::Regex::new(r#".*HTTP/1.\d" (?P<http_status_code>\d{3}) .*"#).unwrap();
    g.bench_function("logster_sample_regex", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for l in black_box(&lines) {
                let s = std::str::from_utf8(l).unwrap();
                if let Some(c) = logster.captures(s) {
                    n += c["http_status_code"].as_bytes()[0] as u32;
                }
            }
            n
        })
    });

    let p = shipped("syslog_auth");
    let lines = auth_lines();
    let mut st = ParseState::new();
    g.bench_function("syslog_auth", |b| {
        b.iter(|| run(&p, black_box(&lines), &mut st, &mut out))
    });

    let p = shipped("json_lines");
    let lines = json_lines();
    let mut st = ParseState::new();
    g.bench_function("json_lines", |b| {
        b.iter(|| run(&p, black_box(&lines), &mut st, &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
