//! linux.resources.hugepageLimits: one limit per huge page size.

use std::fs;
use std::path::Path;

use oci_spec::runtime::{LinuxHugepageLimit, LinuxResources};

use super::{asked_if, by_version, Placement, Resource, R};
use crate::cgroups::controller::Targets;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs as cgfs;
use crate::cgroups::stats::Stats;
use crate::cgroups::{v1, v2};

pub(super) struct Hugetlb;

fn f(i: usize, name: &str) -> String {
    format!("{R}.hugepageLimits[{i}].{name}")
}

impl Resource for Hugetlb {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        let set = r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty());
        asked_if(set, "hugepageLimits", "hugetlb")
    }

    fn check(&self, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        for (i, l) in r.hugepage_limits().iter().flatten().enumerate() {
            if !valid_page_size(l.page_size()) {
                return Err(CgroupError::invalid(
                    f(i, "pageSize"),
                    format!("{:?}", l.page_size()),
                    "must look like \"2MB\" or \"1GB\"",
                ));
            }
            if l.limit() < -1 {
                return Err(CgroupError::invalid(
                    f(i, "limit"),
                    l.limit(),
                    "must be >= -1",
                ));
            }
        }
        Ok(())
    }

    fn check_host(&self, _p: &dyn Placement, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(limits) = r.hugepage_limits() else {
            return Ok(());
        };
        let sizes = host_hugepage_sizes();
        for (i, l) in limits.iter().enumerate() {
            if !sizes.is_empty() && !sizes.iter().any(|s| s == l.page_size()) {
                return Err(CgroupError::invalid(
                    f(i, "pageSize"),
                    l.page_size(),
                    format!("this host supports {}", sizes.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(l) = r.hugepage_limits() else {
            return Ok(());
        };
        by_version(
            t,
            "hugetlb",
            l.as_slice(),
            v1::hugetlb::apply,
            v2::hugetlb::apply,
        )
    }

    fn stats(&self, t: &Targets, s: &mut Stats) -> Result<(), CgroupError> {
        by_version(
            t,
            "hugetlb",
            &mut s.hugetlb,
            v1::hugetlb::stats,
            v2::hugetlb::stats,
        )
    }
}

/// The error when a size passed the host check but the cgroup lacks its
/// file (hugetlb not enabled for that size).
pub(crate) fn size_missing(i: usize, size: &str, file: &str) -> CgroupError {
    CgroupError::unsupported(
        f(i, "pageSize"),
        format!("{size:?} is not a huge page size of this host ({file} missing)"),
    )
}

/// Sizes of the host's huge pages in the spec's spelling ("2MB", "1GB").
pub(crate) fn host_hugepage_sizes() -> Vec<String> {
    let Ok(rd) = fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(kb_to_page_size(kb))
        })
        .collect();
    v.sort();
    v
}

/// 2048 => "2MB", 1048576 => "1GB", 64 => "64KB" (the kernel's file names).
pub(crate) fn kb_to_page_size(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

/// "2MB", "1GB", "64KB": digits then a unit; also keeps the value safe to
/// splice into a file name.
pub(crate) fn valid_page_size(s: &str) -> bool {
    let Some(num) = s
        .strip_suffix("KB")
        .or_else(|| s.strip_suffix("MB"))
        .or_else(|| s.strip_suffix("GB"))
    else {
        return false;
    };
    !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
}

/// Writes each limit to `hugetlb.<size>.<suffix>` and, where the kernel
/// accounts reservations separately (5.7+), to `hugetlb.<size>.rsvd.<suffix>`
/// too, so that a reserved-but-unfaulted mapping cannot bypass the limit.
/// v1 and v2 differ only in the suffix and in how they spell "no limit".
pub(crate) fn write_limits(
    dir: &Path,
    limits: &[LinuxHugepageLimit],
    suffix: &str,
    value: fn(i64) -> String,
) -> Result<(), CgroupError> {
    for (i, l) in limits.iter().enumerate() {
        let size = l.page_size();
        let file = format!("hugetlb.{size}.{suffix}");
        if !cgfs::exists(dir, &file) {
            return Err(size_missing(i, size, &file));
        }
        let field = f(i, "limit");
        let v = value(l.limit());
        cgfs::write(dir, &file, &v, &field)?;
        let rsvd = format!("hugetlb.{size}.rsvd.{suffix}");
        if cgfs::exists(dir, &rsvd) {
            cgfs::write(dir, &rsvd, &v, &field)?;
        }
    }
    Ok(())
}
