//! Loading and checking a bundle's config.json before anything is created.
//! (The spec libcontainer gets is derived from it in lc_spec.rs.)

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{one_line, Result, SpecError};
use crate::rootfs_path::Root;
use crate::{spec_checks, spec_validate};

pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
}

/// Reads `<bundle>/config.json`; every rejection names the field and value.
pub fn load_bundle(bundle: &Path) -> Result<Bundle> {
    let dir = fs::canonicalize(bundle)
        .map_err(|e| SpecError::field(format!("bundle {}", bundle.display()), e.to_string()))?;
    let path = dir.join("config.json");
    let data = fs::read(&path).map_err(|e| {
        let field = path.display().to_string();
        match e.kind() {
            std::io::ErrorKind::NotFound => SpecError::field(field, "no such file: the bundle directory must hold config.json (`rcrun spec` writes a default one)"),
            _ => SpecError::field(field, e.to_string()),
        }
    })?;
    let spec = parse(&data).map_err(|msg| SpecError::field(path.display().to_string(), msg))?;
    let rootfs = check(&spec, &dir)?;
    let root = Root::open(&rootfs)
        .map_err(|e| SpecError::new("root.path", rootfs.display().to_string(), format!(": {e}")))?;
    spec_checks::check(&spec, &root)?;
    if let Some(process) = spec.process() {
        let mounts = mount_destinations(&spec);
        ensure_cwd(&root, process.cwd(), &mounts)?;
        check_executable(&root, process, &mounts)?;
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// Parses config.json text. The message names the field that failed (when
/// the JSON is well-formed) and carries serde_json's line and column.
pub fn parse(data: &[u8]) -> std::result::Result<Spec, String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.inner();
        let known_field = !field.is_empty() && field != ".";
        let msg = if known_field && out_of_range(inner) {
            // A syntax error to serde_json, but the path is known: the
            // number itself is the problem (1e400 for an i64).
            let value = number_at(data, inner.line(), inner.column());
            format!("invalid config: {field}: {value} is out of range for its type ({inner})")
        } else if !known_field || inner.is_syntax() || inner.is_eof() {
            format!("invalid config: {inner}")
        } else {
            format!("invalid config: {field}: {inner}")
        };
        one_line(&msg)
    })?;
    de.end()
        .map_err(|e| one_line(&format!("invalid config: {e}")))?;
    Ok(spec)
}

fn out_of_range(e: &serde_json::Error) -> bool {
    e.is_syntax() && e.to_string().starts_with("number out of range")
}

