//! v1 hugetlb: per page size limits.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;
use crate::cgroups::resource::hugetlb::{host_hugepage_sizes, write_limits};

pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    write_limits(dir, limits, "limit_in_bytes", |v| v.to_string())
}

pub(crate) fn stats(
    dir: &Path,
    out: &mut std::collections::BTreeMap<String, crate::cgroups::stats::Hugetlb>,
) -> Result<(), CgroupError> {
    for size in host_hugepage_sizes() {
        let p = |f: &str| format!("hugetlb.{size}.{f}");
        if !fs::exists(dir, &p("usage_in_bytes")) {
            continue;
        }
        let h = crate::cgroups::stats::Hugetlb {
            usage: fs::read_u64(dir, &p("usage_in_bytes"))?,
            max: fs::read_u64(dir, &p("max_usage_in_bytes"))?,
            failcnt: fs::read_u64(dir, &p("failcnt"))?,
        };
        out.insert(size, h);
    }
    Ok(())
}
