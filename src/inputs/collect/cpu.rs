//! `cpu` — Diamond's CPUCollector: `/proc/stat` `cpu` lines as Δjiffies per second (USER_HZ is
//! 100, so a core's values are percent of that core and `total.*` adds up to 100 × CPUs), per core
//! (`cpu<N>.<field>`) and `total.<field>`, plus `cpu_count`. `normalize` divides `total.*` by the
//! number of CPUs. Diamond's Xen fix halves every `.idle` when `<root>/xen` exists and cpu0's
//! values add up to more than 110. `simple` publishes only `percent`: 100 − idle's share of
//! Δ(user + nice + system + idle) of the `cpu` line, to 4 decimals, as Diamond — over the time
//! since the previous round, where Diamond sleeps 1 s inside the collector.

use super::{CpuOptions, Emitter, Error, ProcFile, delta, parse_error};
use std::path::{Path, PathBuf};

const FIELDS: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];

#[derive(Clone, Default)]
struct Line {
    /// `total` for the `cpu` line, else `cpu<N>`.
    name: String,
    values: [u64; 10],
    len: usize,
}

pub(super) struct Cpu {
    file: ProcFile,
    xen_dir: PathBuf,
    opts: CpuOptions,
    /// Whether the Xen check still runs (Diamond stops once cpu0 adds up to 1..=110).
    xen_check: bool,
    buf: String,
    prev: Vec<Line>,
    prev_at: Option<f64>,
    cur: Vec<Line>,
    rates: Vec<(usize, usize, f64)>,
}

impl Cpu {
    pub(super) fn new(root: &Path, opts: &CpuOptions) -> Cpu {
        Cpu {
            file: ProcFile::whole(root.join("stat")),
            xen_dir: root.join("xen"),
            opts: opts.clone(),
            xen_check: opts.xenfix != Some(false),
            buf: String::new(),
            prev: Vec::new(),
            prev_at: None,
            cur: Vec::new(),
            rates: Vec::new(),
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.file.set_path(root.join("stat"));
        self.xen_dir = root.join("xen");
    }

    pub(super) fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.file.read(&mut self.buf)?;
        let mut lines = 0usize;
        let mut used = 0usize;
        for line in self.buf.lines().filter(|l| l.starts_with("cpu")) {
            lines += 1;
            let mut tokens = line.split_ascii_whitespace();
            let label = tokens.next().unwrap_or_default();
            let total = label == "cpu";
            if !total && (!self.opts.percore || self.opts.simple) {
                continue;
            }
            if used == self.cur.len() {
                self.cur.push(Line::default());
            }
            let entry = &mut self.cur[used];
            entry.name.clear();
            entry.name.push_str(if total { "total" } else { label });
            entry.len = 0;
            for (slot, token) in entry.values.iter_mut().zip(tokens) {
                *slot = token
                    .parse()
                    .map_err(|_| parse_error(self.file.path(), format!("bad number {token:?}")))?;
                entry.len += 1;
            }
            used += 1;
        }
        self.cur.truncate(used);
        if lines == 0 {
            return Err(parse_error(self.file.path(), "no cpu lines"));
        }
        let ncpus = lines - 1;
        if self.opts.simple {
            self.percent(em);
            std::mem::swap(&mut self.prev, &mut self.cur);
            self.prev_at = Some(clock);
            return Ok(());
        }
        em.gauge(&["cpu_count"], ncpus as f64);

        self.rates.clear();
        if let Some(dt) = self.prev_at.map(|at| clock - at).filter(|&dt| dt > 0.0) {
            for (i, cur) in self.cur.iter().enumerate() {
                let prev = match self.prev.get(i).filter(|p| p.name == cur.name) {
                    Some(p) => p,
                    None => match self.prev.iter().find(|p| p.name == cur.name) {
                        Some(p) => p,
                        None => continue,
                    },
                };
                let div = if self.opts.normalize && cur.name == "total" && ncpus > 0 {
                    ncpus as f64
                } else {
                    1.0
                };
                for f in 0..cur.len.min(prev.len) {
                    let rate = delta(prev.values[f], cur.values[f], u64::MAX) / dt / div;
                    self.rates.push((i, f, rate));
                }
            }
            self.xen_fix();
        }
        for &(i, f, rate) in &self.rates {
            em.rate(&[&self.cur[i].name, FIELDS[f]], rate);
        }
        std::mem::swap(&mut self.prev, &mut self.cur);
        self.prev_at = Some(clock);
        Ok(())
    }

    /// `simple`: the busy share of the four first fields of the `cpu` line since the last round.
    fn percent(&self, em: &mut Emitter<'_>) {
        let total = |lines: &[Line]| lines.iter().find(|l| l.name == "total").cloned();
        let (Some(prev), Some(cur)) = (total(&self.prev), total(&self.cur)) else {
            return;
        };
        if prev.len < 4 || cur.len < 4 {
            return;
        }
        let d: Vec<f64> = (0..4)
            .map(|f| delta(prev.values[f], cur.values[f], u64::MAX))
            .collect();
        let sum: f64 = d.iter().sum();
        if sum > 0.0 {
            let percent = 100.0 - d[3] * 100.0 / sum;
            em.rate(&["percent"], (percent * 1e4).round() / 1e4);
        }
    }

