//! The command line: check, query, and errors that say where.

use crate::util::*;

#[test]
fn check_lists_errors_with_file_line_and_column() {
    let dir = TestDir::new();
    let bad = dir.write("bad.yaml", "http:\n  listen: 127.0.0.1:8080\n  lisen: x\n");
    let out = tally().args(["check", "-c"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:3:3:") && err.contains("unknown field `lisen`"),
        "{err}"
    );

    let invalid = dir.write(
        "invalid.yaml",
        "storage:\n  schemas:\n    - {name: a, pattern: '(', retentions: [10s:1d]}\n    - {name: b, pattern: x, retentions: [10s:1d, 15s:7d]}\n",
    );
    let out = tally()
        .args(["check", "-c"])
        .arg(&invalid)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.contains("invalid.yaml:")).count(),
        2,
        "both errors listed: {err}"
    );

    let good = dir.config("");
    let out = tally().args(["check", "-c"]).arg(&good).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_with_a_bad_config_fails_with_the_reason() {
    let dir = TestDir::new();
    let bad = dir.write("bad.yaml", "data_dir: [1\n");
    let out = tally().args(["run", "-c"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml:"));
}

#[test]
fn query_rejects_a_bad_view_and_time() {
    let dir = TestDir::new();
    let config = dir.config("");
    let out = tally()
        .args(["query", "a", "--view", "median", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a view"));
    let out = tally()
        .args(["query", "a", "--from", "-5m", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));
}

#[test]
fn version_and_help() {
    let out = tally().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tally {}", env!("CARGO_PKG_VERSION"))
    );
    let out = tally().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Examples:"));
}
