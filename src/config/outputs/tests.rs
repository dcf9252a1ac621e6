use crate::config::{Output, Spooled, Target, parse};
use std::path::Path;

fn check(yaml: &str) -> Result<crate::config::Config, crate::config::Error> {
    parse(yaml, Path::new("t.yaml"))
}

fn spooled(o: &Output) -> &Spooled {
    o.as_spooled().expect("a spooled output")
}

#[test]
fn the_commented_examples_of_the_default_config_are_valid() {
    let text = std::fs::read_to_string("config/tally.yaml").unwrap();
    let at = text.find("# outputs:").expect("outputs example");
    let block: String = text[at..]
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or("")))
        .collect();
    let c = check(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
    let names: Vec<&str> = c.outputs.iter().map(|o| o.name()).collect();
    assert_eq!(names, ["graphite", "tally", "ring", "remote_write"]);
    assert!(matches!(&c.outputs[0], Output::Carbon(g) if g.statsd.is_some()));
    assert!(
        matches!(&spooled(&c.outputs[2]).target, Target::Carbon { destinations, .. } if destinations[1].instance.as_deref() == Some("b"))
    );
    assert_eq!(spooled(&c.outputs[3]).spool_max_bytes, 1 << 30);
}

#[test]
fn mistakes_are_named_with_their_place() {
    for (yaml, needle, line) in [
        ("outputs:\n  - type: kafka\n", "unknown output type", 2),
        (
            "outputs:\n  - type: carbon\n    destinations: ['a:b']\n",
            "bad destination",
            3,
        ),
        (
            "outputs:\n  - type: tally\n    url: ftp://x\n",
            "http://",
            3,
        ),
        ("outputs:\n  - type: tally\n", "needs url", 2),
        (
            "outputs:\n  - type: tally\n    url: http://x\n    mode: replicate\n",
            "consistent_hash",
            4,
        ),
        (
            "outputs:\n  - type: tally\n    url: http://x\n    labels: { a: b }\n",
            "does not apply",
            2,
        ),
        (
            "outputs:\n  - type: carbon\n    destinations: ['a:1']\n    views: { counter: ['rate=nope'] }\n",
            "suffix=view",
            4,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    spool_max_bytes: 12 potatoes\n",
            "spool_max_bytes",
            4,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    path_label: __p\n",
            "label name",
            4,
        ),
    ] {
        let err = check(yaml).unwrap_err();
        let p = &err.problems()[0];
        assert!(p.message.contains(needle), "{yaml}: {err}");
        assert_eq!(p.line, line, "{yaml}: {err}");
    }
    let err = check("outputs:\n  - { type: tally, url: 'http://a' }\n  - { type: tally, name: tally, url: 'http://b' }\n").unwrap_err();
    assert!(err.to_string().contains("two outputs are named"), "{err}");
}

#[test]
fn unnamed_outputs_of_one_type_are_numbered() {
    let c = check(
        "outputs:\n  - { type: tally, url: 'http://a' }\n  - { type: tally, url: 'http://b' }\n",
    )
    .unwrap();
    assert_eq!(c.outputs[1].name(), "tally2");
    assert_eq!(spooled(&c.outputs[0]).grace, 5);
}

#[test]
fn a_statsd_block_makes_the_etsy_flush_output_and_spool_fields_do_not_apply() {
    let c = check("outputs:\n  - { type: carbon, destinations: ['a:1'] }\n  - { type: carbon, name: s, destinations: ['a:1'], statsd: {} }\n").unwrap();
    assert!(matches!(&c.outputs[0], Output::Spooled(_)));
    assert!(matches!(&c.outputs[1], Output::Carbon(_)));
    let err = check("outputs:\n  - type: carbon\n    destinations: ['a:1']\n    statsd: {}\n    mode: replicate\n").unwrap_err();
    assert!(
        err.to_string().contains("mode does not apply with statsd"),
        "{err}"
    );
    let err =
        check("outputs:\n  - { type: tally, url: 'http://a', queue_lines: 5000 }\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("queue_lines is for a carbon output with statsd"),
        "{err}"
    );
}