    /// Diamond's check for the Xen bug that doubles idle time in guests.
    fn xen_fix(&mut self) {
        if !self.xen_check {
            return;
        }
        if !self.xen_dir.is_dir() {
            self.xen_check = false;
            return;
        }
        let total: f64 = self
            .rates
            .iter()
            .filter(|&&(i, _, _)| self.cur[i].name == "cpu0")
            .map(|&(_, _, r)| r.trunc())
            .sum();
        if total > 110.0 {
            for (_, f, rate) in &mut self.rates {
                if FIELDS[*f] == "idle" {
                    *rate /= 2.0;
                }
            }
        } else if total > 0.0 {
            self.xen_check = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture, run_two, values};
    use super::super::{CpuOptions, Settings};

    fn settings(opts: CpuOptions) -> Settings {
        Settings {
            collectors: vec!["cpu".into()],
            cpu: opts,
            ..Settings::default()
        }
    }

    /// tests/data/proc/t0 → t1 (captured 10.02 s apart; the tests say 10 s). Expected values by
    /// hand from the `cpu` lines, (t1 − t0) / 10:
    ///   t0: cpu  703266 4816 91528 426396 14161 0 2671 1495 0 0
    ///   t1: cpu  703272 4816 91571 428343 14164 0 2672 1495 0 0
    /// user 6/10 = 0.6, system 43/10 = 4.3, idle 1947/10 = 194.7, iowait 0.3, softirq 0.1, the
    /// rest 0. cpu0 (308320 2719 38803 266620 4468 0 120 → 308325 2719 38808 267610 4468 0 121):
    /// user 0.5, system 0.5, idle 99.0, softirq 0.1. cpu1 (394945 … 52724 159776 9693 →
    /// 394946 … 52763 160732 9696): user 0.1, system 3.9, idle 95.6, iowait 0.3.
    #[test]
    fn rates_per_core_and_total() {
        let first = run_two(settings(CpuOptions::default()), "t0", None);
        let v = values(&first);
        assert_eq!(v["servers.localhost.cpu.cpu_count"], 2.0);
        assert_eq!(v.len(), 1, "only cpu_count on the first sample: {v:?}");

        let v = values(&run_two(
            settings(CpuOptions::default()),
            "t0",
            Some(("t1", 10.0)),
        ));
        let expect = [
            ("total.user", 0.6),
            ("total.nice", 0.0),
            ("total.system", 4.3),
            ("total.idle", 194.7),
            ("total.iowait", 0.3),
            ("total.irq", 0.0),
            ("total.softirq", 0.1),
            ("total.steal", 0.0),
            ("total.guest", 0.0),
            ("total.guest_nice", 0.0),
            ("cpu0.user", 0.5),
            ("cpu0.system", 0.5),
            ("cpu0.idle", 99.0),
            ("cpu0.softirq", 0.1),
            ("cpu1.user", 0.1),
            ("cpu1.system", 3.9),
            ("cpu1.idle", 95.6),
            ("cpu1.iowait", 0.3),
            ("cpu_count", 2.0),
        ];
        for (name, want) in expect {
            let got = v[&format!("servers.localhost.cpu.{name}")];
            assert!((got - want).abs() < 1e-9, "{name}: {got} != {want}");
        }
        // 2 cores + total, 10 fields each, and cpu_count.
        assert_eq!(v.len(), 31);
    }

    #[test]
    fn normalize_divides_totals_only_and_percore_off_drops_cores() {
        let opts = CpuOptions {
            percore: false,
            normalize: true,
            ..CpuOptions::default()
        };
        let v = values(&run_two(settings(opts), "t0", Some(("t1", 10.0))));
        assert!((v["servers.localhost.cpu.total.idle"] - 194.7 / 2.0).abs() < 1e-9);
        assert!((v["servers.localhost.cpu.total.system"] - 4.3 / 2.0).abs() < 1e-9);
        assert!(!v.keys().any(|k| k.contains(".cpu0.")));
        assert_eq!(v.len(), 11);
    }

    /// `simple`, t0 → t1: user+nice+system+idle = 6 + 0 + 43 + 1947 = 1996 jiffies, idle 1947,
    /// so 100 − 194700/1996 = 2.454909… → 2.4549 (Diamond's `%.4f`). Nothing on the first round
    /// (Diamond sleeps 1 s instead), and no `cpu_count`.
    #[test]
    fn simple_publishes_only_the_busy_percent() {
        let opts = CpuOptions {
            simple: true,
            ..CpuOptions::default()
        };
        let first = values(&run_two(settings(opts.clone()), "t0", None));
        assert!(first.is_empty(), "{first:?}");
        let v = values(&run_two(settings(opts), "t0", Some(("t1", 10.0))));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v["servers.localhost.cpu.percent"], 2.4549);
    }

    /// tests/data/proc/wrap0 → wrap1: the total `user` counter goes from 2^64 − 6 to 4. Diamond:
    /// 4 − ((2^64 − 6) − (2^64 − 1)) = 9 jiffies, over 10 s = 0.9. `nice` goes backwards from 100
    /// to 50 (a reset, not a wrap): 50 − (100 − (2^64 − 1)) ≈ 1.8e19 jiffies, as Diamond computes.
    #[test]
    fn counter_wrap() {
        let v = values(&run_two(
            settings(CpuOptions::default()),
            "wrap0",
            Some(("wrap1", 10.0)),
        ));
        assert!((v["servers.localhost.cpu.total.user"] - 0.9).abs() < 1e-9);
        let nice = v["servers.localhost.cpu.total.nice"];
        assert!((nice - (u64::MAX as f64 - 50.0) / 10.0).abs() < 1e6);
        assert!(fixture("wrap1").exists());
    }
}
