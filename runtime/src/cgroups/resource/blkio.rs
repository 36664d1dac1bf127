//! linux.resources.blockIO: weights and throttling (v1 blkio, v2 io).

use oci_spec::runtime::{LinuxBlockIo, LinuxResources};

use super::{asked_if, by_version, Resource, R};
use crate::cgroups::controller::Targets;
use crate::cgroups::error::CgroupError;
use crate::cgroups::stats::Stats;
use crate::cgroups::{v1, v2};

pub(super) struct Blkio;

fn f(name: &str) -> String {
    format!("{R}.blockIO.{name}")
}

impl Resource for Blkio {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        let set = r.block_io().as_ref().is_some_and(|b| {
            b.weight().unwrap_or(0) != 0
                || b.leaf_weight().unwrap_or(0) != 0
                || [
                    b.throttle_read_bps_device(),
                    b.throttle_write_bps_device(),
                    b.throttle_read_iops_device(),
                    b.throttle_write_iops_device(),
                ]
                .iter()
                .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
                || b.weight_device().as_ref().is_some_and(|l| !l.is_empty())
        });
        asked_if(set, "blockIO", "blkio")
    }

    fn check(&self, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        match r.block_io() {
            Some(b) => check(b),
            None => Ok(()),
        }
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(b) = r.block_io() else {
            return Ok(());
        };
        by_version(t, "blkio", b, v1::blkio::apply, v2::io::apply)
    }

    fn stats(&self, t: &Targets, s: &mut Stats) -> Result<(), CgroupError> {
        by_version(t, "blkio", &mut s.blkio, v1::blkio::stats, v2::io::stats)
    }
}

fn check(b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let weight_ok = |w: u16| w == 0 || (10..=1000).contains(&w);
    for (name, w) in [("weight", b.weight()), ("leafWeight", b.leaf_weight())] {
        if let Some(w) = w {
            if !weight_ok(w) {
                return Err(CgroupError::invalid(f(name), w, "must be 10..1000"));
            }
        }
    }
    let bad_device = |field: String, major: i64, minor: i64| {
        CgroupError::invalid(
            field,
            format!("{major}:{minor}"),
            "major and minor must be >= 0",
        )
    };
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        for (name, w) in [("weight", d.weight()), ("leafWeight", d.leaf_weight())] {
            if let Some(w) = w {
                if !weight_ok(w) {
                    return Err(CgroupError::invalid(
                        f(&format!("weightDevice[{i}].{name}")),
                        w,
                        "must be 10..1000",
                    ));
                }
            }
        }
        if d.major() < 0 || d.minor() < 0 {
            return Err(bad_device(
                f(&format!("weightDevice[{i}]")),
                d.major(),
                d.minor(),
            ));
        }
    }
    for (name, list) in [
        ("throttleReadBpsDevice", b.throttle_read_bps_device()),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device()),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device()),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device()),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            if d.major() < 0 || d.minor() < 0 {
                return Err(bad_device(f(&format!("{name}[{i}]")), d.major(), d.minor()));
            }
        }
    }
    Ok(())
}
