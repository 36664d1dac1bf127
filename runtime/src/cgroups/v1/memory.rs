//! v1 memory: limit, memory+swap, soft limit, swappiness, OOM killer.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;
use crate::cgroups::resource::memory::{swap_unsupported, swappiness_set};

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";
const F: &str = "linux.resources.memory";

pub(crate) fn apply(dir: &Path, m: &LinuxMemory, update: bool) -> Result<(), CgroupError> {
    // runc treats 0 as "not set" for limit, reservation and swap.
    let limit = m.limit().filter(|&v| v != 0);
    let mut swap = m.swap().filter(|&v| v != 0);
    let has_memsw = fs::exists(dir, MEMSW);
    // As runc: unlimited memory with swap unset means unlimited swap too,
    // otherwise the old memsw limit would still cap the container.
    if limit == Some(-1) && swap.is_none() && has_memsw {
        swap = Some(-1);
    }
    if !has_memsw {
        match swap {
            Some(-1) | None => swap = None,
            Some(_) => return Err(swap_unsupported()),
        }
    }
    if update && m.check_before_update() == Some(true) {
        if let Some(l) = limit.filter(|&l| l > 0) {
            let usage = fs::read_u64(dir, "memory.usage_in_bytes")?;
            if usage >= l as u64 {
                return Err(below_usage(l, usage));
            }
        }
    }
    write_limits(dir, limit, swap)?;

    if let Some(v) = m.reservation().filter(|&v| v != 0) {
        fs::write(
            dir,
            "memory.soft_limit_in_bytes",
            &v.to_string(),
            &format!("{F}.reservation"),
        )?;
    }
    if swappiness_set(m) {
        if let Some(s) = m.swappiness() {
            fs::write(
                dir,
                "memory.swappiness",
                &s.to_string(),
                &format!("{F}.swappiness"),
            )?;
        }
    }
    if let Some(d) = m.disable_oom_killer() {
        // Writing 0 on create is a no-op; on update it re-enables the killer.
        let v = if d { "1" } else { "0" };
        fs::write(
            dir,
            "memory.oom_control",
            v,
            &format!("{F}.disableOOMKiller"),
        )?;
    }
    if let Some(h) = m.use_hierarchy() {
        // Recent kernels are always hierarchical and reject 0; report it.
        if fs::exists(dir, "memory.use_hierarchy") {
            let v = if h { "1" } else { "0" };
            fs::write(dir, "memory.use_hierarchy", v, &format!("{F}.useHierarchy"))?;
        } else if !h {
            return Err(CgroupError::unsupported(
                format!("{F}.useHierarchy"),
                "false is not supported: memory.use_hierarchy is missing on this kernel",
            ));
        }
    }
    Ok(())
}

pub(crate) fn below_usage(limit: i64, usage: u64) -> CgroupError {
    CgroupError::invalid(
        format!("{F}.limit"),
        limit,
        format!("below the container's current memory usage of {usage} bytes"),
    )
}

/// The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at
/// all times, so when both change the order matters: raise memsw before the
/// limit, lower the limit before memsw.
fn write_limits(dir: &Path, limit: Option<i64>, swap: Option<i64>) -> Result<(), CgroupError> {
    let wl = |v: i64| write_limit(dir, v);
    let ws = |v: i64| fs::write(dir, MEMSW, &v.to_string(), &format!("{F}.swap"));
    match (limit, swap) {
        (Some(l), Some(s)) => {
            let cur_memsw = fs::read_u64(dir, MEMSW)?;
            if swap_first(s, cur_memsw) {
                ws(s)?;
                wl(l)
            } else {
                wl(l)?;
                ws(s)
            }
        }
        // The kernel decides (it compares whole pages: i64::MAX is its
        // "unlimited", not more than the memsw in place); its EINVAL is
        // then explained.
        (Some(l), None) => wl(l).map_err(|e| {
            if !crate::cgroups::v1::cpu::is_einval(&e) || !fs::exists(dir, MEMSW) {
                return e;
            }
            match fs::read_u64(dir, MEMSW) {
                Ok(cur_memsw) if as_bytes(l) > cur_memsw => CgroupError::invalid(
                    format!("{F}.limit"),
                    l,
                    format!(
                        "exceeds the current memory+swap limit of {cur_memsw} bytes; set {F}.swap as well"
                    ),
                ),
                _ => e,
            }
        }),
        (None, Some(s)) => ws(s),
        (None, None) => Ok(()),
    }
}

