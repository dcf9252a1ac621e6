//! Test helpers: a temporary directory with a config, the real daemon started on port 0 (its
//! addresses read from its JSON log), a tiny HTTP/1.1 client and a carbon sender.

#![allow(dead_code)]

pub mod browser;
pub mod peers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tally");

pub fn tally() -> Command {
    Command::new(BIN)
}

pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// A config with every listener on an ephemeral loopback port; `extra` is appended.
    pub fn config(&self, extra: &str) -> PathBuf {
        let text = format!(
            "data_dir: {}\nhostname: testhost\nself_metrics:\n  interval: 1s\nhttp:\n  listen: 127.0.0.1:0\ninputs:\n  system:\n    enabled: false\n  carbon:\n    listen: 127.0.0.1:0\n{extra}",
            self.path().join("data").display()
        );
        self.write("tally.yaml", &text)
    }
}

pub struct Daemon {
    pub child: Child,
    pub http: SocketAddr,
    pub carbon: SocketAddr,
    pub carbon_udp: Option<SocketAddr>,
    pub carbon_pickle: Option<SocketAddr>,
    pub statsd: Option<SocketAddr>,
    pub statsd_udp: Option<SocketAddr>,
    pub statsd_management: Option<SocketAddr>,
    pub log: mpsc::Receiver<String>,
}

impl Daemon {
    /// Starts `tally run -c config` and waits until it logs "tally is running.".
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_env(config, &[])
    }

    /// As [`Daemon::start`], with extra environment variables.
    pub fn start_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut child = tally()
            .args(["--log-format", "json", "run", "-c"])
            .arg(config)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn tally");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut http, mut carbon, mut carbon_udp, mut carbon_pickle) = (None, None, None, None);
        let (mut statsd, mut statsd_udp, mut statsd_management) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("tally did not start; status {:?}", child.try_wait()));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let msg = v["fields"]["message"].as_str().unwrap_or_default();
            let addr = v["fields"]["addr"].as_str().and_then(|a| a.parse().ok());
            match msg {
                "HTTP listening." => http = addr,
                "Carbon listening on tcp." => carbon = addr,
                "Carbon listening on udp." => carbon_udp = addr,
                "Carbon pickle listening on tcp." => carbon_pickle = addr,
                "StatsD listening on tcp." => statsd = addr,
                "StatsD listening on udp." => statsd_udp = addr,
                "StatsD management listening." => statsd_management = addr,
                "tally is running." => break,
                _ => {}
            }
        }
        Daemon {
            child,
            http: http.expect("http address logged"),
            carbon: carbon.unwrap_or_else(|| "0.0.0.0:0".parse().unwrap()),
            carbon_udp,
            carbon_pickle,
            statsd,
            statsd_udp,
            statsd_management,
            log: rx,
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for a log line whose message contains `needle`; returns the whole JSON line.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while let Ok(line) = self
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    }

    /// SIGTERM, then the exit status (panics after `timeout`).
    pub fn stop(mut self, timeout: Duration) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tally did not stop within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.http, "GET", path, "", "")
    }

    /// GET with the raw answer: status, content type, body bytes.
    pub fn get_raw(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.request_raw("GET", path, "")
    }

    /// GET, or POST of a url-encoded `form`, with the raw answer: status, content type, body
    /// bytes (never chunked: the answer must have a length).
    pub fn request_raw(&self, method: &str, path: &str, form: &str) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(self.http).expect("connect http");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
        if method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                form.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(form);
        s.write_all(req.as_bytes()).expect("send request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read response");
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let content_type = head
            .lines()
            .find_map(|l| l.strip_prefix("content-type: "))
            .unwrap_or_default()
            .to_string();
        assert!(
            !head.contains("transfer-encoding: chunked"),
            "{method} {path}: chunked"
        );
        (status, content_type, raw[split + 4..].to_vec())
    }

    pub fn post(&self, path: &str, content_type: &str, body: &str) -> (u16, String) {
        http(self.http, "POST", path, content_type, body)
    }

    /// GET as JSON; a `/render` without a `format` gets `format=json` (graphite's default is
    /// a PNG).
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let path = &json_render(path);
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub fn send_carbon(&self, lines: &str) {
        let mut s = TcpStream::connect(self.carbon).expect("connect carbon");
        s.write_all(lines.as_bytes()).expect("send");
    }

    /// Polls `check` on /render JSON until it returns true (30 s at most: a commit, or a
    /// daemon just started, can take seconds on a loaded machine).
    pub fn wait_render(
        &self,
        path: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.get_json(path);
            if check(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {path}: last {v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `path` with `format=json` added if it is a `/render` that names no format.
pub fn json_render(path: &str) -> String {
    if path.starts_with("/render") && !path.contains("format=") {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}format=json")
    } else {
        path.to_string()
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("http response head");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Datapoints of the first series of a /render JSON answer as `(value, ts)`, nulls skipped.
pub fn points(v: &serde_json::Value, i: usize) -> Vec<(f64, i64)> {
    v[i]["datapoints"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_i64()?)))
                .collect()
        })
        .unwrap_or_default()
}
