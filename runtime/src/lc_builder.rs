//! libcontainer's own process setup (main + intermediate + init), through
//! its public builder: `create` for the specs fallback.rs names, and every
//! `exec` (its tenant path). Both run in the container's cgroups from the
//! first instruction: libcontainer's manager joins the v1 controllers it
//! knows, rcrun joins the rest itself before the fork.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::Executor;
use oci_spec::runtime::LinuxSeccomp;

use crate::cgroups::{self, CgroupSet, Hierarchies, Layout};
use crate::error::{Error, Result};
use crate::launch::Target;
use crate::seccomp_stub_exec::StubAfterProfile;

fn lc_error(context: &str, e: libcontainer::error::LibcontainerError) -> Error {
    Error::launch(context, e)
}

/// The container's stdio; None = inherit ours (the CLI's behaviour).
#[derive(Debug, Default)]
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl Stdio {
    fn apply(self, mut b: ContainerBuilder) -> ContainerBuilder {
        if let Some(fd) = self.stdin {
            b = b.with_stdin(fd);
        }
        if let Some(fd) = self.stdout {
            b = b.with_stdout(fd);
        }
        if let Some(fd) = self.stderr {
            b = b.with_stderr(fd);
        }
        b
    }
}

/// What both builder paths take from the caller.
pub struct Common<'a> {
    pub target: Target<'a>,
    /// libcontainer's root of this container (`<root>/<id>/lc`).
    pub lc_root: &'a Path,
    pub hierarchies: &'a Hierarchies,
    pub stdio: Stdio,
}

/// libcontainer's create of the init; `state_dir` holds the config.json
/// lc_spec wrote. `move_back`: rcrun leaves the container's cgroups after
/// the fork (long-lived callers). Returns the init's pid.
pub fn create(
    c: Common,
    state_dir: &Path,
    no_pivot: bool,
    move_back: bool,
    seccomp: Option<&LinuxSeccomp>,
) -> Result<i32> {
    // libcontainer forks: no other thread may be running.
    cgroups::warm_up::finish_warm_up();
    let (lc_path, mut self_join) = libcontainer_cgroups(c.hierarchies, c.target.cgroups)?;
    // rcrun joins every cgroup itself (path ""): libcontainer's manager
    // then resolves the container's cgroups from its own process, and its
    // cleanup after a failure (a createContainer hook that fails) SIGKILLs
    // every process there, so the build runs in a child of rcrun.
    let isolate = lc_path.as_os_str().is_empty() && c.target.cgroups.systemd.is_none();
    if c.target.cgroups.systemd.is_some() {
        // libcontainer's init is not ours to hold until the unit exists:
        // systemd starts the unit with rcrun in it, rcrun forks from there
        // and leaves (runc gives it its own init's pid instead).
        self_join = c.target.cgroups.clone();
    }
    let new_cgroup = c.target.new_cgroup;
    let build = || {
        with_cgroups_joined(&self_join, c.hierarchies, move_back, new_cgroup, || {
            ContainerBuilder::new(c.target.id.to_string(), SyscallType::Linux)
                .with_root_path(c.lc_root)
                .and_then(|b| b.with_pid_file(c.target.handoff.pid_file))
                .map(|b| {
                    c.stdio.apply(
                        b.with_console_socket(c.target.handoff.console_socket)
                            .with_preserved_fds(c.target.handoff.preserve_fds)
                            .with_executor(StubAfterProfile::new(seccomp)),
                    )
                })
                .and_then(|b| b.validate_id())
                .map(|b| b.as_init(state_dir))
                .and_then(|b| {
                    b.with_systemd(false)
                        .with_detach(c.target.handoff.detach)
                        .with_no_pivot(no_pivot)
                        .build()
                })
                .map_err(|e| lc_error("create", e))
        })
        .and_then(|container| {
            container
                .pid()
                .map(|p| p.as_raw())
                .ok_or_else(|| Error::Internal("create: libcontainer returned no init pid".into()))
        })
    };
    let pid = if isolate {
        crate::lc_isolated::run(build)?
    } else {
        build()?
    };
    // runc's milestones (its init logs them); libcontainer's init has no
    // hook for them, so they are said once it is ready.
    tracing::debug!("=> nsexec container setup");
    tracing::debug!("child process in init()");
    tracing::debug!("init: closing the pipe to signal completion");
    Ok(pid)
}

