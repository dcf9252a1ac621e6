//! `inputs.system`: the Diamond-style collectors. Every option has Diamond's default and, where
//! Diamond has one, Diamond's name (`metrics_whitelist`, `byte_unit`, `exclude_filters`, …), so a
//! Diamond `collectors/*.conf` translates line by line.

use super::{Problems, schema};
use crate::inputs::collect::{self, MetricFilter, Settings};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SystemFile {
    /// Default true.
    pub enabled: Option<bool>,
    /// How often the collectors sample (default `1s`; `500ms` works too), whatever the
    /// buckets' resolution: the samples of a bucket are folded into it. A collector may set its
    /// own (diskspace, processes and uptime default to `10s`).
    pub interval: Option<Spanned<String>>,
    /// Before every name (default `servers.{host}`, as Diamond's path prefix and hostname).
    pub prefix: Option<Spanned<String>>,
    /// Where /proc is (default `/proc`, or `$HOST_PROC` when set): lets tally in a container
    /// watch its host.
    pub proc_root: Option<String>,
    /// Where the host's `/` is mounted when tally runs in a container (`diskspace` stats each
    /// mount point under it); default none: mount points are stat-ed as they are.
    pub mount_root: Option<String>,
    /// Which collectors run (default: cpu, memory, loadavg, vmstat, diskspace, iostat, network,
    /// sockets, tcp, uptime). A collector's own `enabled` adds or removes it.
    pub collectors: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub cpu: CpuFile,
    #[serde(default)]
    pub memory: MemoryFile,
    #[serde(default)]
    pub loadavg: LoadavgFile,
    #[serde(default)]
    pub vmstat: CommonFile,
    #[serde(default)]
    pub diskspace: DiskSpaceFile,
    #[serde(default)]
    pub iostat: IostatFile,
    #[serde(default)]
    pub network: NetworkFile,
    #[serde(default)]
    pub sockets: CommonFile,
    #[serde(default)]
    pub tcp: TcpFile,
    #[serde(default)]
    pub uptime: UptimeFile,
    #[serde(default)]
    pub pressure: CommonFile,
    #[serde(default)]
    pub processes: ProcessesFile,
}

/// Declares a collector's section: the options every collector takes, then its own.
macro_rules! collector_file {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Run this collector (adds it to, or removes it from, `collectors`).
            pub enabled: Option<Spanned<bool>>,
            /// This collector's sampling interval (default: the system `interval`; `10s` for
            /// diskspace, processes and uptime).
            pub interval: Option<Spanned<String>>,
            /// Its sampling interval while someone watches its series live (`off`: never
            /// faster); default `250ms` for cpu, memory, loadavg and network, else off.
            pub watch_interval: Option<Spanned<String>>,
            /// Regexes matched at the start of a metric's name below the collector's path
            /// (`total.user`, `sda.iops`); when given, only matching metrics are published.
            pub metrics_whitelist: Option<Vec<Spanned<String>>>,
            /// Regexes as above; matching metrics are not published.
            pub metrics_blacklist: Option<Vec<Spanned<String>>>,
            $($(#[$fdoc])* pub $field: $ty,)*
        }
    };
}

collector_file!(
    /// A collector with no options of its own.
    CommonFile {}
);

collector_file!(CpuFile {
    /// Publish `cpu<N>.*` besides `total.*` (default true).
    percore: Option<bool>,
    /// Divide `total.*` by the number of CPUs (default false).
    normalize: Option<bool>,
    /// Halve `idle` on Xen guests that double it (default: detect, as Diamond).
    xenfix: Option<bool>,
    /// Publish only `percent`, the busy share of all CPUs (default false).
    simple: Option<bool>,
});

collector_file!(LoadavgFile {
    /// Publish `load` and `load_normalized` (1-minute) instead of `01 05 15` (default false).
    simple: Option<bool>,
});

