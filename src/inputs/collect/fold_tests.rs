//! 1 s samples folded into a 10 s bucket against one 10 s sample (what Diamond and tally before
//! sampled), over `tests/data/proc/seq/s00..s10`: eleven captures of a busy 2-CPU VM about a
//! second apart (see tests/data/proc/README.md). Replayed as `tally collect --root … --interval`
//! replays them: evenly spaced. Also a sample that comes late (weight), a one-second spike, and
//! the watch hook.

use super::tests::{NOW, fixture, run_rounds, values};
use super::*;
use crate::aggregate::Bucket;
use std::cell::Cell;
use std::collections::BTreeMap;

fn seq(i: usize) -> String {
    format!("seq/s{i:02}")
}

fn settings() -> Settings {
    let names = [
        "cpu", "memory", "loadavg", "vmstat", "iostat", "network", "sockets", "tcp",
    ];
    Settings {
        collectors: names.iter().map(|c| c.to_string()).collect(),
        proc_root: fixture(&seq(0)),
        ..Settings::default()
    }
}

/// Folds the observations (not the `tally.*` ones) into one bucket per series, as the
/// aggregator folds them into a slot.
fn fold(obs: &[Observation]) -> BTreeMap<String, Bucket> {
    let mut out: BTreeMap<String, Bucket> = BTreeMap::new();
    for o in obs
        .iter()
        .filter(|o| !o.series.as_str().starts_with("tally."))
    {
        match out.get_mut(o.series.as_str()) {
            Some(b) => b.add(o.value, o.time),
            None => {
                out.insert(o.series.to_string(), Bucket::new(o.kind, o.value, o.time));
            }
        }
    }
    out
}

/// What a bucket of 1 s samples must reproduce of the 10 s sample's value.
enum Expect {
    /// A level at the end: the bucket's `last`.
    Last,
    /// Diamond's per-interval delta (iostat's `reads`, `io_milliseconds`, …): the bucket's sum.
    Sum,
    /// A per-second rate: the bucket's average.
    Avg,
    /// A ratio of two deltas (iostat's `await`, `service_time`, `average_request_size_*`,
    /// `concurrent_io`): the mean of 1 s ratios is not the 10 s ratio.
    Neither,
}

fn expect(name: &str) -> Expect {
    let leaf = name.rsplit('.').next().unwrap();
    let collector = name.split('.').nth(2).unwrap();
    match collector {
        "memory" | "loadavg" | "sockets" => return Expect::Last,
        "cpu" if leaf == "cpu_count" => return Expect::Last,
        "tcp" if leaf == "CurrEstab" => return Expect::Last,
        "iostat" => {}
        _ => return Expect::Avg,
    }
    if leaf == "io_in_progress" {
        Expect::Last
    } else if leaf.ends_with("await")
        || leaf.starts_with("average_request_size")
        || matches!(leaf, "service_time" | "concurrent_io")
    {
        Expect::Neither
    } else if leaf.ends_with("per_second")
        || matches!(leaf, "average_queue_length" | "util_percentage" | "iops")
    {
        Expect::Avg
    } else {
        Expect::Sum
    }
}

fn close(got: f64, want: f64, name: &str) {
    let tolerance = 1e-9 * want.abs().max(1.0);
    assert!((got - want).abs() <= tolerance, "{name}: {got} != {want}");
}

/// Checks every metric of the 10 s sample against the bucket of 1 s samples; returns how many
/// were checked.
fn check_against_ten_seconds(buckets: &BTreeMap<String, Bucket>) -> usize {
    let diamond = values(&run_rounds(settings(), &[(&seq(0), 0.0), (&seq(10), 10.0)]));
    let mut checked = 0;
    for (name, &want) in &diamond {
        let b = buckets
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the 1 s samples"));
        match expect(name) {
            Expect::Last => assert_eq!(b.last, want, "{name}"),
            Expect::Sum => close(b.sum, want, name),
            Expect::Avg => {
                assert_eq!(b.count, 10, "{name}");
                close(b.avg(), want, name);
            }
            Expect::Neither => continue,
        }
        checked += 1;
    }
    assert!(buckets.keys().all(|k| diamond.contains_key(k)));
    checked
}

/// Ten 1 s samples folded into a 10 s bucket: `avg` of every rate is the 10 s rate, `sum` of
/// every per-interval delta is the 10 s delta, `last` of every level is the level at 10 s.
#[test]
fn one_second_samples_fold_into_the_ten_second_values() {
    let mut c = Collectors::new(settings()).unwrap();
    c.collect(NOW, 0.0);
    let mut obs = Vec::new();
    for i in 1..=10 {
        c.set_proc_root(&fixture(&seq(i)));
        obs.extend(c.collect(NOW + i as i64, 1.0));
    }
    let buckets = fold(&obs);
    let checked = check_against_ten_seconds(&buckets);
    // cpu's 31, eth0's 18, vda's 24 (of 30), tcp's 14, vmstat's, the levels: 123 here.
    assert!(checked > 100, "{checked}");
    // The busiest second shows in `max`, above the 10 s average.
    let user = &buckets["servers.localhost.cpu.total.user"];
    assert!(user.max > user.avg(), "{user:?}");
}

