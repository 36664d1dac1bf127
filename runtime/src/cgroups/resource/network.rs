//! linux.resources.network: v1 net_cls (classID) and net_prio
//! (priorities); cgroup v2 has neither.

use oci_spec::runtime::LinuxResources;

use super::{valid_name, Resource, R};
use crate::cgroups::controller::{Target, Targets};
use crate::cgroups::error::CgroupError;
use crate::cgroups::v1;

pub(super) struct Network;

impl Resource for Network {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        let mut v = Vec::new();
        if let Some(n) = r.network() {
            if n.class_id().is_some() {
                v.push((format!("{R}.network.classID"), "net_cls"));
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                v.push((format!("{R}.network.priorities"), "net_prio"));
            }
        }
        v
    }

    fn check(&self, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(n) = r.network() else {
            return Ok(());
        };
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            if !valid_name(p.name()) {
                return Err(CgroupError::invalid(
                    format!("{R}.network.priorities[{i}].name"),
                    format!("{:?}", p.name()),
                    "must be an interface name",
                ));
            }
        }
        Ok(())
    }

    /// Only v1 has these controllers; `asked` made sure they are there.
    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(n) = r.network() else {
            return Ok(());
        };
        if let (Some(id), Target::V1(d)) = (n.class_id(), t.get("net_cls")) {
            v1::net::apply_class_id(d, id)?;
        }
        if let (Some(p), Target::V1(d)) = (n.priorities(), t.get("net_prio")) {
            v1::net::apply_priorities(d, p)?;
        }
        Ok(())
    }
}