collector_file!(MemoryFile {
    /// Unit of the published values (default `byte`; `kB`, `MB`, `GiB`, …).
    byte_unit: Option<Spanned<String>>,
    /// Publish every line of /proc/meminfo, not only Diamond's list (default false).
    detailed: Option<bool>,
});

collector_file!(DiskSpaceFile {
    /// Filesystem types reported (default: ext2/3/4, xfs, btrfs, nfs, nfs4, glusterfs, …).
    filesystems: Option<Vec<String>>,
    /// Regexes searched in the mount point; a match leaves the filesystem out.
    exclude_filters: Option<Vec<Spanned<String>>>,
    /// Units of the byte metrics (default `[byte]`).
    byte_unit: Option<Vec<Spanned<String>>>,
    /// Where labels are read (default udev's database `/run/udev/data`, also under
    /// `PrivateDevices=yes`; a by-label directory works too; empty: name by mount point).
    labels_dir: Option<String>,
});

collector_file!(IostatFile {
    /// Regex a device name must match at its start (default: Diamond's sd/vd/xvd/nvme/md/dm).
    devices: Option<Spanned<String>>,
    /// Regex that leaves a device out (matched at its start).
    exclude_devices: Option<Spanned<String>>,
    /// Bytes per sector (default 512).
    sector_size: Option<u64>,
    /// Publish devices that did no I/O in the interval too (default false).
    send_zero: Option<bool>,
    /// Units of the byte metrics (default `[byte]`).
    byte_unit: Option<Vec<Spanned<String>>>,
});

collector_file!(NetworkFile {
    /// Interface name prefixes (regexes; default eth, bond, em, p1p, eno, enp, ens, enx).
    interfaces: Option<Vec<Spanned<String>>>,
    /// Accept any name that starts with a prefix, not only the prefix plus digits (default true).
    greedy: Option<bool>,
    /// Units of `rx_<unit>`/`tx_<unit>` (default `[bit, byte]`).
    byte_unit: Option<Vec<Spanned<String>>>,
});

collector_file!(TcpFile {
    /// `Tcp`/`TcpExt` fields published (default: Diamond's list; empty: all).
    allowed_names: Option<Vec<String>>,
    /// Fields published as levels; the others are per-second rates (default CurrEstab, MaxConn).
    gauges: Option<Vec<String>>,
});

collector_file!(UptimeFile {
    /// Unit of the uptime and the metric's name, as Diamond's `metric_name` (default `minutes`;
    /// `seconds`, `hours`, `days`, `years`, `ms`, `s`, `h`, `d`, …).
    metric_name: Option<Spanned<String>>,
});

collector_file!(ProcessesFile {
    /// Also publish the N processes using the most CPU and memory, summed by command name
    /// (`top.cpu.<comm>` percent of one CPU, `top.rss.<comm>` bytes); default 0 (off).
    top: Option<usize>,
});

/// The validated section.
#[derive(Debug, Clone, PartialEq)]
pub struct System {
    /// Milliseconds between samples (collectors may have their own: `settings.intervals_ms`).
    pub interval_ms: u64,
    /// With `{host}` already replaced.
    pub prefix: String,
    /// The collectors' settings, checked.
    pub settings: Settings,
}

