//! One `Container` for every operation, of the CLI commands and the shim:
//! it loads the state (taking the per-container lock, see lock.rs, for the
//! operations that change something), checks the status once, and returns
//! typed results; nothing here prints.
//!
//! - create.rs: `create` (validation, cgroups, state, init process);
//! - exec.rs: `exec` (libcontainer's tenant path);
//! - destroy.rs: `kill --all` and `delete`;
//! - start.rs: `start`, crash-safe (what a SIGKILL at each step leaves);
//! - here: kill, pause, resume, update, state, ps.
//!
//! libcontainer sets up the processes (lc_init.rs, lc_builder.rs); cgroups
//! and state are ours.

mod create;
mod destroy;
mod exec;
mod start;

use std::cell::OnceCell;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxResources, Spec};
use serde::Serialize;

use crate::error::{Action, Error, Result};
use crate::lock::ContainerLock;
use crate::oom_account;
use crate::state::{ContainerState, OciState, Root, Status};

/// Explicit stdio for the container process (the shim passes fifos).
pub use crate::lc_builder::Stdio;
pub use create::CreateOptions;
pub use destroy::{destroy, signal_all};
pub use exec::{ExecOptions, ExecTarget};
pub use start::Starter;

/// A container, loaded (and for changes, locked) for one operation.
pub struct Container {
    root: Root,
    state: ContainerState,
    /// The container's spec (config.json), parsed when first needed.
    spec: OnceCell<Spec>,
    /// Held until dropped: other changes of this id wait meanwhile.
    _lock: Option<ContainerLock>,
}

/// `state`: the OCI state, plus an `oom` object once the container's
/// cgroup has seen an OOM kill or is frozen under OOM (disableOOMKiller).
#[derive(Serialize)]
pub struct StateReport<'a> {
    #[serde(flatten)]
    pub oci: OciState<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom: Option<OomSummary>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OomSummary {
    pub oom_kills: u64,
    pub init_oom_killed: bool,
    pub oom_cgroup: Option<String>,
    pub limit_hit_by_ancestor: bool,
    pub under_oom: bool,
    /// "frozen at its limit, OOM killer disabled: usage ..." (an OOM
    /// without a victim, oom_account::FrozenAtLimit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frozen_at_limit: Option<String>,
}

impl Container {
    /// Creates the container (see create.rs); it stays locked until the
    /// returned value is dropped.
    pub fn create(root: &Root, id: &str, opts: CreateOptions) -> Result<Container> {
        create::create(root, id, opts)
    }

    /// Takes the container's lock (waiting, bounded, for the operation
    /// holding it: e.g. a create still running its hooks) and loads it.
    pub fn open(root: &Root, id: &str) -> Result<Container> {
        let lock = root.lock(id)?;
        let state = root.load(id)?;
        Ok(Container::with_lock(root, state, lock))
    }

    /// Loads the container without its lock: for queries (state, ps,
    /// events) that must neither wait for a create's hooks nor hold other
    /// operations up while they run.
    pub fn peek(root: &Root, id: &str) -> Result<Container> {
        let state = root.load(id)?;
        Ok(Container::with_lock(root, state, None))
    }

    fn with_lock(root: &Root, state: ContainerState, lock: Option<ContainerLock>) -> Container {
        Container {
            root: root.clone(),
            state,
            spec: OnceCell::new(),
            _lock: lock,
        }
    }

