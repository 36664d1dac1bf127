//! v1 hugetlb: per page size limits.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;
use crate::cgroups::resource::hugetlb::{host_hugepage_sizes, size_missing};

pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for (i, l) in limits.iter().enumerate() {
        let size = l.page_size();
        let file = format!("hugetlb.{size}.limit_in_bytes");
        if !fs::exists(dir, &file) {
            return Err(size_missing(i, size, &file));
        }
        let field = format!("linux.resources.hugepageLimits[{i}].limit");
        let v = l.limit().to_string();
        fs::write(dir, &file, &v, &field)?;
        // Reservations are accounted separately since 5.7; limit them too so
        // that a reserved-but-unfaulted mapping cannot bypass the limit.
        let rsvd = format!("hugetlb.{size}.rsvd.limit_in_bytes");
        if fs::exists(dir, &rsvd) {
            fs::write(dir, &rsvd, &v, &field)?;
        }
    }
    Ok(())
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
