//! The container's device rules as unit properties: `DevicePolicy=strict`
//! and a `DeviceAllow` list, as runc's systemdProperties makes them.
//!
//! Why: systemd re-applies a unit's settings whenever it likes (a
//! `systemctl set-property`, a `daemon-reload`, any SetUnitProperties such
//! as `docker update`). A scope started without these properties has
//! DevicePolicy=auto, which on cgroup v1 rewrites the devices cgroup to
//! `a *:* rwm`: a container with CAP_MKNOD could then open any host device.
//! On cgroup v2 systemd attaches its own eBPF program next to rcrun's (the
//! kernel requires both to allow an access), so there it only narrows.
//!
//! The rules are first reduced the way the v1 kernel does (a type `a` rule
//! resets to allow-all or deny-all; other rules add or remove exceptions of
//! exactly that type/major/minor), then each allow exception becomes an
//! entry: `char-*`/`block-*` for any major, `char-<major>` (systemd >= 240)
//! or the /proc/devices group name for a major with any minor, and
//! `/dev/char/M:m` / `/dev/block/M:m` for one device. What systemd cannot
//! express (`*:m`, deny exceptions in an allow-all list) is left out with a
//! warning: systemd's list is then narrower, never wider, than rcrun's.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::properties::{Prop, Value};

/// What systemd's version and the kernel's device names change.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// systemd's major version (the Manager's Version property), when known.
    pub systemd_version: Option<u32>,
    /// The text of /proc/devices (needed before systemd 240 only).
    pub proc_devices: String,
}

/// systemd parses `char-<major>` and `/dev/char/M:m` itself from v240 on;
/// before, it looks the name up in /proc/devices and stats the path.
const NUMERIC_SINCE: u32 = 240;

impl Host {
    /// The host as systemd `version` sees it: /proc/devices is read only
    /// for a systemd that needs the names (unreadable: no names, and the
    /// rules that need one are left out).
    pub fn for_version(systemd_version: Option<u32>) -> Host {
        let proc_devices = if systemd_version.is_some_and(|v| v >= NUMERIC_SINCE) {
            String::new()
        } else {
            std::fs::read_to_string("/proc/devices").unwrap_or_default()
        };
        Host {
            systemd_version,
            proc_devices,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Char,
    Block,
}

/// One exception of the v1 device cgroup; `None` is `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exception {
    kind: Kind,
    major: Option<i64>,
    minor: Option<i64>,
    /// Bits of ACCESS ("rwm").
    access: u8,
}

const ACCESS: [char; 3] = ['r', 'w', 'm'];

/// The device cgroup after `rules`, as the v1 kernel keeps it.
#[derive(Debug, PartialEq, Eq)]
struct Emulated {
    default_allow: bool,
    exceptions: Vec<Exception>,
}

fn access_bits(access: Option<&str>) -> u8 {
    let s = access.unwrap_or("");
    ACCESS
        .iter()
        .enumerate()
        .filter(|(_, c)| s.contains(**c))
        .fold(0, |acc, (i, _)| acc | 1 << i)
}

fn access_str(bits: u8) -> String {
    ACCESS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// OCI and runc write a wildcard as a missing number or -1.
fn number(n: Option<i64>) -> Option<i64> {
    n.filter(|v| *v >= 0)
}

fn emulate(rules: &[LinuxDeviceCgroup]) -> Emulated {
    // A new container starts from deny-all (lc_spec puts that rule first;
    // systemd's strict policy starts there too).
    let mut e = Emulated {
        default_allow: false,
        exceptions: Vec::new(),
    };
    for r in rules {
        let kind = match r.typ().unwrap_or_default() {
            LinuxDeviceType::A => {
                e.default_allow = r.allow();
                e.exceptions.clear();
                continue;
            }
            LinuxDeviceType::B => Kind::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => Kind::Char,
            LinuxDeviceType::P => {
                tracing::warn!("systemd: device rule {r} has type p, which the device cgroup does not know: left out");
                continue;
            }
        };
        let ex = Exception {
            kind,
            major: number(r.major()),
            minor: number(r.minor()),
            access: access_bits(r.access().as_deref()),
        };
        if ex.access == 0 {
            continue;
        }
        // An allow rule in a deny-all list (or a deny rule in an allow-all
        // one) adds an exception; the opposite removes access from the
        // exception of exactly that device, as the kernel does.
        let same = e
            .exceptions
            .iter()
            .position(|x| x.kind == ex.kind && x.major == ex.major && x.minor == ex.minor);
        if r.allow() != e.default_allow {
            match same {
                Some(i) => e.exceptions[i].access |= ex.access,
                None => e.exceptions.push(ex),
            }
        } else if let Some(i) = same {
            e.exceptions[i].access &= !ex.access;
            if e.exceptions[i].access == 0 {
                e.exceptions.remove(i);
            }
        }
    }
    e
}

fn prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Char => "char-",
        Kind::Block => "block-",
    }
}

