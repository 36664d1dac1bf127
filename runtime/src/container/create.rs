//! `create`: validates everything first, then makes the cgroup, the
//! state and the init process (launch.rs, or libcontainer's own setup for
//! the specs fallback.rs names). On failure nothing is left behind.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use super::destroy::destroy_parts;
use super::{Container, Stdio};
use crate::cgroups::{self, CgroupSet, Hierarchies};
use crate::crashpoint;
use crate::error::{Error, Result, SpecError};
use crate::launch;
use crate::lock::ContainerLock;
use crate::spec;
use crate::state::{self, ContainerState, Root};
use crate::{fallback, launch_checks, lc_builder};

/// Options of `create` (and `run`), as runc names them.
#[derive(Debug, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// false only for foreground `run`, where the caller keeps the terminal.
    pub detach: bool,
    /// The container's stdio; None = inherit ours (the CLI's behaviour).
    pub stdio: Stdio,
    /// The caller exits right after `create` (the `rcrun create` command):
    /// it may stay in the container's cgroups instead of moving back, which
    /// saves a cgroup migration (~10 ms here: each burst of cgroup.procs
    /// writes waits for an RCU grace period in the kernel). Long-lived
    /// callers (the shim, foreground `run`) must leave this false.
    pub caller_exits: bool,
    /// `--systemd-cgroup`: the cgroup is a systemd unit (cgroups::systemd)
    /// and cgroupsPath is `slice:prefix:name`.
    pub systemd_cgroup: bool,
}

/// A path flag made absolute against the caller's cwd, up front: libcontainer
/// resolves relative ones later and panics when the cwd is gone.
pub(super) fn absolute(flag: &str, path: Option<PathBuf>) -> Result<Option<PathBuf>> {
    path.map(|p| {
        std::path::absolute(&p).map_err(|e| {
            Error::from(SpecError::new(
                flag,
                p.display().to_string(),
                format!(": cannot be resolved against the current directory: {e}"),
            ))
        })
    })
    .transpose()
}

/// With every path made absolute, a deleted cwd no longer matters; but
/// libcontainer reads the cwd (to come back to it) and panics when it is
/// gone: move to "/" then.
pub(super) fn leave_deleted_cwd() {
    if std::env::current_dir().is_err() {
        let _ = std::env::set_current_dir("/");
    }
}

