//! Container operations shared by the CLI commands and the shim: create,
//! start, signal, destroy. libcontainer sets up the process; we own cgroups
//! and state.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::ContainerStatus;
use libcontainer::notify_socket::{NotifySocket, NOTIFY_FILE};
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cgroups::{self, CgroupSet, Hierarchies, Layout};
use crate::crashpoint;
use crate::error::{describe_chain, Error, Result};
use crate::launch;
use crate::lock::ContainerLock;
use crate::spec;
use crate::state::{self, ContainerState, Root, Status};

/// Options of `create` (and `run`), as runc names them.
#[derive(Debug, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// false only for foreground `run`, where the caller keeps the terminal.
    pub detach: bool,
    /// The container's stdio; None = inherit ours (the CLI's behaviour).
    pub stdio: Stdio,
    /// The caller exits right after `create` (the `rcrun create` command):
    /// it may stay in the container's cgroups instead of moving back, which
    /// saves a cgroup migration (~10 ms here: each burst of cgroup.procs
    /// writes waits for an RCU grace period in the kernel). Long-lived
    /// callers (the shim, foreground `run`) must leave this false.
    pub caller_exits: bool,
}

/// Explicit stdio for the container process (the shim passes fifos).
#[derive(Debug, Default)]
pub struct Stdio {
    pub stdin: Option<std::os::fd::OwnedFd>,
    pub stdout: Option<std::os::fd::OwnedFd>,
    pub stderr: Option<std::os::fd::OwnedFd>,
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

/// A path flag made absolute against the caller's cwd, up front: libcontainer
/// resolves relative ones later and panics when the cwd is gone.
fn absolute(flag: &str, path: Option<PathBuf>) -> Result<Option<PathBuf>> {
    path.map(|p| {
        std::path::absolute(&p).map_err(|e| {
            Error::Spec(format!(
                "{flag}: {}: cannot be resolved against the current directory: {e}",
                p.display()
            ))
        })
    })
    .transpose()
}

/// With every path made absolute, a deleted cwd no longer matters; but
/// libcontainer reads the cwd (to come back to it) and panics when it is
/// gone: move to "/" then.
fn leave_deleted_cwd() {
    if std::env::current_dir().is_err() {
        let _ = std::env::set_current_dir("/");
    }
}

fn lc_error(context: &str, e: libcontainer::error::LibcontainerError) -> Error {
    Error::Container(format!("{context}: {}", describe_chain(&e)))
}

/// Creates the container: validates everything first, then makes the cgroup,
/// the state and the init process. On failure nothing is left behind.
pub fn create(root: &Root, id: &str, mut opts: CreateOptions) -> Result<ContainerState> {
    state::validate_id(id)?;
    opts.console_socket = absolute("--console-socket", opts.console_socket)?;
    opts.pid_file = absolute("--pid-file", opts.pid_file)?;
    opts.bundle = absolute("--bundle", Some(opts.bundle))?.unwrap_or_default();
    leave_deleted_cwd();
    let hierarchies = Hierarchies::detect()?;
    // First: the kernel's wait for cgroup.procs writes overlaps with all
    // that follows (see launch::warm_up_cgroup_writes).
    let _warm_up = launch::warm_up_cgroup_writes(&hierarchies);
    let bundle = spec::load_bundle(&opts.bundle)?;
    let linux = bundle
        .spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::Spec("linux: missing".into()))?;
    if let Some(r) = linux.resources() {
        cgroups::validate(&hierarchies, r)?;
    }
    let cgroups_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup_set = CgroupSet::resolve(&hierarchies, cgroups_path.as_deref(), id)?;
    if exists(root, id) {
        // Said as such before the cgroup check, which would see this id's
        // own processes.
        return Err(Error::Exists(id.to_string()));
    }
    refuse_busy_cgroup(&cgroup_set)?;

