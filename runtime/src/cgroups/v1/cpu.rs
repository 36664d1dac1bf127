//! v1 cpu: shares, CFS quota/period/burst, idle and real-time bandwidth.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

const F: &str = "linux.resources.cpu";

pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        fs::write(dir, "cpu.shares", &s.to_string(), &format!("{F}.shares"))?;
        // The kernel clamps silently; runc reports a clamped value.
        let got = fs::read_u64(dir, "cpu.shares")?;
        if got != s {
            return Err(CgroupError::invalid(
                format!("{F}.shares"),
                s,
                format!("the kernel clamped it to {got}"),
            ));
        }
    }
    // Real-time bandwidth before anything joins: a SCHED_RR task cannot
    // enter a group with no RT runtime.
    if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
        fs::write(
            dir,
            "cpu.rt_period_us",
            &p.to_string(),
            &format!("{F}.realtimePeriod"),
        )?;
    }
    if let Some(r) = c.realtime_runtime().filter(|&r| r != 0) {
        fs::write(
            dir,
            "cpu.rt_runtime_us",
            &r.to_string(),
            &format!("{F}.realtimeRuntime"),
        )?;
    }

    let quota = c.quota().filter(|&q| q != 0);
    let period = c.period().filter(|&p| p != 0);
    // burst <= quota is enforced by the kernel against the *current* quota,
    // so when lowering quota the burst write may need to wait (runc).
    let mut burst_pending = None;
    if let Some(b) = c.burst() {
        match fs::write(
            dir,
            "cpu.cfs_burst_us",
            &b.to_string(),
            &format!("{F}.burst"),
        ) {
            Ok(()) => {}
            Err(e) if quota.is_some() && is_einval(&e) => burst_pending = Some(b),
            Err(e) => return Err(e),
        }
    }
    // A smaller period can be rejected while the old quota is in place
    // (old_quota/new_period over the parent's); retry after the quota.
    let mut period_pending = None;
    if let Some(p) = period {
        match fs::write(
            dir,
            "cpu.cfs_period_us",
            &p.to_string(),
            &format!("{F}.period"),
        ) {
            Ok(()) => {}
            Err(e) if quota.is_some() && is_einval(&e) => period_pending = Some(p),
            Err(e) => return Err(e),
        }
    }
    if let Some(q) = quota {
        fs::write(
            dir,
            "cpu.cfs_quota_us",
            &q.to_string(),
            &format!("{F}.quota"),
        )?;
    }
    if let Some(p) = period_pending {
        fs::write(
            dir,
            "cpu.cfs_period_us",
            &p.to_string(),
            &format!("{F}.period"),
        )?;
    }
    if let Some(b) = burst_pending {
        fs::write(
            dir,
            "cpu.cfs_burst_us",
            &b.to_string(),
            &format!("{F}.burst"),
        )?;
    }
    if let Some(i) = c.idle() {
        fs::write(dir, "cpu.idle", &i.to_string(), &format!("{F}.idle"))?;
    }
    Ok(())
}

pub(crate) fn is_einval(e: &CgroupError) -> bool {
    matches!(e, CgroupError::WriteRejected { source, .. } if source.raw_os_error() == Some(libc::EINVAL))
}

/// Throttling counters from cpu.stat (throttled_time is in ns on v1).
pub(crate) fn stats(dir: &Path, c: &mut crate::cgroups::stats::Cpu) -> Result<(), CgroupError> {
    let st = fs::read_flat_keyed_opt(dir, "cpu.stat")?;
    let g = |k: &str| st.get(k).copied().unwrap_or(0);
    c.throttling.periods = g("nr_periods");
    c.throttling.throttled_periods = g("nr_throttled");
    c.throttling.throttled_time = g("throttled_time");
    Ok(())
}
