//! `iostat` — Diamond's DiskUsageCollector: `/proc/diskstats` (lines of at least 14 columns,
//! `ram*` and `loop*` skipped, names matching the `devices` regex at their start). Per device,
//! the counters as deltas over the interval (`reads`, `writes`, `*_merged`, `*_milliseconds`,
//! `io_milliseconds[_weighted]`, `reads_<unit>`, `writes_<unit>`), `io_in_progress` as it is, and
//! Diamond's derived values over the measured interval: `reads_per_second`, `writes_per_second`,
//! `read_/write_requests_merged_per_second`, `read_/write_<unit>_per_second`, `io`, `iops`,
//! `average_request_size_<unit>`, `average_queue_length`, `util_percentage`, `read_await`,
//! `write_await`, `await`, `service_time`, `concurrent_io`. A device is published only when it
//! did I/O in the interval (or `send_zero`) or in any earlier one, and never on its first
//! sample: a device that has done I/O has its idle seconds published as zeros, so at 1 s samples
//! a 10 s bucket's average of `reads_per_second` is the 10 s rate, not the mean of busy seconds
//! (Diamond's rule, per 10 s sample, keeps devices that are never used quiet; so does this).
//!
//! Two deliberate differences: bytes are `sectors × sector_size` for any sector size (Diamond
//! divides 1024 by it with integer division, so 4096 breaks it), and with several units each one
//! is converted from the same bytes (Diamond halves the value again for every extra unit).

use super::rows::Rows;
use super::{Emitter, Error, IostatOptions, ProcFile, Unit, anchored, delta};
use regex::Regex;
use std::path::Path;

/// Columns 4..14 of a diskstats line.
type Counters = [u64; 11];

const READS: usize = 0;
const READS_MERGED: usize = 1;
const READS_SECTORS: usize = 2;
const READS_MS: usize = 3;
const WRITES: usize = 4;
const WRITES_MERGED: usize = 5;
const WRITES_SECTORS: usize = 6;
const WRITES_MS: usize = 7;
const IN_PROGRESS: usize = 8;
const IO_MS: usize = 9;
const IO_MS_WEIGHTED: usize = 10;

/// Diamond's wrap point for the diskstats counts (they were 32-bit once).
const MAX_COUNT: u64 = 4_294_967_295;

pub(super) struct Iostat {
    file: ProcFile,
    devices_re: Regex,
    exclude: Option<Regex>,
    sector_size: u64,
    send_zero: bool,
    units: Vec<Unit>,
    /// Per unit: `reads_<unit>`, `writes_<unit>`, `read_<unit>_per_second`,
    /// `write_<unit>_per_second`, `average_request_size_<unit>`.
    unit_names: Vec<[String; 5]>,
    buf: String,
    /// Per `diskstats` line, by device name.
    devices: Rows<Device>,
    prev_at: f64,
}

struct Device {
    /// Whether the `devices` and `exclude_devices` regexes take it (asked once).
    taken: bool,
    /// The name in metric paths (`/` made `_`).
    name: String,
    prev: Option<Counters>,
    /// It has done I/O since it was first seen.
    used: bool,
}

impl Iostat {
    pub(super) fn new(root: &Path, opts: &IostatOptions) -> Result<Iostat, Error> {
        Ok(Iostat {
            file: ProcFile::new(root.join("diskstats")),
            devices_re: anchored(&opts.devices, "iostat.devices")?,
            exclude: match &opts.exclude_devices {
                Some(re) => Some(anchored(re, "iostat.exclude_devices")?),
                None => None,
            },
            sector_size: opts.sector_size,
            send_zero: opts.send_zero,
            units: Unit::parse_all(&opts.byte_units, "iostat.byte_units")?,
            unit_names: Vec::new(),
            buf: String::new(),
            devices: Rows::default(),
            prev_at: 0.0,
        }
        .with_unit_names())
    }

    fn with_unit_names(mut self) -> Iostat {
        self.unit_names = (self.units.iter())
            .map(|u| {
                let u = &u.name;
                [
                    format!("reads_{u}"),
                    format!("writes_{u}"),
                    format!("read_{u}_per_second"),
                    format!("write_{u}_per_second"),
                    format!("average_request_size_{u}"),
                ]
            })
            .collect();
        self
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.file.set_path(root.join("diskstats"));
    }

    pub(super) fn collect(&mut self, clock: f64, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.file.read(&mut self.buf)?;
        let dt = clock - self.prev_at;
        let buf = std::mem::take(&mut self.buf);
        let mut rows = std::mem::take(&mut self.devices);
        'lines: for line in buf.lines() {
            let mut cols = line.split_ascii_whitespace();
            let (Some(_major), Some(_minor), Some(device)) =
                (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            if device.starts_with("ram") || device.starts_with("loop") {
                continue;
            }
            let (devices, exclude) = (&self.devices_re, &self.exclude);
            let d = rows.row(device, || Device {
                taken: devices.is_match(device)
                    && !exclude.as_ref().is_some_and(|re| re.is_match(device)),
                name: device.replace('/', "_"),
                prev: None,
                used: false,
            });
            if !d.taken {
                continue;
            }
            let mut counters = Counters::default();
            for slot in &mut counters {
                match cols.next().map(str::parse) {
                    Some(Ok(v)) => *slot = v,
                    _ => {
                        d.prev = None;
                        continue 'lines;
                    }
                }
            }
            if let Some(old) = d.prev.filter(|_| dt > 0.0)
                && self.device_rates(em, &d.name, (&old, &counters), dt, d.used)
            {
                d.used = true;
            }
            d.prev = Some(counters);
        }
        rows.finish();
        (self.buf, self.devices) = (buf, rows);
        self.prev_at = clock;
        Ok(())
    }