pub(super) fn validate(s: SystemFile, hostname: &str, p: &mut Problems<'_>) -> Option<System> {
    if s.enabled == Some(false) {
        return None;
    }
    let prefix = match &s.prefix {
        None => format!("servers.{hostname}"),
        Some(sp) => {
            let expanded = sp.value.replace("{host}", hostname);
            if !expanded.is_empty() && crate::metric::Series::parse(&expanded).is_err() {
                p.at(
                    sp,
                    format!("prefix {:?} is not a valid series name", sp.value),
                );
            }
            expanded
        }
    };
    let mut settings = Settings {
        prefix,
        ..Settings::default()
    };
    if let Some(list) = &s.collectors {
        for c in list {
            if !collect::ALL.contains(&c.value.as_str()) {
                p.at(
                    c,
                    format!(
                        "unknown collector {:?}; known: {}",
                        c.value,
                        collect::ALL.join(", ")
                    ),
                );
            }
        }
        settings.collectors = list.iter().map(|c| c.value.clone()).collect();
    }
    let proc_root = s
        .proc_root
        .or_else(|| std::env::var("HOST_PROC").ok().filter(|v| !v.is_empty()))
        .or_else(|| {
            std::env::var("TALLY_PROC_ROOT")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| "/proc".to_string());
    settings.proc_root = PathBuf::from(proc_root);
    settings.diskspace.mount_root = s.mount_root.filter(|m| !m.is_empty()).map(PathBuf::from);
    settings.interval_ms = interval_ms(&s.interval, p).unwrap_or(1000);

    let mut intervals = BTreeMap::new();
    let mut watch = settings.watch_ms.clone();
    let mut common =
        |name: &'static str,
         enabled: &Option<Spanned<bool>>,
         (interval, watch_interval): (&Option<Spanned<String>>, &Option<Spanned<String>>),
         white: &Option<Vec<Spanned<String>>>,
         black: &Option<Vec<Spanned<String>>>,
         p: &mut Problems<'_>| {
            if let Some(e) = enabled {
                let present = settings.collectors.iter().any(|c| c == name);
                if e.value && !present {
                    settings.collectors.push(name.to_string());
                } else if !e.value {
                    settings.collectors.retain(|c| c != name);
                }
            }
            if let Some(ms) = interval_ms(interval, p) {
                intervals.insert(name.to_string(), ms);
            }
            match watch_interval {
                Some(w) if w.value.trim() == "off" => {
                    watch.remove(name);
                }
                Some(_) => {
                    if let Some(ms) = interval_ms(watch_interval, p) {
                        watch.insert(name.to_string(), ms);
                    }
                }
                None => {}
            }
            let white = regexes(white, p);
            let black = regexes(black, p);
            if !white.is_empty() || !black.is_empty() {
                settings.filters.insert(
                    name.to_string(),
                    MetricFilter {
                        whitelist: white,
                        blacklist: black,
                    },
                );
            }
        };
    macro_rules! common {
        ($name:literal, $f:expr) => {
            common(
                $name,
                &$f.enabled,
                (&$f.interval, &$f.watch_interval),
                &$f.metrics_whitelist,
                &$f.metrics_blacklist,
                p,
            )
        };
    }
    common!("cpu", s.cpu);
    common!("memory", s.memory);
    common!("loadavg", s.loadavg);
    common!("vmstat", s.vmstat);
    common!("diskspace", s.diskspace);
    common!("iostat", s.iostat);
    common!("network", s.network);
    common!("sockets", s.sockets);
    common!("tcp", s.tcp);
    common!("uptime", s.uptime);
    common!("pressure", s.pressure);
    common!("processes", s.processes);

    let cpu = &mut settings.cpu;
    cpu.percore = s.cpu.percore.unwrap_or(cpu.percore);
    cpu.normalize = s.cpu.normalize.unwrap_or(cpu.normalize);
    cpu.xenfix = s.cpu.xenfix.or(cpu.xenfix);
    cpu.simple = s.cpu.simple.unwrap_or(cpu.simple);
    settings.loadavg.simple = s.loadavg.simple.unwrap_or(false);

    if let Some(u) = &s.memory.byte_unit {
        check_unit(u, p);
        settings.memory.unit = u.value.clone();
    }
    settings.memory.detailed = s.memory.detailed.unwrap_or(false);

    let d = &mut settings.diskspace;
    if let Some(f) = s.diskspace.filesystems {
        d.filesystems = f;
    }
    if s.diskspace.exclude_filters.is_some() {
        d.exclude_filters = regexes(&s.diskspace.exclude_filters, p);
    }
    if let Some(units) = &s.diskspace.byte_unit {
        d.byte_units = units_of(units, p);
    }
    if let Some(dir) = s.diskspace.labels_dir {
        d.labels_dir = (!dir.is_empty()).then(|| PathBuf::from(dir));
    }

    let io = &mut settings.iostat;
    if let Some(re) = &s.iostat.devices {
        io.devices = regex(re, p);
    }
    if let Some(re) = &s.iostat.exclude_devices {
        io.exclude_devices = Some(regex(re, p));
    }
    if let Some(n) = s.iostat.sector_size {
        io.sector_size = n.max(1);
    }
    io.send_zero = s.iostat.send_zero.unwrap_or(io.send_zero);
    if let Some(units) = &s.iostat.byte_unit {
        io.byte_units = units_of(units, p);
    }

    let net = &mut settings.network;
    if s.network.interfaces.is_some() {
        net.interfaces = regexes(&s.network.interfaces, p);
    }
    net.greedy = s.network.greedy.unwrap_or(net.greedy);
    if let Some(units) = &s.network.byte_unit {
        net.byte_units = units_of(units, p);
    }

    if let Some(names) = s.tcp.allowed_names {
        settings.tcp.allowed_names = names;
    }
    if let Some(g) = s.tcp.gauges {
        settings.tcp.gauges = g;
    }
    settings.processes.top = s.processes.top.unwrap_or(0);
    if let Some(name) = &s.uptime.metric_name {
        if collect::uptime_seconds_per(&name.value).is_none() {
            p.at(
                name,
                format!(
                    "uptime.metric_name {:?} is not a time unit (seconds, minutes, hours, days, \
                     years, ms, us, ns, s, m, h, d, y)",
                    name.value
                ),
            );
        } else if crate::metric::Series::parse(&name.value).is_err() {
            p.at(
                name,
                format!("uptime.metric_name {:?} is not a valid name", name.value),
            );
        }
        settings.uptime.metric_name = name.value.clone();
    }

    settings.intervals_ms = intervals;
    settings.watch_ms = watch;
    Some(System {
        interval_ms: settings.interval_ms,
        prefix: settings.prefix.clone(),
        settings,
    })
}

