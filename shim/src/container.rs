//! A container as the shim serves it: its init and exec processes and the
//! transitions the Task API allows between their states (created →
//! running ⇄ paused → stopped → deleted). Each transition checks the task
//! state here and leaves the work to the rcrun library.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use containerd_shim_protos::api::{StateResponse, Status};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::oci::ProcessDetails;
use containerd_shim_protos::types::task::ProcessInfo;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use rcrun::cgroups::CgroupSet;
use rcrun::oom::OomWatcher;
use rcrun::state::Root;
use tokio::task::JoinHandle;

use crate::actions;
use crate::error::{Error, Result};
use crate::process::{Exit, Proc};
use crate::service::lock;

const PROCESS_DETAILS: &str = "containerd.runc.v1.ProcessDetails";

pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub root: Root,
    pub cgroups: CgroupSet,
    /// `<bundle>/rootfs` when the shim mounted it.
    pub rootfs: Option<PathBuf>,
    pub init: Proc,
    pub execs: HashMap<String, Proc>,
    pub oom: Option<Arc<Mutex<OomWatcher>>>,
    pub oom_task: Option<JoinHandle<()>>,
    pub paused: bool,
}

fn no_process(exec_id: &str) -> Error {
    Error::NotFound(format!("process {exec_id} does not exist"))
}

impl Container {
    /// The init for an empty exec id, else that exec.
    pub fn process(&self, exec_id: &str) -> Result<&Proc> {
        if exec_id.is_empty() {
            return Ok(&self.init);
        }
        self.execs.get(exec_id).ok_or_else(|| no_process(exec_id))
    }

