//! tally: one daemon per host that turns what the host does into numbers and graphs.
//!
//! Modules in the order data flows:
//! `config` (YAML → validated config) · `metric` (series, kinds, observations) ·
//! `inputs` (carbon; later tail, statsd, system) → `aggregate` (pure bucket maths) →
//! `store` (the only writer of `data_dir` outside `spool/`) → `query` (tiers, consolidation,
//! views, lineage) → `http` (Graphite API, ingest) · `ship` (outputs, spooled under
//! `data_dir/spool/`). `agent` is the only module that knows every stage.

pub mod agent;
pub mod aggregate;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod encoding;
pub mod frame;
pub mod graph;
pub mod http;
pub mod inputs;
pub mod live;
pub mod metric;
pub mod parse;
pub mod query;
pub mod schema;
pub mod ship;
pub mod store;

/// The cores this process may use (asked once: the answer reads cgroup files). Work that can
/// be split over two threads (a large fetch, a large PNG) asks this first.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `a()` on this thread and `b()` on another, both results (a panic in `b` goes on here).
pub fn join<A, B: Send>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|scope| {
        let other = scope.spawn(b);
        let a = a();
        let b = other
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (a, b)
    })
}

/// `f` of every item, in order; when `heavy` and there are two cores, the second half on
/// another thread (for per-item work that dominates a request, such as a large render).
pub fn split_map<T: Sync, U: Send>(items: &[T], heavy: bool, f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    if !heavy || items.len() < 2 || cores() < 2 {
        return items.iter().map(f).collect();
    }
    let (a, b) = items.split_at(items.len() / 2);
    let (mut out, rest) = join(
        || a.iter().map(&f).collect::<Vec<U>>(),
        || b.iter().map(&f).collect::<Vec<U>>(),
    );
    out.extend(rest);
    out
}
