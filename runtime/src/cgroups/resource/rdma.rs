//! linux.resources.rdma: rdma.max, same file and syntax on v1 and v2.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{LinuxRdma, LinuxResources};

use super::{asked_if, valid_name, Resource, R};
use crate::cgroups::controller::{Target, Targets};
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

pub(super) struct Rdma;

impl Resource for Rdma {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        asked_if(
            r.rdma().as_ref().is_some_and(|m| !m.is_empty()),
            "rdma",
            "rdma",
        )
    }

    fn check(&self, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        for dev in r.rdma().iter().flat_map(|m| m.keys()) {
            if !valid_name(dev) {
                return Err(CgroupError::invalid(
                    format!("{R}.rdma"),
                    format!("{dev:?}"),
                    "must be an RDMA device name",
                ));
            }
        }
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        match (r.rdma(), t.get("rdma")) {
            (Some(m), Target::V1(d) | Target::V2(d)) => write(d, m),
            _ => Ok(()),
        }
    }
}

fn write(dir: &Path, m: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    let mut devs: Vec<&String> = m.keys().collect();
    devs.sort();
    for dev in devs {
        let Some(r) = m.get(dev) else { continue };
        let num = |v: Option<u32>| v.map_or("max".to_string(), |v| v.to_string());
        let line = format!(
            "{dev} hca_handle={} hca_object={}",
            num(r.hca_handles()),
            num(r.hca_objects())
        );
        fs::write(dir, "rdma.max", &line, &format!("{R}.rdma[{dev:?}]"))?;
    }
    Ok(())
}
