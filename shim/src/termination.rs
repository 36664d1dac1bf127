//! The init of a pod container was SIGKILLed: if the kernel's OOM killer did
//! it, write the account into the container's termination-message file
//! (runtime/src/termination_message.rs) so that the kubelet, which reads
//! that file when it sees the exit, shows it. Runs BEFORE /tasks/exit is
//! published; reading the kernel log (bounded, 250 ms) happens only on this
//! path, when the cgroup counted an OOM kill.

use rcrun::oom_account::OomAccount;
use rcrun::state::ContainerState;
use rcrun::termination_message::{self, Outcome};

use crate::container::Container;

/// Returns the state and account it read, so that the account logged and
/// journaled after the exit (oom_log.rs) does not read the kernel log again.
pub fn on_init_killed(c: &Container) -> Option<(ContainerState, OomAccount)> {
    let st = match c.root.load(&c.id) {
        Ok(st) => st,
        Err(e) => {
            tracing::debug!(id = %c.id, "termination message: no state: {e}");
            return None;
        }
    };
    let account = rcrun::oom_account::account(&st);
    if account.init_oom_killed {
        write(c, &st, &account);
    }
    Some((st, account))
}

fn write(c: &Container, st: &ContainerState, account: &OomAccount) {
    let spec = match std::fs::read(c.bundle.join("config.json"))
        .map_err(|e| e.to_string())
        .and_then(|d| rcrun::spec::parse(&d))
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(id = %c.id, "termination message: config.json: {e}");
            return;
        }
    };
    match termination_message::write_for_oom(&spec, &c.id, st.pid, account) {
        Outcome::Written(p) => {
            tracing::info!(id = %c.id, file = %p.display(), "OOM account written as the termination message")
        }
        Outcome::Refused(why) => {
            tracing::warn!(id = %c.id, "termination message not written: {why}")
        }
        o => tracing::debug!(id = %c.id, "termination message: {o:?}"),
    }
}
