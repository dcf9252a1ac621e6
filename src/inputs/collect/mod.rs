//! System collectors with Diamond's names and maths: `cpu`, `memory`, `loadavg`, `vmstat`,
//! `diskspace`, `iostat` (Diamond's DiskUsage), `network`, `sockets`, `tcp`, `uptime`, and beyond
//! Diamond `pressure` (PSI) and `processes` (counts by state).
//!
//! Everything is read under a configurable proc root (never a hard-coded `/proc`), plus
//! `statvfs(2)` for `diskspace`. [`Collectors::collect`] runs one round and returns gauges named
//! `<prefix>.<collector>.<metric>` exactly as Diamond publishes them; rates are per-second gauges
//! computed over the real time between two samples. Where Diamond publishes a fake 0 on its first
//! sample, nothing is published until there are two. Each collector also reports its run time as
//! `tally.collect.<name>.ms` and, when it fails, `tally.collect.<name>.errors` (a counter, +1 per
//! failed round); one collector failing never stops the others.
//!
//! Time: the agent passes the seconds since the previous round; they add up to a private clock and
//! every previous sample remembers the clock value it was taken at, so a collector (or a device)
//! that missed rounds still gets the right rate. No wall clock is read except to time collectors.
//!
//! Counter wrap is Diamond's rule: when a counter goes backwards, `new - (old - max)`, then negative
//! results become 0 (`max` is 2^64-1 for /proc/stat, vmstat, net/dev and PSI, 2^32-1 for the
//! diskstats counts, 0 for tcp, whose decreases therefore give 0).

mod cpu;
mod diskspace;
mod emit;
#[cfg(test)]
mod fold_tests;
mod iostat;
mod labels;
mod loadavg;
mod memory;
mod network;
mod pressure;
mod processes;
mod procfile;
mod rows;
mod settings;
mod sockets;
mod tcp;
#[cfg(test)]
mod tests;
mod uptime;
mod vmstat;

use emit::{Emitter, Filter, Names, Stamp};
pub(crate) use procfile::ProcFile;
pub use settings::{
    CpuOptions, DiskSpaceOptions, IostatOptions, LoadavgOptions, MemoryOptions, MetricFilter,
    NetworkOptions, ProcessesOptions, Settings, TcpOptions, UptimeOptions, WATCHED,
};
pub(crate) use uptime::seconds_per as uptime_seconds_per;

use super::RateLimitedLog;
use crate::metric::{Kind, Observation, Series};
use regex::Regex;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every collector there is, in the order a round runs them; the default ones first.
pub const ALL: [&str; 12] = [
    "cpu",
    "memory",
    "loadavg",
    "vmstat",
    "diskspace",
    "iostat",
    "network",
    "sockets",
    "tcp",
    "uptime",
    "pressure",
    "processes",
];

/// The collectors a default configuration runs: the Diamond-compatible ones. `pressure` (absent on
/// kernels without PSI) and `processes` (reads one file per process) are opt-in.
pub const DEFAULT_COLLECTORS: &[&str] = ALL.as_slice().split_at(10).0;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown collector {0:?} (known: {known})", known = ALL.join(", "))]
    UnknownCollector(String),
    #[error("{option}: bad regex: {source}")]
    Regex {
        option: String,
        source: Box<regex::Error>,
    },
    #[error(
        "{option}: unknown unit {unit:?} (bit, kilobit|kbit|Kibit, …, byte|B, kilobyte|kB|KiB, megabyte|MB|MiB|Mbyte, …)"
    )]
    Unit { option: String, unit: String },
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {what}", path.display())]
    Parse { path: PathBuf, what: String },
}

/// Keeps the previous sample per collector so rates are computed over the real elapsed time,
/// and decides which collector is due when (see [`Collectors::collect_due`]).
pub struct Collectors {
    prefix: String,
    running: Vec<Running>,
    /// Sum of the `elapsed` passed so far: the time base previous samples are stamped with.
    clock: f64,
    /// Observations in the last round, to size the next one's vector.
    last_len: usize,
    /// The buffer names are built in.
    name: String,
}

/// Collectors that sample every [`SLOW_INTERVAL_MS`] (or the system interval when that is longer)
/// unless configured otherwise: `diskspace` calls statvfs on every mount (slow, and a hung NFS
/// server blocks it) for levels that change slowly, `processes` reads a file per process, and
/// `uptime` is a clock.
pub const SLOW: [&str; 3] = ["diskspace", "processes", "uptime"];
pub const SLOW_INTERVAL_MS: u64 = 10_000;

/// Most sampling intervals one late round stands for (see [`emit`]).
pub const MAX_WEIGHT: u32 = 60;

