//! The systemd driver's cgroupsPath, `slice:prefix:name`: which unit to
//! ask systemd for, in which slice, and where systemd puts its cgroup (the
//! slice hierarchy expanded the way systemd and runc do it).

use std::path::PathBuf;

use super::SystemdError;

/// The slice a unit goes in when the path names none (runc's default).
pub const DEFAULT_SLICE: &str = "system.slice";
/// The prefix of the scope when no cgroupsPath is given: `rcrun-<id>.scope`.
pub const DEFAULT_PREFIX: &str = "rcrun";

/// A parsed `slice:prefix:name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPath {
    /// The parent slice unit, e.g. `kubepods-burstable.slice`.
    pub slice: String,
    /// The unit rcrun asks for: `<prefix>-<name>.scope`, or `name` itself
    /// when it is a `.slice` (runc's rule).
    pub unit: String,
    /// The unit's cgroup relative to the hierarchy root, e.g.
    /// `system.slice/docker-abc.scope`.
    pub relative: PathBuf,
}

impl UnitPath {
    pub fn is_slice(&self) -> bool {
        self.unit.ends_with(".slice")
    }
}

fn bad(value: &str, reason: impl Into<String>) -> SystemdError {
    SystemdError::BadPath {
        value: crate::error::one_line(value),
        reason: reason.into(),
    }
}

/// Parses cgroupsPath for the systemd driver. None or empty: the container
/// id in [`DEFAULT_SLICE`] with [`DEFAULT_PREFIX`].
pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<UnitPath, SystemdError> {
    let raw = cgroups_path.unwrap_or("");
    let (slice, prefix, name) = if raw.is_empty() {
        (DEFAULT_SLICE, DEFAULT_PREFIX, id)
    } else {
        let parts: Vec<&str> = raw.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(bad(
                raw,
                "expected \"slice:prefix:name\" with the systemd cgroup driver, e.g. system.slice:docker:<id>",
            ));
        };
        (slice, prefix, name)
    };
    let slice = if slice.is_empty() {
        DEFAULT_SLICE
    } else {
        slice
    };
    let expanded = expand_slice(slice).map_err(|reason| bad(raw_or(raw, slice), reason))?;
    if name.is_empty() {
        return Err(bad(raw_or(raw, id), "the unit name part is empty"));
    }
    check_unit_chars(prefix).map_err(|r| bad(raw_or(raw, prefix), format!("prefix {r}")))?;
    check_unit_chars(name).map_err(|r| bad(raw_or(raw, name), format!("name {r}")))?;
    let unit = if name.ends_with(".slice") {
        // A slice unit: it must itself be a valid slice name.
        expand_slice(name).map_err(|reason| bad(raw_or(raw, name), reason))?;
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if unit.len() > 255 {
        return Err(bad(
            raw_or(raw, name),
            "the unit name is longer than 255 bytes",
        ));
    }
    let relative = PathBuf::from(expanded.trim_start_matches('/')).join(&unit);
    Ok(UnitPath {
        slice: slice.to_string(),
        unit,
        relative,
    })
}

fn raw_or<'a>(raw: &'a str, fallback: &'a str) -> &'a str {
    if raw.is_empty() {
        fallback
    } else {
        raw
    }
}

/// Characters systemd accepts in a unit name (besides the suffix).
fn check_unit_chars(s: &str) -> Result<(), String> {
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":-_.\\@".contains(*c)))
    {
        Some(c) => Err(format!(
            "contains {c:?}, which systemd does not allow in a unit name"
        )),
        None => Ok(()),
    }
}

/// `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the
/// root. Dashes separate the levels, so an empty level is refused.
pub fn expand_slice(slice: &str) -> Result<String, String> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(format!("slice {slice:?} does not end in \".slice\""));
    };
    if slice.contains('/') {
        return Err(format!(
            "slice {slice:?} contains '/': slices are named, not paths"
        ));
    }
    if stem == "-" {
        return Ok("/".to_string());
    }
    check_unit_chars(stem).map_err(|r| format!("slice {slice:?} {r}"))?;
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(format!(
                "slice {slice:?} has an empty level (leading, trailing or double '-')"
            ));
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(part);
        path.push_str(".slice");
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn expands_like_systemd() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(
            expand_slice("kubepods-burstable-pod1234_5678.slice").unwrap(),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice"
        );
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        for bad in [
            "",
            ".slice",
            "a",
            "a.scope",
            "-a.slice",
            "a-.slice",
            "a--b.slice",
            "a/b.slice",
            "/system.slice",
            "a b.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_docker_and_kubelet_paths() {
        let u = parse(Some("system.slice:docker:abc"), "x").unwrap();
        assert_eq!(u.unit, "docker-abc.scope");
        assert_eq!(u.slice, "system.slice");
        assert_eq!(u.relative, Path::new("system.slice/docker-abc.scope"));
        let u = parse(
            Some("kubepods-burstable-pod12.slice:cri-containerd:f00"),
            "x",
        )
        .unwrap();
        assert_eq!(u.unit, "cri-containerd-f00.scope");
        assert_eq!(
            u.relative,
            Path::new(
                "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice/cri-containerd-f00.scope"
            )
        );
        assert!(!u.is_slice());
    }

    #[test]
    fn defaults_like_runc() {
        let u = parse(None, "c1").unwrap();
        assert_eq!(u.unit, "rcrun-c1.scope");
        assert_eq!(u.relative, Path::new("system.slice/rcrun-c1.scope"));
        assert_eq!(parse(Some(""), "c1").unwrap(), u);
        let u = parse(Some(":docker:abc"), "x").unwrap();
        assert_eq!(u.relative, Path::new("system.slice/docker-abc.scope"));
        let u = parse(Some("-.slice::abc"), "x").unwrap();
        assert_eq!(u.unit, "abc.scope");
        assert_eq!(u.relative, Path::new("abc.scope"));
    }

    #[test]
    fn a_slice_name_is_a_slice_unit() {
        let u = parse(Some("system.slice:x:my-sub.slice"), "x").unwrap();
        assert_eq!(u.unit, "my-sub.slice");
        assert!(u.is_slice());
        assert!(parse(Some("system.slice:x:my--sub.slice"), "x").is_err());
    }

    #[test]
    fn refuses_bad_paths_naming_the_field_and_value() {
        for bad in [
            "/system.slice/docker-abc.scope",
            "system.slice:docker",
            "a:b:c:d",
            "system:docker:abc",
            "a/b.slice:docker:abc",
            "system.slice:doc/ker:abc",
            "system.slice:docker:",
            "system.slice:docker:a b",
            "system.slice:docker:../x",
        ] {
            let e = parse(Some(bad), "x").unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{e}");
            assert!(e.contains(bad), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = parse(Some("/system.slice/docker-abc.scope"), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("slice:prefix:name"), "{e}");
        assert!(parse(Some(&format!("s.slice:p:{}", "n".repeat(300))), "x").is_err());
    }
}
