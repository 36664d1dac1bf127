//! Tests against the real kernel. Each test makes its own parent cgroup
//! ("/rcrun-test-<pid>-<tag>", absolute, in every hierarchy), checks what
//! the kernel holds, removes it and asserts nothing is left. Not root, or
//! no cgroups: each says SKIPPED on one line, and fails instead with
//! RCRUN_TEST_REQUIRE_ROOT=1 (CI; crate::test_skip). A lock serialises them
//! because on hybrid hosts `create` enables hugetlb at the cgroup2 root,
//! which the guard restores.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use super::*;
use crate::test_skip::skip;

mod apply;
mod errors;
mod procs;
mod v2;

static LOCK: Mutex<()> = Mutex::new(());

struct Env {
    h: Hierarchies,
    /// cgroup2 root subtree_control before the test, restored on drop.
    unified_root: Option<(PathBuf, Vec<String>)>,
    _guard: MutexGuard<'static, ()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let Some((root, before)) = &self.unified_root else {
            return;
        };
        let p = root.join("cgroup.subtree_control");
        let now = fs::read_to_string(&p).unwrap_or_default();
        for c in now
            .split_whitespace()
            .filter(|c| !before.iter().any(|b| b == c))
        {
            if let Err(e) = fs::write(&p, format!("-{c}")) {
                eprintln!("restoring {}: -{c}: {e}", p.display());
            }
        }
    }
}

fn env() -> Option<Env> {
    if !nix::unistd::geteuid().is_root() {
        skip("needs root");
        return None;
    }
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let h = match Hierarchies::detect() {
        Ok(h) => h,
        Err(e) => {
            skip(&format!("no cgroup hierarchies: {e}"));
            return None;
        }
    };
    let unified_root = h.unified.as_ref().map(|u| {
        let s = fs::read_to_string(u.mountpoint.join("cgroup.subtree_control")).unwrap_or_default();
        (
            u.mountpoint.clone(),
            s.split_whitespace().map(str::to_string).collect(),
        )
    });
    Some(Env {
        h,
        unified_root,
        _guard: guard,
    })
}

fn test_path(tag: &str) -> String {
    format!("/rcrun-test-{}-{tag}/ctr", std::process::id())
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

/// Removes the set and checks that every directory it created is gone.
fn remove_and_check(set: &CgroupSet) {
    set.remove().unwrap();
    for d in &set.created {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

fn dir_of<'a>(set: &'a CgroupSet, ctrl: &str) -> Option<&'a Path> {
    controller::Targets::dir_of(set, ctrl)
}

fn first_block_device() -> Option<(i64, i64)> {
    for name in ["vda", "sda", "nvme0n1", "xvda", "loop0"] {
        if let Ok(s) = fs::read_to_string(format!("/sys/block/{name}/dev")) {
            let (a, b) = s.trim().split_once(':')?;
            return Some((a.parse().ok()?, b.parse().ok()?));
        }
    }
    None
}

/// A child blocked on stdin, so that it is in the cgroup before it runs.
fn spawn_waiting(cmd: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _x; {cmd}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill_wait(c: &mut Child) {
    let _ = c.kill();
    let _ = c.wait();
}