struct Running {
    name: &'static str,
    collector: Collector,
    filter: Filter,
    ms: Series,
    errors: Series,
    log: RateLimitedLog,
    names: Names,
    /// Milliseconds between samples, and between samples while its series are watched.
    interval_ms: u64,
    watch_ms: Option<u64>,
    /// `<prefix>.<collector>.`, what the watch hook is asked about.
    watch_prefix: String,
    /// Unix milliseconds of the next sample (`i64::MIN`: at once).
    next_ms: i64,
    /// Clock of the last sample and the interval the next one was scheduled on.
    last: Option<(f64, u64)>,
}

enum Collector {
    Cpu(cpu::Cpu),
    Memory(memory::Memory),
    Loadavg(loadavg::Loadavg),
    Vmstat(vmstat::Vmstat),
    DiskSpace(diskspace::DiskSpace),
    Iostat(iostat::Iostat),
    Network(network::Network),
    Sockets(sockets::Sockets),
    Tcp(tcp::Tcp),
    Uptime(uptime::Uptime),
    Pressure(pressure::Pressure),
    Processes(processes::Processes),
}

impl Collector {
    fn new(name: &str, s: &Settings) -> Result<Collector, Error> {
        let root = &s.proc_root;
        Ok(match name {
            "cpu" => Collector::Cpu(cpu::Cpu::new(root, &s.cpu)),
            "memory" => Collector::Memory(memory::Memory::new(root, &s.memory)?),
            "loadavg" => Collector::Loadavg(loadavg::Loadavg::new(root, &s.loadavg)),
            "vmstat" => Collector::Vmstat(vmstat::Vmstat::new(root)),
            "diskspace" => Collector::DiskSpace(diskspace::DiskSpace::new(root, &s.diskspace)?),
            "iostat" => Collector::Iostat(iostat::Iostat::new(root, &s.iostat)?),
            "network" => Collector::Network(network::Network::new(root, &s.network)?),
            "sockets" => Collector::Sockets(sockets::Sockets::new(root)),
            "tcp" => Collector::Tcp(tcp::Tcp::new(root, &s.tcp)),
            "uptime" => Collector::Uptime(uptime::Uptime::new(root, &s.uptime.metric_name)?),
            "pressure" => Collector::Pressure(pressure::Pressure::new(root)),
            "processes" => Collector::Processes(processes::Processes::new(root, s.processes.top)),
            other => return Err(Error::UnknownCollector(other.to_string())),
        })
    }

    fn set_root(&mut self, root: &Path) {
        match self {
            Collector::Cpu(c) => c.set_root(root),
            Collector::Memory(c) => c.set_root(root),
            Collector::Loadavg(c) => c.set_root(root),
            Collector::Vmstat(c) => c.set_root(root),
            Collector::DiskSpace(c) => c.set_root(root),
            Collector::Iostat(c) => c.set_root(root),
            Collector::Network(c) => c.set_root(root),
            Collector::Sockets(c) => c.set_root(root),
            Collector::Tcp(c) => c.set_root(root),
            Collector::Uptime(c) => c.set_root(root),
            Collector::Pressure(c) => c.set_root(root),
            Collector::Processes(c) => c.set_root(root),
        }
    }

    fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        match self {
            Collector::Cpu(c) => c.collect(clock, em),
            Collector::Memory(c) => c.collect(em),
            Collector::Loadavg(c) => c.collect(em),
            Collector::Vmstat(c) => c.collect(clock, em),
            Collector::DiskSpace(c) => c.collect(em),
            Collector::Iostat(c) => c.collect(clock, em),
            Collector::Network(c) => c.collect(clock, em),
            Collector::Sockets(c) => c.collect(em),
            Collector::Tcp(c) => c.collect(clock, em),
            Collector::Uptime(c) => c.collect(em),
            Collector::Pressure(c) => c.collect(clock, em),
            Collector::Processes(c) => c.collect(clock, em),
        }
    }
}

impl Collectors {
    /// Checks the settings (collector names, regexes, units) and prepares every collector.
    pub fn new(settings: Settings) -> Result<Collectors, Error> {
        let mut prefix = settings.prefix.trim_matches('.').to_string();
        if !prefix.is_empty() {
            prefix.push('.');
        }
        let mut running = Vec::new();
        for name in &settings.collectors {
            let Some(&name) = ALL.iter().find(|&&n| n == name) else {
                return Err(Error::UnknownCollector(name.clone()));
            };
            if running.iter().any(|r: &Running| r.name == name) {
                continue;
            }
            let filter = Filter::new(name, settings.filters.get(name))?;
            running.push(Running {
                name,
                collector: Collector::new(name, &settings)?,
                filter,
                ms: series(&format!("tally.collect.{name}.ms")),
                errors: series(&format!("tally.collect.{name}.errors")),
                log: RateLimitedLog::new(Duration::from_secs(60)),
                names: Names::default(),
                interval_ms: settings.interval_of(name),
                watch_ms: settings.watch_ms.get(name).copied().filter(|&ms| ms > 0),
                watch_prefix: format!("{prefix}{name}."),
                next_ms: i64::MIN,
                last: None,
            });
        }
        Ok(Collectors {
            prefix,
            running,
            clock: 0.0,
            last_len: 0,
            name: String::new(),
        })
    }

