//! Freezing and thawing the container: v1 freezer hierarchy when mounted,
//! otherwise cgroup2's core cgroup.freeze.

use std::time::Duration;

use super::error::CgroupError;
use super::{v1, v2, CgroupSet, Layout};

/// Long enough for a busy container to reach a freezable point; short
/// enough that `kill --all` does not hang on a task stuck in D state.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn set(set: &CgroupSet, frozen: bool) -> Result<(), CgroupError> {
    if let Some(d) = set.v1_dir("freezer") {
        return v1::freezer::set(&d.path, frozen);
    }
    match set.unified_dir() {
        Some(d) if set.layout != Layout::V1 => v2::freezer::set(&d.path, frozen),
        _ => Err(not_available()),
    }
}

pub(crate) fn is_frozen(set: &CgroupSet) -> Result<bool, CgroupError> {
    if let Some(d) = set.v1_dir("freezer") {
        return v1::freezer::is_frozen(&d.path);
    }
    match set.unified_dir() {
        Some(d) if set.layout != Layout::V1 => v2::freezer::is_frozen(&d.path),
        _ => Err(not_available()),
    }
}

fn not_available() -> CgroupError {
    CgroupError::NotMounted("freezer: no v1 freezer hierarchy and no cgroup v2".into())
}
