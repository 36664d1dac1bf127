//! linux.resources.memory: limit, reservation, swap (the memory+swap total),
//! swappiness, OOM killer.

use std::sync::Once;

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use super::{asked_if, by_version, Placement, Resource, R};
use crate::cgroups::controller::Targets;
use crate::cgroups::error::CgroupError;
use crate::cgroups::stats::Stats;
use crate::cgroups::{v1, v2};

pub(super) struct Memory;

static KMEM_WARNING: Once = Once::new();

fn f(name: &str) -> String {
    format!("{R}.memory.{name}")
}

impl Resource for Memory {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        let set = r.memory().as_ref().is_some_and(|m| {
            m.limit().unwrap_or(0) != 0
                || m.reservation().unwrap_or(0) != 0
                || m.swap().unwrap_or(0) != 0
                || swappiness_set(m)
                || m.disable_oom_killer() == Some(true)
                || m.use_hierarchy() == Some(false)
        });
        asked_if(set, "memory", "memory")
    }

    fn check(&self, r: &LinuxResources, update: bool) -> Result<(), CgroupError> {
        match r.memory() {
            Some(m) => check(m, update),
            None => Ok(()),
        }
    }

    fn check_host(&self, p: &dyn Placement, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(m) = r.memory() else {
            return Ok(());
        };
        if p.on_v2("memory") {
            if swappiness_set(m) {
                return Err(CgroupError::unsupported(
                    f("swappiness"),
                    "not supported on cgroup v2",
                ));
            }
            return Ok(());
        }
        // v1 swap needs swap accounting (memory.memsw.*), absent when the
        // kernel runs with swapaccount=0 or without CONFIG_MEMCG_SWAP.
        if m.swap().unwrap_or(0) > 0 {
            if let Some(dir) = p.v1_dir("memory") {
                if !dir.join("memory.memsw.limit_in_bytes").exists() {
                    return Err(swap_unsupported());
                }
            }
        }
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, update: bool) -> Result<(), CgroupError> {
        let Some(m) = r.memory() else {
            return Ok(());
        };
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
        by_version(
            t,
            "memory",
            (),
            |d, ()| v1::memory::apply(d, m, update),
            |d, ()| v2::memory::apply(d, m, update),
        )
    }

    fn stats(&self, t: &Targets, s: &mut Stats) -> Result<(), CgroupError> {
        by_version(
            t,
            "memory",
            &mut s.memory,
            v1::memory::stats,
            v2::memory::stats,
        )
    }
}

fn check(m: &LinuxMemory, update: bool) -> Result<(), CgroupError> {
    for (name, v) in [
        ("limit", m.limit()),
        ("reservation", m.reservation()),
        ("swap", m.swap()),
    ] {
        if let Some(v) = v {
            if v < -1 {
                return Err(CgroupError::invalid(f(name), v, "must be >= -1"));
            }
        }
    }
    let limit = m.limit().unwrap_or(0);
    let page = page_size();
    if limit > 0 && limit.unsigned_abs() < page {
        return Err(CgroupError::invalid(
            f("limit"),
            limit,
            format!(
                "below one page ({page} bytes): the kernel rounds it down to 0 bytes, in which no process can run"
            ),
        ));
    }
    let swap = m.swap().unwrap_or(0);
    if swap > 0 {
        if limit > 0 && swap < limit {
            return Err(swap_below_limit(swap, limit));
        }
        if !update && limit <= 0 {
            return Err(swap_without_limit(swap));
        }
    }
    if let Some(s) = m.swappiness() {
        if s != u64::MAX && s > 100 {
            return Err(CgroupError::invalid(f("swappiness"), s, "must be 0..100"));
        }
    }
    Ok(())
}

/// OCI swap is the memory+swap total, so it cannot be below the limit.
pub(crate) fn swap_below_limit(swap: i64, limit: i64) -> CgroupError {
    CgroupError::invalid(
        f("swap"),
        swap,
        format!("must be >= {R}.memory.limit ({limit}): it is the memory+swap total"),
    )
}

pub(crate) fn swap_without_limit(swap: i64) -> CgroupError {
    CgroupError::invalid(
        f("swap"),
        swap,
        format!("requires {R}.memory.limit to be set: it is the memory+swap total"),
    )
}

pub(crate) fn swap_unsupported() -> CgroupError {
    CgroupError::unsupported(
        f("swap"),
        "set, but this kernel has no swap accounting (memory.memsw.limit_in_bytes missing; boot with swapaccount=1)",
    )
}

pub(crate) fn swappiness_set(m: &LinuxMemory) -> bool {
    // runc treats -1 (u64::MAX once parsed as unsigned) as unset.
    m.swappiness().is_some_and(|s| s != u64::MAX)
}

/// The kernel's page size: memory limits are kept in whole pages.
pub(crate) fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v > 0)
        .unwrap_or(4096)
}
