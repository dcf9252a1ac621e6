use super::*;
use crate::aggregate::Bucket;
use crate::config::outputs::{CarbonMode, Destination, Filter, Naming};
use crate::metric::Kind;
use crate::metric::glob::Glob;
use crate::schema::Schema;
use crate::store::{Batch, Options};

fn schemas() -> Arc<Schemas> {
    Arc::new(Schemas {
        list: vec![Schema::new("all", ".*", &["1s:1h", "10s:1d"]).unwrap()],
    })
}

fn open_store(dir: &Path) -> Store {
    Store::open(Options {
        data_dir: dir.to_path_buf(),
        tiers: schemas().resolutions(),
        head_flush_interval: 600,
        head_max_bytes: crate::store::HEAD_MAX_BYTES,
    })
    .unwrap()
}

fn output(name: &str, target: Target, tier: usize) -> OutputConfig {
    OutputConfig {
        name: name.into(),
        target,
        include: Filter::default(),
        exclude: Filter {
            patterns: vec!["tally".into()],
            globs: vec![Glob::parse("tally").unwrap()],
        },
        host: "testhost".into(),
        self_prefix: Some("servers.testhost".into()),
        tier,
        grace: 2,
        spool_max_bytes: 1 << 24,
        max_batch: 1000,
        timeout_secs: 1,
    }
}

fn tally_target() -> Target {
    Target::Tally {
        urls: vec!["http://127.0.0.1:1".into()],
        token: None,
        http: Default::default(),
    }
}

fn carbon_target() -> Target {
    Target::Carbon {
        destinations: vec![Destination {
            host: "127.0.0.1".into(),
            port: 1,
            instance: None,
        }],
        mode: CarbonMode::ConsistentHash,
        naming: Naming {
            statsd: false,
            prefix: String::new(),
            views: Naming::default_views(),
        },
    }
}

fn delta(name: &str, res: u32, start: i64, v: f64) -> Delta {
    Delta {
        series: Series::parse(name).unwrap(),
        kind: Kind::Counter,
        resolution: res,
        start,
        bucket: Bucket::new(Kind::Counter, v, start),
    }
}

/// Commits like the pipeline does: stage, commit, apply.
fn commit(ship: &mut Ship, store: &Store, deltas: Vec<Delta>) {
    let mut staged = ship.stage(&deltas);
    store
        .commit(Batch {
            deltas,
            cursors: staged.take_cursors(),
        })
        .unwrap();
    ship.apply(staged);
}

/// Closes and appends like the pipeline does.
fn close(ship: &mut Ship, store: &Store, now: i64) {
    let failed = ship.close(now, store.last_event_id()).write(store);
    assert!(failed.is_empty());
    ship.written(failed);
}