    /// Reads the next rounds from another proc root, keeping the previous samples: successive
    /// snapshots of a host copied to directories replay as successive rounds.
    pub fn set_proc_root(&mut self, root: &Path) {
        for r in &mut self.running {
            r.collector.set_root(root);
        }
    }

    /// Names of the collectors this runs, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.running.iter().map(|r| r.name)
    }

    /// One round of every collector (snapshots replayed, `tally collect`): reads `proc_root`
    /// (and statvfs for diskspace) and returns observations stamped `now`: Diamond's metrics as
    /// gauges (rates as per-second gauges), each collector's run time as
    /// `tally.collect.<name>.ms` and, for a collector that failed, `tally.collect.<name>.errors`
    /// +1 (what it read before failing is still returned). `elapsed` = seconds since the
    /// previous round; the first round publishes no rates, only gauges.
    pub fn collect(&mut self, now: i64, elapsed: f64) -> Vec<Observation> {
        self.advance(elapsed);
        let mut out = Vec::with_capacity(self.last_len + self.last_len / 8);
        for r in &mut self.running {
            let stamp = Stamp::single(now);
            run(
                r,
                (&self.prefix, &mut self.name),
                self.clock,
                stamp,
                &mut out,
            );
        }
        self.last_len = out.len();
        out
    }

    /// The daemon's round at unix milliseconds `now_ms`, `elapsed` seconds after the previous
    /// one: runs the collectors whose sample is due, each on its own interval aligned to the
    /// wall clock (a 1 s collector samples on whole seconds). A collector with a
    /// `watch_interval` asks `watching(<prefix>.<collector>.)` after each sample and, while it
    /// says yes, samples on that shorter interval. A sample that comes after several intervals
    /// (missed rounds) stands for each of them (weight, at most [`MAX_WEIGHT`]).
    pub fn collect_due(
        &mut self,
        now_ms: i64,
        elapsed: f64,
        watching: &dyn Fn(&str) -> bool,
    ) -> Vec<Observation> {
        self.advance(elapsed);
        let mut out = Vec::with_capacity(self.last_len + self.last_len / 8);
        for r in &mut self.running {
            if !r.due(now_ms) {
                continue;
            }
            let (weight, interval_ms) = match r.last {
                Some((at, iv)) => {
                    let w = ((self.clock - at) * 1000.0 / iv as f64).round();
                    (w.clamp(1.0, f64::from(MAX_WEIGHT)) as u32, iv)
                }
                None => (1, r.interval_ms),
            };
            let stamp = Stamp {
                now_ms,
                interval_ms: interval_ms as i64,
                weight,
            };
            run(
                r,
                (&self.prefix, &mut self.name),
                self.clock,
                stamp,
                &mut out,
            );
            let watched = r.watch_ms.is_some() && watching(&r.watch_prefix);
            let iv = match r.watch_ms {
                Some(fast) if watched => fast.min(r.interval_ms),
                _ => r.interval_ms,
            };
            let step = iv as i64;
            r.next_ms = (now_ms.div_euclid(step) + 1) * step;
            r.last = Some((self.clock, iv));
        }
        if !out.is_empty() {
            self.last_len = out.len();
        }
        out
    }

    /// Unix milliseconds at which the next collector is due (`None`: no collectors); `now_ms`
    /// when the wall clock went back by more than a collector's interval.
    pub fn next_due_ms(&self, now_ms: i64) -> Option<i64> {
        self.running
            .iter()
            .map(|r| if r.due(now_ms) { now_ms } else { r.next_ms })
            .min()
    }

    fn advance(&mut self, elapsed: f64) {
        if elapsed.is_finite() && elapsed > 0.0 {
            self.clock += elapsed;
        }
    }
}

impl Running {
    /// Whether its sample is due at `now_ms`: its time has come, or the wall clock went back
    /// by more than its interval (it would otherwise wait that long).
    fn due(&self, now_ms: i64) -> bool {
        let interval = self.last.map_or(self.interval_ms, |(_, iv)| iv) as i64;
        self.next_ms <= now_ms || self.next_ms - now_ms > interval
    }
}

