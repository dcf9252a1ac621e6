use super::*;
use crate::aggregate::Bucket;
use crate::metric::{Kind, Series};
use crate::ship::record::Entry;
use prost::Message;

fn views_naming() -> Naming {
    Naming {
        statsd: false,
        prefix: String::new(),
        views: Naming::default_views(),
    }
}

/// `naming: views` without mappings: today's per-slot names.
fn plain() -> Namer {
    Namer::default()
}

fn prometheus() -> Namer {
    Namer {
        mappings: Mapping::defaults(),
        host: "web9".into(),
        prometheus: true,
        quantiles: vec![0.5, 0.99],
        ..Namer::default()
    }
}

fn rec(seq: u64, name: &str, kind: Kind, start: i64, values: &[f64]) -> Record {
    let mut b = Bucket::new(kind, values[0], start);
    for v in &values[1..] {
        b.add(*v, start);
    }
    Record {
        seq,
        horizon: start + 10,
        entries: vec![Entry {
            series: Series::parse(name).unwrap(),
            kind,
            resolution: 10,
            buckets: vec![(start, b)],
        }],
        events: None,
    }
}

/// `(labels as name=value, [(ms, value)])` of every series.
fn flat(req: &WriteRequest) -> Vec<(String, Vec<(i64, f64)>)> {
    req.timeseries
        .iter()
        .map(|ts| {
            let ls: Vec<String> = ts
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            (
                ls.join(","),
                ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
            )
        })
        .collect()
}

#[test]
fn names_and_labels() {
    assert_eq!(metric_name("web.hits.count"), "web_hits_count");
    assert_eq!(metric_name("5xx.rate"), "_5xx_rate");
    assert_eq!(metric_name("a-b:c"), "a_b:c");
    assert_eq!(label_name("__x"), "___x");
    assert_eq!(label_name("dc"), "dc");
}

#[test]
fn a_later_record_amending_a_slot_wins_and_series_come_sorted() {
    let g = |seq, name, start, v| rec(seq, name, Kind::Gauge, start, &[v]);
    let records = [
        g(1, "b", 10, 1.0),
        g(2, "a", 20, 5.0),
        g(3, "b", 20, 2.0),
        g(4, "b", 10, 3.0),
        g(5, "a", 10, 4.0),
    ];
    let (req, _) = request(&records, &views_naming(), &plain(), &Totals::new(10));
    assert_eq!(
        flat(&req),
        [
            ("__name__=a".into(), vec![(10_000, 4.0), (20_000, 5.0)]),
            ("__name__=b".into(), vec![(10_000, 3.0), (20_000, 2.0)])
        ]
    );
}

#[test]
fn request_round_trips_through_snappy_and_protobuf() {
    let namer = Namer {
        extra: vec![("dc".into(), "x".into()), ("job".into(), "tally".into())],
        path_label: Some("graphite_path".into()),
        ..Namer::default()
    };
    let g = |seq, start, v| rec(seq, "web.load;dc=eu", Kind::Gauge, start, &[v]);
    let (req, _) = request(
        &[g(2, 20, 2.0), g(1, 10, 1.0)],
        &views_naming(),
        &namer,
        &Totals::new(10),
    );
    let body = encode(&req);
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let back = WriteRequest::decode(raw.as_slice()).unwrap();
    assert_eq!(back, req);
    assert_eq!(
        flat(&back),
        [(
            "__name__=web_load,dc=eu,graphite_path=web.load,job=tally".into(),
            vec![(10_000, 1.0), (20_000, 2.0)]
        )]
    );
}

#[test]
fn the_default_mapping_puts_the_host_in_a_label_and_own_series_get_ours() {
    let records = [
        rec(1, "servers.web1.cpu.total.user", Kind::Gauge, 10, &[3.0]),
        rec(2, "tally.store.series", Kind::Gauge, 10, &[7.0]),
        rec(3, "web.load;host=db2", Kind::Gauge, 10, &[1.0]),
    ];
    let namer = Namer {
        extra: vec![("host".into(), "configured".into())],
        ..prometheus()
    };
    let (req, _) = request(&records, &views_naming(), &namer, &Totals::new(10));
    let names: Vec<String> = flat(&req).into_iter().map(|x| x.0).collect();
    assert_eq!(
        names,
        [
            // The mapping's host wins over a configured label, a tag over both.
            "__name__=cpu_total_user,host=web1",
            "__name__=tally_store_series,host=configured",
            "__name__=web_load,host=db2",
        ]
    );
    let (req, _) = request(
        &records[1..2],
        &views_naming(),
        &prometheus(),
        &Totals::new(10),
    );
    assert_eq!(flat(&req)[0].0, "__name__=tally_store_series,host=web9");
}

#[test]
fn counters_are_running_totals_that_move_only_when_taken() {
    let c = |seq, start, v| rec(seq, "servers.web1.app.hits", Kind::Counter, start, &[v]);
    let mut totals = Totals::new(10);
    let first = [c(1, 10, 5.0), c(2, 20, 3.0)];
    let (req, running) = request(&first, &views_naming(), &prometheus(), &totals);
    let want = vec![(10_000, 5.0), (20_000, 8.0)];
    assert_eq!(
        flat(&req),
        [("__name__=app_hits_total,host=web1".into(), want.clone())]
    );
    // A retry before the remote took it: the same values.
    let (again, _) = request(&first, &views_naming(), &prometheus(), &totals);
    assert_eq!(again, req);
    totals.commit(running);
    let (next, running) = request(&[c(3, 30, 2.0)], &views_naming(), &prometheus(), &totals);
    assert_eq!(flat(&next)[0].1, [(30_000, 10.0)]);
    totals.commit(running);
    // A new sender (tally restarted) starts from 0: a reset for rate().
    let (fresh, _) = request(
        &[c(4, 40, 1.0)],
        &views_naming(),
        &prometheus(),
        &Totals::new(10),
    );
    assert_eq!(flat(&fresh)[0].1, [(40_000, 1.0)]);
}

#[test]
fn timers_are_summaries() {
    let t = rec(1, "api.rt", Kind::Timer, 10, &[1.0, 2.0, 3.0, 4.0]);
    let t2 = rec(2, "api.rt", Kind::Timer, 20, &[10.0]);
    let (req, _) = request(&[t, t2], &views_naming(), &prometheus(), &Totals::new(10));
    let got = flat(&req);
    let names: Vec<&str> = got.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "__name__=api_rt,quantile=0.5",
            "__name__=api_rt,quantile=0.99",
            "__name__=api_rt_count",
            "__name__=api_rt_sum",
        ]
    );
    assert_eq!(got[2].1, [(10_000, 4.0), (20_000, 5.0)]);
    assert_eq!(got[3].1, [(10_000, 10.0), (20_000, 20.0)]);
    assert_eq!(got[1].1[1], (20_000, 10.0));
    // Sets are their distinct count; gauges their views.
    let s = rec(1, "users", Kind::Set, 10, &[1.0, 2.0, 2.0]);
    let (req, _) = request(&[s], &views_naming(), &prometheus(), &Totals::new(10));
    assert_eq!(flat(&req), [("__name__=users".into(), vec![(10_000, 2.0)])]);
}

#[test]
fn a_prefix_goes_through_the_mapping() {
    let naming = Naming {
        prefix: "servers.web3".into(),
        ..views_naming()
    };
    let g = rec(1, "disk.free", Kind::Gauge, 10, &[4.0]);
    let (req, _) = request(&[g], &naming, &prometheus(), &Totals::new(10));
    assert_eq!(flat(&req)[0].0, "__name__=disk_free,host=web3");
}
