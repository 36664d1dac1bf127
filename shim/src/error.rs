//! The shim's error type and its mapping onto ttrpc status codes, which
//! containerd turns back into its errdefs (NotFound, AlreadyExists, ...).

use containerd_shim_protos::ttrpc::{self, Code};
use rcrun::cgroups::CgroupError;
use rcrun::error::StateError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] rcrun::error::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The ttrpc code, by variant alone (never by message text): the
    /// caller's invalid value is INVALID_ARGUMENT, what rcrun does not
    /// support is UNIMPLEMENTED, and only the rest is INTERNAL.
    pub fn code(&self) -> Code {
        match self {
            Error::NotFound(_) => Code::NOT_FOUND,
            Error::AlreadyExists(_) => Code::ALREADY_EXISTS,
            Error::InvalidArgument(_) => Code::INVALID_ARGUMENT,
            Error::FailedPrecondition(_) => Code::FAILED_PRECONDITION,
            Error::Unimplemented(_) => Code::UNIMPLEMENTED,
            // An OS error of the shim's own (a fifo, a mount, the bundle) is
            // no "container not found", which containerd would act on.
            Error::Io { .. } | Error::Other(_) => Code::INTERNAL,
            Error::Runtime(e) => runtime_code(e),
        }
    }
}

/// The library's errors. No wildcard arm: a new variant must be placed.
fn runtime_code(e: &rcrun::error::Error) -> Code {
    use rcrun::error::Error as R;
    match e {
        R::NotExist(_) => Code::NOT_FOUND,
        R::Exists(_) => Code::ALREADY_EXISTS,
        R::InvalidId(..) | R::InvalidSpec(_) | R::SpecRejected { .. } | R::FileExists(_) => {
            Code::INVALID_ARGUMENT
        }
        R::WrongStatus { .. } => Code::FAILED_PRECONDITION,
        R::State(s) => state_code(s),
        R::Unsupported { .. } => Code::UNIMPLEMENTED,
        R::Cgroup(c) => cgroup_code(c),
        R::Io { .. }
        | R::Os { .. }
        | R::Json(_)
        | R::Init(_)
        | R::Internal(_)
        | R::Launch { .. } => Code::INTERNAL,
    }
}

/// Busy, locked or runc's: not now, or not ours. A state that does not
/// parse is rcrun's own failure.
fn state_code(e: &StateError) -> Code {
    match e {
        StateError::NotOurs { .. }
        | StateError::RemovedWhileCreating { .. }
        | StateError::StartInterrupted { .. }
        | StateError::Locked { .. }
        | StateError::Busy { .. } => Code::FAILED_PRECONDITION,
        StateError::Corrupt { .. }
        | StateError::CorruptSpec { .. }
        | StateError::Serialize { .. }
        | StateError::NoProcess => Code::INTERNAL,
    }
}

