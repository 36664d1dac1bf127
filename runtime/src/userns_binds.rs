//! Bind mounts of a container with a user namespace, whose sources the
//! container's root cannot reach.
//!
//! libcontainer's init resolves and clones every bind source itself, after
//! it has entered the user namespace: a source under a directory that the
//! container's root (host uid 100000, say) may not search fails with
//! `failed to canonicalize …: Permission denied`, and a non-recursive bind
//! of a mount with submounts (rcrun's `/sys/fs/cgroup` skeleton,
//! cgroup_mounts) fails with EINVAL because the copies of those submounts
//! are locked in the container's mount namespace. runc opens the sources
//! with the runtime's privileges before the init switches user.
//!
//! rcrun does the same in another way: for the duration of libcontainer's
//! create, the launching thread moves to a mount namespace of its own
//! (a slave of the host's: nothing done in it reaches the host), binds each
//! source there, as root of the host user namespace, on an entry of a
//! tmpfs mounted on [`STAGE_DIR`] (a directory anyone may search), and
//! hands libcontainer that entry as the source. The init's mount namespace
//! is a copy of that one: it finds every source, clones it and moves it to
//! its destination exactly as before (destinations are still resolved
//! inside the rootfs by libcontainer, flags still applied to the clone).
//! The staged copies are locked like any mount copied into a user
//! namespace's mount namespace, and they leave with the old root at
//! pivot_root. The thread then goes back to its own mount namespace; the
//! staging one, and every mount in it, ends with it (nothing to clean up,
//! even after a crash).
//!
//! A user namespace's mount namespace gets the host's shared mounts as
//! slaves anyway (the kernel's rule for a less privileged copy), so the
//! container sees the same propagation as without the staging. What
//! differs: prestart and createRuntime hooks run while the thread is in the
//! staging namespace, so mounts they make are not seen on the host (README,
//! compatibility notes).

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use crate::error::{Error, Result, SpecError};

/// Where the staged sources appear in the staging namespace. Kept between
/// creates (like runc's /run/runc): a tmpfs is mounted on it only inside a
/// staging namespace, so on the host it stays an empty directory.
pub const STAGE_DIR: &str = "/run/rcrun-userns";

/// The launching thread's own mount namespace and working directory, to go
/// back to when the create is over (also on a panic: Drop).
pub struct Staged {
    own_ns: OwnedFd,
    own_cwd: OwnedFd,
    returned: bool,
}

/// Whether `spec`'s bind mounts need staging: a user namespace and a new
/// mount namespace (a joined one would not see the staging).
fn needs_staging(spec: &Spec) -> bool {
    let Some(nss) = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()) else {
        return false;
    };
    let has = |t| nss.iter().any(|n| n.typ() == t);
    let new_mount_ns = nss
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Mount && n.path().is_none());
    has(LinuxNamespaceType::User) && new_mount_ns && spec.mounts().iter().flatten().any(stageable)
}

/// A bind mount of a host path (libcontainer's test of a bind mount);
/// idmapped ones are cloned by libcontainer with their mapping, left alone.
fn stageable(m: &Mount) -> bool {
    let opts = m.options().as_deref().unwrap_or_default();
    let bind =
        m.typ().as_deref() == Some("bind") || opts.iter().any(|o| o == "bind" || o == "rbind");
    let idmapped = m.uid_mappings().is_some()
        || m.gid_mappings().is_some()
        || opts.iter().any(|o| o == "idmap" || o == "ridmap");
    bind && !idmapped && m.source().is_some()
}

/// Runs `create` (libcontainer's create of the init, which reads the spec
/// from `config`) with the bind sources of `spec` staged when it has a user
/// namespace; `config` holds `spec` again afterwards.
pub fn create_with_staged_binds<T>(
    spec: &Spec,
    config: &Path,
    create: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if !needs_staging(spec) {
        return create();
    }
    let mut staged = Staged::enter()?;
    let res = staged
        .stage(spec)
        .and_then(|s| write_spec(config, &s))
        .and_then(|()| create());
    let back = staged.leave();
    let restored = write_spec(config, spec);
    let out = res?;
    back?;
    restored?;
    Ok(out)
}

fn write_spec(config: &Path, spec: &Spec) -> Result<()> {
    let data = serde_json::to_vec(spec).map_err(|e| Error::launch("serialize spec", e))?;
    crate::state::write_atomic(config, &data)
}