/// The same through the daemon's scheduler, with the round of s03 missed: the sample at s04
/// covers two seconds and stands for both (stamped at 3 and 4), so the bucket is unchanged.
#[test]
fn a_late_sample_stands_for_the_intervals_it_covers() {
    let mut c = Collectors::new(settings()).unwrap();
    let never = |_: &str| false;
    let start = NOW * 1000;
    c.collect_due(start, 0.0, &never);
    let mut obs = Vec::new();
    let mut last = 0;
    for i in (1..=10).filter(|&i| i != 3) {
        c.set_proc_root(&fixture(&seq(i)));
        let elapsed = (i - last) as f64;
        obs.extend(c.collect_due(start + i as i64 * 1000, elapsed, &never));
        last = i;
    }
    let user = "servers.localhost.cpu.total.user";
    let times: Vec<i64> = obs
        .iter()
        .filter(|o| o.series.as_str() == user)
        .map(|o| o.time - NOW)
        .collect();
    assert_eq!(times, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    check_against_ten_seconds(&fold(&obs));
}

/// An idle 2-CPU host with one core busy for one second: the 10 s sample says 10 % user,
/// the bucket of 1 s samples says the same on average and 100 % at most.
#[test]
fn max_shows_the_one_second_spike() {
    let dir = tempfile::tempdir().unwrap();
    let (mut user, mut idle) = (1000u64, 5000u64);
    for i in 0..=10 {
        let d = dir.path().join(format!("{i}"));
        std::fs::create_dir_all(&d).unwrap();
        let stat = format!("cpu  {user} 0 0 {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0\ncpu1 0 0 0 0\n");
        std::fs::write(d.join("stat"), stat).unwrap();
        if i == 5 {
            (user, idle) = (user + 100, idle + 100);
        } else {
            idle += 200;
        }
    }
    let mut s = Settings {
        collectors: vec!["cpu".into()],
        ..Settings::default()
    };
    s.cpu.percore = false;
    s.proc_root = dir.path().join("0");
    let mut c = Collectors::new(s).unwrap();
    c.collect(NOW, 0.0);
    let mut obs = Vec::new();
    for i in 1..=10 {
        c.set_proc_root(&dir.path().join(format!("{i}")));
        obs.extend(c.collect(NOW + i, 1.0));
    }
    let b = &fold(&obs)["servers.localhost.cpu.total.user"];
    assert_eq!((b.count, b.max, b.min), (10, 100.0, 0.0));
    close(b.avg(), 10.0, "avg");
}

/// The watch hook: cpu (watched, 250 ms) samples four times a second while the hook says yes,
/// memory (whose series nobody watches) once; when the hook says no, cpu is back to 1 s.
#[test]
fn watched_collectors_sample_faster() {
    let mut s = Settings {
        collectors: vec!["cpu".into(), "memory".into()],
        ..Settings::default()
    };
    s.proc_root = fixture("t0");
    let mut c = Collectors::new(s).unwrap();
    let watched = Cell::new(true);
    let asked = std::cell::RefCell::new(Vec::new());
    let hook = |prefix: &str| {
        asked.borrow_mut().push(prefix.to_string());
        watched.get() && prefix == "servers.localhost.cpu."
    };
    let mut t = NOW * 1000;
    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    run_until(&mut c, &mut t, NOW * 1000 + 2000, &hook, &mut runs);
    // cpu at 0, 250, …, 1750 (8 runs); memory at 0 and 1000.
    assert_eq!((runs["cpu"], runs["memory"]), (8, 2));
    watched.set(false);
    run_until(&mut c, &mut t, NOW * 1000 + 4000, &hook, &mut runs);
    // cpu at 2000 (decides 1 s from then), 3000; memory at 2000, 3000.
    assert_eq!((runs["cpu"], runs["memory"]), (10, 4));
    // Only collectors with a watch interval ask (memory has one too, by default).
    assert!(
        asked
            .borrow()
            .iter()
            .all(|p| p.ends_with(".cpu.") || p.ends_with(".memory."))
    );
}

/// Runs the collectors as the agent's loop does, at each due time before `until`, counting the
/// runs of each collector.
fn run_until(
    c: &mut Collectors,
    t: &mut i64,
    until: i64,
    hook: &dyn Fn(&str) -> bool,
    runs: &mut BTreeMap<String, usize>,
) {
    while let Some(due) = c.next_due_ms(*t).filter(|&d| d < until) {
        let due = due.max(*t);
        let obs = c.collect_due(due, (due - *t) as f64 / 1000.0, hook);
        for o in &obs {
            let name = o.series.as_str().strip_prefix("tally.collect.");
            if let Some(name) = name.and_then(|n| n.strip_suffix(".ms")) {
                *runs.entry(name.to_string()).or_default() += 1;
            }
        }
        *t = due;
    }
}

/// A wall clock set back by an hour: the collectors are due at once, not an hour later, and
/// then keep their interval on the new clock.
#[test]
fn a_clock_set_back_does_not_stop_sampling() {
    let mut s = Settings {
        collectors: vec!["loadavg".into()],
        ..Settings::default()
    };
    s.proc_root = fixture("t0");
    let mut c = Collectors::new(s).unwrap();
    let never = |_: &str| false;
    let start = NOW * 1000;
    c.collect_due(start, 0.0, &never);
    assert_eq!(c.next_due_ms(start + 10), Some(start + 1000));
    let back = start - 3_600_000;
    assert_eq!(c.next_due_ms(back), Some(back));
    assert!(!c.collect_due(back, 1.0, &never).is_empty());
    assert_eq!(c.next_due_ms(back + 10), Some(back + 1000));
}
