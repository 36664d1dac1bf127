//! Starting the container's init process ourselves: one clone3 from the
//! calling process, straight into the new pid namespace (and on cgroup v2
//! straight into the container's cgroup), running libcontainer's init code
//! (`container_init_process`: rootfs, mounts, capabilities, seccomp, hooks,
//! waiting for `start`) in the child.
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
//! Specs that need what only libcontainer's full path does (user or time
//! namespaces, joining a pid namespace, network devices, Intel RDT, seccomp
//! notify listeners) go through libcontainer: see [`fallback_reason`].

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use libcontainer::container::{Container, ContainerStatus};
use libcontainer::notify_socket::{NotifyListener, NOTIFY_FILE};
use libcontainer::process::args::{ContainerArgs, ContainerType};
use libcontainer::process::channel::{self, InitReceiver, InitSender, MainReceiver, MainSender};
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::{CgroupSet, Hierarchies, Layout};
use crate::error::{describe_chain, Error, Result};

/// Why `spec` needs libcontainer's own process setup, or None when ours
/// does everything it asks for.
pub fn fallback_reason(spec: &Spec) -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root (rootless needs libcontainer's setup)");
    }
    let linux = spec.linux().as_ref()?;
    for ns in linux.namespaces().iter().flatten() {
        match ns.typ() {
            LinuxNamespaceType::User => return Some("user namespace"),
            LinuxNamespaceType::Time => return Some("time namespace"),
            LinuxNamespaceType::Pid if ns.path().is_some() => {
                return Some("joining an existing pid namespace")
            }
            _ => {}
        }
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Some("linux.netDevices");
    }
    if linux.intel_rdt().is_some() {
        return Some("linux.intelRdt");
    }
    let idmapped = spec.mounts().iter().flatten().any(|m| {
        m.uid_mappings().is_some()
            || m.gid_mappings().is_some()
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "idmap" || o == "ridmap")
    });
    if idmapped {
        return Some("idmapped mounts");
    }
    if linux
        .seccomp()
        .as_ref()
        .is_some_and(libcontainer::seccomp::is_notify)
    {
        return Some("seccomp notify listener");
    }
    None
}

/// The warm-up thread of [`warm_up_cgroup_writes`], joined before any clone.
static WARM_UP: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// Joins the warm-up thread (if any) when dropped.
pub struct WarmUp(());

impl Drop for WarmUp {
    fn drop(&mut self) {
        finish_warm_up();
    }
}

/// Starts the kernel's wait for the one cgroup.procs write that `create`
/// makes on v1/hybrid hosts, early, so that it overlaps with the rest of
/// `create` (parsing, checks, state, cgroup directories, spec).
///
/// The first write to any cgroup.procs after a quiet moment waits for an
/// RCU grace period (the cgroup threadgroup rwsem switching to its writer
/// mode: ~10 ms on the benchmark host); writes in the following few ms are
/// fast. A thread writes our own pid into the cgroup we are already in (no
/// migration happens), which starts that wait; the write of the init's pid
/// later finds it done or under way. Nothing on v2, where the init is
/// cloned into its cgroup without any write.
pub fn warm_up_cgroup_writes(h: &Hierarchies) -> WarmUp {
    finish_warm_up();
    if h.layout() == Layout::V2 {
        return WarmUp(());
    }
    let Some(path) = CgroupSet::current(h)
        .ok()
        .and_then(|cur| cur.dirs.first().map(|d| d.path.join("cgroup.procs")))
    else {
        return WarmUp(());
    };
    let pid = std::process::id().to_string();
    let spawned = std::thread::Builder::new()
        .name("cgroup-warm-up".into())
        // Failure is harmless: the later write just waits the full time.
        .spawn(move || {
            let _ = fs::write(&path, pid);
        });
    if let (Ok(handle), Ok(mut slot)) = (spawned, WARM_UP.lock()) {
        *slot = Some(handle);
    }
    WarmUp(())
}

