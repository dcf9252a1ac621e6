//! Carbon input throughput, one thread: plaintext lines through `parse_line`, and the same
//! datapoints as carbon-relay sends them over pickle (protocol 2 frames of 500, its
//! `MAX_DATAPOINTS_PER_MESSAGE`) through `pickle::decode` and `datapoint`.
//!
//! Run: `cargo bench --bench carbon`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tally::inputs::carbon::{datapoint, parse_line, pickle};
use tally::metric::Kind;

const POINTS: usize = 10_000;
const NOW: i64 = 1_705_320_000;

fn points() -> Vec<(String, i64, f64)> {
    (0..POINTS)
        .map(|i| {
            let path = format!(
                "servers.web{}.nginx.requests.status_{}",
                i % 40,
                200 + i % 7
            );
            (path, NOW - (i % 60) as i64, i as f64 * 0.25)
        })
        .collect()
}

/// A protocol 2 frame as CPython writes `pickle.dumps(list, protocol=2)` of these points.
fn frame(points: &[(String, i64, f64)]) -> Vec<u8> {
    let mut p = b"\x80\x02]q\x00(".to_vec();
    let mut memo = 1u8;
    for (path, ts, value) in points {
        p.push(b'X');
        p.extend_from_slice(&(path.len() as u32).to_le_bytes());
        p.extend_from_slice(path.as_bytes());
        p.extend_from_slice(&[b'q', memo]);
        p.push(b'J');
        p.extend_from_slice(&(*ts as i32).to_le_bytes());
        p.push(b'G');
        p.extend_from_slice(&value.to_be_bytes());
        p.extend_from_slice(&[
            0x86,
            b'q',
            memo.wrapping_add(1),
            0x86,
            b'q',
            memo.wrapping_add(2),
        ]);
        memo = memo.wrapping_add(3);
    }
    p.extend_from_slice(b"e.");
    p
}

fn bench(c: &mut Criterion) {
    let pts = points();
    let lines: Vec<String> = pts.iter().map(|(p, t, v)| format!("{p} {v} {t}")).collect();
    let frames: Vec<Vec<u8>> = pts.chunks(500).map(frame).collect();
    let mut g = c.benchmark_group("carbon");
    g.throughput(Throughput::Elements(POINTS as u64));
    g.bench_function("plaintext_lines", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in black_box(&lines) {
                n += usize::from(parse_line(l.as_bytes(), NOW, Kind::Gauge).is_ok());
            }
            assert_eq!(n, POINTS);
        })
    });
    g.bench_function("pickle_frames_of_500", |b| {
        b.iter(|| {
            let mut n = 0;
            for f in black_box(&frames) {
                for (path, ts, value) in pickle::decode(f).unwrap().into_iter().flatten() {
                    n += usize::from(datapoint(&path, ts, value, NOW, Kind::Gauge).is_ok());
                }
            }
            assert_eq!(n, POINTS);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
