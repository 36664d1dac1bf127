//! SCMP_ACT_NOTIFY: the checks made before anything exists, so that a
//! profile the agent could not serve fails `create` in one line naming the
//! field (libcontainer, which hands the listener fd to the agent, fails
//! late and in several lines). The rules are runc's.

use std::os::unix::fs::FileTypeExt;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, Spec};

use crate::error::{Result, SpecError};

const NOTIFY: LinuxSeccompAction = LinuxSeccompAction::ScmpActNotify;

/// A profile with SCMP_ACT_NOTIFY: not as the default action, not for
/// `write` (the runtime writes after loading the filter, before the agent
/// has the fd), and with a listenerPath that is a socket.
pub fn check(spec: &Spec) -> Result<()> {
    let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    if seccomp.default_action() == NOTIFY {
        return Err(SpecError::new(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY",
            "cannot be the default action (every syscall would wait on the agent)",
        )
        .into());
    }
    for (i, rule) in seccomp.syscalls().iter().flatten().enumerate() {
        if rule.action() == NOTIFY && rule.names().iter().any(|n| n == "write") {
            return Err(SpecError::new(
                format!("linux.seccomp.syscalls[{i}].names"),
                "\"write\"",
                "SCMP_ACT_NOTIFY cannot be used for the write syscall",
            )
            .into());
        }
    }
    if libcontainer::seccomp::is_notify(seccomp) {
        check_listener(seccomp)?;
    }
    Ok(())
}

fn check_listener(seccomp: &LinuxSeccomp) -> Result<()> {
    let path = seccomp.listener_path().clone().unwrap_or_default();
    let field = "linux.seccomp.listenerPath";
    if path.as_os_str().is_empty() {
        return Err(SpecError::field(
            field,
            "listenerPath is not set (SCMP_ACT_NOTIFY needs the seccomp agent's socket)",
        )
        .into());
    }
    let value = format!("{path:?}");
    match std::fs::metadata(&path) {
        Ok(m) if m.file_type().is_socket() => Ok(()),
        Ok(_) => Err(SpecError::new(
            field,
            value,
            ": failed to connect with seccomp agent: not a socket",
        )
        .into()),
        Err(e) => Err(SpecError::new(
            field,
            value,
            format!(": failed to connect with seccomp agent: {e}"),
        )
        .into()),
    }
}
