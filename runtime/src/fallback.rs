//! Which specs our own launch (launch.rs) cannot serve: those go through
//! libcontainer's full process setup (lc_builder.rs) instead.

use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// Why `spec` needs libcontainer's own process setup, or None when ours
/// does everything it asks for.
pub fn fallback_reason(spec: &Spec) -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root (rootless needs libcontainer's setup)");
    }
    let linux = spec.linux().as_ref()?;
    for ns in linux.namespaces().iter().flatten() {
        match ns.typ() {
            LinuxNamespaceType::User => return Some("user namespace"),
            LinuxNamespaceType::Time => return Some("time namespace"),
            LinuxNamespaceType::Pid if ns.path().is_some() => {
                return Some("joining an existing pid namespace")
            }
            _ => {}
        }
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Some("linux.netDevices");
    }
    if linux.intel_rdt().is_some() {
        return Some("linux.intelRdt");
    }
    let idmapped = spec.mounts().iter().flatten().any(|m| {
        m.uid_mappings().is_some()
            || m.gid_mappings().is_some()
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "idmap" || o == "ridmap")
    });
    if idmapped {
        return Some("idmapped mounts");
    }
    if linux
        .seccomp()
        .as_ref()
        .is_some_and(libcontainer::seccomp::is_notify)
    {
        return Some("seccomp notify listener");
    }
    None
}

/// Environment-free helper for tests: the fallback reason of a spec given
/// as JSON.
#[cfg(test)]
fn reason_of(json: &str) -> Option<&'static str> {
    let spec: Spec = serde_json::from_str(json).ok()?;
    fallback_reason(&spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallbacks() {
        if !nix::unistd::geteuid().is_root() {
            crate::test_skip::skip("needs root");
            return;
        }
        let base = r#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","args":["x"],"user":{"uid":0,"gid":0}},"linux":{"namespaces":NS}}"#;
        let with = |ns: &str| base.replace("NS", ns);
        assert_eq!(
            reason_of(&with(r#"[{"type":"pid"},{"type":"mount"}]"#)),
            None
        );
        assert_eq!(
            reason_of(&with(r#"[{"type":"user"}]"#)),
            Some("user namespace")
        );
        assert_eq!(
            reason_of(&with(r#"[{"type":"pid","path":"/proc/1/ns/pid"}]"#)),
            Some("joining an existing pid namespace")
        );
    }
}
