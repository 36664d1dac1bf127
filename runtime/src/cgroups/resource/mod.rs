//! `linux.resources`, one controller per file. Each file says, for its part
//! of the spec: is it set ([`Resource::asked`]), are the values valid
//! ([`Resource::check`], [`Resource::check_host`]), how it is written
//! ([`Resource::apply`], choosing the v1 or v2 writer) and what it reports
//! ([`Resource::stats`]). The functions here only loop over [`ALL`], so a
//! check lives in exactly one place whether `create` validates up front or
//! `update` applies to a live cgroup.

mod blkio;
mod cpu;
mod cpuset;
pub(crate) mod hugetlb;
pub(crate) mod memory;
mod network;
mod pids;
mod rdma;
mod unified;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::controller::{Target, Targets};
use super::error::CgroupError;
use super::stats::Stats;
use super::{CgroupSet, Hierarchies, Layout};

#[cfg(test)]
pub(crate) use hugetlb::host_hugepage_sizes;

/// Prefix of every field name in this module's errors.
const R: &str = "linux.resources";

pub(crate) trait Resource: Sync {
    /// (spec field, v1 controller name) for every part of `r` this
    /// controller would write. Fields explicitly unset (None, 0 where runc
    /// treats 0 as unset, empty lists) do not count: a missing controller
    /// is only an error when asked for.
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)>;

    /// Value checks that need no host information. `update` relaxes the
    /// checks that limits already in place may satisfy.
    fn check(&self, r: &LinuxResources, update: bool) -> Result<(), CgroupError>;

    /// Checks against what this host (or cgroup version) can do.
    fn check_host(&self, _p: &dyn Placement, _r: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }

    /// Writes the controller's files; every check has passed.
    fn apply(&self, t: &Targets, r: &LinuxResources, update: bool) -> Result<(), CgroupError>;

    /// Adds the controller's counters to `s`; a missing controller adds
    /// nothing (as in runc).
    fn stats(&self, _t: &Targets, _s: &mut Stats) -> Result<(), CgroupError> {
        Ok(())
    }
}

/// Every controller, in the order they are written: cpuset first (tasks
/// cannot join a cpuset without cpus), unified last (it overrides the
/// typed fields, as in runc).
pub(crate) const ALL: &[&dyn Resource] = &[
    &cpuset::Cpuset,
    &memory::Memory,
    &cpu::Cpu,
    &pids::Pids,
    &blkio::Blkio,
    &hugetlb::Hugetlb,
    &network::Network,
    &rdma::Rdma,
    &unified::Unified,
];

/// Where controllers live: the host's hierarchies before the container's
/// cgroup exists ([`Hierarchies`]), or the container's own directories
/// ([`Targets`]).
pub(crate) trait Placement {
    fn layout(&self) -> Layout;
    fn has(&self, controller: &str) -> bool;
    /// Managed through the unified hierarchy (v2, or hybrid without v1).
    fn on_v2(&self, controller: &str) -> bool;
    /// A v1 directory of `controller` whose interface files can be probed.
    fn v1_dir(&self, controller: &str) -> Option<PathBuf>;
    /// The container's cgroup2 directory, once known.
    fn unified_dir(&self) -> Option<&Path>;
}

impl Placement for Hierarchies {
    fn layout(&self) -> Layout {
        Hierarchies::layout(self)
    }
    fn has(&self, controller: &str) -> bool {
        self.has_controller(controller)
    }
    fn on_v2(&self, controller: &str) -> bool {
        Hierarchies::on_v2(self, controller)
    }
    fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        self.v1_mount(controller).map(|m| m.mountpoint.clone())
    }
    fn unified_dir(&self) -> Option<&Path> {
        None
    }
}

impl Placement for Targets<'_> {
    fn layout(&self) -> Layout {
        self.set().layout
    }
    fn has(&self, controller: &str) -> bool {
        self.get(controller) != Target::Missing
    }
    fn on_v2(&self, controller: &str) -> bool {
        matches!(self.get(controller), Target::V2(_))
    }
    fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        match self.get(controller) {
            Target::V1(d) => Some(d.to_path_buf()),
            _ => None,
        }
    }
    fn unified_dir(&self) -> Option<&Path> {
        self.set().unified_dir().map(|d| d.path.as_path())
    }
}

