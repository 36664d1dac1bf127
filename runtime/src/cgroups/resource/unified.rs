//! linux.resources.unified: cgroup2 interface files by name, written last
//! so that they override the typed fields (as in runc). On hybrid hosts
//! they go to the cgroup2 directory.

use oci_spec::runtime::LinuxResources;

use super::{Placement, Resource, R};
use crate::cgroups::controller::Targets;
use crate::cgroups::error::CgroupError;
use crate::cgroups::{v2, Layout};

pub(super) struct Unified;

fn no_v2() -> CgroupError {
    CgroupError::unsupported(
        format!("{R}.unified"),
        "set, but this host has no cgroup v2 hierarchy (pure cgroup v1)",
    )
}

impl Resource for Unified {
    /// No controller of its own: each key names its controller's file.
    fn asked(&self, _r: &LinuxResources) -> Vec<(String, &'static str)> {
        Vec::new()
    }

    fn check(&self, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        r.unified()
            .iter()
            .flat_map(|u| u.keys())
            .try_for_each(|k| check_key(k))
    }

    fn check_host(&self, p: &dyn Placement, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        if p.layout() == Layout::V1 {
            return Err(no_v2());
        }
        // Hybrid: a file of a controller mounted as v1 has no cgroup2 file
        // to go to. runc says "invalid configuration" (callers match it).
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            let ctrl = k.split('.').next().unwrap_or_default();
            if p.layout() == Layout::Hybrid && p.has(ctrl) && !p.on_v2(ctrl) {
                return Err(CgroupError::unsupported(
                    format!("{R}.unified[{k:?}]"),
                    format!("invalid configuration: {ctrl} is a cgroup v1 controller on this host; unified takes files of the cgroup2 hierarchy only"),
                ));
            }
        }
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        let dir = match t.set().unified_dir() {
            Some(d) if t.set().layout != Layout::V1 => d,
            _ => return Err(no_v2()),
        };
        // Sorted for a deterministic order of writes (HashMap order is random).
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            let v = u.get(k).map(String::as_str).unwrap_or("");
            v2::unified::write(&dir.path, k, v)?;
        }
        Ok(())
    }
}

/// A unified key must be a plain interface file of the cgroup: no path
/// separators or dot-dot (the spec must never reach outside the cgroup), and
/// not the files that move or kill processes.
fn check_key(key: &str) -> Result<(), CgroupError> {
    let bad =
        |reason: &str| CgroupError::invalid(format!("{R}.unified"), format!("{key:?}"), reason);
    if key.is_empty()
        || key.starts_with('.')
        || key.contains(['/', '\0', '\n'])
        || !key.contains('.')
    {
        return Err(bad(
            "must be a cgroup interface file name such as \"memory.high\"",
        ));
    }
    if matches!(
        key,
        "cgroup.procs" | "cgroup.threads" | "cgroup.kill" | "cgroup.subtree_control"
    ) {
        return Err(bad("this file cannot be set through the spec"));
    }
    Ok(())
}
