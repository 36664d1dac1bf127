//! `linux.cgroupsPath` interpretation (runc's cgroupfs driver semantics) and
//! the guarantee that a path from the spec never escapes a hierarchy mount.

use std::path::{Component, Path, PathBuf};

use super::error::CgroupError;

/// A validated cgroupsPath: either anchored at the hierarchy root or at the
/// caller's own cgroup. `parts` holds only normal components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecPath {
    pub absolute: bool,
    pub parts: PathBuf,
}

/// Parses `cgroups_path`; `None` or empty means the container id, relative.
pub(crate) fn parse(cgroups_path: Option<&str>, id: &str) -> Result<SpecPath, CgroupError> {
    let raw = match cgroups_path {
        Some(p) if !p.is_empty() => p,
        _ => {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." || id.contains('\0') {
                return Err(CgroupError::InvalidPath {
                    path: id.to_string(),
                    reason:
                        "no cgroupsPath given and the container id is not usable as a cgroup name"
                            .into(),
                });
            }
            return Ok(SpecPath {
                absolute: false,
                parts: PathBuf::from(id),
            });
        }
    };
    let bad = |reason: &str| CgroupError::InvalidPath {
        path: raw.to_string(),
        reason: reason.to_string(),
    };
    // "slice:prefix:name" (the systemd driver's syntax) is, for cgroupfs, a
    // relative path with colons in its one name, as runc's cgroupfs driver
    // takes it: containerd's CRI builds one from a `*.slice` pod parent even
    // in cgroupfs mode.
    if raw.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let mut parts = PathBuf::new();
    for c in Path::new(raw).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => parts.push(n),
            Component::ParentDir => {
                return Err(bad(
                    "\"..\" is not allowed: the cgroup must stay inside the hierarchy",
                ))
            }
            Component::Prefix(_) => return Err(bad("unexpected path prefix")),
        }
    }
    if parts.as_os_str().is_empty() {
        return Err(bad(
            "names the hierarchy root, which cannot hold a container",
        ));
    }
    Ok(SpecPath {
        absolute: raw.starts_with('/'),
        parts,
    })
}

/// The directory for `spec` in a hierarchy mounted at `mountpoint`, where
/// the caller sits in `own` (relative to the mount, starting with "/").
pub(crate) fn join(mountpoint: &Path, own: &Path, spec: &SpecPath) -> Result<PathBuf, CgroupError> {
    let mut dir = mountpoint.to_path_buf();
    if !spec.absolute {
        // `own` comes from /proc/self/cgroup, not from the spec, but is
        // still checked: a "/.." entry appears there for processes outside
        // our cgroup namespace.
        for c in own.components() {
            match c {
                Component::Normal(n) => dir.push(n),
                Component::RootDir | Component::CurDir => {}
                _ => {
                    return Err(CgroupError::InvalidPath {
                        path: spec.parts.display().to_string(),
                        reason: format!(
                            "relative to our own cgroup {}, which is outside the mounted hierarchy; use an absolute cgroupsPath",
                            own.display()
                        ),
                    })
                }
            }
        }
    }
    dir.push(&spec.parts);
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: Option<&str>) -> Result<SpecPath, CgroupError> {
        parse(s, "ctr1")
    }

    #[test]
    fn default_is_id_relative() {
        let s = p(None).unwrap();
        assert!(!s.absolute);
        assert_eq!(s.parts, Path::new("ctr1"));
        assert_eq!(p(Some("")).unwrap(), s);
        assert!(parse(None, "a/b").is_err());
        assert!(parse(None, "..").is_err());
        assert!(parse(None, "").is_err());
    }

    #[test]
    fn absolute_and_relative() {
        let a = p(Some("/a//b/./c/")).unwrap();
        assert!(a.absolute);
        assert_eq!(a.parts, Path::new("a/b/c"));
        let r = p(Some("a/b")).unwrap();
        assert!(!r.absolute);
        let mnt = Path::new("/sys/fs/cgroup/memory");
        let own = Path::new("/process_api/x");
        assert_eq!(
            join(mnt, own, &a).unwrap(),
            Path::new("/sys/fs/cgroup/memory/a/b/c")
        );
        assert_eq!(
            join(mnt, own, &r).unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/x/a/b")
        );
        assert_eq!(
            join(mnt, Path::new("/"), &r).unwrap(),
            Path::new("/sys/fs/cgroup/memory/a/b")
        );
        assert!(join(mnt, Path::new("/../.."), &r).is_err());
        // Absolute paths ignore a weird own cgroup.
        assert!(join(mnt, Path::new("/../.."), &a).is_ok());
    }

    #[test]
    fn rejects_escape_takes_systemd_form_as_a_name() {
        for bad in ["/a/../../etc", "..", "a/..", "/..", "/", "//", "."] {
            assert!(p(Some(bad)).is_err(), "{bad}");
        }
        // runc's cgroupfs driver: one relative name, colons included.
        let sp = p(Some("test.slice:cri-containerd:abc")).unwrap();
        assert!(!sp.absolute);
        assert_eq!(sp.parts, Path::new("test.slice:cri-containerd:abc"));
        assert!(p(Some("/a:b")).is_ok());
    }
}