impl Staged {
    /// Moves the calling thread to a new mount namespace, a slave of the
    /// current one, with a fresh tmpfs on [`STAGE_DIR`].
    fn enter() -> Result<Staged> {
        let ns_path = "/proc/thread-self/ns/mnt";
        let own_ns = OwnedFd::from(fs::File::open(ns_path).map_err(|e| Error::io(ns_path, e))?);
        let own_cwd = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(".")
            .map_err(|e| Error::io(".", e))?;
        let own_cwd = OwnedFd::from(own_cwd);
        let stage_dir = stage_dir()?;
        // CLONE_NEWNS implies CLONE_FS: only this thread moves.
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| Error::os("unshare(CLONE_NEWNS)", e))?;
        let staged = Staged {
            own_ns,
            own_cwd,
            returned: false,
        };
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(|e| Error::os("staging namespace: make / rslave", e))?;
        mount(
            Some("tmpfs"),
            &stage_dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0711,size=64k"),
        )
        .map_err(|e| Error::os(format!("mount tmpfs on {STAGE_DIR}"), e))?;
        Ok(staged)
    }

    /// Binds every stageable source of `spec` on an entry of the staging
    /// tmpfs; returns `spec` with those entries as the sources.
    fn stage(&mut self, spec: &Spec) -> Result<Spec> {
        let mut out = spec.clone();
        let Some(mut mounts) = out.mounts().clone() else {
            return Ok(out);
        };
        for (i, m) in mounts.iter_mut().enumerate() {
            if !stageable(m) {
                continue;
            }
            let Some(source) = m.source().clone() else {
                continue;
            };
            let entry = stage_one(i, m, &source)?;
            m.set_source(Some(entry));
        }
        out.set_mounts(Some(mounts));
        Ok(out)
    }

    /// Back to the thread's own mount namespace and working directory; the
    /// staging namespace and its mounts end here.
    fn leave(&mut self) -> Result<()> {
        if self.returned {
            return Ok(());
        }
        self.returned = true;
        setns(self.own_ns.as_fd(), CloneFlags::CLONE_NEWNS)
            .map_err(|e| Error::os("setns back to the runtime's mount namespace", e))?;
        nix::unistd::fchdir(std::os::fd::AsRawFd::as_raw_fd(&self.own_cwd))
            .map_err(|e| Error::os("fchdir back to the working directory", e))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Err(e) = self.leave() {
            tracing::error!("{e}");
        }
    }
}

/// Binds `source` (as the spec names it, resolved by us: root of the host
/// user namespace) on staging entry `i`, recursively for "rbind".
fn stage_one(i: usize, m: &Mount, source: &Path) -> Result<PathBuf> {
    let field = || format!("mounts[{i}].source");
    let shown = source.display().to_string();
    let meta =
        fs::metadata(source).map_err(|e| SpecError::new(field(), &shown, format!(": {e}")))?;
    let entry = Path::new(STAGE_DIR).join(i.to_string());
    let made = if meta.is_dir() {
        fs::DirBuilder::new().mode(0o755).create(&entry)
    } else {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&entry)
            .map(drop)
    };
    made.map_err(|e| Error::io(&entry, e))?;
    let recursive = m
        .options()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|o| o == "rbind");
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(Some(source), &entry, None::<&str>, flags, None::<&str>)
        .map_err(|e| SpecError::new(field(), &shown, format!(": bind mount: {e}")))?;
    Ok(entry)
}

/// [`STAGE_DIR`], made if missing; refused unless it is a directory of
/// root's that nobody else may write (its entries are trusted as sources).
fn stage_dir() -> Result<PathBuf> {
    let dir = PathBuf::from(STAGE_DIR);
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(&dir, e)),
    }
    let meta = fs::symlink_metadata(&dir).map_err(|e| Error::io(&dir, e))?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(Error::Unsupported {
            what: STAGE_DIR.into(),
            reason: "must be a directory owned by root that only root may write".into(),
        });
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaces: &str, mounts: &str) -> Spec {
        let json = format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"r"}},"mounts":{mounts},"linux":{{"namespaces":{namespaces}}}}}"#
        );
        serde_json::from_str(&json).expect("test spec")
    }

    #[test]
    fn staging_only_with_a_user_namespace_a_new_mount_namespace_and_a_bind() {
        let bind = r#"[{"destination":"/a","source":"/s","options":["rbind"]}]"#;
        let userns = r#"[{"type":"user"},{"type":"mount"}]"#;
        assert!(needs_staging(&spec(userns, bind)));
        assert!(!needs_staging(&spec(r#"[{"type":"mount"}]"#, bind)));
        let joined = r#"[{"type":"user"},{"type":"mount","path":"/proc/1/ns/mnt"}]"#;
        assert!(!needs_staging(&spec(joined, bind)));
        let tmpfs = r#"[{"destination":"/a","type":"tmpfs","source":"tmpfs"}]"#;
        assert!(!needs_staging(&spec(userns, tmpfs)));
        let typed = r#"[{"destination":"/a","type":"bind","source":"/s"}]"#;
        assert!(needs_staging(&spec(userns, typed)));
        let idmapped = r#"[{"destination":"/a","source":"/s","options":["rbind","idmap"]}]"#;
        assert!(!needs_staging(&spec(userns, idmapped)));
    }
}
