//! One process of a container, its init or an exec, as the shim tracks it:
//! not started, started, exited; its stdio; and the channel its waiters
//! (Wait) watch for the exit.

use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use tokio::sync::watch;

use crate::events;
use crate::io::{ProcessIo, StdioPaths};

#[derive(Clone, Debug)]
pub struct Exit {
    pub status: u32,
    pub at: Timestamp,
}

pub struct Proc {
    /// 0 until the library has created the process.
    pub pid: i32,
    pub started: bool,
    pub exit: Option<Exit>,
    pub stdio: StdioPaths,
    pub io: ProcessIo,
    pub exit_tx: watch::Sender<Option<Exit>>,
    /// Exec processes: the OCI process JSON until Start.
    pub spec: Option<Vec<u8>>,
}

impl Proc {
    pub fn new(stdio: StdioPaths) -> Proc {
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

    /// Records the exit and wakes every waiter.
    pub fn set_exit(&mut self, status: u32) -> Exit {
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

    pub fn running(&self) -> bool {
        self.started && self.exit.is_none()
    }
}
