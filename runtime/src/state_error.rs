//! Errors about a container's status and its state directory: an operation
//! the status does not allow ([`Action`], rendered by [`refusal`] in the
//! wording runc users know), and a state file or lock that cannot be used
//! ([`StateError`]).

use std::path::PathBuf;

use crate::error::Kind;
use crate::state::Status;

/// The operation a container's status refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `start`; `exited_pid` when the init died between create and start.
    Start {
        exited_pid: Option<i32>,
    },
    /// `kill`, `events`: need a live container.
    Signal,
    Pause,
    Resume,
    Update,
    Exec,
    Delete,
}

/// The one line a refused `action` prints.
pub fn refusal(id: &str, status: Status, action: &Action) -> String {
    match action {
        Action::Start {
            exited_pid: Some(pid),
        } => format!(
            "cannot start a container that has stopped: its init process (pid {pid}) exited before start"
        ),
        Action::Start { .. } => match status {
            Status::Stopped => "cannot start a container that has stopped".into(),
            Status::Running => "cannot start an already running container".into(),
            s => format!("cannot start a container in the {s} state"),
        },
        Action::Signal | Action::Pause => "container not running".into(),
        Action::Resume => "container not paused".into(),
        Action::Update => format!(
            "container {id:?} is stopped: only a created, running or paused container can be updated"
        ),
        Action::Exec => format!("cannot exec in a {status} container"),
        Action::Delete => format!("cannot delete container {id} that is not stopped: {status}"),
    }
}

/// A state directory, state file or lock that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: corrupt state: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The saved spec beside the state does not parse.
    #[error("{}: {reason}", path.display())]
    CorruptSpec { path: PathBuf, reason: String },
    /// The root is shared with runc and this container is runc's.
    #[error("container \"{id}\": {} is runc's state, not rcrun's (the root is shared with runc: use runc for this container)", path.display())]
    NotOurs { id: String, path: PathBuf },
    #[error("serialize state of {id}: {source}")]
    Serialize {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the container's spec has no process")]
    NoProcess,
    #[error("container {id}: state directory removed while being created (by a delete --force of the same id)")]
    RemovedWhileCreating { id: String },
    /// `start` found the init released already, by an earlier `start`
    /// killed before it finished: the program may be running, and only
    /// `delete` (which kills it) is left to do.
    #[error("container {id}: an earlier start was killed after it let the init (pid {pid}) go; delete the container")]
    StartInterrupted { id: String, pid: i32 },
    #[error("container {id}: {} is locked", path.display())]
    Locked { id: String, path: PathBuf },
    #[error(
        "container {id} is busy: another rcrun operation holds its lock{holder} for over {secs}s"
    )]
    Busy {
        id: String,
        /// " (pid N)" when known, else empty.
        holder: String,
        secs: u64,
    },
}

impl StateError {
    /// Another rcrun (or runc) holds or owns it: the operation may not go on
    /// now. A state that does not parse is rcrun's own failure.
    pub fn kind(&self) -> Kind {
        match self {
            StateError::Corrupt { .. }
            | StateError::CorruptSpec { .. }
            | StateError::Serialize { .. }
            | StateError::NoProcess => Kind::Internal,
            StateError::NotOurs { .. }
            | StateError::RemovedWhileCreating { .. }
            | StateError::StartInterrupted { .. }
            | StateError::Locked { .. }
            | StateError::Busy { .. } => Kind::FailedPrecondition,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_runc_wording() {
        let start = |exited_pid| Action::Start { exited_pid };
        let cases = [
            (Status::Running, start(None), "cannot start an already running container"),
            (
                Status::Stopped,
                start(Some(7)),
                "cannot start a container that has stopped: its init process (pid 7) exited before start",
            ),
            (Status::Paused, start(None), "cannot start a container in the paused state"),
            (Status::Stopped, Action::Signal, "container not running"),
            (Status::Paused, Action::Exec, "cannot exec in a paused container"),
            (
                Status::Running,
                Action::Delete,
                "cannot delete container c that is not stopped: running",
            ),
            (
                Status::Stopped,
                Action::Update,
                "container \"c\" is stopped: only a created, running or paused container can be updated",
            ),
        ];
        for (status, action, want) in cases {
            assert_eq!(refusal("c", status, &action), want);
        }
    }
}
