//! Applying `linux.resources`: decides, per controller, whether the v1 or
//! the v2 module writes it, and refuses fields whose controller is missing.

use std::sync::Once;

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use super::controller::{Target, Targets};
use super::error::CgroupError;
use super::{rdma, v1, v2, validate, CgroupSet, Layout};

const R: &str = "linux.resources";

/// (spec field, v1 controller name) for every part of `r` that is set.
/// Fields explicitly unset (None, 0 where runc treats 0 as unset, empty
/// lists) do not count: a missing controller is only an error when asked.
pub(crate) fn asked(r: &LinuxResources) -> Vec<(String, &'static str)> {
    let mut v = Vec::new();
    if let Some(m) = r.memory() {
        if memory_asked(m) {
            v.push((format!("{R}.memory"), "memory"));
        }
    }
    if let Some(c) = r.cpu() {
        if cpu_asked(c) {
            v.push((format!("{R}.cpu"), "cpu"));
        }
        if cpuset_asked(c) {
            v.push((format!("{R}.cpu.cpus"), "cpuset"));
        }
    }
    if r.pids().is_some() {
        v.push((format!("{R}.pids"), "pids"));
    }
    if let Some(b) = r.block_io() {
        let set = b.weight().unwrap_or(0) != 0
            || b.leaf_weight().unwrap_or(0) != 0
            || [
                b.throttle_read_bps_device(),
                b.throttle_write_bps_device(),
                b.throttle_read_iops_device(),
                b.throttle_write_iops_device(),
            ]
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
            || b.weight_device().as_ref().is_some_and(|l| !l.is_empty());
        if set {
            v.push((format!("{R}.blockIO"), "blkio"));
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()) {
        v.push((format!("{R}.hugepageLimits"), "hugetlb"));
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            v.push((format!("{R}.network.classID"), "net_cls"));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            v.push((format!("{R}.network.priorities"), "net_prio"));
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        v.push((format!("{R}.rdma"), "rdma"));
    }
    v
}

fn memory_asked(m: &LinuxMemory) -> bool {
    m.limit().unwrap_or(0) != 0
        || m.reservation().unwrap_or(0) != 0
        || m.swap().unwrap_or(0) != 0
        || validate::swappiness_set(m)
        || m.disable_oom_killer() == Some(true)
        || m.use_hierarchy() == Some(false)
}

fn cpu_asked(c: &LinuxCpu) -> bool {
    c.shares().unwrap_or(0) != 0
        || c.quota().unwrap_or(0) != 0
        || c.period().unwrap_or(0) != 0
        || c.realtime_runtime().unwrap_or(0) != 0
        || c.realtime_period().unwrap_or(0) != 0
        || c.idle().is_some()
        || c.burst().is_some()
}

fn cpuset_asked(c: &LinuxCpu) -> bool {
    c.cpus().as_ref().is_some_and(|s| !s.trim().is_empty())
        || c.mems().as_ref().is_some_and(|s| !s.trim().is_empty())
}

static KMEM_WARNING: Once = Once::new();

pub(crate) fn apply(set: &CgroupSet, r: &LinuxResources, update: bool) -> Result<(), CgroupError> {
    validate::values(r, update)?;
    let t = Targets::new(set);
    // All availability checks first: a missing controller must not leave
    // the cgroup half configured.
    for (field, ctrl) in asked(r) {
        if t.get(ctrl) == Target::Missing {
            return Err(t.missing(&field, ctrl));
        }
    }
    if let Some(c) = r.cpu() {
        if cpuset_asked(c) {
            match t.get("cpuset") {
                Target::V1(d) => v1::cpuset::apply(d, c)?,
                Target::V2(d) => v2::cpuset::apply(d, c)?,
                Target::Missing => {}
            }
        }
    }
    if let Some(m) = r.memory() {
        #[allow(deprecated)]
        let kmem = m.kernel().is_some() || m.kernel_tcp().is_some();
        if kmem {
            // Kernel memory accounting pins memory cgroups after rmdir and is
            // the classic cause of "no space left on device" on mkdir.
            KMEM_WARNING.call_once(|| {
                tracing::warn!(
                    "linux.resources.memory.kernel/kernelTCP are ignored: kernel memory limits are deprecated and leak memory cgroups"
                )
            });
        }
        match t.get("memory") {
            Target::V1(d) => v1::memory::apply(d, m, update)?,
            Target::V2(d) => v2::memory::apply(d, m, update)?,
            Target::Missing => {}
        }
    }
    if let Some(c) = r.cpu() {
        match t.get("cpu") {
            Target::V1(d) => v1::cpu::apply(d, c)?,
            Target::V2(d) => v2::cpu::apply(d, c)?,
            Target::Missing => {}
        }
    }
    if let Some(p) = r.pids() {
        match t.get("pids") {
            Target::V1(d) => v1::pids::apply(d, p.limit())?,
            Target::V2(d) => v2::pids::apply(d, p.limit())?,
            Target::Missing => {}
        }
    }
    if let Some(b) = r.block_io() {
        match t.get("blkio") {
            Target::V1(d) => v1::blkio::apply(d, b)?,
            Target::V2(d) => v2::io::apply(d, b)?,
            Target::Missing => {}
        }
    }
    if let Some(l) = r.hugepage_limits() {
        match t.get("hugetlb") {
            Target::V1(d) => v1::hugetlb::apply(d, l)?,
            Target::V2(d) => v2::hugetlb::apply(d, l)?,
            Target::Missing => {}
        }
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            match t.get("net_cls") {
                Target::V1(d) => v1::net::apply_class_id(d, id)?,
                _ => return Err(t.missing(&format!("{R}.network.classID"), "net_cls")),
            }
        }
        if let Some(p) = n.priorities() {
            if !p.is_empty() {
                match t.get("net_prio") {
                    Target::V1(d) => v1::net::apply_priorities(d, p)?,
                    _ => return Err(t.missing(&format!("{R}.network.priorities"), "net_prio")),
                }
            }
        }
    }
    if let Some(m) = r.rdma() {
        match t.get("rdma") {
            Target::V1(d) | Target::V2(d) => rdma::apply(d, m)?,
            Target::Missing => {}
        }
    }
    if let Some(u) = r.unified() {
        apply_unified(set, u)?;
    }
    Ok(())
}

/// `linux.resources.unified`: written last so that it overrides the typed
/// fields, as in runc. On hybrid hosts it goes to the cgroup2 directory.
fn apply_unified(
    set: &CgroupSet,
    u: &std::collections::HashMap<String, String>,
) -> Result<(), CgroupError> {
    if u.is_empty() {
        return Ok(());
    }
    let dir = match set.unified_dir() {
        Some(d) if set.layout != Layout::V1 => d,
        _ => {
            return Err(CgroupError::unsupported(
                format!("{R}.unified"),
                "set, but this host has no cgroup v2 hierarchy (pure cgroup v1)",
            ))
        }
    };
    // Sorted for a deterministic order of writes (HashMap order is random).
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        check_unified_key(k)?;
        let v = u.get(k).map(String::as_str).unwrap_or("");
        v2::unified::write(&dir.path, k, v)?;
    }
    Ok(())
}

/// A unified key must be a plain interface file of the cgroup: no path
/// separators or dot-dot (the spec must never reach outside the cgroup), and
/// not the files that move or kill processes.
pub(crate) fn check_unified_key(key: &str) -> Result<(), CgroupError> {
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