/// Waits for the warm-up thread: the process must be single-threaded when
/// it clones (the child would inherit locks held by the other thread).
pub fn finish_warm_up() {
    let handle = match WARM_UP.lock() {
        Ok(mut slot) => slot.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    if let Some(h) = handle {
        let _ = h.join();
    }
}

/// What [`launch`] needs besides the spec.
pub struct Params<'a> {
    pub id: &'a str,
    /// The user's bundle: what hooks see in the state on their stdin.
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    /// libcontainer's directory of this container (`<root>/<id>/lc/<id>`):
    /// the notify socket `start` connects to lives there.
    pub lc_dir: &'a Path,
    pub cgroups: &'a CgroupSet,
    pub console_socket: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: i32,
    pub detach: bool,
    pub no_pivot: bool,
    pub stdin: Option<RawFd>,
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
}

pub(crate) fn lc_err(what: &str, e: impl std::error::Error + 'static) -> Error {
    Error::Container(format!("{what}: {}", describe_chain(&e)))
}

/// Creates the init process and waits until it is ready for `start`;
/// returns its pid (in our pid namespace).
pub fn launch(spec: Spec, p: &Params) -> Result<i32> {
    // The fds the init must not keep (see `child`), known before launch
    // opens its own. The warm-up thread must be done first: an fd it still
    // has open would be listed, and its number reused by our channels
    // once it closes it.
    finish_warm_up();
    let inherited = open_fds();
    validate(&spec)?;
    check_terminal(&spec, p.detach, p.console_socket.is_some())?;
    let console = match p.console_socket {
        Some(path) => Some(
            libcontainer::tty::setup_console_socket(p.lc_dir, path, "console-socket")
                .map_err(|e| lc_err("console socket", e))?,
        ),
        None => None,
    };
    let notify =
        NotifyListener::new(&p.lc_dir.join(NOTIFY_FILE)).map_err(|e| lc_err("notify socket", e))?;
    apply_devices(&spec, p.cgroups)?;

    // The hooks' view of the container (bundle, annotations); the pid is
    // added when they run.
    let mut hooks_view = Container::new(p.id, ContainerStatus::Creating, None, p.bundle, p.lc_dir)
        .map_err(|e| lc_err("container state for hooks", e))?;
    hooks_view.set_annotations(spec.annotations().clone());

    let new_pid_ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|nss| nss.iter().any(|n| n.typ() == LinuxNamespaceType::Pid));
    // The container's seccomp filter is loaded by our executor, last
    // (seccomp_late); libcontainer sees none.
    let process = spec
        .process()
        .clone()
        .ok_or_else(|| Error::Spec("process: missing".into()))?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let (process, executor) = crate::seccomp_late::prepare(&process, seccomp.as_ref());
    let mut spec = crate::seccomp_late::strip(&spec, process);
    // startContainer hooks: run by our executor too, which can say on the
    // container's stderr why one failed (libcontainer's init cannot, after
    // `start`).
    let start_hooks = match spec.hooks().clone() {
        Some(mut hooks) => {
            let list = hooks.start_container().clone();
            hooks.set_start_container(None);
            spec.set_hooks(Some(hooks));
            list
        }
        None => None,
    };
    let executor = executor.for_init(start_hooks, hooks_view.state.clone());
    let spec = Rc::new(spec);
    let args = ContainerArgs {
        container_type: ContainerType::InitContainer,
        syscall: SyscallType::Linux,
        spec: Rc::clone(&spec),
        rootfs: p.rootfs.to_path_buf(),
        console_socket: console.as_ref().map(|f| f.as_raw_fd()),
        notify_listener: notify,
        preserve_fds: p.preserve_fds,
        container: Some(hooks_view.clone()),
        user_ns_config: None,
        // Only libcontainer's cgroup manager reads this; the init does not.
        cgroup_config: libcgroups::common::CgroupConfig {
            cgroup_path: PathBuf::new(),
            systemd_cgroup: false,
            container_name: p.id.to_string(),
        },
        detached: p.detach,
        executor: Box::new(executor),
        no_pivot: p.no_pivot,
        stdin: p.stdin,
        stdout: p.stdout,
        stderr: p.stderr,
        as_sibling: false,
        pid_file: None,
    };

    let (main_sender, main_receiver) = channel::main_channel().map_err(|e| lc_err("channel", e))?;
    let (init_sender, init_receiver) = match channel::init_channel() {
        Ok(c) => c,
        Err(e) => {
            let _ = main_sender.close();
            let _ = main_receiver.close();
            return Err(lc_err("channel", e));
        }
    };
    let mut ends = Ends {
        main_sender: Some(main_sender),
        main_receiver: Some(main_receiver),
        init_sender: Some(init_sender),
        init_receiver: Some(init_receiver),
    };
    let res = spawn_and_wait(
        &args,
        &inherited,
        &spec,
        p,
        &hooks_view,
        new_pid_ns,
        &mut ends,
    );
    ends.close_all();
    // The listener and the console socket belong to the child now. The
    // listener is a UnixListener: dropping `args` closes it (its `close()`
    // would close the fd a second time).
    drop(args);
    drop(console);
    let pid = res?;

    if let Some(path) = p.pid_file {
        // Like runc, a pid file that cannot be written fails the create
        // (the caller relies on it); the container is removed by our caller.
        fs::write(path, pid.to_string()).map_err(|e| Error::io(path, e))?;
    }
    Ok(pid)
}

