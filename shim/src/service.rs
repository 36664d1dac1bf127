//! The containerd Task service (task API v2) over the rcrun library.
//!
//! All state lives behind one std mutex that is never held across an
//! `.await`. The process runs a current_thread runtime (see main.rs), so
//! handlers, the reaper and the OOM watchers never run at the same time:
//! a pid returned by create/exec is registered before the reaper can see
//! its exit, and the reaper never steals a child the library waits for.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use containerd_shim_protos::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse,
    DeleteRequest, DeleteResponse, Empty, ExecProcessRequest, KillRequest, PauseRequest,
    PidsRequest, PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
    StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, Status,
    UpdateTaskRequest, WaitRequest, WaitResponse,
};
use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::oci::{Options, ProcessDetails};
use containerd_shim_protos::shim_async::Task;
use containerd_shim_protos::ttrpc::r#async::TtrpcContext;
use containerd_shim_protos::ttrpc::{self};
use containerd_shim_protos::types::task::ProcessInfo;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rcrun::cgroups::CgroupSet;
use rcrun::oom::OomWatcher;
use rcrun::state::Root;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::actions::{self, PersistedOptions};
use crate::error::{Error, Result};
use crate::events::{self, Publisher};
use crate::io::{self as pio, ProcessIo, StdioPaths};

const RUNC_OPTIONS: &str = "containerd.runc.v1.Options";
const PROCESS_DETAILS: &str = "containerd.runc.v1.ProcessDetails";

#[derive(Clone, Debug)]
pub struct Exit {
    pub status: u32,
    pub at: Timestamp,
}

struct Proc {
    pid: i32,
    started: bool,
    exit: Option<Exit>,
    stdio: StdioPaths,
    io: ProcessIo,
    exit_tx: watch::Sender<Option<Exit>>,
    /// Exec processes: the OCI process JSON until Start.
    spec: Option<Vec<u8>>,
}

impl Proc {
    fn new(stdio: StdioPaths) -> Proc {
        Proc {
            pid: 0,
            started: false,
            exit: None,
            stdio,
            io: ProcessIo::default(),
            exit_tx: watch::channel(None).0,
            spec: None,
        }
    }

    fn set_exit(&mut self, status: u32) -> Exit {
        let e = Exit {
            status,
            at: events::now(),
        };
        self.exit = Some(e.clone());
        self.exit_tx.send_replace(Some(e.clone()));
        // stdin has nobody to feed any more.
        self.io.close_stdin();
        e
    }

    fn running(&self) -> bool {
        self.started && self.exit.is_none()
    }
}

struct Container {
    id: String,
    bundle: PathBuf,
    root: Root,
    cgroups: CgroupSet,
    /// `<bundle>/rootfs` when the shim mounted it.
    rootfs: Option<PathBuf>,
    init: Proc,
    execs: HashMap<String, Proc>,
    oom: Option<Arc<Mutex<OomWatcher>>>,
    oom_task: Option<JoinHandle<()>>,
    paused: bool,
}

impl Container {
    fn process(&mut self, exec_id: &str) -> Result<&mut Proc> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        self.execs
            .get_mut(exec_id)
            .ok_or_else(|| Error::NotFound(format!("process {exec_id} does not exist")))
    }

    fn status(&self, p: &Proc) -> Status {
        if p.exit.is_some() {
            Status::STOPPED
        } else if !p.started {
            Status::CREATED
        } else if self.paused {
            Status::PAUSED
        } else {
            Status::RUNNING
        }
    }

    fn stop_oom_watch(&mut self) {
        if let Some(t) = self.oom_task.take() {
            t.abort();
        }
    }

    /// OOM kills since the last look (the truth rule: the counter moved).
    fn new_oom_kills(&self) -> u64 {
        self.oom
            .as_ref()
            .map(|w| lock(w).take_new_kills())
            .unwrap_or(0)
    }
}

#[derive(Default)]
struct State {
    containers: HashMap<String, Container>,
}

pub struct Service {
    state: Mutex<State>,
    publisher: Publisher,
    namespace: String,
    shutdown: Arc<Notify>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn valid_exec_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 76
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("invalid exec id {id:?}")))
    }
}

