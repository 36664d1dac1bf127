//! Detection of the cgroup hierarchies from /proc/self/mountinfo and of the
//! caller's own cgroups from /proc/self/cgroup. Nothing here assumes fixed
//! paths: hosts differ (pure v1 with combined `cpu,cpuacct`, hybrid with
//! separate mounts and a cgroup2 "unified" mount, pure v2).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::CgroupError;
use super::Layout;

/// v1 controllers we recognise among a cgroup mount's super options; any
/// other option (rw, noprefix, clone_children, xattr, ...) is not one.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// One v1 hierarchy: a mount carrying one or more controllers (or a named
/// hierarchy such as `name=systemd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Mount {
    /// Controllers in kernel order, e.g. ["cpu", "cpuacct"] or ["name=systemd"].
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    /// Field 4 of mountinfo: which cgroup of the hierarchy is mounted there
    /// ("/" normally, a sub-cgroup inside containers).
    pub root: PathBuf,
}

impl V1Mount {
    /// Name of the hierarchy as /proc/self/cgroup and `CgroupDir` spell it.
    pub fn name(&self) -> String {
        self.controllers.join(",")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedMount {
    pub mountpoint: PathBuf,
    pub root: PathBuf,
    /// Content of cgroup.controllers at the mount: what v2 can manage here.
    pub controllers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hierarchies {
    pub v1: Vec<V1Mount>,
    pub unified: Option<UnifiedMount>,
    /// The caller's cgroup per hierarchy from /proc/self/cgroup: key is the
    /// hierarchy name ("memory", "cpu,cpuacct", "name=systemd") or "" for v2.
    pub own: BTreeMap<String, PathBuf>,
}

impl Hierarchies {
    /// One read of mountinfo, one of /proc/self/cgroup, one of the unified
    /// cgroup.controllers when cgroup2 is mounted.
    pub fn detect() -> Result<Hierarchies, CgroupError> {
        let mi = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| CgroupError::io("read", "/proc/self/mountinfo", e))?;
        let cg = fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| CgroupError::io("read", "/proc/self/cgroup", e))?;
        let mut h = parse(&mi, &cg)?;
        if let Some(u) = h.unified.as_mut() {
            let p = u.mountpoint.join("cgroup.controllers");
            // A cgroup namespace root without controllers still works for
            // freezing and pids, so a missing file is not fatal.
            u.controllers = match fs::read_to_string(&p) {
                Ok(s) => s.split_whitespace().map(str::to_string).collect(),
                Err(e) => {
                    tracing::debug!("read {}: {e}", p.display());
                    Vec::new()
                }
            };
        }
        Ok(h)
    }

    pub fn layout(&self) -> Layout {
        let real_v1 = self
            .v1
            .iter()
            .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        match (real_v1, self.unified.is_some()) {
            (true, true) => Layout::Hybrid,
            (true, false) => Layout::V1,
            // Only named v1 hierarchies (name=systemd) next to cgroup2:
            // resources are all on v2.
            (false, _) => Layout::V2,
        }
    }

    /// The v1 hierarchy carrying `controller` ("memory", "name=systemd").
    pub fn v1_mount(&self, controller: &str) -> Option<&V1Mount> {
        self.v1
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == controller))
    }

    /// Whether `controller` can be managed on this host, on either version.
    pub fn has_controller(&self, controller: &str) -> bool {
        match self.layout() {
            Layout::V2 => self.unified_has(controller),
            Layout::V1 => self.v1_mount(controller).is_some(),
            Layout::Hybrid => self.v1_mount(controller).is_some() || self.unified_has(controller),
        }
    }

    /// Whether `controller` is managed through the unified hierarchy (v2 or
    /// a hybrid controller that is not mounted on v1, e.g. hugetlb here).
    pub fn on_v2(&self, controller: &str) -> bool {
        match self.layout() {
            Layout::V2 => true,
            Layout::V1 => false,
            Layout::Hybrid => self.v1_mount(controller).is_none() && self.unified_has(controller),
        }
    }

    fn unified_has(&self, controller: &str) -> bool {
        let name = v2_name(controller);
        self.unified
            .as_ref()
            .is_some_and(|u| u.controllers.iter().any(|c| c == name))
    }
}

