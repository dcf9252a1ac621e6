//! `sockets` — Diamond's SockstatCollector: `/proc/net/sockstat` and `/proc/net/sockstat6`
//! summed (v4 + v6): `used tcp_inuse tcp_orphan tcp_tw tcp_alloc tcp_mem udp_inuse udp_mem`, the
//! ones present. A missing sockstat6 (IPv6 off) is not an error; a missing sockstat is.

use super::{Emitter, Error, ProcFile};
use std::path::Path;

const KEYS: [&str; 8] = [
    "used",
    "tcp_inuse",
    "tcp_orphan",
    "tcp_tw",
    "tcp_alloc",
    "tcp_mem",
    "udp_inuse",
    "udp_mem",
];

pub(super) struct Sockets {
    v4: ProcFile,
    v6: ProcFile,
    buf: String,
}

impl Sockets {
    pub(super) fn new(root: &Path) -> Sockets {
        Sockets {
            v4: ProcFile::whole(root.join("net/sockstat")),
            v6: ProcFile::whole(root.join("net/sockstat6")),
            buf: String::new(),
        }
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        *self = Sockets::new(root);
    }

    pub(super) fn collect(&mut self, em: &mut Emitter<'_>) -> Result<(), Error> {
        let mut sums: [Option<u64>; 8] = [None; 8];
        self.v4.read(&mut self.buf)?;
        add(&self.buf, &mut sums);
        if self.v6.read(&mut self.buf).is_ok() {
            add(&self.buf, &mut sums);
        }
        for (key, sum) in KEYS.iter().zip(sums) {
            if let Some(sum) = sum {
                em.gauge(&[key], sum as f64);
            }
        }
        Ok(())
    }
}

/// Adds one sockstat file's `sockets: used`, `TCP[6]: inuse … mem …` and `UDP[6]: inuse … mem …`.
fn add(text: &str, sums: &mut [Option<u64>; 8]) {
    for line in text.lines() {
        let mut tokens = line.split_ascii_whitespace();
        let family = match tokens.next() {
            Some("sockets:") => "",
            Some("TCP:" | "TCP6:") => "tcp_",
            Some("UDP:" | "UDP6:") => "udp_",
            _ => continue,
        };
        while let (Some(key), Some(value)) = (tokens.next(), tokens.next()) {
            let Ok(value) = value.parse::<u64>() else {
                break;
            };
            let Some(i) = KEYS
                .iter()
                .position(|k| k.strip_prefix(family) == Some(key))
            else {
                continue;
            };
            *sums[i].get_or_insert(0) += value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::super::tests::{run_two, values};

    /// t0/net/sockstat: `sockets: used 10`, `TCP: inuse 1 orphan 0 tw 1 alloc 1 mem 17`,
    /// `UDP: inuse 0 mem 0`; t0/net/sockstat6 (edited to have v6 sockets): `TCP6: inuse 3`,
    /// `UDP6: inuse 2`. Sums by hand: tcp_inuse 4, udp_inuse 2, the rest as in sockstat.
    #[test]
    fn v4_and_v6_summed() {
        let s = Settings {
            collectors: vec!["sockets".into()],
            ..Settings::default()
        };
        let v = values(&run_two(s, "t0", None));
        let expect = [
            ("used", 10.0),
            ("tcp_inuse", 4.0),
            ("tcp_orphan", 0.0),
            ("tcp_tw", 1.0),
            ("tcp_alloc", 1.0),
            ("tcp_mem", 17.0),
            ("udp_inuse", 2.0),
            ("udp_mem", 0.0),
        ];
        for (name, want) in expect {
            assert_eq!(
                v[&format!("servers.localhost.sockets.{name}")],
                want,
                "{name}"
            );
        }
        assert_eq!(v.len(), expect.len());
    }

    /// Diamond's own fixture line format, summed the same way (its expected values: used 118,
    /// tcp_inuse 61, tcp_orphan 0, tcp_tw 1, tcp_alloc 13, tcp_mem 1, udp_inuse 6, udp_mem 0).
    #[test]
    fn parse_lines() {
        let mut sums = [None; 8];
        super::add(
            "sockets: used 118\nTCP: inuse 10 orphan 0 tw 1 alloc 13 mem 1\nUDP: inuse 0 mem 0\n\
             UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
            &mut sums,
        );
        super::add(
            "TCP6: inuse 51\nUDP6: inuse 6\nUDPLITE6: inuse 0\n",
            &mut sums,
        );
        let got: Vec<u64> = sums.iter().map(|s| s.unwrap()).collect();
        assert_eq!(got, [118, 61, 0, 1, 13, 1, 6, 0]);
    }
}
