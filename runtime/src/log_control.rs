//! What the library needs from the caller's logging, without owning it
//! (the rcrun binary's logging.rs and the shim's logger set these up).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static DEPENDENCIES_MUTED: AtomicBool = AtomicBool::new(false);

/// From now on libcontainer's and libcgroups' log lines are dropped unless
/// debugging. For the container's init before exec, and for exec: every
/// error they meet reaches rcrun through libcontainer's channel or result
/// and is printed there once, as one line, instead of as three lines of
/// libcontainer's error chain.
pub fn mute_dependencies() {
    DEPENDENCIES_MUTED.store(true, Ordering::Relaxed);
}

/// Whether [`mute_dependencies`] was called.
pub fn dependencies_muted() -> bool {
    DEPENDENCIES_MUTED.load(Ordering::Relaxed)
}

/// The log file's fd, if the log goes to a file: a process cloned from us
/// that closes what it does not need (the container's init before exec)
/// must keep it, or a later open could take its number and receive log
/// lines.
static LOG_FD: AtomicI32 = AtomicI32::new(-1);

/// Records the log file's fd (see [`log_fd`]).
pub fn set_log_fd(fd: RawFd) {
    LOG_FD.store(fd, Ordering::Relaxed);
}

pub fn log_fd() -> Option<RawFd> {
    let fd = LOG_FD.load(Ordering::Relaxed);
    (fd >= 0).then_some(fd)
}