/// The number that ends at (or spans) 1-based `line`:`column` of `data`.
fn number_at(data: &[u8], line: usize, column: usize) -> String {
    let Some(text) = data.split(|&b| b == b'\n').nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let is_num = |b: &u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
    let end = column.min(text.len());
    let start = text[..end]
        .iter()
        .rposition(|b| !is_num(b))
        .map_or(0, |p| p + 1);
    let end = start + text[start..].iter().take_while(|b| is_num(b)).count();
    String::from_utf8_lossy(&text[start..end]).into_owned()
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

/// Creates `process.cwd` in the rootfs when it is missing, as runc does
/// (unless a mount will provide it: then the container's setup decides).
/// Looked up and made inside the rootfs only (rootfs_path): a symlink in
/// the image never makes rcrun create a directory on the host.
fn ensure_cwd(root: &Root, cwd: &Path, mounts: &[PathBuf]) -> std::result::Result<(), SpecError> {
    let bad = |reason: String| SpecError::new("process.cwd", format!("{cwd:?}"), reason);
    if under_mount(cwd, mounts) {
        return Ok(());
    }
    let (existing, missing) = root
        .resolve(cwd)
        .map_err(|e| bad(format!(": {}", e.desc())))?;
    if missing.is_empty() {
        return match root.open_path(&existing) {
            Ok(f) if f.kind == nix::sys::stat::SFlag::S_IFDIR => Ok(()),
            Ok(_) => Err(bad("is not a directory".into())),
            Err(e) => Err(bad(format!(": {}", e.desc()))),
        };
    }
    let full: PathBuf = missing.iter().fold(existing, |p, c| p.join(c));
    if under_mount(&full, mounts) {
        return Ok(());
    }
    root.mkdir_all(&full).map_err(|e| {
        bad(format!(
            "does not exist in the rootfs and cannot be created: {}",
            e.desc()
        ))
    })
}

/// Checks that `process.args[0]` names an executable file in the rootfs,
/// looked up like execvp does (PATH from `process.env` when it has no '/'),
/// so that a typo fails `create` with one line instead of failing inside
/// the container's init. Paths under a mount destination are not checked.
fn check_executable(
    root: &Root,
    process: &oci_spec::runtime::Process,
    mounts: &[PathBuf],
) -> std::result::Result<(), SpecError> {
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
    let bad = |reason: String| SpecError::new("process.args[0]", format!("{arg0:?}"), reason);
    let mut found_unusable: Option<SpecError> = None;
    for cand in &candidates {
        if under_mount(cand, mounts) {
            return Ok(());
        }
        let Ok((resolved, missing)) = root.resolve(cand) else {
            continue;
        };
        let full: PathBuf = missing.iter().fold(resolved.clone(), |p, c| p.join(c));
        if under_mount(&full, mounts) {
            return Ok(());
        }
        if !missing.is_empty() {
            continue;
        }
        use nix::sys::stat::SFlag;
        match root.open_path(&resolved) {
            Ok(f) if f.kind == SFlag::S_IFREG && f.mode & 0o111 != 0 => return Ok(()),
            Ok(f) if f.kind == SFlag::S_IFDIR => {
                found_unusable.get_or_insert(bad("is a directory".into()));
            }
            Ok(f) => {
                found_unusable.get_or_insert(bad(format!("is not executable (mode {:o})", f.mode)));
            }
            Err(_) => {}
        }
    }
    if let Some(e) = found_unusable {
        return Err(e);
    }
    Err(bad(match searched {
        Some(p) => format!("not found in the rootfs's PATH ({p})"),
        None => "does not exist in the rootfs".into(),
    }))
}

/// Structural checks runc also makes; returns the absolute rootfs path.
/// The message is one line even where it quotes a path from the spec.
pub fn check(spec: &Spec, bundle: &Path) -> std::result::Result<PathBuf, SpecError> {
    let version = spec.version();
    if !version.starts_with("1.") {
        return Err(SpecError::new(
            "ociVersion",
            format!("{version:?}"),
            "is not supported (need 1.x)",
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::field("root", "missing"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    match fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(SpecError::new(
                "root.path",
                rootfs.display().to_string(),
                "is not a directory",
            ))
        }
        Err(e) => {
            return Err(SpecError::new(
                "root.path",
                rootfs.display().to_string(),
                format!(": {e}"),
            ))
        }
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| SpecError::field("process", "missing"))?;
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => {
            return Err(SpecError::field(
                "process.args",
                "must name a program (is empty)",
            ))
        }
    }
    if !process.cwd().is_absolute() {
        return Err(SpecError::new(
            "process.cwd",
            format!("{:?}", process.cwd()),
            "must be an absolute path",
        ));
    }
    spec_validate::check_process(process, "process").map_err(|m| SpecError::from_message(&m))?;
    if let Some(hooks) = spec.hooks() {
        spec_validate::check_hooks(hooks).map_err(|m| SpecError::from_message(&m))?;
    }
    if spec.linux().is_none() {
        return Err(SpecError::field(
            "linux",
            "missing (rcrun runs Linux containers only)",
        ));
    }
    fs::canonicalize(&rootfs).map_err(|e| SpecError::field("root.path", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn number_out_of_range_names_the_field() {
        let err = parse(
            b"{\"ociVersion\":\"1.0.2\",\"linux\":{\"resources\":{\"cpu\":{\"quota\":1e400}}}}",
        )
        .err()
        .unwrap_or_default();
        assert!(
            err.starts_with(
                "invalid config: linux.resources.cpu.quota: 1e400 is out of range for its type (number out of range at line 1 column"
            ),
            "{err}"
        );
        let err = parse(b"{\"ociVersion\":\"1.0.2\",\n\"linux\":{\"resources\":{\"pids\":{\"limit\": -1e400 }}}}")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("linux.resources.pids.limit: -1e400 is out of range"),
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
            p.and_then(|p| {
                let r = Root::open(&root).ok()?;
                Some(check_executable(&r, &p, &mounts).is_ok() == ok)
            })
            .unwrap_or(false)
        })
        .collect();
        let _ = fs::remove_dir_all(&root);
        assert!(res.iter().all(|r| *r), "{res:?}");
    }

    #[test]
    fn missing_cwd_is_created() {
        let root = scratch("cwd");
        let Ok(r) = Root::open(&root) else {
            panic!("open {root:?}");
        };
        let made = ensure_cwd(&r, Path::new("/work/dir"), &[]);
        let exists = root.join("work/dir").is_dir();
        let under_mount = ensure_cwd(&r, Path::new("/mnt/x"), &[PathBuf::from("/mnt")]);
        let not_made = !root.join("mnt").exists();
        let file = fs::write(root.join("f"), "").map(|_| ensure_cwd(&r, Path::new("/f"), &[]));
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
        assert_eq!(
            res.map(|r| r.map_err(|e| e.to_string())),
            Ok(Err("process: missing".to_string()))
        );
    }
}