/// Every bucket in an output's spool, as `(series, start, sum)`, by reading it all.
fn spooled(ship: &Ship, i: usize) -> Vec<(String, i64, f64)> {
    let mut out = Vec::new();
    let o = &ship.stages[i].output;
    for rec in o.spool().read(u64::MAX).unwrap() {
        for e in rec.entries {
            for (start, b) in e.buckets {
                out.push((e.series.to_string(), start, b.sum));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out
}

#[test]
fn closed_slots_are_spooled_once_with_filters_and_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let outputs = [
        output("fine", tally_target(), 0),
        output("coarse", tally_target(), 1),
    ];
    let now = 1_000_000;
    let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now).unwrap();
    let mut deltas = Vec::new();
    for t in now - 1..now + 12 {
        deltas.push(delta("a.b", 1, t, 1.0));
        deltas.push(delta("tally.x", 1, t, 1.0));
    }
    deltas.push(delta("a.b", 10, now, 12.0));
    deltas.push(delta("a.b", 10, now + 10, 1.0));
    commit(&mut ship, &store, deltas);
    // At now+8 (grace 2): 1s slots ending by now+6 close (the first one, ending at now,
    // was open at start: the horizon began at now-2); the 10s slot does not.
    let closing = ship.close(now + 8, store.last_event_id());
    assert!(closing.write(&store).is_empty());
    let fine = spooled(&ship, 0);
    assert_eq!(fine.len(), 7, "{fine:?}");
    assert!(fine.iter().all(|(s, _, _)| s == "a.b"), "tally.* excluded");
    assert_eq!(fine[0].1, now - 1);
    assert!(spooled(&ship, 1).is_empty());
    let closing = ship.close(now + 13, store.last_event_id());
    closing.write(&store);
    assert_eq!(spooled(&ship, 0).len(), 5);
    assert_eq!(spooled(&ship, 1), [("a.b".into(), now, 12.0)]);
}

#[test]
fn a_restart_spools_what_was_committed_but_not_spooled_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let now = 2_000_000;
    let outputs = [output("t", tally_target(), 0)];
    let mut all = Vec::new();
    {
        let store = open_store(dir.path());
        let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now).unwrap();
        let deltas: Vec<Delta> = (now..now + 20)
            .map(|t| delta("c", 1, t, t as f64))
            .collect();
        all.extend(deltas.iter().map(|d| d.start));
        commit(&mut ship, &store, deltas);
        ship.close(now + 10, store.last_event_id()).write(&store);
        // Crash: the open buckets (ending after now+8) exist only in the store.
    }
    let store = open_store(dir.path());
    let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now + 15).unwrap();
    commit(&mut ship, &store, vec![delta("c", 1, now + 19, 1.0)]);
    ship.close(now + 40, store.last_event_id()).write(&store);
    let got = spooled(&ship, 0);
    let starts: Vec<i64> = got.iter().map(|g| g.1).collect();
    assert_eq!(starts, all, "each slot once, in order");
    assert_eq!(
        got.last().unwrap().2,
        (now + 19) as f64 + 1.0,
        "merged, not twice"
    );
}

#[test]
fn late_data_committed_just_before_a_crash_is_spooled_once_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let now = 3_500_000;
    let outputs = [
        output("t", tally_target(), 0),
        output("c", carbon_target(), 0),
    ];
    {
        let store = open_store(dir.path());
        let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now).unwrap();
        commit(&mut ship, &store, vec![delta("late", 1, now, 5.0)]);
        close(&mut ship, &store, now + 10);
        // Late for both outputs, committed; then a crash before the spool append.
        commit(
            &mut ship,
            &store,
            vec![delta("late", 1, now, 2.0), delta("late", 1, now + 1, 1.0)],
        );
        assert!(store.cursors().contains_key("ship/t"));
        assert!(store.cursors().contains_key("ship/c"));
    }
    let expect_first_three = |ship: &Ship| {
        assert_eq!(
            spooled(ship, 0)[..3],
            [
                ("late".into(), now, 5.0),
                ("late".into(), now, 2.0),
                ("late".into(), now + 1, 1.0)
            ],
            "tally: the late deltas, once"
        );
        assert_eq!(
            spooled(ship, 1)[..3],
            [
                ("late".into(), now, 5.0),
                ("late".into(), now, 7.0),
                ("late".into(), now + 1, 1.0)
            ],
            "carbon: the slots' whole buckets"
        );
    };
    {
        let store = open_store(dir.path());
        let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now + 20).unwrap();
        expect_first_three(&ship);
        // The cursor is spent: neither a commit without late data nor a restart repeats it.
        commit(&mut ship, &store, vec![delta("late", 1, now + 19, 1.0)]);
        close(&mut ship, &store, now + 22);
    }
    let store = open_store(dir.path());
    let ship = Ship::open(&outputs, dir.path(), &store, schemas(), now + 30).unwrap();
    // (A spool read moves on: each output's spool is read once per open here.)
    let (t, c) = (spooled(&ship, 0), spooled(&ship, 1));
    assert_eq!(
        t[1..],
        [
            ("late".into(), now, 2.0),
            ("late".into(), now + 1, 1.0),
            ("late".into(), now + 19, 1.0)
        ]
    );
    assert_eq!(
        c[1..],
        [
            ("late".into(), now, 7.0),
            ("late".into(), now + 1, 1.0),
            ("late".into(), now + 19, 1.0)
        ]
    );
}

