//! The one file that speaks libcontainer's internal init protocol: the
//! process and channel internals (`ContainerArgs`, the main/init channels,
//! `container_init_process`), the notify socket the init waits on for
//! `start`, and libcontainer's state file. Upstream reworks these between
//! releases (an `InitPhase` loop replaces the channel calls): an upgrade
//! re-derives this file only.
//!
//! Surface (used by launch.rs, the container operations and exec):
//! - [`Init::prepare`] before the clone: the init's arguments, console and
//!   notify sockets, channels;
//! - in the child, [`Init::close_parent_ends`] then [`Init::run`] (never
//!   returns on success: the executor execs the user's program);
//! - in the parent, [`Init::close_child_ends`] then [`Init::wait_ready`]
//!   (answers the hook request, waits until the init waits for `start`);
//! - [`release`]: `start`'s signal to the waiting init;
//! - [`ensure_state`]: libcontainer's state file, for its exec path.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use libcontainer::container::{Container, ContainerStatus};
use libcontainer::notify_socket::{NotifyListener, NOTIFY_FILE};
use libcontainer::process::args::{ContainerArgs, ContainerType};
use libcontainer::process::channel::{self, InitReceiver, InitSender, MainReceiver, MainSender};
use libcontainer::process::init::error::InitProcessError;
use libcontainer::syscall::syscall::SyscallType;
use nix::unistd::Pid;
use oci_spec::runtime::{Hooks, Spec};

use crate::error::{describe_chain, Error, Result, SpecError};
use crate::launch::Params;

pub(crate) fn lc_err(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::launch(what, e)
}

/// The container's init, between `prepare` and its readiness.
pub struct Init {
    ends: Ends,
    /// Dropped after the ends: the listener (a UnixListener: its `close()`
    /// would close the fd a second time) and the console socket belong to
    /// the child once it exists.
    args: ContainerArgs,
    _console: Option<OwnedFd>,
    /// What the hooks see on stdin (bundle, annotations; the pid is added
    /// when they run).
    hooks_view: Container,
    /// prestart and createRuntime hooks, run when the init asks.
    hooks: Option<Hooks>,
}

impl Init {
    /// Everything the init needs, made before the clone. `spec` is what
    /// lc_spec made; its seccomp filter and startContainer hooks go to our
    /// executor (seccomp_late), libcontainer sees neither.
    pub fn prepare(spec: Spec, p: &Params) -> Result<Init> {
        let console = match p.target.handoff.console_socket {
            Some(path) => Some(
                libcontainer::tty::setup_console_socket(p.lc_dir, path, "console-socket")
                    .map_err(|e| lc_err("console socket", e))?,
            ),
            None => None,
        };
        let notify = NotifyListener::new(&p.lc_dir.join(NOTIFY_FILE))
            .map_err(|e| lc_err("notify socket", e))?;
        let mut hooks_view = Container::new(
            p.target.id,
            ContainerStatus::Creating,
            None,
            p.bundle,
            p.lc_dir,
        )
        .map_err(|e| lc_err("container state for hooks", e))?;
        hooks_view.set_annotations(spec.annotations().clone());

        let process = spec
            .process()
            .clone()
            .ok_or_else(|| SpecError::field("process", "missing"))?;
        let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
        let (process, executor) = crate::seccomp_late::prepare(&process, seccomp.as_ref());
        let (process, stdio) = crate::stdio_late::prepare(&process);
        let mut spec = crate::seccomp_late::strip(&spec, process);
        // startContainer hooks: run by our executor too, which can say on
        // the container's stderr why one failed (libcontainer's init
        // cannot, after `start`).
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
        let hooks = spec.hooks().clone();
        let args = ContainerArgs {
            container_type: ContainerType::InitContainer,
            syscall: SyscallType::Linux,
            spec: Rc::new(spec),
            rootfs: p.rootfs.to_path_buf(),
            console_socket: console.as_ref().map(|f| f.as_raw_fd()),
            notify_listener: notify,
            preserve_fds: p.target.handoff.preserve_fds,
            container: Some(hooks_view.clone()),
            user_ns_config: None,
            // Only libcontainer's cgroup manager reads this; the init does not.
            cgroup_config: libcgroups::common::CgroupConfig {
                cgroup_path: PathBuf::new(),
                systemd_cgroup: false,
                container_name: p.target.id.to_string(),
            },
            detached: p.target.handoff.detach,
            executor: Box::new(stdio.around(Box::new(executor))),
            no_pivot: p.no_pivot,
            stdin: p.stdin,
            stdout: p.stdout,
            stderr: p.stderr,
            as_sibling: false,
            pid_file: None,
        };
        let ends = Ends::open()?;
        Ok(Init {
            ends,
            args,
            _console: console,
            hooks_view,
            hooks,
        })
    }