/// Writes memory.limit_in_bytes. EBUSY means the kernel could not reclaim
/// the usage below the new limit (`update`): say how much is in use and
/// that the old limit is still in place.
fn write_limit(dir: &Path, l: i64) -> Result<(), CgroupError> {
    fs::write(dir, LIMIT, &l.to_string(), &format!("{F}.limit")).map_err(|e| {
        let busy = matches!(&e, CgroupError::WriteRejected { source, .. } if source.raw_os_error() == Some(libc::EBUSY));
        if !busy {
            return e;
        }
        match (
            fs::read_u64(dir, "memory.usage_in_bytes"),
            fs::read_u64(dir, LIMIT),
        ) {
            (Ok(usage), Ok(old)) => CgroupError::invalid(
                format!("{F}.limit"),
                l,
                format!(
                    "below the container's current memory usage of {usage} bytes, which the kernel could not reclaim (EBUSY); the limit stays {old} bytes"
                ),
            ),
            _ => e,
        }
    })
}

/// -1 (unlimited) compares as the largest value.
fn as_bytes(v: i64) -> u64 {
    if v < 0 {
        u64::MAX
    } else {
        v as u64
    }
}

pub(crate) fn swap_first(new_memsw: i64, cur_memsw: u64) -> bool {
    as_bytes(new_memsw) >= cur_memsw
}

/// runc's v1 memory stats: usage, memsw as "swap", kmem, kmem.tcp.
pub(crate) fn stats(dir: &Path, m: &mut crate::cgroups::stats::Memory) -> Result<(), CgroupError> {
    m.raw = fs::read_flat_keyed(dir, "memory.stat")?;
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = entry(dir, "memory")?;
    // The others are absent without swap accounting / kmem support.
    for (prefix, e) in [
        ("memory.memsw", &mut m.swap),
        ("memory.kmem", &mut m.kernel),
        ("memory.kmem.tcp", &mut m.kernel_tcp),
    ] {
        if fs::exists(dir, &format!("{prefix}.usage_in_bytes")) {
            *e = entry(dir, prefix)?;
        }
    }
    Ok(())
}

fn entry(dir: &Path, prefix: &str) -> Result<crate::cgroups::stats::MemoryEntry, CgroupError> {
    Ok(crate::cgroups::stats::MemoryEntry {
        limit: fs::read_u64(dir, &format!("{prefix}.limit_in_bytes"))?,
        usage: fs::read_u64(dir, &format!("{prefix}.usage_in_bytes"))?,
        max: fs::read_u64(dir, &format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: fs::read_u64(dir, &format!("{prefix}.failcnt"))?,
    })
}

/// v1 "unlimited" is PAGE_COUNTER_MAX pages: anything this large is no limit.
const V1_UNLIMITED_FLOOR: u64 = 1 << 62;

pub(crate) fn oom_counters(dir: &Path) -> Result<crate::cgroups::stats::OomCounters, CgroupError> {
    let oc = fs::read_flat_keyed(dir, "memory.oom_control")?;
    let limit = fs::read_u64(dir, LIMIT)?;
    Ok(crate::cgroups::stats::OomCounters {
        oom_kill: oc.get("oom_kill").copied().unwrap_or(0),
        under_oom: oc.get("under_oom").map(|&v| v != 0),
        oom_kill_disable: oc.get("oom_kill_disable").map(|&v| v != 0),
        failcnt: Some(fs::read_u64(dir, "memory.failcnt")?),
        usage: fs::read_u64(dir, "memory.usage_in_bytes")?,
        max_usage: fs::read_u64_opt(dir, "memory.max_usage_in_bytes")?,
        limit: (limit < V1_UNLIMITED_FLOOR).then_some(limit),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_order() {
        // Raising memsw (or to unlimited): memsw first.
        assert!(swap_first(-1, 100));
        assert!(swap_first(200, 100));
        // Lowering memsw: the limit must go down first.
        assert!(!swap_first(50, 100));
        // Fresh cgroup: memsw is "unlimited" (PAGE_COUNTER_MAX pages).
        assert!(!swap_first(1 << 30, 9_223_372_036_854_771_712));
    }
}
