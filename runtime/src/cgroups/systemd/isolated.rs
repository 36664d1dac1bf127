//! Each conversation with systemd runs in a short-lived child process.
//! zbus starts threads (its executor, async-io's reactor) that outlive the
//! calls, and both rcrun and the shim fork the containers' processes
//! later, which is only safe while they are single-threaded.

use std::fs::File;
use std::io::{Read, Write};

use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;

use super::SystemdError;

fn helper_failed(what: String) -> SystemdError {
    SystemdError::Helper(crate::error::one_line(&what))
}

/// Runs `f` in a child process and returns its result.
pub(super) fn run(f: impl FnOnce() -> Result<(), SystemdError>) -> Result<(), SystemdError> {
    let (rd, wr) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| helper_failed(format!("pipe: {e}")))?;
    // SAFETY: the callers are single-threaded (see the module comment);
    // the child only talks D-Bus, writes its result and _exits.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            drop(rd);
            // A conversation that hangs (a zbus thread that died, systemd
            // not answering) ends with the child, after the job timeout.
            // SAFETY: alarm has no memory effects.
            unsafe { libc::alarm(super::dbus::JOB_TIMEOUT.as_secs() as u32 + 15) };
            let res = f();
            let data = serde_json::to_vec(&res).unwrap_or_default();
            let _ = File::from(wr).write_all(&data);
            // SAFETY: ends the child without running the parent's
            // destructors or atexit handlers.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(wr);
            let mut buf = Vec::new();
            let read = File::from(rd).read_to_end(&mut buf);
            let status = waitpid(child, None);
            if let Err(e) = read {
                return Err(helper_failed(format!("reading its result: {e}")));
            }
            serde_json::from_slice(&buf).unwrap_or_else(|_| {
                Err(helper_failed(format!(
                    "the D-Bus helper process ended without a result ({status:?})"
                )))
            })
        }
        Err(e) => Err(helper_failed(format!("fork: {e}"))),
    }
}
