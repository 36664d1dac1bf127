//! linux.resources.cpu.cpus and .mems: the cpuset controller.

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::{asked_if, by_version, Resource, R};
use crate::cgroups::controller::{Target, Targets};
use crate::cgroups::error::CgroupError;
use crate::cgroups::stats::Stats;
use crate::cgroups::{v1, v2};

pub(super) struct Cpuset;

fn asked(c: &LinuxCpu) -> bool {
    c.cpus().as_ref().is_some_and(|s| !s.trim().is_empty())
        || c.mems().as_ref().is_some_and(|s| !s.trim().is_empty())
}

impl Resource for Cpuset {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        asked_if(r.cpu().as_ref().is_some_and(asked), "cpu.cpus", "cpuset")
    }

    fn check(&self, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(c) = r.cpu() else {
            return Ok(());
        };
        for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
            if let Some(v) = v {
                if !valid_cpu_list(v) {
                    return Err(CgroupError::invalid(
                        format!("{R}.cpu.{name}"),
                        format!("{v:?}"),
                        "must be a list like \"0-3,6\"",
                    ));
                }
            }
        }
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(c) = r.cpu().as_ref().filter(|c| asked(c)) else {
            return Ok(());
        };
        by_version(t, "cpuset", c, v1::cpuset::apply, v2::cpuset::apply)
    }

    fn stats(&self, t: &Targets, s: &mut Stats) -> Result<(), CgroupError> {
        match t.get("cpuset") {
            Target::V1(d) => v1::cpuset::stats(d, "cpuset.cpus", "cpuset.mems", &mut s.cpuset),
            Target::V2(d) => v1::cpuset::stats(
                d,
                "cpuset.cpus.effective",
                "cpuset.mems.effective",
                &mut s.cpuset,
            ),
            Target::Missing => Ok(()),
        }
    }
}

/// "0-3,5,7-8" (cpuset list syntax, ranges low-high); empty means unset.
pub(crate) fn valid_cpu_list(s: &str) -> bool {
    let s = s.trim();
    let num = |x: &str| {
        if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        x.parse::<u64>().ok()
    };
    s.is_empty()
        || s.split(',').all(|part| match part.split_once('-') {
            None => num(part).is_some(),
            Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
        })
}