/// The four ends of libcontainer's two channels; each must be closed in
/// both processes (they are raw fds without Drop).
struct Ends {
    main_sender: Option<MainSender>,
    main_receiver: Option<MainReceiver>,
    init_sender: Option<InitSender>,
    init_receiver: Option<InitReceiver>,
}

impl Ends {
    fn close_all(&mut self) {
        if let Some(s) = self.main_sender.take() {
            let _ = s.close();
        }
        if let Some(r) = self.main_receiver.take() {
            let _ = r.close();
        }
        if let Some(s) = self.init_sender.take() {
            let _ = s.close();
        }
        if let Some(r) = self.init_receiver.take() {
            let _ = r.close();
        }
    }
}

fn spawn_and_wait(
    args: &ContainerArgs,
    inherited: &[RawFd],
    spec: &Spec,
    p: &Params,
    hooks_view: &Container,
    new_pid_ns: bool,
    ends: &mut Ends,
) -> Result<i32> {
    // v2: clone straight into the cgroup. Otherwise (or if the kernel
    // refuses) the child waits on `go` until we have written its pid.
    let cgroup_fd = match (p.cgroups.layout, p.cgroups.unified_dir()) {
        (Layout::V2, Some(d)) => fs::File::open(&d.path).ok().map(OwnedFd::from),
        _ => None,
    };
    let (go_rd, go_wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Container(format!("pipe: {e}")))?;
    finish_warm_up();

    let mut flags: u64 = 0;
    if new_pid_ns {
        flags |= libc::CLONE_NEWPID as u64;
    }
    let mut spawned = None;
    if let Some(fd) = &cgroup_fd {
        match clone3(flags | CLONE_INTO_CGROUP, Some(fd.as_raw_fd())) {
            Ok(0) => child(args, ends, None, go_wr, inherited),
            Ok(pid) => spawned = Some((pid, true)),
            Err(e) => tracing::debug!("clone3 into the cgroup: {e}; writing cgroup.procs instead"),
        }
    }
    let (pid, placed) = match spawned {
        Some(s) => s,
        None => match clone3(flags, None) {
            Ok(0) => child(args, ends, Some(go_rd), go_wr, inherited),
            Ok(pid) => (pid, false),
            Err(e) => return Err(Error::Container(format!("clone3: {e}"))),
        },
    };
    drop(go_rd);
    // The child's ends: closed here so that its death reads as EOF.
    if let Some(s) = ends.main_sender.take() {
        let _ = s.close();
    }
    if let Some(r) = ends.init_receiver.take() {
        let _ = r.close();
    }
    let res = parent(spec, p, hooks_view, pid, placed, go_wr, ends);
    if let Err(e) = res {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        return Err(oom_at_start(spec, p.cgroups).unwrap_or(e));
    }
    Ok(pid)
}

/// An init that died while being set up because the container's memory
/// limit is below what the setup needs: the OOM killer's kill is counted in
/// the container's cgroup. Said as such, naming the field, instead of the
/// broken channel the parent sees.
fn oom_at_start(spec: &Spec, cg: &CgroupSet) -> Option<Error> {
    let kills = cg.oom_counters().ok()?.oom_kill;
    if kills == 0 {
        return None;
    }
    let limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "(inherited)".into());
    Some(Error::Spec(format!(
        "linux.resources.memory.limit: {limit} is too low: the container's init was OOM-killed while it was being set up, before the program ran"
    )))
}

