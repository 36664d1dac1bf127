//! A private world for runs of the rcrun binary (the checks made after
//! each run are in leftovers.rs).
//!
//! Everything carries one tag, `rcrun-fuzz-<pid>-<name>`: the directory
//! `/tmp/<tag>` (state root `root/`, a busybox rootfs `rootfs/`, bundles,
//! the console socket, each run's stdout/stderr) and the parent cgroup
//! `/<tag>`, made in every hierarchy (v1 cpuset filled, cgroup2 controllers
//! delegated), as conformance/lib/cgroup.bash does. "Left behind" then means:
//! an entry in a state root, a cgroup directory below the parent, a process
//! whose command line, cwd or root mentions the tag, or a mount that does.
//! The sandbox removes what is left when dropped (and the cgroup2 root's
//! subtree_control gets back what rcrun enabled, as the kernel tests do).
//!
//! Runs need root: `Sandbox::new` returns None otherwise.

use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use super::invocation::{Cwd, Invocation, Outcome};
use super::leftovers::kill_and_remove;

pub const RCRUN: &str = env!("CARGO_BIN_EXE_rcrun");
pub const BASE: &str = include_str!("../../../conformance/lib/config.base.json");
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct Sandbox {
    pub tag: String,
    pub dir: PathBuf,
    /// The private state root (every run gets `--root`).
    pub root: PathBuf,
    pub rootfs: PathBuf,
    /// Whether rootfs/bin/busybox is a real static busybox (else a copy of
    /// rcrun: enough for `create`, not for running anything).
    pub busybox: bool,
    /// `/<tag>`: every bundle's cgroupsPath is below it.
    pub cg_parent: String,
    /// A socket that accepts (and drops) pty masters.
    pub console_socket: PathBuf,
    /// State roots other than `root` that runs may use (a relative or
    /// not-yet-existing `--root`): scanned for leftovers too.
    pub extra_roots: Vec<PathBuf>,
    /// The parent cgroup in every hierarchy (made here).
    pub(super) cg_dirs: Vec<PathBuf>,
    unified_roots: Vec<(PathBuf, Vec<String>)>,
    /// The entries of / when the sandbox was made (see `outside`).
    pub(super) root_entries: Vec<OsString>,
    seq: u64,
}

fn cgroup_mounts() -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if !matches!(post.split(' ').next(), Some("cgroup" | "cgroup2")) {
            continue;
        }
        let Some(mp) = pre.split(' ').nth(4) else {
            continue;
        };
        let mp = PathBuf::from(mp.replace("\\040", " "));
        if !out.contains(&mp) {
            out.push(mp);
        }
    }
    out
}

fn is_static(path: &Path) -> bool {
    Command::new("ldd")
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .map(|o| {
            let t = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            t.contains("not a dynamic executable") || t.contains("statically linked")
        })
        .unwrap_or(false)
}

/// A test that cannot run here: one line on the test output, or a failure
/// with RCRUN_TEST_REQUIRE_ROOT=1 (CI), so that it never passes unrun.
pub fn skip(name: &str, why: &str) {
    let required = std::env::var("RCRUN_TEST_REQUIRE_ROOT").as_deref() == Ok("1");
    assert!(!required, "{name}: cannot run: {why}");
    // Not eprintln!, which the test harness captures: this line shows.
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {why}");
}

fn write_file(path: &Path, data: impl AsRef<[u8]>) {
    if let Err(e) = fs::write(path, data) {
        panic!("writing {}: {e}", path.display());
    }
}