/// Runs one collector and adds its run time (and failure) to `out`.
fn run(
    r: &mut Running,
    (prefix, name): (&str, &mut String),
    clock: f64,
    stamp: Stamp,
    out: &mut Vec<Observation>,
) {
    let start = Instant::now();
    r.names.warm();
    let mut em = Emitter::new(out, name, (prefix, r.name), stamp, &r.filter, &mut r.names);
    let result = r.collector.collect(clock, &mut em);
    r.names.finish();
    let now = stamp.now_ms.div_euclid(1000);
    if let Err(e) = result {
        let name = r.name;
        r.log.log(|suppressed| {
            tracing::warn!(collector = name, error = %e, suppressed, "Collector failed.");
        });
        out.push(Observation {
            series: r.errors.clone(),
            kind: Kind::Counter,
            value: 1.0,
            time: now,
        });
    }
    out.push(Observation {
        series: r.ms.clone(),
        kind: Kind::Gauge,
        value: start.elapsed().as_secs_f64() * 1000.0,
        time: now,
    });
}

fn series(name: &str) -> Series {
    Series::parse(name).expect("collector self-metric names are valid")
}

/// Compiles `re` to match at the start of the text only, as Python's `re.match` does.
fn anchored(re: &str, option: &str) -> Result<Regex, Error> {
    regex(&format!("^(?:{re})"), option)
}

fn regex(re: &str, option: &str) -> Result<Regex, Error> {
    Regex::new(re).map_err(|e| Error::Regex {
        option: option.to_string(),
        source: Box::new(e),
    })
}

/// Reads a whole (proc) file into `buf`, replacing what it held.
pub(crate) fn read_into(path: &Path, buf: &mut String) -> Result<(), Error> {
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(buf))
        .map(|_| ())
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
}

pub(crate) fn parse_error(path: &Path, what: impl Into<String>) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Diamond's `derivative` numerator: `new - old`, or `new - (old - max)` when the counter went
/// backwards (a wrap at `max`); a negative result is 0.
pub(crate) fn delta(old: u64, new: u64, max: u64) -> f64 {
    if new >= old {
        (new - old) as f64
    } else {
        let d = i128::from(new) - i128::from(old) + i128::from(max);
        if d < 0 { 0.0 } else { d as f64 }
    }
}

/// A unit of Diamond's `diamond.convertor.binary` (1 kilobyte = 1024 bytes, 1 megabit = 2^20
/// bits), keeping the spelling it was configured with: that spelling is in the metric names.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub(crate) name: String,
    bytes: bool,
    power: i32,
}

impl Unit {
    pub(crate) fn parse(name: &str, option: &str) -> Result<Unit, Error> {
        const BITS: [&[&str]; 9] = [
            &["bit", "b"],
            &["kilobit", "kbit", "Kibit"],
            &["megabit", "Mbit", "Mibit"],
            &["gigabit", "Gbit", "Gibit"],
            &["terabit", "Tbit", "Tibit"],
            &["petabit", "Pbit", "Pibit"],
            &["exabit", "Ebit", "Eibit"],
            &["zettabit", "Zbit", "Zibit"],
            &["yottabit", "Ybit", "Yibit"],
        ];
        const BYTES: [&[&str]; 9] = [
            &["byte", "B"],
            &["kilobyte", "kB", "KiB"],
            &["megabyte", "MB", "MiB", "Mbyte"],
            &["gigabyte", "GB", "GiB"],
            &["terabyte", "TB", "TiB"],
            &["petabyte", "PB", "PiB"],
            &["exabyte", "EB", "EiB"],
            &["zettabyte", "ZB", "ZiB"],
            &["yottabyte", "YB", "YiB"],
        ];
        for (bytes, table) in [(false, &BITS), (true, &BYTES)] {
            if let Some(power) = table.iter().position(|names| names.contains(&name)) {
                return Ok(Unit {
                    name: name.to_string(),
                    bytes,
                    power: power as i32,
                });
            }
        }
        Err(Error::Unit {
            option: option.to_string(),
            unit: name.to_string(),
        })
    }

    pub(crate) fn parse_all(names: &[String], option: &str) -> Result<Vec<Unit>, Error> {
        names.iter().map(|n| Unit::parse(n, option)).collect()
    }

    /// Converts a number of bytes to this unit, in Diamond's order of operations.
    pub(crate) fn convert_bytes(&self, bytes: f64) -> f64 {
        let bits = bytes * 8.0;
        let base = if self.bytes { bits / 8.0 } else { bits };
        base / 1024f64.powi(self.power)
    }
}

/// Makes free text (a label, a meminfo key) one valid path node: characters a [`Series`] cannot
/// hold become `_`.
pub(crate) fn node(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, ';' | '(' | ')' | ',' | '"' | '\'' | '|' | '{' | '}')
    };
    if !text.contains(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut s: String = text.chars().map(|c| if bad(c) { '_' } else { c }).collect();
    while s.ends_with('_') && s.len() > 1 {
        s.pop();
    }
    std::borrow::Cow::Owned(s)
}
