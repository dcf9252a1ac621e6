//! What is wrong in a config file, and where: every check adds to one list, so a file with
//! several mistakes gets them all in one answer.

use crate::schema;
use serde_saphyr::Spanned;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl Error {
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(p) => p,
            Error::Read { .. } => &[],
        }
    }
}

pub(super) struct Problems<'a> {
    pub(super) file: Option<&'a Path>,
    pub(super) list: Vec<Problem>,
}

/// Where each element of a list came from: recorded origins, else the main file.
pub(super) type Places<'a> = (&'a [PathBuf], Option<&'a Path>);

impl<'a> Problems<'a> {
    /// `file:line:col` of a value in the file being validated, for a message about a second
    /// place (a duplicate).
    pub(super) fn place<T>(&self, spanned: &Spanned<T>) -> String {
        format!(
            "{}:{}:{}",
            self.file.unwrap_or(Path::new("")).display(),
            spanned.referenced.line(),
            spanned.referenced.column()
        )
    }

    pub(super) fn at<T>(&mut self, spanned: &Spanned<T>, message: impl fmt::Display) {
        self.list.push(Problem {
            file: self.file.map(Path::to_path_buf).unwrap_or_default(),
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
            message: message.to_string(),
        });
    }

    pub(super) fn duration(&mut self, value: &Option<Spanned<String>>, default: u64) -> u64 {
        match value {
            None => default,
            Some(s) => schema::parse_duration(&s.value).unwrap_or_else(|e| {
                self.at(s, e);
                default
            }),
        }
    }

    pub(super) fn duration_ms(&mut self, value: &Option<Spanned<String>>, default: u64) -> u64 {
        match value {
            None => default,
            Some(s) => schema::parse_duration_ms(&s.value).unwrap_or_else(|e| {
                self.at(s, e);
                default
            }),
        }
    }

    pub(super) fn addr(&mut self, value: &Option<Spanned<String>>, default: &str) -> SocketAddr {
        let fallback = default.parse().expect("default addresses parse");
        match value {
            None => fallback,
            Some(s) => s.value.parse().unwrap_or_else(|_| {
                self.at(
                    s,
                    format!(
                        "bad listen address {:?}: expected host:port, e.g. 127.0.0.1:8080",
                        s.value
                    ),
                );
                fallback
            }),
        }
    }
}
