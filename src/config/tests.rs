use super::*;

fn check(yaml: &str) -> Result<Config, Error> {
    parse(yaml, Path::new("t.yaml"))
}

#[test]
fn empty_file_gives_the_defaults() {
    let c = check("").unwrap();
    assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(c.http.unwrap().listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.carbon.unwrap().listen.to_string(), "127.0.0.1:2003");
    assert_eq!(c.storage.schemas.list[0].retentions, "10s:7d,1m:90d,1h:5y");
}

#[test]
fn unknown_keys_are_rejected_with_line_and_column() {
    for (yaml, line) in [
        ("bogus: 1\n", 1),
        ("http:\n  listen: 127.0.0.1:1\n  lisen: x\n", 3),
        (
            "storage:\n  schemas:\n    - name: a\n      pattern: x\n      retentions: [10s:1d]\n      extra: 1\n",
            6,
        ),
        ("inputs:\n  carbon:\n    port: 1\n", 3),
        ("query:\n  nope: 1\n", 2),
    ] {
        let err = check(yaml).unwrap_err();
        let p = &err.problems()[0];
        assert_eq!(p.line, line, "{yaml}: {err}");
        assert!(p.column > 0);
        assert!(err.to_string().starts_with("t.yaml:"), "{err}");
    }
}

#[test]
fn every_validation_error_is_listed_with_its_place() {
    let yaml = "\
http:
  listen: nowhere
storage:
  schemas:
    - name: a
      pattern: '('
      retentions: [10s:1d]
    - name: b
      pattern: '.*'
      retentions: [10s:1d, 15s:7d]
    - name: c
      pattern: '.*'
      retentions: [10x:1d]
inputs:
  carbon:
    kind: histogram
";
    let err = check(yaml).unwrap_err();
    let lines: Vec<u64> = err.problems().iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 6, 8, 13, 16], "{err}");
    let text = err.to_string();
    assert!(text.contains("t.yaml:2:11: bad listen address"), "{text}");
    assert!(text.contains("not a multiple"), "{text}");
    assert!(text.contains("unknown kind"), "{text}");
}

#[test]
fn bad_yaml_is_an_error_not_a_panic() {
    for yaml in [
        "a: [",
        "\t- x",
        "storage: 5",
        "data_dir: [1, 2]",
        "http: {listen: 1: 2}",
    ] {
        assert!(check(yaml).is_err(), "{yaml}");
    }
}

#[test]
fn shipped_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tally.yaml");
    let c = load(&path).unwrap();
    assert!(c.carbon.is_some());
}

#[test]
fn tail_inputs_are_validated() {
    let yaml = "\
hostname: web7
inputs:
  tail:
    - paths: [/var/log/nginx/access.log]
      parsers: [nginx_access]
      prefix: 'web.{host}'
      start_at: beginning
    - paths: [relative.log]
      parsers: []
      start_at: middle
";
    let err = check(yaml).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("t.yaml:8:15: tail path \"relative.log\" must be absolute"),
        "{text}"
    );
    assert!(text.contains("needs at least one parser"), "{text}");
    assert!(text.contains("t.yaml:10:17: start_at \"middle\""), "{text}");
    let ok = check(&yaml.lines().take(7).collect::<Vec<_>>().join("\n")).unwrap();
    assert_eq!(ok.tail[0].prefix, "web.web7");
    assert_eq!(ok.tail[0].start_at, StartAt::Beginning);
    assert_eq!(ok.parser_dirs.len(), 2);
}

#[test]
fn a_path_tailed_twice_is_an_error() {
    let yaml = "inputs:\n  tail:\n    - {paths: [/a.log], parsers: [x]}\n    - {paths: [/a.log], parsers: [y]}\n";
    let err = check(yaml).unwrap_err();
    assert!(
        err.to_string()
            .contains("t.yaml:4:16: \"/a.log\" is tailed twice"),
        "{err}"
    );
}

