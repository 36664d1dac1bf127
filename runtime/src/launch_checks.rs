//! The checks both launch paths (ours in launch.rs, libcontainer's in
//! lc_builder.rs) make on the spec before any process exists: those
//! libcontainer's init builder makes, and its rules for terminal and
//! console socket, said naming the field.

use oci_spec::runtime::Spec;

use crate::error::{Error, Result, SpecError};

/// The spec checks libcontainer's init builder makes before anything
/// exists, plus an AppArmor profile on a host without AppArmor.
pub fn validate(spec: &Spec) -> Result<()> {
    libcontainer::validator::Validator::validate_spec(spec).map_err(|e| Error::SpecRejected {
        field: None,
        source: Box::new(e),
    })?;
    crate::seccomp_listener::check(spec)?;
    if let Some(profile) = spec
        .process()
        .as_ref()
        .and_then(|p| p.apparmor_profile().as_ref())
    {
        let enabled = libcontainer::apparmor::is_enabled().unwrap_or(false);
        if !enabled {
            return Err(SpecError::new(
                "process.apparmorProfile",
                format!("{profile:?}"),
                ": AppArmor is not enabled on this host",
            )
            .into());
        }
    }
    // The spec wants the full path inside the container; a relative one
    // would be created relative to whatever directory the init is in.
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in devices.into_iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            return Err(SpecError::new(
                format!("linux.devices[{i}].path"),
                format!("{:?}", d.path()),
                "is not an absolute path",
            )
            .into());
        }
    }
    if let Some(mounts) = spec.mounts() {
        libcontainer::utils::validate_mount_options(mounts).map_err(|e| Error::SpecRejected {
            field: Some("mounts"),
            source: Box::new(e),
        })?;
    }
    Ok(())
}

/// libcontainer's rules for terminal and console socket.
pub fn check_terminal(spec: &Spec, detach: bool, has_socket: bool) -> Result<()> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let needed = detach && terminal;
    if needed && !has_socket {
        return Err(SpecError::new(
            "process.terminal",
            "true",
            ": a detached container needs --console-socket",
        )
        .into());
    }
    if !needed && has_socket {
        return Err(SpecError::field(
            "--console-socket",
            "is only used with process.terminal true and a detached container",
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_rules() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","process":{"terminal":true,"cwd":"/","args":["x"],"user":{"uid":0,"gid":0}}}"#,
        )
        .unwrap_or_default();
        assert!(check_terminal(&spec, true, false).is_err());
        assert!(check_terminal(&spec, true, true).is_ok());
        assert!(check_terminal(&spec, false, true).is_err());
        assert!(check_terminal(&spec, false, false).is_ok());
    }
}