fn parent(
    spec: &Spec,
    p: &Params,
    hooks_view: &Container,
    pid: i32,
    placed: bool,
    go_wr: OwnedFd,
    ends: &mut Ends,
) -> Result<()> {
    if !placed {
        // One burst of cgroup.procs writes, for every hierarchy (unified and
        // name=systemd included), before the child does anything.
        p.cgroups.add_pid(pid)?;
        // A child that died already gives EPIPE here; the wait below then
        // reports why it died.
        let _ = fs::File::from(go_wr).write_all(b"g");
    }
    let receiver = ends
        .main_receiver
        .as_mut()
        .ok_or_else(|| Error::Container("init channel closed".into()))?;
    if let Some(hooks) = spec.hooks() {
        // The init asks once its namespaces and rootfs are set up: prestart
        // and createRuntime hooks run here, in the runtime's namespaces.
        receiver
            .wait_for_hook_request()
            .map_err(|e| lc_err("init", e))?;
        let init_pid = Some(Pid::from_raw(pid));
        for (phase, list) in [
            ("prestart", hooks.prestart()),
            ("createRuntime", hooks.create_runtime()),
        ] {
            // One by one, to name the hook that failed (any failure fails
            // the create).
            for (i, h) in list.iter().flatten().enumerate() {
                let one = vec![h.clone()];
                libcontainer::hooks::run_hooks(
                    Some(&one),
                    Some(&hooks_view.state),
                    None,
                    init_pid,
                    None,
                )
                .map_err(|e| lc_err(&format!("{phase} hook {i} ({})", h.path().display()), e))?;
            }
        }
        ends.init_sender
            .as_mut()
            .ok_or_else(|| Error::Container("init channel closed".into()))?
            .hook_done()
            .map_err(|e| lc_err("init", e))?;
    }
    if let Some(s) = ends.init_sender.take() {
        let _ = s.close();
    }
    ends.main_receiver
        .as_mut()
        .ok_or_else(|| Error::Container("init channel closed".into()))?
        .wait_for_init_ready()
        .map_err(|e| init_error(&describe_chain(&e)))
}

/// The init's own report of why it failed, without libcontainer's two
/// wrapping prefixes.
fn init_error(chain: &str) -> Error {
    let msg = chain
        .trim_start_matches("exec process failed with error ")
        .trim_start_matches("error in executing process : ");
    Error::Container(format!("container init: {msg}"))
}

/// In the child: wait to be placed in the cgroups, then become the init.
/// Never returns.
fn child(
    args: &ContainerArgs,
    ends: &mut Ends,
    go: Option<OwnedFd>,
    go_wr: OwnedFd,
    inherited: &[RawFd],
) -> ! {
    drop(go_wr);
    if let Some(r) = ends.main_receiver.take() {
        let _ = r.close();
    }
    if let Some(s) = ends.init_sender.take() {
        let _ = s.close();
    }
    if let Some(go) = go {
        let mut b = [0u8; 1];
        // EOF: the parent died or gave up; nothing to set up.
        match nix::unistd::read(go.as_raw_fd(), &mut b) {
            Ok(1) => {}
            _ => exit_now(1),
        }
    }
    let (Some(mut sender), Some(mut receiver)) =
        (ends.main_sender.take(), ends.init_receiver.take())
    else {
        exit_now(1)
    };
    // Until exec the init runs in the container's namespaces with a copy of
    // our fd table: the caller's fds, the state lock, files we had open.
    // Of the fds open before launch began, keep only the container's stdio
    // and the log; what launch made since (channels, notify and console
    // sockets) the init needs.
    let keep: Vec<RawFd> = [args.stdin, args.stdout, args.stderr]
        .into_iter()
        .flatten()
        .chain(crate::logging::log_fd())
        .collect();
    let first = 3 + args.preserve_fds.max(0);
    for &fd in inherited {
        if fd >= first && !keep.contains(&fd) {
            // SAFETY: only this single-threaded child, which runs no
            // destructor before exec or _exit, loses the fd.
            unsafe { libc::close(fd) };
        }
    }
    crate::logging::mute_dependencies();
    let code = match init_prelude(args) {
        Ok(()) => match libcontainer::process::init::container_init_process(
            args,
            &mut sender,
            &mut receiver,
        ) {
            // Not reached: the executor execs the user's program.
            Ok(()) => 0,
            Err(e) => {
                let _ = sender.exec_failed(describe_chain(&e));
                255
            }
        },
        Err(msg) => {
            let _ = sender.exec_failed(msg);
            255
        }
    };
    exit_now(code)
}

