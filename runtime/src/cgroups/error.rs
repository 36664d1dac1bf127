//! Typed cgroup errors. Every variant renders as ONE line that names either
//! the spec field at fault (with its value) or the path and the OS cause, so
//! that `rcrun create` failures are actionable without reading logs.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A value from the spec is out of range or malformed.
    #[error("{field}: {value} is invalid ({reason})")]
    InvalidValue {
        field: String,
        value: String,
        reason: String,
    },

    /// The spec asks for something this host (or cgroup version) cannot do.
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },

    /// `linux.cgroupsPath` (or the container id used as default) is unusable.
    #[error("linux.cgroupsPath: {path:?} is invalid ({reason})")]
    InvalidPath { path: String, reason: String },

    /// The kernel refused a value we wrote on behalf of a spec field.
    #[error("{field}: writing {value:?} to {path} failed: {source}{hint}")]
    WriteRejected {
        field: String,
        value: String,
        path: PathBuf,
        #[source]
        source: io::Error,
        hint: &'static str,
    },

    /// Any other filesystem operation on a cgroup file or directory.
    #[error("{op} {path}: {source}{hint}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
        hint: &'static str,
    },

    /// A cgroup (or /proc) file did not have the format we expected.
    #[error("{path}: cannot parse {content:?}: {reason}")]
    Parse {
        path: PathBuf,
        content: String,
        reason: String,
    },

    /// No usable cgroup hierarchy is mounted, or the one needed is missing.
    #[error("cgroups: {0}")]
    NotMounted(String),

    /// A state change (freeze/thaw) did not complete in time.
    #[error("{path}: {what} did not complete within {millis} ms")]
    Timeout {
        path: PathBuf,
        what: &'static str,
        millis: u64,
    },

    /// Removal gave up while processes still used the cgroup.
    #[error("rmdir {path}: {source} (processes still in the cgroup after {millis} ms)")]
    Busy {
        path: PathBuf,
        #[source]
        source: io::Error,
        millis: u64,
    },

    /// The systemd driver: a bad `slice:prefix:name`, or systemd's refusal.
    #[error(transparent)]
    Systemd(#[from] super::systemd::SystemdError),
}

/// Hint appended to mkdir errors that mean "the kernel ran out of cgroup
/// ids": the usual cause on v1 is memory cgroups kept alive as zombies by
/// kernel-memory accounting, which is why we never enable kmem.
pub(crate) const HINT_EXHAUSTED: &str = " (likely leaked memory cgroups: the kernel keeps \
removed memory cgroups alive while kernel memory is still charged to them; check \
/proc/cgroups num_cgroups for memory, drop caches or reboot)";

pub(crate) const HINT_LIMIT_DESCENDANTS: &str =
    " (cgroup.max.descendants or cgroup.max.depth of an ancestor reached)";

impl CgroupError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let hint = match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::ENOMEM) if op == "mkdir" => HINT_EXHAUSTED,
            Some(libc::EAGAIN) if op == "mkdir" => HINT_LIMIT_DESCENDANTS,
            _ => "",
        };
        CgroupError::Io {
            op,
            path: path.into(),
            source,
            hint,
        }
    }

    pub(crate) fn invalid(
        field: impl Into<String>,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        // field and value may come from the input (unified keys, cpuset
        // strings): kept on one line.
        CgroupError::InvalidValue {
            field: crate::error::one_line(&field.into()),
            value: crate::error::one_line(&value.to_string()),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CgroupError::Unsupported {
            field: crate::error::one_line(&field.into()),
            reason: crate::error::one_line(&reason.into()),
        }
    }

    pub(crate) fn parse(
        path: impl Into<PathBuf>,
        content: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        CgroupError::Parse {
            path: path.into(),
            content: content.into(),
            reason: reason.into(),
        }
    }

    /// For error translation: values the spec got wrong (the kernel's
    /// refusal of one included) are the user's; the rest is the host's.
    pub fn kind(&self) -> crate::error::Kind {
        use crate::error::Kind;
        match self {
            CgroupError::InvalidValue { .. }
            | CgroupError::InvalidPath { .. }
            | CgroupError::WriteRejected { .. } => Kind::InvalidInput,
            CgroupError::Unsupported { .. } => Kind::Unsupported,
            CgroupError::Io { .. }
            | CgroupError::Parse { .. }
            | CgroupError::NotMounted(_)
            | CgroupError::Timeout { .. }
            | CgroupError::Busy { .. } => Kind::Internal,
            CgroupError::Systemd(e) => e.kind(),
        }
    }

    /// True when the underlying OS error is ENOENT (file or directory
    /// missing): callers use it to tell "controller file absent" apart.
    pub fn is_not_found(&self) -> bool {
        let src = match self {
            CgroupError::Io { source, .. } | CgroupError::WriteRejected { source, .. } => source,
            _ => return false,
        };
        src.kind() == io::ErrorKind::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_messages() {
        let e = CgroupError::io(
            "mkdir",
            "/sys/fs/cgroup/memory/x",
            io::Error::from_raw_os_error(libc::ENOSPC),
        )
        .to_string();
        assert!(
            e.starts_with("mkdir /sys/fs/cgroup/memory/x: No space left on device"),
            "{e}"
        );
        assert!(e.contains("likely leaked memory cgroups"), "{e}");
        assert!(!e.contains('\n'));
        let e = CgroupError::io("read", "/x", io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(!e.to_string().contains("leaked"));
        assert!(!e.is_not_found());
        let e = CgroupError::io("read", "/x", io::Error::from_raw_os_error(libc::ENOENT));
        assert!(e.is_not_found());
    }
}
