//! After each run: what it left behind (state dirs, cgroups, processes,
//! mounts that carry the sandbox's tag), and the clean-up.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sandbox::Sandbox;

impl Sandbox {
    /// State roots a run may have used.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut v = vec![self.root.clone()];
        v.extend(self.extra_roots.iter().cloned());
        v
    }

    /// Container ids (directories) under every state root, as (root, id).
    pub fn containers(&self) -> Vec<(PathBuf, String)> {
        let mut v = Vec::new();
        for r in self.roots() {
            if let Ok(rd) = fs::read_dir(&r) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        v.push((r.clone(), e.file_name().to_string_lossy().into_owned()));
                    }
                }
            }
        }
        v.sort();
        v
    }

    /// cgroup directories below the parent, in every hierarchy.
    pub fn cgroups(&self) -> Vec<PathBuf> {
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(rd) = fs::read_dir(d) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        out.push(e.path());
                        walk(&e.path(), out);
                    }
                }
            }
        }
        let mut v = Vec::new();
        for d in &self.cg_dirs {
            walk(d, &mut v);
        }
        v
    }

    /// Processes that mention the tag (command line, cwd, root), except
    /// those in one of `keep` (cgroup paths such as `/<tag>/live`).
    pub fn processes(&self, keep: &[String]) -> Vec<(i32, String)> {
        let me = std::process::id() as i32;
        let mut v = Vec::new();
        let Ok(rd) = fs::read_dir("/proc") else {
            return v;
        };
        let tag = self.tag.as_bytes();
        let has_tag = |b: &[u8]| b.windows(tag.len()).any(|w| w == tag);
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            let p = e.path();
            let cmdline = fs::read(p.join("cmdline")).unwrap_or_default();
            let cwd = fs::read_link(p.join("cwd")).unwrap_or_default();
            let root = fs::read_link(p.join("root")).unwrap_or_default();
            if !(has_tag(&cmdline)
                || has_tag(cwd.as_os_str().as_bytes())
                || has_tag(root.as_os_str().as_bytes()))
            {
                continue;
            }
            let cg = fs::read_to_string(p.join("cgroup")).unwrap_or_default();
            if cg.lines().any(|l| {
                keep.iter()
                    .any(|k| l.ends_with(k.as_str()) || l.contains(&format!("{k}/")))
            }) {
                continue;
            }
            let shown: Vec<u8> = cmdline
                .iter()
                .map(|&c| if c == 0 { b' ' } else { c })
                .collect();
            v.push((pid, String::from_utf8_lossy(&shown).trim().to_string()));
        }
        v
    }

    /// Mounts (of this mount namespace) that mention the tag.
    pub fn mounts(&self) -> Vec<String> {
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&self.tag))
            .map(str::to_string)
            .collect()
    }

    /// Everything left behind except the containers in `keep` ((root, id)),
    /// their cgroups (`<parent>/<cg>`, `keep_cg`) and their processes.
    /// Processes get a moment to go: they are reaped asynchronously.
    pub fn leftovers(&self, keep: &[(PathBuf, String)], keep_cg: &[String]) -> Vec<String> {
        let keep_cg: Vec<String> = keep_cg
            .iter()
            .map(|c| format!("{}/{c}", self.cg_parent))
            .collect();
        let mut tries = 0;
        loop {
            let mut v = Vec::new();
            for c in self.containers() {
                if !keep.contains(&c) {
                    v.push(format!("state dir {}", c.0.join(&c.1).display()));
                }
            }
            for d in self.cgroups() {
                let s = d.to_string_lossy();
                if !keep_cg.iter().any(|k| s.contains(k.as_str())) {
                    v.push(format!("cgroup {s}"));
                }
            }
            for (pid, cmd) in self.processes(&keep_cg) {
                v.push(format!("process {pid} ({cmd})"));
            }
            for m in self.mounts() {
                v.push(format!("mount {m}"));
            }
            for e in self.outside() {
                v.push(format!("outside the sandbox: {}", e.display()));
            }
            tries += 1;
            if v.is_empty() || tries >= 20 {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Removes what `leftovers` reports (best effort): `delete --force`,
    /// then kills and removes the cgroups, kills tagged processes, removes
    /// state dirs.
    pub fn clean(&mut self, keep: &[(PathBuf, String)], keep_cg: &[String]) {
        for (root, id) in self.containers() {
            if keep.contains(&(root.clone(), id.clone())) {
                continue;
            }
            let _ = self.rcrun(&root, &["delete", "--force", &id]);
            let _ = fs::remove_dir_all(root.join(&id));
        }
        let keep_cg: Vec<String> = keep_cg
            .iter()
            .map(|c| format!("{}/{c}", self.cg_parent))
            .collect();
        let mut dirs = self.cgroups();
        dirs.retain(|d| {
            let s = d.to_string_lossy();
            !keep_cg.iter().any(|k| s.contains(k.as_str()))
        });
        kill_and_remove(&dirs);
        for (pid, _) in self.processes(&keep_cg) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for m in self.mounts() {
            if let Some(mp) = m.split(' ').nth(4) {
                let _ = nix::mount::umount2(mp, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        // What a run made in / (a relative path resolved there), when it
        // is ours for sure: a tree holding a state.json of the sandbox's
        // containers (clean_outside takes what the run's arguments name).
        for e in self.outside() {
            if mentions_tag(&e, &self.tag, 3) {
                remove(&e);
            }
        }
    }

    /// Removes the entries of / made since the sandbox was (see `outside`)
    /// that `args` name: the first component of a relative path argument,
    /// or config.json (what `spec` writes in the cwd).
    pub fn clean_outside(&self, args: &[OsString]) {
        for e in self.outside() {
            let Some(name) = e.file_name() else {
                continue;
            };
            let named = name == "config.json"
                || args.iter().any(|a| {
                    let a = a.as_encoded_bytes();
                    let a = a.strip_prefix(b"--").map_or(a, |r| {
                        r.iter().position(|&c| c == b'=').map_or(a, |i| &r[i + 1..])
                    });
                    !a.starts_with(b"/")
                        && a.split(|&c| c == b'/')
                            .find(|c| !c.is_empty() && *c != b".")
                            == Some(name.as_encoded_bytes())
                });
            if named {
                remove(&e);
            }
        }
    }

    /// Entries of / that were not there when the sandbox was made: what a
    /// run started in a deleted cwd makes of a relative path if rcrun
    /// resolves it against / (a container's state in /<id>, ...).
    pub fn outside(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Ok(rd) = fs::read_dir("/") {
            for e in rd.flatten() {
                if !self.root_entries.contains(&e.file_name()) {
                    v.push(e.path());
                }
            }
        }
        v.sort();
        v
    }
}

fn remove(p: &Path) {
    if p.is_dir() && !p.is_symlink() {
        let _ = fs::remove_dir_all(p);
    } else {
        let _ = fs::remove_file(p);
    }
}

/// Whether a file of `path`'s tree, `depth` levels down at most, has `tag`
/// in its content (a state.json naming the sandbox's bundle).
fn mentions_tag(path: &Path, tag: &str, depth: u32) -> bool {
    if path.is_file() {
        return fs::read(path).is_ok_and(|d| d.windows(tag.len()).any(|w| w == tag.as_bytes()));
    }
    if depth == 0 || path.is_symlink() {
        return false;
    }
    fs::read_dir(path).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| mentions_tag(&e.path(), tag, depth - 1))
    })
}

/// Thaws, kills every process of, and removes (deepest first) `dirs`.
pub fn kill_and_remove(dirs: &[PathBuf]) {
    for d in dirs {
        let _ = fs::write(d.join("freezer.state"), "THAWED");
        let _ = fs::write(d.join("cgroup.freeze"), "0");
        let _ = fs::write(d.join("cgroup.kill"), "1");
        for p in fs::read_to_string(d.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
        {
            if let Ok(pid) = p.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let mut sorted: Vec<&PathBuf> = dirs.iter().collect();
    sorted.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for _ in 0..50 {
        let mut left = false;
        for d in &sorted {
            if d.exists() && fs::remove_dir(d).is_err() {
                left = true;
            }
        }
        if !left {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