/// Cgroup errors name the spec field at fault when the value is: those are
/// the caller's, the host's limits are not.
fn cgroup_code(e: &CgroupError) -> Code {
    match e {
        CgroupError::InvalidValue { .. } | CgroupError::InvalidPath { .. } => {
            Code::INVALID_ARGUMENT
        }
        CgroupError::Unsupported { .. } => Code::UNIMPLEMENTED,
        // The kernel refused the spec's value as out of range or malformed.
        CgroupError::WriteRejected { source, .. }
            if matches!(source.raw_os_error(), Some(libc::EINVAL | libc::ERANGE)) =>
        {
            Code::INVALID_ARGUMENT
        }
        CgroupError::WriteRejected { .. }
        | CgroupError::Io { .. }
        | CgroupError::Parse { .. }
        | CgroupError::NotMounted(_)
        | CgroupError::Timeout { .. }
        | CgroupError::Busy { .. } => Code::INTERNAL,
        // A bad slice:prefix:name is the caller's; systemd's refusals are
        // the host's.
        CgroupError::Systemd(s) => match s.kind() {
            rcrun::error::Kind::InvalidInput => Code::INVALID_ARGUMENT,
            _ => Code::INTERNAL,
        },
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Error {
        Error::Io {
            context: "syscall".into(),
            source: std::io::Error::from(e),
        }
    }
}

impl From<CgroupError> for Error {
    fn from(e: CgroupError) -> Error {
        Error::Runtime(e.into())
    }
}

impl From<Error> for ttrpc::Error {
    fn from(e: Error) -> ttrpc::Error {
        ttrpc::Error::RpcStatus(ttrpc::get_status(e.code(), e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use rcrun::error::{Action, Error as R, SpecError};
    use rcrun::state::Status;

    use super::*;

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    fn code_of(e: impl Into<Error>) -> Code {
        e.into().code()
    }

    #[test]
    fn shim_errors_map_by_variant() {
        let s = || "x".to_string();
        assert_eq!(Error::NotFound(s()).code(), Code::NOT_FOUND);
        assert_eq!(Error::AlreadyExists(s()).code(), Code::ALREADY_EXISTS);
        assert_eq!(Error::InvalidArgument(s()).code(), Code::INVALID_ARGUMENT);
        assert_eq!(
            Error::FailedPrecondition(s()).code(),
            Code::FAILED_PRECONDITION
        );
        assert_eq!(Error::Unimplemented(s()).code(), Code::UNIMPLEMENTED);
        assert_eq!(Error::Other(s()).code(), Code::INTERNAL);
        // ENOENT of the shim's own is no missing container.
        let enoent = Error::io("open /run/fifo", os(libc::ENOENT));
        assert_eq!(enoent.code(), Code::INTERNAL);
        assert_eq!(code_of(nix::errno::Errno::EPERM), Code::INTERNAL);
    }

    #[test]
    fn runtime_errors_map_by_variant() {
        let s = || "x".to_string();
        assert_eq!(code_of(R::NotExist(s())), Code::NOT_FOUND);
        assert_eq!(code_of(R::Exists(s())), Code::ALREADY_EXISTS);
        assert_eq!(
            code_of(R::InvalidId(s(), "too long")),
            Code::INVALID_ARGUMENT
        );
        let spec = SpecError::new("process.cwd", "\"x\"", "is not absolute");
        assert_eq!(code_of(R::from(spec)), Code::INVALID_ARGUMENT);
        let rejected = R::SpecRejected {
            field: Some("mounts"),
            source: Box::new(os(libc::EINVAL)),
        };
        assert_eq!(code_of(rejected), Code::INVALID_ARGUMENT);
        assert_eq!(
            code_of(R::FileExists("config.json".into())),
            Code::INVALID_ARGUMENT
        );
        let stopped = R::WrongStatus {
            id: s(),
            status: Status::Stopped,
            action: Action::Exec,
        };
        assert_eq!(code_of(stopped), Code::FAILED_PRECONDITION);
        let busy = StateError::Busy {
            id: s(),
            holder: String::new(),
            secs: 5,
        };
        assert_eq!(code_of(R::from(busy)), Code::FAILED_PRECONDITION);
        let corrupt = serde_json::from_str::<u8>("x").unwrap_err();
        let corrupt = StateError::Corrupt {
            path: "/run/rcrun/x/state.json".into(),
            source: corrupt,
        };
        assert_eq!(code_of(R::from(corrupt)), Code::INTERNAL);
        assert_eq!(
            code_of(R::unsupported("--rootless", s())),
            Code::UNIMPLEMENTED
        );
        assert_eq!(code_of(R::io("/run/x", os(libc::ENOENT))), Code::INTERNAL);
        assert_eq!(
            code_of(R::os("waitpid", nix::errno::Errno::ECHILD)),
            Code::INTERNAL
        );
        assert_eq!(code_of(R::launch("create", os(libc::EIO))), Code::INTERNAL);
        assert_eq!(code_of(R::Init(s())), Code::INTERNAL);
        assert_eq!(code_of(R::Internal(s())), Code::INTERNAL);
    }

    #[test]
    fn cgroup_errors_map_by_variant() {
        let s = || "x".to_string();
        let invalid = CgroupError::InvalidValue {
            field: "linux.resources.cpu.shares".into(),
            value: "1".into(),
            reason: "must be 2..262144".into(),
        };
        assert_eq!(code_of(invalid), Code::INVALID_ARGUMENT);
        let path = CgroupError::InvalidPath {
            path: "../x".into(),
            reason: s(),
        };
        assert_eq!(code_of(path), Code::INVALID_ARGUMENT);
        let unsupported = CgroupError::Unsupported {
            field: "linux.resources.memory.swappiness".into(),
            reason: s(),
        };
        assert_eq!(code_of(unsupported), Code::UNIMPLEMENTED);
        let rejected = |errno| CgroupError::WriteRejected {
            field: "linux.resources.cpuset.cpus".into(),
            value: "99".into(),
            path: "/sys/fs/cgroup/cpuset/x/cpuset.cpus".into(),
            source: os(errno),
            hint: "",
        };
        assert_eq!(code_of(rejected(libc::EINVAL)), Code::INVALID_ARGUMENT);
        assert_eq!(code_of(rejected(libc::ERANGE)), Code::INVALID_ARGUMENT);
        assert_eq!(code_of(rejected(libc::EIO)), Code::INTERNAL);
        assert_eq!(code_of(CgroupError::NotMounted(s())), Code::INTERNAL);
        let busy = CgroupError::Busy {
            path: "/sys/fs/cgroup/pids/x".into(),
            source: os(libc::EBUSY),
            millis: 100,
        };
        assert_eq!(code_of(busy), Code::INTERNAL);
    }

    #[test]
    fn ttrpc_status_carries_code_and_message() {
        let e: ttrpc::Error =
            Error::Runtime(SpecError::new("process.cwd", "\"x\"", "is not absolute").into()).into();
        match e {
            ttrpc::Error::RpcStatus(st) => {
                assert_eq!(st.code(), Code::INVALID_ARGUMENT);
                assert_eq!(st.message(), "process.cwd: \"x\" is not absolute");
            }
            other => panic!("expected a status, got {other:?}"),
        }
    }
}
