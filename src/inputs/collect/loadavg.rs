//! `loadavg` — Diamond's LoadAverageCollector: `01 05 15` from `/proc/loadavg`, the same divided
//! by the number of online CPUs (`01_normalized` …; Diamond uses `multiprocessing.cpu_count()`,
//! here the `cpu<N>` lines of `<root>/stat` so another root is counted consistently), and
//! `processes_running` / `processes_total` from the `running/total` field. `simple` publishes
//! `load` and `load_normalized` (the 1-minute average) instead of the three and their normalized
//! forms, as Diamond does.

use super::{Emitter, Error, LoadavgOptions, parse_error, read_into};
use std::io::BufRead;
use std::path::{Path, PathBuf};

pub(super) struct Loadavg {
    path: PathBuf,
    stat: PathBuf,
    simple: bool,
    buf: String,
}

impl Loadavg {
    pub(super) fn new(root: &Path, opts: &LoadavgOptions) -> Loadavg {
        Loadavg {
            path: root.join("loadavg"),
            stat: root.join("stat"),
            simple: opts.simple,
            buf: String::new(),
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.path = root.join("loadavg");
        self.stat = root.join("stat");
    }

    pub(super) fn collect(&mut self, em: &mut Emitter<'_>) -> Result<(), Error> {
        read_into(&self.path, &mut self.buf)?;
        // Diamond: `([\d.]+) ([\d.]+) ([\d.]+) (\d+)/(\d+)`.
        let bad = || parse_error(&self.path, "expected `l1 l5 l15 running/total …`");
        let mut tokens = self.buf.split_ascii_whitespace();
        let mut loads = [0f64; 3];
        for load in &mut loads {
            *load = tokens.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
        }
        let procs = tokens
            .next()
            .and_then(|t| t.split_once('/'))
            .and_then(|(r, t)| Some((r.parse::<u64>().ok()?, t.parse::<u64>().ok()?)));
        let cpus = self.cpu_count();
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

    /// `cpu<N>` lines at the top of `<root>/stat`; the machine's own count when it is unreadable.
    fn cpu_count(&self) -> usize {
        let counted = std::fs::File::open(&self.stat).ok().map(|f| {
            std::io::BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .take_while(|l| l.starts_with("cpu"))
                .filter(|l| l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
                .count()
        });
        match counted {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
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
