//! cgroup management for v1, v2 and hybrid hierarchies.
//!
//! The layout is detected from /proc/self/mountinfo ([`Hierarchies`]); a
//! container's cgroup is one directory per hierarchy ([`CgroupSet`]), which
//! is serialised into the state file so later commands need no detection.
//! Each part of `linux.resources` has one file in `resource/` (is it set,
//! its checks, which version's writer, its stats); the files each version
//! writes are in `v1/*` and `v2/*`. On hybrid hosts a controller not
//! mounted on v1 but available on the unified hierarchy (hugetlb here) is
//! driven through v2.

mod controller;
pub mod devices;
mod error;
mod freeze;
mod fs;
mod mountinfo;
mod path;
mod pids;
mod remove;
mod resource;
mod stats;
pub mod systemd;
mod v1;
mod v2;
pub mod warm_up;

#[cfg(test)]
mod kernel_tests;

use std::fs as stdfs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

pub use error::CgroupError;
pub use mountinfo::{Hierarchies, UnifiedMount, V1Mount};
pub use resource::validate;
pub use stats::{OomCounters, Stats};

/// Hierarchy name used for the cgroup2 directory in [`CgroupDir`].
pub const UNIFIED: &str = "unified";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Only cgroup v1 hierarchies.
    V1,
    /// Only cgroup2 (mounted at /sys/fs/cgroup normally).
    V2,
    /// v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified).
    Hybrid,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupDir {
    /// "memory", "cpu,cpuacct", "name=systemd", ... or "unified" for cgroup2.
    pub hierarchy: String,
    /// Absolute directory of the container's cgroup in this hierarchy.
    pub path: PathBuf,
    /// Mountpoint of the hierarchy: `create` walks from here and never
    /// touches anything above it.
    #[serde(default)]
    pub mount: PathBuf,
}

impl CgroupDir {
    pub fn is_unified(&self) -> bool {
        self.hierarchy == UNIFIED
    }

    /// Whether this v1 hierarchy carries `controller`.
    pub fn has(&self, controller: &str) -> bool {
        !self.is_unified() && self.hierarchy.split(',').any(|c| c == controller)
    }
}

/// What a container's cgroup gets when its first process is placed in it
/// ([`CgroupSet::place`]): with the systemd driver nothing exists before.
#[derive(Debug, Default)]
pub struct Placement<'a> {
    pub resources: Option<&'a LinuxResources>,
    /// The device rules (see [`devices::rules_of`]).
    pub devices: Option<Vec<oci_spec::runtime::LinuxDeviceCgroup>>,
    /// The `org.systemd.property.*` annotations' unit properties (see
    /// [`systemd::annotations`]): sent once, when the unit starts, as runc
    /// does (its update does not send them again).
    pub unit_properties: Vec<(String, systemd::properties::Value)>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupSet {
    pub layout: Layout,
    pub dirs: Vec<CgroupDir>,
    /// Every directory `create` made, parents included, so that `remove`
    /// deletes exactly those.
    #[serde(default)]
    pub created: Vec<PathBuf>,
    /// With the systemd driver: the unit that owns the cgroup. Its
    /// directories are `dirs`; `created` holds them too, so that a unit
    /// systemd could not remove still has its cgroup removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<systemd::Unit>,
}

