use super::*;
use crate::aggregate::Bucket;
use crate::metric::{Kind, Series};
use crate::ship::record::Entry;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn record(horizon: i64, points: usize) -> Record {
    Record {
        seq: 0,
        horizon,
        entries: vec![Entry {
            series: Series::parse("a.b").unwrap(),
            kind: Kind::Gauge,
            resolution: 10,
            buckets: (0..points)
                .map(|i| {
                    let start = horizon - 10 * (points - i) as i64;
                    (start, Bucket::new(Kind::Gauge, i as f64, start))
                })
                .collect(),
        }],
        events: None,
    }
}

#[test]
fn append_read_ack_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, rec) = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(rec.unacked_records, 0);
    assert_eq!(s.horizon(), None);
    let epoch = s.epoch();
    for i in 1..=5 {
        assert_eq!(s.append(record(100 + i * 10, 2)).unwrap(), i as u64);
    }
    let got = s.read(4).unwrap();
    assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    s.ack(2, got[1].horizon).unwrap();
    assert_eq!(s.lag(), 30);
    drop(s);
    let (mut s, rec) = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.epoch(), epoch, "the epoch survives a reopen");
    assert_eq!(rec.unacked_records, 3);
    assert_eq!(s.horizon(), Some(150));
    let got = s.read(100).unwrap();
    assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(got[0], {
        let mut r = record(130, 2);
        r.seq = 3;
        r
    });
    s.ack(5, 150).unwrap();
    assert_eq!((s.pending(), s.lag()), (0, 0));
    assert_eq!(s.append(record(160, 1)).unwrap(), 6);
}

/// A segment's records as FORMAT.md describes them, byte for byte (written by the code before
/// framing moved to `crate::frame`); a segment made of those bytes reads back.
#[test]
fn records_are_framed_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(dir.path(), 1 << 20).unwrap();
    s.append(record(100, 2)).unwrap();
    s.append(record(110, 1)).unwrap();
    let seg = dir.path().join(segment_name(1));
    let bytes = fs::read(&seg).unwrap();
    let hex: String = bytes[HEADER_LEN as usize..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let golden = "2600000036b2d51101c8010103612e62010a02a001010000000000000000a00100140100\
                  0000000000f03fb4010019000000dd3185c002dc010103612e62010a01c801010000000000\
                  000000c80100";
    assert_eq!(hex, golden);
    let old = tempfile::tempdir().unwrap();
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&42u64.to_le_bytes());
    file.extend_from_slice(&1u64.to_le_bytes());
    let unhex = |i: usize| u8::from_str_radix(&golden[i..i + 2], 16).unwrap();
    file.extend((0..golden.len()).step_by(2).map(unhex));
    fs::write(old.path().join(segment_name(1)), &file).unwrap();
    let (mut s, rec) = Spool::open(old.path(), 1 << 20).unwrap();
    assert_eq!((s.epoch(), rec.unacked_records), (42, 2));
    let got = s.read(100).unwrap();
    let want = |h, n, seq| Record {
        seq,
        ..record(h, n)
    };
    assert_eq!(got, [want(100, 2, 1), want(110, 1, 2)]);
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(dir.path(), 1 << 20).unwrap();
    s.append(record(10, 1)).unwrap();
    s.append(record(20, 1)).unwrap();
    drop(s);
    let seg = dir.path().join(segment_name(1));
    let len = fs::metadata(&seg).unwrap().len();
    // A crash in the middle of the third append.
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
    drop(f);
    let (mut s, rec) = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(rec.torn_bytes, 10);
    assert_eq!(fs::metadata(&seg).unwrap().len(), len);
    assert_eq!(s.append(record(30, 1)).unwrap(), 3);
    let seqs: Vec<u64> = s.read(100).unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
}