/// `char-<name>` for `major` from /proc/devices ("Character devices:" /
/// "Block devices:" sections of "<major> <name>" lines).
fn group_name(proc_devices: &str, kind: Kind, major: i64) -> Option<String> {
    let header = match kind {
        Kind::Char => "Character devices:",
        Kind::Block => "Block devices:",
    };
    let mut in_section = false;
    for line in proc_devices.lines().map(str::trim) {
        if line.ends_with("devices:") {
            in_section = line == header;
            continue;
        }
        let Some((num, name)) = line.split_once(' ') else {
            continue;
        };
        if in_section && num.parse::<i64>().ok() == Some(major) {
            return Some(format!("{}{}", prefix(kind), name.trim()));
        }
    }
    None
}

/// The DeviceAllow path for one exception, or None (with a warning) when
/// systemd cannot express it.
fn allow_path(ex: &Exception, host: &Host) -> Option<String> {
    let numeric = host.systemd_version.is_some_and(|v| v >= NUMERIC_SINCE);
    let path = match (ex.major, ex.minor) {
        (None, None) => format!("{}*", prefix(ex.kind)),
        (None, Some(minor)) => {
            tracing::warn!("systemd: device rule *:{minor} cannot be a DeviceAllow entry: left out of the unit (the device cgroup still has it until systemd re-applies the unit)");
            return None;
        }
        (Some(major), None) if numeric => format!("{}{major}", prefix(ex.kind)),
        (Some(major), None) => match group_name(&host.proc_devices, ex.kind, major) {
            Some(g) => g,
            None => {
                tracing::warn!("systemd: no /proc/devices name for major {major}: device rule {major}:* left out of the unit");
                return None;
            }
        },
        (Some(major), Some(minor)) => {
            let dir = match ex.kind {
                Kind::Char => "char",
                Kind::Block => "block",
            };
            let p = format!("/dev/{dir}/{major}:{minor}");
            // Older systemd stats the path and skips it when missing.
            if !numeric && !std::path::Path::new(&p).exists() {
                return None;
            }
            p
        }
    };
    Some(path)
}

/// The properties for the device rules `rules` (the effective list, the
/// defaults included): always a reset of DeviceAllow first, since on an
/// existing unit each DeviceAllow appends.
pub fn properties(rules: &[LinuxDeviceCgroup], host: &Host) -> Vec<Prop> {
    let reset = ("DeviceAllow", Value::DeviceAllow(Vec::new()));
    let e = emulate(rules);
    if e.default_allow {
        if e.exceptions.is_empty() {
            // Allow-all (privileged): systemd's "auto" with no list.
            return vec![reset, ("DevicePolicy", Value::Str("auto".into()))];
        }
        tracing::warn!("systemd: deny rules in an allow-all device list cannot be DeviceAllow entries: the unit gets deny-all (runc does the same)");
    }
    let mut props = vec![reset, ("DevicePolicy", Value::Str("strict".into()))];
    if e.default_allow {
        return props;
    }
    let list: Vec<(String, String)> = e
        .exceptions
        .iter()
        .filter_map(|ex| allow_path(ex, host).map(|p| (p, access_str(ex.access))))
        .collect();
    props.push(("DeviceAllow", Value::DeviceAllow(list)));
    props
}

/// The Manager's Version ("252.38-1~deb12u1", "v257") as a major number.
pub fn parse_version(v: &str) -> Option<u32> {
    let digits: String = v
        .trim()
        .trim_start_matches('v')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
