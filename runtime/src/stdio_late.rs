//! The container process's stdio, finished as runc finishes it just before
//! the user's program runs (in the init after `start`, and in every exec'd
//! process):
//! - its stdio belongs to the process's uid (runc's fixStdioPermissions):
//!   fds 0-2 that are not /dev/null are chowned to the uid, their group
//!   kept, so a non-root process owns its pty (`ls -l $(tty)`) and can
//!   reopen /proc/self/fd/1;
//! - with a terminal, `process.consoleSize` is the pty's size (`stty size`).
//!
//! libcontainer does neither. It runs our executor last, after it switched
//! to the process's uid and capabilities, where chown needs CAP_CHOWN:
//! [`prepare`] lends it (lent_cap) and [`StdioLate::exec`] takes it back
//! before it hands over to the inner executor (seccomp_late's, which
//! execs).

use std::collections::HashMap;

use caps::Capability;
use libcontainer::workload::{
    Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError,
};
use nix::errno::Errno;
use oci_spec::runtime::{Process, Spec};

use crate::lent_cap::{self, Lent};

/// What the executor will do, decided from the process.
#[derive(Clone, Copy, Debug)]
pub struct StdioPlan {
    uid: u32,
    /// (height, width) to give the pty, with a terminal.
    console_size: Option<(u16, u16)>,
    lent: Lent,
}

/// The executor that finishes the stdio, then runs `inner`.
#[derive(Clone)]
pub struct StdioLate {
    inner: Box<dyn Executor>,
    plan: StdioPlan,
}

impl StdioPlan {
    /// The executor that carries the plan out, then runs `inner`.
    pub fn around(self, inner: Box<dyn Executor>) -> StdioLate {
        StdioLate { inner, plan: self }
    }
}

const CHOWN: oci_spec::runtime::Capability = oci_spec::runtime::Capability::Chown;

/// Returns the process libcontainer must set up (CAP_CHOWN lent where its
/// capability sets would lack it) and the plan of the executor that uses
/// it.
pub fn prepare(process: &Process) -> (Process, StdioPlan) {
    let mut process = process.clone();
    let lent = lent_cap::lend(&mut process, CHOWN);
    let console_size = match (process.terminal(), process.console_size()) {
        (Some(true), Some(b)) => Some((clamp(b.height()), clamp(b.width()))),
        _ => None,
    };
    let uid = process.user().uid();
    (
        process,
        StdioPlan {
            uid,
            console_size,
            lent,
        },
    )
}

fn clamp(v: u64) -> u16 {
    v.min(u16::MAX as u64) as u16
}

fn fail(what: &str, e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Other(format!("stdio: {what}: {e}"))
}

impl StdioPlan {
    fn finish_stdio(&self) -> Result<(), ExecutorError> {
        if let Some((rows, cols)) = self.console_size {
            set_size(rows, cols).map_err(|e| fail("process.consoleSize", e))?;
        }
        chown_stdio(self.uid).map_err(|e| fail("chown of the stdio to process.user.uid", e))?;
        lent_cap::take_back(self.lent, Capability::CAP_CHOWN)
    }
}

impl Executor for StdioLate {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Err(e) = self.plan.finish_stdio() {
            // Nobody else can say it after `start` (the init's channel to
            // rcrun is closed by then).
            eprintln!("rcrun: container process: {e}");
            return Err(e);
        }
        self.inner.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        self.inner.validate(spec)
    }

    fn setup_envs(&self, envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        self.inner.setup_envs(envs)
    }
}

/// TIOCSWINSZ on stdin (the pty's slave: the size is the pty's).
fn set_size(rows: u16, cols: u16) -> Result<(), Errno> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd 0 and a properly initialised winsize.
    Errno::result(unsafe { libc::ioctl(0, libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// runc's fixStdioPermissions: fds 0-2 not already the uid's and not
/// /dev/null get the uid, their group kept. EINVAL (a group not mapped in
/// the user namespace), EPERM (an owner not mapped) and EROFS leave the fd
/// as it is, as runc does.
fn chown_stdio(uid: u32) -> Result<(), Errno> {
    let null = nix::sys::stat::stat("/dev/null")?;
    for fd in 0..3 {
        let st = match nix::sys::stat::fstat(fd) {
            Ok(st) => st,
            Err(Errno::EBADF) => continue,
            Err(e) => return Err(e),
        };
        if st.st_uid == uid || st.st_rdev == null.st_rdev {
            continue;
        }
        let owner = Some(nix::unistd::Uid::from_raw(uid));
        let group = Some(nix::unistd::Gid::from_raw(st.st_gid));
        match nix::unistd::fchown(fd, owner, group) {
            Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability as C;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap_or_default()
    }

    fn has(p: &Process, set: fn(&oci_spec::runtime::LinuxCapabilities) -> bool) -> bool {
        p.capabilities().as_ref().is_some_and(set)
    }

    #[test]
    fn chown_lent_in_effective_and_permitted_only() {
        let (p, ex) = prepare(&process(
            r#"{"cwd":"/","user":{"uid":1000,"gid":1000},"terminal":true,"consoleSize":{"height":33,"width":91},
                "capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}}"#,
        ));
        assert_eq!(
            ex.lent,
            Lent {
                effective: true,
                permitted: true
            }
        );
        assert!(has(&p, |c| c
            .effective()
            .as_ref()
            .is_some_and(|s| s.contains(&C::Chown))));
        assert!(has(&p, |c| c
            .permitted()
            .as_ref()
            .is_some_and(|s| s.contains(&C::Chown))));
        assert!(!has(&p, |c| c
            .bounding()
            .as_ref()
            .is_some_and(|s| s.contains(&C::Chown))));
        assert_eq!((ex.uid, ex.console_size), (1000, Some((33, 91))));
    }

    #[test]
    fn nothing_lent_when_held_and_no_size_without_terminal() {
        let (_, ex) = prepare(&process(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"consoleSize":{"height":3,"width":4},
                "capabilities":{"effective":["CAP_CHOWN"],"permitted":["CAP_CHOWN"]}}"#,
        ));
        assert_eq!(ex.lent, Lent::default());
        assert_eq!(ex.console_size, None);
    }
}
