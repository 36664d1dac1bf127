//! `rcrun run`: create + start, then (unless --detach) wait for the
//! container, relay signals, and exit with its status (128+N if killed).

use std::path::PathBuf;

use rcrun::container::{Container, CreateOptions};
use rcrun::error::Result;
use rcrun::oom::OomWatcher;
use rcrun::oom_account;
use rcrun::process;
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to the bundle (directory holding config.json)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the init pid to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Do not become a subreaper (accepted for runc compatibility)
    #[arg(long)]
    pub no_subreaper: bool,
    /// Do not use pivot_root (for rootfs on ramfs)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N file descriptors after stdio to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Keep the container's state and cgroup after it exits
    #[arg(long)]
    pub keep: bool,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let id = &args.container_id;
    if !args.detach {
        // The init's parent is libcontainer's intermediate process, which
        // exits: as subreaper we inherit the init and can wait for it.
        process::become_subreaper()?;
    }
    let opts = CreateOptions {
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        preserve_fds: args.preserve_fds,
        detach: args.detach,
        stdio: Default::default(),
        // A detached run exits right after; a foreground one waits.
        caller_exits: args.detach,
    };
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
