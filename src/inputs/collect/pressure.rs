//! `pressure` (beyond Diamond) — Linux pressure stall information from `/proc/pressure/{cpu,
//! memory,io}` (and `irq` where the kernel has it): `pressure.<resource>.<some|full>.avg10`,
//! `avg60`, `avg300` as the kernel gives them (percent), and `stall_percent` = the share of the
//! interval some (or all) tasks were stalled, from the `total=` microseconds: Δtotal / Δt / 10^4.

use super::{Emitter, Error, ProcFile, delta};
use std::collections::HashMap;
use std::path::Path;

const RESOURCES: [&str; 4] = ["cpu", "memory", "io", "irq"];
/// `irq` exists only on kernels built with CONFIG_IRQ_TIME_ACCOUNTING; its absence is no error.
const OPTIONAL: &str = "irq";

pub(super) struct Pressure {
    /// One per resource, in `RESOURCES` order.
    files: Vec<ProcFile>,
    buf: String,
    /// `total=` per "resource.line".
    prev: HashMap<String, u64>,
    prev_at: f64,
    cur: HashMap<String, u64>,
}

impl Pressure {
    pub(super) fn new(root: &Path) -> Pressure {
        Pressure {
            files: RESOURCES
                .iter()
                .map(|r| ProcFile::whole(root.join("pressure").join(r)))
                .collect(),
            buf: String::new(),
            prev: HashMap::new(),
            prev_at: 0.0,
            cur: HashMap::new(),
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        for (file, r) in self.files.iter_mut().zip(RESOURCES) {
            file.set_path(root.join("pressure").join(r));
        }
    }

    pub(super) fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.cur.clear();
        let dt = clock - self.prev_at;
        let mut error = None;
        for (resource, file) in RESOURCES.into_iter().zip(&mut self.files) {
            if let Err(e) = file.read(&mut self.buf) {
                if resource != OPTIONAL {
                    error.get_or_insert(e);
                }
                continue;
            }
            for line in self.buf.lines() {
                let mut tokens = line.split_ascii_whitespace();
                let Some(kind @ ("some" | "full")) = tokens.next() else {
                    continue;
                };
                for token in tokens {
                    let Some((key, value)) = token.split_once('=') else {
                        continue;
                    };
                    if key == "total" {
                        let Ok(total) = value.parse::<u64>() else {
                            continue;
                        };
                        let id = format!("{resource}.{kind}");
                        if let Some(&old) = self.prev.get(&id)
                            && dt > 0.0
                        {
                            let stalled = delta(old, total, u64::MAX) / dt / 1e4;
                            em.rate(&[resource, kind, "stall_percent"], stalled);
                        }
                        self.cur.insert(id, total);
                    } else if let Ok(v) = value.parse::<f64>() {
                        em.gauge(&[resource, kind, key], v);
                    }
                }
            }
        }
        std::mem::swap(&mut self.prev, &mut self.cur);
        self.prev_at = clock;
        error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::super::tests::{errors, run_rounds, values};

    /// t0 → t1 over 10 s. By hand from the files: cpu some total 1153989859 → 1154003683 =
    /// 13824 µs stalled in 10 s = 0.13824 %; io some 136866159 → 136896879 = 30720 µs, 0.3072 %;
    /// io full 98371130 → 98400842 = 29712 µs, 0.29712 %; cpu full and memory stay 0. The
    /// averages are t1's as written.
    #[test]
    fn averages_and_stall_share() {
        let s = || Settings {
            collectors: vec!["pressure".into()],
            ..Settings::default()
        };
        let first = run_rounds(s(), &[("t0", 0.0)]);
        // 3 resources × 2 lines × 3 averages; no irq file in the fixture and no error for it.
        assert_eq!(values(&first).len(), 18);
        assert!(errors(&first).is_empty());
        let v = values(&run_rounds(s(), &[("t0", 0.0), ("t1", 10.0)]));
        let expect = [
            ("cpu.some.avg10", 0.03),
            ("cpu.some.avg60", 0.96),
            ("cpu.some.avg300", 2.29),
            ("cpu.some.stall_percent", 0.13824),
            ("cpu.full.avg10", 0.0),
            ("cpu.full.stall_percent", 0.0),
            ("io.some.avg10", 0.29),
            ("io.some.avg60", 0.25),
            ("io.some.avg300", 0.98),
            ("io.some.stall_percent", 0.3072),
            ("io.full.avg10", 0.29),
            ("io.full.avg60", 0.23),
            ("io.full.avg300", 0.84),
            ("io.full.stall_percent", 0.29712),
            ("memory.some.stall_percent", 0.0),
            ("memory.full.avg300", 0.0),
        ];
        for (name, want) in expect {
            let got = v[&format!("servers.localhost.pressure.{name}")];
            assert!((got - want).abs() < 1e-9, "{name}: {got} != {want}");
        }
        assert_eq!(v.len(), 24);
    }
}
