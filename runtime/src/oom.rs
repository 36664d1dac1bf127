//! Watching a container's memory cgroup for OOM kills without polling.
//!
//! - cgroup v1: an eventfd registered on `memory.oom_control` through
//!   `cgroup.event_control`. The kernel also signals the eventfd when the
//!   cgroup is removed, so a wake-up is only an OOM kill if the `oom_kill`
//!   counter moved.
//! - cgroup v2: inotify on `memory.events` (the kernel notifies a modify
//!   event when it changes), comparing the `oom_kill` counter. `oom_kill`,
//!   not `oom`: with a limit on an ancestor, `oom` only counts there.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::cgroups::CgroupSet;
use crate::error::{Error, Result, SpecError};

enum Source {
    V1 { efd: EventFd, _control: File },
    V2 { inotify: Inotify },
}

/// How long (ms, 1 ms steps) to wait after a v1 OOM notification for the
/// kill to be counted.
const V1_KILL_WAIT_STEPS: u32 = 50;

pub struct OomWatcher {
    source: Source,
    memory_dir: PathBuf,
    v2: bool,
    /// oom_kill counter as last read.
    pub last_count: u64,
}

impl OomWatcher {
    /// Registers the watch. Call it before the container starts so an OOM in
    /// its first milliseconds is seen.
    pub fn new(cg: &CgroupSet) -> Result<OomWatcher> {
        let dir = cg
            .memory_dir()
            .ok_or_else(|| Error::unsupported("no memory cgroup", "OOM kills cannot be watched"))?
            .to_path_buf();
        let v2 = dir.join("memory.events").exists();
        let source = if v2 {
            let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                .map_err(|e| Error::os("inotify_init", e))?;
            inotify
                .add_watch(&dir.join("memory.events"), AddWatchFlags::IN_MODIFY)
                .map_err(|e| Error::io(dir.join("memory.events"), e.into()))?;
            Source::V2 { inotify }
        } else {
            let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                .map_err(|e| Error::os("eventfd", e))?;
            let control_path = dir.join("memory.oom_control");
            let control = File::open(&control_path).map_err(|e| Error::io(&control_path, e))?;
            let reg = format!("{} {}", efd.as_fd().as_raw_fd(), control.as_raw_fd());
            let ec = dir.join("cgroup.event_control");
            std::fs::write(&ec, reg).map_err(|e| Error::io(&ec, e))?;
            Source::V1 {
                efd,
                _control: control,
            }
        };
        let mut w = OomWatcher {
            source,
            memory_dir: dir,
            v2,
            last_count: 0,
        };
        w.last_count = w.read_count().unwrap_or(0);
        Ok(w)
    }

    /// The fd to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::V1 { efd, .. } => efd.as_fd(),
            Source::V2 { inotify } => inotify.as_fd(),
        }
    }

    /// The kernel's oom_kill counter of this cgroup.
    pub fn read_count(&self) -> Result<u64> {
        read_oom_kill(&self.memory_dir, self.v2)
    }

    /// After the fd was readable (or on exit): drains the notification and
    /// returns how many OOM kills happened since the last call. A wake-up
    /// without a counter change (cgroup removal, OOM without kill) is 0.
    pub fn take_new_kills(&mut self) -> u64 {
        let v1 = match &self.source {
            Source::V1 { efd, .. } => {
                // Resets the counter; EAGAIN (nothing signalled) is fine.
                let _ = efd.read();
                true
            }
            Source::V2 { inotify } => {
                let _ = inotify.read_events();
                false
            }
        };
        let mut now = self.read_count().unwrap_or(self.last_count);
        if v1 && now == self.last_count {
            // v1 signals when the OOM *begins*; the victim is chosen and the
            // counter bumped a moment later. Wait for it, briefly: a removed
            // cgroup or a disabled OOM killer never bumps it.
            for _ in 0..V1_KILL_WAIT_STEPS {
                std::thread::sleep(std::time::Duration::from_millis(1));
                now = self.read_count().unwrap_or(self.last_count);
                if now != self.last_count {
                    break;
                }
            }
        }
        let new = now.saturating_sub(self.last_count);
        self.last_count = now;
        new
    }

    /// Re-reads the counter without waiting (at container exit).
    pub fn recount(&mut self) -> u64 {
        let now = self.read_count().unwrap_or(self.last_count);
        let new = now.saturating_sub(self.last_count);
        self.last_count = now;
        new
    }

    pub fn memory_dir(&self) -> &Path {
        &self.memory_dir
    }
}

/// Reads the oom_kill counter: v1 `memory.oom_control`, v2 `memory.events`.
pub fn read_oom_kill(dir: &Path, v2: bool) -> Result<u64> {
    let file = dir.join(if v2 {
        "memory.events"
    } else {
        "memory.oom_control"
    });
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

/// An init that died while being set up because the container's memory
/// limit is below what the setup needs: the OOM killer's kill is counted in
/// the container's cgroup. Said as such, naming the field, instead of the
/// broken channel the launcher sees.
pub fn init_oom_killed_at_start(spec: &oci_spec::runtime::Spec, cg: &CgroupSet) -> Option<Error> {
    let kills = cg.oom_counters().ok()?.oom_kill;
    if kills == 0 {
        return None;
    }
    let limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "(inherited)".into());
    Some(
        SpecError::new(
            "linux.resources.memory.limit",
            limit,
            "is too low: the container's init was OOM-killed while it was being set up, before the program ran",
        )
        .into(),
    )
}
