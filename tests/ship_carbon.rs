//! The carbon output against real carbon-caches (Debian graphite-carbon): the consistent-hash
//! ring puts each path on the carbon-cache carbon's own ring names, the Whisper files read
//! back with `whisper-fetch` hold tally's numbers, in `replicate` mode a cache that hung under
//! load, while tally was `kill -9`ed, still gets every point, and in `failover` mode the
//! secondary takes every point while the primary hangs.
//!
//! The outages freeze a carbon-cache (SIGSTOP/SIGCONT) rather than stop it: carbon-cache 1.1.7
//! itself loses the points it took in the last second before a SIGTERM (its writer thread
//! drains the cache once a second and leaves at shutdown without a last drain: a line sent,
//! the connection closed by carbon, then SIGTERM, is not in the Whisper file after a restart,
//! in 5 of 5 tries), which no sender can see. A frozen cache is the harder case for tally
//! anyway: connections are accepted and written to, and only the timeout tells.

use crate::ship::{feeder, host_config, render, totals, wait_fed_stored};
use crate::util::peers::{Peer, free_port, require, wait_until};
use crate::util::{Daemon, TestDir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Cache {
    peer: Peer,
    whisper: PathBuf,
    instance: &'static str,
}

/// One carbon-cache instance with 1-second Whisper files, its own data directory and ports.
fn carbon_cache(dir: &TestDir, instance: &'static str) -> Option<Cache> {
    let bin = require("carbon-cache")?;
    require("whisper-fetch")?;
    let root = dir.path().join(format!("carbon-{instance}"));
    let conf = root.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    let whisper = root.join("whisper");
    let port = free_port();
    let text = format!(
        "[cache]\nSTORAGE_DIR = {root}\nLOCAL_DATA_DIR = {whisper}\nLOG_DIR = {root}/log\nPID_DIR = {root}\nUSER =\nENABLE_TAGS = False\nMAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = 100000\nMAX_CREATES_PER_MINUTE = inf\nLINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {port}\nENABLE_UDP_LISTENER = False\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\nPICKLE_RECEIVER_PORT = {}\nCACHE_QUERY_INTERFACE = 127.0.0.1\nCACHE_QUERY_PORT = {}\n",
        free_port(),
        free_port(),
        root = root.display(),
        whisper = whisper.display(),
    );
    std::fs::write(conf.join("carbon.conf"), text).unwrap();
    std::fs::write(
        conf.join("storage-schemas.conf"),
        "[all]\npattern = .*\nretentions = 1s:1h\n",
    )
    .unwrap();
    let cmd = vec![
        bin.display().to_string(),
        format!("--config={}", conf.join("carbon.conf").display()),
        format!("--instance={instance}"),
        "--nodaemon".into(),
        "start".into(),
    ];
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = root.join("console.log");
    Some(Cache {
        peer: Peer::start("carbon-cache", cmd, addr, log),
        whisper,
        instance,
    })
}

fn wsp(cache: &Cache, path: &str) -> PathBuf {
    cache
        .whisper
        .join(format!("{}.wsp", path.replace('.', "/")))
}

/// Every non-null `(ts, value)` of a Whisper file, via `whisper-fetch --json`.
fn whisper_fetch(file: &Path) -> BTreeMap<i64, f64> {
    let from = crate::util::unix_now() - 1800;
    let out = Command::new("whisper-fetch")
        .args(["--json", &format!("--from={from}")])
        .arg(file)
        .output()
        .expect("run whisper-fetch");
    if !out.status.success() {
        return BTreeMap::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("whisper-fetch json");
    let (start, step) = (v["start"].as_i64().unwrap(), v["step"].as_i64().unwrap());
    v["values"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter_map(|(i, x)| Some((start + i as i64 * step, x.as_f64()?)))
        .collect()
}

/// Which node carbon's own ConsistentHashRing picks for each path (live, with carbon's code).
fn carbon_ring(nodes: &[(&str, &str)], paths: &[String]) -> Vec<String> {
    let nodes: Vec<String> = nodes
        .iter()
        .map(|(h, i)| format!("('{h}', '{i}')"))
        .collect();
    let script = format!(
        "from carbon.hashing import ConsistentHashRing\nr = ConsistentHashRing([{}])\nimport sys\nfor p in sys.argv[1:]:\n    print(r.get_node(p)[1])\n",
        nodes.join(", ")
    );
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(paths)
        .output()
        .expect("python3 with carbon");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn tally_view(host: &Daemon, target: &str) -> BTreeMap<i64, f64> {
    render(host.http, target, "-15min")
        .into_iter()
        .map(|(v, t)| (t, v))
        .collect()
}

#[test]
fn carbon_caches_on_the_ring_hold_tallys_numbers() {
    let dir = TestDir::new();
    let (Some(a), Some(b)) = (carbon_cache(&dir, "a"), carbon_cache(&dir, "b")) else {
        return;
    };
    let caches = [&a, &b];
    let output = format!(
        "  - {{ type: carbon, destinations: ['127.0.0.1:{}:a', '127.0.0.1:{}:b'], mode: consistent_hash, grace: 1s, include: [ship], timeout: 3s }}\n",
        a.peer.addr.port(),
        b.peer.addr.port()
    );
    let host = Daemon::start(&host_config(&dir, &output));
    let names: Vec<String> = (0..6).map(|i| format!("ship.c{i}")).collect();
    for round in 0..4 {
        let lines: String = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "{n} {} -1\n{n} {} -1\n",
                    i + round,
                    (i * round) as f64 / 4.0
                )
            })
            .collect();
        host.send_carbon(&lines);
        std::thread::sleep(Duration::from_millis(700));
    }
    let mut checks = Vec::new();
    for name in &names {
        for (suffix, view) in [("mean", "avg"), ("upper", "max"), ("count", "obvs")] {
            checks.push((format!("{name}.{suffix}"), format!("{name}:{view}")));
        }
    }
    let paths: Vec<String> = checks.iter().map(|c| c.0.clone()).collect();
    let owners = carbon_ring(&[("127.0.0.1", "a"), ("127.0.0.1", "b")], &paths);
    assert!(
        owners.iter().any(|o| o == "a") && owners.iter().any(|o| o == "b"),
        "{owners:?}"
    );
    for ((path, view), owner) in checks.iter().zip(&owners) {
        let (mine, other) = if caches[0].instance == owner {
            (caches[0], caches[1])
        } else {
            (caches[1], caches[0])
        };
        let want = tally_view(&host, view);
        assert!(!want.is_empty(), "tally has {view}");
        wait_until(
            &format!("{path} in the whisper files of {}", mine.instance),
            Duration::from_secs(20),
            || whisper_fetch(&wsp(mine, path)) == want,
        );
        assert!(!wsp(other, path).exists(), "{path} only on its node");
    }
}

#[test]
fn replicated_carbon_outage_and_kill9_lose_nothing() {
    let dir = TestDir::new();
    let (Some(a), Some(b)) = (carbon_cache(&dir, "a"), carbon_cache(&dir, "b")) else {
        return;
    };
    let output = format!(
        "  - {{ type: carbon, destinations: ['127.0.0.1:{}', '127.0.0.1:{}'], mode: replicate, grace: 1s, include: [ship], timeout: 2s, views: {{ timer: ['count=obvs', 'sum=sum'] }} }}\n",
        a.peer.addr.port(),
        b.peer.addr.port()
    );
    let cfg = host_config(&dir, &output);
    let mut host = Daemon::start(&cfg);
    let to = Arc::new(Mutex::new(host.carbon));
    let stop = Arc::new(AtomicBool::new(false));
    let feed = feeder(
        "ship.k",
        to.clone(),
        stop.clone(),
        Duration::from_millis(40),
    );
    std::thread::sleep(Duration::from_secs(2));
    b.peer.freeze();
    assert!(
        host.wait_log("Delivery failed; will retry.", Duration::from_secs(30))
            .is_some()
    );
    std::thread::sleep(Duration::from_secs(1));
    host.kill9();
    host = Daemon::start(&cfg);
    let before = totals(host.http, "ship.k").0;
    *to.lock().unwrap() = host.carbon;
    std::thread::sleep(Duration::from_secs(2));
    b.peer.thaw();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let fed = feed.join().unwrap();
    wait_fed_stored(&host, "ship.k", before, &fed);
    let want = tally_view(&host, "ship.k:obvs");
    assert!(want.len() >= 5, "{want:?}");
    // The sender's retry backoff doubles up to 30 s while b hangs: wait past the longest step.
    for cache in [&a, &b] {
        wait_until(
            &format!("every point on {}", cache.instance),
            Duration::from_secs(90),
            || whisper_fetch(&wsp(cache, "ship.k.count")) == want,
        );
    }
}

#[test]
fn failover_to_the_secondary_while_the_primary_hangs_loses_nothing() {
    let dir = TestDir::new();
    let (Some(a), Some(b)) = (carbon_cache(&dir, "a"), carbon_cache(&dir, "b")) else {
        return;
    };
    let output = format!(
        "  - {{ type: carbon, destinations: ['127.0.0.1:{}', '127.0.0.1:{}'], mode: failover, grace: 1s, include: [ship], timeout: 2s, views: {{ timer: ['count=obvs'] }} }}\n",
        a.peer.addr.port(),
        b.peer.addr.port()
    );
    let cfg = host_config(&dir, &output);
    let mut host = Daemon::start(&cfg);
    let to = Arc::new(Mutex::new(host.carbon));
    let stop = Arc::new(AtomicBool::new(false));
    let feed = feeder(
        "ship.f",
        to.clone(),
        stop.clone(),
        Duration::from_millis(40),
    );
    std::thread::sleep(Duration::from_secs(3));
    // The primary has its start before it hangs: a point older than the freeze by 2 s or more
    // (a fixed 3 s was too short when the first delivery was late on a loaded machine).
    wait_until(
        "the primary has a first point",
        Duration::from_secs(30),
        || !whisper_fetch(&wsp(&a, "ship.f.count")).is_empty(),
    );
    let first = *whisper_fetch(&wsp(&a, "ship.f.count"))
        .keys()
        .next()
        .unwrap();
    while crate::util::unix_now() < first + 3 {
        std::thread::sleep(Duration::from_millis(100));
    }
    a.peer.freeze();
    let stopped = crate::util::unix_now();
    // Each batch now waits for the timeout (2 s) on the primary before the secondary gets it.
    std::thread::sleep(Duration::from_secs(5));
    // kill -9 while the primary hangs: what was spooled goes to the secondary after the
    // restart.
    host.kill9();
    host = Daemon::start(&cfg);
    let before = totals(host.http, "ship.f").0;
    *to.lock().unwrap() = host.carbon;
    std::thread::sleep(Duration::from_secs(4));
    a.peer.thaw();
    let back = crate::util::unix_now();
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let fed = feed.join().unwrap();
    wait_fed_stored(&host, "ship.f", before, &fed);
    let want = tally_view(&host, "ship.f:obvs");
    assert!(want.len() >= 8, "{want:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let (on_a, on_b) = loop {
        let on_a = whisper_fetch(&wsp(&a, "ship.f.count"));
        let on_b = whisper_fetch(&wsp(&b, "ship.f.count"));
        let missing: Vec<_> = want
            .iter()
            .filter(|(t, v)| on_a.get(t) != Some(v) && on_b.get(t) != Some(v))
            .collect();
        if missing.is_empty() {
            break (on_a, on_b);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing on both {missing:?} (stopped {stopped}, back {back}); a {on_a:?}; b {on_b:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        on_b.keys().any(|&t| t >= stopped - 1),
        "the secondary took over: {on_b:?}"
    );
    assert!(
        on_a.keys().any(|&t| t < stopped - 2),
        "the primary had the start: {on_a:?}"
    );
    wait_until("back on the primary", Duration::from_secs(60), || {
        whisper_fetch(&wsp(&a, "ship.f.count"))
            .keys()
            .any(|&t| t >= back)
    });
}