    /// The container's stdio fds, which the child keeps.
    pub fn stdio_fds(&self) -> Vec<RawFd> {
        [self.args.stdin, self.args.stdout, self.args.stderr]
            .into_iter()
            .flatten()
            .collect()
    }

    /// In the child: closes the parent's channel ends.
    pub fn close_parent_ends(&mut self) {
        close(self.ends.main_receiver.take());
        close(self.ends.init_sender.take());
    }

    /// In the child: libcontainer's init (rootfs, mounts, capabilities,
    /// createContainer hooks, waiting for `start`), after what its main and
    /// intermediate processes would have done. Returns the exit code when
    /// it fails (reported to the parent through the channel first).
    pub fn run(&mut self) -> i32 {
        let (Some(mut sender), Some(mut receiver)) =
            (self.ends.main_sender.take(), self.ends.init_receiver.take())
        else {
            return 1;
        };
        let res = match init_prelude(&self.args) {
            Ok(()) => libcontainer::process::init::container_init_process(
                &self.args,
                &mut sender,
                &mut receiver,
            )
            .map_err(|e| match e {
                // libcontainer runs them in the init (the other phases are ours).
                InitProcessError::Hooks(_) => {
                    crate::hooks::create_container_failed(&self.args.spec, describe_chain(&e))
                }
                e => describe_chain(&e),
            }),
            Err(msg) => Err(msg),
        };
        match res {
            // Not reached: the executor execs the user's program.
            Ok(()) => 0,
            Err(msg) => {
                let _ = sender.exec_failed(msg);
                255
            }
        }
    }

    /// In the parent after the clone: the child's ends, closed here so
    /// that its death reads as EOF.
    pub fn close_child_ends(&mut self) {
        close(self.ends.main_sender.take());
        close(self.ends.init_receiver.take());
    }

    /// In the parent: runs the prestart and createRuntime hooks when the
    /// init asks (its namespaces and rootfs are set up; the hooks run in
    /// the runtime's namespaces), then waits until the init is ready for
    /// `start`. `pid` is the init's.
    pub fn wait_ready(&mut self, pid: i32) -> Result<()> {
        let closed = || Error::Internal("init channel closed".into());
        if let Some(hooks) = &self.hooks {
            let receiver = self.ends.main_receiver.as_mut().ok_or_else(closed)?;
            receiver
                .wait_for_hook_request()
                .map_err(|e| lc_err("init", e))?;
            crate::hooks::run_create_hooks(hooks, &self.hooks_view.state, pid)?;
            let sender = self.ends.init_sender.as_mut().ok_or_else(closed)?;
            sender.hook_done().map_err(|e| lc_err("init", e))?;
        }
        close(self.ends.init_sender.take());
        self.ends
            .main_receiver
            .as_mut()
            .ok_or_else(closed)?
            .wait_for_init_ready()
            .map_err(|e| init_error(&describe_chain(&e)))
    }
}

impl Drop for Init {
    fn drop(&mut self) {
        self.ends.close_all();
    }
}

/// The init's own report of why it failed, without libcontainer's two
/// wrapping prefixes.
fn init_error(chain: &str) -> Error {
    let msg = chain
        .trim_start_matches("exec process failed with error ")
        .trim_start_matches("error in executing process : ");
    Error::Init(msg.to_string())
}

/// Something with libcontainer's `close(self)` (its channel ends are raw
/// fds without Drop).
trait Close {
    fn close_end(self);
}

macro_rules! close_end {
    ($($t:ty),*) => {$(impl Close for $t {
        fn close_end(self) {
            let _ = self.close();
        }
    })*};
}
close_end!(MainSender, MainReceiver, InitSender, InitReceiver);

fn close(end: Option<impl Close>) {
    if let Some(e) = end {
        e.close_end();
    }
}

/// The four ends of libcontainer's two channels; each must be closed in
/// both processes.
struct Ends {
    main_sender: Option<MainSender>,
    main_receiver: Option<MainReceiver>,
    init_sender: Option<InitSender>,
    init_receiver: Option<InitReceiver>,
}