    pub fn process_mut(&mut self, exec_id: &str) -> Result<&mut Proc> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        self.execs
            .get_mut(exec_id)
            .ok_or_else(|| no_process(exec_id))
    }

    pub fn status(&self, p: &Proc) -> Status {
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

    pub fn stop_oom_watch(&mut self) {
        if let Some(t) = self.oom_task.take() {
            t.abort();
        }
    }

    /// OOM kills since the last look (the truth rule: the counter moved).
    pub fn new_oom_kills(&self) -> u64 {
        self.oom
            .as_ref()
            .map(|w| lock(w).take_new_kills())
            .unwrap_or(0)
    }

    /// Whether the init's exit with `code` was an OOM kill: the counter
    /// moved; or, when the memory cgroup is gone before anyone counted a
    /// kill (systemd removes a scope's cgroup as soon as the kill empties
    /// it), the kernel log has the init killed there
    /// ([`rcrun::oom_account::init_oom_killed_in_log`]).
    pub fn init_exit_was_oom_kill(&self, code: u32) -> bool {
        if self.new_oom_kills() > 0 {
            return true;
        }
        let counted_before = self.oom.as_ref().is_some_and(|w| lock(w).last_count > 0);
        // (On cgroup v2 a removed cgroup has no memory directory at all.)
        let gone = !self.cgroups.memory_dir().is_some_and(|d| d.exists());
        if code != 128 + libc::SIGKILL as u32 || counted_before || !gone {
            return false;
        }
        let killed = self
            .root
            .load(&self.id)
            .is_ok_and(|st| rcrun::oom_account::init_oom_killed_in_log(&st));
        if killed {
            tracing::info!(id = %self.id, "init OOM-killed (kernel log; its cgroup was already removed)");
        }
        killed
    }

    /// Start of the init: created → running. Returns its pid.
    pub fn start_init(&mut self) -> Result<i32> {
        if self.init.started || self.init.exit.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "container {} is not in the created state",
                self.id
            )));
        }
        rcrun::container::Container::open(&self.root, &self.id)?.start()?;
        self.init.started = true;
        Ok(self.init.pid)
    }

    /// Signals one process, or with `all` every process of the container.
    pub fn kill(&self, exec_id: &str, sig: Signal, all: bool) -> Result<()> {
        let p = self.process(exec_id)?;
        if p.exit.is_some() {
            return Err(Error::NotFound("process already finished".into()));
        }
        if p.pid <= 0 {
            return Err(Error::FailedPrecondition(format!(
                "exec {exec_id} has not been started"
            )));
        }
        if all && exec_id.is_empty() {
            rcrun::container::signal_all(&self.cgroups, sig)?;
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

    /// Pause (freeze) or resume (thaw) a running container. Whether the
    /// container may change so is the library's call (its state on disk).
    pub fn set_paused(&mut self, pause: bool) -> Result<()> {
        if !self.init.running() {
            return Err(Error::FailedPrecondition(format!(
                "container {} is not running",
                self.id
            )));
        }
        let c = rcrun::container::Container::open(&self.root, &self.id)?;
        if pause {
            c.pause()?;
        } else {
            c.resume()?;
        }
        self.paused = pause;
        Ok(())
    }

    pub fn update(&self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        if self.init.exit.is_some() {
            return Err(Error::NotFound("process already finished".into()));
        }
        // The library's update, as `rcrun update`: the same checks, under
        // the container's lock.
        rcrun::container::Container::open(&self.root, &self.id)?.update(r)?;
        Ok(())
    }

    /// Delete of an exec that is not running; returns its pid and exit.
    pub fn delete_exec(&mut self, exec_id: &str) -> Result<(i32, Option<Exit>)> {
        if self.process(exec_id)?.running() {
            return Err(Error::FailedPrecondition(format!(
                "cannot delete running exec {exec_id}"
            )));
        }
        let p = self.execs.remove(exec_id);
        Ok(p.map(|p| (p.pid, p.exit.clone())).unwrap_or((0, None)))
    }

    /// Delete of the container, stopped or never started (the library kills
    /// a created init first): its state, cgroups and the rootfs we mounted.
    /// The caller then forgets it.
    pub fn delete(&mut self) -> Result<()> {
        if self.init.running() {
            return Err(Error::FailedPrecondition(format!(
                "cannot delete running task {}",
                self.id
            )));
        }
        self.stop_oom_watch();
        self.oom = None;
        if let Err(e) = rcrun::container::Container::delete(&self.root, &self.id, true) {
            tracing::warn!(id = %self.id, "delete: {e}");
            return Err(e.into());
        }
        if self.init.exit.is_none() {
            self.init.set_exit(128 + libc::SIGKILL as u32);
        }
        if let Some(r) = &self.rootfs {
            crate::mount::unmount_rootfs(r);
        }
        let _ = std::fs::remove_file(self.bundle.join(actions::OPTIONS_FILE));
        self.init.io.abort();
        for p in self.execs.values_mut() {
            p.io.abort();
        }
        Ok(())
    }

    pub fn state(&self, exec_id: &str) -> Result<StateResponse> {
        let p = self.process(exec_id)?;
        Ok(StateResponse {
            id: self.id.clone(),
            bundle: self.bundle.to_string_lossy().into_owned(),
            pid: p.pid.max(0) as u32,
            status: self.status(p).into(),
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
            exec_id: exec_id.to_string(),
            ..Default::default()
        })
    }

    /// Every process in the container's cgroups; execs say which they are.
    pub fn pids(&self) -> Result<Vec<ProcessInfo>> {
        let mut pids = self.cgroups.pids()?;
        // A stopped init not yet deleted still is a task: containerd 1.7,
        // reconnecting after a restart, deletes as "leaked" every shim whose
        // Pids is empty, and the exit status would be lost with it.
        if pids.is_empty() && self.init.exit.is_some() && self.init.pid > 0 {
            pids.push(self.init.pid);
        }
        Ok(pids.into_iter().map(|pid| self.process_info(pid)).collect())
    }

    fn process_info(&self, pid: i32) -> ProcessInfo {
        let mut info = ProcessInfo {
            pid: pid as u32,
            ..Default::default()
        };
        if let Some((eid, _)) = self.execs.iter().find(|(_, p)| p.pid == pid) {
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
    }
}
