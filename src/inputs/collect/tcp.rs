//! `tcp` — Diamond's TCPCollector: the first `Tcp…` header line and the line after it in
//! `/proc/net/netstat` (`TcpExt`) and `/proc/net/snmp` (`Tcp`); the fields in `allowed_names`
//! (all when empty), those in `gauges` (`CurrEstab`, `MaxConn`) as they are, the others as
//! per-second rates. A counter that goes backwards gives 0 (Diamond passes no wrap point here).

use super::{Emitter, Error, ProcFile, TcpOptions, parse_error};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) struct Tcp {
    files: [ProcFile; 2],
    allowed: Vec<String>,
    gauges: Vec<String>,
    buf: String,
    /// Every field read, by name (sorted: the publishing order); entries are reused from round
    /// to round, so a steady round allocates nothing.
    fields: BTreeMap<String, Field>,
    round: u64,
    prev_at: f64,
}

struct Field {
    value: i128,
    /// The value of the previous round, when the field was read then.
    prev: Option<i128>,
    /// The round it was last read in.
    seen: u64,
}

impl Tcp {
    pub(super) fn new(root: &Path, opts: &TcpOptions) -> Tcp {
        Tcp {
            files: [
                ProcFile::whole(root.join("net/netstat")),
                ProcFile::whole(root.join("net/snmp")),
            ],
            allowed: opts.allowed_names.clone(),
            gauges: opts.gauges.clone(),
            buf: String::new(),
            fields: BTreeMap::new(),
            round: 0,
            prev_at: 0.0,
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.files[0].set_path(root.join("net/netstat"));
        self.files[1].set_path(root.join("net/snmp"));
    }

    /// Reads both files; what one of them gives is still published when the other fails.
    pub(super) fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.round += 1;
        let round = self.round;
        let mut error = None;
        for file in &mut self.files {
            let (allowed, fields) = (&self.allowed, &mut self.fields);
            if let Err(e) = file.read(&mut self.buf).and_then(|()| {
                tcp_lines(&self.buf, |name, value| {
                    if !allowed.is_empty() && !allowed.iter().any(|a| a == name) {
                        return;
                    }
                    match fields.get_mut(name) {
                        Some(f) => {
                            f.prev = (f.seen + 1 == round).then_some(f.value);
                            f.value = value;
                            f.seen = round;
                        }
                        None => {
                            let f = Field {
                                value,
                                prev: None,
                                seen: round,
                            };
                            fields.insert(name.to_string(), f);
                        }
                    }
                })
                .ok_or_else(|| parse_error(file.path(), "no `Tcp` header and value lines"))
            }) {
                error.get_or_insert(e);
            }
        }
        self.fields.retain(|_, f| f.seen == round);
        let dt = clock - self.prev_at;
        for (name, f) in &self.fields {
            if self.gauges.iter().any(|g| g == name) {
                em.gauge(&[name], f.value as f64);
            } else if let Some(old) = f.prev
                && dt > 0.0
            {
                em.rate(&[name], (f.value - old).max(0) as f64 / dt);
            }
        }
        self.prev_at = clock;
        error.map_or(Ok(()), Err)
    }
}

/// Calls `f(name, value)` for each field of the first `Tcp…:` header line and the line after it;
/// `None` when there is no such pair.
fn tcp_lines(text: &str, mut f: impl FnMut(&str, i128)) -> Option<()> {
    let mut lines = text.lines();
    let header = lines.find(|l| l.starts_with("Tcp"))?;
    let values = lines.next()?;
    for (name, value) in header
        .split_ascii_whitespace()
        .zip(values.split_ascii_whitespace())
        .skip(1)
    {
        if let Ok(value) = value.parse() {
            f(name, value);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{errors, run_rounds, values};
    use super::super::{Settings, TcpOptions};

    fn settings(opts: TcpOptions) -> Settings {
        Settings {
            collectors: vec!["tcp".into()],
            tcp: opts,
            ..Settings::default()
        }
    }

    /// t0 → t1 over 10 s, the default names. By hand from the files (t0/t1 snmp edited to have
    /// established connections and passive opens): snmp `Tcp:` ActiveOpens 2562 → 2563 (0.1/s),
    /// PassiveOpens 2531 → 2536 (0.5/s), AttemptFails 0 → 0, EstabResets 100 → 100, InErrs 0 → 0,
    /// CurrEstab 2 then 3 (gauge); netstat `TcpExt:` ListenOverflows, ListenDrops, TCPTimeouts
    /// (2 → 2), TCPFastRetrans, TCPLostRetransmit, TCPSlowStartRetrans, TCPAbortOnMemory,
    /// TCPBacklogDrop all unchanged (0/s). TCPLoss and TCPForwardRetrans are no longer in this
    /// kernel's netstat, so they are not published.
    #[test]
    fn rates_and_gauges() {
        let first = run_rounds(settings(TcpOptions::default()), &[("t0", 0.0)]);
        let v = values(&first);
        assert_eq!(v.len(), 1, "only the gauge on the first sample: {v:?}");
        assert_eq!(v["servers.localhost.tcp.CurrEstab"], 2.0);

        let rounds = [("t0", 0.0), ("t1", 10.0)];
        let v = values(&run_rounds(settings(TcpOptions::default()), &rounds));
        let expect = [
            ("ActiveOpens", 0.1),
            ("PassiveOpens", 0.5),
            ("AttemptFails", 0.0),
            ("EstabResets", 0.0),
            ("InErrs", 0.0),
            ("CurrEstab", 3.0),
            ("ListenOverflows", 0.0),
            ("ListenDrops", 0.0),
            ("TCPTimeouts", 0.0),
            ("TCPFastRetrans", 0.0),
            ("TCPLostRetransmit", 0.0),
            ("TCPSlowStartRetrans", 0.0),
            ("TCPAbortOnMemory", 0.0),
            ("TCPBacklogDrop", 0.0),
        ];
        for (name, want) in expect {
            let got = v[&format!("servers.localhost.tcp.{name}")];
            assert!((got - want).abs() < 1e-9, "{name}: {got} != {want}");
        }
        assert_eq!(v.len(), expect.len(), "{v:?}");
    }

    /// Empty `allowed_names` publishes everything; MaxConn (−1) is a gauge.
    #[test]
    fn all_names_and_signed_gauge() {
        let opts = TcpOptions {
            allowed_names: vec![],
            ..TcpOptions::default()
        };
        let v = values(&run_rounds(settings(opts), &[("t0", 0.0)]));
        assert_eq!(v["servers.localhost.tcp.MaxConn"], -1.0);
        assert_eq!(v.len(), 2, "gauges only on the first sample: {v:?}");
    }

    /// wrap0 → wrap1: ActiveOpens 100 → 90 gives 0 (Diamond: no wrap point, clamped), InSegs
    /// 5 → 25 gives 2/s; neither root has a netstat, so the collector reports an error and still
    /// publishes what snmp gave.
    #[test]
    fn decrease_is_zero_and_a_missing_file_is_an_error() {
        let opts = TcpOptions {
            allowed_names: vec!["ActiveOpens".into(), "InSegs".into()],
            ..TcpOptions::default()
        };
        let obs = run_rounds(settings(opts), &[("wrap0", 0.0), ("wrap1", 10.0)]);
        let v = values(&obs);
        assert_eq!(v["servers.localhost.tcp.ActiveOpens"], 0.0);
        assert_eq!(v["servers.localhost.tcp.InSegs"], 2.0);
        assert_eq!(errors(&obs), ["tally.collect.tcp.errors"]);
    }
}
