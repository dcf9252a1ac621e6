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