/// The fds open in this process.
fn open_fds() -> Vec<RawFd> {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let listed: Vec<RawFd> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    // The listing's own fd is among them and closed now; its number may
    // be reused by the channels, which the init needs.
    listed
        .into_iter()
        // SAFETY: F_GETFD only queries the fd.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
        .collect()
}

/// What libcontainer's main and intermediate processes did to themselves
/// before the init existed (inherited by it): process name, no core dumps,
/// oom_score_adj, rlimits.
fn init_prelude(args: &ContainerArgs) -> std::result::Result<(), String> {
    let _ = nix::sys::prctl::set_name(c"rcrun:[INIT]");
    let spec = args.spec.as_ref();
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| !n.is_empty())
    {
        // Until exec: processes of the namespaces we are entering must not
        // be able to ptrace us or read our memory.
        let _ = nix::sys::prctl::set_dumpable(false);
    }
    let Some(process) = spec.process().as_ref() else {
        return Err("process: missing".into());
    };
    if let Some(adj) = process.oom_score_adj() {
        fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("oom_score_adj {adj}: {e}"))?;
    }
    let syscall = args.syscall.create_syscall();
    for rl in process.rlimits().iter().flatten() {
        syscall
            .set_rlimit(rl)
            .map_err(|e| format!("rlimit {:?}: {e}", rl.typ()))?;
    }
    Ok(())
}

/// Leaves the child without running the parent's atexit handlers or
/// destructors (they belong to the parent's state, copied by clone).
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(code) }
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3 with fork semantics (no shared memory, SIGCHLD on exit). Raw
/// syscall as in libcontainer's own fork: glibc has no wrapper. The caller
/// must be single-threaded (the rcrun CLI and the shim are), as with fork.
fn clone3(flags: u64, cgroup_fd: Option<RawFd>) -> std::result::Result<i32, nix::Error> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let mut a = CloneArgs {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup_fd.map(|f| f as u64).unwrap_or(0),
    };
    // SAFETY: `a` is a valid clone_args of the size we pass; with no stack
    // given the child continues on a copy of ours, like fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut a as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret < 0 {
        let e = nix::Error::last();
        if e == nix::Error::ENOSYS && flags & CLONE_INTO_CGROUP == 0 {
            // Kernels before 5.3: clone(2) with a NULL stack is fork too.
            // SAFETY: as above.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    flags | libc::SIGCHLD as u64,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                )
            };
            return if r < 0 {
                Err(nix::Error::last())
            } else {
                Ok(r as i32)
            };
        }
        return Err(e);
    }
    Ok(ret as i32)
}

/// The checks libcontainer's init builder makes before anything exists
/// (those of the features that fall back to it are left to it).
fn validate(spec: &Spec) -> Result<()> {
    libcontainer::validator::Validator::validate_spec(spec)
        .map_err(|e| Error::Spec(describe_chain(&e)))?;
    if let Some(profile) = spec
        .process()
        .as_ref()
        .and_then(|p| p.apparmor_profile().as_ref())
    {
        let enabled = libcontainer::apparmor::is_enabled().unwrap_or(false);
        if !enabled {
            return Err(Error::Spec(format!(
                "process.apparmorProfile {profile:?}: AppArmor is not enabled on this host"
            )));
        }
    }
    // The spec wants the full path inside the container; a relative one
    // would be created relative to whatever directory the init is in.
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in devices.into_iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            return Err(Error::Spec(format!(
                "linux.devices[{i}].path: {:?} is not an absolute path",
                d.path()
            )));
        }
    }
    if let Some(mounts) = spec.mounts() {
        libcontainer::utils::validate_mount_options(mounts)
            .map_err(|e| Error::Spec(format!("mounts: {}", describe_chain(&e))))?;
    }
    Ok(())
}

/// libcontainer's rules for terminal and console socket.
fn check_terminal(spec: &Spec, detach: bool, has_socket: bool) -> Result<()> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let needed = detach && terminal;
    if needed && !has_socket {
        return Err(Error::Spec(
            "process.terminal is true: a detached container needs --console-socket".into(),
        ));
    }
    if !needed && has_socket {
        return Err(Error::Spec(
            "--console-socket is only used with process.terminal true and a detached container"
                .into(),
        ));
    }
    Ok(())
}

