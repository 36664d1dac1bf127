//! linux.resources.pids: the task limit (pids.max on v1 and v2).

use oci_spec::runtime::LinuxResources;

use super::{Resource, R};
use crate::cgroups::controller::{Target, Targets};
use crate::cgroups::error::CgroupError;
use crate::cgroups::stats::Stats;
use crate::cgroups::{v1, v2};

pub(super) struct Pids;

impl Resource for Pids {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        match r.pids() {
            Some(_) => vec![(format!("{R}.pids"), "pids")],
            None => Vec::new(),
        }
    }

    /// Any i64 is valid: <= 0 means unlimited.
    fn check(&self, _r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(p) = r.pids() else {
            return Ok(());
        };
        match t.get("pids") {
            Target::V1(d) => v1::pids::apply(d, p.limit()),
            Target::V2(d) => v2::pids::apply(d, p.limit()),
            Target::Missing => Ok(()),
        }
    }

    fn stats(&self, t: &Targets, s: &mut Stats) -> Result<(), CgroupError> {
        match t.get("pids") {
            Target::V1(d) | Target::V2(d) => v1::pids::stats(d, &mut s.pids),
            Target::Missing => Ok(()),
        }
    }
}