fn runc_options(any: &MessageField<Any>) -> Result<Options> {
    match any.as_ref() {
        Some(a) if a.type_url.ends_with(RUNC_OPTIONS) => Options::parse_from_bytes(&a.value)
            .map_err(|e| Error::InvalidArgument(format!("options: {e}"))),
        _ => Ok(Options::default()),
    }
}

fn signal_of(n: u32) -> Result<Signal> {
    Signal::try_from(n as i32).map_err(|_| Error::InvalidArgument(format!("invalid signal {n}")))
}

fn exit_code(ws: WaitStatus) -> Option<(i32, u32)> {
    match ws {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), code as u32)),
        // containerd's convention: 128 + signal (137 for SIGKILL).
        WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), 128 + sig as u32)),
        _ => None,
    }
}

impl Service {
    pub fn new(namespace: String, publisher: Publisher, shutdown: Arc<Notify>) -> Service {
        Service {
            state: Mutex::new(State::default()),
            publisher,
            namespace,
            shutdown,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn root_for(&self, opts: &Options) -> PathBuf {
        if opts.root.is_empty() {
            actions::default_root(&self.namespace)
        } else {
            Path::new(&opts.root).join(&self.namespace)
        }
    }

    /// SIGCHLD: reaps every exited child (container processes, re-parented
    /// daemons of theirs) and publishes the exits of ours.
    pub async fn reap(&self) {
        let mut exits = Vec::new();
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
                Ok(ws) => exits.extend(exit_code(ws)),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!("waitpid: {e}");
                    break;
                }
            }
        }
        if exits.is_empty() {
            return;
        }
        // A SIGKILLed init whose OOM counter has not moved yet: the kernel
        // bumps oom_kill right after sending the signal; give it a moment so
        // that /tasks/oom precedes /tasks/exit.
        let killed_init = {
            let st = self.state();
            exits.iter().any(|(pid, code)| {
                *code == 137
                    && st
                        .containers
                        .values()
                        .any(|c| c.init.pid == *pid && c.oom.is_some())
            })
        };
        if killed_init {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut st = self.state();
        // Exec exits first: containerd expects the init's exit last.
        exits.sort_by_key(|(pid, _)| st.containers.values().any(|c| c.init.pid == *pid));
        for (pid, code) in exits {
            self.on_exit(&mut st, pid, code);
        }
    }

    fn on_exit(&self, st: &mut State, pid: i32, code: u32) {
        for c in st.containers.values_mut() {
            if c.init.pid == pid && c.init.exit.is_none() {
                if c.new_oom_kills() > 0 {
                    self.publisher.publish(&TaskOOM {
                        container_id: c.id.clone(),
                        ..Default::default()
                    });
                }
                c.stop_oom_watch();
                // Without a pid namespace the init's death kills nothing:
                // make it so (containerd expects it).
                let _ = rcrun::container::signal_all(&c.cgroups, Signal::SIGKILL);
                let e = c.init.set_exit(code);
                tracing::info!(id = %c.id, pid, status = code, "init exited");
                self.publisher.publish(&TaskExit {
                    container_id: c.id.clone(),
                    id: c.id.clone(),
                    pid: pid as u32,
                    exit_status: e.status,
                    exited_at: MessageField::some(e.at),
                    ..Default::default()
                });
                return;
            }
            for (eid, p) in c.execs.iter_mut() {
                if p.pid == pid && p.exit.is_none() {
                    let e = p.set_exit(code);
                    tracing::debug!(id = %c.id, exec = %eid, pid, status = code, "exec exited");
                    self.publisher.publish(&TaskExit {
                        container_id: c.id.clone(),
                        id: eid.clone(),
                        pid: pid as u32,
                        exit_status: e.status,
                        exited_at: MessageField::some(e.at),
                        ..Default::default()
                    });
                    return;
                }
            }
        }
        tracing::debug!(pid, status = code, "reaped a process that is not ours");
    }

