//! Loading and checking a bundle's config.json before anything is created,
//! and deriving the spec that libcontainer gets.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxResourcesBuilder, Spec};

use crate::error::{Error, Result};

pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
}

/// Reads `<bundle>/config.json`; every rejection names the field and value.
pub fn load_bundle(bundle: &Path) -> Result<Bundle> {
    let dir = fs::canonicalize(bundle)
        .map_err(|e| Error::Spec(format!("bundle {}: {e}", bundle.display())))?;
    let path = dir.join("config.json");
    let data = fs::read(&path).map_err(|e| Error::Spec(format!("{}: {e}", path.display())))?;
    let spec = parse(&data).map_err(|msg| Error::Spec(format!("{}: {msg}", path.display())))?;
    let rootfs = check(&spec, &dir).map_err(Error::Spec)?;
    Ok(Bundle { dir, spec, rootfs })
}

/// Parses config.json text. serde_json's message carries line and column.
pub fn parse(data: &[u8]) -> std::result::Result<Spec, String> {
    serde_json::from_slice::<Spec>(data).map_err(|e| format!("invalid config: {e}"))
}

/// Structural checks runc also makes; returns the absolute rootfs path.
pub fn check(spec: &Spec, bundle: &Path) -> std::result::Result<PathBuf, String> {
    let version = spec.version();
    if !version.starts_with("1.") {
        return Err(format!(
            "ociVersion: {version:?} is not supported (need 1.x)"
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| "root: missing".to_string())?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    match fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "root.path: {} is not a directory",
                rootfs.display()
            ))
        }
        Err(e) => return Err(format!("root.path: {}: {e}", rootfs.display())),
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| "process: missing".to_string())?;
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err("process.args: must name a program (is empty)".to_string()),
    }
    if !process.cwd().is_absolute() {
        return Err(format!(
            "process.cwd: {:?} must be an absolute path",
            process.cwd()
        ));
    }
    if spec.linux().is_none() {
        return Err("linux: missing (rcrun runs Linux containers only)".to_string());
    }
    let rootfs = fs::canonicalize(&rootfs).map_err(|e| format!("root.path: {e}"))?;
    Ok(rootfs)
}

/// The spec libcontainer gets: our cgroups are already made and joined, so it
/// must not touch any controller except devices (its device rules include the
/// v2 eBPF program, which is worth reusing). `cgroups_path` is what its
/// manager resolves; see `container::libcontainer_cgroups_path`.
pub fn for_libcontainer(spec: &Spec, rootfs: &Path, cgroups_path: PathBuf) -> Result<Spec> {
    let mut out = spec.clone();
    if let Some(root) = out.root().clone() {
        let mut root = root;
        root.set_path(rootfs.to_path_buf());
        out.set_root(Some(root));
    }
    if let Some(mut linux) = out.linux().clone() {
        let devices = linux.resources().as_ref().and_then(|r| r.devices().clone());
        let resources = match devices {
            Some(d) => Some(
                LinuxResourcesBuilder::default()
                    .devices(d)
                    .build()
                    .map_err(|e| Error::Spec(format!("linux.resources.devices: {e}")))?,
            ),
            None => None,
        };
        linux.set_resources(resources);
        linux.set_cgroups_path(Some(cgroups_path));
        out.set_linux(Some(linux));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_names_position() {
        let err = parse(b"{\"ociVersion\": \"1.0.2\", ")
            .err()
            .unwrap_or_default();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn missing_process_is_named() {
        let dir = std::env::temp_dir().join(format!("rcrun-spec-{}", std::process::id()));
        let _ = fs::create_dir_all(dir.join("rootfs"));
        let spec = parse(br#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{}}"#);
        let res = spec.map(|s| check(&s, &dir));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(res, Ok(Err("process: missing".to_string())));
    }
}
