//! Carbon's pickle protocol (`inputs.carbon.pickle_listen`) from the senders a user meets:
//! Debian's carbon-relay, whose default `DESTINATION_PROTOCOL` is pickle, relaying plaintext
//! it was sent; and Python's own `pickle.dumps` in every protocol (Diamond's
//! `GraphitePickleHandler` writes protocol 0, carbon-relay protocol 2), with a frame that
//! would run code and one too long for a frame.

use crate::util::peers::{Peer, free_port, require};
use crate::util::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};

const PICKLE: &str = "    pickle_listen: 127.0.0.1:0\n";

fn sum(d: &Daemon, target: &str) -> f64 {
    let v = d.get_json(&format!("/render?target={target}&from=-10min&format=json"));
    points(&v, 0).iter().map(|p| p.0).sum()
}

/// carbon-relay on free ports, relaying by consistent hashing to tally's pickle listener.
fn carbon_relay(dir: &TestDir, to: std::net::SocketAddr) -> Option<Peer> {
    let bin = require("carbon-relay")?;
    let root = dir.path().join("relay");
    std::fs::create_dir_all(root.join("log")).unwrap();
    let port = free_port();
    let conf = root.join("carbon.conf");
    let text = format!(
        "[relay]\nSTORAGE_DIR = {root}\nLOG_DIR = {root}/log\nPID_DIR = {root}\nUSER =\n\
         LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {port}\nENABLE_UDP_LISTENER = False\n\
         PICKLE_RECEIVER_INTERFACE = 127.0.0.1\nPICKLE_RECEIVER_PORT = {}\n\
         RELAY_METHOD = consistent-hashing\nDESTINATIONS = {to}:a\nDESTINATION_PROTOCOL = pickle\n\
         MAX_QUEUE_SIZE = 100000\nCARBON_METRIC_INTERVAL = 0\n",
        free_port(),
        root = root.display(),
    );
    std::fs::write(&conf, text).unwrap();
    // carbon-relay reads the schemas file at start although it never writes Whisper.
    std::fs::write(
        root.join("storage-schemas.conf"),
        "[all]\npattern = .*\nretentions = 10s:1d\n",
    )
    .unwrap();
    let cmd = vec![
        bin.display().to_string(),
        format!("--config={}", conf.display()),
        "--nodaemon".into(),
        "start".into(),
    ];
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    Some(Peer::start(
        "carbon-relay",
        cmd,
        addr,
        root.join("console.log"),
    ))
}

#[test]
fn carbon_relay_forwards_plaintext_as_pickles_that_tally_stores() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(PICKLE));
    let to = d.carbon_pickle.expect("pickle listener logged");
    let Some(_relay) = carbon_relay(&dir, to) else {
        return;
    };
    // 1,200 datapoints: more than one pickle (carbon-relay sends at most 500 a message).
    let now = unix_now() / 10 * 10 - 60;
    let mut lines = String::new();
    let mut want = BTreeMap::new();
    for i in 0..400 {
        for (k, ts) in [(0, now), (1, now + 10), (2, now + 20)] {
            let value = i as f64 * 1.5 + f64::from(k);
            lines.push_str(&format!("relayed.s{i} {value} {ts}\n"));
            *want.entry(format!("relayed.s{i}")).or_insert(0.0) += value;
        }
    }
    lines.push_str("relayed.tagged;rack=a1;dc=eu 7 -1\n");
    let mut s = TcpStream::connect(_relay.addr).unwrap();
    s.write_all(lines.as_bytes()).unwrap();
    drop(s);
    d.wait_render(
        "/render?target=sumSeries(relayed.s*)&from=-10min&format=json",
        |v| points(v, 0).iter().map(|p| p.0).sum::<f64>() == want.values().sum::<f64>(),
    );
    for (path, total) in want.iter().step_by(37) {
        assert_eq!(sum(&d, path), *total, "{path}");
    }
    d.wait_render(
        "/render?target=seriesByTag('name=relayed.tagged')&from=-10min&format=json",
        |v| v[0]["tags"]["dc"] == "eu" && points(v, 0).iter().any(|p| p.0 == 7.0),
    );
    d.wait_render(
        "/render?target=tally.carbon.pickles:sum&from=-10min&format=json",
        |v| points(v, 0).iter().map(|p| p.0).sum::<f64>() >= 3.0,
    );
    assert_eq!(sum(&d, "tally.carbon.bad_pickles:sum"), 0.0);
}

