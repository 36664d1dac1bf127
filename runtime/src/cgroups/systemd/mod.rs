//! The systemd cgroup driver (`--systemd-cgroup`), as runc's: the
//! container's cgroup is a transient scope unit `<prefix>-<name>.scope`
//! that systemd creates in the slice named by cgroupsPath
//! (`slice:prefix:name`), with `Delegate=yes` and the resource properties
//! systemd knows. Everything else is the cgroupfs code's, on the scope's
//! directories: the other v1 hierarchies, and the files systemd has no
//! property for, so that the result on disk equals the cgroupfs driver's.
//!
//! systemd needs a process to create a scope: the unit is started when the
//! init exists and waits to be placed ([`place`]), with the init's pid.

pub mod annotations;
mod dbus;
pub mod devices;
mod isolated;
mod private_socket;
pub mod properties;
pub mod slice;

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::error::CgroupError;
use super::{controller, CgroupSet, Hierarchies, Layout};
use dbus::Systemd;

/// What the state keeps of a container whose cgroup is a systemd unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// `docker-<id>.scope` (or a `.slice` when cgroupsPath names one).
    pub name: String,
    /// The slice it is in, e.g. `system.slice`.
    pub slice: String,
    /// Used in the unit's Description.
    #[serde(default)]
    pub id: String,
}

#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SystemdError {
    #[error("linux.cgroupsPath: {value:?} is invalid for the systemd cgroup driver ({reason})")]
    BadPath { value: String, reason: String },

    /// Neither the system bus nor systemd's private socket answered.
    #[error("systemd: cannot connect (system bus {bus_address}: {bus_err}; private socket {private_address}: {private_err}); the systemd cgroup driver needs systemd as PID 1")]
    Connect {
        bus_address: String,
        bus_err: String,
        private_address: String,
        private_err: String,
    },

    /// systemd refused a call; `name` is its D-Bus error name.
    #[error("systemd: {method} {unit}: {reason}")]
    Call {
        method: String,
        unit: String,
        name: Option<String>,
        reason: String,
    },

    /// A start or stop job did not end in "done".
    #[error("systemd: {method} {unit}: {result}")]
    Job {
        method: String,
        unit: String,
        result: String,
    },

    /// The child process that talks to systemd failed (see isolated.rs).
    #[error("systemd: {0}")]
    Helper(String),
}

impl SystemdError {
    pub fn kind(&self) -> crate::error::Kind {
        match self {
            SystemdError::BadPath { .. } => crate::error::Kind::InvalidInput,
            _ => crate::error::Kind::Internal,
        }
    }
}

/// Whether systemd is PID 1 here (sd_booted(3)'s test).
pub fn booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The container's cgroup set for the systemd driver: in every hierarchy,
/// `<mount>/<expanded slice>/<unit>`, where systemd puts the unit (and
/// where rcrun makes it in the hierarchies systemd does not manage).
pub(crate) fn resolve(
    h: &Hierarchies,
    cgroups_path: Option<&str>,
    id: &str,
) -> Result<CgroupSet, CgroupError> {
    let u = slice::parse(cgroups_path, id)?;
    if !booted() {
        return Err(CgroupError::unsupported(
            "--systemd-cgroup",
            "systemd is not running as PID 1 here (no /run/systemd/system): use the cgroupfs driver",
        ));
    }
    let mut set = CgroupSet::build(h, |_, mount, _| Ok(mount.join(&u.relative)))?;
    set.systemd = Some(Unit {
        name: u.unit,
        slice: u.slice,
        id: id.to_string(),
    });
    Ok(set)
}

fn unit_path(u: &Unit) -> slice::UnitPath {
    let relative = slice::expand_slice(&u.slice)
        .map(|s| Path::new(s.trim_start_matches('/')).join(&u.name))
        .unwrap_or_default();
    slice::UnitPath {
        slice: u.slice.clone(),
        unit: u.name.clone(),
        relative,
    }
}

/// The device properties for `rules` (the effective list), named the way
/// this systemd understands.
fn device_props(sd: &Systemd, rules: &[LinuxDeviceCgroup]) -> Vec<properties::Prop> {
    devices::properties(rules, &devices::Host::for_version(sd.version()))
}

/// Starts the unit with `pid` (the init, still waiting) in it, the
/// properties of `r`, the device rules `devs` (see [`devices`]) and last,
/// so that they win as with runc, the annotations' `extra` ones; makes
/// the unit's directory in the hierarchies systemd does not manage and
/// writes `r` to the files. The caller then puts `pid` in every hierarchy.
pub(crate) fn start(
    set: &CgroupSet,
    unit: &Unit,
    pid: i32,
    r: Option<&LinuxResources>,
    devs: &[LinuxDeviceCgroup],
    extra: &[(String, properties::Value)],
) -> Result<(), CgroupError> {
    let v2 = set.layout == Layout::V2;
    let mut props = properties::for_new_unit(&unit_path(unit), &unit.id, pid, v2);
    if let Some(r) = r {
        props.extend(properties::for_resources(r, v2)?);
    }
    tracing::debug!(unit = %unit.name, slice = %unit.slice, pid, "systemd: starting the unit");
    isolated::run(|| {
        let sd = Systemd::connect()?;
        props.extend(device_props(&sd, devs));
        let mut all: Vec<(&str, properties::Value)> = props.into_iter().collect();
        all.extend(extra.iter().map(|(n, v)| (n.as_str(), v.clone())));
        sd.start_unit(&unit.name, &all)
    })?;
    let mut made = Vec::new();
    for d in &set.dirs {
        controller::create_dir(d, &mut made)?;
    }
    if let Some(r) = r {
        set.apply(r)?;
    }
    Ok(())
}

