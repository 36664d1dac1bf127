//! An OOM kill the shim saw, explained in containerd's log (victim, the
//! limit hit and whose, usage, failcnt, victim RSS: one line per kill) and
//! kept in rcrun's OOM journal, which outlives the task (`rcrun --root
//! /run/containerd/rcrun/<namespace> oom-report <id>`).
//!
//! The explanation reads the kernel log, waiting up to 250 ms for its
//! records: that runs on a blocking thread, after `/tasks/oom` (and, at an
//! exit, `/tasks/exit`) are published. What it needs from the container,
//! its state and counters, is read before returning to the event loop:
//! containerd's Delete, which removes both, can only run after that.

use std::path::Path;

use rcrun::oom_account::{self, OomAccount};
use rcrun::oom_journal::{self, Writer};
use rcrun::state::{ContainerState, Root};

pub fn explain(root: &Root, id: &str) {
    let st = match root.load(id) {
        Ok(st) => st,
        Err(e) => {
            tracing::warn!(id = %id, "OOM kill: no account ({e})");
            return;
        }
    };
    let counters = st.cgroups.oom_counters().ok();
    let root = root.path.clone();
    tokio::task::spawn_blocking(move || {
        let account = oom_account::account_with(&st, counters);
        log_and_keep(&root, &st, &account);
    });
}

/// An account already made (at an init's exit, for its termination
/// message): logged and journaled off the event loop, without a second
/// read of the kernel log.
pub fn explain_made(root: &Root, st: ContainerState, account: OomAccount) {
    let root = root.path.clone();
    tokio::task::spawn_blocking(move || log_and_keep(&root, &st, &account));
}

fn log_and_keep(root: &Path, st: &ContainerState, account: &OomAccount) {
    for line in oom_account::render_log_lines(&st.id, st.pid, account) {
        tracing::warn!(id = %st.id, "{line}");
    }
    oom_journal::record_seen(root, st, account, Writer::Shim);
}
