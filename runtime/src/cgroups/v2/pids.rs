//! v2 pids: pids.max, same syntax as v1.

use std::path::Path;

use crate::cgroups::error::CgroupError;

pub(crate) fn apply(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    crate::cgroups::v1::pids::apply(dir, limit)
}
