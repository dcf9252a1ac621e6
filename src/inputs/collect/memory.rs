//! `memory` — Diamond's MemoryCollector: `/proc/meminfo` lines of exactly three tokens
//! (`Name: value kB`), Diamond's key list (or every such line when `detailed`), converted from kB
//! to the configured unit (bytes by default), and `MemUsedPercentage` =
//! round(100 × (MemTotal − MemAvailable) / MemTotal, 2).

use super::{Emitter, Error, MemoryOptions, ProcFile, Unit, node};
use std::path::Path;

const KEYS: [&str; 16] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "Active",
    "Dirty",
    "Inactive",
    "Shmem",
    "SwapTotal",
    "SwapFree",
    "SwapCached",
    "VmallocTotal",
    "VmallocUsed",
    "VmallocChunk",
    "Committed_AS",
];

pub(super) struct Memory {
    file: ProcFile,
    unit: Unit,
    detailed: bool,
    buf: String,
}

impl Memory {
    pub(super) fn new(root: &Path, opts: &MemoryOptions) -> Result<Memory, Error> {
        Ok(Memory {
            file: ProcFile::whole(root.join("meminfo")),
            unit: Unit::parse(&opts.unit, "memory.unit")?,
            detailed: opts.detailed,
            buf: String::new(),
        })
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.file.set_path(root.join("meminfo"));
    }

    pub(super) fn collect(&mut self, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.file.read(&mut self.buf)?;
        let (mut total, mut available) = (None, None);
        for line in self.buf.lines() {
            let mut tokens = line.split_ascii_whitespace();
            let (Some(name), Some(value), Some("kB"), None) =
                (tokens.next(), tokens.next(), tokens.next(), tokens.next())
            else {
                continue;
            };
            let name = name.strip_suffix(':').unwrap_or(name);
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            if !self.detailed && !KEYS.contains(&name) {
                continue;
            }
            match name {
                "MemTotal" => total = Some(value),
                "MemAvailable" => available = Some(value),
                _ => {}
            }
            em.gauge(
                &[&node(name)],
                self.unit.convert_bytes(value as f64 * 1024.0),
            );
        }
        if let (Some(total), Some(available)) = (total, available)
            && total > 0
        {
            let used = total as f64 - available as f64;
            em.gauge(
                &["MemUsedPercentage"],
                (100.0 * used / total as f64 * 100.0).round() / 100.0,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run_two, values};
    use super::super::{MemoryOptions, Settings};

    fn settings(unit: &str, detailed: bool) -> Settings {
        Settings {
            collectors: vec!["memory".into()],
            memory: MemoryOptions {
                unit: unit.into(),
                detailed,
            },
            ..Settings::default()
        }
    }

    /// tests/data/proc/t0/meminfo, by hand: every value × 1024 (kB → bytes).
    /// MemUsedPercentage = 100 × (24684096 − 24215740) / 24684096 = 1.89740… → 1.9.
    #[test]
    fn diamond_keys_in_bytes() {
        let v = values(&run_two(settings("byte", false), "t0", None));
        let expect = [
            ("MemTotal", 24684096.0 * 1024.0),
            ("MemFree", 24065152.0 * 1024.0),
            ("MemAvailable", 24215740.0 * 1024.0),
            ("Buffers", 1780.0 * 1024.0),
            ("Cached", 297996.0 * 1024.0),
            ("Active", 90036.0 * 1024.0),
            ("Dirty", 64.0 * 1024.0),
            ("Inactive", 206292.0 * 1024.0),
            ("Shmem", 8788.0 * 1024.0),
            ("SwapTotal", 0.0),
            ("SwapFree", 0.0),
            ("SwapCached", 0.0),
            ("VmallocTotal", 34359738367.0 * 1024.0),
            ("VmallocUsed", 14220.0 * 1024.0),
            ("VmallocChunk", 0.0),
            ("Committed_AS", 53472.0 * 1024.0),
            ("MemUsedPercentage", 1.9),
        ];
        for (name, want) in expect {
            let got = v[&format!("servers.localhost.memory.{name}")];
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(v.len(), expect.len());
    }

    #[test]
    fn units_and_detailed() {
        let v = values(&run_two(settings("kB", true), "t0", None));
        assert_eq!(v["servers.localhost.memory.MemTotal"], 24684096.0);
        // `Active(anon): 1488 kB` becomes a valid node; two-token lines are skipped.
        assert_eq!(v["servers.localhost.memory.Active_anon"], 1488.0);
        assert!(!v.keys().any(|k| k.contains("HugePages_Total")));
        let v = values(&run_two(settings("megabyte", false), "t0", None));
        assert_eq!(v["servers.localhost.memory.MemTotal"], 24684096.0 / 1024.0);
    }
}