#[test]
fn late_data_is_an_amendment_whole_for_carbon_and_a_delta_for_tally() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let now = 3_000_000;
    let outputs = [
        output("t", tally_target(), 0),
        output("c", carbon_target(), 0),
    ];
    let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now).unwrap();
    commit(&mut ship, &store, vec![delta("late", 1, now, 5.0)]);
    ship.close(now + 10, store.last_event_id()).write(&store);
    commit(&mut ship, &store, vec![delta("late", 1, now, 2.0)]);
    ship.close(now + 11, store.last_event_id()).write(&store);
    assert_eq!(
        spooled(&ship, 0),
        [("late".into(), now, 5.0), ("late".into(), now, 2.0)]
    );
    assert_eq!(
        spooled(&ship, 1),
        [("late".into(), now, 5.0), ("late".into(), now, 7.0)]
    );
    assert_eq!(ship.stages[0].output.stats.late.load(Relaxed), 1);
}

/// Every event in an output's spool, as `(id, what)`, and the newest record's `through`.
fn spooled_events(ship: &Ship, i: usize) -> (Vec<(u64, String)>, Option<u64>) {
    let o = &ship.stages[i].output;
    let mut out = Vec::new();
    for rec in o.spool().read(u64::MAX).unwrap() {
        for e in rec.events.into_iter().flat_map(|e| e.list) {
            out.push((e.id, e.what));
        }
    }
    let through = o.spool().events_through();
    (out, through)
}

#[test]
fn events_are_spooled_once_from_the_first_start_on_and_only_for_tally() {
    let dir = tempfile::tempdir().unwrap();
    let now = 4_000_000;
    let mut outputs = [
        output("t", tally_target(), 0),
        output("c", carbon_target(), 0),
    ];
    const MAX: u64 = 20;
    outputs[0].max_batch = MAX;
    {
        let store = open_store(dir.path());
        store
            .add_event(now - 100, "before the output", &[], "")
            .unwrap();
        let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now).unwrap();
        store.add_event(now - 50, "a", &["x".into()], "d").unwrap();
        store.add_event(now + 1, "b", &[], "").unwrap();
        ship.close(now + 1, store.last_event_id()).write(&store);
        assert_eq!(
            spooled_events(&ship, 0),
            (vec![(2, "a".into()), (3, "b".into())], Some(3)),
            "a new spool starts after the events already stored"
        );
        assert_eq!(
            spooled_events(&ship, 1),
            (vec![], None),
            "carbon takes none"
        );
        // A bucket-only record still says where events stand.
        commit(&mut ship, &store, vec![delta("e", 1, now, 1.0)]);
        ship.close(now + 5, store.last_event_id()).write(&store);
        assert_eq!(spooled_events(&ship, 0).1, Some(3));
        // Stored, then a crash before the next close.
        store.add_event(now + 6, "c", &[], "").unwrap();
    }
    let store = open_store(dir.path());
    let mut ship = Ship::open(&outputs, dir.path(), &store, schemas(), now + 7).unwrap();
    for i in 0..MAX + 5 {
        store
            .add_event(now + 8, &format!("burst {i}"), &[], "")
            .unwrap();
    }
    let last = store.last_event_id();
    ship.close(now + 8, last).write(&store);
    // Nothing was acknowledged: the spool still holds the first records.
    let (got, through) = spooled_events(&ship, 0);
    let ids: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(got[2], (4, "c".into()), "the crash lost nothing");
    assert_eq!(
        ids,
        (2..=3 + MAX).collect::<Vec<_>>(),
        "once each, a bounded number per close"
    );
    assert_eq!(through, Some(3 + MAX));
    ship.close(now + 9, last).write(&store);
    let (rest, through) = spooled_events(&ship, 0);
    assert_eq!(through, Some(last));
    let ids: Vec<u64> = rest.iter().map(|g| g.0).collect();
    assert_eq!(ids, (4 + MAX..=last).collect::<Vec<_>>());
}
