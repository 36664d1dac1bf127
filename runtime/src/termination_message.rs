//! A Kubernetes container's termination message, written by the runtime
//! when the kernel OOM-killed the container's init and the container wrote
//! none: `kubectl describe pod` then shows the OOM account (victim, whose
//! limit, usage) under "Last State: Terminated, Reason: OOMKilled".
//!
//! The kubelet creates an empty host file (…/pods/<uid>/containers/<name>/
//! <random>), mode 0666, asks for a bind mount of it at the container's
//! terminationMessagePath (default /dev/termination-log), and after the exit
//! reads that HOST file itself (at most 4096 bytes). The path is also in the
//! CRI annotation io.kubernetes.container.terminationMessagePath, which
//! containerd copies into the OCI spec only when the runtime's
//! `container_annotations` allows it; without it the default path is used.
//!
//! This is root writing a host path that a container may have reached
//! through another mount (a hostPath volume of the kubelet's directory):
//! every path component is resolved without following symlinks, the file is
//! first opened O_PATH (no open side effects on a device or FIFO), checked
//! to be an empty regular file with one link, and only then reopened for
//! writing through that pinned inode. A container can write the file (it is
//! its own); it cannot make the runtime write anywhere else.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, FileStat, SFlag};
use oci_spec::runtime::Spec;

use crate::oom_account::{mib, whose_limit, OomAccount};

/// The CRI annotation that carries the container's terminationMessagePath.
pub const ANNOTATION: &str = "io.kubernetes.container.terminationMessagePath";
/// Kubernetes' default terminationMessagePath.
pub const DEFAULT_PATH: &str = "/dev/termination-log";
/// The kubelet reads at most this much (MaxContainerTerminationMessageLength).
pub const MAX_LEN: usize = 4096;

/// What happened to the termination message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Written(PathBuf),
    /// The init was not an OOM victim (or the kernel log says nothing).
    NotOomKilled,
    /// No bind mount of a host file at the termination path.
    NoMount,
    /// The container wrote its own message: it is kept.
    NotEmpty,
    /// The host path is not what the kubelet makes; nothing was written.
    Refused(String),
}

/// The container's termination path: the annotation, else the default.
pub fn termination_path(spec: &Spec) -> String {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .filter(|p| p.starts_with('/'))
        .cloned()
        .unwrap_or_else(|| DEFAULT_PATH.to_string())
}

fn clean(p: &str) -> PathBuf {
    Path::new(p).components().collect()
}

/// The host source of the bind mount at the termination path (the last
/// one, as it is the one the container sees).
pub fn host_file(spec: &Spec) -> Option<PathBuf> {
    let dest = clean(&termination_path(spec));
    let m = spec
        .mounts()
        .as_ref()?
        .iter()
        .rev()
        .find(|m| clean(&m.destination().to_string_lossy()) == dest)?;
    let bind = m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|o| o == "bind" || o == "rbind"));
    let src = m.source().as_ref()?;
    (bind && src.is_absolute()).then(|| src.clone())
}

/// The short account the kubelet shows as the message.
pub fn message(id: &str, init_pid: i32, a: &OomAccount) -> String {
    let k = a
        .kills
        .iter()
        .rev()
        .find(|k| k.pid == init_pid)
        .or(a.kills.last());
    let mut s = String::from("OOM-killed by the kernel (account by rcrun)\n");
    if let Some(k) = k {
        let who = if k.pid == init_pid {
            "the container's init process"
        } else {
            "a process of the container"
        };
        s.push_str(&format!(
            "victim: host pid {} ({}), {who}\n",
            k.pid, k.command
        ));
        s.push_str(&format!("limit hit: {}\n", whose_limit(a, k)));
        if let (Some(u), Some(l)) = (k.usage_kb, k.limit_kb) {
            s.push_str(&format!(
                "usage: {} of limit {}, failcnt {}\n",
                mib(u),
                mib(l),
                k.failcnt.unwrap_or(0)
            ));
        }
        s.push_str(&format!("victim anon-rss: {}\n", mib(k.anon_rss_kb)));
    }
    s.push_str(&format!(
        "OOM kills in memory cgroup {}: {}\nwhole account: rcrun oom-report {id}\n",
        a.memcg, a.oom_kills
    ));
    truncate(s, MAX_LEN)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Writes the account into the container's termination file when its init
/// was OOM-killed and it wrote no message of its own.
pub fn write_for_oom(spec: &Spec, id: &str, init_pid: i32, a: &OomAccount) -> Outcome {
    if !a.init_oom_killed {
        return Outcome::NotOomKilled;
    }
    let Some(host) = host_file(spec) else {
        return Outcome::NoMount;
    };
    write_if_empty(&host, &message(id, init_pid, a))
}

/// Writes `text` (capped at MAX_LEN) into the host file `host` if it is an
/// empty regular file with one link, reached without any symlink.
pub fn write_if_empty(host: &Path, text: &str) -> Outcome {
    let refused = |why: String| Outcome::Refused(format!("{}: {why}", host.display()));
    let pinned = match open_no_symlinks(host) {
        Ok(fd) => fd,
        Err(why) => return refused(why),
    };
    match fstat(pinned.as_raw_fd()) {
        Ok(st) => {
            if let Some(why) = not_a_message_file(&st) {
                return refused(why.into());
            }
            if st.st_size > 0 {
                return Outcome::NotEmpty;
            }
        }
        Err(e) => return refused(format!("fstat: {e}")),
    }
    // Reopen the pinned inode itself (a magic link to it, not the path):
    // whatever is renamed over the path now, this is the file checked.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags((OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits())
        .open(format!("/proc/self/fd/{}", pinned.as_raw_fd()));
    let mut f: File = match f {
        Ok(f) => f,
        Err(e) => return refused(format!("reopen for writing: {e}")),
    };
    // Checked again on the writable fd: the container may have written its
    // message in between (it is its own file).
    match fstat(f.as_raw_fd()) {
        Ok(st) if st.st_size > 0 => return Outcome::NotEmpty,
        Ok(st) if not_a_message_file(&st).is_some() => {
            return refused("changed while being opened".into())
        }
        Ok(_) => {}
        Err(e) => return refused(format!("fstat: {e}")),
    }
    let text = truncate(text.to_string(), MAX_LEN);
    match f.write_all(text.as_bytes()) {
        Ok(()) => Outcome::Written(host.to_path_buf()),
        Err(e) => refused(format!("write: {e}")),
    }
}

/// Why a file is not one the kubelet made for a message (None: it is).
fn not_a_message_file(st: &FileStat) -> Option<&'static str> {
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
        return Some("not a regular file");
    }
    // A hard link would let a container name a host file it cannot reach.
    if st.st_nlink != 1 {
        return Some("has more than one link");
    }
    None
}

/// O_PATH fd of an absolute host path, no symlink followed anywhere in it.
fn open_no_symlinks(path: &Path) -> Result<OwnedFd, String> {
    if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
        return Err("not an absolute path without \"..\"".into());
    }
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let root = File::open("/").map_err(|e| format!("open /: {e}"))?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let raw = openat2(root.as_raw_fd(), rel.as_path(), how).map_err(|e| match e {
        nix::errno::Errno::ELOOP => "a component is a symlink".to_string(),
        e => e.desc().to_string(),
    })?;
    // SAFETY: openat2 returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

#[cfg(test)]
#[path = "termination_message_tests.rs"]
mod tests;
