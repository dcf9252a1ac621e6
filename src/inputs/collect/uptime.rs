//! `uptime` — Diamond's UptimeCollector: `uptime.minutes` = the first number of `/proc/uptime`
//! (seconds) / 60.

use super::{Emitter, Error, ProcFile, parse_error};
use std::path::Path;

pub(super) struct Uptime {
    file: ProcFile,
    buf: String,
}

impl Uptime {
    pub(super) fn new(root: &Path) -> Uptime {
        Uptime {
            file: ProcFile::whole(root.join("uptime")),
            buf: String::new(),
        }
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
        em.gauge(&["minutes"], seconds / 60.0);
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
}