#[test]
fn bound_drops_oldest_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let max = 64 << 10;
    let (mut s, _) = Spool::open(dir.path(), max).unwrap();
    for i in 0..2000 {
        s.append(record(i * 10, 5)).unwrap();
        assert!(
            s.bytes() <= max,
            "bound held after append {i}: {}",
            s.bytes()
        );
    }
    let (records, points) = s.dropped();
    assert!(records > 0 && points == records * 5);
    let got = s.read(u64::MAX).unwrap();
    assert_eq!(
        records + got.len() as u64,
        2000,
        "every record read or counted"
    );
    assert_eq!(got.last().unwrap().seq, 2000);
    assert!(got.windows(2).all(|w| w[1].seq == w[0].seq + 1));
}

#[test]
fn another_spool_in_the_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(segment_name(1)), b"not a spool at all, no").unwrap();
    assert!(matches!(
        Spool::open(dir.path(), 1 << 20),
        Err(Error::Corrupt { .. })
    ));
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Read(u64),
    AckRead,
    Reopen,
    Tear(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..40).prop_map(Op::Append),
        3 => (1u64..100).prop_map(Op::Read),
        2 => Just(Op::AckRead),
        1 => Just(Op::Reopen),
        1 => (1u8..30).prop_map(Op::Tear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Against a model: records come out in order, byte for byte as appended, never twice
    /// between acks, and each one appended is read or counted as dropped; the size bound holds.
    #[test]
    fn spool_matches_model(ops in proptest::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        let max = 64 << 10;
        let (mut s, _) = Spool::open(dir.path(), max).unwrap();
        let mut appended: BTreeMap<u64, Record> = BTreeMap::new();
        let mut last_read = 0u64;
        let mut acked = (0u64, 0i64);
        let mut delivered: BTreeMap<u64, ()> = BTreeMap::new();
        let mut dropped_before = 0u64;
        let mut horizon = 0i64;
        for op in ops {
            match op {
                Op::Append(points) => {
                    horizon += 10;
                    let seq = s.append(record(horizon, points)).unwrap();
                    let mut r = record(horizon, points);
                    r.seq = seq;
                    prop_assert!(appended.insert(seq, r).is_none());
                }
                Op::Read(max_points) => {
                    for r in s.read(max_points).unwrap() {
                        prop_assert!(r.seq > last_read, "in order, once");
                        prop_assert_eq!(Some(&r), appended.get(&r.seq));
                        last_read = r.seq;
                        delivered.insert(r.seq, ());
                    }
                }
                Op::AckRead => {
                    if last_read > acked.0 {
                        let h = appended[&last_read].horizon;
                        s.ack(last_read, h).unwrap();
                        acked = (last_read, h);
                    }
                }
                Op::Reopen | Op::Tear(_) => {
                    dropped_before += s.dropped().0;
                    let newest = s.segments.back().map(|x| x.path.clone());
                    drop(s);
                    if let (Op::Tear(n), Some(path)) = (&op, newest) {
                        let mut f = OpenOptions::new().append(true).open(path).unwrap();
                        f.write_all(&vec![7u8; *n as usize]).unwrap();
                    }
                    s = Spool::open(dir.path(), max).unwrap().0;
                    // Unacked records are read again after a restart.
                    last_read = acked.0.max(s.segments.front().map_or(0, |x| x.first_seq - 1));
                }
            }
            prop_assert!(s.bytes() <= max);
        }
        for r in s.read(u64::MAX).unwrap() {
            prop_assert!(r.seq > last_read);
            prop_assert_eq!(Some(&r), appended.get(&r.seq));
            last_read = r.seq;
            delivered.insert(r.seq, ());
        }
        let dropped = dropped_before + s.dropped().0;
        prop_assert!(delivered.len() as u64 + dropped >= appended.len() as u64,
            "{} delivered + {} dropped < {} appended", delivered.len(), dropped, appended.len());
        if let Some((&last, _)) = appended.iter().next_back() {
            prop_assert_eq!(last_read, last, "the newest record is never dropped");
        }
    }
}
