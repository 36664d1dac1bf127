//! The shim's error type and its mapping onto ttrpc status codes, which
//! containerd turns back into its errdefs (NotFound, AlreadyExists, ...).

use containerd_shim_protos::ttrpc::{self, Code};

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

    pub fn code(&self) -> Code {
        use rcrun::error::Error as R;
        match self {
            Error::NotFound(_) => Code::NOT_FOUND,
            Error::AlreadyExists(_) => Code::ALREADY_EXISTS,
            Error::InvalidArgument(_) => Code::INVALID_ARGUMENT,
            Error::FailedPrecondition(_) => Code::FAILED_PRECONDITION,
            Error::Unimplemented(_) => Code::UNIMPLEMENTED,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Code::NOT_FOUND
            }
            Error::Io { .. } | Error::Other(_) => Code::INTERNAL,
            Error::Runtime(e) => match e {
                R::NotExist(_) => Code::NOT_FOUND,
                R::Exists(_) => Code::ALREADY_EXISTS,
                R::InvalidId(..) | R::Spec(_) | R::InvalidSpec(_) => Code::INVALID_ARGUMENT,
                R::State(_) => Code::FAILED_PRECONDITION,
                R::Unsupported(_) => Code::UNIMPLEMENTED,
                R::Cgroup(_) | R::Io { .. } | R::Container(_) | R::Launch { .. } => Code::INTERNAL,
            },
        }
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

impl From<rcrun::cgroups::CgroupError> for Error {
    fn from(e: rcrun::cgroups::CgroupError) -> Error {
        Error::Runtime(e.into())
    }
}

impl From<Error> for ttrpc::Error {
    fn from(e: Error) -> ttrpc::Error {
        ttrpc::Error::RpcStatus(ttrpc::get_status(e.code(), e.to_string()))
    }
}
