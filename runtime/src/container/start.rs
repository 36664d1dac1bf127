//! `start`, in an order where a SIGKILL at any instant (of `rcrun start`,
//! or of the shim, which starts in-process) leaves either a `created`
//! container that `delete` without --force kills and removes, or a
//! `running` one whose state says so: never a program nobody knows about.
//!
//! The status derives from the saved `started` (state.rs): until `start`
//! has saved it, the container reads `created`, even once the init has
//! exec'd the program. That is runc's rule too (`created` while its
//! exec.fifo exists; `runc start` lets the init go, then removes the fifo)
//! and what `delete` without --force counts on (runc semantics, as
//! containerd's runc shim calls it for a task it thinks created): it kills
//! a `created` container and refuses a `running` one. So:
//! 1. release the init (the connect to its notify socket, lc_init.rs);
//! 2. with poststart hooks: save `started` with this process as `starter`
//!    (the status is `running` while it lives: the hooks and anyone asking
//!    see the truth), run the hooks;
//! 3. save `started` (without `starter`): `running`.
//!
//! A crash before 3 reads `created` (a dead `starter` undoes `started`).
//! Only the instant between the last save and the exit is left, as in
//! runc (between its fifo removal and its exit): the state then says
//! `running`, and `delete --force` removes it. docs/reliability.md has
//! what each crash point leaves.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::Container;
use crate::crashpoint;
use crate::error::{Action, Error, Result, StateError};
use crate::state::{process_alive, process_start_time, Status};
use crate::{hooks, lc_init};

/// A process that is, or was, running `start`: pid and start time (a
/// reused pid is not it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Starter {
    pub pid: i32,
    pub start_time: u64,
}

impl Starter {
    pub fn this_process() -> Starter {
        let pid = std::process::id() as i32;
        Starter {
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
        }
    }

    pub(crate) fn alive(&self) -> bool {
        process_alive(self.pid, self.start_time)
    }
}

impl Container {
    /// `start`: lets the init process exec the user's program.
    pub fn start(&mut self) -> Result<()> {
        let st = &self.state;
        match st.status() {
            Status::Created => {}
            // Not started yet, yet stopped: the init died while waiting
            // (killed, OOM-killed at its limit, or its setup failed after
            // create).
            s => return Err(self.not_startable(s)),
        }
        crashpoint::point("start:before-release");
        let id = &st.id;
        if !lc_init::release(&self.root.libcontainer_root(id).join(id))? {
            return Err(self.not_released());
        }
        crashpoint::point("start:after-release");
        if let Some(spec) = hooks::poststart_spec(&self.root.container_dir(id)) {
            self.state.starter = Some(Starter::this_process());
            self.save_started()?;
            crashpoint::point("start:before-poststart");
            hooks::run_poststart(&spec, &self.state);
            crashpoint::point("start:after-poststart");
            self.state.starter = None;
        }
        self.save_started()?;
        crashpoint::point("start:after-save");
        Ok(())
    }

    fn not_startable(&self, status: Status) -> Error {
        let st = &self.state;
        let exited = status == Status::Stopped && !st.started && st.pid > 0;
        Error::WrongStatus {
            id: st.id.clone(),
            status,
            action: Action::Start {
                exited_pid: exited.then_some(st.pid),
            },
        }
    }

    /// Nobody listened on the notify socket: the init died meanwhile, or
    /// an earlier `start` released it and was killed before it saved.
    fn not_released(&self) -> Error {
        let st = &self.state;
        if process_alive(st.pid, st.pid_start_time) {
            return StateError::StartInterrupted {
                id: st.id.clone(),
                pid: st.pid,
            }
            .into();
        }
        self.not_startable(Status::Stopped)
    }

    /// Saves `started`. A released init whose start cannot be recorded is
    /// killed: the state would call its program `created`, and the caller
    /// is told that start failed.
    fn save_started(&mut self) -> Result<()> {
        self.state.started = true;
        let res = self.root.save(&self.state);
        if res.is_err() {
            let st = &self.state;
            if process_alive(st.pid, st.pid_start_time) {
                let _ = kill(Pid::from_raw(st.pid), Signal::SIGKILL);
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::{CgroupSet, Layout};
    use crate::state::ContainerState;

    /// A container whose init is this test process (alive), no cgroups.
    fn state(started: bool, starter: Option<Starter>) -> ContainerState {
        let me = Starter::this_process();
        ContainerState {
            id: "t".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid: me.pid,
            pid_start_time: me.start_time,
            created: String::new(),
            owner: String::new(),
            annotations: Default::default(),
            started,
            cgroups: CgroupSet {
                layout: Layout::V2,
                dirs: Vec::new(),
                created: Vec::new(),
                systemd: None,
            },
            starter,
        }
    }

    #[test]
    fn running_only_once_a_live_start_saved_it() {
        let me = Starter::this_process();
        let dead = Starter {
            start_time: me.start_time + 1,
            ..me
        };
        assert_eq!(state(false, None).status(), Status::Created);
        assert_eq!(state(true, None).status(), Status::Running);
        // poststart hooks running under a live start: running
        assert_eq!(state(true, Some(me)).status(), Status::Running);
        // that start died before its final save: created, which delete kills
        assert_eq!(state(true, Some(dead)).status(), Status::Created);
    }

    #[test]
    fn starter_is_not_written_when_absent() {
        let json = serde_json::to_value(state(true, None)).unwrap_or_default();
        assert!(json.get("starter").is_none());
        let json =
            serde_json::to_value(state(true, Some(Starter::this_process()))).unwrap_or_default();
        assert!(json["starter"]["pid"].is_number());
    }
}