/// Shortest sampling interval.
const MIN_INTERVAL_MS: u64 = 100;

/// A sampling interval in milliseconds (`1s`, `250ms`), at least [`MIN_INTERVAL_MS`].
fn interval_ms(value: &Option<Spanned<String>>, p: &mut Problems<'_>) -> Option<u64> {
    let v = value.as_ref()?;
    match schema::parse_duration_ms(&v.value) {
        Ok(ms) if ms >= MIN_INTERVAL_MS => Some(ms),
        Ok(_) => {
            p.at(v, format!("interval {:?} is under 100ms", v.value));
            None
        }
        Err(e) => {
            p.at(v, e);
            None
        }
    }
}

fn regex(re: &Spanned<String>, p: &mut Problems<'_>) -> String {
    if let Err(e) = regex::Regex::new(&re.value) {
        p.at(re, format!("bad regex {:?}: {e}", re.value));
    }
    re.value.clone()
}

fn regexes(list: &Option<Vec<Spanned<String>>>, p: &mut Problems<'_>) -> Vec<String> {
    list.iter().flatten().map(|re| regex(re, p)).collect()
}

fn check_unit(u: &Spanned<String>, p: &mut Problems<'_>) {
    if let Err(e) = collect::Unit::parse(&u.value, "byte_unit") {
        p.at(u, e);
    }
}

fn units_of(units: &[Spanned<String>], p: &mut Problems<'_>) -> Vec<String> {
    if units.is_empty() {
        return vec!["byte".to_string()];
    }
    units
        .iter()
        .map(|u| {
            check_unit(u, p);
            u.value.clone()
        })
        .collect()
}
