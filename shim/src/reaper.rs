//! Exits and OOM kills, published in the order containerd needs them:
//! a container's `/tasks/oom` before the `/tasks/exit` it explains, and its
//! execs' exits before its init's.
//!
//! The shim is the child subreaper of every container process (main.rs):
//! on SIGCHLD it reaps them all, re-parented daemons included, and records
//! and publishes the exits of the processes it started.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use containerd_shim_protos::events::task::{TaskExit, TaskOOM};
use containerd_shim_protos::protobuf::MessageField;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rcrun::oom::OomWatcher;
use rcrun::oom_account::FrozenAtLimit;
use rcrun::state::Root;
use tokio::task::JoinHandle;

use crate::io as pio;
use crate::service::{lock, Service, State};

/// The pid and containerd's exit status of a process that ended.
fn exit_code(ws: WaitStatus) -> Option<(i32, u32)> {
    match ws {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), code as u32)),
        // containerd's convention: 128 + signal (137 for SIGKILL).
        WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), 128 + sig as u32)),
        _ => None,
    }
}

impl Service {
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
                let oom_killed = c.init_exit_was_oom_kill(code);
                if oom_killed {
                    self.publisher.publish(&TaskOOM {
                        container_id: c.id.clone(),
                        ..Default::default()
                    });
                }
                c.stop_oom_watch();
                // Without a pid namespace the init's death kills nothing:
                // make it so (containerd expects it).
                let _ = rcrun::container::signal_all(&c.cgroups, Signal::SIGKILL);
                // The kubelet reads the termination message when it sees the
                // exit: an OOM account must be in the file before it.
                let made = if code == 128 + libc::SIGKILL as u32 {
                    crate::termination::on_init_killed(c)
                } else {
                    None
                };
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
                if oom_killed {
                    match made {
                        Some((st, account)) => crate::oom_log::explain_made(&c.root, st, account),
                        None => crate::oom_log::explain(&c.root, &c.id),
                    }
                }
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

    /// Publishes `/tasks/oom` whenever the container's OOM counter moves
    /// while it runs (an exit takes its own look first, in `on_exit`), and
    /// once when it freezes at its limit with the OOM killer disabled (as
    /// the runc shim does on v1: docker then says OOMKilled).
    pub(crate) fn spawn_oom_watch(
        &self,
        id: &str,
        root: &Root,
        w: &Arc<Mutex<OomWatcher>>,
    ) -> Option<JoinHandle<()>> {
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
        let root = root.clone();
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
                    crate::oom_log::explain(&root, &id);
                }
                // An OOM without a kill (killer disabled): once per episode.
                if let Some(frozen) = take_frozen(&w) {
                    tracing::warn!(id = %id, "OOM: {frozen}");
                    publisher.publish(&TaskOOM {
                        container_id: id.clone(),
                        ..Default::default()
                    });
                }
            }
        }))
    }
}

/// The account's sentence of an OOM episode without a kill that just began.
fn take_frozen(w: &Mutex<OomWatcher>) -> Option<String> {
    let mut w = lock(w);
    if !w.take_frozen_start() {
        return None;
    }
    let counters = w.counters();
    Some(
        counters
            .as_ref()
            .and_then(FrozenAtLimit::from_counters)
            .map(|f| f.sentence())
            .unwrap_or_else(|| "frozen at its limit, no process killed".into()),
    )
}
