//! What a container sees at its cgroup mount (`/sys/fs/cgroup`) on a v1 or
//! hybrid host, made by rcrun instead of libcontainer.
//!
//! libcontainer mounts a tmpfs and every v1 hierarchy under it read-write
//! whatever the spec's options say, so a container could raise its own
//! memory and pids limits. For a cgroup mount with "ro" (what docker, CRI
//! and `rcrun spec` write), rcrun hands libcontainer plain bind mounts
//! instead, each with exactly the spec's flags:
//! - at the destination: the host's own `/sys/fs/cgroup` directory, bound
//!   alone (not recursively): one empty mountpoint per hierarchy and the
//!   symlinks of co-mounted ones (`cpu -> cpu,cpuacct`), exactly the
//!   skeleton the container needs, with nothing to make per container;
//! - on each of those: the container's own cgroup directory of that
//!   hierarchy (what a cgroup namespace would show as its root).
//!
//! On a pure v2 host the read-only cgroup mount becomes one bind mount of
//! the container's own cgroup directory (what runc mounts): libcontainer's
//! fresh cgroup2 mount showed, without a cgroup namespace, the host's whole
//! hierarchy from its root.
//!
//! A cgroup mount without "ro" (docker --privileged) is left to
//! libcontainer.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use crate::cgroups::{CgroupSet, Layout};
use crate::error::{Error, Result, SpecError};

/// Where the v1 hierarchies are mounted on hosts that follow the convention;
/// others (elsewhere) are not shown to the container, as libcontainer did.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

pub struct CgroupView {
    skeleton: PathBuf,
    /// (name under the mount, the container's directory on the host)
    hierarchies: Vec<(OsString, PathBuf)>,
}

impl CgroupView {
    /// The view of the hierarchies of `cg`.
    pub fn of(cg: &CgroupSet) -> Option<CgroupView> {
        if cg.layout == Layout::V2 {
            // No skeleton: the container's unified directory is the mount.
            let dir = cg.unified_dir()?;
            return Some(CgroupView {
                skeleton: dir.path.clone(),
                hierarchies: Vec::new(),
            });
        }
        let hierarchies = cg
            .dirs
            .iter()
            .filter(|d| !d.is_unified() && d.mount.parent() == Some(Path::new(CGROUP_ROOT)))
            .filter_map(|d| Some((d.mount.file_name()?.to_os_string(), d.path.clone())))
            .collect();
        Some(CgroupView {
            skeleton: PathBuf::from(CGROUP_ROOT),
            hierarchies,
        })
    }

    /// The mounts that replace the cgroup mount `m` (`mounts[i]`), or `m`
    /// itself when it is not read-only.
    pub fn mounts_for(&self, m: &Mount, i: usize) -> Result<Vec<Mount>> {
        let opts: Vec<String> = m.options().clone().unwrap_or_default();
        if !opts.iter().any(|o| o == "ro") {
            return Ok(vec![m.clone()]);
        }
        // The spec's flags, on every mount; "bind" instead of the type.
        let mut flags = vec!["bind".to_string()];
        flags.extend(
            opts.iter()
                .filter(|o| {
                    matches!(
                        o.as_str(),
                        "ro" | "nosuid" | "nodev" | "noexec" | "relatime" | "noatime"
                    )
                })
                .cloned(),
        );
        let bind = |source: &Path, dest: PathBuf| {
            MountBuilder::default()
                .destination(dest)
                .typ("bind")
                .source(source.to_path_buf())
                .options(flags.clone())
                .build()
                .map_err(|e| Error::from(SpecError::field(format!("mounts[{i}]"), e.to_string())))
        };
        let dest = m.destination();
        let mut out = vec![bind(&self.skeleton, dest.clone())?];
        for (name, host_dir) in &self.hierarchies {
            out.push(bind(host_dir, dest.join(name))?);
        }
        Ok(out)
    }
}
