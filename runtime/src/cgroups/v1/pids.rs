//! v1 pids: the task limit.

use std::path::Path;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

/// limit <= 0 means unlimited ("max").
pub(crate) fn apply(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    let v = if limit <= 0 {
        "max".to_string()
    } else {
        limit.to_string()
    };
    fs::write(dir, "pids.max", &v, "linux.resources.pids.limit")
}

/// Same files on v2. "max" is reported as limit 0, as runc does.
pub(crate) fn stats(dir: &Path, p: &mut crate::cgroups::stats::Pids) -> Result<(), CgroupError> {
    p.current = fs::read_u64(dir, "pids.current")?;
    p.limit = match fs::read_u64(dir, "pids.max")? {
        u64::MAX => 0,
        v => v,
    };
    Ok(())
}