#[test]
fn fleet_keys_are_read_and_host_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let yaml = format!(
        "hostname: web4\noutputs:\n  - type: remote_write\n    url: https://prom:9090/api/v1/write\n    prefix: 'servers.{{host}}'\n    labels: {{ job: tally, node: '{{host}}' }}\n    basic_auth: {{ username: u, password_file: '{}' }}\n    headers: {{ X-Scope-OrgID: team-a }}\n    tls: {{ ca_file: '{}', server_name: prom.example }}\n    mappings:\n      - {{ match: 'servers.*.cpu.*.*', name: 'cpu_$3', labels: {{ host: '$1', cpu: '$2' }} }}\n    quantiles: [0.5, 0.999]\n  - type: tally\n    urls: ['http://c1:8080', 'http://c2:8080/']\n    mode: consistent_hash\n  - {{ type: carbon, destinations: ['a:1'], prefix: 'hosts.{{host}}' }}\n",
        pw.display(),
        ca.display()
    );
    let c = check(&yaml).unwrap_or_else(|e| panic!("{e}"));
    let rw = spooled(&c.outputs[0]);
    assert_eq!(rw.self_prefix.as_deref(), None, "the prefix names the host");
    let Target::RemoteWrite {
        naming,
        labels,
        http,
        prometheus,
        mappings,
        quantiles,
        ..
    } = &rw.target
    else {
        panic!("remote_write")
    };
    assert_eq!(naming.prefix, "servers.web4");
    assert_eq!(
        labels,
        &[
            ("job".into(), "tally".into()),
            ("node".into(), "web4".into())
        ]
    );
    assert_eq!(http.basic_auth, Some(("u".into(), "s3cret".into())));
    assert_eq!(http.headers, [("X-Scope-OrgID".into(), "team-a".into())]);
    assert_eq!(http.tls.server_name.as_deref(), Some("prom.example"));
    assert!(*prometheus);
    assert_eq!(mappings.len(), 1);
    assert_eq!(quantiles, &[0.5, 0.999]);
    let Target::Tally { urls, .. } = &spooled(&c.outputs[1]).target else {
        panic!("tally")
    };
    assert_eq!(urls, &["http://c1:8080", "http://c2:8080"]);
    assert_eq!(
        spooled(&c.outputs[1]).self_prefix.as_deref(),
        Some("servers.web4")
    );
    let Target::Carbon { naming, .. } = &spooled(&c.outputs[2]).target else {
        panic!("carbon")
    };
    assert_eq!(naming.prefix, "hosts.web4");
    let c = check("hostname: web5\noutputs:\n  - { type: carbon, destinations: ['a:1'], statsd: { global_prefix: 'stats.{host}' } }\n").unwrap();
    let Output::Carbon(flush) = &c.outputs[0] else {
        panic!("etsy flush")
    };
    assert_eq!(flush.statsd.as_ref().unwrap().global_prefix, "stats.web5");
}

#[test]
fn fleet_key_mistakes_are_named_with_their_place() {
    for (yaml, needle, line, column) in [
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    basic_auth: { username: u }\n",
            "password or password_file",
            4,
            29,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    basic_auth: { username: u, password_file: /nonexistent/pw }\n",
            "password_file \"/nonexistent/pw\"",
            4,
            47,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    tls:\n      ca_file: /nonexistent/ca\n",
            "ca_file",
            5,
            16,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    tls:\n      cert_file: /etc/hostname\n",
            "cert_file and key_file together",
            5,
            18,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    headers:\n      Content-Type: x\n",
            "set by tally",
            5,
            21,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    mappings:\n      - match: 'a.*'\n        name: 'x_$2'\n",
            "captures 1",
            5,
            16,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    naming: statsd\n",
            "expected prometheus or views",
            4,
            13,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    quantiles: [0.5, 99]\n",
            "quantiles",
            4,
            16,
        ),
        (
            "outputs:\n  - type: tally\n    urls: ['http://a', 'http://a']\n",
            "listed twice",
            3,
            24,
        ),
        (
            "outputs:\n  - type: carbon\n    destinations: ['a:1']\n    tls: { ca_file: x }\n",
            "tls does not apply",
            2,
            11,
        ),
        (
            "outputs:\n  - type: tally\n    url: http://x\n    token_file: /nonexistent/token\n",
            "cannot read token_file /nonexistent/token",
            4,
            17,
        ),
        (
            "outputs:\n  - type: remote_write\n    url: http://x\n    token: a\n    token_file: /etc/hostname\n",
            "either token or token_file",
            5,
            17,
        ),
        (
            "outputs:\n  - type: carbon\n    destinations: ['a:1']\n    token_file: /etc/hostname\n",
            "token_file does not apply",
            2,
            11,
        ),
    ] {
        let err = check(yaml).unwrap_err();
        let p = &err.problems()[0];
        assert!(p.message.contains(needle), "{yaml}: {err}");
        assert_eq!((p.line, p.column), (line, column), "{yaml}: {err}");
    }
}

/// `token_file` is the token's first line, for `tally` and `remote_write` outputs alike, read
/// each time the config is (start, `tally check`, reload).
#[test]
fn token_file_gives_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("token");
    std::fs::write(&f, "s3cret\nignored\n").unwrap();
    let yaml = format!(
        "outputs:\n  - {{ type: tally, url: 'http://c:8080', token_file: '{0}' }}\n  - {{ type: remote_write, url: 'http://p/api/v1/write', token_file: '{0}' }}\n",
        f.display()
    );
    let c = check(&yaml).unwrap_or_else(|e| panic!("{e}"));
    let Target::Tally { token, .. } = &spooled(&c.outputs[0]).target else {
        panic!("tally")
    };
    assert_eq!(token.as_deref(), Some("s3cret"));
    let Target::RemoteWrite { token, .. } = &spooled(&c.outputs[1]).target else {
        panic!("remote_write")
    };
    assert_eq!(token.as_deref(), Some("s3cret"));
    std::fs::write(&f, "\n").unwrap();
    let err = check(&yaml).unwrap_err().to_string();
    assert!(err.contains("the file is empty"), "{err}");
    // basic_auth with token_file is refused like with token.
    let yaml = format!(
        "outputs:\n  - type: tally\n    url: 'http://c'\n    token_file: '{}'\n    basic_auth: {{ username: u, password: p }}\n",
        f.display()
    );
    assert!(
        check(&yaml)
            .unwrap_err()
            .to_string()
            .contains("token or basic_auth")
    );
}
