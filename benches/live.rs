//! The live tier's fold path: what `Pipeline::fold` pays per feed for the live tier, with
//! nobody watching (one atomic load, no allocation: counted by a counting global allocator
//! and printed) and with every series of the feed watched.
//! `cargo bench --bench live`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tally::inputs::Feed;
use tally::live::Tier;
use tally::metric::{Kind, Observation, Series};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn feed(series: usize) -> (Vec<Series>, Feed) {
    let names: Vec<Series> = (0..series)
        .map(|i| Series::parse(&format!("servers.host.app.requests.{i}")).unwrap())
        .collect();
    let now = tally::live::now_ms() / 1000;
    let obs = names
        .iter()
        .map(|s| Observation {
            series: s.clone(),
            kind: Kind::Gauge,
            value: 1.5,
            time: now,
        })
        .collect();
    (names, Feed::observations(obs))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("live");
    let (names, f) = feed(64);
    group.throughput(Throughput::Elements(f.observations.len() as u64));
    let tier = Arc::new(Tier::new(tally::config::Live::default()));
    drop(tier.take_attach_queue());
    // Unwatched: count the allocations of a million feeds first.
    let before = ALLOCS.load(Relaxed);
    for _ in 0..1_000_000 {
        tier.feed(black_box(&f));
    }
    let allocs = ALLOCS.load(Relaxed) - before;
    println!("live/feed_unwatched: {allocs} allocations in 1,000,000 feeds of 64 observations");
    assert_eq!(allocs, 0);
    group.bench_function("feed_unwatched/64", |b| b.iter(|| tier.feed(black_box(&f))));
    let mut conn = tier.connect().unwrap();
    let list = names.iter().map(|s| (s.clone(), Kind::Gauge)).collect();
    rt.block_on(conn.attach(list)).unwrap();
    group.bench_function("feed_watched/64", |b| b.iter(|| tier.feed(black_box(&f))));
    let before = ALLOCS.load(Relaxed);
    for _ in 0..1000 {
        tier.feed(black_box(&f));
    }
    println!(
        "live/feed_watched: {} allocations in 1,000 feeds of 64 observations",
        ALLOCS.load(Relaxed) - before
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
