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