/// The cgroup2 name of a controller known by its v1 name: blkio became io,
/// cpuacct's statistics moved into cpu.
pub(crate) fn v2_name(controller: &str) -> &str {
    match controller {
        "blkio" => "io",
        "cpuacct" => "cpu",
        c => c,
    }
}

/// Parses both files; pure so that the three layouts can be unit tested.
pub(crate) fn parse(mountinfo: &str, proc_cgroup: &str) -> Result<Hierarchies, CgroupError> {
    let mut h = Hierarchies::default();
    for line in mountinfo.lines() {
        let Some(m) = parse_line(line) else { continue };
        match m.fstype {
            // The first cgroup2 mount wins; later ones are bind mounts.
            "cgroup2" if h.unified.is_none() => {
                h.unified = Some(UnifiedMount {
                    mountpoint: m.mountpoint,
                    root: m.root,
                    controllers: Vec::new(),
                });
            }
            "cgroup" => {
                let controllers: Vec<String> = m
                    .super_opts
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                    .map(str::to_string)
                    .collect();
                if controllers.is_empty() {
                    continue;
                }
                // The same hierarchy may be mounted twice (bind mounts);
                // keep the first.
                if h.v1.iter().any(|x| x.controllers == controllers) {
                    continue;
                }
                h.v1.push(V1Mount {
                    controllers,
                    mountpoint: m.mountpoint,
                    root: m.root,
                });
            }
            _ => {}
        }
    }
    if h.v1.is_empty() && h.unified.is_none() {
        return Err(CgroupError::NotMounted(
            "no cgroup or cgroup2 filesystem in /proc/self/mountinfo".into(),
        ));
    }
    h.own = parse_proc_cgroup(proc_cgroup);
    Ok(h)
}

/// `/proc/self/cgroup` lines are "id:controllers:path"; v2 is "0::path".
/// Keyed by the controller list as the kernel prints it;
/// [`Hierarchies::own_relative`] matches a mount's controllers to it in any
/// order.
pub(crate) fn parse_proc_cgroup(s: &str) -> BTreeMap<String, PathBuf> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let path = it.next()?;
            Some((ctrls.to_string(), PathBuf::from(path)))
        })
        .collect()
}

impl Hierarchies {
    /// The caller's cgroup in hierarchy `controllers` (v2: empty slice),
    /// relative to the hierarchy mount: the mount root is stripped because
    /// inside a container /proc/self/cgroup shows paths of the whole
    /// hierarchy while only `root` is mounted.
    pub(crate) fn own_relative(&self, controllers: &[String], mount_root: &Path) -> PathBuf {
        let found = self.own.iter().find(|(k, _)| {
            if controllers.is_empty() {
                return k.is_empty();
            }
            let mut a: Vec<&str> = k.split(',').filter(|s| !s.is_empty()).collect();
            let mut b: Vec<&str> = controllers.iter().map(String::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        });
        let own = match found {
            Some((_, p)) => p.clone(),
            None => PathBuf::from("/"),
        };
        match own.strip_prefix(mount_root) {
            Ok(rel) => PathBuf::from("/").join(rel),
            // Not under the mounted root (odd namespace setups): use it as is.
            Err(_) => own,
        }
    }
}

struct MountLine<'a> {
    root: PathBuf,
    mountpoint: PathBuf,
    fstype: &'a str,
    super_opts: &'a str,
}

/// mountinfo: "id parent maj:min root mountpoint opts [optional...] - fstype source superopts"
fn parse_line(line: &str) -> Option<MountLine<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let root = l.nth(3)?;
    let mountpoint = l.next()?;
    let mut r = right.split(' ');
    let fstype = r.next()?;
    let _source = r.next()?;
    let super_opts = r.next().unwrap_or("");
    Some(MountLine {
        root: PathBuf::from(unescape(root)),
        mountpoint: PathBuf::from(unescape(mountpoint)),
        fstype,
        super_opts,
    })
}

/// mountinfo escapes space, tab, newline and backslash as \ooo octal.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
