//! The aggregation loop goes on folding while a commit is written: with a commit held on its
//! way to the store (`TALLY_TEST_HOLD_COMMIT`, src/agent/pipeline/commit.rs; the `test-hooks`
//! feature, on in test builds), lines tailed meanwhile reach a live stream at once, and once
//! the commit lands everything is stored once and the cursors are exact across a `kill -9`.

use crate::live::{Model, open};
use crate::util::peers::wait_until;
use crate::util::*;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn config(dir: &TestDir, log: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.path().join("parsers")).unwrap();
    dir.write(
        "parsers/hits.yaml",
        "name: hits\nrules:\n  - regex: '^hit (?P<n>\\d+)'\n    metrics:\n      - { name: hits, type: counter, value: n }\n",
    );
    dir.config(&format!(
        "  tail:\n    - paths: [{}]\n      parsers: [hits]\n      prefix: app\n      start_at: beginning\nparser_dirs: [{}]\nstorage:\n  commit_interval: 200ms\n",
        log.display(),
        dir.path().join("parsers").display()
    ))
}

/// `app.hits` as stored: (observations, sum) over the last hour.
fn stored(d: &Daemon) -> (f64, f64) {
    let total = |view: &str| -> f64 {
        let v = d.get_json(&format!(
            "/render?target=app.hits:{view}&from=-1h&until=now"
        ));
        points(&v, 0).iter().map(|p| p.0).sum()
    };
    (total("obvs"), total("sum"))
}

fn append(log: &Path, from: u32, to: u32) {
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    for i in from..=to {
        writeln!(f, "hit {i}").unwrap();
    }
    f.flush().unwrap();
}

#[test]
fn lines_read_during_a_held_commit_stream_live_and_are_stored_once() {
    let dir = TestDir::new();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "hit 1\n").unwrap();
    let hold = dir.path().join("hold");
    let held = dir.path().join("hold.held");
    let config = config(&dir, &log);
    let env = [("TALLY_TEST_HOLD_COMMIT", hold.to_str().unwrap())];
    let d = Daemon::start_env(&config, &env);
    wait_until("hit 1 stored", Duration::from_secs(30), || {
        stored(&d) == (1.0, 1.0)
    });
    let mut s = open(&d, "target=app.hits:sum", None).unwrap();
    let mut model = Model::default();
    s.until(Duration::from_secs(30), |m| {
        model.apply(m);
        m.name == "series"
    });
    let hits = model.id("app.hits", 0);

    // Hold the next commit (hit 2 makes one at once, self-metrics one each second).
    std::fs::write(&hold, "").unwrap();
    append(&log, 2, 2);
    wait_until("a commit held", Duration::from_secs(30), || held.exists());
    // Lines read while it is held are folded and streamed; none of them is stored yet.
    append(&log, 3, 10);
    s.until(Duration::from_secs(30), |m| {
        model.apply(m);
        model.total(hits) == 54.0 // 2 + … + 10
    });
    assert!(
        held.exists(),
        "the commit was still held while hit 3–10 streamed"
    );
    assert_eq!(stored(&d), (1.0, 1.0), "nothing of it committed yet");

    // Released: that commit lands, the next one carries hit 3–10 with their cursor.
    std::fs::remove_file(&hold).unwrap();
    wait_until("hit 1–10 stored", Duration::from_secs(30), || {
        stored(&d) == (10.0, 55.0)
    });
    // A crash right after: the cursor went with the buckets, so the restart reads on from
    // hit 11, counting no line twice and losing none.
    d.kill9();
    let d = Daemon::start(&config);
    append(&log, 11, 11);
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored(&d) != (11.0, 66.0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Past the deadline, and a moment later, the same: nothing read twice.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(stored(&d), (11.0, 66.0), "hit 1–11, each once");
    d.stop(Duration::from_secs(30));
}
