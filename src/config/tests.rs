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
    assert_eq!(sys.interval, 10);
    assert!(sys.collectors.contains(&"cpu".to_string()));
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
