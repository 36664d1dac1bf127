//! v2 cpuset: same file names and syntax as v1.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::cgroups::error::CgroupError;

pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    crate::cgroups::v1::cpuset::apply(dir, c)
}