impl Sandbox {
    pub fn new(name: &str) -> Option<Sandbox> {
        if !nix::unistd::geteuid().is_root() {
            skip(name, "running containers needs root");
            return None;
        }
        let tag = format!("rcrun-fuzz-{}-{name}", std::process::id());
        let dir = PathBuf::from("/tmp").join(&tag);
        let _ = fs::remove_dir_all(&dir);
        let rootfs = dir.join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root", "run"] {
            if let Err(e) = fs::create_dir_all(rootfs.join(d)) {
                panic!("{}: {e}", rootfs.join(d).display());
            }
        }
        let bb = [
            std::env::var("RCRUN_TEST_BUSYBOX").unwrap_or_default(),
            "/bin/busybox".into(),
            "/usr/bin/busybox".into(),
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file() && is_static(p));
        let busybox = bb.is_some();
        let src = bb.unwrap_or_else(|| PathBuf::from(RCRUN));
        if let Err(e) = fs::copy(&src, rootfs.join("bin/busybox")) {
            panic!("copying {}: {e}", src.display());
        }
        for l in ["sh", "sleep", "true", "false", "cat", "echo", "env"] {
            let _ = symlink("busybox", rootfs.join("bin").join(l));
        }
        write_file(
            &rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        );
        write_file(&rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n");
        let root = dir.join("root");
        let _ = fs::create_dir_all(&root);

        let console_socket = dir.join("console.sock");
        match UnixListener::bind(&console_socket) {
            Ok(l) => {
                std::thread::spawn(move || {
                    for mut c in l.incoming().flatten() {
                        // The pty master comes as SCM_RIGHTS: closing the
                        // connection unread closes it.
                        std::thread::spawn(move || {
                            let mut sink = [0u8; 256];
                            while matches!(c.read(&mut sink), Ok(n) if n > 0) {}
                        });
                    }
                });
            }
            Err(e) => panic!("{}: {e}", console_socket.display()),
        }

        let cg_parent = format!("/{tag}");
        let mut sb = Sandbox {
            tag,
            dir,
            root,
            rootfs,
            busybox,
            cg_parent,
            console_socket,
            extra_roots: Vec::new(),
            cg_dirs: Vec::new(),
            unified_roots: Vec::new(),
            root_entries: fs::read_dir("/")
                .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default(),
            seq: 0,
        };
        for m in cgroup_mounts() {
            let d = m.join(&sb.cg_parent[1..]);
            let v2 = m.join("cgroup.controllers").exists();
            if v2 {
                let s = fs::read_to_string(m.join("cgroup.subtree_control")).unwrap_or_default();
                sb.unified_roots.push((
                    m.clone(),
                    s.split_whitespace().map(str::to_string).collect(),
                ));
            }
            if fs::create_dir(&d).is_err() {
                continue;
            }
            sb.cg_dirs.push(d.clone());
            if v2 {
                let ctrls = fs::read_to_string(d.join("cgroup.controllers")).unwrap_or_default();
                for c in ctrls.split_whitespace() {
                    let _ = fs::write(d.join("cgroup.subtree_control"), format!("+{c}"));
                }
            } else if m.join("cpuset.cpus").exists() {
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    let v = fs::read_to_string(m.join(f)).unwrap_or_default();
                    let _ = fs::write(d.join(f), v.trim());
                }
            }
        }
        Some(sb)
    }

    /// A fresh name (for ids, directories) unique in this sandbox.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{}", self.seq)
    }

    /// The base config.json, with an absolute root.path (the shared
    /// rootfs), cgroupsPath `<parent>/<cg>`, terminal false.
    pub fn config(&self, cg: &str) -> Value {
        let mut c: Value = serde_json::from_str(BASE).unwrap_or_else(|_| json!({}));
        c["root"]["path"] = json!(self.rootfs);
        c["linux"]["cgroupsPath"] = json!(format!("{}/{cg}", self.cg_parent));
        c["process"]["terminal"] = json!(false);
        c
    }

    /// Writes `dir/<name>/config.json` (bytes as given) and returns the
    /// bundle's path.
    pub fn bundle(&self, name: &str, config: &[u8]) -> PathBuf {
        let b = self.dir.join(name);
        let _ = fs::create_dir_all(&b);
        write_file(&b.join("config.json"), config);
        b
    }

    /// Runs rcrun; stdout/stderr go to files (a container's init inherits
    /// them and may outlive the run: a pipe would never see EOF).
    pub fn run(&mut self, inv: &Invocation) -> Outcome {
        let out_dir = self.dir.join("out");
        let _ = fs::create_dir_all(&out_dir);
        let (out_p, err_p) = (out_dir.join("stdout"), out_dir.join("stderr"));
        let _ = fs::remove_file(&out_p);
        let _ = fs::remove_file(&err_p);
        let (Ok(out_f), Ok(err_f)) = (fs::File::create(&out_p), fs::File::create(&err_p)) else {
            panic!("creating {}", out_dir.display());
        };
        let mut cmd = Command::new(RCRUN);
        cmd.args(&inv.args)
            .env_clear()
            .env("PATH", PATH)
            .envs(inv.env.iter().map(|(k, v)| (k, v)))
            .stdout(out_f)
            .stderr(err_f);
        let stdin_file = out_dir.join("stdin");
        match &inv.stdin {
            Some(data) => {
                write_file(&stdin_file, data);
                match fs::File::open(&stdin_file) {
                    Ok(f) => cmd.stdin(f),
                    Err(e) => panic!("{}: {e}", stdin_file.display()),
                };
            }
            None => {
                cmd.stdin(Stdio::null());
            }
        }
        match &inv.cwd {
            Cwd::Dir(d) => {
                cmd.current_dir(d);
            }
            Cwd::Deleted => {
                let name = self.fresh("gone-");
                let d = self.dir.join(name);
                let _ = fs::create_dir_all(&d);
                cmd.current_dir(&d);
                let c = CString::new(d.as_os_str().as_bytes()).unwrap_or_default();
                // SAFETY: rmdir(2) is async-signal-safe; `c` was allocated
                // before the fork.
                unsafe {
                    cmd.pre_exec(move || {
                        libc::rmdir(c.as_ptr());
                        Ok(())
                    });
                }
            }
        }
        let t = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("spawning {}: {e}", inv.render()),
        };
        let mut timed_out = false;
        let mut nap = Duration::from_micros(500);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) => {}
                Err(_) => break None,
            }
            if t.elapsed() > inv.timeout {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        };
        let took = t.elapsed();
        let read = |p: &Path| {
            let mut s = Vec::new();
            if let Ok(mut f) = fs::File::open(p) {
                let _ = f.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        };
        Outcome {
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            timed_out,
            stdout: read(&out_p),
            stderr: read(&err_p),
            took,
        }
    }

    /// `rcrun --root <root> ARGS` from the sandbox dir, plain environment.
    pub fn rcrun(&mut self, root: &Path, args: &[&str]) -> Outcome {
        let mut a: Vec<OsString> = vec!["--root".into(), root.into()];
        a.extend(args.iter().map(OsString::from));
        let mut inv = Invocation::new(a);
        inv.cwd = Cwd::Dir(self.dir.clone());
        self.run(&inv)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.clean(&[], &[]);
        let dirs = self.cg_dirs.clone();
        kill_and_remove(&dirs);
        for (root, before) in &self.unified_roots {
            let p = root.join("cgroup.subtree_control");
            let now = fs::read_to_string(&p).unwrap_or_default();
            for c in now
                .split_whitespace()
                .filter(|c| !before.iter().any(|b| b == c))
            {
                let _ = fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .and_then(|mut f| f.write_all(format!("-{c}").as_bytes()));
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `OsString` from raw bytes (may be non-UTF-8).
pub fn os(b: &[u8]) -> OsString {
    OsStr::from_bytes(b).to_os_string()
}
