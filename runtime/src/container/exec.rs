//! `exec`: a new process in a running container, through libcontainer's
//! tenant path (lc_builder), with the container's seccomp filter loaded
//! last by our executor (seccomp_late).

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use super::create::{absolute, leave_deleted_cwd};
use super::{Container, Stdio};
use crate::cgroups::Hierarchies;
use crate::error::{Action, Error, Result, SpecError};
use crate::launch::{Handoff, Target};
use crate::state::{self, ContainerState, Root, Status};
use crate::{lc_builder, lc_init};

/// libcontainer's state file, which its exec path loads (lc_init). It
/// says "running" for a created container too: libcontainer's exec wants
/// that, and runc execs into a created container (its init waits inside
/// the container's namespaces). Nothing else reads the file.
fn ensure_libcontainer_state(root: &Root, st: &ContainerState) -> Result<()> {
    lc_init::ensure_state(
        &st.id,
        st.pid,
        true,
        &root.container_dir(&st.id),
        &root.libcontainer_root(&st.id).join(&st.id),
    )
}

/// An exec that failed because the container's pids cgroup is full: its
/// processes are forked inside the cgroup, where the kernel refuses one
/// more (runc forks outside and moves the process in, which pids.max does
/// not check). Said as such, naming the field.
fn exec_pids_full(st: &ContainerState) -> Option<Error> {
    let (max, _) = st.cgroups.pids_at_limit()?;
    Some(
        SpecError::new(
            "exec: linux.resources.pids.limit",
            max.to_string(),
            "leaves no room for another process in the container (the kernel refused the fork)",
        )
        .into(),
    )
}

/// Options of `exec`.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// The whole process (exec_process builds it from the container's).
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// `--cgroup` flags (exec_cgroup).
    pub sub_cgroups: Vec<String>,
    pub stdio: Stdio,
}

/// A container whose status allows an exec (checked once, by
/// [`Container::exec_target`]).
pub struct ExecTarget<'a> {
    c: &'a Container,
}

impl Container {
    /// Checks that a process can be started in the container: not stopped,
    /// and not paused unless `ignore_paused` (a process joining a frozen
    /// cgroup never reports ready).
    pub fn exec_target(&self, ignore_paused: bool) -> Result<ExecTarget<'_>> {
        match self.status() {
            s @ Status::Stopped => Err(self.refused(s, Action::Exec)),
            s @ Status::Paused if !ignore_paused => Err(self.refused(s, Action::Exec)),
            _ => Ok(ExecTarget { c: self }),
        }
    }
}

