//! The executor of an init that libcontainer sets up itself (fallback.rs:
//! user namespace, SCMP_ACT_NOTIFY at create). libcontainer loads the
//! profile there (and hands a notify listener to the agent); this executor
//! stacks seccomp_enosys' stub on it right before the program runs, as
//! seccomp_late does for the inits rcrun sets up: a syscall newer than the
//! profile gets ENOSYS, not the profile's errno (runc's -ENOSYS patch).
//!
//! Loading the stub needs no_new_privs or CAP_SYS_ADMIN in the container's
//! user namespace, and a profile that allows seccomp(2) or prctl: without
//! them the stub is left out and the profile's errno stays, which is only
//! ever as strict as the profile.

use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use oci_spec::runtime::{LinuxSeccomp, Spec};

use crate::seccomp_enosys::Insn;

#[derive(Clone)]
pub struct StubAfterProfile {
    stub: Option<Vec<Insn>>,
}

impl StubAfterProfile {
    /// Made in rcrun, before the fork: the init only loads it.
    pub fn new(seccomp: Option<&LinuxSeccomp>) -> StubAfterProfile {
        StubAfterProfile {
            stub: seccomp.and_then(crate::seccomp_enosys::stub_for),
        }
    }
}

impl Executor for StubAfterProfile {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(stub) = &self.stub {
            if let Err(e) = crate::seccomp_enosys::load(stub) {
                tracing::debug!("seccomp: the -ENOSYS stub was not loaded: {e}");
            }
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        crate::seccomp_late::validate_direct_exec(spec)
    }
}
