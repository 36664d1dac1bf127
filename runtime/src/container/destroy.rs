//! `kill --all` and `delete`: signalling every process of the cgroup, and
//! removing everything a container owns.

use std::fs;
use std::os::fd::{AsFd, FromRawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cgroups::CgroupSet;
use crate::crashpoint;
use crate::error::{Action, Error, Result};
use crate::hooks;
use crate::oom_journal;
use crate::state::{self, ContainerState, Root, Status};

/// Signals every process of the cgroup. For SIGKILL the cgroup is frozen
/// first, as runc does, so that a forking process cannot escape the sweep.
pub fn signal_all(cg: &CgroupSet, sig: Signal) -> Result<()> {
    let freeze = sig == Signal::SIGKILL && cg.freeze().is_ok();
    let pids = cg.pids();
    if let Ok(pids) = &pids {
        for pid in pids {
            let _ = kill(Pid::from_raw(*pid), sig);
        }
    }
    if freeze {
        let _ = cg.thaw();
    }
    pids.map(|_| ()).map_err(Error::from)
}

/// `delete`: runc's rules. Stopped: destroy. Created: kill and destroy.
/// Running or paused: only with `force`.
pub(super) fn delete(root: &Root, id: &str, force: bool) -> Result<()> {
    let lock = match root.lock(id) {
        Ok(l) => l,
        Err(Error::NotExist(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = match root.load(id) {
        Ok(st) => st,
        // A directory without state: what a `create` killed before its
        // first state write leaves (nothing else of it exists yet). Ours to
        // remove when we hold its lock (no create is running); without a
        // lock file its create may be just starting, so only with --force.
        Err(Error::NotExist(_)) if lock.is_some() || force => {
            return root.remove(id);
        }
        Err(e) => return Err(e),
    };
    match st.status() {
        Status::Stopped => {}
        Status::Created | Status::Creating => kill_and_wait(&st)?,
        _ if force => kill_and_wait(&st)?,
        status => {
            return Err(Error::WrongStatus {
                id: id.to_string(),
                status,
                action: Action::Delete,
            })
        }
    }
    crashpoint::point("delete:after-kill");
    hooks::run_poststop(&root.container_dir(id), &st);
    // The account outlives the container: the cgroup's counters go with it.
    oom_journal::record_delete(&root.path, &st);
    let errors = destroy(root, &st);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Internal(errors.join("; ")))
    }
}

/// SIGKILLs everything in the container and waits (bounded) for init to go.
fn kill_and_wait(st: &ContainerState) -> Result<()> {
    // A pidfd taken while the init is known to be ours: it wakes us the
    // moment the init exits (polling with sleeps cost ~2 ms a round, more
    // on a busy host).
    let mut init_kills_all = false;
    let pidfd = if st.pid > 0 && state::process_alive(st.pid, st.pid_start_time) {
        let fd = pidfd_open(st.pid);
        // With its own pid namespace the init's death takes every process
        // of the container with it (the kernel kills the namespace): no
        // freeze-and-sweep of the cgroup needed. destroy() still sweeps
        // whatever else is in the cgroup.
        init_kills_all = is_pid_namespace_init(st.pid);
        let _ = kill(Pid::from_raw(st.pid), Signal::SIGKILL);
        // The pid may have been reused between the check and the open.
        fd.filter(|_| state::process_alive(st.pid, st.pid_start_time))
    } else {
        None
    };
    if !init_kills_all {
        let _ = signal_all(&st.cgroups, Signal::SIGKILL);
    }
    // A paused container: frozen processes die only once thawed (runc thaws
    // too). Otherwise the wait below times out and the init stays frozen.
    if st.cgroups.is_frozen().unwrap_or(false) {
        let _ = st.cgroups.thaw();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.pid > 0 && state::process_alive(st.pid, st.pid_start_time) {
        let now = Instant::now();
        if now > deadline {
            return Err(Error::Internal(format!(
                "container init {} did not exit after SIGKILL",
                st.pid
            )));
        }
        match &pidfd {
            Some(fd) => {
                let mut fds = [nix::poll::PollFd::new(
                    fd.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                let ms = (deadline - now).as_millis().min(1000) as u16;
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    Ok(())
}

/// Whether `pid` is pid 1 of a pid namespace below ours (NSpid "N 1"):
/// its death kills every process of that namespace.
fn is_pid_namespace_init(pid: i32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| {
            let ids: Vec<&str> = v.split_whitespace().collect();
            ids.len() > 1 && ids.last() == Some(&"1")
        })
        .unwrap_or(false)
}

/// pidfd_open(2); None where the kernel has none (before 5.3) or the
/// process is gone.
fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this fd to us.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Removes everything the container owns: its processes, cgroup directories
/// and state. Best effort: returns what could not be removed.
pub fn destroy(root: &Root, st: &ContainerState) -> Vec<String> {
    destroy_parts(root, st, true)
}

pub(super) fn destroy_parts(root: &Root, st: &ContainerState, remove_state: bool) -> Vec<String> {
    let mut errors = Vec::new();
    // Any process left (no pid namespace, or init died first) must go, or the
    // cgroup directories cannot be removed.
    if st.cgroups.pids().map(|p| !p.is_empty()).unwrap_or(false) {
        let _ = signal_all(&st.cgroups, Signal::SIGKILL);
    }
    // Parents that create made (containerd's default cgroupsPath is
    // /<namespace>/<id>) are shared with sibling containers created later:
    // only the container's own directories must go; a parent is removed
    // when nothing else uses it, and a busy one is no error.
    let (own, parents): (Vec<PathBuf>, Vec<PathBuf>) = st
        .cgroups
        .created
        .iter()
        .cloned()
        .partition(|p| st.cgroups.dirs.iter().any(|d| p.starts_with(&d.path)));
    let mut own_set = st.cgroups.clone();
    own_set.created = own;
    if let Err(e) = own_set.remove() {
        errors.push(e.to_string());
    }
    remove_unused_parents(parents);
    crashpoint::point("delete:after-cgroup-rm");
    if !remove_state {
        return errors;
    }
    if let Err(e) = root.remove(&st.id) {
        errors.push(e.to_string());
    }
    errors
}

/// rmdir each parent cgroup, deepest first, once: a parent with another
/// container below it (or processes) stays.
fn remove_unused_parents(mut parents: Vec<PathBuf>) {
    parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in parents {
        if let Err(e) = fs::remove_dir(&p) {
            tracing::debug!("cgroup parent {} kept: {e}", p.display());
        }
    }
}
