//! `network` — Diamond's NetworkCollector: every `/proc/net/dev` field of the interfaces whose
//! name starts with one of `interfaces` (`eth bond em p1p eno enp ens enx`; `greedy` accepts any
//! name after the prefix, so `lo` is out by default), each as a per-second rate, with
//! `rx_bytes`/`tx_bytes` published once per unit as `rx_<unit>`/`tx_<unit>` (`rx_bit`, `rx_byte`
//! by default). Diamond sends these values rounded to integers (a quirk of its `publish` call);
//! here they keep their decimals.

use super::rows::Rows;
use super::{Emitter, Error, NetworkOptions, ProcFile, Unit, delta, regex};
use regex::Regex;
use std::path::Path;

const FIELDS: [&str; 16] = [
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_drop",
    "rx_fifo",
    "rx_frame",
    "rx_compressed",
    "rx_multicast",
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_drop",
    "tx_fifo",
    "tx_colls",
    "tx_carrier",
    "tx_compressed",
];
const RX_BYTES: usize = 0;
const TX_BYTES: usize = 8;

pub(super) struct Network {
    file: ProcFile,
    interfaces: Regex,
    units: Vec<Unit>,
    /// `rx_<unit>` and `tx_<unit>` per unit.
    unit_names: Vec<(String, String)>,
    buf: String,
    /// Per interface line: whether `interfaces` takes it (asked once) and its last values.
    rows: Rows<(bool, Option<[u64; 16]>)>,
    prev_at: f64,
}

impl Network {
    pub(super) fn new(root: &Path, opts: &NetworkOptions) -> Result<Network, Error> {
        let greed = if opts.greedy { r"\S*" } else { "" };
        let re = format!("^(?:{}){greed}$", opts.interfaces.join("|"));
        let units = Unit::parse_all(&opts.byte_units, "network.byte_units")?;
        Ok(Network {
            file: ProcFile::new(root.join("net/dev")),
            interfaces: regex(&re, "network.interfaces")?,
            unit_names: units
                .iter()
                .map(|u| (format!("rx_{}", u.name), format!("tx_{}", u.name)))
                .collect(),
            units,
            buf: String::new(),
            rows: Rows::default(),
            prev_at: 0.0,
        })
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.file.set_path(root.join("net/dev"));
    }

