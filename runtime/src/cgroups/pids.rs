//! Listing the processes of a container (runc's GetAllPids).

use std::fs;
use std::io;
use std::path::Path;

use super::error::CgroupError;
use super::CgroupSet;

/// v1 hierarchies tried in order: all see the same processes, these are the
/// ones most likely mounted. v2 (or nothing else): the unified directory.
const V1_PREFERENCE: &[&str] = &["pids", "memory", "freezer", "devices", "cpu"];

pub(crate) fn all(set: &CgroupSet) -> Result<Vec<i32>, CgroupError> {
    let dir = V1_PREFERENCE
        .iter()
        .find_map(|c| set.v1_dir(c))
        .or_else(|| set.unified_dir())
        .or_else(|| set.dirs.first());
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    walk(&dir.path, &mut out)?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A directory that vanished (container already removed, or a sub-cgroup
/// deleted while we walk) simply has no processes.
fn walk(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    match fs::read_to_string(&procs) {
        Ok(s) => out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CgroupError::io("read", procs, e)),
    }
    for sub in super::fs::sub_cgroups(dir)? {
        walk(&sub, out)?;
    }
    Ok(())
}

/// `(pids.max, pids.current)` of the container's pids cgroup when it is at
/// its limit: a new process cannot be forked in it. None when there is no
/// pids limit, room is left, or the files cannot be read.
pub(crate) fn at_limit(set: &CgroupSet) -> Option<(u64, u64)> {
    let dir = set.v1_dir("pids").or_else(|| set.unified_dir())?;
    let read = |f: &str| fs::read_to_string(dir.path.join(f)).ok();
    let max: u64 = read("pids.max")?.trim().parse().ok()?;
    let current: u64 = read("pids.current")?.trim().parse().ok()?;
    (current >= max).then_some((max, current))
}