    // The exclusive mkdir is the duplicate-id check; the lock (held until
    // we return, or dropped by the kernel if we are killed) keeps start,
    // kill and delete of this id waiting until the container is complete.
    let lock = root.create_container_dir_locked(id)?;
    crashpoint::point("create:after-state-dir");
    let mut st = ContainerState {
        id: id.to_string(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        pid: 0,
        pid_start_time: 0,
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: bundle
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        started: false,
        cgroups: cgroup_set,
    };
    // Saved before anything else exists, with the cgroup directories about
    // to be made, so that a crash from here on leaves a state that
    // `delete --force` cleans up completely (a state with pid 0 is stopped).
    let mut initial = st.clone();
    initial.cgroups.created = st.cgroups.planned();
    if let Err(e) = root.save(&initial) {
        undo_create(root, &st, &lock);
        return Err(e);
    }
    crashpoint::point("create:after-state-init");
    match create_in_dir(root, &mut st, &bundle, &hierarchies, opts) {
        Ok(()) => Ok(st),
        Err(e) => {
            undo_create(root, &st, &lock);
            Err(e)
        }
    }
}

/// A cgroup that already holds processes belongs to someone else (another
/// container given the same cgroupsPath): refused before anything is made,
/// as runc does, since this container's delete (or a failed create's
/// cleanup) would kill every process in it.
fn refuse_busy_cgroup(set: &CgroupSet) -> Result<()> {
    for d in &set.dirs {
        let Ok(procs) = fs::read_to_string(d.path.join("cgroup.procs")) else {
            continue; // not there yet: ours to make
        };
        let n = procs.lines().filter(|l| !l.trim().is_empty()).count();
        if n > 0 {
            return Err(Error::Spec(format!(
                "linux.cgroupsPath: {} is not empty: {n} process(es) already in it (another container's cgroup?)",
                d.path.display()
            )));
        }
    }
    Ok(())
}

/// `create`'s cleanup after a failure: everything it made, but the state
/// directory only while it is still ours (a `delete --force` of the same id
/// may have removed it, and another `create` made it again, meanwhile).
fn undo_create(root: &Root, st: &ContainerState, lock: &ContainerLock) {
    let remove_state = lock.is_current(&root.container_dir(&st.id));
    for e in destroy_parts(root, st, remove_state) {
        tracing::warn!("cleaning up after the failed create: {e}");
    }
}

fn create_in_dir(
    root: &Root,
    st: &mut ContainerState,
    bundle: &spec::Bundle,
    hierarchies: &Hierarchies,
    opts: CreateOptions,
) -> Result<()> {
    st.cgroups.create()?;
    crashpoint::point("create:after-cgroup-mkdir");
    if let Some(r) = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
    {
        st.cgroups.apply(r)?;
    }
    crashpoint::point("create:after-resources");

    let dir = root.container_dir(&st.id);
    let lc_spec = crate::lc_spec::for_libcontainer(
        &bundle.spec,
        &bundle.dir,
        &bundle.rootfs,
        libcontainer_cgroups(hierarchies, &st.cgroups)?.0,
        crate::cgroup_mounts::CgroupView::of(&st.cgroups).as_ref(),
    )?;
    let data =
        serde_json::to_vec(&lc_spec).map_err(|e| Error::Spec(format!("serialize spec: {e}")))?;
    state::write_atomic(&dir.join("config.json"), &data)?;
    let lc_root = root.libcontainer_root(&st.id);
    let lc_dir = lc_root.join(&st.id);

    let pid = match launch::fallback_reason(&lc_spec) {
        None => {
            // Our own launch (see launch.rs): one process, at most one
            // cgroup.procs burst, nothing to move back.
            fs::create_dir_all(&lc_dir).map_err(|e| Error::io(&lc_dir, e))?;
            let stdio = opts.stdio;
            launch::launch(
                lc_spec,
                &launch::Params {
                    id: &st.id,
                    bundle: &bundle.dir,
                    rootfs: &bundle.rootfs,
                    lc_dir: &lc_dir,
                    cgroups: &st.cgroups,
                    console_socket: opts.console_socket.as_deref(),
                    pid_file: opts.pid_file.as_deref(),
                    preserve_fds: opts.preserve_fds,
                    detach: opts.detach,
                    no_pivot: opts.no_pivot,
                    stdin: stdio.stdin.as_ref().map(|f| f.as_raw_fd()),
                    stdout: stdio.stdout.as_ref().map(|f| f.as_raw_fd()),
                    stderr: stdio.stderr.as_ref().map(|f| f.as_raw_fd()),
                },
            )?
        }
        Some(reason) => {
            tracing::debug!("process setup by libcontainer: {reason}");
            create_with_libcontainer(root, st, hierarchies, opts, &lc_root)?
        }
    };
    crashpoint::point("create:after-clone");
    st.pid = pid;
    st.pid_start_time = state::process_start_time(pid).unwrap_or(0);
    root.save(st)?;
    crashpoint::point("create:after-state-write");
    Ok(())
}

/// libcontainer's own process setup (main + intermediate + init), for the
/// specs [`launch::fallback_reason`] names. Its state file is what `start`
/// and `exec` use as well.
fn create_with_libcontainer(
    root: &Root,
    st: &ContainerState,
    hierarchies: &Hierarchies,
    opts: CreateOptions,
    lc_root: &Path,
) -> Result<i32> {
    let dir = root.container_dir(&st.id);
    fs::create_dir_all(lc_root).map_err(|e| Error::io(lc_root, e))?;
    // libcontainer forks: no other thread may be running.
    launch::finish_warm_up();
    let move_back = !opts.caller_exits;
    let (_, self_join) = libcontainer_cgroups(hierarchies, &st.cgroups)?;
    let container = with_cgroups_joined(&self_join, hierarchies, move_back, || {
        ContainerBuilder::new(st.id.clone(), SyscallType::Linux)
            .with_root_path(lc_root)
            .and_then(|b| b.with_pid_file(opts.pid_file.as_ref()))
            .map(|b| {
                opts.stdio.apply(
                    b.with_console_socket(opts.console_socket.as_ref())
                        .with_preserved_fds(opts.preserve_fds),
                )
            })
            .and_then(|b| b.validate_id())
            .map(|b| b.as_init(&dir))
            .and_then(|b| {
                b.with_systemd(false)
                    .with_detach(opts.detach)
                    .with_no_pivot(opts.no_pivot)
                    .build()
            })
            .map_err(|e| lc_error("create", e))
    })?;
    Ok(container
        .pid()
        .ok_or_else(|| Error::Container("create: libcontainer returned no init pid".into()))?
        .as_raw())
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
fn libcontainer_cgroups(h: &Hierarchies, cg: &CgroupSet) -> Result<(PathBuf, CgroupSet)> {
    let subset = |dirs: Vec<cgroups::CgroupDir>| CgroupSet {
        layout: cg.layout,
        dirs,
        created: Vec::new(),
    };
    if cg.layout == Layout::V2 {
        let path = cg.v2_relative_path(h).ok_or_else(|| {
            Error::Container("cgroup v2 directory of the container not found".into())
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
/// instruction), then moves back.
fn with_cgroups_joined<T>(
    cg: &CgroupSet,
    h: &Hierarchies,
    move_back: bool,
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
    cg.add_pid(me)?;
    let res = f();
    // On failure we always move back: the cgroup is about to be removed.
    if move_back || res.is_err() {
        if let Err(e) = own.add_pid(me) {
            tracing::warn!("moving rcrun back to its own cgroups: {e}");
        }
    }
    res
}

pub fn load(root: &Root, id: &str) -> Result<ContainerState> {
    root.load(id)
}

/// `start`: lets the init process exec the user's program.
pub fn start(root: &Root, id: &str) -> Result<()> {
    let _lock = root.lock(id)?;
    let mut st = root.load(id)?;
    match st.status() {
        Status::Created => {}
        // Not started yet, yet stopped: the init died while waiting (killed,
        // OOM-killed at its limit, or its setup failed after create).
        Status::Stopped if !st.started && st.pid > 0 => {
            return Err(Error::State(format!(
                "cannot start a container that has stopped: its init process (pid {}) exited before start",
                st.pid
            )))
        }
        Status::Stopped => {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running => {
            return Err(Error::State(
                "cannot start an already running container".into(),
            ))
        }
        s => {
            return Err(Error::State(format!(
                "cannot start a container in the {s} state"
            )))
        }
    }
    st.started = true;
    root.save(&st)?;
    crashpoint::point("start:before-exec");
    // The init waits on this socket (both launch paths make it here).
    let lc_dir = root.libcontainer_root(id).join(id);
    NotifySocket::new(lc_dir.join(NOTIFY_FILE))
        .notify_container_start()
        .map_err(|e| launch::lc_err("start", e))?;
    if let Some(spec) = spec_with_hooks(root, id, "poststart") {
        let hooks = spec.hooks().as_ref().and_then(|h| h.poststart().as_ref());
        run_hooks_warning("poststart", hooks, &spec, &st, ContainerStatus::Running);
    }
    Ok(())
}

/// Runs poststart or poststop hooks one by one. The runtime-spec: a failing
/// one is logged as a warning, and the remaining hooks and the lifecycle go
/// on as if it had succeeded. Hooks read the container's state on stdin:
/// the user's bundle and the spec's annotations.
fn run_hooks_warning(
    phase: &str,
    hooks: Option<&Vec<oci_spec::runtime::Hook>>,
    spec: &oci_spec::runtime::Spec,
    st: &ContainerState,
    status: ContainerStatus,
) {
    let pid = (status == ContainerStatus::Running).then_some(st.pid);
    let mut state = libcontainer::container::State::new(&st.id, status, pid, st.bundle.clone());
    state.annotations = spec.annotations().clone();
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        let one = vec![hook.clone()];
        if let Err(e) =
            libcontainer::hooks::run_hooks(Some(&one), Some(&state), Some(&st.bundle), None, None)
        {
            tracing::warn!(
                "{phase} hook {i} ({}) failed: {}",
                hook.path().display(),
                describe_chain(&e)
            );
        }
    }
}

/// The container's spec, parsed only when its text mentions `hook` (most
/// containers have no hooks; parsing a large spec costs more than reading).
fn spec_with_hooks(root: &Root, id: &str, hook: &str) -> Option<oci_spec::runtime::Spec> {
    let data = fs::read(root.container_dir(id).join("config.json")).ok()?;
    let needle = hook.as_bytes();
    if !data.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    serde_json::from_slice(&data).ok()
}

/// `kill`: signals init, or with `all` every process in the cgroup.
pub fn signal(root: &Root, id: &str, sig: Signal, all: bool) -> Result<()> {
    // Waits for a create in progress: its init pid is not known before.
    let _lock = root.lock(id)?;
    let st = root.load(id)?;
    let status = st.status();
    if all {
        return signal_all(&st.cgroups, sig);
    }
    if status == Status::Stopped {
        return Err(Error::State("container not running".into()));
    }
    kill(Pid::from_raw(st.pid), sig)
        .map_err(|e| Error::Container(format!("kill pid {}: {e}", st.pid)))
}

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
pub fn delete(root: &Root, id: &str, force: bool) -> Result<()> {
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
        s => {
            return Err(Error::State(format!(
                "cannot delete container {id} that is not stopped: {s}"
            )))
        }
    }
    crashpoint::point("delete:after-kill");
    run_poststop_hooks(root, &st);
    let errors = destroy(root, &st);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Container(errors.join("; ")))
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.pid > 0 && state::process_alive(st.pid, st.pid_start_time) {
        let now = Instant::now();
        if now > deadline {
            return Err(Error::Container(format!(
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

fn destroy_parts(root: &Root, st: &ContainerState, remove_state: bool) -> Vec<String> {
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

fn run_poststop_hooks(root: &Root, st: &ContainerState) {
    let Some(spec) = spec_with_hooks(root, &st.id, "poststop") else {
        return;
    };
    let hooks = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref());
    run_hooks_warning("poststop", hooks, &spec, st, ContainerStatus::Stopped);
}

/// Path of a container's file for callers that need it (pid files, logs).
pub fn state_dir(root: &Root, id: &str) -> PathBuf {
    root.container_dir(id)
}

pub fn exists(root: &Root, id: &str) -> bool {
    Path::new(&root.container_dir(id))
        .join("state.json")
        .exists()
}

/// libcontainer's exec (tenant) path loads libcontainer's state file of the
/// container and wants it "running". Our launch does not write that file
/// (nothing else reads it), and libcontainer's own create path leaves it
/// "created": made or updated here, from our state.
fn ensure_libcontainer_state(root: &Root, st: &ContainerState) -> Result<()> {
    let lc_dir = root.libcontainer_root(&st.id).join(&st.id);
    let running = st.status() != Status::Created;
    // (Checked first: libcontainer logs an error for a missing file.)
    let existing = if lc_dir.join("state.json").exists() {
        libcontainer::container::Container::load(lc_dir.clone()).ok()
    } else {
        None
    };
    match existing {
        Some(mut c) if c.pid() == Some(Pid::from_raw(st.pid)) => {
            if running && c.status() == ContainerStatus::Created {
                c.set_status(ContainerStatus::Running)
                    .save()
                    .map_err(|e| lc_error("exec: libcontainer state", e))?;
            }
            Ok(())
        }
        _ => launch::write_libcontainer_state(
            &st.id,
            st.pid,
            running,
            &root.container_dir(&st.id),
            &lc_dir,
        ),
    }
}

/// An exec that failed because the container's pids cgroup is full: its
/// processes are forked inside the cgroup, where the kernel refuses one
/// more (runc forks outside and moves the process in, which pids.max does
/// not check). Said as such, naming the field.
fn exec_pids_full(st: &ContainerState) -> Option<Error> {
    let (max, _) = st.cgroups.pids_at_limit()?;
    Some(Error::State(format!(
        "exec: linux.resources.pids.limit: {max} leaves no room for another process in the container (the kernel refused the fork)"
    )))
}

/// Options of `exec`.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// The whole process (exec_process builds it from the container's).
    pub process: oci_spec::runtime::Process,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub sub_cgroup: Option<String>,
    pub stdio: Stdio,
}

/// Starts a process inside a running container; returns its pid.
pub fn exec(root: &Root, st: &ContainerState, mut opts: ExecOptions) -> Result<i32> {
    opts.console_socket = absolute("--console-socket", opts.console_socket)?;
    opts.pid_file = absolute("--pid-file", opts.pid_file)?;
    leave_deleted_cwd();
    let hierarchies = Hierarchies::detect()?;
    let lc_root = root.libcontainer_root(&st.id);
    let spec = crate::exec_process::container_spec(&root.container_dir(&st.id))?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    if seccomp
        .as_ref()
        .is_some_and(libcontainer::seccomp::is_notify)
    {
        return Err(Error::Unsupported(
            "exec: linux.seccomp hands syscalls to a listener (SCMP_ACT_NOTIFY): exec into such a container is not supported".into(),
        ));
    }
    // The container's filter, loaded last by our executor (libcontainer's
    // exec path drops linux.seccomp).
    let (process, executor) = crate::seccomp_late::prepare(&opts.process, seccomp.as_ref());
    ensure_libcontainer_state(root, st)?;
    // libcontainer's exec builder takes the process as a file only: one in
    // the container's state directory (root's, 0700), removed at once.
    let file = root.container_dir(&st.id).join(format!(
        "exec-{}-{}.json",
        std::process::id(),
        state::now_rfc3339().replace([':', '.'], "")
    ));
    let data =
        serde_json::to_vec(&process).map_err(|e| Error::Spec(format!("exec: process: {e}")))?;
    state::write_atomic(&file, &data)?;
    // libcontainer logs each failure as a chain of lines and returns it too:
    // printed once, as the error below.
    crate::logging::mute_dependencies();
    let (_, self_join) = libcontainer_cgroups(&hierarchies, &st.cgroups)?;
    let res = with_cgroups_joined(&self_join, &hierarchies, true, || {
        let b = ContainerBuilder::new(st.id.clone(), SyscallType::Linux)
            .with_root_path(&lc_root)
            .and_then(|b| b.with_pid_file(opts.pid_file.as_ref()))
            .map_err(|e| lc_error("exec", e))?
            .with_console_socket(opts.console_socket.as_ref())
            .with_preserved_fds(opts.preserve_fds)
            .with_executor(executor);
        opts.stdio
            .apply(b)
            .validate_id()
            .map_err(|e| lc_error("exec", e))?
            .as_tenant()
            .with_detach(opts.detach)
            .with_process(Some(&file))
            .with_sub_cgroup(opts.sub_cgroup.clone())
            .build()
            .map_err(|e| lc_error("exec", e))
    });
    let _ = fs::remove_file(&file);
    let pid = res.map_err(|e| exec_pids_full(st).unwrap_or(e))?;
    Ok(pid.as_raw())
}
