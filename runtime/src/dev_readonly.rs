//! A `/dev` mount with "ro" is made read-only once its device nodes exist,
//! as runc does (finalizeRootfs: a bind remount of `/dev` with MS_RDONLY,
//! its other flags kept). libcontainer drops MS_RDONLY from `/dev` so it
//! can make the nodes, and never puts it back: the container saw a
//! writable `/dev`.
//!
//! Done from outside, after the init has reported ready and before `create`
//! returns (the init waits for `start`: nothing of the user's has run), by a
//! forked child that joins the container's mount namespace. That works for
//! both launch paths and with a user namespace (rcrun is root in every
//! namespace it made).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, CloneFlags};
use nix::sys::statfs::statfs;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// Whether the spec's `/dev` mount asks for "ro" (the last of ro/rw wins).
pub fn wanted(spec: &Spec) -> bool {
    let Some(mounts) = spec.mounts() else {
        return false;
    };
    mounts
        .iter()
        .rfind(|m| {
            m.destination()
                .components()
                .eq(Path::new("/dev").components())
        })
        .and_then(|m| m.options().as_ref())
        .and_then(|o| o.iter().rev().find(|o| *o == "ro" || *o == "rw"))
        .is_some_and(|o| o == "ro")
}

/// In the mount namespace of `pid`: `/dev` remounted read-only, its other
/// flags kept (nosuid etc. may be locked in a user namespace).
pub fn apply(spec: &Spec, pid: i32) -> Result<()> {
    if !wanted(spec) {
        return Ok(());
    }
    let ns_path = format!("/proc/{pid}/ns/mnt");
    let ns = File::open(&ns_path).map_err(|e| Error::io(&ns_path, e))?;
    let own =
        std::fs::metadata("/proc/self/ns/mnt").map_err(|e| Error::io("/proc/self/ns/mnt", e))?;
    let theirs = ns.metadata().map_err(|e| Error::io(&ns_path, e))?;
    if std::os::unix::fs::MetadataExt::ino(&own) == std::os::unix::fs::MetadataExt::ino(&theirs) {
        // No mount namespace of its own: its /dev is ours, left alone.
        return Ok(());
    }
    // SAFETY: the child only makes system calls and _exits.
    match unsafe { fork() }.map_err(|e| Error::os("fork", e))? {
        ForkResult::Child => {
            let res = setns(ns.as_fd(), CloneFlags::CLONE_NEWNS).and_then(|()| {
                let kept = statfs("/dev")?.flags().bits() as libc::c_ulong;
                let flags = MsFlags::from_bits_truncate(kept)
                    | MsFlags::MS_REMOUNT
                    | MsFlags::MS_BIND
                    | MsFlags::MS_RDONLY;
                mount(None::<&str>, "/dev", None::<&str>, flags, None::<&str>)
            });
            crate::clone3::exit_now(match res {
                Ok(()) => 0,
                Err(e) => e as i32,
            })
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, errno)) => Err(Error::os(
                "mounts: remounting /dev read-only (its options say \"ro\")",
                nix::errno::Errno::from_raw(errno),
            )),
            Ok(other) => Err(Error::Internal(format!(
                "remounting /dev read-only: the helper ended with {other:?}"
            ))),
            Err(e) => Err(Error::os("waitpid", e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(opts: &str) -> Spec {
        let json = format!(
            r#"{{"ociVersion":"1.0.2","mounts":[{{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":{opts}}}]}}"#
        );
        serde_json::from_str(&json).unwrap_or_default()
    }

    #[test]
    fn ro_is_read_from_the_dev_mount() {
        assert!(wanted(&spec(r#"["nosuid","ro"]"#)));
        assert!(!wanted(&spec(r#"["ro","rw"]"#)));
        assert!(!wanted(&spec(r#"["nosuid"]"#)));
    }
}