    fn spawn_oom_watch(&self, id: &str, w: &Arc<Mutex<OomWatcher>>) -> Option<JoinHandle<()>> {
        let fd: OwnedFd = match lock(w).fd().try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                tracing::warn!("oom watch of {id}: {e}");
                return None;
            }
        };
        let afd = match pio::async_fd(fd, tokio::io::Interest::READABLE) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("oom watch of {id}: {e}");
                return None;
            }
        };
        let w = w.clone();
        let id = id.to_string();
        let publisher = self.publisher.clone();
        Some(tokio::spawn(async move {
            loop {
                let Ok(mut g) = afd.readable().await else {
                    return;
                };
                let n = lock(&w).take_new_kills();
                g.clear_ready();
                if n > 0 {
                    tracing::info!(id = %id, kills = n, "OOM kill");
                    publisher.publish(&TaskOOM {
                        container_id: id.clone(),
                        ..Default::default()
                    });
                }
            }
        }))
    }

    async fn do_create(&self, req: CreateTaskRequest) -> Result<CreateTaskResponse> {
        rcrun::state::validate_id(&req.id)?;
        if self.state().containers.contains_key(&req.id) {
            return Err(Error::AlreadyExists(format!(
                "container {} already exists",
                req.id
            )));
        }
        if !req.checkpoint.is_empty() {
            return Err(Error::Unimplemented("checkpoint/restore".into()));
        }
        let opts = runc_options(&req.options)?;
        let bundle = PathBuf::from(&req.bundle);
        let root = self.root_for(&opts);
        actions::save_options(&bundle, &PersistedOptions { root: root.clone() })?;
        let rootfs = bundle.join("rootfs");
        let mounted = if req.rootfs.is_empty() {
            None
        } else {
            crate::mount::mount_rootfs(&req.rootfs, &rootfs)?;
            Some(rootfs)
        };
        let undo_mount = |m: &Option<PathBuf>| {
            if let Some(r) = m {
                crate::mount::unmount_rootfs(r);
            }
        };
        let paths = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let mut prepared = match pio::prepare(&paths) {
            Ok(p) => p,
            Err(e) => {
                undo_mount(&mounted);
                return Err(e);
            }
        };
        let rroot = Root::new(Some(&root));
        let t0 = std::time::Instant::now();
        // Blocking on purpose: the library forks, and this process is
        // single-threaded (main.rs), so fork is safe and nothing else runs
        // meanwhile.
        let created = rcrun::container::create(
            &rroot,
            &req.id,
            rcrun::container::CreateOptions {
                bundle: bundle.clone(),
                pid_file: None,
                console_socket: prepared.console_path(),
                no_pivot: opts.no_pivot_root,
                no_new_keyring: opts.no_new_keyring,
                preserve_fds: 0,
                detach: true,
                stdio: prepared.take_stdio(),
                // The shim lives on: the library moves it back out of the
                // container's cgroups after forking.
                caller_exits: false,
            },
        );
        let cs = match created {
            Ok(cs) => cs,
            Err(e) => {
                undo_mount(&mounted);
                return Err(e.into());
            }
        };
        // The OOM watch is registered now, before start: a process killed in
        // its first milliseconds is still reported.
        let oom = match OomWatcher::new(&cs.cgroups) {
            Ok(w) => Some(Arc::new(Mutex::new(w))),
            Err(e) => {
                tracing::warn!(id = %req.id, "no OOM watch: {e}");
                None
            }
        };
        let oom_task = oom.as_ref().and_then(|w| self.spawn_oom_watch(&req.id, w));
        let mut init = Proc::new(paths.clone());
        init.pid = cs.pid;
        let c = Container {
            id: req.id.clone(),
            bundle: bundle.clone(),
            root: rroot,
            cgroups: cs.cgroups.clone(),
            rootfs: mounted,
            init,
            execs: HashMap::new(),
            oom,
            oom_task,
            paused: false,
        };
        self.state().containers.insert(req.id.clone(), c);
        self.publisher.publish(&TaskCreate {
            container_id: req.id.clone(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: MessageField::some(TaskIO {
                stdin: paths.stdin,
                stdout: paths.stdout,
                stderr: paths.stderr,
                terminal: paths.terminal,
                ..Default::default()
            }),
            checkpoint: req.checkpoint.clone(),
            pid: cs.pid as u32,
            ..Default::default()
        });
        // How long the loop was blocked (see main.rs).
        tracing::info!(id = %req.id, pid = cs.pid, ms = t0.elapsed().as_millis() as u64, "created");
        match prepared.start().await {
            Ok(io) => {
                if let Some(c) = self.state().containers.get_mut(&req.id) {
                    c.init.io = io;
                }
            }
            Err(e) => tracing::warn!(id = %req.id, "stdio: {e}"),
        }
        Ok(CreateTaskResponse {
            pid: cs.pid as u32,
            ..Default::default()
        })
    }

    async fn do_start(&self, req: StartRequest) -> Result<StartResponse> {
        if req.exec_id.is_empty() {
            let mut st = self.state();
            let c = container(&mut st, &req.id)?;
            if c.init.started || c.init.exit.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "container {} is not in the created state",
                    req.id
                )));
            }
            rcrun::container::start(&c.root, &c.id)?;
            c.init.started = true;
            let pid = c.init.pid;
            self.publisher.publish(&TaskStart {
                container_id: c.id.clone(),
                pid: pid as u32,
                ..Default::default()
            });
            tracing::info!(id = %c.id, pid, "started");
            return Ok(StartResponse {
                pid: pid as u32,
                ..Default::default()
            });
        }
        self.start_exec(req).await
    }

    async fn start_exec(&self, req: StartRequest) -> Result<StartResponse> {
        let (pid, prepared) = {
            let mut st = self.state();
            let c = container(&mut st, &req.id)?;
            if !c.init.running() {
                return Err(Error::FailedPrecondition(format!(
                    "container {} is not running",
                    req.id
                )));
            }
            // A process joining a frozen cgroup never reports ready: the
            // library would wait for it with this (only) thread.
            if c.paused {
                return Err(Error::FailedPrecondition(format!(
                    "cannot exec in paused container {}",
                    req.id
                )));
            }
            let root = c.root.clone();
            let p = c.process(&req.exec_id)?;
            if p.started || p.exit.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "exec {} already started",
                    req.exec_id
                )));
            }
            let spec = p
                .spec
                .clone()
                .ok_or_else(|| Error::InvalidArgument("exec without a process spec".into()))?;
            let process = rcrun::exec_process::parse(&spec, "exec process")?;
            let mut prepared = pio::prepare(&p.stdio)?;
            let t0 = std::time::Instant::now();
            let cs = rcrun::container::load(&root, &req.id);
            let res = cs.and_then(|cs| {
                rcrun::container::exec(
                    &root,
                    &cs,
                    rcrun::container::ExecOptions {
                        process,
                        detach: true,
                        console_socket: prepared.console_path(),
                        stdio: prepared.take_stdio(),
                        ..Default::default()
                    },
                )
            });
            let pid = res?;
            p.pid = pid;
            p.started = true;
            p.spec = None;
            tracing::info!(id = %req.id, exec = %req.exec_id, pid, ms = t0.elapsed().as_millis() as u64, "exec started");
            self.publisher.publish(&TaskExecStarted {
                container_id: req.id.clone(),
                exec_id: req.exec_id.clone(),
                pid: pid as u32,
                ..Default::default()
            });
            (pid, prepared)
        };
        match prepared.start().await {
            Ok(io) => {
                if let Some(p) = self
                    .state()
                    .containers
                    .get_mut(&req.id)
                    .and_then(|c| c.execs.get_mut(&req.exec_id))
                {
                    if p.exit.is_none() {
                        p.io = io;
                    }
                }
            }
            Err(e) => tracing::warn!(id = %req.id, exec = %req.exec_id, "stdio: {e}"),
        }
        Ok(StartResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    fn do_delete(&self, req: DeleteRequest) -> Result<DeleteResponse> {
        let mut st = self.state();
        if !req.exec_id.is_empty() {
            let c = container(&mut st, &req.id)?;
            let p = c.process(&req.exec_id)?;
            if p.running() {
                return Err(Error::FailedPrecondition(format!(
                    "cannot delete running exec {}",
                    req.exec_id
                )));
            }
            let p = c.execs.remove(&req.exec_id);
            let (pid, exit) = p.map(|p| (p.pid, p.exit.clone())).unwrap_or((0, None));
            return Ok(delete_response(pid, exit));
        }
        let c = container(&mut st, &req.id)?;
        if c.init.running() {
            return Err(Error::FailedPrecondition(format!(
                "cannot delete running task {}",
                req.id
            )));
        }
        c.stop_oom_watch();
        c.oom = None;
        // Created (never started): the library kills the init first.
        if let Err(e) = rcrun::container::delete(&c.root, &c.id, true) {
            tracing::warn!(id = %c.id, "delete: {e}");
            return Err(e.into());
        }
        if c.init.exit.is_none() {
            c.init.set_exit(128 + libc::SIGKILL as u32);
        }
        if let Some(r) = &c.rootfs {
            crate::mount::unmount_rootfs(r);
        }
        let _ = std::fs::remove_file(c.bundle.join(actions::OPTIONS_FILE));
        let Some(mut c) = st.containers.remove(&req.id) else {
            return Err(Error::NotFound(req.id));
        };
        c.init.io.abort();
        for p in c.execs.values_mut() {
            p.io.abort();
        }
        let exit = c.init.exit.clone();
        let resp = delete_response(c.init.pid, exit.clone());
        self.publisher.publish(&TaskDelete {
            container_id: c.id.clone(),
            id: c.id.clone(),
            pid: c.init.pid as u32,
            exit_status: resp.exit_status,
            exited_at: resp.exited_at.clone(),
            ..Default::default()
        });
        tracing::info!(id = %c.id, "deleted");
        Ok(resp)
    }

    fn do_kill(&self, req: KillRequest) -> Result<()> {
        let sig = signal_of(req.signal)?;
        let mut st = self.state();
        let c = container(&mut st, &req.id)?;
        let cgroups = c.cgroups.clone();
        let p = c.process(&req.exec_id)?;
        if p.exit.is_some() {
            return Err(Error::NotFound("process already finished".into()));
        }
        if p.pid <= 0 {
            return Err(Error::FailedPrecondition(format!(
                "exec {} has not been started",
                req.exec_id
            )));
        }
        if req.all && req.exec_id.is_empty() {
            rcrun::container::signal_all(&cgroups, sig)?;
            return Ok(());
        }
        match nix::sys::signal::kill(Pid::from_raw(p.pid), sig) {
            Ok(()) => Ok(()),
            Err(nix::errno::Errno::ESRCH) => {
                Err(Error::NotFound("process already finished".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn do_exec(&self, req: ExecProcessRequest) -> Result<()> {
        valid_exec_id(&req.exec_id)?;
        let mut st = self.state();
        let c = container(&mut st, &req.id)?;
        if c.init.exit.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "container {} is stopped",
                req.id
            )));
        }
        if c.execs.contains_key(&req.exec_id) {
            return Err(Error::AlreadyExists(format!(
                "exec {} already exists",
                req.exec_id
            )));
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .ok_or_else(|| Error::InvalidArgument("exec: spec is required".into()))?;
        serde_json::from_slice::<oci_spec::runtime::Process>(&spec)
            .map_err(|e| Error::InvalidArgument(format!("exec spec: {e}")))?;
        let mut p = Proc::new(StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        });
        p.spec = Some(spec);
        c.execs.insert(req.exec_id.clone(), p);
        self.publisher.publish(&TaskExecAdded {
            container_id: req.id.clone(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        });
        Ok(())
    }

    fn do_state(&self, req: StateRequest) -> Result<StateResponse> {
        let mut st = self.state();
        let c = container(&mut st, &req.id)?;
        let bundle = c.bundle.to_string_lossy().into_owned();
        let p = if req.exec_id.is_empty() {
            &c.init
        } else {
            c.execs
                .get(&req.exec_id)
                .ok_or_else(|| Error::NotFound(format!("process {} does not exist", req.exec_id)))?
        };
        let status = c.status(p);
        Ok(StateResponse {
            id: req.id.clone(),
            bundle,
            pid: p.pid.max(0) as u32,
            status: status.into(),
            stdin: p.stdio.stdin.clone(),
            stdout: p.stdio.stdout.clone(),
            stderr: p.stdio.stderr.clone(),
            terminal: p.stdio.terminal,
            exit_status: p.exit.as_ref().map(|e| e.status).unwrap_or(0),
            exited_at: p
                .exit
                .as_ref()
                .map(|e| MessageField::some(e.at.clone()))
                .unwrap_or_default(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    fn do_pause(&self, id: &str, pause: bool) -> Result<()> {
        let mut st = self.state();
        let c = container(&mut st, id)?;
        if !c.init.running() {
            return Err(Error::FailedPrecondition(format!(
                "container {id} is not running"
            )));
        }
        if pause == c.paused {
            return Err(Error::FailedPrecondition(format!(
                "container {id} is {}",
                if pause {
                    "already paused"
                } else {
                    "not paused"
                }
            )));
        }
        if pause {
            c.cgroups.freeze()?;
            c.paused = true;
            self.publisher.publish(&TaskPaused {
                container_id: id.to_string(),
                ..Default::default()
            });
        } else {
            c.cgroups.thaw()?;
            c.paused = false;
            self.publisher.publish(&TaskResumed {
                container_id: id.to_string(),
                ..Default::default()
            });
        }
        Ok(())
    }

    fn do_pids(&self, id: &str) -> Result<PidsResponse> {
        let mut st = self.state();
        let c = container(&mut st, id)?;
        let mut pids = c.cgroups.pids()?;
        // A stopped init not yet deleted still is a task: containerd 1.7,
        // reconnecting after a restart, deletes as "leaked" every shim whose
        // Pids is empty, and the exit status would be lost with it.
        if pids.is_empty() && c.init.exit.is_some() && c.init.pid > 0 {
            pids.push(c.init.pid);
        }
        let processes = pids
            .into_iter()
            .map(|pid| {
                let mut info = ProcessInfo {
                    pid: pid as u32,
                    ..Default::default()
                };
                if let Some((eid, _)) = c.execs.iter().find(|(_, p)| p.pid == pid) {
                    let d = ProcessDetails {
                        exec_id: eid.clone(),
                        ..Default::default()
                    };
                    if let Ok(value) = d.write_to_bytes() {
                        info.info = MessageField::some(Any {
                            type_url: PROCESS_DETAILS.to_string(),
                            value,
                            ..Default::default()
                        });
                    }
                }
                info
            })
            .collect();
        Ok(PidsResponse {
            processes,
            ..Default::default()
        })
    }

    fn do_update(&self, req: UpdateTaskRequest) -> Result<()> {
        let res = req
            .resources
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("update: resources are required".into()))?;
        let r: oci_spec::runtime::LinuxResources = serde_json::from_slice(&res.value)
            .map_err(|e| Error::InvalidArgument(format!("update: resources: {e}")))?;
        let mut st = self.state();
        let c = container(&mut st, &req.id)?;
        if c.init.exit.is_some() {
            return Err(Error::NotFound("process already finished".into()));
        }
        c.cgroups.update(&r)?;
        Ok(())
    }
}

fn container<'a>(st: &'a mut State, id: &str) -> Result<&'a mut Container> {
    st.containers
        .get_mut(id)
        .ok_or_else(|| Error::NotFound(format!("container {id} does not exist")))
}

fn delete_response(pid: i32, exit: Option<Exit>) -> DeleteResponse {
    DeleteResponse {
        pid: pid.max(0) as u32,
        exit_status: exit.as_ref().map(|e| e.status).unwrap_or(0),
        exited_at: exit.map(|e| MessageField::some(e.at)).unwrap_or_default(),
        ..Default::default()
    }
}

fn log_err<T>(what: &str, r: Result<T>) -> ttrpc::Result<T> {
    r.map_err(|e| {
        tracing::debug!("{what}: {e}");
        e.into()
    })
}

#[async_trait]
impl Task for Service {
    async fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> ttrpc::Result<StateResponse> {
        log_err("state", self.do_state(req))
    }

    async fn create(
        &self,
        _ctx: &TtrpcContext,
        req: CreateTaskRequest,
    ) -> ttrpc::Result<CreateTaskResponse> {
        log_err("create", self.do_create(req).await)
    }

    async fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> ttrpc::Result<StartResponse> {
        log_err("start", self.do_start(req).await)
    }

    async fn delete(
        &self,
        _ctx: &TtrpcContext,
        req: DeleteRequest,
    ) -> ttrpc::Result<DeleteResponse> {
        log_err("delete", self.do_delete(req))
    }

    async fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> ttrpc::Result<PidsResponse> {
        log_err("pids", self.do_pids(&req.id))
    }

    async fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> ttrpc::Result<Empty> {
        log_err("pause", self.do_pause(&req.id, true)).map(|_| Empty::new())
    }

    async fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> ttrpc::Result<Empty> {
        log_err("resume", self.do_pause(&req.id, false)).map(|_| Empty::new())
    }

    async fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> ttrpc::Result<Empty> {
        log_err("kill", self.do_kill(req)).map(|_| Empty::new())
    }

    async fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> ttrpc::Result<Empty> {
        log_err("exec", self.do_exec(req)).map(|_| Empty::new())
    }

    async fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> ttrpc::Result<Empty> {
        let r = (|| {
            let mut st = self.state();
            let c = container(&mut st, &req.id)?;
            let p = c.process(&req.exec_id)?;
            if let Some(m) = &p.io.console {
                pio::resize(m, req.width, req.height)?;
            }
            Ok(())
        })();
        log_err("resize", r).map(|_| Empty::new())
    }

    async fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> ttrpc::Result<Empty> {
        let r = (|| {
            let mut st = self.state();
            let c = container(&mut st, &req.id)?;
            let p = c.process(&req.exec_id)?;
            if req.stdin {
                p.io.close_stdin();
            }
            Ok(())
        })();
        log_err("close_io", r).map(|_| Empty::new())
    }

    async fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> ttrpc::Result<Empty> {
        log_err("update", self.do_update(req)).map(|_| Empty::new())
    }

    async fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> ttrpc::Result<WaitResponse> {
        let rx = {
            let mut st = self.state();
            let r = container(&mut st, &req.id).and_then(|c| c.process(&req.exec_id));
            match r {
                Ok(p) => p.exit_tx.subscribe(),
                Err(e) => return log_err("wait", Err(e)),
            }
        };
        let mut rx = rx;
        let exit = match rx.wait_for(|e| e.is_some()).await {
            Ok(e) => e.clone(),
            // The process was deleted while waited on.
            Err(_) => None,
        };
        let exit = exit.ok_or_else(|| {
            ttrpc::Error::from(Error::NotFound(format!("process {} was deleted", req.id)))
        })?;
        Ok(WaitResponse {
            exit_status: exit.status,
            exited_at: MessageField::some(exit.at),
            ..Default::default()
        })
    }

    async fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> ttrpc::Result<StatsResponse> {
        let r = (|| {
            let mut st = self.state();
            let c = container(&mut st, &req.id)?;
            crate::stats::collect(&c.cgroups)
        })();
        log_err("stats", r).map(|any| StatsResponse {
            stats: MessageField::some(any),
            ..Default::default()
        })
    }

    async fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: ConnectRequest,
    ) -> ttrpc::Result<ConnectResponse> {
        let pid = self
            .state()
            .containers
            .get(&req.id)
            .map(|c| c.init.pid.max(0) as u32)
            .unwrap_or(0);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid: pid,
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        })
    }

    async fn shutdown(&self, _ctx: &TtrpcContext, req: ShutdownRequest) -> ttrpc::Result<Empty> {
        let busy = !self.state().containers.is_empty();
        if busy && !req.now {
            return Ok(Empty::new());
        }
        self.shutdown.notify_one();
        Ok(Empty::new())
    }
}
