//! Starting the container's init process ourselves: one clone3 from the
//! calling process, straight into the new pid namespace (and on cgroup v2
//! straight into the container's cgroup), running libcontainer's init code
//! (rootfs, mounts, capabilities, seccomp, hooks, waiting for `start`) in
//! the child through the adapter in lc_init.rs.
//!
//! This replaces libcontainer's main + intermediate process pair, which cost
//! (measured, see docs/benchmarks.md): an extra process, a cgroup manager
//! that parses mountinfo once per controller, and a second cgroup.procs
//! write burst. Each burst of cgroup.procs writes waits for an RCU grace
//! period in the kernel (~10 ms on the benchmark host); here there is at
//! most one (v1/hybrid: the child's pid, written while it waits on a pipe)
//! and none on v2 (CLONE_INTO_CGROUP). Nothing has to move back afterwards,
//! so long-lived callers (run, the shim) pay no second burst either.
//!
//! Specs that need what only libcontainer's full path does go through
//! lc_builder.rs instead: see fallback.rs. The spec checks (launch_checks)
//! and the device cgroup (cgroups::devices) are done by the caller for both
//! paths.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::warm_up::finish_warm_up;
use crate::cgroups::{CgroupSet, Layout, Placement};
use crate::clone3::{clone3, exit_now, CLONE_INTO_CGROUP};
use crate::error::{Error, Result};
use crate::fd_hygiene;
use crate::lc_init::Init;

/// What the caller of either launch path (this one, or lc_builder's)
/// hands over for the container's process: runc's flags of these names.
#[derive(Clone, Copy, Default)]
pub struct Handoff<'a> {
    pub console_socket: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: i32,
    pub detach: bool,
}

/// The container a launch path starts a process in, and runc's flags for
/// that process: what both paths (this one and lc_builder's) take.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub id: &'a str,
    pub cgroups: &'a CgroupSet,
    /// For a new container whose cgroup is made only when its process
    /// exists (systemd driver, [`CgroupSet::place`]); None for exec.
    pub new_cgroup: Option<&'a Placement<'a>>,
    pub handoff: Handoff<'a>,
}

/// What [`launch`] needs besides the spec.
pub struct Params<'a> {
    pub target: Target<'a>,
    /// The user's bundle: what hooks see in the state on their stdin.
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    /// libcontainer's directory of this container (`<root>/<id>/lc/<id>`):
    /// the notify socket `start` connects to lives there.
    pub lc_dir: &'a Path,
    pub no_pivot: bool,
    pub stdin: Option<RawFd>,
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
}

/// Creates the init process and waits until it is ready for `start`;
/// returns its pid (in our pid namespace).
pub fn launch(spec: Spec, p: &Params) -> Result<i32> {
    // The fds the init must not keep (see fd_hygiene), known before launch
    // opens its own. The warm-up thread must be done first: an fd it still
    // has open would be listed, and its number reused by our channels
    // once it closes it.
    finish_warm_up();
    let inherited = fd_hygiene::open_fds();
    let new_pid_ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|nss| nss.iter().any(|n| n.typ() == LinuxNamespaceType::Pid));
    let mut init = Init::prepare(spec.clone(), p)?;
    let res = spawn_and_wait(&mut init, &inherited, &spec, p, new_pid_ns);
    drop(init);
    let pid = res?;

    if let Some(path) = p.target.handoff.pid_file {
        // Like runc, a pid file that cannot be written fails the create
        // (the caller relies on it); the container is removed by our caller.
        fs::write(path, pid.to_string()).map_err(|e| Error::io(path, e))?;
    }
    Ok(pid)
}

fn spawn_and_wait(
    init: &mut Init,
    inherited: &[RawFd],
    spec: &Spec,
    p: &Params,
    new_pid_ns: bool,
) -> Result<i32> {
    // v2: clone straight into the cgroup. Otherwise (or if the kernel
    // refuses) the child waits on `go` until we have written its pid.
    // With the systemd driver the cgroup is the unit's, started with the
    // child's pid once it exists.
    let cgroup_fd = match (p.target.cgroups.layout, p.target.cgroups.unified_dir()) {
        (Layout::V2, Some(d)) if p.target.cgroups.systemd.is_none() => {
            fs::File::open(&d.path).ok().map(OwnedFd::from)
        }
        _ => None,
    };
    let (go_rd, go_wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe", e))?;
    finish_warm_up();

    let mut flags: u64 = 0;
    if new_pid_ns {
        flags |= libc::CLONE_NEWPID as u64;
    }
    let mut spawned = None;
    if let Some(fd) = &cgroup_fd {
        match clone3(flags | CLONE_INTO_CGROUP, Some(fd.as_raw_fd())) {
            Ok(0) => child(init, p, None, go_wr, inherited),
            Ok(pid) => spawned = Some((pid, true)),
            Err(e) => tracing::debug!("clone3 into the cgroup: {e}; writing cgroup.procs instead"),
        }
    }
    let (pid, placed) = match spawned {
        Some(s) => s,
        None => match clone3(flags, None) {
            Ok(0) => child(init, p, Some(go_rd), go_wr, inherited),
            Ok(pid) => (pid, false),
            Err(e) => return Err(Error::os("clone3", e)),
        },
    };
    drop(go_rd);
    init.close_child_ends();
    let res = parent(init, p, pid, placed, go_wr);
    if let Err(e) = res {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        return Err(crate::oom::init_oom_killed_at_start(spec, p.target.cgroups).unwrap_or(e));
    }
    Ok(pid)
}

fn parent(init: &mut Init, p: &Params, pid: i32, placed: bool, go_wr: OwnedFd) -> Result<()> {
    if !placed {
        // One burst of cgroup.procs writes, for every hierarchy (unified and
        // name=systemd included), before the child does anything.
        p.target.cgroups.place(pid, p.target.new_cgroup)?;
        // A child that died already gives EPIPE here; the wait below then
        // reports why it died.
        let _ = fs::File::from(go_wr).write_all(b"g");
    }
    init.wait_ready(pid)?;
    // runc's init says this when it is set up (tooling looks for it).
    tracing::debug!("init: closing the pipe to signal completion");
    Ok(())
}

/// In the child: wait to be placed in the cgroups, then become the init.
/// Never returns.
fn child(
    init: &mut Init,
    p: &Params,
    go: Option<OwnedFd>,
    go_wr: OwnedFd,
    inherited: &[RawFd],
) -> ! {
    drop(go_wr);
    init.close_parent_ends();
    if let Some(go) = go {
        let mut b = [0u8; 1];
        // EOF: the parent died or gave up; nothing to set up.
        match nix::unistd::read(go.as_raw_fd(), &mut b) {
            Ok(1) => {}
            _ => exit_now(1),
        }
    }
    // Of the fds open before launch began, keep only the container's stdio
    // and the log; what launch made since (channels, notify and console
    // sockets) the init needs.
    let keep: Vec<RawFd> = init
        .stdio_fds()
        .into_iter()
        .chain(crate::log_control::log_fd())
        .collect();
    fd_hygiene::close_inherited(inherited, p.target.handoff.preserve_fds, &keep);
    crate::log_control::mute_dependencies();
    // runc's milestones (its nsexec's, then its init's), from the init
    // itself as runc's.
    tracing::debug!("=> nsexec container setup");
    tracing::debug!("child process in init()");
    exit_now(init.run())
}
