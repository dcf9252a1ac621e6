//! `loadavg` — Diamond's LoadAverageCollector: `01 05 15` from `/proc/loadavg`, the same divided
//! by the number of online CPUs (`01_normalized` …; Diamond uses `multiprocessing.cpu_count()`,
//! here the `cpu<N>` lines of `<root>/stat` so another root is counted consistently), and
//! `processes_running` / `processes_total` from the `running/total` field. `simple` publishes
//! `load` and `load_normalized` (the 1-minute average) instead of the three and their normalized
//! forms, as Diamond does.

use super::{Emitter, Error, LoadavgOptions, ProcFile, parse_error};
use std::path::Path;

pub(super) struct Loadavg {
    file: ProcFile,
    stat: ProcFile,
    simple: bool,
    buf: String,
    /// The CPU count and the rounds left before it is counted again: `stat` is the costliest
    /// file in /proc to make, and CPUs come and go rarely.
    cpus: usize,
    recount: u32,
}

/// Rounds between two counts of the CPUs.
const RECOUNT: u32 = 60;

impl Loadavg {
    pub(super) fn new(root: &Path, opts: &LoadavgOptions) -> Loadavg {
        Loadavg {
            file: ProcFile::whole(root.join("loadavg")),
            stat: ProcFile::whole(root.join("stat")),
            simple: opts.simple,
            buf: String::new(),
            cpus: 0,
            recount: 0,
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.file.set_path(root.join("loadavg"));
        self.stat.set_path(root.join("stat"));
        self.recount = 0;
    }

    pub(super) fn collect(&mut self, em: &mut Emitter<'_>) -> Result<(), Error> {
        let cpus = self.cpu_count();
        self.file.read(&mut self.buf)?;
        // Diamond: `([\d.]+) ([\d.]+) ([\d.]+) (\d+)/(\d+)`.
        let bad = || parse_error(self.file.path(), "expected `l1 l5 l15 running/total …`");
        let mut tokens = self.buf.split_ascii_whitespace();
        let mut loads = [0f64; 3];
        for load in &mut loads {
            *load = tokens.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
        }
        let procs = tokens
            .next()
            .and_then(|t| t.split_once('/'))
            .and_then(|(r, t)| Some((r.parse::<u64>().ok()?, t.parse::<u64>().ok()?)));
        if self.simple {
            em.gauge(&["load"], loads[0]);
            em.gauge(&["load_normalized"], loads[0] / cpus as f64);
        } else {
            publish_all(loads, cpus, em);
        }
        if let Some((running, total)) = procs {
            em.gauge(&["processes_running"], running as f64);
            em.gauge(&["processes_total"], total as f64);
        }
        Ok(())
    }

    /// `cpu<N>` lines at the top of `<root>/stat`, counted every [`RECOUNT`] rounds; the
    /// machine's own count when it is unreadable.
    fn cpu_count(&mut self) -> usize {
        if self.recount > 0 && self.cpus > 0 {
            self.recount -= 1;
            return self.cpus;
        }
        self.recount = RECOUNT - 1;
        let counted = self.stat.read(&mut self.buf).ok().map(|()| {
            self.buf
                .lines()
                .take_while(|l| l.starts_with("cpu"))
                .filter(|l| l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
                .count()
        });
        self.cpus = match counted {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        self.cpus
    }
}

fn publish_all(loads: [f64; 3], cpus: usize, em: &mut Emitter<'_>) {
    for (name, load) in ["01", "05", "15"].into_iter().zip(loads) {
        em.gauge(&[name], load);
    }
    for (name, load) in ["01_normalized", "05_normalized", "15_normalized"]
        .into_iter()
        .zip(loads)
    {
        em.gauge(&[name], load / cpus as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run_two, values};
    use super::super::{LoadavgOptions, Settings};

    /// tests/data/proc/t0/loadavg is `0.64 1.41 1.69 1/87 30352`; t0/stat has cpu0 and cpu1, so
    /// the normalized loads are halved.
    #[test]
    fn loads_normalized_and_processes() {
        let s = Settings {
            collectors: vec!["loadavg".into()],
            ..Settings::default()
        };
        let v = values(&run_two(s, "t0", None));
        let expect = [
            ("01", 0.64),
            ("05", 1.41),
            ("15", 1.69),
            ("01_normalized", 0.32),
            ("05_normalized", 0.705),
            ("15_normalized", 0.845),
            ("processes_running", 1.0),
            ("processes_total", 87.0),
        ];
        for (name, want) in expect {
            let got = v[&format!("servers.localhost.loadavg.{name}")];
            assert!((got - want).abs() < 1e-12, "{name}: {got}");
        }
        assert_eq!(v.len(), expect.len());
    }

    /// `simple`: the 1-minute average as `load` and `load_normalized`; the process counts stay.
    #[test]
    fn simple_publishes_the_one_minute_load() {
        let s = Settings {
            collectors: vec!["loadavg".into()],
            loadavg: LoadavgOptions { simple: true },
            ..Settings::default()
        };
        let v = values(&run_two(s, "t0", None));
        assert_eq!(v["servers.localhost.loadavg.load"], 0.64);
        assert_eq!(v["servers.localhost.loadavg.load_normalized"], 0.32);
        assert_eq!(v["servers.localhost.loadavg.processes_total"], 87.0);
        assert_eq!(v.len(), 4, "{v:?}");
    }
}
