//! Helpers for the collector tests, and the tests across collectors: missing files, elapsed time
//! across a failed round, filters, settings errors, and one round on this machine's real /proc.
//!
//! Fixtures are under tests/data/proc (see its README): `t0` and `t1` are this project's own
//! captures of a machine's /proc, 10.02 s apart, with the edits the README lists.

use super::*;
use std::collections::{BTreeMap, BTreeSet};

pub(super) const NOW: i64 = 1_700_000_000;

pub(super) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/proc")
        .join(name)
}

/// Runs one round per `(fixture, elapsed)` and returns the last round's observations.
pub(super) fn run_rounds(mut settings: Settings, rounds: &[(&str, f64)]) -> Vec<Observation> {
    settings.proc_root = fixture(rounds[0].0);
    let mut c = Collectors::new(settings).expect("valid settings");
    let mut last = Vec::new();
    for (i, &(dir, elapsed)) in rounds.iter().enumerate() {
        c.set_proc_root(&fixture(dir));
        last = c.collect(NOW + 10 * i as i64, elapsed);
    }
    last
}

/// A round on `first`, then optionally a round on `second` `elapsed` seconds later.
pub(super) fn run_two(
    settings: Settings,
    first: &str,
    second: Option<(&str, f64)>,
) -> Vec<Observation> {
    match second {
        None => run_rounds(settings, &[(first, 0.0)]),
        Some((second, elapsed)) => run_rounds(settings, &[(first, 0.0), (second, elapsed)]),
    }
}

/// The collected metrics by name, without the `tally.collect.*` self-metrics. Each name appears
/// once, as a gauge stamped with the round's time.
pub(super) fn values(obs: &[Observation]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for o in obs
        .iter()
        .filter(|o| !o.series.as_str().starts_with("tally."))
    {
        assert_eq!(o.kind, Kind::Gauge, "{o:?}");
        assert!(o.time >= NOW, "{o:?}");
        let dup = out.insert(o.series.as_str().to_string(), o.value);
        assert!(dup.is_none(), "published twice: {o:?}");
    }
    out
}

/// Names of the `tally.collect.<name>.errors` series in `obs`.
pub(super) fn errors(obs: &[Observation]) -> Vec<String> {
    obs.iter()
        .filter(|o| o.series.as_str().ends_with(".errors"))
        .map(|o| {
            assert_eq!((o.kind, o.value), (Kind::Counter, 1.0), "{o:?}");
            o.series.as_str().to_string()
        })
        .collect()
}

