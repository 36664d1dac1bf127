//! Small helpers for reading and writing cgroup interface files. Cgroup
//! files are tiny and the kernel validates on write, so every write is a
//! single `write(2)` of the whole value and errors carry the spec field.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::CgroupError;

/// Writes `value` to `dir/file` in one syscall. `field` names the spec field
/// that asked for it so that a kernel rejection points at the input.
pub(crate) fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    tracing::debug!(path = %path.display(), value, "cgroup write");
    let res = fs::OpenOptions::new()
        .write(true)
        .truncate(false)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| {
        let hint = write_hint(file, &source);
        CgroupError::WriteRejected {
            field: field.to_string(),
            value: value.to_string(),
            path,
            source,
            hint,
        }
    })
}

/// Extra words for the kernel's terse errno on the files where the cause is
/// well known.
fn write_hint(file: &str, e: &std::io::Error) -> &'static str {
    match (file, e.raw_os_error()) {
        (_, Some(libc::ENOENT)) => " (the controller or this file is not available on this kernel)",
        ("memory.limit_in_bytes", Some(libc::EBUSY)) => {
            " (the limit is below current usage and the kernel could not reclaim enough)"
        }
        ("memory.limit_in_bytes" | "memory.memsw.limit_in_bytes", Some(libc::EINVAL)) => {
            " (memory.limit_in_bytes must not exceed memory.memsw.limit_in_bytes)"
        }
        ("cpu.rt_runtime_us" | "cpu.rt_period_us", Some(libc::EINVAL | libc::EBUSY)) => {
            " (real-time runtime must fit in the parent's cpu.rt_runtime_us)"
        }
        ("cpuset.cpus", Some(libc::ERANGE)) => {
            " (names a CPU this host does not have: see /sys/devices/system/cpu/online)"
        }
        ("cpuset.mems", Some(libc::ERANGE)) => {
            " (names a memory node this host does not have: see /sys/devices/system/node/online)"
        }
        ("cpuset.cpus" | "cpuset.mems", Some(libc::EINVAL)) => {
            " (must be a subset of the parent cgroup's cpuset)"
        }
        (f, Some(libc::EOPNOTSUPP))
            if f.ends_with("weight_device") || f == "io.bfq.weight" || f == "io.weight" =>
        {
            " (per-device weights need the BFQ I/O scheduler on that device: see /sys/block/<dev>/queue/scheduler)"
        }
        (_, Some(libc::EOPNOTSUPP)) => " (not supported by this kernel)",
        (_, Some(libc::EBUSY)) => " (the cgroup is busy)",
        _ => "",
    }
}

pub(crate) fn read_string(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|e| CgroupError::io("read", path, e))
}

/// Reads a single-value file such as `memory.current`. "max" maps to
/// `u64::MAX`, as runc reports unlimited values.
pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    let s = read_string(dir, file)?;
    parse_u64(&s).ok_or_else(|| CgroupError::parse(dir.join(file), s.trim(), "expected a number"))
}

/// Like [`read_u64`] but a missing file gives `None`: many counters exist
/// only on some kernels or with some config options.
pub(crate) fn read_u64_opt(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    match read_u64(dir, file) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    s.parse::<u64>().ok()
}

/// Parses "key value" lines (memory.stat, cpu.stat, memory.events, ...).
/// Lines that do not parse are skipped: new kernels add keys, never change
/// the format of existing ones.
pub(crate) fn parse_flat_keyed(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = parse_u64(it.next()?)?;
            Some((k.to_string(), v))
        })
        .collect()
}

pub(crate) fn read_flat_keyed(
    dir: &Path,
    file: &str,
) -> Result<BTreeMap<String, u64>, CgroupError> {
    Ok(parse_flat_keyed(&read_string(dir, file)?))
}

/// Flat-keyed read where a missing file is an empty map.
pub(crate) fn read_flat_keyed_opt(
    dir: &Path,
    file: &str,
) -> Result<BTreeMap<String, u64>, CgroupError> {
    match read_string(dir, file) {
        Ok(s) => Ok(parse_flat_keyed(&s)),
        Err(e) if e.is_not_found() => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

/// Writes `<major>:<minor> <value>`, the line every per-device file takes.
pub(crate) fn write_device(
    dir: &Path,
    file: &str,
    (major, minor): (i64, i64),
    value: impl std::fmt::Display,
    field: &str,
) -> Result<(), CgroupError> {
    write(dir, file, &format!("{major}:{minor} {value}"), field)
}

/// The child cgroups of `dir`. A directory that vanished (container
/// already removed, or a sub-cgroup deleted while we walk) has none.
pub(crate) fn sub_cgroups(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CgroupError::io("read directory", dir, e)),
    };
    // Only directories are cgroups; file_type does not follow symlinks.
    Ok(entries
        .flatten()
        .filter(|ent| ent.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|ent| ent.path())
        .collect())
}

pub(crate) fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// Formats a limit the way v2 files want it: -1 (or any negative) is "max".
pub(crate) fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}
