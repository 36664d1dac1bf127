//! v1 cpuacct: CPU usage accounting (no limits live here).

use std::path::Path;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;
use crate::cgroups::stats::CpuUsage;

/// cpuacct.stat counts USER_HZ ticks; USER_HZ is 100 on every Linux ABI.
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

pub(crate) fn stats(dir: &Path, u: &mut CpuUsage) -> Result<(), CgroupError> {
    u.total = fs::read_u64(dir, "cpuacct.usage")?;
    u.percpu = read_list(dir, "cpuacct.usage_percpu")?;
    u.percpu_kernel = read_list(dir, "cpuacct.usage_percpu_sys")?;
    u.percpu_user = read_list(dir, "cpuacct.usage_percpu_user")?;
    let st = fs::read_flat_keyed(dir, "cpuacct.stat")?;
    u.user = st
        .get("user")
        .copied()
        .unwrap_or(0)
        .saturating_mul(NANOS_PER_TICK);
    u.kernel = st
        .get("system")
        .copied()
        .unwrap_or(0)
        .saturating_mul(NANOS_PER_TICK);
    Ok(())
}

/// Space separated numbers; a missing file (older kernels lack the _sys and
/// _user variants) is an empty list.
fn read_list(dir: &Path, file: &str) -> Result<Vec<u64>, CgroupError> {
    match fs::read_string(dir, file) {
        Ok(s) => Ok(s
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect()),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
