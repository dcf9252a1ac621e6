//! `vmstat` — Diamond's VMStatCollector: `pgfault pgmajfault pgpgin pgpgout pswpin pswpout` from
//! `/proc/vmstat`, each as a per-second rate.

use super::{Emitter, Error, ProcFile, delta};
use std::path::Path;

const KEYS: [&str; 6] = [
    "pgfault",
    "pgmajfault",
    "pgpgin",
    "pgpgout",
    "pswpin",
    "pswpout",
];

pub(super) struct Vmstat {
    file: ProcFile,
    buf: String,
    prev: [Option<u64>; 6],
    prev_at: f64,
}

impl Vmstat {
    pub(super) fn new(root: &Path) -> Vmstat {
        Vmstat {
            file: ProcFile::new(root.join("vmstat")),
            buf: String::new(),
            prev: [None; 6],
            prev_at: 0.0,
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.file.set_path(root.join("vmstat"));
    }

    pub(super) fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.file.read(&mut self.buf)?;
        let mut cur = [None; 6];
        let mut left = KEYS.len();
        // Every key starts with `p`: other lines are skipped on their first byte, and the scan
        // ends once the six were found (`pgmajfault` is a third of the way down).
        for line in self.buf.lines().filter(|l| l.starts_with('p')) {
            let Some((name, value)) = line.split_once(' ') else {
                continue;
            };
            if let Some(i) = KEYS.iter().position(|&k| k == name) {
                if cur[i].is_none() {
                    left -= 1;
                }
                cur[i] = value.trim().parse::<u64>().ok();
                if left == 0 {
                    break;
                }
            }
        }
        let dt = clock - self.prev_at;
        for (i, name) in KEYS.iter().enumerate() {
            if let (Some(old), Some(new)) = (self.prev[i], cur[i])
                && dt > 0.0
            {
                em.rate(&[name], delta(old, new, u64::MAX) / dt);
            }
        }
        self.prev = cur;
        self.prev_at = clock;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::super::tests::{run_two, values};

    fn settings() -> Settings {
        Settings {
            collectors: vec!["vmstat".into()],
            ..Settings::default()
        }
    }

    /// t0 → t1 over 10 s, by hand: pgfault (158724963 − 158720654) / 10 = 430.9, pgmajfault
    /// (40987 − 40978) / 10 = 0.9, pgpgin (23976785 − 23976581) / 10 = 20.4, pgpgout
    /// (52173788 − 52108052) / 10 = 6573.6, pswpin and pswpout 0.
    #[test]
    fn rates() {
        assert!(values(&run_two(settings(), "t0", None)).is_empty());
        let v = values(&run_two(settings(), "t0", Some(("t1", 10.0))));
        let expect = [
            ("pgfault", 430.9),
            ("pgmajfault", 0.9),
            ("pgpgin", 20.4),
            ("pgpgout", 6573.6),
            ("pswpin", 0.0),
            ("pswpout", 0.0),
        ];
        for (name, want) in expect {
            let got = v[&format!("servers.localhost.vmstat.{name}")];
            assert!((got - want).abs() < 1e-9, "{name}: {got}");
        }
        assert_eq!(v.len(), 6);
    }

    /// wrap0 → wrap1: pgfault 2^64 − 6 → 4 gives Diamond's 4 − ((2^64 − 6) − (2^64 − 1)) = 9,
    /// 0.9/s; pgmajfault stays at 7.
    #[test]
    fn counter_wrap() {
        let v = values(&run_two(settings(), "wrap0", Some(("wrap1", 10.0))));
        assert!((v["servers.localhost.vmstat.pgfault"] - 0.9).abs() < 1e-9);
        assert_eq!(v["servers.localhost.vmstat.pgmajfault"], 0.0);
    }
}
