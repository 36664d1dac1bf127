//! v1 net_cls and net_prio (cgroup v2 has no equivalent).

use std::path::Path;

use oci_spec::runtime::LinuxInterfacePriority;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

pub(crate) fn apply_class_id(dir: &Path, id: u32) -> Result<(), CgroupError> {
    fs::write(
        dir,
        "net_cls.classid",
        &id.to_string(),
        "linux.resources.network.classID",
    )
}

pub(crate) fn apply_priorities(
    dir: &Path,
    prios: &[LinuxInterfacePriority],
) -> Result<(), CgroupError> {
    for (i, p) in prios.iter().enumerate() {
        let line = format!("{} {}", p.name(), p.priority());
        let field = format!("linux.resources.network.priorities[{i}]");
        fs::write(dir, "net_prio.ifpriomap", &line, &field)?;
    }
    Ok(())
}