    /// Publishes one device (when it did I/O, `send_zero` or `used` before); true when it did I/O.
    fn device_rates(
        &self,
        em: &mut Emitter<'_>,
        name: &str,
        (old, new): (&Counters, &Counters),
        dt: f64,
        used: bool,
    ) -> bool {
        let d = |i: usize| delta(old[i], new[i], MAX_COUNT);
        let (reads, writes) = (d(READS), d(WRITES));
        let io = reads + writes;
        if io <= 0.0 && !self.send_zero && !used {
            return false;
        }
        let (reads_ms, writes_ms, io_ms) = (d(READS_MS), d(WRITES_MS), d(IO_MS));
        let weighted = d(IO_MS_WEIGHTED);
        let (reads_merged, writes_merged) = (d(READS_MERGED), d(WRITES_MERGED));
        for (metric, value) in [
            ("reads", reads),
            ("reads_merged", reads_merged),
            ("reads_milliseconds", reads_ms),
            ("writes", writes),
            ("writes_merged", writes_merged),
            ("writes_milliseconds", writes_ms),
            ("io_in_progress", new[IN_PROGRESS] as f64),
            ("io_milliseconds", io_ms),
            ("io_milliseconds_weighted", weighted),
            ("read_requests_merged_per_second", reads_merged / dt),
            ("write_requests_merged_per_second", writes_merged / dt),
            ("reads_per_second", reads / dt),
            ("writes_per_second", writes / dt),
            ("io", io),
            ("average_queue_length", weighted / dt / 1000.0),
            ("util_percentage", io_ms / dt / 10.0),
            (
                "read_await",
                if reads > 0.0 { reads_ms / reads } else { 0.0 },
            ),
            (
                "write_await",
                if writes > 0.0 {
                    writes_ms / writes
                } else {
                    0.0
                },
            ),
            ("iops", io / dt),
        ] {
            match metric {
                "io_in_progress" => em.gauge(&[name, metric], value),
                m if m.ends_with("per_second")
                    || matches!(m, "average_queue_length" | "util_percentage" | "iops")
                    || m.ends_with("await") =>
                {
                    em.rate(&[name, metric], value)
                }
                // Diamond's per-interval deltas.
                _ => em.count(&[name, metric], value),
            }
        }
        let service_time = if io > 0.0 { io_ms / io } else { 0.0 };
        let wait = if io > 0.0 {
            (reads_ms + writes_ms) / io
        } else {
            0.0
        };
        em.rate(&[name, "service_time"], service_time);
        em.rate(&[name, "await"], wait);
        em.rate(
            &[name, "concurrent_io"],
            (reads / dt + writes / dt) * (service_time / 1000.0),
        );
        for (unit, names) in self.units.iter().zip(&self.unit_names) {
            // Diamond converts each sample to the unit, then wraps at 2^64 − 1 bytes in that unit.
            let bytes =
                |c: &Counters, i: usize| unit.convert_bytes(c[i] as f64 * self.sector_size as f64);
            let max = unit.convert_bytes(u64::MAX as f64);
            let diff = |i: usize| {
                let (o, n) = (bytes(old, i), bytes(new, i));
                let d = if n < o { n - (o - max) } else { n - o };
                d.max(0.0)
            };
            let (read, written) = (diff(READS_SECTORS), diff(WRITES_SECTORS));
            let [reads, writes, read_rate, write_rate, size] = names;
            let size_value = if io > 0.0 { (read + written) / io } else { 0.0 };
            em.count(&[name, reads], read);
            em.count(&[name, writes], written);
            em.rate(&[name, read_rate], read / dt);
            em.rate(&[name, write_rate], written / dt);
            em.rate(&[name, size], size_value);
        }
        io > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run_rounds, values};
    use super::super::{IostatOptions, Settings};
    use std::collections::BTreeMap;

    fn settings(units: &[&str]) -> Settings {
        Settings {
            collectors: vec!["iostat".into()],
            iostat: IostatOptions {
                byte_units: units.iter().map(|u| u.to_string()).collect(),
                ..IostatOptions::default()
            },
            ..Settings::default()
        }
    }

    fn vda(v: &BTreeMap<String, f64>) -> BTreeMap<&str, f64> {
        v.iter()
            .filter_map(|(k, &x)| Some((k.strip_prefix("servers.localhost.iostat.vda.")?, x)))
            .collect()
    }

