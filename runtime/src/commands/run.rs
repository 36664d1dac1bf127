//! `rcrun run`: create + start, then (unless --detach) wait for the
//! container, relay signals, and exit with its status (128+N if killed).

use rcrun::container::Container;
use rcrun::error::Result;
use rcrun::oom::OomWatcher;
use rcrun::oom_account;
use rcrun::process;
use rcrun::state::Root;
use rcrun::tty_relay::ConsoleListener;

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

/// Whether the bundle's process asks for a terminal (a config that cannot
/// be read says nothing: create reports it).
fn wants_terminal(bundle: &std::path::Path) -> bool {
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
        .and_then(|v| v.pointer("/process/terminal").and_then(|t| t.as_bool()))
        .unwrap_or(false)
}

pub fn run(root: &Root, args: &Args, systemd_cgroup: bool) -> Result<i32> {
    let id = &args.container_id;
    if !args.detach {
        // The init's parent is libcontainer's intermediate process, which
        // exits: as subreaper we inherit the init and can wait for it.
        process::become_subreaper()?;
    }
    // A detached run exits right after; a foreground one waits.
    let mut opts = options(
        &args.bundle,
        &args.setup,
        args.detach,
        args.detach,
        systemd_cgroup,
    );
    // A foreground terminal: rcrun receives the pty and relays it.
    let console = if !args.detach && wants_terminal(&opts.bundle) {
        let l = ConsoleListener::new()?;
        opts.console_socket = Some(l.path().to_path_buf());
        opts.detach = true;
        Some(l)
    } else {
        None
    };
    let mut c = Container::create(root, id, opts)?;
    // Watch before start: a process that OOMs in its first milliseconds
    // must still be seen.
    let mut oom = if args.detach {
        None
    } else {
        OomWatcher::new(&c.state().cgroups).ok()
    };
    // The relay first: the pty has its size before the process runs.
    let relay = match console.as_ref().map(|l| l.start_relay()).transpose() {
        Ok(r) => r,
        Err(e) => {
            drop(c);
            let _ = Container::delete(root, id, true);
            return Err(e);
        }
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
    let resize = || relay.iter().for_each(|r| r.resize());
    let code = process::wait_relaying(st.pid, relay.as_ref().map(|_| &resize as &dyn Fn()));
    if let Some(r) = relay {
        r.finish();
    }
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