/// Creates the container: validates everything first, then makes the cgroup,
/// the state and the init process. On failure nothing is left behind.
pub(super) fn create(root: &Root, id: &str, mut opts: CreateOptions) -> Result<Container> {
    state::validate_id(id)?;
    opts.console_socket = absolute("--console-socket", opts.console_socket)?;
    opts.pid_file = absolute("--pid-file", opts.pid_file)?;
    opts.bundle = absolute("--bundle", Some(opts.bundle))?.unwrap_or_default();
    leave_deleted_cwd();
    let hierarchies = Hierarchies::detect()?;
    // First: the kernel's wait for cgroup.procs writes overlaps with all
    // that follows (see cgroups::warm_up).
    let _warm_up = cgroups::warm_up::warm_up_cgroup_writes(&hierarchies);
    let bundle = spec::load_bundle(&opts.bundle)?;
    let linux = bundle
        .spec
        .linux()
        .as_ref()
        .ok_or_else(|| SpecError::field("linux", "missing"))?;
    if let Some(r) = linux.resources() {
        cgroups::validate(&hierarchies, r)?;
    }
    let cgroups_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup_set = if opts.systemd_cgroup {
        // Checked now so that a bad one leaves nothing; used at placement.
        cgroups::systemd::annotations::properties(bundle.spec.annotations().as_ref())?;
        CgroupSet::resolve_systemd(&hierarchies, cgroups_path.as_deref(), id)?
    } else {
        CgroupSet::resolve(&hierarchies, cgroups_path.as_deref(), id)?
    };
    if root.container_dir(id).join("state.json").exists() {
        // Said as such before the cgroup check, which would see this id's
        // own processes.
        return Err(Error::Exists(id.to_string()));
    }
    refuse_busy_cgroup(&cgroup_set)?;

    // The exclusive mkdir is the duplicate-id check; the lock (held until
    // we return, or dropped by the kernel if we are killed) keeps start,
    // kill and delete of this id waiting until the container is complete.
    let lock = root.create_container_dir_locked(id)?;
    crashpoint::point("create:after-state-dir");
    let mut st = ContainerState {
        id: id.to_string(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        pid: 0,
        pid_start_time: 0,
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: bundle
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        started: false,
        cgroups: cgroup_set,
        starter: None,
    };
    // Saved before anything else exists, with the cgroup directories about
    // to be made, so that a crash from here on leaves a state that
    // `delete --force` cleans up completely (a state with pid 0 is stopped).
    let mut initial = st.clone();
    initial.cgroups.created = st.cgroups.planned();
    if let Err(e) = root.save(&initial) {
        undo_create(root, &st, &lock);
        return Err(e);
    }
    crashpoint::point("create:after-state-init");
    match create_in_dir(root, &mut st, &bundle, &hierarchies, opts) {
        Ok(()) => Ok(Container::with_lock(root, st, Some(lock))),
        Err(e) => {
            undo_create(root, &st, &lock);
            Err(e)
        }
    }
}

/// A cgroup that already holds processes belongs to someone else (another
/// container given the same cgroupsPath): refused before anything is made,
/// as runc >= 1.2 does (1.1 warns and goes on), since this container's delete (or a failed create's
/// cleanup) would kill every process in it.
fn refuse_busy_cgroup(set: &CgroupSet) -> Result<()> {
    for d in &set.dirs {
        let Ok(procs) = fs::read_to_string(d.path.join("cgroup.procs")) else {
            continue; // not there yet: ours to make
        };
        let n = procs.lines().filter(|l| !l.trim().is_empty()).count();
        if n > 0 {
            return Err(SpecError::new(
                "linux.cgroupsPath",
                d.path.display().to_string(),
                // runc's words (tooling looks for them). runc 1.1 only
                // warns; >= 1.2 refuses, as here.
                format!(
                    ": container's cgroup is not empty: {n} process(es) found (another container's cgroup?)"
                ),
            )
            .into());
        }
    }
    // An existing frozen cgroup: the init would hang in it (D state) on
    // its first fault. runc refuses it too, and callers (runc's own tests)
    // match its words: "container's cgroup unexpectedly frozen".
    if set.is_frozen().unwrap_or(false) {
        let dir = set
            .v1_dir("freezer")
            .or_else(|| set.unified_dir())
            .map(|d| d.path.display().to_string())
            .unwrap_or_default();
        return Err(SpecError::new(
            "linux.cgroupsPath",
            dir,
            ": container's cgroup unexpectedly frozen (it exists and is frozen: thaw it, or use another path)",
        )
        .into());
    }
    Ok(())
}

/// `create`'s cleanup after a failure: everything it made, but the state
/// directory only while it is still ours (a `delete --force` of the same id
/// may have removed it, and another `create` made it again, meanwhile).
fn undo_create(root: &Root, st: &ContainerState, lock: &ContainerLock) {
    let remove_state = lock.is_current(&root.container_dir(&st.id));
    for e in destroy_parts(root, st, remove_state) {
        tracing::warn!("cleaning up after the failed create: {e}");
    }
}

fn create_in_dir(
    root: &Root,
    st: &mut ContainerState,
    bundle: &spec::Bundle,
    hierarchies: &Hierarchies,
    opts: CreateOptions,
) -> Result<()> {
    st.cgroups.create()?;
    crashpoint::point("create:after-cgroup-mkdir");
    let resources = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref());
    // With the systemd driver the cgroup exists once the unit is started
    // with the init in it: the resources are written then (place).
    if let (Some(r), None) = (resources, &st.cgroups.systemd) {
        st.cgroups.apply(r)?;
    }
    crashpoint::point("create:after-resources");

    let dir = root.container_dir(&st.id);
    let lc_spec = crate::lc_spec::for_libcontainer(
        &bundle.spec,
        &bundle.dir,
        &bundle.rootfs,
        lc_builder::libcontainer_cgroups(hierarchies, &st.cgroups)?.0,
        crate::cgroup_mounts::CgroupView::of(&st.cgroups).as_ref(),
    )?;
    let data = serde_json::to_vec(&lc_spec).map_err(|e| Error::launch("serialize spec", e))?;
    state::write_atomic(&dir.join("config.json"), &data)?;
    let lc_root = root.libcontainer_root(&st.id);
    let lc_dir = lc_root.join(&st.id);

    // Both launch paths: the same checks and the same device cgroup.
    launch_checks::validate(&lc_spec)?;
    launch_checks::check_terminal(&lc_spec, opts.detach, opts.console_socket.is_some())?;
    // With the systemd driver, the cgroup is made when the init exists.
    let mut new_cgroup = cgroups::Placement::default();
    if st.cgroups.systemd.is_some() {
        new_cgroup.resources = resources;
        new_cgroup.devices = cgroups::devices::rules_of(&lc_spec);
        new_cgroup.unit_properties =
            cgroups::systemd::annotations::properties(bundle.spec.annotations().as_ref())?;
    } else {
        cgroups::devices::apply(&lc_spec, &st.cgroups)?;
    }

    let handoff = launch::Handoff {
        console_socket: opts.console_socket.as_deref(),
        pid_file: opts.pid_file.as_deref(),
        preserve_fds: opts.preserve_fds,
        detach: opts.detach,
    };
    let target = launch::Target {
        id: &st.id,
        cgroups: &st.cgroups,
        new_cgroup: Some(&new_cgroup),
        handoff,
    };
    let pid = match fallback::fallback_reason(&lc_spec) {
        None => {
            // Our own launch (see launch.rs): one process, at most one
            // cgroup.procs burst, nothing to move back.
            fs::create_dir_all(&lc_dir).map_err(|e| Error::io(&lc_dir, e))?;
            let stdio = opts.stdio;
            launch::launch(
                lc_spec,
                &launch::Params {
                    target,
                    bundle: &bundle.dir,
                    rootfs: &bundle.rootfs,
                    lc_dir: &lc_dir,
                    no_pivot: opts.no_pivot,
                    stdin: stdio.stdin.as_ref().map(|f| f.as_raw_fd()),
                    stdout: stdio.stdout.as_ref().map(|f| f.as_raw_fd()),
                    stderr: stdio.stderr.as_ref().map(|f| f.as_raw_fd()),
                },
            )?
        }
        Some(reason) => {
            tracing::debug!("process setup by libcontainer: {reason}");
            fs::create_dir_all(&lc_root).map_err(|e| Error::io(&lc_root, e))?;
            let move_back = !opts.caller_exits;
            let config = dir.join("config.json");
            crate::userns_binds::create_with_staged_binds(&lc_spec, &config, || {
                lc_builder::create(
                    lc_builder::Common {
                        target,
                        lc_root: &lc_root,
                        hierarchies,
                        stdio: opts.stdio,
                    },
                    &dir,
                    opts.no_pivot,
                    move_back,
                    lc_spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
                )
            })?
        }
    };
    crashpoint::point("create:after-clone");
    st.pid = pid;
    st.pid_start_time = state::process_start_time(pid).unwrap_or(0);
    // With st.pid set: a failure's cleanup kills the init.
    crate::dev_readonly::apply(&bundle.spec, pid)?;
    root.save(st)?;
    crashpoint::point("create:after-state-write");
    Ok(())
}
