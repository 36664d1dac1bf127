//! The device cgroup, for both launch paths: the spec's rules, then the
//! devices every container gets (libcgroups' defaults, so that ours and
//! libcontainer's process setup agree). v1: the devices hierarchy's
//! allow/deny files; v2: libcgroups' eBPF program.

use std::fs;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, Spec};

use super::{CgroupSet, Layout};
use crate::error::{Error, Result};

/// Writes the device rules of `spec` (as lc_spec made them: deny-all
/// first) into the container's device cgroup.
pub fn apply(spec: &Spec, cg: &CgroupSet) -> Result<()> {
    apply_rules(rules_of(spec), cg)
}

/// The device rules lc_spec put in `spec`.
pub fn rules_of(spec: &Spec) -> Option<Vec<LinuxDeviceCgroup>> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
}

/// [`apply`] with the rules already taken out of the spec.
pub fn apply_rules(rules: Option<Vec<LinuxDeviceCgroup>>, cg: &CgroupSet) -> Result<()> {
    if let Some(d) = cg.v1_dir("devices") {
        let mut lines: Vec<(bool, String)> = rules
            .iter()
            .flatten()
            .map(|r| (r.allow(), r.to_string()))
            .collect();
        lines.extend(default_rules().iter().map(|r| (true, r.to_string())));
        for (allow, line) in lines {
            let file = if allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            let path = d.path.join(file);
            fs::write(&path, &line).map_err(|e| {
                Error::launch(
                    format!(
                        "linux.resources.devices: write {line:?} to {}",
                        path.display()
                    ),
                    e,
                )
            })?;
        }
        return Ok(());
    }
    if cg.layout == Layout::V1 {
        return Ok(());
    }
    if let Some(u) = cg.unified_dir() {
        libcgroups::v2::devices::Devices::apply_devices(&u.path, &rules)
            .map_err(|e| Error::launch("linux.resources.devices (eBPF)", e))?;
    }
    Ok(())
}

/// libcgroups' default_devices() and default_allow_devices(): type,
/// major, minor (`None` is `*`), access.
const DEFAULT_DEVICE_RULES: &[(LinuxDeviceType, Option<i64>, Option<i64>, &str)] = &[
    (LinuxDeviceType::C, Some(1), Some(3), "rwm"), // /dev/null
    (LinuxDeviceType::C, Some(1), Some(5), "rwm"), // /dev/zero
    (LinuxDeviceType::C, Some(1), Some(7), "rwm"), // /dev/full
    (LinuxDeviceType::C, Some(5), Some(0), "rwm"), // /dev/tty
    (LinuxDeviceType::C, Some(1), Some(9), "rwm"), // /dev/urandom
    (LinuxDeviceType::C, Some(1), Some(8), "rwm"), // /dev/random
    (LinuxDeviceType::C, None, None, "m"),         // mknod of any char device
    (LinuxDeviceType::B, None, None, "m"),         // mknod of any block device
    (LinuxDeviceType::C, Some(5), Some(1), "rwm"), // /dev/console
    (LinuxDeviceType::C, Some(136), None, "rwm"),  // /dev/pts/*
    (LinuxDeviceType::C, Some(5), Some(2), "rwm"), // /dev/ptmx
    (LinuxDeviceType::C, Some(10), Some(200), "rwm"), // /dev/net/tun
];

/// The rules in the order the device cgroup gets them: the container's
/// (deny-all first, see lc_spec), then the defaults.
pub fn effective_rules(rules: Option<&[LinuxDeviceCgroup]>) -> Vec<LinuxDeviceCgroup> {
    let mut all = rules.map(<[_]>::to_vec).unwrap_or_default();
    all.extend(default_rules());
    all
}

/// The allow rules every container gets after its own.
pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    DEFAULT_DEVICE_RULES
        .iter()
        .map(|&(typ, major, minor, access)| {
            let mut r = LinuxDeviceCgroup::default();
            r.set_allow(true)
                .set_typ(Some(typ))
                .set_major(major)
                .set_minor(minor)
                .set_access(Some(access.to_string()));
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_as_v1_lines() {
        let lines: Vec<String> = default_rules().iter().map(|r| r.to_string()).collect();
        assert_eq!(lines[0], "c 1:3 rwm");
        assert!(lines.contains(&"c *:* m".to_string()), "{lines:?}");
        assert!(lines.contains(&"b *:* m".to_string()), "{lines:?}");
        assert!(lines.contains(&"c 136:* rwm".to_string()), "{lines:?}");
        assert!(default_rules().iter().all(|r| r.allow()));
    }
}
