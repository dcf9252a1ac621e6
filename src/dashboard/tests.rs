use super::*;

fn parse_ok(text: &str) -> Dashboard {
    parse(text, Path::new("/d/web.yaml"), "h1").unwrap_or_else(|e| panic!("{e}"))
}

fn problems(text: &str) -> Vec<String> {
    match parse(text, Path::new("/d/web.yaml"), "h1") {
        Err(Error::Invalid(p)) => p.iter().map(Problem::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_dashboard_takes_its_defaults_and_the_host() {
    let d = parse_ok(
        "title: Web\nlive: true\nfrom: -6h\npanels:\n  - title: Requests\n    targets: ['web.{host}.req:sumrate']\n  - title: Latency\n    targets: [web.lat:p99]\n    from: -1h\n    live: false\n    height: 300\n",
    );
    assert_eq!(d.name, "web");
    assert_eq!(
        (d.from.as_str(), d.until.as_str(), d.live),
        ("-6h", "now", true)
    );
    assert_eq!(d.panels[0].targets, ["web.h1.req:sumrate"]);
    assert_eq!((d.panels[0].from.as_str(), d.panels[0].live), ("-6h", true));
    assert_eq!(d.panels[0].height, DEFAULT_HEIGHT);
    let p = &d.panels[1];
    assert_eq!((p.from.as_str(), p.live, p.height), ("-1h", false, 300));
}

#[test]
fn problems_name_file_line_and_column() {
    let p = problems(
        "title: Web\npanels:\n  - title: A\n    targets: ['sumSeries(a.b']\n    height: 5\n    from: yesterday-ish\n",
    );
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].starts_with("/d/web.yaml:4:15: target \"sumSeries(a.b\""),
        "{p:?}"
    );
    assert!(p[0].contains("at char"), "{p:?}");
    assert!(p[1].starts_with("/d/web.yaml:5:13: height 5"), "{p:?}");
    assert!(
        p[2].starts_with("/d/web.yaml:6:11: \"yesterday-ish\""),
        "{p:?}"
    );
    let p = problems("title: Web\npanels:\n  - title: A\n    target: [a]\n");
    assert!(p[0].starts_with("/d/web.yaml:4:"), "{p:?}");
    assert!(p[0].contains("target"), "{p:?}");
    let p = problems("title: Web\npanels: []\n");
    assert!(p[0].contains("at least one panel"), "{p:?}");
}

#[test]
fn a_later_directory_replaces_a_dashboard_and_a_bad_file_only_itself() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let one = "title: One\npanels: [{title: x, targets: [a.b]}]\n";
    let two = "title: Two\npanels: [{title: x, targets: [a.b]}]\n";
    std::fs::write(a.path().join("host.yaml"), one).unwrap();
    std::fs::write(a.path().join("other.yaml"), one).unwrap();
    std::fs::write(b.path().join("host.yaml"), two).unwrap();
    std::fs::write(b.path().join("bad.yaml"), "title: [").unwrap();
    std::fs::write(b.path().join("notes.txt"), "not a dashboard").unwrap();
    let dirs = [
        a.path().to_path_buf(),
        b.path().to_path_buf(),
        "/nonexistent".into(),
    ];
    let (ds, errors) = load(&dirs, "h");
    let names: Vec<_> = ds
        .iter()
        .map(|d| (d.name.as_str(), d.title.as_str()))
        .collect();
    assert_eq!(names, [("host", "Two"), ("other", "One")]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("bad.yaml:1:"),
        "{}",
        errors[0]
    );
}

#[test]
fn the_shipped_dashboards_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let (ds, errors) = load(&[dir], "h");
    assert!(errors.is_empty(), "{errors:?}");
    assert!(ds.iter().any(|d| d.name == "host"));
}