/// What `f` publishes through an emitter for collector path `path`.
pub(super) fn emit(path: &str, f: impl FnOnce(&mut Emitter<'_>)) -> Vec<Observation> {
    let mut out = Vec::new();
    let filter = Filter::new(path, None).unwrap();
    let (mut name, mut names) = (String::new(), Names::default());
    let prefix_path = ("servers.localhost.", path);
    let stamp = Stamp::single(NOW);
    let mut em = Emitter::new(&mut out, &mut name, prefix_path, stamp, &filter, &mut names);
    f(&mut em);
    out
}

fn only(names: &[&str]) -> Settings {
    Settings {
        collectors: names.iter().map(|s| s.to_string()).collect(),
        ..Settings::default()
    }
}

#[test]
fn missing_files_fail_only_their_collector() {
    // `partial` has only stat, loadavg and uptime.
    let all = only(&ALL);
    let obs = run_rounds(all, &[("partial", 0.0)]);
    let failed: BTreeSet<String> = errors(&obs).into_iter().collect();
    let want: BTreeSet<String> = [
        "memory",
        "vmstat",
        "diskspace",
        "iostat",
        "network",
        "sockets",
        "tcp",
        "pressure",
    ]
    .iter()
    .map(|n| format!("tally.collect.{n}.errors"))
    .collect();
    assert_eq!(failed, want);
    let v = values(&obs);
    assert_eq!(v["servers.localhost.cpu.cpu_count"], 2.0);
    assert_eq!(v["servers.localhost.loadavg.01"], 0.64);
    assert!(v.contains_key("servers.localhost.uptime.minutes"));
    // `processes` found no pid directories: zero processes, no error.
    assert_eq!(v["servers.localhost.processes.total"], 0.0);
    // Every collector reports its run time, failed or not.
    for name in ALL {
        let ms: Vec<_> = obs
            .iter()
            .filter(|o| o.series.as_str() == format!("tally.collect.{name}.ms"))
            .collect();
        assert_eq!(ms.len(), 1, "{name}");
        assert_eq!(ms[0].kind, Kind::Gauge);
        assert!(ms[0].value >= 0.0 && ms[0].value < 1000.0);
    }
    // The same collectors work again once the files are there.
    let obs = run_rounds(only(&ALL), &[("partial", 0.0), ("t0", 10.0)]);
    assert!(errors(&obs).is_empty(), "{:?}", errors(&obs));
}

/// A failed round does not lose time: t0, a round without /proc/vmstat, then t1 — the rate is over
/// the 20 s since t0 (by hand: pgfault (158724963 − 158720654) / 20 = 215.45).
#[test]
fn rates_span_a_failed_round() {
    let obs = run_rounds(
        only(&["vmstat"]),
        &[("t0", 0.0), ("gone", 10.0), ("t1", 10.0)],
    );
    let v = values(&obs);
    assert!((v["servers.localhost.vmstat.pgfault"] - 215.45).abs() < 1e-9);
}

#[test]
fn first_round_elapsed_is_ignored_and_zero_elapsed_gives_no_rates() {
    let v = values(&run_rounds(only(&["vmstat"]), &[("t0", 300.0)]));
    assert!(v.is_empty());
    let v = values(&run_rounds(only(&["vmstat"]), &[("t0", 0.0), ("t1", 0.0)]));
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn whitelist_and_blacklist_match_the_short_name_at_its_start() {
    let mut s = only(&["cpu", "memory"]);
    s.filters.insert(
        "cpu".into(),
        MetricFilter {
            whitelist: vec!["total\\.".into(), "cpu_count".into()],
            blacklist: vec!["total\\.guest".into()],
        },
    );
    s.filters.insert(
        "memory".into(),
        MetricFilter {
            whitelist: vec![],
            blacklist: vec!["Swap".into(), "Free".into()],
        },
    );
    let v = values(&run_two(s, "t0", Some(("t1", 10.0))));
    let cpu: Vec<&str> = v
        .keys()
        .filter_map(|k| k.strip_prefix("servers.localhost.cpu."))
        .collect();
    assert_eq!(
        cpu,
        [
            "cpu_count",
            "total.idle",
            "total.iowait",
            "total.irq",
            "total.nice",
            "total.softirq",
            "total.steal",
            "total.system",
            "total.user"
        ]
    );
    assert!(!v.keys().any(|k| k.contains(".memory.Swap")));
    // Anchored at the start: `MemFree` stays, only names starting with `Free` would go.
    assert!(v.contains_key("servers.localhost.memory.MemFree"));
}

#[test]
fn prefix_forms() {
    let mut s = only(&["uptime"]);
    s.prefix = String::new();
    assert!(values(&run_two(s, "t0", None)).contains_key("uptime.minutes"));
    let mut s = only(&["uptime"]);
    s.prefix = "servers.web1.".into();
    assert!(values(&run_two(s, "t0", None)).contains_key("servers.web1.uptime.minutes"));
}

#[test]
fn bad_settings_are_refused() {
    let err = |s: Settings| Collectors::new(s).err().expect("refused").to_string();
    assert!(err(only(&["cpu", "disk"])).contains("unknown collector \"disk\""));
    let mut s = only(&["iostat"]);
    s.iostat.devices = "sd[".into();
    assert!(err(s).starts_with("iostat.devices: bad regex"));
    let mut s = only(&["network"]);
    s.network.byte_units = vec!["octet".into()];
    assert!(err(s).contains("unknown unit \"octet\""));
    let mut s = only(&["cpu"]);
    s.filters.insert(
        "cpu".into(),
        MetricFilter {
            whitelist: vec!["(".into()],
            blacklist: vec![],
        },
    );
    assert!(err(s).starts_with("cpu.metrics_whitelist: bad regex"));
}

#[test]
fn diamond_wrap_rule() {
    assert_eq!(delta(5, 7, u64::MAX), 2.0);
    // 2^64 − 6 → 4: 4 − ((2^64 − 6) − (2^64 − 1)) = 9.
    assert_eq!(delta(u64::MAX - 5, 4, u64::MAX), 9.0);
    assert_eq!(delta(4_294_967_290, 10, 4_294_967_295), 15.0);
    // No wrap point: a decrease is 0.
    assert_eq!(delta(100, 90, 0), 0.0);
    // A 64-bit counter that went backwards far below a 32-bit wrap point: negative, so 0.
    assert_eq!(delta(1 << 40, 3, 4_294_967_295), 0.0);
}

#[test]
fn units_are_binary_with_diamond_spellings() {
    let u = |n: &str| Unit::parse(n, "t").unwrap();
    assert_eq!(u("byte").convert_bytes(1024.0), 1024.0);
    assert_eq!(u("bit").convert_bytes(1.0), 8.0);
    assert_eq!(u("kB").convert_bytes(2048.0), 2.0);
    assert_eq!(u("MiB").convert_bytes(1048576.0), 1.0);
    assert_eq!(u("megabit").convert_bytes(131072.0), 1.0);
    assert_eq!(u("GB").convert_bytes(1073741824.0), 1.0);
    assert_eq!(u("Mbyte").name, "Mbyte");
    assert!(Unit::parse("kb", "t").is_err());
}

#[test]
fn node_sanitizing() {
    assert_eq!(node("MemFree"), "MemFree");
    assert_eq!(node("Active(anon)"), "Active_anon");
    assert_eq!(node("my disk"), "my_disk");
}

/// One round after another on this machine's /proc with the default settings: every default
/// collector publishes the names Diamond would, and none fails.
#[test]
fn real_proc_default_collectors() {
    let mut settings = Settings {
        prefix: "servers.test".into(),
        ..Settings::default()
    };
    // A labelled root filesystem would be named by its label; this test expects `root`.
    settings.diskspace.labels_dir = None;
    let mut c = Collectors::new(settings).unwrap();
    assert_eq!(c.names().collect::<Vec<_>>(), DEFAULT_COLLECTORS);
    let first = c.collect(NOW, 0.0);
    assert!(errors(&first).is_empty(), "{:?}", errors(&first));
    std::thread::sleep(Duration::from_millis(200));
    let obs = c.collect(NOW + 1, 0.2);
    assert!(errors(&obs).is_empty(), "{:?}", errors(&obs));
    let v = values(&obs);
    let has = |name: &str| v.contains_key(&format!("servers.test.{name}"));
    let missing =
        |names: &[String]| -> Vec<String> { names.iter().filter(|n| !has(n)).cloned().collect() };

    // cpu: cpu_count, and all ten fields for total and each core (kernels since 2.6.33).
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cores: Vec<&str> = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(v["servers.test.cpu.cpu_count"], cores.len() as f64);
    let fields = [
        "user",
        "nice",
        "system",
        "idle",
        "iowait",
        "irq",
        "softirq",
        "steal",
        "guest",
        "guest_nice",
    ];
    let mut want = vec![];
    for cpu in cores.iter().copied().chain(["total"]) {
        want.extend(fields.iter().map(|f| format!("cpu.{cpu}.{f}")));
    }
    // memory
    want.extend(
        [
            "MemTotal",
            "MemFree",
            "MemAvailable",
            "Buffers",
            "Cached",
            "Active",
            "Dirty",
            "Inactive",
            "Shmem",
            "SwapTotal",
            "SwapFree",
            "SwapCached",
            "VmallocTotal",
            "VmallocUsed",
            "VmallocChunk",
            "Committed_AS",
            "MemUsedPercentage",
        ]
        .iter()
        .map(|k| format!("memory.{k}")),
    );
    want.extend(
        [
            "01",
            "05",
            "15",
            "01_normalized",
            "05_normalized",
            "15_normalized",
            "processes_running",
            "processes_total",
        ]
        .iter()
        .map(|k| format!("loadavg.{k}")),
    );
    want.extend(
        [
            "pgfault",
            "pgmajfault",
            "pgpgin",
            "pgpgout",
            "pswpin",
            "pswpout",
        ]
        .iter()
        .map(|k| format!("vmstat.{k}")),
    );
    want.extend(
        [
            "used",
            "tcp_inuse",
            "tcp_orphan",
            "tcp_tw",
            "tcp_alloc",
            "tcp_mem",
            "udp_inuse",
            "udp_mem",
        ]
        .iter()
        .map(|k| format!("sockets.{k}")),
    );
    // tcp: the default names every kernel since 4.x still has (TCPLoss and TCPForwardRetrans
    // were removed from netstat).
    want.extend(
        [
            "ListenOverflows",
            "ListenDrops",
            "TCPTimeouts",
            "TCPFastRetrans",
            "TCPLostRetransmit",
            "TCPSlowStartRetrans",
            "CurrEstab",
            "TCPAbortOnMemory",
            "TCPBacklogDrop",
            "AttemptFails",
            "EstabResets",
            "InErrs",
            "ActiveOpens",
            "PassiveOpens",
        ]
        .iter()
        .map(|k| format!("tcp.{k}")),
    );
    want.push("uptime.minutes".into());
    // network: every interface /proc/net/dev lists under a default prefix, all 18 names.
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    let prefixes = ["eth", "bond", "em", "p1p", "eno", "enp", "ens", "enx"];
    for line in dev.lines().skip(2) {
        let name = line.split(':').next().unwrap().trim();
        if prefixes.iter().any(|p| name.starts_with(p)) {
            for f in [
                "rx_bit",
                "rx_byte",
                "tx_bit",
                "tx_byte",
                "rx_packets",
                "rx_errors",
                "rx_drop",
                "rx_fifo",
                "rx_frame",
                "rx_compressed",
                "rx_multicast",
                "tx_packets",
                "tx_errors",
                "tx_drop",
                "tx_fifo",
                "tx_colls",
                "tx_carrier",
                "tx_compressed",
            ] {
                want.push(format!("network.{name}.{f}"));
            }
        }
    }
    // diskspace: `/` when it is a filesystem of a default type on a real device.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let root_fs = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"/") && f[0].contains('/')).then(|| f[2].to_string())
    });
    let types = DiskSpaceOptions::default().filesystems;
    if root_fs.is_some_and(|t| types.contains(&t)) {
        for k in [
            "byte_percentfree",
            "byte_used",
            "byte_free",
            "byte_avail",
            "inodes_used",
            "inodes_free",
            "inodes_avail",
        ] {
            want.push(format!("diskspace.root.{k}"));
        }
    }
    assert_eq!(missing(&want), Vec::<String>::new());

    // iostat devices appear only when they did I/O in the interval; whatever appears is named
    // like Diamond's.
    let iostat_metrics = [
        "reads",
        "reads_merged",
        "reads_milliseconds",
        "writes",
        "writes_merged",
        "writes_milliseconds",
        "io_in_progress",
        "io_milliseconds",
        "io_milliseconds_weighted",
        "reads_byte",
        "writes_byte",
        "read_byte_per_second",
        "write_byte_per_second",
        "average_request_size_byte",
        "read_requests_merged_per_second",
        "write_requests_merged_per_second",
        "reads_per_second",
        "writes_per_second",
        "io",
        "iops",
        "average_queue_length",
        "util_percentage",
        "read_await",
        "write_await",
        "await",
        "service_time",
        "concurrent_io",
    ];
    for k in v.keys() {
        let short = k.strip_prefix("servers.test.").unwrap();
        let (collector, rest) = short.split_once('.').unwrap();
        assert!(DEFAULT_COLLECTORS.contains(&collector), "{k}");
        if collector == "iostat" {
            let metric = rest.rsplit('.').next().unwrap();
            assert!(iostat_metrics.contains(&metric), "{k}");
        }
    }
    for name in DEFAULT_COLLECTORS {
        assert_eq!(
            obs.iter()
                .filter(|o| o.series.as_str() == format!("tally.collect.{name}.ms"))
                .count(),
            1
        );
    }
}

