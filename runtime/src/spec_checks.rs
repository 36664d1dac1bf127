//! Checks of mounts and the working directory against the rootfs and the
//! kernel, made when the bundle is loaded (both launch paths load it through
//! [`crate::spec::load_bundle`]). Each catches a spec that would otherwise
//! fail inside the container's init with an errno and no field name:
//! - a mount type this kernel does not know (the init's mount: ENODEV);
//! - a mount destination through a dangling symlink of the image (the
//!   init's mkdir refuses to create through it, and names raw fds);
//! - a working directory under /proc/<pid>/fd (the init's chdir: ENOENT, or
//!   worse, an fd of the runtime, CVE-2024-21626).

use std::path::{Component, Path};

use oci_spec::runtime::{Mount, Spec};

use crate::error::SpecError;
use crate::lc_spec::is_bind;
use crate::rootfs_path::Root;

/// Every check of this module, in the order of the spec's fields.
pub fn check(spec: &Spec, root: &Root) -> Result<(), SpecError> {
    if let Some(p) = spec.process() {
        check_cwd(p.cwd())?;
    }
    check_mount_types(spec.mounts().as_deref().unwrap_or(&[]), &known_filesystems)?;
    check_mount_destinations(spec.mounts().as_deref().unwrap_or(&[]), root)
}

/// `/proc/<anything>/fd/...` (self, thread-self or a pid) names file
/// descriptors of the init, never a directory of the container.
fn check_cwd(cwd: &Path) -> Result<(), SpecError> {
    let parts: Vec<_> = cwd
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy()),
            _ => None,
        })
        .collect();
    let process = |p: &str| {
        p == "self"
            || p == "thread-self"
            || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let under_fd = parts.len() >= 3 && parts[0] == "proc" && process(&parts[1]) && parts[2] == "fd";
    if under_fd {
        return Err(SpecError::new(
            "process.cwd",
            format!("{cwd:?}"),
            "is under /proc/<pid>/fd: it names a file descriptor of the container's init, not a directory of the container",
        ));
    }
    Ok(())
}

/// The filesystem types the running kernel knows (/proc/filesystems), or
/// None when that cannot be read (no check then).
fn known_filesystems() -> Option<Vec<String>> {
    let text = std::fs::read_to_string("/proc/filesystems").ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_whitespace().last())
            .map(str::to_string)
            .collect(),
    )
}

/// A type the kernel would load on first mount (request_module "fs-<type>")
/// is not in /proc/filesystems yet: look for its module alias too. When
/// the module lists cannot be read, the type is given the benefit of the
/// doubt (the mount itself will tell).
fn loadable_module(typ: &str) -> bool {
    let Ok(uts) = nix::sys::utsname::uname() else {
        return true;
    };
    let Some(dir) = ["/lib/modules", "/usr/lib/modules"]
        .iter()
        .map(|d| Path::new(d).join(uts.release()))
        .find(|d| d.is_dir())
    else {
        // No modules for this kernel: nothing can be loaded.
        return false;
    };
    // Built-in filesystems are registered at boot: only aliases matter.
    let alias = format!("alias fs-{typ} ");
    std::fs::read_to_string(dir.join("modules.alias")).map_or(true, |t| t.contains(&alias))
}

/// Each non-bind mount's type must be one the kernel knows or can load.
fn check_mount_types(
    mounts: &[Mount],
    known: &dyn Fn() -> Option<Vec<String>>,
) -> Result<(), SpecError> {
    let mut fs_list: Option<Option<Vec<String>>> = None;
    for (i, m) in mounts.iter().enumerate() {
        let Some(typ) = m.typ().as_deref().filter(|t| !t.is_empty()) else {
            continue;
        };
        if is_bind(m) {
            continue;
        }
        let Some(list) = fs_list.get_or_insert_with(known) else {
            return Ok(());
        };
        // "fuse.sshfs" is the kernel's "fuse" (it looks up the part before
        // the dot).
        let base = typ.split('.').next().unwrap_or(typ);
        if list.iter().any(|t| t == base) || loadable_module(base) {
            continue;
        }
        return Err(SpecError::new(
            format!("mounts[{i}].type"),
            format!("{typ:?}"),
            "is not a filesystem type this kernel knows (see /proc/filesystems)",
        ));
    }
    Ok(())
}

/// A destination in the rootfs (not under an earlier mount, whose content
/// rcrun cannot see yet) must not pass through a dangling symlink: the
/// init creates the missing directories, but never through a symlink.
fn check_mount_destinations(mounts: &[Mount], root: &Root) -> Result<(), SpecError> {
    for (i, m) in mounts.iter().enumerate() {
        let dest = m.destination();
        if mounts[..i]
            .iter()
            .any(|e| dest.starts_with(e.destination()))
        {
            continue;
        }
        // Errors (ELOOP, a file in the middle) are left to the init, which
        // reports them with the path.
        let Ok((existing, missing)) = root.resolve(dest) else {
            continue;
        };
        let Some(first) = missing.first() else {
            continue;
        };
        let at = existing.join(first);
        if let Some(target) = root.symlink_target(&at) {
            return Err(SpecError::new(
                format!("mounts[{i}].destination"),
                format!("{dest:?}"),
                format!(
                    "passes through {at:?}, a symlink in the rootfs to {target:?}, which does not exist: must be mounted on ordinary directory (create the target in the image or use the resolved path)"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn mount(dest: &str, typ: &str, opts: &[&str]) -> Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source("x")
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap_or_default()
    }

    #[test]
    fn cwd_under_proc_fd() {
        for bad in ["/proc/self/fd/7", "/proc/1/fd", "/proc/thread-self/fd/3/x"] {
            let e = check_cwd(Path::new(bad)).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("process.cwd: {bad:?} is under")),
                "{e}"
            );
        }
        for ok in ["/", "/proc", "/proc/self", "/work/fd/1", "/proc/sys/fd"] {
            assert!(check_cwd(Path::new(ok)).is_ok(), "{ok}");
        }
    }

    #[test]
    fn unknown_mount_type() {
        let known = || Some(vec!["proc".to_string(), "tmpfs".to_string()]);
        let mounts = [
            mount("/proc", "proc", &[]),
            mount("/b", "none", &["rbind"]),
            mount("/f", "tmpfs.sub", &[]),
            mount("/x", "nosuchfs-rcrun", &[]),
        ];
        let e = check_mount_types(&mounts, &known).unwrap_err().to_string();
        assert_eq!(
            e,
            "mounts[3].type: \"nosuchfs-rcrun\" is not a filesystem type this kernel knows (see /proc/filesystems)"
        );
        assert!(check_mount_types(&mounts, &|| None).is_ok());
    }
}
