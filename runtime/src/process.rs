//! Waiting for a container process in the foreground (`run`, `exec`):
//! forward signals to it and turn its end into a shell-style exit code.

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Makes this process the reaper of orphaned descendants, so a container
/// process whose intermediate parent exits is re-parented to us and can be
/// waited for.
pub fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::os("prctl(PR_SET_CHILD_SUBREAPER)", e))
}

const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPIPE,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGWINCH,
    Signal::SIGURG,
];

/// Exit code for a wait status: the code, or 128 + signal like a shell
/// (runc's `run` exits 137 for a SIGKILLed container).
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Blocks the forwarded signals and SIGCHLD, then loops: reap children, and
/// relay any other signal to `pid`, until `pid` ends.
pub fn wait_forwarding_signals(pid: i32) -> Result<i32> {
    wait_relaying(pid, None)
}

/// [`wait_forwarding_signals`], with SIGWINCH given to `on_winch` instead
/// (the pty rcrun relays takes its terminal's new size; the kernel tells
/// the process).
pub fn wait_relaying(pid: i32, on_winch: Option<&dyn Fn()>) -> Result<i32> {
    let target = Pid::from_raw(pid);
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(*s);
    }
    set.thread_block()
        .map_err(|e| Error::os("sigprocmask", e))?;
    loop {
        // Reap everything that has ended; other children (re-parented
        // grandchildren) are reaped and ignored.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) => {
                    if status.pid() == Some(target) {
                        if let Some(code) = exit_code(status) {
                            tracing::debug!(pid, status = code, "process exited");
                            return Ok(code);
                        }
                    }
                }
                Err(Errno::ECHILD) => {
                    return Err(Error::Internal(format!(
                        "process {pid} is not a child of rcrun; cannot wait for it"
                    )))
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("waitpid", e)),
            }
        }
        // Timed: a SIGCHLD taken by another thread (a relay thread before it
        // blocks signals; default action: discarded) must not leave us
        // waiting forever, so the children are polled again every 100 ms.
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        // SAFETY: `set` and `timeout` outlive the call; no siginfo wanted.
        let r = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &timeout) };
        let got = if r < 0 {
            Err(Errno::last())
        } else {
            Signal::try_from(r).map_err(|_| Errno::EINVAL)
        };
        match got {
            Err(Errno::EAGAIN) => {}
            Ok(Signal::SIGCHLD) => {}
            Ok(Signal::SIGWINCH) if on_winch.is_some() => on_winch.iter().for_each(|f| f()),
            Ok(sig) => {
                tracing::debug!("sending signal to process {sig}");
                let _ = kill(target, sig);
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::os("sigwait", e)),
        }
    }
}

/// After a failed exec: waits (at most `limit`) for the children this
/// process still has (libcontainer's intermediate process ends on its own
/// once its clone failed), so that when `rcrun exec` exits with its error no
/// process of it is left in the container's cgroups. Only for the CLI: a
/// library caller (the shim) has other children to wait for.
pub fn reap_children_for(limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(_) => return, // ECHILD: none left
        }
        if std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