    pub(super) fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.file.read(&mut self.buf)?;
        let dt = clock - self.prev_at;
        let mut rows = std::mem::take(&mut self.rows);
        'lines: for line in self.buf.lines() {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            let interfaces = &self.interfaces;
            let (taken, prev) = rows.row(name, || (interfaces.is_match(name), None));
            if !*taken {
                continue;
            }
            let mut values = [0u64; 16];
            let mut tokens = rest.split_ascii_whitespace();
            for slot in &mut values {
                match tokens.next().map(str::parse) {
                    Some(Ok(v)) => *slot = v,
                    _ => {
                        *prev = None;
                        continue 'lines;
                    }
                }
            }
            if let Some(old) = prev.filter(|_| dt > 0.0) {
                self.publish(em, name, (&old, &values), dt);
            }
            *prev = Some(values);
        }
        rows.finish();
        self.rows = rows;
        self.prev_at = clock;
        Ok(())
    }

    fn publish(
        &self,
        em: &mut Emitter<'_>,
        name: &str,
        (old, new): (&[u64; 16], &[u64; 16]),
        dt: f64,
    ) {
        for (i, field) in FIELDS.iter().enumerate() {
            let rate = delta(old[i], new[i], u64::MAX) / dt;
            match i {
                RX_BYTES | TX_BYTES => {
                    for (unit, (rx, tx)) in self.units.iter().zip(&self.unit_names) {
                        let metric = if i == RX_BYTES { rx } else { tx };
                        em.rate(&[name, metric], unit.convert_bytes(rate));
                    }
                }
                _ => em.rate(&[name, field], rate),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run_rounds, values};
    use super::super::{NetworkOptions, Settings};

    fn settings(opts: NetworkOptions) -> Settings {
        Settings {
            collectors: vec!["network".into()],
            network: opts,
            ..Settings::default()
        }
    }

    /// t0 → t1 over 10 s. eth0 (lo and ifb* do not match the default prefixes):
    ///   t0: 162778302 9319 0 0 0 0 0 0 590769 6312 0 …
    ///   t1: 172530731 9927 0 0 0 0 0 0 624275 6807 0 …
    /// By hand: rx 9752429 bytes / 10 = 975242.9 B/s = 7801943.2 bit/s, rx_packets 60.8,
    /// tx 33506 / 10 = 3350.6 B/s = 26804.8 bit/s, tx_packets 49.5, every other field 0.
    #[test]
    fn fixture_rates() {
        let v = values(&run_rounds(
            settings(NetworkOptions::default()),
            &[("t0", 0.0)],
        ));
        assert!(v.is_empty(), "{v:?}");
        let rounds = [("t0", 0.0), ("t1", 10.0)];
        let v = values(&run_rounds(settings(NetworkOptions::default()), &rounds));
        let expect = [
            ("rx_byte", 975242.9),
            ("rx_bit", 7801943.2),
            ("rx_packets", 60.8),
            ("tx_byte", 3350.6),
            ("tx_bit", 26804.8),
            ("tx_packets", 49.5),
            ("rx_errors", 0.0),
            ("rx_drop", 0.0),
            ("rx_fifo", 0.0),
            ("rx_frame", 0.0),
            ("rx_compressed", 0.0),
            ("rx_multicast", 0.0),
            ("tx_errors", 0.0),
            ("tx_drop", 0.0),
            ("tx_fifo", 0.0),
            ("tx_colls", 0.0),
            ("tx_carrier", 0.0),
            ("tx_compressed", 0.0),
        ];
        for (name, want) in expect {
            let got = v[&format!("servers.localhost.network.eth0.{name}")];
            assert!((got - want).abs() < 1e-6, "{name}: {got} != {want}");
        }
        assert_eq!(v.len(), expect.len(), "{v:?}");
    }

    #[test]
    fn interface_prefixes_and_units() {
        let opts = NetworkOptions {
            interfaces: vec!["lo".into(), "eth".into()],
            greedy: false,
            byte_units: vec!["megabit".into()],
        };
        let v = values(&run_rounds(settings(opts), &[("t0", 0.0), ("t1", 10.0)]));
        // Not greedy: only an interface named exactly `lo` or `eth`.
        assert!(
            v.keys()
                .all(|k| k.starts_with("servers.localhost.network.lo."))
        );
        // lo: 719577435 → 719579975 over 10 s (by hand: 254 B/s = 2032 bit/s).
        let lo = v["servers.localhost.network.lo.rx_megabit"];
        assert!((lo - 2032.0 / 1048576.0).abs() < 1e-12, "{lo}");
    }

    /// wrap0 → wrap1: eth0 rx_bytes 18446744073709551000 → 615: Diamond's
    /// 615 − (18446744073709551000 − (2^64 − 1)) = 1230 bytes, 123 B/s.
    #[test]
    fn counter_wrap() {
        let rounds = [("wrap0", 0.0), ("wrap1", 10.0)];
        let v = values(&run_rounds(settings(NetworkOptions::default()), &rounds));
        assert_eq!(v["servers.localhost.network.eth0.rx_byte"], 123.0);
        assert_eq!(v["servers.localhost.network.eth0.rx_bit"], 984.0);
    }

    /// An interface missing from one sample is not published, and is a first sample again when it
    /// comes back.
    #[test]
    fn interface_that_disappears() {
        let s = || settings(NetworkOptions::default());
        let v = values(&run_rounds(s(), &[("t0", 0.0), ("gone", 10.0)]));
        assert!(v.is_empty(), "{v:?}");
        let v = values(&run_rounds(
            s(),
            &[("t0", 0.0), ("gone", 10.0), ("t1", 10.0)],
        ));
        assert!(v.is_empty(), "{v:?}");
    }
}