/// The error for a spec field whose controller is unavailable.
pub(crate) fn missing(p: &dyn Placement, field: &str, controller: &str) -> CgroupError {
    let layout = p.layout();
    if matches!(controller, "net_cls" | "net_prio") && layout == Layout::V2 {
        return CgroupError::unsupported(
            field,
            "set, but cgroup v2 has no net_cls/net_prio controller",
        );
    }
    let where_ = match (layout, p.unified_dir()) {
        (Layout::V1, _) => "no cgroup v1 hierarchy has it mounted".to_string(),
        (Layout::V2, Some(d)) => format!(
            "it is not enabled for {} (see cgroup.subtree_control of its parent)",
            d.display()
        ),
        (Layout::V2, None) => {
            "the cgroup v2 hierarchy does not offer it (see cgroup.controllers)".to_string()
        }
        (Layout::Hybrid, Some(d)) => format!(
            "it is neither mounted as a cgroup v1 hierarchy nor enabled for {}",
            d.display()
        ),
        (Layout::Hybrid, None) => {
            "it is neither mounted as a cgroup v1 hierarchy nor offered by the cgroup v2 hierarchy"
                .to_string()
        }
    };
    CgroupError::unsupported(
        field,
        format!("set, but the {controller} controller is not available: {where_}"),
    )
}

/// Every check, values first, then availability, then the host: nothing is
/// written until all have passed, so a bad spec leaves no half-configured
/// cgroup.
fn check_all(p: &dyn Placement, r: &LinuxResources, update: bool) -> Result<(), CgroupError> {
    values(r, update)?;
    for c in ALL {
        for (field, controller) in c.asked(r) {
            if !p.has(controller) {
                return Err(missing(p, &field, controller));
            }
        }
    }
    ALL.iter().try_for_each(|c| c.check_host(p, r))
}

/// Value checks only (no host information).
pub(crate) fn values(r: &LinuxResources, update: bool) -> Result<(), CgroupError> {
    ALL.iter().try_for_each(|c| c.check(r, update))
}

/// Checks values and that this host has every controller the spec asks for,
/// before anything is created.
pub fn validate(h: &Hierarchies, r: &LinuxResources) -> Result<(), CgroupError> {
    check_all(h, r, false)
}

/// Writes `linux.resources` to the container's cgroup (devices excepted,
/// libcontainer owns them).
pub(crate) fn apply(set: &CgroupSet, r: &LinuxResources, update: bool) -> Result<(), CgroupError> {
    let t = Targets::new(set);
    check_all(&t, r, update)?;
    ALL.iter().try_for_each(|c| c.apply(&t, r, update))
}

/// Counters of every controller the container has.
pub(crate) fn stats(set: &CgroupSet) -> Result<Stats, CgroupError> {
    let t = Targets::new(set);
    let mut s = Stats::default();
    for c in ALL {
        c.stats(&t, &mut s)?;
    }
    Ok(s)
}

/// Runs the v1 or the v2 writer (or reader) of `controller` on its
/// directory, with `cx`; nothing when the container has no such controller
/// (asking for it was refused by the checks).
fn by_version<C>(
    t: &Targets,
    controller: &str,
    cx: C,
    v1: impl FnOnce(&Path, C) -> Result<(), CgroupError>,
    v2: impl FnOnce(&Path, C) -> Result<(), CgroupError>,
) -> Result<(), CgroupError> {
    match t.get(controller) {
        Target::V1(d) => v1(d, cx),
        Target::V2(d) => v2(d, cx),
        Target::Missing => Ok(()),
    }
}

/// [`Resource::asked`] of a controller with one field.
fn asked_if(set: bool, field: &str, controller: &'static str) -> Vec<(String, &'static str)> {
    if set {
        vec![(format!("{R}.{field}"), controller)]
    } else {
        Vec::new()
    }
}

/// An interface or device name: safe to splice into a cgroup file line.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', ' ', '\n', '\t', '\0'])
}
