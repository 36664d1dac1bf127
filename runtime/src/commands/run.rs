//! `rcrun run`: create + start, then (unless --detach) wait for the
//! container, relay signals, and exit with its status (128+N if killed).

use rcrun::container::Container;
use rcrun::error::Result;
use rcrun::oom::OomWatcher;
use rcrun::oom_account;
use rcrun::process;
use rcrun::state::Root;

use super::create::{options, BundleFlags, SetupFlags};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub bundle: BundleFlags,
    /// Do not become a subreaper (accepted for runc compatibility)
    #[arg(long)]
    pub no_subreaper: bool,
    #[command(flatten)]
    pub setup: SetupFlags,
    /// Keep the container's state and cgroup after it exits
    #[arg(long)]
    pub keep: bool,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args, systemd_cgroup: bool) -> Result<i32> {
    let id = &args.container_id;
    if !args.detach {
        // The init's parent is libcontainer's intermediate process, which
        // exits: as subreaper we inherit the init and can wait for it.
        process::become_subreaper()?;
    }
    // A detached run exits right after; a foreground one waits.
    let opts = options(
        &args.bundle,
        &args.setup,
        args.detach,
        args.detach,
        systemd_cgroup,
    );
    let mut c = Container::create(root, id, opts)?;
    // Watch before start: a process that OOMs in its first milliseconds
    // must still be seen.
    let mut oom = if args.detach {
        None
    } else {
        OomWatcher::new(&c.state().cgroups).ok()
    };
    if let Err(e) = c.start() {
        drop(c);
        let _ = Container::delete(root, id, true);
        return Err(e);
    }
    // The lock is released before waiting: kill and delete of this id
    // must not wait for the container's end.
    let st = c.state().clone();
    drop(c);
    if args.detach {
        return Ok(0);
    }
    let code = process::wait_forwarding_signals(st.pid);
    // Read the counters now, before delete removes the cgroup (the race that
    // loses OOM kills in other runtimes).
    if oom.as_mut().is_some_and(|w| w.recount() > 0) {
        let account = oom_account::account(&st);
        for line in oom_account::render_log_lines(&st.id, st.pid, &account) {
            tracing::warn!("{line}");
        }
    }
    if !args.keep {
        if let Err(e) = Container::delete(root, id, true) {
            tracing::warn!("deleting {id} after it exited: {e}");
        }
    }
    code
}