    /// `delete`: runc's rules. Stopped: destroy. Created: kill and destroy.
    /// Running or paused: only with `force`. Takes the id: it also removes
    /// what a killed `create` leaves (a directory without state).
    pub fn delete(root: &Root, id: &str, force: bool) -> Result<()> {
        destroy::delete(root, id, force)
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Lets go of the lock before this operation ends: for `exec
    /// --ignore-paused` into a paused container, whose process cannot
    /// report ready until someone runs `resume`, which needs the lock.
    pub fn unlock(&mut self) {
        self._lock = None;
    }

    /// The state as loaded.
    pub fn state(&self) -> &ContainerState {
        &self.state
    }

    /// The status now (the init may have exited since the load).
    pub fn status(&self) -> Status {
        self.state.status()
    }

    /// The container's spec, as create wrote it (config.json), parsed once.
    pub fn spec(&self) -> Result<&Spec> {
        if let Some(s) = self.spec.get() {
            return Ok(s);
        }
        let spec = crate::exec_process::container_spec(&self.root.container_dir(self.id()))?;
        Ok(self.spec.get_or_init(|| spec))
    }

    /// `kill`: signals init, or with `all` every process in the cgroup.
    /// `None` is signal 0: only checks that the processes exist (runc's
    /// `kill ID 0`, a liveness check).
    pub fn kill(&self, sig: Option<Signal>, all: bool) -> Result<()> {
        let st = &self.state;
        if all {
            return match sig {
                Some(sig) => signal_all(&st.cgroups, sig),
                None => Ok(st.cgroups.pids().map(|_| ())?),
            };
        }
        if st.status() == Status::Stopped {
            return Err(self.refused(Status::Stopped, Action::Signal));
        }
        kill(Pid::from_raw(st.pid), sig).map_err(|e| Error::os(format!("kill pid {}", st.pid), e))
    }

    /// `pause`: freezes every process of the container.
    pub fn pause(&self) -> Result<()> {
        match self.status() {
            Status::Running | Status::Created => Ok(self.state.cgroups.freeze()?),
            s => Err(self.refused(s, Action::Pause)),
        }
    }

    /// `resume`: thaws a paused container.
    pub fn resume(&self) -> Result<()> {
        if self.status() != Status::Paused {
            return Err(self.refused(self.status(), Action::Resume));
        }
        Ok(self.state.cgroups.thaw()?)
    }

    /// `update`: new resource limits for a created, running or paused
    /// container.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        if self.status() == Status::Stopped {
            return Err(self.refused(Status::Stopped, Action::Update));
        }
        // The systemd driver sends the device rules to the unit again.
        let devices = match &self.state.cgroups.systemd {
            Some(_) => Some(crate::cgroups::devices::effective_rules(
                crate::cgroups::devices::rules_of(self.spec()?).as_deref(),
            )),
            None => None,
        };
        Ok(self
            .state
            .cgroups
            .update_with_devices(resources, devices.as_deref())?)
    }

    /// `events`: fails when the container has stopped.
    pub fn require_live(&self) -> Result<()> {
        if self.status() == Status::Stopped {
            return Err(self.refused(Status::Stopped, Action::Signal));
        }
        Ok(())
    }

    /// `status` does not allow `action`.
    fn refused(&self, status: Status, action: Action) -> Error {
        Error::WrongStatus {
            id: self.id().to_string(),
            status,
            action,
        }
    }

    /// `ps`: the pids of every process in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(self.state.cgroups.pids()?)
    }

    /// `state`: the OCI state and, when there is one, the OOM account.
    pub fn report(&self) -> StateReport<'_> {
        let st = &self.state;
        let account = oom_account::account(st);
        // With disableOOMKiller the container freezes at its limit instead
        // of being killed: say so, it is otherwise indistinguishable from a
        // hang.
        let under_oom = account
            .counters
            .as_ref()
            .and_then(|c| c.under_oom)
            .unwrap_or(false);
        let frozen_at_limit = account.frozen_at_limit.as_ref().map(|f| f.sentence());
        let oom =
            (account.oom_kills > 0 || under_oom || frozen_at_limit.is_some()).then(|| OomSummary {
                oom_kills: account.oom_kills,
                init_oom_killed: account.init_oom_killed,
                oom_cgroup: account.oom_cgroup.clone(),
                limit_hit_by_ancestor: account.limit_hit_by_ancestor,
                under_oom,
                frozen_at_limit,
            });
        StateReport {
            oci: st.oci(st.status()),
            oom,
        }
    }
}