/// `rcrun update`'s properties, set before the caller writes the files:
/// systemd re-applies its own view of the limits (daemon-reload, another
/// property change), which must be the new ones. The device rules `devs`
/// are sent again too (as runc does), so that a unit started without them
/// gets them. On a v1 devices hierarchy systemd rewrites the rules
/// deny-all first, so the container is frozen meanwhile (as runc does):
/// otherwise its processes could see a spurious EPERM on /dev/null.
pub(crate) fn update(
    set: &CgroupSet,
    unit: &Unit,
    r: &LinuxResources,
    devs: Option<&[LinuxDeviceCgroup]>,
) -> Result<(), CgroupError> {
    let mut props = properties::for_resources(r, set.layout == Layout::V2)?;
    let freeze =
        devs.is_some() && set.v1_dir("devices").is_some() && !set.is_frozen().unwrap_or(true);
    let frozen = freeze
        && set
            .freeze()
            .inspect_err(
                |e| tracing::warn!(unit = %unit.name, "freeze before SetUnitProperties: {e}"),
            )
            .is_ok();
    let res = isolated::run(|| {
        let sd = Systemd::connect()?;
        if let Some(devs) = devs {
            props.extend(device_props(&sd, devs));
        }
        sd.set_properties(&unit.name, &props)
    });
    if frozen {
        set.thaw()?;
    }
    Ok(res?)
}

/// Stops the unit (systemd removes its cgroup) and forgets a failed one.
/// Without systemd there is no unit to stop; nor when systemd cannot be
/// reached and the unit has no cgroup (a create that failed to connect
/// never started it: its one error line is enough).
pub(crate) fn stop(unit: &Unit, has_cgroup: bool) -> Result<(), CgroupError> {
    if !booted() {
        return Ok(());
    }
    tracing::debug!(unit = %unit.name, "systemd: stopping the unit");
    match isolated::run(|| Systemd::connect()?.stop_unit(&unit.name)) {
        Err(e @ SystemdError::Connect { .. }) if !has_cgroup => {
            tracing::debug!(unit = %unit.name, "no cgroup, nothing to stop: {e}");
            Ok(())
        }
        res => Ok(res?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_line_naming_the_unit_and_reason() {
        let e = SystemdError::Call {
            method: "StartTransientUnit".into(),
            unit: "docker-abc.scope".into(),
            name: Some("org.freedesktop.systemd1.UnitExists".into()),
            reason: "Unit docker-abc.scope already exists.".into(),
        };
        assert_eq!(
            e.to_string(),
            "systemd: StartTransientUnit docker-abc.scope: Unit docker-abc.scope already exists."
        );
        let e = CgroupError::from(SystemdError::Connect {
            bus_address: "unix:path=/run/dbus/system_bus_socket".into(),
            bus_err: "No such file or directory".into(),
            private_address: "unix:path=/run/systemd/private".into(),
            private_err: "Connection refused".into(),
        });
        assert!(e.to_string().starts_with("systemd: cannot connect (system bus unix:path=/run/dbus/system_bus_socket: No such file"), "{e}");
        assert!(
            e.to_string()
                .contains("private socket unix:path=/run/systemd/private: Connection refused"),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn unit_path_round_trips_through_the_state() {
        let u = slice::parse(Some("a-b.slice:cri-containerd:x1"), "x1").unwrap();
        let unit = Unit {
            name: u.unit.clone(),
            slice: u.slice.clone(),
            id: "x1".into(),
        };
        assert_eq!(unit_path(&unit), u);
    }

    #[test]
    fn resolve_puts_the_unit_in_every_hierarchy() {
        let h = crate::cgroups::mountinfo::parse(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            "4:memory:/user.slice\n1:name=systemd:/user.slice\n0::/user.slice\n",
        )
        .unwrap();
        let e = resolve(&h, Some("/docker/abc"), "abc")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.cgroupsPath: \"/docker/abc\""), "{e}");
        if !booted() {
            let e = resolve(&h, Some("system.slice:docker:abc"), "abc").unwrap_err();
            assert!(e
                .to_string()
                .starts_with("--systemd-cgroup: systemd is not running"));
            return;
        }
        let set = resolve(&h, Some("system.slice:docker:abc"), "abc").unwrap();
        assert!(!set.dirs.is_empty());
        for d in &set.dirs {
            assert_eq!(
                d.path,
                d.mount.join("system.slice/docker-abc.scope"),
                "{d:?}"
            );
        }
        assert_eq!(set.systemd.as_ref().unwrap().name, "docker-abc.scope");
        let e = resolve(&h, Some("/docker/abc"), "abc")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.cgroupsPath: \"/docker/abc\""), "{e}");
    }
}
