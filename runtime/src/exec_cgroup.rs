//! `exec --cgroup`: the exec'd process in an existing sub-cgroup of the
//! container, as runc does. `--cgroup PATH` moves it in every hierarchy,
//! `--cgroup CTRL[,CTRL]:PATH` (repeatable, v1) only in the hierarchies of
//! those controllers; the others stay at the container's cgroup.
//!
//! The sub-cgroups' `cgroup.procs` are opened by rcrun before anything is
//! started (a missing one fails the exec then, as runc's does), and the
//! exec'd process writes itself into them as the last step before the
//! user's program: it never runs a single instruction in the container's
//! own cgroup. The kernel checks such a move against the opener's
//! credentials and cgroup namespace (rcrun's), not the process's.
//!
//! The path is relative to the container's cgroup (a leading `/` too, as
//! runc joins it) and must stay inside it: `..` may only walk back within
//! it. runc checks that with a string prefix, which lets `../c1x` out of
//! `c1`; rcrun compares path components.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use oci_spec::runtime::Spec;

use crate::cgroups::{CgroupDir, CgroupSet, Layout};
use crate::error::{Result, SpecError};

/// Controller name ("" = every hierarchy) to the sub-path asked for.
pub type SubPaths = BTreeMap<String, String>;

/// Parses the `--cgroup` flags as runc does: one bare PATH, or any number
/// of `CTRL[,CTRL]:PATH`.
pub fn parse(args: &[String]) -> Result<SubPaths> {
    let mut out = SubPaths::new();
    for a in args {
        let parts: Vec<&str> = a.splitn(3, ':').collect();
        match parts[..] {
            [path] if args.len() == 1 => {
                out.insert(String::new(), path.to_string());
            }
            [_] => {
                return Err(SpecError::new(
                    "--cgroup",
                    format!("{a:?}"),
                    "is missing its <controller>: prefix (several --cgroup flags each name their controllers)",
                )
                .into())
            }
            [ctrls, path] => {
                for c in ctrls.split(',') {
                    out.insert(c.to_string(), path.to_string());
                }
            }
            _ => {
                return Err(SpecError::new(
                    "--cgroup",
                    format!("{a:?}"),
                    "is not [<controller>[,<controller>]:]<path>",
                )
                .into())
            }
        }
    }
    Ok(out)
}

