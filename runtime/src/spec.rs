//! Loading and checking a bundle's config.json before anything is created,
//! and deriving the spec that libcontainer gets.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxResourcesBuilder, Spec};

use crate::error::{one_line, Error, Result};

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
    let data = fs::read(&path).map_err(|e| {
        Error::Spec(match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{}: no such file: the bundle directory must hold config.json (`rcrun spec` writes a default one)",
                path.display()
            ),
            _ => format!("{}: {e}", path.display()),
        })
    })?;
    let spec = parse(&data).map_err(|msg| Error::Spec(format!("{}: {msg}", path.display())))?;
    let rootfs = check(&spec, &dir).map_err(Error::Spec)?;
    if let Some(process) = spec.process() {
        let mounts = mount_destinations(&spec);
        ensure_cwd(&rootfs, process.cwd(), &mounts).map_err(Error::Spec)?;
        check_executable(&rootfs, process, &mounts).map_err(Error::Spec)?;
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// Parses config.json text. The message names the field that failed (when
/// the JSON is well-formed) and carries serde_json's line and column.
pub fn parse(data: &[u8]) -> std::result::Result<Spec, String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let msg = if field.is_empty() || field == "." || e.inner().is_syntax() || e.inner().is_eof()
        {
            format!("invalid config: {}", e.inner())
        } else {
            format!("invalid config: {field}: {}", e.inner())
        };
        one_line(&msg)
    })?;
    de.end()
        .map_err(|e| one_line(&format!("invalid config: {e}")))?;
    Ok(spec)
}

/// Mount destinations of the spec: paths whose content rcrun cannot see in
/// the rootfs before the container's mounts are made.
fn mount_destinations(spec: &Spec) -> Vec<PathBuf> {
    spec.mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().clone())
        .collect()
}

fn under_mount(p: &Path, mounts: &[PathBuf]) -> bool {
    mounts.iter().any(|m| p.starts_with(m))
}

/// Resolves the container path `path` under `rootfs` as the kernel will
/// after pivot_root: symlinks are followed with `rootfs` as "/" and ".."
/// stops there. Returns the resolved container path of the longest existing
/// prefix and the components that do not exist (empty when all exist).
fn resolve_in_rootfs(rootfs: &Path, path: &Path) -> (PathBuf, Vec<std::ffi::OsString>) {
    use std::collections::VecDeque;
    use std::path::Component;
    let mut todo: VecDeque<std::ffi::OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut cur = PathBuf::from("/");
    let mut hops = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let host = rootfs
            .join(cur.strip_prefix("/").unwrap_or(&cur))
            .join(&name);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                let target = match fs::read_link(&host) {
                    Ok(t) if hops <= 40 => t,
                    _ => {
                        todo.push_front(name);
                        return (cur, todo.into());
                    }
                };
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => todo.push_front(n.to_os_string()),
                        Component::ParentDir => todo.push_front("..".into()),
                        _ => {}
                    }
                }
            }
            Ok(_) => cur.push(&name),
            Err(_) => {
                todo.push_front(name);
                return (cur, todo.into());
            }
        }
    }
    (cur, Vec::new())
}

fn host_path(rootfs: &Path, container_path: &Path) -> PathBuf {
    rootfs.join(container_path.strip_prefix("/").unwrap_or(container_path))
}

/// Creates `process.cwd` in the rootfs when it is missing, as runc does
/// (unless a mount will provide it: then the container's setup decides).
fn ensure_cwd(rootfs: &Path, cwd: &Path, mounts: &[PathBuf]) -> std::result::Result<(), String> {
    let (existing, missing) = resolve_in_rootfs(rootfs, cwd);
    if missing.is_empty() {
        let host = host_path(rootfs, &existing);
        return match fs::metadata(&host) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(format!("process.cwd: {cwd:?} is not a directory")),
            Err(e) => Err(format!("process.cwd: {cwd:?}: {e}")),
        };
    }
    let full: PathBuf = missing.iter().fold(existing, |p, c| p.join(c));
    if under_mount(cwd, mounts) || under_mount(&full, mounts) {
        return Ok(());
    }
    if missing.iter().any(|c| c == "..") {
        return Err(format!("process.cwd: {cwd:?} does not exist in the rootfs"));
    }
    let host = host_path(rootfs, &full);
    fs::create_dir_all(&host).map_err(|e| {
        format!("process.cwd: {cwd:?} does not exist in the rootfs and cannot be created: {e}")
    })
}

