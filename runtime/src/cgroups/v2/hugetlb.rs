//! v2 hugetlb: hugetlb.<size>.max (and .rsvd.max). On hybrid hosts this is
//! the only hugetlb there is.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;
use crate::cgroups::resource::hugetlb::{host_hugepage_sizes, write_limits};

pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    write_limits(dir, limits, "max", fs::v2_limit)
}

/// v2 has no max usage; failures are the "max" count of hugetlb.<size>.events.
pub(crate) fn stats(
    dir: &Path,
    out: &mut std::collections::BTreeMap<String, crate::cgroups::stats::Hugetlb>,
) -> Result<(), CgroupError> {
    for size in host_hugepage_sizes() {
        let current = format!("hugetlb.{size}.current");
        if !fs::exists(dir, &current) {
            continue;
        }
        let events = fs::read_flat_keyed_opt(dir, &format!("hugetlb.{size}.events"))?;
        let h = crate::cgroups::stats::Hugetlb {
            usage: fs::read_u64(dir, &current)?,
            max: 0,
            failcnt: events.get("max").copied().unwrap_or(0),
        };
        out.insert(size, h);
    }
    Ok(())
}
