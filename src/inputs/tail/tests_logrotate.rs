//! The real `logrotate` against the tailer (written next).
