//! v1 cpuset: cpus and memory nodes.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

/// Shared by v2, whose cpuset files have the same names and syntax.
pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(cpus) = c.cpus().as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        fs::write(dir, "cpuset.cpus", cpus, "linux.resources.cpu.cpus")?;
    }
    if let Some(mems) = c.mems().as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        fs::write(dir, "cpuset.mems", mems, "linux.resources.cpu.mems")?;
    }
    Ok(())
}

/// `cpus_file`/`mems_file` differ on v2 (the ".effective" files).
pub(crate) fn stats(
    dir: &Path,
    cpus_file: &str,
    mems_file: &str,
    s: &mut crate::cgroups::stats::CpuSet,
) -> Result<(), CgroupError> {
    use crate::cgroups::stats::parse_list;
    if let Ok(c) = fs::read_string(dir, cpus_file) {
        s.cpus = parse_list(&c);
    }
    if let Ok(m) = fs::read_string(dir, mems_file) {
        s.mems = parse_list(&m);
    }
    Ok(())
}