/// `base` joined with `sub` lexically, as runc's path.Join (a leading '/'
/// is relative to `base`, `..` walks back), or None when the result is not
/// `base` or below it.
pub fn join_inside(base: &Path, sub: &str) -> Option<PathBuf> {
    let mut p = base.to_path_buf();
    for c in Path::new(sub).components() {
        match c {
            Component::Normal(n) => p.push(n),
            Component::ParentDir => {
                p.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    p.starts_with(base).then_some(p)
}

/// The controllers a `--cgroup CTRL:` may name for `dir`: its v1
/// controllers (or its name=... hierarchy); none for cgroup2.
fn names(dir: &CgroupDir) -> Vec<&str> {
    if dir.is_unified() {
        return Vec::new();
    }
    dir.hierarchy.split(',').collect()
}

/// The sub-cgroup directories `subs` names in the container's `set`.
pub fn resolve(set: &CgroupSet, subs: &SubPaths) -> Result<Vec<PathBuf>> {
    // Unquoted when plain: runc's "<path> is not a sub cgroup path" is
    // what callers (runc's own exec.bats) match.
    let bad_path = |sub: &str| {
        let shown = if sub.chars().all(|c| c.is_ascii_graphic()) {
            sub.to_string()
        } else {
            format!("{sub:?}")
        };
        SpecError::new(
            "--cgroup",
            shown,
            "is not a sub cgroup path (it leaves the container's cgroup)",
        )
    };
    for ctrl in subs.keys().filter(|c| !c.is_empty()) {
        let known =
            set.layout != Layout::V2 && set.dirs.iter().any(|d| names(d).contains(&ctrl.as_str()));
        if !known {
            return Err(SpecError::new(
                "--cgroup",
                format!("{ctrl:?}"),
                ": unknown controller (not one of the container's cgroups)",
            )
            .into());
        }
    }
    let mut dirs = Vec::new();
    for d in &set.dirs {
        let sub = subs.get("").or_else(|| {
            names(d)
                .into_iter()
                .find_map(|n| subs.get(n).filter(|_| !n.is_empty()))
        });
        if let Some(sub) = sub {
            let p = join_inside(&d.path, sub).ok_or_else(|| bad_path(sub))?;
            if p != d.path {
                dirs.push(p);
            }
        }
    }
    Ok(dirs)
}

/// Opens each directory's `cgroup.procs` for writing: a sub-cgroup that
/// does not exist fails here, before anything starts.
pub fn open_procs(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, OwnedFd)>> {
    dirs.iter()
        .map(|d| {
            let file = d.join("cgroup.procs");
            OpenOptions::new()
                .write(true)
                .open(&file)
                .map(|f| (d.clone(), OwnedFd::from(f)))
                .map_err(|e| {
                    // runc's words: "adding pid N to cgroups: <file>: no
                    // such file or directory".
                    let why = e
                        .raw_os_error()
                        .map(|n| nix::errno::Errno::from_raw(n).desc().to_lowercase())
                        .unwrap_or_else(|| e.to_string());
                    SpecError::new(
                        "--cgroup",
                        d.display().to_string(),
                        format!(
                            ": cannot join the sub-cgroup: adding pid to cgroups: {}: {why}",
                            file.display()
                        ),
                    )
                    .into()
                })
        })
        .collect()
}

/// The executor of every exec'd process: moves it into the sub-cgroups
/// whose `cgroup.procs` rcrun opened (none without `--cgroup`), logs runc's
/// milestones, then runs `inner`.
#[derive(Clone)]
pub struct InSubCgroups<E: Executor + Clone + 'static> {
    pub procs: Arc<Vec<(PathBuf, OwnedFd)>>,
    pub inner: E,
}

impl<E: Executor + Clone + 'static> Executor for InSubCgroups<E> {
    fn exec(&self, spec: &Spec) -> std::result::Result<(), ExecutorError> {
        // runc's milestones for an exec'd process, from the process itself
        // (tooling, and runc's own debug.bats, look for them).
        tracing::debug!("=> nsexec container setup");
        tracing::debug!("child process in init()");
        for (dir, fd) in self.procs.iter() {
            // "0" is the writer itself. The fd is this process's copy,
            // CLOEXEC: the program never sees it.
            nix::unistd::write(fd, b"0").map_err(|e| {
                ExecutorError::Other(format!(
                    "exec --cgroup: joining {}: {}",
                    dir.display(),
                    e.desc()
                ))
            })?;
        }
        tracing::debug!("setns_init: about to exec");
        self.inner.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> std::result::Result<(), ExecutorValidationError> {
        self.inner.validate(spec)
    }

    fn setup_envs(
        &self,
        envs: std::collections::HashMap<String, String>,
    ) -> std::result::Result<(), libcontainer::workload::ExecutorSetEnvsError> {
        self.inner.setup_envs(envs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(h: &str, p: &str) -> CgroupDir {
        CgroupDir {
            hierarchy: h.into(),
            path: PathBuf::from(p),
            mount: PathBuf::from("/sys/fs/cgroup"),
        }
    }

    fn hybrid() -> CgroupSet {
        CgroupSet {
            layout: Layout::Hybrid,
            dirs: vec![
                dir("memory", "/m/c"),
                dir("cpu,cpuacct", "/cc/c"),
                dir("unified", "/u/c"),
            ],
            created: Vec::new(),
            systemd: None,
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_runc_forms() {
        let p = parse(&args(&["sub"])).unwrap_or_default();
        assert_eq!(p.get(""), Some(&"sub".to_string()));
        let p = parse(&args(&["cpu,memory:a", "pids:b"])).unwrap_or_default();
        assert_eq!(p.len(), 3);
        assert!(parse(&args(&["a:b:c"])).is_err());
        assert!(parse(&args(&["a", "memory:b"])).is_err());
    }

    #[test]
    fn stays_inside() {
        let b = Path::new("/x/c1");
        assert_eq!(join_inside(b, "/sub"), Some(PathBuf::from("/x/c1/sub")));
        assert_eq!(join_inside(b, "a/../b"), Some(PathBuf::from("/x/c1/b")));
        assert_eq!(join_inside(b, "."), Some(PathBuf::from("/x/c1")));
        assert_eq!(join_inside(b, "../c1"), Some(PathBuf::from("/x/c1")));
        assert_eq!(join_inside(b, "../c1x"), None);
        assert_eq!(join_inside(b, "a/../../.."), None);
    }

    #[test]
    fn resolves_per_controller() {
        let set = hybrid();
        let all = resolve(&set, &parse(&args(&["s"])).unwrap_or_default()).unwrap_or_default();
        assert_eq!(all.len(), 3);
        let one =
            resolve(&set, &parse(&args(&["cpuacct:s"])).unwrap_or_default()).unwrap_or_default();
        assert_eq!(one, vec![PathBuf::from("/cc/c/s")]);
        assert!(resolve(&set, &parse(&args(&["foo:s"])).unwrap_or_default()).is_err());
        assert!(resolve(&set, &parse(&args(&["../.."])).unwrap_or_default()).is_err());
    }
}