/// libcontainer's exec (tenant) of the process in `process_file`, run by
/// `executor`, in the container's cgroups (`exec --cgroup` is the
/// executor's: exec_cgroup). Returns its pid.
pub fn exec(c: Common, process_file: &Path, executor: impl Executor + 'static) -> Result<i32> {
    let (_, self_join) = libcontainer_cgroups(c.hierarchies, c.target.cgroups)?;
    let pid = with_cgroups_joined(&self_join, c.hierarchies, true, None, || {
        let b = ContainerBuilder::new(c.target.id.to_string(), SyscallType::Linux)
            .with_root_path(c.lc_root)
            .and_then(|b| b.with_pid_file(c.target.handoff.pid_file))
            .map_err(|e| lc_error("exec", e))?
            .with_console_socket(c.target.handoff.console_socket)
            .with_preserved_fds(c.target.handoff.preserve_fds)
            .with_executor(executor);
        c.stdio
            .apply(b)
            .validate_id()
            .map_err(|e| lc_error("exec", e))?
            .as_tenant()
            .with_detach(c.target.handoff.detach)
            .with_process(Some(process_file))
            .build()
            .map_err(|e| lc_error("exec", e))
    })?;
    Ok(pid.as_raw())
}

/// v1 controllers libcgroups' manager knows: it joins these itself. It
/// ignores named hierarchies (name=systemd), unknown controllers and, on
/// hybrid hosts, the unified hierarchy.
const LIBCGROUPS_V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

/// The cgroupsPath libcontainer's manager gets, and the cgroups rcrun must
/// join itself (those the manager ignores).
///
/// libcontainer's intermediate process joins `<mount>/<path>` of every v1
/// controller it knows (or the cgroup2 path on v2). On failure its cleanup
/// SIGKILLs every process in that cgroup, so rcrun itself must never be in
/// a cgroup the manager handles: it only joins the others (unified on
/// hybrid, name=systemd), which the cleanup leaves alone. Fallback, when the
/// v1 directories have different paths below their mounts (a relative
/// cgroupsPath under a caller whose cgroups differ per hierarchy): path ""
/// (= the caller's own cgroups) and rcrun joins everything before the fork.
pub fn libcontainer_cgroups(h: &Hierarchies, cg: &CgroupSet) -> Result<(PathBuf, CgroupSet)> {
    let subset = |dirs: Vec<cgroups::CgroupDir>| CgroupSet {
        layout: cg.layout,
        dirs,
        created: Vec::new(),
        systemd: None,
    };
    if cg.layout == Layout::V2 {
        let path = cg.v2_relative_path(h).ok_or_else(|| {
            Error::Internal("cgroup v2 directory of the container not found".into())
        })?;
        return Ok((path, subset(Vec::new())));
    }
    let managed = |d: &cgroups::CgroupDir| {
        !d.is_unified() && d.hierarchy.split(',').all(|c| LIBCGROUPS_V1.contains(&c))
    };
    let mut rels = cg
        .dirs
        .iter()
        .filter(|d| managed(d))
        .map(|d| d.path.strip_prefix(&d.mount).ok());
    let first = rels.next().flatten();
    let same = first.is_some() && rels.all(|r| r == first);
    match first {
        Some(rel) if same => {
            let rest = cg.dirs.iter().filter(|d| !managed(d)).cloned().collect();
            Ok((Path::new("/").join(rel), subset(rest)))
        }
        _ => Ok((PathBuf::new(), cg.clone())),
    }
}

/// Runs `f` with this process inside the container's cgroups, so that every
/// process libcontainer forks starts there (limits apply from the first
/// instruction), then moves back. `new_cgroup`: see [`CgroupSet::place`].
fn with_cgroups_joined<T>(
    cg: &CgroupSet,
    h: &Hierarchies,
    move_back: bool,
    new_cgroup: Option<&cgroups::Placement>,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if cg.dirs.is_empty() {
        return f();
    }
    // Only the hierarchies we join need moving back.
    let mut own = CgroupSet::current(h)?;
    own.dirs
        .retain(|o| cg.dirs.iter().any(|d| d.hierarchy == o.hierarchy));
    let me = std::process::id() as i32;
    if let Err(e) = cg.place(me, new_cgroup) {
        // Partly placed (a systemd unit started with us in it): out again
        // before the caller's cleanup stops the unit, which kills its
        // processes.
        let _ = own.add_pid(me);
        return Err(e);
    }
    let res = f();
    // On failure we always move back: the cgroup is about to be removed.
    if move_back || res.is_err() {
        if let Err(e) = own.add_pid(me) {
            tracing::warn!("moving rcrun back to its own cgroups: {e}");
        }
    }
    res
}
