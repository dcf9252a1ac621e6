//! systemd's service protocol, spoken without libsystemd: readiness, reload and stop
//! notifications (`sd_notify(3)`, for `Type=notify`) and the watchdog keep-alive. Every function
//! does nothing when tally does not run under systemd (`$NOTIFY_SOCKET` unset), and a failed
//! send is logged once: the daemon never depends on it.

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static WARNED: AtomicBool = AtomicBool::new(false);

/// Sends one notification (`READY=1`, `STOPPING=1`, …) to `$NOTIFY_SOCKET`.
fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(error) = send(path.as_encoded_bytes(), state.as_bytes())
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(%error, "Cannot notify systemd (NOTIFY_SOCKET).");
    }
}

fn send(path: &[u8], message: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::SocketAddr;
    let socket = UnixDatagram::unbound()?;
    let addr = match path.strip_prefix(b"@") {
        // An abstract socket: '@' stands for the leading NUL byte.
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path))?,
    };
    socket.send_to_addr(message, &addr).map(|_| ())
}

/// The daemon is serving: listeners bound, inputs started.
pub fn ready() {
    notify(&format!(
        "READY=1\nSTATUS=Running\nMAINPID={}",
        std::process::id()
    ));
}

/// A reload (SIGHUP) has begun; [`ready`] ends it.
pub fn reloading() {
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
}

/// Shutdown has begun.
pub fn stopping() {
    notify("STOPPING=1\nSTATUS=Shutting down");
}

fn monotonic_usec() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Sends `WATCHDOG=1` at half of `WatchdogSec=` when the unit sets one; the agent calls
/// [`Watchdog::tick`] from its main loop, so a stuck loop gets the service restarted.
pub struct Watchdog {
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    pub fn from_env() -> Watchdog {
        let for_us = std::env::var("WATCHDOG_PID")
            .map(|p| p == std::process::id().to_string())
            .unwrap_or(true);
        let usec = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us);
        Watchdog {
            every: usec.map(|u| Duration::from_micros(u / 2)),
            last: None,
        }
    }

    /// How often it wants a ping, if systemd watches.
    pub fn period(&self) -> Option<Duration> {
        self.every
    }

    pub fn tick(&mut self) {
        let Some(every) = self.every else {
            return;
        };
        if self.last.is_none_or(|l| l.elapsed() >= every) {
            self.last = Some(Instant::now());
            notify("WATCHDOG=1");
        }
    }
}

/// Log lines for the journal: the syslog priority as a `<N>` prefix (sd-daemon(3)), which
/// journald turns into the entry's priority, then the message and its fields; no timestamp or
/// colours (the journal adds its own).
pub struct JournalFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JournalFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// syslog priorities: err 3, warning 4, info 6, debug 7.
fn priority(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// Whether stderr is connected to the journal (systemd sets `$JOURNAL_STREAM` to its
/// `device:inode`).
pub fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_and_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str().as_encoded_bytes(), b"READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("tally-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        send(format!("@{name}").as_bytes(), b"STOPPING=1").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");

        assert!(
            send(
                dir.path().join("absent").as_os_str().as_encoded_bytes(),
                b"x"
            )
            .is_err()
        );
    }

    #[test]
    fn journal_lines_carry_the_syslog_priority() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .event_format(JournalFormat)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(path = "/x", "Broken.");
            tracing::warn!("Careful.");
            tracing::info!(n = 3, "Fine.");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "<3>Broken. path=\"/x\"\n<4>Careful.\n<6>Fine. n=3\n");
    }

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_usec();
        std::thread::sleep(Duration::from_millis(2));
        assert!(monotonic_usec() > a);
    }
}
