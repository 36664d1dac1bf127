//! `exec` into a container with a user namespace.
//!
//! libcontainer's exec (tenant) path joins the container's ipc, uts, net,
//! pid, mount, cgroup and time namespaces, but not its user namespace (its
//! list of namespaces to join has no "user"): the process ran as the
//! host's root, with the host's capabilities over everything the container
//! can reach (bind mounts of host paths included). runc joins the user
//! namespace first.
//!
//! rcrun joins it in the process itself, before its program runs
//! ([`JoinUserns`], the outermost of rcrun's executors after the
//! sub-cgroup one): libcontainer starts the process as root (the owner of
//! the container's user namespace, which is what lets it join without any
//! capability), then it joins the namespace and becomes the process's user
//! there — supplementary groups, gid, uid, then the capability sets of the
//! process exactly as libcontainer set them (joining a user namespace
//! grants every capability in it, so each set is set again, the bounding
//! set first). The lent capabilities of stdio_late and seccomp_late are in
//! those sets and taken back by them afterwards, as without a user
//! namespace. Any failure ends the process before its program runs.

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use caps::CapSet;
use libcontainer::capabilities::CapabilityExt;
use libcontainer::workload::{
    Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError,
};
use nix::sched::{setns, CloneFlags};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, LinuxNamespaceType, Process, Spec, UserBuilder};

use crate::error::{Error, Result};

/// The executor that moves the exec'd process into the container's user
/// namespace as the process's user (when there is one to join), then runs
/// `inner`.
#[derive(Clone)]
pub struct JoinUserns {
    join: Option<Join>,
    inner: Box<dyn Executor>,
}

/// Whom the process becomes, and in which namespace.
#[derive(Clone)]
struct Join {
    userns: Arc<OwnedFd>,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    caps: Option<LinuxCapabilities>,
    /// process.env had no HOME: libcontainer sets root's, the user's is
    /// looked up once in the container.
    home_unset: bool,
}

/// The user namespace of the container whose init is `init_pid`, when
/// `spec` gives it one (None: nothing to join).
pub fn container_userns(spec: &Spec, init_pid: i32) -> Result<Option<OwnedFd>> {
    let has_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|nss| nss.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if !has_userns {
        return Ok(None);
    }
    let path = format!("/proc/{init_pid}/ns/user");
    let theirs = fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
    let ours =
        fs::metadata("/proc/self/ns/user").map_err(|e| Error::io("/proc/self/ns/user", e))?;
    if std::os::unix::fs::MetadataExt::ino(&theirs) == std::os::unix::fs::MetadataExt::ino(&ours) {
        return Ok(None);
    }
    let f = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Some(OwnedFd::from(f)))
}

/// `process` as libcontainer must start it (with `userns`: as root, which
/// owns the container's user namespace), and the executor that makes it
/// the process's user inside that namespace, around `inner`.
pub fn prepare(
    process: &Process,
    userns: Option<OwnedFd>,
    inner: Box<dyn Executor>,
) -> Result<(Process, JoinUserns)> {
    let Some(userns) = userns else {
        return Ok((process.clone(), JoinUserns { join: None, inner }));
    };
    let user = process.user();
    let join = Join {
        userns: Arc::new(userns),
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        caps: process.capabilities().clone(),
        home_unset: !process
            .env()
            .iter()
            .flatten()
            .any(|e| e.starts_with("HOME=")),
    };
    let mut as_root = process.clone();
    let mut root = UserBuilder::default().uid(0u32).gid(0u32);
    if let Some(umask) = user.umask() {
        root = root.umask(umask);
    }
    as_root.set_user(
        root.build()
            .map_err(|e| Error::launch("exec: process.user", e))?,
    );
    let join = Some(join);
    Ok((as_root, JoinUserns { join, inner }))
}

fn fail(what: &str, e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Other(format!(
        "joining the container's user namespace: {what}: {e}"
    ))
}

impl Join {
    fn join(&self) -> std::result::Result<(), ExecutorError> {
        setns(self.userns.as_fd(), CloneFlags::CLONE_NEWUSER).map_err(|e| fail("setns", e))?;
        let groups: Vec<Gid> = self.groups.iter().map(|&g| Gid::from_raw(g)).collect();
        setgroups(&groups).map_err(|e| fail("setgroups (process.user.additionalGids)", e))?;
        let gid = Gid::from_raw(self.gid);
        setresgid(gid, gid, gid).map_err(|e| fail("setresgid (process.user.gid)", e))?;
        let uid = Uid::from_raw(self.uid);
        setresuid(uid, uid, uid).map_err(|e| fail("setresuid (process.user.uid)", e))?;
        if let Some(c) = &self.caps {
            set_caps(c).map_err(|e| fail("process.capabilities", e))?;
        }
        Ok(())
    }
}

/// The process's capability sets, as libcontainer sets them; a set the
/// spec leaves out stays as joining left it (all, as root's on the host).
fn set_caps(c: &LinuxCapabilities) -> std::result::Result<(), caps::errors::CapsError> {
    let to_set = |s: &Option<oci_spec::runtime::Capabilities>| {
        s.as_ref()
            .map(|s| s.iter().map(|c| c.to_cap()).collect::<caps::CapsHashSet>())
    };
    if let Some(keep) = to_set(c.bounding()) {
        for cap in caps::all() {
            if !keep.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap)?;
            }
        }
    }
    // Effective first: it must stay within permitted at every step.
    for (set, value) in [
        (CapSet::Effective, c.effective()),
        (CapSet::Permitted, c.permitted()),
        (CapSet::Inheritable, c.inheritable()),
    ] {
        if let Some(v) = to_set(value) {
            caps::set(None, set, &v)?;
        }
    }
    // As libcontainer (and runc): an ambient capability the other sets do
    // not allow is left out, the rest raised.
    if let Some(v) = to_set(c.ambient()) {
        caps::clear(None, CapSet::Ambient)?;
        for cap in v {
            if let Err(e) = caps::raise(None, CapSet::Ambient, cap) {
                tracing::debug!("can't raise ambient capability {cap}: {e}");
            }
        }
    }
    Ok(())
}

/// The home directory of `uid` in the container's /etc/passwd; "/" when
/// it is not there (runc's default).
fn home_of(uid: u32) -> String {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_string())
        .unwrap_or_else(|| "/".into())
}

impl Executor for JoinUserns {
    fn exec(&self, spec: &Spec) -> std::result::Result<(), ExecutorError> {
        if let Some(Err(e)) = self.join.as_ref().map(Join::join) {
            eprintln!("rcrun: container process: {e}");
            return Err(e);
        }
        self.inner.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> std::result::Result<(), ExecutorValidationError> {
        self.inner.validate(spec)
    }

    fn setup_envs(
        &self,
        mut envs: HashMap<String, String>,
    ) -> std::result::Result<(), ExecutorSetEnvsError> {
        if let Some(j) = self.join.as_ref().filter(|j| j.home_unset) {
            envs.insert("HOME".into(), home_of(j.uid));
        }
        self.inner.setup_envs(envs)
    }
}
