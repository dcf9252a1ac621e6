//! The collectors' settings, plain data the config module fills; every default is Diamond's.
//! [`Collectors::new`](super::Collectors::new) checks them (names, regexes, units).

use super::DEFAULT_COLLECTORS;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the collectors read and how they name things. Every default is Diamond's.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where procfs is (`/proc`; another path to watch a host from a container or to replay files).
    pub proc_root: PathBuf,
    /// Put before every collector's path, e.g. `servers.web1` (`{host}` already substituted).
    /// Empty: names start with the collector's path.
    pub prefix: String,
    /// Collector names to run, from [`ALL`](super::ALL).
    pub collectors: Vec<String>,
    pub cpu: CpuOptions,
    pub loadavg: LoadavgOptions,
    pub memory: MemoryOptions,
    pub diskspace: DiskSpaceOptions,
    pub iostat: IostatOptions,
    pub network: NetworkOptions,
    pub tcp: TcpOptions,
    pub processes: ProcessesOptions,
    pub uptime: UptimeOptions,
    /// Milliseconds between samples (default 1 s; the buckets' resolution is the schemas').
    pub interval_ms: u64,
    /// A collector's own sampling interval in milliseconds; without one, the collectors in
    /// [`SLOW`](super::SLOW) sample every 10 s (or `interval_ms` when longer), the others every
    /// `interval_ms`.
    pub intervals_ms: BTreeMap<String, u64>,
    /// Milliseconds between samples while someone watches a collector's series live (default:
    /// 250 for cpu, memory, loadavg and network); collectors not listed keep their interval.
    pub watch_ms: BTreeMap<String, u64>,
    /// Diamond's `metrics_whitelist` / `metrics_blacklist` per collector name: regexes matched at
    /// the start of the metric name below the collector's path (`total.user`, `sda.iops`).
    pub filters: BTreeMap<String, MetricFilter>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            proc_root: PathBuf::from("/proc"),
            prefix: "servers.localhost".to_string(),
            collectors: DEFAULT_COLLECTORS.iter().map(|s| s.to_string()).collect(),
            cpu: CpuOptions::default(),
            loadavg: LoadavgOptions::default(),
            memory: MemoryOptions::default(),
            diskspace: DiskSpaceOptions::default(),
            iostat: IostatOptions::default(),
            network: NetworkOptions::default(),
            tcp: TcpOptions::default(),
            processes: ProcessesOptions::default(),
            uptime: UptimeOptions::default(),
            interval_ms: 1000,
            intervals_ms: BTreeMap::new(),
            watch_ms: WATCHED.iter().map(|&c| (c.to_string(), 250)).collect(),
            filters: BTreeMap::new(),
        }
    }
}

/// The collectors that sample faster while watched, by default: cheap to read, fast-changing.
pub const WATCHED: [&str; 4] = ["cpu", "memory", "loadavg", "network"];

