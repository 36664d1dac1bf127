//! v2 cpu: cpu.weight (from shares), cpu.max, cpu.max.burst, cpu.idle.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;
use crate::cgroups::v1::cpu::is_einval;

const F: &str = "linux.resources.cpu";

pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    // Real-time limits were refused by resource::cpu's host check.
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        let w = shares_to_weight(s);
        fs::write(dir, "cpu.weight", &w.to_string(), &format!("{F}.shares"))?;
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    // burst <= quota is checked against the quota in place: if lowering
    // both, the burst has to wait until cpu.max is written (runc).
    let mut burst_pending = None;
    if let Some(b) = c.burst() {
        match fs::write(dir, "cpu.max.burst", &b.to_string(), &format!("{F}.burst")) {
            Ok(()) => {}
            Err(e) if quota != 0 && is_einval(&e) => burst_pending = Some(b),
            Err(e) => return Err(e),
        }
    }
    if let Some(v) = cpu_max(quota, period) {
        fs::write(dir, "cpu.max", &v, &format!("{F}.quota"))?;
    }
    if let Some(b) = burst_pending {
        fs::write(dir, "cpu.max.burst", &b.to_string(), &format!("{F}.burst"))?;
    }
    if let Some(i) = c.idle() {
        fs::write(dir, "cpu.idle", &i.to_string(), &format!("{F}.idle"))?;
    }
    Ok(())
}

/// runc's ConvertCPUSharesToCgroupV2Value: maps [2, 262144] onto
/// [1, 10000] linearly; 0 stays "unset".
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// "quota period" for cpu.max; a quota <= 0 is "max". Omitting the period
/// keeps the one in place. None: neither was given.
pub(crate) fn cpu_max(quota: i64, period: u64) -> Option<String> {
    if quota == 0 && period == 0 {
        return None;
    }
    let mut s = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_string()
    };
    if period != 0 {
        s.push(' ');
        s.push_str(&period.to_string());
    }
    Some(s)
}

/// v2 cpu.stat is in microseconds; runc reports nanoseconds. No per-CPU
/// figures exist on v2.
pub(crate) fn stats(dir: &Path, c: &mut crate::cgroups::stats::Cpu) -> Result<(), CgroupError> {
    let st = fs::read_flat_keyed(dir, "cpu.stat")?;
    let g = |k: &str| st.get(k).copied().unwrap_or(0);
    c.usage.total = g("usage_usec").saturating_mul(1000);
    c.usage.user = g("user_usec").saturating_mul(1000);
    c.usage.kernel = g("system_usec").saturating_mul(1000);
    c.throttling.periods = g("nr_periods");
    c.throttling.throttled_periods = g("nr_throttled");
    c.throttling.throttled_time = g("throttled_usec").saturating_mul(1000);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(cpu_max(0, 0), None);
        assert_eq!(cpu_max(50_000, 0).as_deref(), Some("50000"));
        assert_eq!(cpu_max(50_000, 100_000).as_deref(), Some("50000 100000"));
        assert_eq!(cpu_max(-1, 100_000).as_deref(), Some("max 100000"));
        assert_eq!(cpu_max(-1, 0).as_deref(), Some("max"));
    }
}