impl Ends {
    fn open() -> Result<Ends> {
        let (main_sender, main_receiver) =
            channel::main_channel().map_err(|e| lc_err("channel", e))?;
        let (init_sender, init_receiver) = match channel::init_channel() {
            Ok(c) => c,
            Err(e) => {
                let _ = main_sender.close();
                let _ = main_receiver.close();
                return Err(lc_err("channel", e));
            }
        };
        Ok(Ends {
            main_sender: Some(main_sender),
            main_receiver: Some(main_receiver),
            init_sender: Some(init_sender),
            init_receiver: Some(init_receiver),
        })
    }

    fn close_all(&mut self) {
        close(self.main_sender.take());
        close(self.main_receiver.take());
        close(self.init_sender.take());
        close(self.init_receiver.take());
    }
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
    // The runtime-spec (and runc) run createContainer hooks in the
    // container's rootfs; libcontainer runs them in the init's cwd. The
    // rootfs' own files are the same through this directory (libcontainer
    // bind-mounts the rootfs onto itself; the container's mounts inside it,
    // /proc and /dev, are not seen from here).
    let create_hooks = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
        .is_some_and(|l| !l.is_empty());
    if create_hooks {
        nix::unistd::chdir(&args.rootfs)
            .map_err(|e| format!("root.path {:?}: chdir: {e}", args.rootfs))?;
    }
    let syscall = args.syscall.create_syscall();
    for rl in process.rlimits().iter().flatten() {
        syscall
            .set_rlimit(rl)
            .map_err(|e| format!("rlimit {:?}: {e}", rl.typ()))?;
    }
    Ok(())
}

/// `start`: lets the init waiting on the notify socket in `lc_dir` (both
/// launch paths make it there) exec the user's program. The connect is the
/// release: once it succeeds the init goes on whatever happens to us (it
/// reads to EOF, and our death closes the stream). Ok(false): nobody
/// listens there, the init is gone or an earlier `start` released it.
pub fn release(lc_dir: &Path) -> Result<bool> {
    // Through the directory's fd, not a chdir as libcontainer's client
    // does (unix socket paths are limited to 108 bytes): the shim is
    // multi-threaded, and a failed connect there left the cwd changed.
    let dir = fs::File::open(lc_dir).map_err(|e| Error::io(lc_dir, e))?;
    let path = format!("/proc/self/fd/{}/{NOTIFY_FILE}", dir.as_raw_fd());
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(false),
        Err(e) => return Err(Error::io(lc_dir.join(NOTIFY_FILE), e)),
    };
    crate::crashpoint::point("start:after-connect");
    // libcontainer's message; its init does not check it.
    stream
        .write_all(b"start container")
        .map_err(|e| Error::io(lc_dir.join(NOTIFY_FILE), e))?;
    Ok(true)
}

/// libcontainer's exec (tenant) path loads libcontainer's state file of the
/// container (in `lc_dir`) and wants it "running". Our launch does not
/// write that file (nothing else reads it), and libcontainer's own create
/// path leaves it "created": made or updated here, when an exec needs it.
/// `state_dir` is what the file names as bundle (where config.json is).
pub fn ensure_state(
    id: &str,
    pid: i32,
    running: bool,
    state_dir: &Path,
    lc_dir: &Path,
) -> Result<()> {
    // (Checked first: libcontainer logs an error for a missing file.)
    let existing = if lc_dir.join("state.json").exists() {
        Container::load(lc_dir.to_path_buf()).ok()
    } else {
        None
    };
    if let Some(mut c) = existing.filter(|c| c.pid() == Some(Pid::from_raw(pid))) {
        if running && c.status() == ContainerStatus::Created {
            c.set_status(ContainerStatus::Running)
                .save()
                .map_err(|e| lc_err("exec: libcontainer state", e))?;
        }
        return Ok(());
    }
    fs::create_dir_all(lc_dir).map_err(|e| Error::io(lc_dir, e))?;
    let status = if running {
        ContainerStatus::Running
    } else {
        ContainerStatus::Created
    };
    let mut c = Container::new(id, status, Some(pid), state_dir, lc_dir)
        .map_err(|e| lc_err("libcontainer state", e))?;
    c.set_creator(nix::unistd::geteuid().as_raw());
    c.save().map_err(|e| lc_err("libcontainer state", e))
}
