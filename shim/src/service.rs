//! The shim's one service object: the containers it serves, the event
//! publisher and the shutdown signal. Its parts live beside it:
//! - `task.rs`: the containerd Task API (task API v2 and v3): decode each request,
//!   call the operation, encode the response;
//! - `create.rs`: Create (rootfs mounts, stdio, the library's create, the
//!   OOM watch);
//! - `exec.rs`: Exec and the Start of an exec;
//! - `container.rs` / `process.rs`: per-container and per-process state and
//!   the transitions between the task states;
//! - `reaper.rs`: exits (SIGCHLD) and OOM kills, an OOM always published
//!   before the exit it caused.
//!
//! All state lives behind one std mutex that is never held across an
//! `.await`. The process runs a current_thread runtime (see main.rs), so
//! handlers, the reaper and the OOM watchers never run at the same time:
//! a pid returned by create/exec is registered before the reaper can see
//! its exit, and the reaper never steals a child the library waits for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::events::Publisher;

/// The containers this shim serves (one, or a pod's), by id.
#[derive(Default)]
pub struct State {
    pub containers: HashMap<String, Container>,
}

impl State {
    pub fn container(&mut self, id: &str) -> Result<&mut Container> {
        self.containers
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(format!("container {id} does not exist")))
    }
}

pub struct Service {
    state: Mutex<State>,
    pub(crate) publisher: Publisher,
    pub(crate) namespace: String,
    pub(crate) shutdown: Arc<Notify>,
}

/// A poisoned lock only means a handler panicked; the state is still the
/// best there is.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}