/// The device cgroup: the spec's rules, then the devices every container
/// gets (libcgroups' defaults, so that both launch paths agree). v1: the
/// devices hierarchy's allow/deny files; v2: libcgroups' eBPF program.
fn apply_devices(spec: &Spec, cg: &CgroupSet) -> Result<()> {
    let rules = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone());
    if let Some(d) = cg.v1_dir("devices") {
        let mut lines: Vec<(bool, String)> = rules
            .iter()
            .flatten()
            .map(|r| (r.allow(), r.to_string()))
            .collect();
        lines.extend(DEFAULT_DEVICE_RULES.iter().map(|s| (true, s.to_string())));
        for (allow, line) in lines {
            let file = if allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            let path = d.path.join(file);
            fs::write(&path, &line).map_err(|e| {
                Error::Container(format!(
                    "linux.resources.devices: write {line:?} to {}: {e}",
                    path.display()
                ))
            })?;
        }
        return Ok(());
    }
    if cg.layout == Layout::V1 {
        return Ok(());
    }
    if let Some(u) = cg.unified_dir() {
        libcgroups::v2::devices::Devices::apply_devices(&u.path, &rules)
            .map_err(|e| lc_err("linux.resources.devices (eBPF)", e))?;
    }
    Ok(())
}

/// libcgroups' default_devices() and default_allow_devices(), as v1 rules.
const DEFAULT_DEVICE_RULES: &[&str] = &[
    "c 1:3 rwm",    // /dev/null
    "c 1:5 rwm",    // /dev/zero
    "c 1:7 rwm",    // /dev/full
    "c 5:0 rwm",    // /dev/tty
    "c 1:9 rwm",    // /dev/urandom
    "c 1:8 rwm",    // /dev/random
    "c *:* m",      // mknod of any char device
    "b *:* m",      // mknod of any block device
    "c 5:1 rwm",    // /dev/console
    "c 136:* rwm",  // /dev/pts/*
    "c 5:2 rwm",    // /dev/ptmx
    "c 10:200 rwm", // /dev/net/tun
];

/// Makes libcontainer's state file for this container, which its `exec`
/// (tenant) path loads: written only when an exec needs it, not on every
/// create and start.
pub fn write_libcontainer_state(
    id: &str,
    pid: i32,
    running: bool,
    bundle_for_exec: &Path,
    lc_dir: &Path,
) -> Result<()> {
    fs::create_dir_all(lc_dir).map_err(|e| Error::io(lc_dir, e))?;
    let status = if running {
        ContainerStatus::Running
    } else {
        ContainerStatus::Created
    };
    let mut c = Container::new(id, status, Some(pid), bundle_for_exec, lc_dir)
        .map_err(|e| lc_err("libcontainer state", e))?;
    c.set_creator(nix::unistd::geteuid().as_raw());
    c.save().map_err(|e| lc_err("libcontainer state", e))
}

/// Environment-free helper for tests: the fallback reason of a spec given
/// as JSON.
#[cfg(test)]
fn reason_of(json: &str) -> Option<&'static str> {
    let spec: Spec = serde_json::from_str(json).ok()?;
    fallback_reason(&spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallbacks() {
        if !nix::unistd::geteuid().is_root() {
            crate::test_skip::skip("needs root");
            return;
        }
        let base = r#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","args":["x"],"user":{"uid":0,"gid":0}},"linux":{"namespaces":NS}}"#;
        let with = |ns: &str| base.replace("NS", ns);
        assert_eq!(
            reason_of(&with(r#"[{"type":"pid"},{"type":"mount"}]"#)),
            None
        );
        assert_eq!(
            reason_of(&with(r#"[{"type":"user"}]"#)),
            Some("user namespace")
        );
        assert_eq!(
            reason_of(&with(r#"[{"type":"pid","path":"/proc/1/ns/pid"}]"#)),
            Some("joining an existing pid namespace")
        );
    }

    #[test]
    fn terminal_rules() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","process":{"terminal":true,"cwd":"/","args":["x"],"user":{"uid":0,"gid":0}}}"#,
        )
        .unwrap_or_default();
        assert!(check_terminal(&spec, true, false).is_err());
        assert!(check_terminal(&spec, true, true).is_ok());
        assert!(check_terminal(&spec, false, true).is_err());
        assert!(check_terminal(&spec, false, false).is_ok());
    }
}