#[test]
fn system_collectors_default_on_with_diamond_names() {
    let c = check("hostname: web3\n").unwrap();
    let sys = c.system.unwrap();
    assert_eq!(sys.prefix, "servers.web3");
    assert_eq!(sys.interval_ms, 1000);
    assert_eq!(sys.settings.interval_of("cpu"), 1000);
    assert_eq!(sys.settings.interval_of("diskspace"), 10_000);
    assert_eq!(sys.settings.watch_ms["cpu"], 250);
    assert!(sys.settings.collectors.contains(&"cpu".to_string()));
    assert!(
        check("inputs:\n  system:\n    enabled: false\n")
            .unwrap()
            .system
            .is_none()
    );
    let err = check("inputs:\n  system:\n    collectors: [cpu, gpu]\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("t.yaml:3:23: unknown collector \"gpu\""),
        "{err}"
    );
}

#[test]
fn system_collector_options_reach_the_collectors() {
    let yaml = "\
inputs:
  system:
    interval: 10s
    mount_root: /host
    cpu: { percore: false, normalize: true, interval: 5s, watch_interval: 500ms, metrics_blacklist: ['cpu[0-9]+'] }
    loadavg: { simple: true }
    memory: { byte_unit: MB, detailed: true }
    diskspace: { filesystems: [ext4], exclude_filters: ['^/boot'], byte_unit: [GB], labels_dir: '' }
    iostat: { devices: 'nvme', exclude_devices: 'nvme1', sector_size: 4096, send_zero: true }
    network: { interfaces: [wl], greedy: false, byte_unit: [Mbit], watch_interval: 'off' }
    tcp: { allowed_names: [CurrEstab], gauges: [CurrEstab] }
    pressure: { enabled: true, interval: 30s }
    uptime: { enabled: false, metric_name: hours }
    processes: { enabled: true, top: 5 }
";
    let s = check(yaml).unwrap().system.unwrap();
    // Samples every 10 s, cpu every 5 s, pressure every 30 s; diskspace keeps its 10 s.
    assert_eq!(s.interval_ms, 10_000);
    let st = &s.settings;
    assert_eq!(st.interval_of("cpu"), 5000);
    assert_eq!(st.interval_of("pressure"), 30_000);
    assert_eq!(st.interval_of("memory"), 10_000);
    assert_eq!(st.interval_of("diskspace"), 10_000);
    // Faster while watched: cpu at 500 ms, memory at the default 250 ms, network never.
    assert_eq!(st.watch_ms["cpu"], 500);
    assert_eq!(st.watch_ms["memory"], 250);
    assert!(!st.watch_ms.contains_key("network"));
    assert!(st.collectors.contains(&"pressure".to_string()));
    assert!(st.collectors.contains(&"processes".to_string()));
    assert!(!st.collectors.contains(&"uptime".to_string()));
    assert!(!st.cpu.percore && st.cpu.normalize && !st.cpu.simple);
    assert!(st.loadavg.simple);
    assert_eq!(st.filters["cpu"].blacklist, ["cpu[0-9]+"]);
    assert_eq!((st.memory.unit.as_str(), st.memory.detailed), ("MB", true));
    assert_eq!(st.diskspace.filesystems, ["ext4"]);
    assert_eq!(st.diskspace.exclude_filters, ["^/boot"]);
    assert_eq!(st.diskspace.byte_units, ["GB"]);
    assert_eq!(st.diskspace.labels_dir, None);
    assert_eq!(st.diskspace.mount_root, Some(PathBuf::from("/host")));
    assert_eq!(st.iostat.devices, "nvme");
    assert_eq!(st.iostat.exclude_devices.as_deref(), Some("nvme1"));
    assert_eq!((st.iostat.sector_size, st.iostat.send_zero), (4096, true));
    assert_eq!(
        (st.network.interfaces.clone(), st.network.greedy),
        (vec!["wl".to_string()], false)
    );
    assert_eq!(st.network.byte_units, ["Mbit"]);
    assert_eq!(st.tcp.allowed_names, ["CurrEstab"]);
    assert_eq!(st.processes.top, 5);
    assert_eq!(st.uptime.metric_name, "hours");
    // The settings are accepted by the collectors themselves.
    crate::inputs::collect::Collectors::new(st.clone()).unwrap();
}

