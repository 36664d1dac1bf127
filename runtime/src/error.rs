//! The runtime's error type. Every variant renders as one line that says what
//! was wrong and, where the input is at fault, names the field and the value.

use std::path::PathBuf;

use crate::cgroups::CgroupError;
use crate::state::Status;
pub use crate::state_error::{refusal, Action, StateError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container id {0:?}: {1}")]
    InvalidId(String, &'static str),
    /// A spec value (or a flag standing for a spec field) refused, typed:
    /// the field, its value and why.
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
    /// `spec` would overwrite a config.json (runc's wording).
    #[error("File {} exists. Remove it first", .0.display())]
    FileExists(PathBuf),
    /// The container is not in a status that allows `action`.
    #[error("{}", refusal(.id, *.status, .action))]
    WrongStatus {
        id: String,
        status: Status,
        action: Action,
    },
    /// The state directory or its lock is not usable.
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A system call of rcrun's own failed.
    #[error("{what}: {source}")]
    Os {
        what: String,
        #[source]
        source: nix::Error,
    },
    /// Encoding a document (state, list, features) as JSON failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Valid, but this host, kernel or rcrun cannot do it.
    #[error("{what}: {reason}")]
    Unsupported { what: String, reason: String },
    /// The container's init reported a failure of its own (the text it sent
    /// over the init channel, libcontainer's prefixes trimmed).
    #[error("container init: {0}")]
    Init(String),
    /// Something rcrun relies on did not hold (a process that will not die,
    /// libcontainer returning no pid, an init channel closed early); the
    /// message says what. No user input and no OS error to keep.
    #[error("{0}")]
    Internal(String),
    /// libcontainer's own checks refused the spec (`field` when known); the
    /// message walks the error chain, the error stays the source.
    #[error("{}{}", field.map(|f| format!("{f}: ")).unwrap_or_default(), describe_chain(source.as_ref()))]
    SpecRejected {
        field: Option<&'static str>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// libcontainer failed while starting or driving the container. The
    /// message flattens the error chain (libcontainer's outer errors often
    /// say only "invalid input"); the error itself stays the source.
    #[error("{what}: {}", describe_chain(source.as_ref()))]
    Launch {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// A value of the spec that rcrun refuses. Renders as one line naming the
/// field and the value: `process.cwd: "/x" is not a directory`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", self.sentence())]
pub struct SpecError {
    /// The spec's own spelling: `mounts[2].destination`.
    pub field: String,
    /// As quoted in the message (strings in quotes, numbers bare); None when
    /// the field is missing.
    pub value: Option<String>,
    /// Continues the sentence after the value: "is not a directory", or
    /// ": <OS error>" (no space is put before a colon).
    pub reason: String,
}

impl SpecError {
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        SpecError {
            field: one_line(&field.into()),
            value: Some(one_line(&value.into())),
            reason: one_line(&reason.into()),
        }
    }

    /// A field that is missing or wrong as a whole: `root: missing`.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError {
            field: one_line(&field.into()),
            value: None,
            reason: one_line(&reason.into()),
        }
    }

    fn sentence(&self) -> String {
        match &self.value {
            None => self.reason.clone(),
            Some(v) if self.reason.starts_with(':') => format!("{v}{}", self.reason),
            Some(v) => format!("{v} {}", self.reason),
        }
    }

    /// From a check that still returns "field: message" text
    /// (spec_validate's): the field is the part before the first ": ".
    pub fn from_message(msg: &str) -> Self {
        match msg.split_once(": ") {
            Some((field, rest)) => SpecError::field(field, rest),
            None => SpecError::field("spec", msg),
        }
    }
}

/// What kind of failure an [`Error`] is, for callers that translate errors
/// into codes of their own (the shim's gRPC status codes): the user's
/// invalid value is [`Kind::InvalidInput`], never [`Kind::Internal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    AlreadyExists,
    /// A value of the spec, a flag or an id is at fault.
    InvalidInput,
    /// Valid, but this host, kernel or rcrun cannot do it.
    Unsupported,
    /// The container is not in a state that allows the operation.
    FailedPrecondition,
    Internal,
}

impl Error {
    pub fn kind(&self) -> Kind {
        match self {
            Error::NotExist(_) => Kind::NotFound,
            Error::Exists(_) => Kind::AlreadyExists,
            Error::InvalidId(..)
            | Error::InvalidSpec(_)
            | Error::SpecRejected { .. }
            | Error::FileExists(_) => Kind::InvalidInput,
            Error::Unsupported { .. } => Kind::Unsupported,
            Error::WrongStatus { .. } => Kind::FailedPrecondition,
            Error::State(e) => e.kind(),
            Error::Cgroup(e) => e.kind(),
            Error::Io { .. }
            | Error::Os { .. }
            | Error::Json(_)
            | Error::Init(_)
            | Error::Internal(_)
            | Error::Launch { .. } => Kind::Internal,
        }
    }

    /// A libcontainer (or other library) failure during `what`.
    pub fn launch(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Launch {
            what: what.into(),
            source: Box::new(source),
        }
    }

    /// A failed system call of rcrun's own.
    pub fn os(what: impl Into<String>, source: nix::Error) -> Self {
        Error::Os {
            what: what.into(),
            source,
        }
    }

    pub fn unsupported(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            what: what.into(),
            reason: reason.into(),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_error_is_one_line_naming_field_and_value() {
        let e = Error::from(SpecError::new(
            "process.cwd",
            "\"/x\"",
            "is not a directory",
        ));
        assert_eq!(e.to_string(), "process.cwd: \"/x\" is not a directory");
        assert_eq!(e.kind(), Kind::InvalidInput);
        let e = SpecError::new("root.path", "/b/r", ": No such file or directory");
        assert_eq!(e.to_string(), "root.path: /b/r: No such file or directory");
        assert_eq!(
            SpecError::field("root", "missing").to_string(),
            "root: missing"
        );
        let e = SpecError::new("mounts[0].destination", "\"/a\nb\"", "x");
        assert!(!e.to_string().contains('\n'));
        let e = SpecError::from_message("process.env[0]: \"=x\" has an empty name");
        assert_eq!(e.field, "process.env[0]");
        assert_eq!(e.to_string(), "process.env[0]: \"=x\" has an empty name");
    }

    #[test]
    fn launch_error_keeps_its_source() {
        let io = std::io::Error::from_raw_os_error(libc::ENODEV);
        let e = Error::launch("container init", io);
        assert!(
            e.to_string().starts_with("container init: No such device"),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.kind(), Kind::Internal);
    }
}
