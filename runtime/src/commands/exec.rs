//! `rcrun exec`: run a new process inside a running container, through
//! libcontainer's tenant builder, in the container's cgroups.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};

use rcrun::container::{Container, ExecOptions, ExecTarget};
use rcrun::error::{Error, Result, SpecError};
use rcrun::exec_process;
use rcrun::process;
use rcrun::state::{Root, Status};
use rcrun::tty_relay::ConsoleListener;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Unix socket that receives the pty master (with --tty)
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (VAR=value)
    #[arg(short, long, num_args = 1)]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// uid[:gid] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long, num_args = 1)]
    pub additional_gids: Vec<u32>,
    /// Path to a process.json (overrides the command line)
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Detach from the process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// SELinux label of the process (not supported: refused)
    #[arg(long)]
    pub process_label: Option<String>,
    /// AppArmor profile of the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// Add a capability
    #[arg(short, long, num_args = 1)]
    pub cap: Vec<String>,
    /// Pass N file descriptors after stdio to the process
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Allow exec in a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    /// Run the process in an (existing) sub-cgroup(s) of the container.
    /// Format is [<controller>[,<controller>]:]<path>
    #[arg(long, num_args = 1)]
    pub cgroup: Vec<String>,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
    /// Command and arguments to run (or use --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let bad = || {
        Error::from(SpecError::new(
            "--user",
            format!("{s:?}"),
            "is not uid[:gid]",
        ))
    };
    let id = |v: &str| -> Result<u32> {
        let n: u32 = v.parse().map_err(|_| bad())?;
        rcrun::spec_validate::check_id("--user", n).map_err(|m| SpecError::from_message(&m))?;
        Ok(n)
    };
    match s.split_once(':') {
        Some((u, g)) => Ok((id(u)?, Some(id(g)?))),
        None => Ok((id(s)?, None)),
    }
}

/// Checks that `cwd` is an absolute path naming a directory inside the
/// container whose init is `pid`, before anything is started: otherwise the
/// failure surfaces from deep inside the new process's setup as an
/// unreadable syscall error. The lookup is done with RESOLVE_IN_ROOT on the
/// init's root, so symlinks in the container resolve inside it, never on
/// the host. Errors other than "not there" are left to the exec itself.
fn check_cwd(pid: i32, cwd: &Path, field: &str) -> Result<()> {
    if !cwd.is_absolute() {
        return Err(SpecError::new(
            format!("exec: {field}"),
            format!("{cwd:?}"),
            "must be an absolute path",
        )
        .into());
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let Ok(root) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(format!("/proc/{pid}/root"))
    else {
        return Ok(()); // the init is gone: exec reports that itself
    };
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(root.as_raw_fd(), cwd, how) {
        Ok(fd) => {
            // SAFETY: openat2 returned a new fd that nothing else owns.
            drop(unsafe { OwnedFd::from_raw_fd(fd) });
            Ok(())
        }
        Err(e @ (Errno::ENOENT | Errno::ENOTDIR)) => Err(SpecError::new(
            format!("exec: {field}"),
            format!("{cwd:?}"),
            format!("is not a directory in the container ({})", e.desc()),
        )
        .into()),
        Err(_) => Ok(()),
    }
}

/// The process to run: `--process` as it is, or the container's own with
/// the command line's changes (exec_process).
fn process_of(target: &ExecTarget, args: &Args) -> Result<oci_spec::runtime::Process> {
    if let Some(file) = &args.process {
        let data = std::fs::read(file).map_err(|e| {
            SpecError::new("--process", file.display().to_string(), format!(": {e}"))
        })?;
        return exec_process::parse(&data, "--process");
    }
    if args.command.is_empty() {
        return Err(exec_process::no_command().into());
    }
    let spec = target.spec()?;
    let user = args.user.as_deref().map(parse_user).transpose()?;
    exec_process::from_container(
        spec,
        exec_process::Overrides {
            args: args.command.clone(),
            cwd: args.cwd.clone(),
            env: args.env.clone(),
            tty: args.tty,
            user,
            additional_gids: args.additional_gids.clone(),
            no_new_privs: args.no_new_privs,
            caps: args.cap.clone(),
            apparmor: args.apparmor.clone(),
        },
    )
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let mut c = Container::open(root, &args.container_id)?;
    if args.ignore_paused && c.status() == Status::Paused {
        // The process joins a frozen cgroup and reports ready only after a
        // `resume`, which must be able to take the lock (runc 1.1 holds
        // none across processes).
        c.unlock();
    }
    let target = c.exec_target(args.ignore_paused)?;
    if let Some(label) = &args.process_label {
        // libcontainer applies no SELinux label: refused rather than
        // dropped.
        return Err(Error::unsupported(
            format!("--process-label {label:?}"),
            "SELinux labels are not supported by rcrun",
        ));
    }
    for kv in &args.env {
        if kv.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
            return Err(SpecError::new("--env", format!("{kv:?}"), "is not VAR=value").into());
        }
    }
    let process = process_of(&target, args)?;
    let field = if args.cwd.is_some() {
        "--cwd"
    } else {
        "process.cwd"
    };
    check_cwd(target.init_pid(), process.cwd(), field)?;
    if !args.detach {
        process::become_subreaper()?;
    }
    // A foreground terminal: rcrun receives the pty and relays it.
    let console =
        if !args.detach && args.console_socket.is_none() && process.terminal() == Some(true) {
            Some(ConsoleListener::new()?)
        } else {
            None
        };
    let pid = target
        .run(ExecOptions {
            process,
            console_socket: console
                .as_ref()
                .map(|l| l.path().to_path_buf())
                .or_else(|| args.console_socket.clone()),
            detach: args.detach || console.is_some(),
            pid_file: args.pid_file.clone(),
            preserve_fds: args.preserve_fds,
            sub_cgroups: args.cgroup.clone(),
            stdio: Default::default(),
        })
        .inspect_err(|_| process::reap_children_for(std::time::Duration::from_millis(500)))?;
    // The lock is released before waiting: kill and delete of this id
    // must not wait for the process's end.
    drop(c);
    if args.detach {
        return Ok(0);
    }
    let relay = console.as_ref().map(|l| l.start_relay()).transpose()?;
    let resize = || relay.iter().for_each(|r| r.resize());
    let code = process::wait_relaying(pid, relay.as_ref().map(|_| &resize as &dyn Fn()));
    if let Some(r) = relay {
        r.finish();
    }
    code
}
