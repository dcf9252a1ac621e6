//! Real peers for the shipping tests (Prometheus, VictoriaMetrics, carbon-cache, whisper),
//! installed by scripts/test.sh and started here as child processes on free loopback ports
//! with configs in a temporary directory. A missing peer fails the test when `CI=true`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The peer's binary, or `None` (with a note) when it is not installed outside CI.
pub fn require(bin: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(bin);
        if p.exists() {
            return Some(p);
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{bin} is not installed: scripts/test.sh installs it (CI=true: failing, not skipping)"
        );
    }
    eprintln!("SKIPPED: {bin} is not installed (run scripts/test.sh to install the peers)");
    None
}

/// A loopback port free at the time of the call, for a peer that binds it later (or a tally
/// restarted on the same address). It is taken below the kernel's ephemeral range: a port from
/// `bind(…:0)` is freed here and handed over, and in the gap any `connect` or `bind(0)` on the
/// machine (the many daemons and clients of the parallel tests) could be given it; no one is
/// given a port outside that range unless they ask for it by number. Never the same port twice
/// in one test process.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (start, span) = (
        low.saturating_sub(12_000).max(1024),
        11_000u32.min(u32::from(low)),
    );
    let mut given = GIVEN.lock().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut x = (nanos ^ std::process::id().rotate_left(16)) | 1;
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let port = start + (x % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            given.push(port);
            return port;
        }
    }
    panic!(
        "no free loopback port in {start}..{}",
        u32::from(start) + span
    )
}

pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A peer process; killed when dropped.
pub struct Peer {
    pub child: Child,
    pub name: &'static str,
    pub addr: SocketAddr,
    command: Vec<String>,
    log: PathBuf,
}

impl Peer {
    /// Starts `command` and waits until `addr` accepts connections.
    pub fn start(name: &'static str, command: Vec<String>, addr: SocketAddr, log: PathBuf) -> Peer {
        let child = spawn(&command, &log);
        let mut peer = Peer {
            child,
            name,
            addr,
            command,
            log,
        };
        peer.wait_ready();
        peer
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.addr).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status}: {}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {}",
                self.name,
                self.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait (an orderly stop, data kept).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGSTOP: the peer hangs. The kernel still accepts connections into its backlog and
    /// takes bytes into its socket buffers, but nothing answers or is read until [`Peer::thaw`].
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after [`Peer::freeze`]: the peer reads what waited in its sockets.
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {}", self.name);
    }

    /// Starts the same command again (same port, same data).
    pub fn restart(&mut self) {
        self.child = spawn(&self.command, &self.log);
        self.wait_ready();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn spawn(command: &[String], log: &Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("peer log");
    Command::new(&command[0])
        .args(&command[1..])
        .stdout(Stdio::from(out.try_clone().expect("dup")))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", command[0]))
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET with a query string, returning the JSON body.
pub fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = super::http(addr, "GET", path, "", "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
