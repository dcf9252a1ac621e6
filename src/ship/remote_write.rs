//! Prometheus remote_write 1.0: closed buckets become samples of a `WriteRequest`, protobuf
//! encoded and compressed with snappy's *block* format (the framed format is not accepted).
//!
//! Names: each bucket gives one number per view of its kind (see `naming`); the Graphite path
//! of that number becomes the metric name with every character outside `[a-zA-Z0-9_:]`
//! (dots included) turned into `_`, and `_` put in front of a leading digit:
//! `web.hits.count` → `web_hits_count`. Tags of a tagged series (`name;dc=eu`) become labels
//! (names sanitized the same way; a name starting with `__` gets one more `_` in front: those
//! are reserved). Configured `labels` are added to every series, and `path_label` keeps the
//! Graphite path itself. The sample time is the slot start, in milliseconds.

pub mod proto;

use super::record::Record;
use crate::config::outputs::Naming;
use proto::{Label, Sample, TimeSeries, WriteRequest};

/// Label settings of one output.
#[derive(Debug, Clone)]
pub struct Labels {
    pub extra: Vec<(String, String)>,
    pub path_label: Option<String>,
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` from any path.
pub fn metric_name(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    if path.starts_with(|c: char| c.is_ascii_digit()) || path.is_empty() {
        out.push('_');
    }
    out.extend(path.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
pub fn label_name(tag: &str) -> String {
    let mut out = metric_name(tag).replace(':', "_");
    if out.starts_with("__") {
        out.insert(0, '_');
    }
    out
}

/// The samples of the records as one request, before compression. Samples of one series are
/// sorted by time; when a record amends a slot shipped before, the later value is kept.
///
/// Built as one flat list sorted once (not a map of maps): a request holds a sample or a few
/// for each of up to `max_batch` series, and a tree node per series would be most of its memory.
pub fn request(records: &[Record], naming: &Naming, labels: &Labels) -> WriteRequest {
    // (labels, time, value) in the records' order; the sort below is stable, so of samples
    // with the same labels and time the last one is the newest.
    let mut samples: Vec<(Vec<Label>, i64, f64)> = Vec::new();
    for rec in records {
        for e in &rec.entries {
            let tags: Vec<Label> = e
                .series
                .tags()
                .map(|(k, v)| Label {
                    name: label_name(k),
                    value: v.to_string(),
                })
                .collect();
            for (start, bucket) in &e.buckets {
                super::naming::each_point(
                    naming,
                    &e.series,
                    e.kind,
                    e.resolution,
                    bucket,
                    |path, value| {
                        let mut ls = Vec::with_capacity(tags.len() + labels.extra.len() + 2);
                        ls.push(Label {
                            name: "__name__".into(),
                            value: metric_name(path),
                        });
                        if let Some(l) = &labels.path_label {
                            ls.push(Label {
                                name: l.clone(),
                                value: path.to_string(),
                            });
                        }
                        for (k, v) in &labels.extra {
                            ls.push(Label {
                                name: k.clone(),
                                value: v.clone(),
                            });
                        }
                        ls.extend(tags.iter().cloned());
                        ls.sort_by(|a, b| a.name.cmp(&b.name));
                        // A series tag wins over a configured label of the same name.
                        ls.reverse();
                        ls.dedup_by(|a, b| a.name == b.name);
                        ls.reverse();
                        samples.push((ls, start.saturating_mul(1000), value));
                    },
                );
            }
        }
    }
    samples.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut timeseries: Vec<TimeSeries> = Vec::new();
    for (ls, timestamp, value) in samples {
        match timeseries.last_mut() {
            Some(ts) if ts.labels == ls => match ts.samples.last_mut() {
                Some(last) if last.timestamp == timestamp => last.value = value,
                _ => ts.samples.push(Sample { value, timestamp }),
            },
            _ => timeseries.push(TimeSeries {
                labels: ls,
                samples: vec![Sample { value, timestamp }],
            }),
        }
    }
    WriteRequest { timeseries }
}

/// Protobuf, then snappy block format: the body of a remote_write POST.
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    use prost::Message;
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compresses any input below 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bucket;
    use crate::metric::{Kind, Series};
    use crate::ship::record::Entry;
    use prost::Message;

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
        let naming = Naming {
            statsd: false,
            prefix: String::new(),
            views: Naming::default_views(),
        };
        let labels = Labels {
            extra: Vec::new(),
            path_label: None,
        };
        let rec = |seq, name: &str, start, v| Record {
            seq,
            horizon: start + 10,
            entries: vec![Entry {
                series: Series::parse(name).unwrap(),
                kind: Kind::Gauge,
                resolution: 10,
                buckets: vec![(start, Bucket::new(Kind::Gauge, v, start))],
            }],
            events: None,
        };
        let records = [
            rec(1, "b", 10, 1.0),
            rec(2, "a", 20, 5.0),
            rec(3, "b", 20, 2.0),
            rec(4, "b", 10, 3.0),
            rec(5, "a", 10, 4.0),
        ];
        let req = request(&records, &naming, &labels);
        let got: Vec<(&str, Vec<(i64, f64)>)> = req
            .timeseries
            .iter()
            .map(|ts| {
                (
                    ts.labels[0].value.as_str(),
                    ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", vec![(10_000, 4.0), (20_000, 5.0)]),
                ("b", vec![(10_000, 3.0), (20_000, 2.0)])
            ]
        );
    }

    #[test]
    fn request_round_trips_through_snappy_and_protobuf() {
        let naming = Naming {
            statsd: false,
            prefix: String::new(),
            views: Naming::default_views(),
        };
        let labels = Labels {
            extra: vec![("job".into(), "tally".into()), ("dc".into(), "x".into())],
            path_label: Some("graphite_path".into()),
        };
        let rec = |seq, start, v| Record {
            seq,
            horizon: start + 10,
            entries: vec![Entry {
                series: Series::parse("web.load;dc=eu").unwrap(),
                kind: Kind::Gauge,
                resolution: 10,
                buckets: vec![(start, Bucket::new(Kind::Gauge, v, start))],
            }],
            events: None,
        };
        let req = request(&[rec(2, 20, 2.0), rec(1, 10, 1.0)], &naming, &labels);
        let body = encode(&req);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let back = WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.timeseries.len(), 1);
        let ts = &back.timeseries[0];
        let names: Vec<(&str, &str)> = ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("__name__", "web_load"),
                ("dc", "eu"),
                ("graphite_path", "web.load"),
                ("job", "tally")
            ]
        );
        assert_eq!(
            ts.samples,
            [
                Sample {
                    value: 1.0,
                    timestamp: 10_000
                },
                Sample {
                    value: 2.0,
                    timestamp: 20_000
                }
            ]
        );
    }
}