#[test]
fn collectors_can_move_to_a_collection_thread() {
    fn send<T: Send + 'static>() {}
    send::<Collectors>();
}

/// `collect_due`: a collector with its own interval runs on the first round and then on the
/// wall-clock multiples of its interval; its rates span the real time since its own previous run
/// (vmstat every 10 s while loadavg runs every second: 20 s between t0 and t1).
#[test]
fn collectors_run_on_their_own_intervals() {
    let mut s = Settings {
        collectors: vec!["loadavg".into(), "vmstat".into()],
        ..Settings::default()
    };
    s.intervals_ms.insert("vmstat".into(), 10_000);
    s.proc_root = fixture("t0");
    let mut c = Collectors::new(s).unwrap();
    let never = |_: &str| false;
    let start = NOW * 1000;
    assert_eq!(ran(&c.collect_due(start, 0.0, &never)), both());
    // loadavg is due on the next whole second, vmstat on the next multiple of 10 s.
    assert_eq!(c.next_due_ms(start), Some(start + 1000));
    for i in 1..20 {
        let obs = c.collect_due(start + i * 1000, 1.0, &never);
        let want = if i == 10 { both() } else { one("loadavg") };
        assert_eq!(ran(&obs), want, "round {i}");
    }
    c.set_proc_root(&fixture("t1"));
    let third = c.collect_due(start + 20_000, 1.0, &never);
    assert_eq!(ran(&third), both());
    let v = values(&third);
    let t0 = vmstat_field("t0", "pgfault");
    let t1 = vmstat_field("t1", "pgfault");
    let got = v["servers.localhost.vmstat.pgfault"];
    assert!((got - (t1 - t0) as f64 / 10.0).abs() < 1e-9, "{got}");
}

fn ran(obs: &[Observation]) -> BTreeSet<String> {
    obs.iter()
        .filter_map(|o| o.series.as_str().strip_prefix("tally.collect."))
        .filter_map(|n| n.strip_suffix(".ms"))
        .map(str::to_string)
        .collect()
}

fn both() -> BTreeSet<String> {
    ["loadavg", "vmstat"].map(String::from).into()
}

fn one(name: &str) -> BTreeSet<String> {
    [name.to_string()].into()
}

fn vmstat_field(dir: &str, name: &str) -> u64 {
    let text = std::fs::read_to_string(fixture(dir).join("vmstat")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap()
}