    /// t0 → t1 over 10 s, vda (the only device with I/O; loop* are skipped, zram0 does not match):
    ///   t0: 701269 27398 47953162 1545912 2374239 189713 104216104 540141 0 225324 2164073
    ///   t1: 701289 27398 47953570 1545915 2374278 189741 104347576 540722 0 225364 2164657
    /// By hand: reads 20, reads_merged 0, read sectors 408 → 208896 bytes, reads_ms 3, writes 39,
    /// writes_merged 28, written sectors 131472 → 67313664 bytes, writes_ms 581, in progress 0,
    /// io_ms 40, weighted 584. io 59, iops 5.9, reads/s 2, writes/s 3.9, merged/s 0 and 2.8,
    /// read_byte/s 20889.6, write_byte/s 6731366.4, average_request_size_byte
    /// (208896 + 67313664) / 59 = 1144450.169…, average_queue_length 584 / 10 / 1000 = 0.0584,
    /// util_percentage 40 / 10 / 10 = 0.4, read_await 3 / 20 = 0.15, write_await 581 / 39 =
    /// 14.897…, await 584 / 59 = 9.898…, service_time 40 / 59 = 0.677…, concurrent_io
    /// (2 + 3.9) × 0.677… / 1000 = 0.004.
    #[test]
    fn fixture_rates() {
        let v = values(&run_rounds(settings(&["byte"]), &[("t0", 0.0)]));
        assert!(v.is_empty(), "no device on the first sample: {v:?}");
        let v = values(&run_rounds(
            settings(&["byte"]),
            &[("t0", 0.0), ("t1", 10.0)],
        ));
        let d = vda(&v);
        let expect = [
            ("reads", 20.0),
            ("reads_merged", 0.0),
            ("reads_milliseconds", 3.0),
            ("writes", 39.0),
            ("writes_merged", 28.0),
            ("writes_milliseconds", 581.0),
            ("io_in_progress", 0.0),
            ("io_milliseconds", 40.0),
            ("io_milliseconds_weighted", 584.0),
            ("reads_byte", 208896.0),
            ("writes_byte", 67313664.0),
            ("read_byte_per_second", 20889.6),
            ("write_byte_per_second", 6731366.4),
            ("average_request_size_byte", 67522560.0 / 59.0),
            ("read_requests_merged_per_second", 0.0),
            ("write_requests_merged_per_second", 2.8),
            ("reads_per_second", 2.0),
            ("writes_per_second", 3.9),
            ("io", 59.0),
            ("iops", 5.9),
            ("average_queue_length", 0.0584),
            ("util_percentage", 0.4),
            ("read_await", 0.15),
            ("write_await", 581.0 / 39.0),
            ("await", 584.0 / 59.0),
            ("service_time", 40.0 / 59.0),
            ("concurrent_io", 5.9 * (40.0 / 59.0) / 1000.0),
        ];
        for (name, want) in expect {
            let got = d[name];
            assert!(
                (got - want).abs() < 1e-9 * want.abs().max(1.0),
                "{name}: {got} != {want}"
            );
        }
        assert_eq!(d.len(), expect.len());
        assert_eq!(v.len(), d.len(), "only vda did I/O: {v:?}");
    }

    #[test]
    fn units_and_send_zero() {
        let mut s = settings(&["kilobyte", "MB"]);
        s.iostat.send_zero = true;
        let v = values(&run_rounds(s, &[("t0", 0.0), ("t1", 10.0)]));
        let d = vda(&v);
        assert_eq!(d["reads_kilobyte"], 204.0);
        assert_eq!(d["writes_MB"], 67313664.0 / 1048576.0);
        assert!((d["write_kilobyte_per_second"] - 6573.6).abs() < 1e-9);
        // Even with send_zero, idle zram0 and loop* stay out: the regex and the ram/loop rule.
        assert!(!v.keys().any(|k| k.contains("zram0") || k.contains("loop")));
    }

    /// wrap0 → wrap1: vda reads go 4294967290 → 10, Diamond's 32-bit wrap gives
    /// 10 − (4294967290 − 4294967295) = 15 reads, 1.5/s.
    #[test]
    fn counter_wrap() {
        let v = values(&run_rounds(
            settings(&["byte"]),
            &[("wrap0", 0.0), ("wrap1", 10.0)],
        ));
        let d = vda(&v);
        assert_eq!(d["reads"], 15.0);
        assert_eq!(d["reads_per_second"], 1.5);
    }

    /// t0 → gone (t1 without the vda line) → t1: vda is not published while gone, and on its
    /// return it is a first sample again (no rate over a gap it was not seen in).
    #[test]
    fn device_that_disappears() {
        let s = || settings(&["byte"]);
        let v = values(&run_rounds(s(), &[("t0", 0.0), ("gone", 10.0)]));
        assert!(v.is_empty(), "{v:?}");
        let v = values(&run_rounds(
            s(),
            &[("t0", 0.0), ("gone", 10.0), ("t1", 10.0)],
        ));
        assert!(v.is_empty(), "{v:?}");
    }
}
