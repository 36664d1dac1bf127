//! The device cgroup, for both launch paths: the spec's rules, then the
//! devices every container gets (libcgroups' defaults, so that ours and
//! libcontainer's process setup agree). v1: the devices hierarchy's
//! allow/deny files; v2: libcgroups' eBPF program.

use std::fs;

use oci_spec::runtime::{LinuxDeviceCgroup, Spec};

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
        lines.extend(DEFAULT_DEVICE_RULES.iter().map(|s| (true, s.to_string())));
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

/// libcgroups' default_devices() and default_allow_devices(), as v1 rules.
const DEFAULT_DEVICE_RULES: &[&str] = &[
    "c 1:3 rwm",    // /dev/null
    "c 1:5 rwm",    // /dev/zero
    "c 1:7 rwm",    // /dev/full
    "c 5:0 rwm",    // /dev/tty
    "c 1:9 rwm",    // /dev/urandom
    "c 1:8 rwm",    // /dev/random
    "c *:* m",      // mknod of any char device
    "b *:* m",      // mknod of any block device
    "c 5:1 rwm",    // /dev/console
    "c 136:* rwm",  // /dev/pts/*
    "c 5:2 rwm",    // /dev/ptmx
    "c 10:200 rwm", // /dev/net/tun
];
