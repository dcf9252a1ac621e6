//! The one integration-test crate: every test runs the real `tally` binary on 127.0.0.1:0
//! ports with its own temporary data directory.

mod util;

mod browser;
mod browser_append;
mod carbon_pickle;
mod cli;
mod collect;
mod commit_overlap;
mod config_include;
mod crash;
mod daemon;
mod grafana;
mod graph;
mod graphite_cluster;
mod health;
mod hot_code;
mod listen_busy;
mod live;
mod live_bounds;
mod render_formats;
mod render_limits;
mod ship;
mod ship_carbon;
mod ship_fleet;
mod ship_remote;
mod statsd;
mod statsd_console;
mod statsd_etsy;
mod tail;
mod ui;