/// Frames written by Python's pickle module in each of its protocols, then a frame that would
/// call `os.system`, one of 12,000 datapoints, then a length over carbon's 1 MiB limit, which
/// closes the connection.
const SENDER: &str = r#"
import pickle, socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
ts = int(sys.argv[2])
def send(payload):
    s.sendall(struct.pack("!L", len(payload)) + payload)
for proto in range(pickle.HIGHEST_PROTOCOL + 1):
    send(pickle.dumps([("py.p%d" % proto, (ts, proto + 0.5)), ("py.all", (ts, 1)), ("py.bad", (None, 1))], protocol=proto))
send(b"cos\nsystem\n(S'touch /tmp/tally-pickle-ran'\ntR.")
send(pickle.dumps([("py.all", (ts, 100))], protocol=2))
many = pickle.dumps([("py.many", (ts, 1))] * 9000 + [("py.many.%d" % i, (ts, i)) for i in range(3000)], protocol=2)
assert 64 * 1024 < len(many) < 1 << 20
send(many)
s.sendall(struct.pack("!L", (1 << 20) + 1))
s.settimeout(20)
sys.stdout.write("closed" if s.recv(1) == b"" else "open")
"#;

#[test]
fn python_pickles_of_every_protocol_are_read_and_code_is_never_run() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(PICKLE));
    let to = d.carbon_pickle.expect("pickle listener logged");
    let ts = unix_now() / 10 * 10 - 30;
    let out = Command::new("python3")
        .args(["-c", SENDER, &to.port().to_string(), &ts.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("python3 (scripts/test.sh installs it)");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "closed",
        "a frame over 1 MiB closes the connection"
    );
    let protocols = 6; // CPython 3.8+: protocols 0–5
    d.wait_render("/render?target=py.all:obvs&from=-10min&format=json", |v| {
        points(v, 0).iter().map(|p| p.0).sum::<f64>() == f64::from(protocols + 1)
    });
    for proto in 0..protocols {
        assert_eq!(
            sum(&d, &format!("py.p{proto}")),
            f64::from(proto) + 0.5,
            "protocol {proto}"
        );
    }
    assert_eq!(sum(&d, "py.all:sum"), f64::from(protocols) + 100.0);
    // A frame over 64 KiB (read in parts) of 12,000 datapoints (sent on in two batches).
    d.wait_render("/render?target=py.many:obvs&from=-10min&format=json", |v| {
        points(v, 0).iter().map(|p| p.0).sum::<f64>() == 9000.0
    });
    d.wait_render(
        "/render?target=sumSeries(py.many.*)&from=-10min&format=json",
        |v| points(v, 0).iter().map(|p| p.0).sum::<f64>() == f64::from(2999 * 3000 / 2),
    );
    assert!(!std::path::Path::new("/tmp/tally-pickle-ran").exists());
    // Two bad frames (the global, the long one); six bad datapoints (`None` timestamps).
    d.wait_render(
        "/render?target=tally.carbon.bad_pickles:sum&from=-10min&format=json",
        |v| points(v, 0).iter().map(|p| p.0).sum::<f64>() == 2.0,
    );
    d.wait_render(
        "/render?target=tally.carbon.bad_lines:sum&from=-10min&format=json",
        |v| points(v, 0).iter().map(|p| p.0).sum::<f64>() == f64::from(protocols),
    );
}
