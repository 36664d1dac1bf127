//! The runtime's error type. Every variant renders as one line that says what
//! was wrong and, where the input is at fault, names the field and the value.

use std::path::PathBuf;

use crate::cgroups::CgroupError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container id {0:?}: {1}")]
    InvalidId(String, &'static str),
    #[error("{0}")]
    Spec(String),
    #[error("{0}")]
    State(String),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Container(String),
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// libcontainer nests its errors several levels deep, and the outer Display
/// often says only "invalid input"; walk the chain so the user sees the cause.
pub fn describe_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Escapes control characters (newlines above all): messages quote input
/// verbatim ("unknown variant `a\nb`", paths), and every error rcrun prints
/// must stay ONE line (callers such as containerd log the first line only).
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub type Result<T> = std::result::Result<T, Error>;