/// Checks that `process.args[0]` names an executable file in the rootfs,
/// looked up like execvp does (PATH from `process.env` when it has no '/'),
/// so that a typo fails `create` with one line instead of failing inside
/// the container's init. Paths under a mount destination are not checked.
fn check_executable(
    rootfs: &Path,
    process: &oci_spec::runtime::Process,
    mounts: &[PathBuf],
) -> std::result::Result<(), String> {
    let Some(arg0) = process.args().as_ref().and_then(|a| a.first()) else {
        return Ok(());
    };
    let cwd = process.cwd();
    let (candidates, searched): (Vec<PathBuf>, Option<String>) = if arg0.contains('/') {
        (vec![cwd.join(arg0)], None)
    } else {
        let path_var = process
            .env()
            .iter()
            .flatten()
            .filter_map(|e| e.strip_prefix("PATH="))
            .next_back();
        let Some(path_var) = path_var else {
            // No PATH: the lookup is up to the container's init.
            return Ok(());
        };
        let dirs = path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| cwd.join(d).join(arg0))
            .collect();
        (dirs, Some(path_var.to_string()))
    };
    let mut found_unusable: Option<String> = None;
    for cand in &candidates {
        let (resolved, missing) = resolve_in_rootfs(rootfs, cand);
        let full: PathBuf = missing.iter().fold(resolved.clone(), |p, c| p.join(c));
        if under_mount(cand, mounts) || under_mount(&full, mounts) {
            return Ok(());
        }
        if !missing.is_empty() {
            continue;
        }
        match fs::metadata(host_path(rootfs, &resolved)) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(m) if m.is_dir() => {
                found_unusable.get_or_insert(format!("process.args[0]: {arg0:?} is a directory"));
            }
            Ok(m) => {
                found_unusable.get_or_insert(format!(
                    "process.args[0]: {arg0:?} is not executable (mode {:o})",
                    m.permissions().mode() & 0o7777
                ));
            }
            Err(_) => {}
        }
    }
    if let Some(msg) = found_unusable {
        return Err(msg);
    }
    Err(match searched {
        Some(p) => format!("process.args[0]: {arg0:?} not found in the rootfs's PATH ({p})"),
        None => format!("process.args[0]: {arg0:?} does not exist in the rootfs"),
    })
}

/// Structural checks runc also makes; returns the absolute rootfs path.
/// The message is one line even where it quotes a path from the spec.
pub fn check(spec: &Spec, bundle: &Path) -> std::result::Result<PathBuf, String> {
    check_structure(spec, bundle).map_err(|m| one_line(&m))
}

fn check_structure(spec: &Spec, bundle: &Path) -> std::result::Result<PathBuf, String> {
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
    fn wrong_type_names_the_field() {
        let err =
            parse(br#"{"ociVersion":"1.0.2","linux":{"resources":{"memory":{"limit":"128m"}}}}"#)
                .err()
                .unwrap_or_default();
        assert!(
            err.contains("linux.resources.memory.limit: invalid type"),
            "{err}"
        );
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rcrun-spec-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::create_dir_all(dir.join("bin"));
        dir
    }

    #[test]
    fn resolves_symlinks_inside_the_rootfs() {
        let root = scratch("resolve");
        let _ = fs::write(root.join("bin/busybox"), "");
        let _ = std::os::unix::fs::symlink("/bin/busybox", root.join("bin/sh"));
        let _ = std::os::unix::fs::symlink("../../../../bin", root.join("usrbin"));
        let (p, missing) = resolve_in_rootfs(&root, Path::new("/usrbin/sh"));
        let (q, missing2) = resolve_in_rootfs(&root, Path::new("/bin/nope/x"));
        let _ = fs::remove_dir_all(&root);
        assert_eq!((p, missing.len()), (PathBuf::from("/bin/busybox"), 0));
        assert_eq!((q, missing2.len()), (PathBuf::from("/bin"), 2));
    }

    #[test]
    fn executable_lookup() {
        let root = scratch("exe");
        let _ = fs::write(root.join("bin/busybox"), "");
        let _ = fs::set_permissions(root.join("bin/busybox"), fs::Permissions::from_mode(0o755));
        let _ = std::os::unix::fs::symlink("/bin/busybox", root.join("bin/sleep"));
        let _ = fs::write(root.join("bin/data"), "");
        let process = |args: &[&str], env: &[&str]| {
            oci_spec::runtime::ProcessBuilder::default()
                .args(args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .env(env.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .build()
                .ok()
        };
        let path = ["PATH=/usr/bin:/bin"];
        let mounts = vec![PathBuf::from("/sbin")];
        let res: Vec<bool> = [
            (process(&["sleep", "1"], &path), true),
            (process(&["/bin/sleep"], &[]), true),
            (process(&["nosuch"], &path), false),
            (process(&["nosuch"], &[]), true),
            (process(&["/bin/nosuch"], &[]), false),
            (process(&["/bin/data"], &[]), false),
            (process(&["/bin"], &[]), false),
            (process(&["/sbin/docker-init"], &[]), true),
        ]
        .into_iter()
        .map(|(p, ok)| {
            p.map(|p| check_executable(&root, &p, &mounts).is_ok() == ok)
                .unwrap_or(false)
        })
        .collect();
        let _ = fs::remove_dir_all(&root);
        assert!(res.iter().all(|r| *r), "{res:?}");
    }

    #[test]
    fn missing_cwd_is_created() {
        let root = scratch("cwd");
        let made = ensure_cwd(&root, Path::new("/work/dir"), &[]);
        let exists = root.join("work/dir").is_dir();
        let under_mount = ensure_cwd(&root, Path::new("/mnt/x"), &[PathBuf::from("/mnt")]);
        let not_made = !root.join("mnt").exists();
        let file = fs::write(root.join("f"), "").map(|_| ensure_cwd(&root, Path::new("/f"), &[]));
        let _ = fs::remove_dir_all(&root);
        assert_eq!(made, Ok(()));
        assert!(exists && not_made);
        assert_eq!(under_mount, Ok(()));
        assert!(matches!(file, Ok(Err(_))));
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
