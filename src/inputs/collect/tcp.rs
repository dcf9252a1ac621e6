//! `tcp` — Diamond's TCPCollector: the first `Tcp…` header line and the line after it in
//! `/proc/net/netstat` (`TcpExt`) and `/proc/net/snmp` (`Tcp`); the fields in `allowed_names`
//! (all when empty), those in `gauges` (`CurrEstab`, `MaxConn`) as they are, the others as
//! per-second rates. A counter that goes backwards gives 0 (Diamond passes no wrap point here).

use super::{Emitter, Error, ProcFile, TcpOptions, parse_error};
use std::path::Path;

pub(super) struct Tcp {
    files: [ProcFile; 2],
    allowed: Vec<String>,
    gauges: Vec<String>,
    buf: String,
    /// Every field read, sorted by name (the publishing order); entries are reused from round
    /// to round, so a steady round allocates nothing.
    fields: Vec<(String, Field)>,
    /// Per file, its `Tcp…` header line as last read and where each column goes: a round
    /// whose header is the same line parses only the values of the fields it publishes.
    maps: [Columns; 2],
    round: u64,
    prev_at: f64,
}

struct Field {
    value: i128,
    /// The value of the previous round, when the field was read then.
    prev: Option<i128>,
    /// The round it was last read in.
    seen: u64,
    /// Published as it is (`gauges`), not as a rate.
    gauge: bool,
}

/// A header line and, per column after its first, the index in `fields` (None: not published).
#[derive(Default)]
struct Columns {
    header: String,
    to: Vec<Option<usize>>,
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
            fields: Vec::new(),
            maps: Default::default(),
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
        let mut error = None;
        for i in 0..self.files.len() {
            let read = self.files[i].read(&mut self.buf).and_then(|()| {
                self.read_fields(i).ok_or_else(|| {
                    parse_error(self.files[i].path(), "no `Tcp` header and value lines")
                })
            });
            if let Err(e) = read {
                error.get_or_insert(e);
            }
        }
        let round = self.round;
        let before = self.fields.len();
        self.fields.retain(|(_, f)| f.seen == round);
        if self.fields.len() != before {
            self.maps.iter_mut().for_each(|m| m.header.clear());
        }
        let dt = clock - self.prev_at;
        for (name, f) in &self.fields {
            if f.gauge {
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

    /// Takes the fields of file `i` from `buf`: by its column map when the header is the one it
    /// was made for, else field by field (and the map made again).
    fn read_fields(&mut self, i: usize) -> Option<()> {
        let (header, values) = tcp_lines(&self.buf)?;
        let round = self.round;
        let map = &self.maps[i];
        if !map.header.is_empty() && map.header == header {
            let columns = values.split_ascii_whitespace().skip(1).zip(&map.to);
            for (value, to) in columns {
                if let (Some(to), Ok(value)) = (to, value.parse()) {
                    set(&mut self.fields[*to].1, value, round);
                }
            }
            return Some(());
        }
        let mut to = Vec::new();
        for (name, value) in header
            .split_ascii_whitespace()
            .zip(values.split_ascii_whitespace())
            .skip(1)
        {
            let allowed = self.allowed.is_empty() || self.allowed.iter().any(|a| a == name);
            let (Ok(value), true) = (value.parse(), allowed) else {
                to.push(None);
                continue;
            };
            match self.fields.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
                Ok(at) => set(&mut self.fields[at].1, value, round),
                Err(at) => {
                    let gauge = self.gauges.iter().any(|g| g == name);
                    let field = Field {
                        value,
                        prev: None,
                        seen: round,
                        gauge,
                    };
                    self.fields.insert(at, (name.to_string(), field));
                    // Indices moved: every map is made again.
                    self.maps.iter_mut().for_each(|m| m.header.clear());
                }
            }
            to.push(Some(name));
        }
        // Indices after every insertion of this file.
        let to = to
            .into_iter()
            .map(|name| {
                let name = name?;
                self.fields
                    .binary_search_by(|(n, _)| n.as_str().cmp(name))
                    .ok()
            })
            .collect();
        self.maps[i] = Columns {
            header: header.to_string(),
            to,
        };
        Some(())
    }
}

fn set(f: &mut Field, value: i128, round: u64) {
    f.prev = (f.seen + 1 == round).then_some(f.value);
    f.value = value;
    f.seen = round;
}

/// The first `Tcp…:` header line and the line after it; `None` when there is no such pair.
fn tcp_lines(text: &str) -> Option<(&str, &str)> {
    let mut lines = text.lines();
    let header = lines.find(|l| l.starts_with("Tcp"))?;
    Some((header, lines.next()?))
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

    /// The column map is made again when a header changes (a field added, columns moved) or
    /// a file disappears: each field keeps its own previous value, whatever its column.
    #[test]
    fn a_changed_header_moves_no_value_to_another_field() {
        let dir = tempfile::tempdir().unwrap();
        let write = |round: &str, netstat: Option<&str>| {
            let net = dir.path().join(round).join("net");
            std::fs::create_dir_all(&net).unwrap();
            let snmp = "Tcp: ActiveOpens CurrEstab\nTcp: 10 1\n";
            std::fs::write(net.join("snmp"), snmp).unwrap();
            if let Some(text) = netstat {
                std::fs::write(net.join("netstat"), text).unwrap();
            }
        };
        write("r0", Some("TcpExt: A B\nTcpExt: 100 200\n"));
        write("r1", Some("TcpExt: A B\nTcpExt: 110 220\n"));
        write("r2", Some("TcpExt: C B A\nTcpExt: 5 240 130\n"));
        write("r3", None);
        write("r4", Some("TcpExt: C B A\nTcpExt: 6 260 150\n"));
        write("r5", Some("TcpExt: C B A\nTcpExt: 7 280 170\n"));
        let opts = TcpOptions {
            allowed_names: vec![],
            ..TcpOptions::default()
        };
        let mut settings = settings(opts);
        settings.proc_root = dir.path().join("r0");
        let mut c = super::super::Collectors::new(settings).unwrap();
        let mut round = |i: i64| {
            c.set_proc_root(&dir.path().join(format!("r{i}")));
            values(&c.collect(super::super::tests::NOW + 10 * i, 10.0))
        };
        round(0);
        let v = round(1);
        assert_eq!(v["servers.localhost.tcp.A"], 1.0);
        assert_eq!(v["servers.localhost.tcp.B"], 2.0);
        let v = round(2);
        assert_eq!(v["servers.localhost.tcp.A"], 2.0);
        assert_eq!(v["servers.localhost.tcp.B"], 2.0);
        assert!(
            !v.contains_key("servers.localhost.tcp.C"),
            "new: no rate yet"
        );
        let v = round(3);
        assert!(!v.contains_key("servers.localhost.tcp.A"), "{v:?}");
        assert_eq!(v["servers.localhost.tcp.CurrEstab"], 1.0);
        let v = round(4);
        assert!(
            !v.contains_key("servers.localhost.tcp.A"),
            "back: no rate yet"
        );
        let v = round(5);
        assert_eq!(v["servers.localhost.tcp.A"], 2.0);
        assert_eq!(v["servers.localhost.tcp.B"], 2.0);
        assert_eq!(v["servers.localhost.tcp.C"], 0.1);
        assert_eq!(v["servers.localhost.tcp.ActiveOpens"], 0.0);
    }
}