impl CgroupSet {
    /// runc's cgroupfs semantics: absolute cgroupsPath => `<mount>/<path>` in
    /// every hierarchy; relative or none => below the caller's own cgroup of
    /// each hierarchy; none => the container id.
    pub fn resolve(
        h: &Hierarchies,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<CgroupSet, CgroupError> {
        let spec = path::parse(cgroups_path, id)?;
        Self::build(h, |ctrls, mount, root| {
            path::join(mount, &h.own_relative(ctrls, root), &spec)
        })
    }

    /// The systemd driver's cgroup for `slice:prefix:name`; see
    /// [`systemd`]. Nothing exists until [`CgroupSet::place`].
    pub fn resolve_systemd(
        h: &Hierarchies,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<CgroupSet, CgroupError> {
        systemd::resolve(h, cgroups_path, id)
    }

    /// The cgroups the calling process is in (to move back after joining a
    /// container's cgroups). Nothing is marked as created.
    pub fn current(h: &Hierarchies) -> Result<CgroupSet, CgroupError> {
        Self::build(h, |ctrls, mount, root| {
            let own = h.own_relative(ctrls, root);
            let mut dir = mount.to_path_buf();
            for c in own.components() {
                if let std::path::Component::Normal(n) = c {
                    dir.push(n);
                }
            }
            Ok(dir)
        })
    }

    fn build(
        h: &Hierarchies,
        dir_for: impl Fn(&[String], &Path, &Path) -> Result<PathBuf, CgroupError>,
    ) -> Result<CgroupSet, CgroupError> {
        let layout = h.layout();
        let mut dirs = Vec::new();
        if layout != Layout::V2 {
            for m in &h.v1 {
                dirs.push(CgroupDir {
                    hierarchy: m.name(),
                    path: dir_for(&m.controllers, &m.mountpoint, &m.root)?,
                    mount: m.mountpoint.clone(),
                });
            }
        }
        if let Some(u) = &h.unified {
            if layout != Layout::V1 {
                dirs.push(CgroupDir {
                    hierarchy: UNIFIED.to_string(),
                    path: dir_for(&[], &u.mountpoint, &u.root)?,
                    mount: u.mountpoint.clone(),
                });
            }
        }
        Ok(CgroupSet {
            layout,
            dirs,
            created: Vec::new(),
            systemd: None,
        })
    }

    /// mkdir -p in every hierarchy; see [`controller::create_dir`]. With
    /// the systemd driver nothing is made yet: the unit is started with the
    /// init in it ([`CgroupSet::place`]).
    pub fn create(&mut self) -> Result<(), CgroupError> {
        if self.systemd.is_some() {
            self.created = self.planned();
            return Ok(());
        }
        let mut made = Vec::new();
        for d in &self.dirs {
            if let Err(e) = controller::create_dir(d, &mut made) {
                if let Err(re) = remove::remove_dirs(&made, &[]) {
                    tracing::warn!("cleaning up after failed cgroup creation: {re}");
                }
                return Err(e);
            }
        }
        self.created.extend(made);
        Ok(())
    }

    /// The directories [`CgroupSet::create`] would make now: in each
    /// hierarchy, the part of the path below the mount that does not exist
    /// yet. `create` saves them in the state before making them, so that a
    /// crash between the mkdirs and the next state write leaves nothing that
    /// `delete` does not know about.
    pub fn planned(&self) -> Vec<PathBuf> {
        if self.systemd.is_some() {
            // The unit's own directory; the slices above are systemd's.
            return self.dirs.iter().map(|d| d.path.clone()).collect();
        }
        let mut out = Vec::new();
        for d in &self.dirs {
            let Ok(rel) = d.path.strip_prefix(&d.mount) else {
                continue;
            };
            let mut cur = d.mount.clone();
            let mut missing = false;
            for c in rel.components() {
                if let std::path::Component::Normal(n) = c {
                    cur.push(n);
                    missing = missing || stdfs::symlink_metadata(&cur).is_err();
                    if missing {
                        out.push(cur.clone());
                    }
                }
            }
        }
        out
    }

    /// Writes `linux.resources` except devices: the device cgroup is set
    /// once, when the container is launched (both launch paths).
    pub fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        resource::apply(self, r, false)
    }

    /// `rcrun update`: like apply, with checks against the live cgroup and
    /// write orders that the kernel accepts when changing existing limits.
    pub fn update(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.update_with_devices(r, None)
    }

    /// [`CgroupSet::update`]; with the systemd driver `devices` (the
    /// container's effective device rules) go to the unit again (the files
    /// keep theirs).
    pub fn update_with_devices(
        &self,
        r: &LinuxResources,
        devices: Option<&[oci_spec::runtime::LinuxDeviceCgroup]>,
    ) -> Result<(), CgroupError> {
        if let Some(unit) = &self.systemd {
            systemd::update(self, unit, r, devices)?;
        }
        resource::apply(self, r, true)
    }

    /// Puts a new process (waiting to run) in the container's cgroup. With
    /// the systemd driver and `new`, the cgroup is made now: the unit is
    /// started with `pid` in it, then `new` is written ([`systemd::start`]).
    /// Otherwise everything was written at create: only the pid is.
    pub fn place(&self, pid: i32, new: Option<&Placement>) -> crate::error::Result<()> {
        if let (Some(unit), Some(new)) = (&self.systemd, new) {
            let all = devices::effective_rules(new.devices.as_deref());
            systemd::start(self, unit, pid, new.resources, &all, &new.unit_properties)?;
            devices::apply_rules(new.devices.clone(), self)?;
        }
        Ok(self.add_pid(pid)?)
    }

    /// Moves `pid` into the container's cgroup of every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        for d in &self.dirs {
            let p = d.path.join("cgroup.procs");
            stdfs::write(&p, pid.to_string()).map_err(|e| CgroupError::io("write pid to", p, e))?;
        }
        Ok(())
    }

    /// Every process in the container, sub-cgroups included.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        pids::all(self)
    }

    /// `(pids.max, pids.current)` when the pids cgroup has no room left.
    pub fn pids_at_limit(&self) -> Option<(u64, u64)> {
        pids::at_limit(self)
    }

    pub fn freeze(&self) -> Result<(), CgroupError> {
        freeze::set(self, true)
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        freeze::set(self, false)
    }

    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        freeze::is_frozen(self)
    }

    /// rmdir every created directory, deepest first; see [`remove`].
    /// With the systemd driver the unit is stopped first (systemd removes
    /// what it made); the rest goes as with cgroupfs.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let stopped = match &self.systemd {
            Some(unit) => systemd::stop(unit, self.dirs.iter().any(|d| d.path.exists())),
            None => Ok(()),
        };
        let own: Vec<&Path> = self.dirs.iter().map(|d| d.path.as_path()).collect();
        let removed = remove::remove_dirs(&self.created, &own);
        stopped.and(removed)
    }

    /// The v1 memory directory, or the cgroup2 directory where memory is
    /// managed by v2.
    pub fn memory_dir(&self) -> Option<&Path> {
        controller::Targets::dir_of(self, "memory")
    }

    pub fn oom_counters(&self) -> Result<OomCounters, CgroupError> {
        stats::oom_counters(self)
    }

    pub fn stats(&self) -> Result<Stats, CgroupError> {
        resource::stats(self)
    }

    /// The cgroup2 directory relative to its mount ("/a/b"), as cgroup
    /// managers that take a cgroupsPath want it.
    pub fn v2_relative_path(&self, _h: &Hierarchies) -> Option<PathBuf> {
        let d = self.unified_dir()?;
        let rel = d.path.strip_prefix(&d.mount).ok()?;
        Some(Path::new("/").join(rel))
    }

    pub(crate) fn unified_dir(&self) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| d.is_unified())
    }

    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| d.has(controller))
    }
}