#[test]
fn system_collector_option_errors_point_at_the_value() {
    let yaml = "\
inputs:
  system:
    iostat: { devices: 'sd(' }
    memory: { byte_unit: parsec }
    cpu: { interval: 0s, metrics_whitelist: ['[x'] }
    network: { watch_interval: 50ms }
    uptime: { metric_name: fortnights }
";
    let err = check(yaml).unwrap_err().to_string();
    assert!(
        err.contains("t.yaml:7:28: uptime.metric_name \"fortnights\" is not a time unit"),
        "{err}"
    );
    assert!(err.contains("t.yaml:3:24: bad regex \"sd(\""), "{err}");
    assert!(
        err.contains("t.yaml:4:26: byte_unit: unknown unit \"parsec\""),
        "{err}"
    );
    assert!(err.contains("t.yaml:5:22: bad duration \"0s\""), "{err}");
    assert!(err.contains("t.yaml:5:46: bad regex \"[x\""), "{err}");
    assert!(
        err.contains("t.yaml:6:32: interval \"50ms\" is under 100ms"),
        "{err}"
    );
}

#[test]
fn statsd_input_and_carbon_output() {
    let c = check("").unwrap();
    assert!(c.statsd.is_none() && c.outputs.is_empty());
    let yaml = "\
inputs:
  statsd:
    listen: 127.0.0.1:9125
    recv_buffer_bytes: 8388608
    management: {}
outputs:
  - type: carbon
    destinations: ['graphite:2003', '127.0.0.1:2103']
    statsd:
      flush_interval: 2s
      legacy_namespace: false
      percent_threshold: [90, -10, 99.9]
      histogram: [{metric: api, bins: [10, 0.5, inf]}]
      delete_idle_stats: true
      delete_gauges: false
  - type: carbon
    name: second
    destinations: ['b:2003']
    statsd: {percent_threshold: 95}
";
    let c = check(yaml).unwrap();
    let s = c.statsd.unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:9125");
    assert_eq!(s.management, Some("127.0.0.1:8126".parse().unwrap()));
    assert!(s.udp && s.tcp);
    assert_eq!(s.recv_buffer_bytes, 8_388_608);
    assert_eq!(c.outputs.len(), 2);
    let Output::Carbon(first) = &c.outputs[0] else {
        panic!("a statsd flush output")
    };
    assert_eq!(first.name, "carbon");
    let f = first.statsd.as_ref().unwrap();
    assert_eq!(f.interval_ms, 2000);
    assert!(!f.legacy_namespace);
    assert_eq!(f.percent_threshold, [90.0, -10.0, 99.9]);
    assert_eq!(
        f.histogram[0].bins,
        [
            crate::inputs::statsd::flush::Bin::Below(10.0),
            crate::inputs::statsd::flush::Bin::Below(0.5),
            crate::inputs::statsd::flush::Bin::Inf
        ]
    );
    assert!(f.delete_counters && f.delete_timers && f.delete_sets && !f.delete_gauges);
    let Output::Carbon(second) = &c.outputs[1] else {
        panic!("a statsd flush output")
    };
    assert_eq!(second.statsd.as_ref().unwrap().percent_threshold, [95.0]);
    assert!(second.statsd.as_ref().unwrap().legacy_namespace);
}

