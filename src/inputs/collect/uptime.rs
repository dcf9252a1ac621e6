//! `uptime` — Diamond's UptimeCollector: `uptime.<metric_name>` = the first number of
//! `/proc/uptime` (seconds) in the unit `metric_name` names (default `minutes`; Diamond's time
//! units, any case: `ms`, `s`/`seconds`, `m`, `h`/`hours`, `d`/`days`, `y`/`years` of 365 days,
//! `us`, `ns`). The name is published as written, as Diamond does.

use super::{Emitter, Error, ProcFile, parse_error};
use std::path::Path;

pub(super) struct Uptime {
    file: ProcFile,
    buf: String,
    name: String,
    /// Seconds per unit of `name`.
    per: f64,
}

/// Seconds in one of Diamond's time units (`diamond.convertor.time`), or `None`.
pub(crate) fn seconds_per(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "millisecond" | "milliseconds" | "ms" => 1e-3,
        "second" | "seconds" | "s" => 1.0,
        "minute" | "minutes" | "m" => 60.0,
        "hour" | "hours" | "h" => 3600.0,
        "day" | "days" | "d" => 86400.0,
        "year" | "years" | "y" => 86400.0 * 365.0,
        "microsecond" | "microseconds" | "us" => 1e-6,
        "nanosecond" | "nanoseconds" | "ns" => 1e-9,
        _ => return None,
    })
}

impl Uptime {
    pub(super) fn new(root: &Path, metric_name: &str) -> Result<Uptime, Error> {
        let per = seconds_per(metric_name).ok_or_else(|| Error::Unit {
            option: "uptime.metric_name".to_string(),
            unit: metric_name.to_string(),
        })?;
        Ok(Uptime {
            file: ProcFile::whole(root.join("uptime")),
            buf: String::new(),
            name: metric_name.to_string(),
            per,
        })
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.file.set_path(root.join("uptime"));
    }

    pub(super) fn collect(&mut self, em: &mut Emitter<'_>) -> Result<(), Error> {
        self.file.read(&mut self.buf)?;
        let seconds: f64 = self
            .buf
            .split_ascii_whitespace()
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| parse_error(self.file.path(), "expected seconds"))?;
        em.gauge(&[&self.name], seconds / self.per);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::super::tests::{run_two, values};

    /// t0/uptime starts `6254.91`: 6254.91 / 60 = 104.2485 minutes.
    #[test]
    fn minutes() {
        let s = Settings {
            collectors: vec!["uptime".into()],
            ..Settings::default()
        };
        let v = values(&run_two(s, "t0", None));
        assert!((v["servers.localhost.uptime.minutes"] - 104.2485).abs() < 1e-9);
        assert_eq!(v.len(), 1);
    }

    /// Diamond's `metric_name` picks the unit and the name: 6254.91 s = 6254.91 seconds =
    /// 1.737475 hours = 0.0723947… days (6254.91 / 86400); `Hours` in any case, named as written.
    #[test]
    fn metric_name_picks_the_unit() {
        for (unit, want) in [
            ("seconds", 6254.91),
            ("Hours", 1.737475),
            ("d", 6254.91 / 86400.0),
            ("ms", 6_254_910.0),
        ] {
            let s = Settings {
                collectors: vec!["uptime".into()],
                uptime: super::super::UptimeOptions {
                    metric_name: unit.into(),
                },
                ..Settings::default()
            };
            let v = values(&run_two(s, "t0", None));
            let got = v[&format!("servers.localhost.uptime.{unit}")];
            assert!((got - want).abs() < 1e-6, "{unit}: {got} != {want}");
            assert_eq!(v.len(), 1);
        }
        assert!(super::seconds_per("fortnights").is_none());
    }
}
