//! Which directory drives a controller, and creation of the directories.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::error::CgroupError;
use super::{CgroupDir, CgroupSet, Layout};

/// Where a controller's files live for this container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    V1(&'a Path),
    V2(&'a Path),
    /// Not mounted on v1 and not enabled for our v2 directory.
    Missing,
}

/// Resolves controllers to directories. Reads the v2 directory's
/// cgroup.controllers once: it lists exactly the controllers whose files
/// exist in that directory (those enabled in the parent's subtree_control).
pub(crate) struct Targets<'a> {
    set: &'a CgroupSet,
    v2_controllers: Vec<String>,
}

impl<'a> Targets<'a> {
    pub fn new(set: &'a CgroupSet) -> Self {
        let v2_controllers = match set.unified_dir() {
            Some(d) if set.layout != Layout::V1 => read_controllers(&d.path),
            _ => Vec::new(),
        };
        Targets {
            set,
            v2_controllers,
        }
    }

    pub fn get(&self, controller: &str) -> Target<'a> {
        if let Some(d) = self.set.v1_dir(controller) {
            return Target::V1(&d.path);
        }
        let v2 = super::mountinfo::v2_name(controller);
        match self.set.unified_dir() {
            Some(d) if self.v2_controllers.iter().any(|c| c == v2) => Target::V2(&d.path),
            _ => Target::Missing,
        }
    }

    /// One-shot lookup of a controller's directory.
    pub fn dir_of(set: &'a CgroupSet, controller: &str) -> Option<&'a Path> {
        match Targets::new(set).get(controller) {
            Target::V1(p) | Target::V2(p) => Some(p),
            Target::Missing => None,
        }
    }

    pub fn set(&self) -> &'a CgroupSet {
        self.set
    }
}

fn read_controllers(dir: &Path) -> Vec<String> {
    match fs::read_to_string(dir.join("cgroup.controllers")) {
        Ok(s) => s.split_whitespace().map(str::to_string).collect(),
        Err(e) => {
            tracing::debug!("read {}/cgroup.controllers: {e}", dir.display());
            Vec::new()
        }
    }
}

/// mkdir -p of `d.path` below `d.mount`, pushing each directory made onto
/// `made`. v2: controllers are enabled in each ancestor first, as the files
/// of a controller appear in a cgroup only when its parent delegates it.
/// v1 cpuset: new directories start with empty cpus/mems, which would make
/// attaching any task fail, so each level left empty (ours or an existing
/// one) inherits its parent's.
pub(crate) fn create_dir(d: &CgroupDir, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let rel = d
        .path
        .strip_prefix(&d.mount)
        .map_err(|_| CgroupError::InvalidPath {
            path: d.path.display().to_string(),
            reason: format!("not below the hierarchy mount {}", d.mount.display()),
        })?;
    let is_cpuset = d.has("cpuset");
    let mut cur = d.mount.clone();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            continue;
        };
        if d.is_unified() {
            enable_all_controllers(&cur);
        }
        let parent = cur.clone();
        cur.push(name);
        match fs::create_dir(&cur) {
            Ok(()) => {
                tracing::debug!(dir = %cur.display(), "created cgroup");
                made.push(cur.clone());
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CgroupError::io("mkdir", &cur, e)),
        }
        // An existing ancestor can be empty too (a pod cgroup someone made
        // with mkdir): filled top-down like runc, or no task could join.
        if is_cpuset {
            inherit_cpuset(&parent, &cur)?;
        }
    }
    Ok(())
}

/// Best effort, like runc: a controller that cannot be enabled (cgroup with
/// processes of its own, delegation) is reported by `apply` only if the spec
/// actually needs it. Only controllers missing from subtree_control are
/// written, so an ancestor already set up is left untouched.
fn enable_all_controllers(dir: &Path) {
    let available = read_controllers(dir);
    let enabled = match fs::read_to_string(dir.join("cgroup.subtree_control")) {
        Ok(s) => s.split_whitespace().map(str::to_string).collect::<Vec<_>>(),
        Err(e) => {
            tracing::debug!("read {}/cgroup.subtree_control: {e}", dir.display());
            return;
        }
    };
    for c in available.iter().filter(|c| !enabled.contains(c)) {
        let p = dir.join("cgroup.subtree_control");
        if let Err(e) = fs::write(&p, format!("+{c}")) {
            tracing::debug!("enable {c} in {}: {e}", p.display());
        }
    }
}

fn inherit_cpuset(parent: &Path, child: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let cur = super::fs::read_string(child, file)?;
        if !cur.trim().is_empty() {
            continue;
        }
        let val = super::fs::read_string(parent, file)?;
        let val = val.trim();
        if val.is_empty() {
            continue;
        }
        super::fs::write(child, file, val, "cpuset (inherited from parent)")?;
    }
    Ok(())
}
