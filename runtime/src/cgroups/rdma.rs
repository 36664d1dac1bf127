//! rdma.max: same file and syntax on v1 and v2.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::LinuxRdma;

use super::error::CgroupError;
use super::fs;

pub(crate) fn apply(dir: &Path, m: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
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
        fs::write(
            dir,
            "rdma.max",
            &line,
            &format!("linux.resources.rdma[{dev:?}]"),
        )?;
    }
    Ok(())
}