impl Settings {
    /// Milliseconds between `collector`'s samples when nobody watches it.
    pub fn interval_of(&self, collector: &str) -> u64 {
        match self.intervals_ms.get(collector) {
            Some(&ms) => ms,
            None if super::SLOW.contains(&collector) => {
                self.interval_ms.max(super::SLOW_INTERVAL_MS)
            }
            None => self.interval_ms,
        }
        .max(1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CpuOptions {
    /// Publish `cpu<N>.*` as well as `total.*` (Diamond: true).
    pub percore: bool,
    /// Divide `total.*` by the number of CPUs (Diamond: false).
    pub normalize: bool,
    /// Halve `.idle` on Xen guests that double it: `None` = detect (Diamond's default), `Some(false)`
    /// = never.
    pub xenfix: Option<bool>,
    /// Diamond's `simple`: publish only `percent`, the busy share of user+nice+system+idle.
    pub simple: bool,
}

impl Default for CpuOptions {
    fn default() -> CpuOptions {
        CpuOptions {
            percore: true,
            normalize: false,
            xenfix: None,
            simple: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UptimeOptions {
    /// Diamond's `metric_name`: the unit of `uptime.<metric_name>` and its name (`minutes`).
    pub metric_name: String,
}

impl Default for UptimeOptions {
    fn default() -> UptimeOptions {
        UptimeOptions {
            metric_name: "minutes".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadavgOptions {
    /// Diamond's `simple`: publish `load` and `load_normalized` (the 1-minute average) instead of
    /// `01 05 15` and their normalized forms.
    pub simple: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemoryOptions {
    /// Unit of the published values (Diamond's first `byte_unit`; default `byte`).
    pub unit: String,
    /// Publish every `Name: value kB` line, not only Diamond's key list.
    pub detailed: bool,
}

impl Default for MemoryOptions {
    fn default() -> MemoryOptions {
        MemoryOptions {
            unit: "byte".to_string(),
            detailed: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiskSpaceOptions {
    /// Filesystem types to report.
    pub filesystems: Vec<String>,
    /// Regexes searched in the mount point; a match excludes the filesystem.
    pub exclude_filters: Vec<String>,
    pub byte_units: Vec<String>,
    /// Where filesystem labels are read (udev's database `/run/udev/data`, or a by-label
    /// directory); `None` names by mount point.
    pub labels_dir: Option<PathBuf>,
    /// Put before each mount point when stat-ing it (e.g. `/host` when the host's `/` is mounted
    /// there); `None` stats the mount point itself.
    pub mount_root: Option<PathBuf>,
}

impl Default for DiskSpaceOptions {
    fn default() -> DiskSpaceOptions {
        DiskSpaceOptions {
            filesystems: [
                "ext2",
                "ext3",
                "ext4",
                "xfs",
                "glusterfs",
                "nfs",
                "nfs4",
                "ntfs",
                "hfs",
                "fat32",
                "fat16",
                "btrfs",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            exclude_filters: vec!["^/export/home".to_string()],
            byte_units: vec!["byte".to_string()],
            labels_dir: Some(PathBuf::from("/run/udev/data")),
            mount_root: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IostatOptions {
    /// Regex a device name must match (at its start).
    pub devices: String,
    /// Regex that excludes a device (matched at its start).
    pub exclude_devices: Option<String>,
    pub sector_size: u64,
    /// Publish devices that did no I/O in the interval too.
    pub send_zero: bool,
    pub byte_units: Vec<String>,
}

impl Default for IostatOptions {
    fn default() -> IostatOptions {
        IostatOptions {
            devices: "PhysicalDrive[0-9]+$|md[0-9]+$|sd[a-z]+[0-9]*$|x?vd[a-z]+[0-9]*$|disk[0-9]+$\
                      |nvme[0-9]+n[0-9]+(p[0-9]+)?$|dm\\-[0-9]+$"
                .to_string(),
            exclude_devices: None,
            sector_size: 512,
            send_zero: false,
            byte_units: vec!["byte".to_string()],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkOptions {
    /// Interface name prefixes (regexes, alternatives).
    pub interfaces: Vec<String>,
    /// Accept any name that starts with a prefix (true) rather than only the prefix itself.
    pub greedy: bool,
    /// Units `rx_bytes`/`tx_bytes` are published in, as `rx_<unit>`/`tx_<unit>`.
    pub byte_units: Vec<String>,
}

impl Default for NetworkOptions {
    fn default() -> NetworkOptions {
        NetworkOptions {
            interfaces: ["eth", "bond", "em", "p1p", "eno", "enp", "ens", "enx"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            greedy: true,
            byte_units: vec!["bit".to_string(), "byte".to_string()],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TcpOptions {
    /// `Tcp`/`TcpExt` fields to publish; empty publishes all.
    pub allowed_names: Vec<String>,
    /// Fields published as they are; the others are per-second rates.
    pub gauges: Vec<String>,
}

impl Default for TcpOptions {
    fn default() -> TcpOptions {
        let names = "ListenOverflows ListenDrops TCPLoss TCPTimeouts TCPFastRetrans \
                     TCPLostRetransmit TCPForwardRetrans TCPSlowStartRetrans CurrEstab \
                     TCPAbortOnMemory TCPBacklogDrop AttemptFails EstabResets InErrs ActiveOpens \
                     PassiveOpens";
        TcpOptions {
            allowed_names: names.split_whitespace().map(str::to_string).collect(),
            gauges: vec!["CurrEstab".to_string(), "MaxConn".to_string()],
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricFilter {
    pub whitelist: Vec<String>,
    pub blacklist: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessesOptions {
    /// Publish the N command names using the most CPU and the N using the most memory (0: off).
    pub top: usize,
}