impl ExecTarget<'_> {
    /// The init's pid (its root is the container's).
    pub fn init_pid(&self) -> i32 {
        self.c.state().pid
    }

    /// The container's spec (config.json, parsed once).
    pub fn spec(&self) -> Result<&oci_spec::runtime::Spec> {
        self.c.spec()
    }

    /// Starts `opts.process` inside the container; returns its pid.
    pub fn run(self, mut opts: ExecOptions) -> Result<i32> {
        let (root, st) = (&self.c.root, self.c.state());
        opts.console_socket = absolute("--console-socket", opts.console_socket)?;
        opts.pid_file = absolute("--pid-file", opts.pid_file)?;
        if let Some(p) = &opts.pid_file {
            pid_file_dir_exists(p)?;
        }
        leave_deleted_cwd();
        check_apparmor(&opts.process)?;
        let hierarchies = Hierarchies::detect()?;
        let lc_root = root.libcontainer_root(&st.id);
        let spec = self.c.spec()?;
        let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
        // SCMP_ACT_NOTIFY: the process sends its listener fd back here, and
        // rcrun hands it to the agent once the process exists (exec_notify).
        let notify = match &seccomp {
            Some(s) if libcontainer::seccomp::is_notify(s) => {
                crate::seccomp_listener::check(spec)?;
                Some(crate::exec_notify::Channel::open()?)
            }
            _ => None,
        };
        // The container's filter, loaded last by our executor (libcontainer's
        // exec path drops linux.seccomp).
        let (process, mut executor) = crate::seccomp_late::prepare(&opts.process, seccomp.as_ref());
        if let Some(n) = &notify {
            executor = executor.with_notify_channel(n.child_fd());
        }
        // The stdio's owner and the pty's size, finished before the filter.
        let (process, stdio) = crate::stdio_late::prepare(&process);
        // With a user namespace: joined by the process itself (libcontainer's
        // exec does not), as the process's user.
        let userns = crate::exec_userns::container_userns(spec, st.pid)?;
        let (process, executor) = crate::exec_userns::prepare(
            &process,
            userns,
            Box::new(stdio.around(Box::new(executor))),
        )?;
        // Resolved and opened before anything starts: a missing sub-cgroup
        // fails the exec here.
        let subs = crate::exec_cgroup::parse(&opts.sub_cgroups)?;
        let procs =
            crate::exec_cgroup::open_procs(&crate::exec_cgroup::resolve(&st.cgroups, &subs)?)?;
        let executor = crate::exec_cgroup::InSubCgroups {
            procs: std::sync::Arc::new(procs),
            inner: executor,
        };
        ensure_libcontainer_state(root, st)?;
        let forwarder = match (notify, &seccomp) {
            (Some(n), Some(s)) => Some(n.start_forwarder(s, st)?),
            _ => None,
        };
        // libcontainer's exec builder takes the process as a file only: one
        // in the container's state directory (root's, 0700), removed at once.
        let file = root.container_dir(&st.id).join(format!(
            "exec-{}-{}.json",
            std::process::id(),
            state::now_rfc3339().replace([':', '.'], "")
        ));
        let data = serde_json::to_vec(&process).map_err(|e| Error::launch("exec: process", e))?;
        state::write_atomic(&file, &data)?;
        // libcontainer logs each failure as a chain of lines and returns it
        // too: printed once, as the error below.
        crate::log_control::mute_dependencies();
        let res = lc_builder::exec(
            lc_builder::Common {
                lc_root: &lc_root,
                hierarchies: &hierarchies,
                target: Target {
                    id: &st.id,
                    cgroups: &st.cgroups,
                    new_cgroup: None,
                    handoff: Handoff {
                        console_socket: opts.console_socket.as_deref(),
                        pid_file: opts.pid_file.as_deref(),
                        preserve_fds: opts.preserve_fds,
                        detach: opts.detach,
                    },
                },
                stdio: opts.stdio,
            },
            &file,
            executor,
        );
        let _ = fs::remove_file(&file);
        // The forwarder's reason first: with it failing, the process ended
        // before its program ran, and libcontainer's error says less.
        if let Some(f) = forwarder {
            f.finish(res.is_ok())?;
        }
        let pid = res.map_err(|e| exec_pids_full(st).unwrap_or(e))?;
        Ok(pid)
    }
}

/// An AppArmor profile (`exec --apparmor`, or the process's
/// apparmorProfile) is applied by libcontainer's init; on a host without
/// AppArmor it is refused up front, naming the field.
fn check_apparmor(process: &Process) -> Result<()> {
    let Some(profile) = process.apparmor_profile() else {
        return Ok(());
    };
    if libcontainer::apparmor::is_enabled().unwrap_or(false) {
        return Ok(());
    }
    Err(SpecError::new(
        "exec: process.apparmorProfile (--apparmor)",
        format!("{profile:?}"),
        ": AppArmor is not enabled on this host",
    )
    .into())
}

/// runc fails an exec whose pid file cannot be written (and kills the
/// process it started). Checked before anything starts: a missing
/// directory is the common mistake, and nothing is left to undo.
fn pid_file_dir_exists(p: &Path) -> Result<()> {
    let dir = p.parent().unwrap_or(Path::new("/"));
    if dir.is_dir() {
        return Ok(());
    }
    Err(SpecError::new(
        "--pid-file",
        p.display().to_string(),
        format!(": its directory {} does not exist", dir.display()),
    )
    .into())
}
