//! linux.resources.pids: the task limit (pids.max on v1 and v2).

use oci_spec::runtime::LinuxResources;

use super::{asked_if, by_version, Resource};
use crate::cgroups::controller::{Target, Targets};
use crate::cgroups::error::CgroupError;
use crate::cgroups::stats::Stats;
use crate::cgroups::{v1, v2};

pub(super) struct Pids;

impl Resource for Pids {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        asked_if(r.pids().is_some(), "pids", "pids")
    }

    /// Any i64 is valid: <= 0 means unlimited.
    fn check(&self, _r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(p) = r.pids() else {
            return Ok(());
        };
        by_version(t, "pids", p.limit(), v1::pids::apply, v2::pids::apply)
    }

    fn stats(&self, t: &Targets, s: &mut Stats) -> Result<(), CgroupError> {
        match t.get("pids") {
            Target::V1(d) | Target::V2(d) => v1::pids::stats(d, &mut s.pids),
            Target::Missing => Ok(()),
        }
    }
}
