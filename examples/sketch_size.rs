//! What a timer bucket costs at each sketch accuracy (issue 18): encoded bytes (the extra as
//! the WAL, segments, spools and ingest bodies write it) and heap bytes, for
//! (a) the distribution of `scripts/bench-percentiles.sh` (85 % lognormal, median 40 ms,
//!     σ 0.9; 15 % Pareto from 200 ms, α 1.3; whole milliseconds) — 5M values in one bucket;
//! (b) a 10 s StatsD timer bucket of 100 lognormal values (median 40 ms, σ 0.8), averaged over
//!     1,000 buckets.
//!   cargo run --release --example sketch_size
use tally::aggregate::sketch::{Accuracy, Sketch};
use tally::aggregate::{Bucket, Extra};

struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.uniform()).cos()
    }
}

fn bucket(a: Accuracy, values: &[f64]) -> Bucket {
    let mut s = Sketch::with_accuracy(a);
    values.iter().for_each(|&v| s.add(v));
    let mut b = Bucket::new(tally::metric::Kind::Gauge, values[0], 0);
    values[1..].iter().for_each(|&v| b.add(v, 0));
    b.extra = Extra::Sketch(Box::new(s));
    b
}

/// (encoded extra bytes, whole encoded bucket bytes, heap bytes)
fn cost(b: &Bucket) -> (usize, usize, usize) {
    let (mut extra, mut whole) = (Vec::new(), Vec::new());
    b.encode_extra(&mut extra);
    b.encode(&mut whole);
    (extra.len(), whole.len(), b.heap_bytes())
}

fn main() {
    let mut rng = Rng(18);
    let log: Vec<f64> = (0..5_000_000)
        .map(|_| {
            let v = if rng.uniform() < 0.85 {
                0.040 * (0.9 * rng.gauss()).exp()
            } else {
                0.200 / rng.uniform().powf(1.0 / 1.3)
            };
            (v * 1000.0).round().max(1.0)
        })
        .collect();
    println!("(a) 5M request times (ms) in one bucket: extra bytes / whole bucket / heap bytes");
    for a in [Accuracy::Coarse, Accuracy::Fine] {
        let (e, w, h) = cost(&bucket(a, &log));
        println!("  {a:?}: {e} / {w} / {h}");
    }
    println!("(b) 100 lognormal values a bucket, mean of 1,000 buckets: extra / whole / heap");
    let statsd: Vec<Vec<f64>> = (0..1000)
        .map(|_| (0..100).map(|_| 40.0 * (0.8 * rng.gauss()).exp()).collect())
        .collect();
    for a in [Accuracy::Coarse, Accuracy::Fine] {
        let (mut e, mut w, mut h) = (0, 0, 0);
        for values in &statsd {
            let c = cost(&bucket(a, values));
            (e, w, h) = (e + c.0, w + c.1, h + c.2);
        }
        let n = statsd.len() as f64;
        println!(
            "  {a:?}: {:.1} / {:.1} / {:.1}",
            e as f64 / n,
            w as f64 / n,
            h as f64 / n
        );
    }
}
