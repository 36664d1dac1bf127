//! `linux.resources.unified` passthrough into the cgroup2 directory.

use std::path::Path;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

/// `key` has been checked to be a plain file name by the caller.
pub(crate) fn write(dir: &Path, key: &str, value: &str) -> Result<(), CgroupError> {
    let field = format!("linux.resources.unified[{key:?}]");
    match fs::write(dir, key, value, &field) {
        Err(e) if e.is_not_found() => {
            let ctrl = key.split('.').next().unwrap_or(key);
            Err(CgroupError::unsupported(
                field,
                format!(
                    "{key} does not exist in {}: the {ctrl} controller is not enabled there or the file is unknown to this kernel",
                    dir.display()
                ),
            ))
        }
        r => r,
    }
}
