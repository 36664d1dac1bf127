//! v2 memory: memory.max, memory.low, memory.swap.max.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;
use crate::cgroups::resource::memory::{swap_below_limit, swap_without_limit};

const F: &str = "linux.resources.memory";

pub(crate) fn apply(dir: &Path, m: &LinuxMemory, update: bool) -> Result<(), CgroupError> {
    if m.disable_oom_killer() == Some(true) {
        // runc ignores it as well: v2 has no per-cgroup switch.
        tracing::warn!("{F}.disableOOMKiller is not supported on cgroup v2; ignored");
    }
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);

    if update && limit > 0 && m.check_before_update() != Some(false) {
        // Unlike v1 (EBUSY), v2 would OOM-kill the container to meet a
        // limit below its usage: refuse instead.
        let usage = fs::read_u64(dir, "memory.current")?;
        if usage >= limit as u64 {
            return Err(crate::cgroups::v1::memory::below_usage(limit, usage));
        }
    }

    // On update with only swap given, the OCI memory+swap total is relative
    // to the limit already in place.
    let effective_limit = if update && limit == 0 && swap > 0 {
        match fs::read_u64(dir, "memory.max")? {
            u64::MAX => -1,
            v => i64::try_from(v).unwrap_or(-1),
        }
    } else {
        limit
    };
    if let Some(v) = swap_to_v2(swap, effective_limit)? {
        let s = fs::v2_limit(v);
        if let Err(e) = fs::write(dir, "memory.swap.max", &s, &format!("{F}.swap")) {
            // Without swap support, "unlimited" and "none" are the truth
            // already; anything else cannot be honoured.
            if !(e.is_not_found() && (s == "max" || s == "0")) {
                return Err(if e.is_not_found() { swap_missing() } else { e });
            }
        }
    }
    if limit != 0 {
        fs::write(
            dir,
            "memory.max",
            &fs::v2_limit(limit),
            &format!("{F}.limit"),
        )?;
    }
    if let Some(r) = m.reservation().filter(|&r| r != 0) {
        fs::write(
            dir,
            "memory.low",
            &fs::v2_limit(r),
            &format!("{F}.reservation"),
        )?;
    }
    Ok(())
}

fn swap_missing() -> CgroupError {
    CgroupError::unsupported(
        format!("{F}.swap"),
        "set, but memory.swap.max does not exist (kernel without swap accounting)",
    )
}

/// OCI swap is the memory+swap total (v1 semantics); v2's memory.swap.max is
/// swap alone. Mirrors runc's ConvertMemorySwapToCgroupV2Value, with 0 as
/// "unset". `None`: leave memory.swap.max alone. `Some(-1)`: "max".
pub(crate) fn swap_to_v2(swap: i64, memory: i64) -> Result<Option<i64>, CgroupError> {
    // Unlimited memory with unset swap: unlimited swap too, as on v1.
    if memory == -1 && swap == 0 {
        return Ok(Some(-1));
    }
    match swap {
        -1 => return Ok(Some(-1)),
        0 => return Ok(None),
        _ => {}
    }
    if memory == 0 || memory == -1 {
        return Err(swap_without_limit(swap));
    }
    if swap < memory {
        return Err(swap_below_limit(swap, memory));
    }
    // swap == memory gives 0: no swap at all.
    Ok(Some(swap - memory))
}

/// runc's v2 mapping: "swap" is reported as memory+swap for compatibility
/// with v1 consumers; the cache is the "file" counter.
pub(crate) fn stats(dir: &Path, m: &mut crate::cgroups::stats::Memory) -> Result<(), CgroupError> {
    m.raw = fs::read_flat_keyed(dir, "memory.stat")?;
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    let usage = fs::read_u64(dir, "memory.current")?;
    let limit = fs::read_u64(dir, "memory.max")?;
    let events = fs::read_flat_keyed_opt(dir, "memory.events")?;
    m.usage = crate::cgroups::stats::MemoryEntry {
        limit,
        usage,
        max: fs::read_u64_opt(dir, "memory.peak")?.unwrap_or(0),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    if let Some(swap) = fs::read_u64_opt(dir, "memory.swap.current")? {
        let swap_max = fs::read_u64(dir, "memory.swap.max")?;
        m.swap = crate::cgroups::stats::MemoryEntry {
            limit: limit.saturating_add(swap_max),
            usage: usage.saturating_add(swap),
            max: 0,
            failcnt: 0,
        };
    }
    Ok(())
}

pub(crate) fn oom_counters(dir: &Path) -> Result<crate::cgroups::stats::OomCounters, CgroupError> {
    let ev = fs::read_flat_keyed(dir, "memory.events")?;
    let limit = fs::read_u64(dir, "memory.max")?;
    Ok(crate::cgroups::stats::OomCounters {
        oom_kill: ev.get("oom_kill").copied().unwrap_or(0),
        oom: ev.get("oom").copied(),
        max: ev.get("max").copied(),
        high: ev.get("high").copied(),
        usage: fs::read_u64(dir, "memory.current")?,
        max_usage: fs::read_u64_opt(dir, "memory.peak")?,
        limit: (limit != u64::MAX).then_some(limit),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_to_v2(0, -1).unwrap(), Some(-1));
        assert_eq!(swap_to_v2(-1, 100).unwrap(), Some(-1));
        assert_eq!(swap_to_v2(0, 100).unwrap(), None);
        assert_eq!(swap_to_v2(0, 0).unwrap(), None);
        assert_eq!(swap_to_v2(300, 100).unwrap(), Some(200));
        assert_eq!(swap_to_v2(100, 100).unwrap(), Some(0));
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(50, 0).is_err());
        assert!(swap_to_v2(50, -1).is_err());
    }
}