#[test]
fn output_problems_point_at_their_entry() {
    let yaml = "\
outputs:
  - type: carbon
    destinations: ['nohostport']
    statsd: {}
  - type: carbon
    destinations: ['a:1']
    statsd: {percent_threshold: [0]}
";
    let err = check(yaml).unwrap_err();
    let lines: Vec<u64> = err.problems().iter().map(|p| p.line).collect();
    // Unnamed outputs of one type are numbered (carbon, carbon2), so no duplicate name here.
    assert_eq!(lines, vec![2, 5], "{err}");
    assert!(
        err.to_string().contains("destination \"nohostport\""),
        "{err}"
    );
    for yaml in [
        "outputs:\n  - type: carbon\n    destinations: ['a:1']\n    bogus: 1\n",
        "outputs:\n  - type: pigeon\n",
        "inputs:\n  statsd:\n    port: 1\n",
    ] {
        let err = check(yaml).unwrap_err();
        assert!(err.problems()[0].line > 0, "{yaml}: {err}");
    }
}

#[test]
fn token_file_and_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "from-file\n").unwrap();
    let c = check(&format!("http:\n  token_file: {}\n", token.display())).unwrap();
    assert_eq!(c.http.unwrap().token.as_deref(), Some("from-file"));

    let both = check(&format!(
        "http:\n  token: x\n  token_file: {}\n",
        token.display()
    ))
    .unwrap_err();
    assert_eq!(both.problems()[0].line, 3, "{both}");
    assert!(both.to_string().contains("not both"), "{both}");

    let missing = check("http:\n  token_file: /nonexistent/token\n").unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("t.yaml:2:15: cannot read token_file"),
        "{missing}"
    );

    // ${VAR:-default} in a real parse; an unset variable without a default is an error.
    let c = check("hostname: ${TALLY_TEST_SURELY_UNSET_VAR:-from-default}\n").unwrap();
    assert_eq!(c.hostname, "from-default");
    let unset = check("hostname: ${TALLY_TEST_SURELY_UNSET_VAR}\n").unwrap_err();
    assert!(
        unset
            .to_string()
            .contains("t.yaml:1:11: environment variable TALLY_TEST_SURELY_UNSET_VAR is not set"),
        "{unset}"
    );
}

#[test]
fn dashboard_dirs_default_to_the_packaged_and_local_ones() {
    let c = check("hostname: h\n").unwrap();
    assert_eq!(
        c.dashboard_dirs,
        [
            PathBuf::from("/usr/share/tally/dashboards"),
            PathBuf::from("/etc/tally/dashboards.d")
        ]
    );
    // Without a file (a checkout), ./dashboards too.
    assert_eq!(
        defaults().dashboard_dirs.last().unwrap(),
        Path::new("./dashboards")
    );
    let c = check("dashboard_dirs: [/srv/boards]\n").unwrap();
    assert_eq!(c.dashboard_dirs, [PathBuf::from("/srv/boards")]);
}

#[test]
fn http_limits_and_the_loopback_token() {
    let c = check("http:\n  token: t\n  require_token_on_loopback: true\n  max_connections: 7\n  header_timeout: 2s\n  idle_timeout: 500ms\ninputs:\n  carbon:\n    idle_timeout: 3s\nstorage:\n  max_new_series_per_minute: 10\n").unwrap();
    let h = c.http.unwrap();
    assert!(h.require_token_on_loopback);
    assert_eq!(
        (h.max_connections, h.header_timeout_ms, h.idle_timeout_ms),
        (7, 2000, 500)
    );
    assert_eq!(c.carbon.unwrap().idle_timeout_ms, 3000);
    assert_eq!(c.storage.max_new_series_per_minute, 10);
    let err = check("http:\n  require_token_on_loopback: true\n").unwrap_err();
    assert_eq!(err.problems()[0].line, 2, "{err}");
}

#[test]
fn query_tier_choice_is_graphite_unless_asked() {
    use crate::schema::TierChoice;
    assert_eq!(check("").unwrap().query.tier_choice, TierChoice::Graphite);
    let c = check("query:\n  tier_choice: metrictank\n").unwrap();
    assert_eq!(c.query.tier_choice, TierChoice::Metrictank);
    let err = check("query:\n  tier_choice: whisper\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("t.yaml:2:16: tier_choice \"whisper\": expected graphite or metrictank"),
        "{err}"
    );
}
