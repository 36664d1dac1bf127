//! Watching a container's memory cgroup for OOM kills, and for OOM episodes
//! without a kill (oom_episode.rs), without polling.
//!
//! - cgroup v1: an eventfd registered on `memory.oom_control` through
//!   `cgroup.event_control`. The kernel signals it when an OOM begins, and
//!   also when the cgroup is removed, so a wake-up is only an OOM kill if
//!   the `oom_kill` counter moved.
//! - cgroup v2: inotify on `memory.events` (the kernel notifies a modify
//!   event when it changes), comparing the `oom_kill` counter. `oom_kill`,
//!   not `oom`: with a limit on an ancestor, `oom` only counts there. `oom`
//!   moving is the OOM notification of an episode.
//!
//! The fd callers poll is an epoll set of that source and a timer, armed
//! while an episode is open so that its end is seen without a new OOM.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use crate::cgroups::{CgroupSet, OomCounters};
use crate::error::{Error, Result, SpecError};
use crate::oom_episode::{Episodes, Look, TICK};

enum Source {
    V1 { efd: EventFd, _control: File },
    V2 { inotify: Inotify },
}

/// How long (ms, 1 ms steps) to wait after an OOM notification for the
/// kill to be counted.
const KILL_WAIT_STEPS: u32 = 50;

/// The counters of one read of `memory.oom_control` / `memory.events`.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    oom_kill: u64,
    /// v1 only.
    under_oom: Option<bool>,
    /// v2 only: OOM calls counted (`memory.events` oom).
    oom: Option<u64>,
}

pub struct OomWatcher {
    source: Source,
    timer: TimerFd,
    ticking: bool,
    epoll: Epoll,
    cgroups: CgroupSet,
    memory_dir: PathBuf,
    v2: bool,
    /// oom_kill counter as last read.
    pub last_count: u64,
    /// v2 `oom` counter as last read.
    last_oom: u64,
    episodes: Episodes,
    frozen_start: bool,
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
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(|e| Error::os("timerfd_create", e))?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| Error::os("epoll_create", e))?;
        let source_fd = match &source {
            Source::V1 { efd, .. } => efd.as_fd(),
            Source::V2 { inotify } => inotify.as_fd(),
        };
        for fd in [source_fd, timer.as_fd()] {
            epoll
                .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, 0))
                .map_err(|e| Error::os("epoll_ctl", e))?;
        }
        let mut w = OomWatcher {
            source,
            timer,
            ticking: false,
            epoll,
            cgroups: cg.clone(),
            memory_dir: dir,
            v2,
            last_count: 0,
            last_oom: 0,
            episodes: Episodes::default(),
            frozen_start: false,
        };
        let now = w.read_flags().unwrap_or_default();
        w.last_count = now.oom_kill;
        w.last_oom = now.oom.unwrap_or(0);
        Ok(w)
    }

    /// The fd to poll for readability: an OOM notification, or time to look
    /// at an open episode again.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }

    /// The kernel's oom_kill counter of this cgroup.
    pub fn read_count(&self) -> Result<u64> {
        Ok(self.read_flags()?.oom_kill)
    }

    fn read_flags(&self) -> Result<Flags> {
        read_flags(&self.memory_dir, self.v2)
    }

    /// Empties the source and the timer; true if the source had signalled.
    fn drain(&mut self) -> bool {
        // EAGAIN: the timer had not fired.
        let _ = self.timer.wait();
        match &self.source {
            // Reading resets the counter; EAGAIN: nothing signalled.
            Source::V1 { efd, .. } => efd.read().is_ok(),
            Source::V2 { inotify } => {
                let mut any = false;
                while inotify.read_events().is_ok_and(|e| !e.is_empty()) {
                    any = true;
                }
                any
            }
        }
    }

    /// After the fd was readable (or on exit): drains it and returns how
    /// many OOM kills happened since the last call. A wake-up without a
    /// counter change (cgroup removal, OOM without kill) is 0; an OOM
    /// episode without a kill is kept for [`Self::take_frozen_start`].
    pub fn take_new_kills(&mut self) -> u64 {
        let signalled = self.drain();
        let Ok(mut now) = self.read_flags() else {
            // The cgroup is gone (v1 signals its removal too).
            return 0;
        };
        let notified = if self.v2 {
            now.oom.unwrap_or(0) != self.last_oom
        } else {
            signalled
        };
        if notified && now.oom_kill == self.last_count && !self.episodes.is_open() {
            // The OOM is notified when it *begins*; the victim is chosen and
            // the counter bumped a moment later. Wait for it, briefly: a
            // removed cgroup or a disabled OOM killer never bumps it.
            for _ in 0..KILL_WAIT_STEPS {
                std::thread::sleep(Duration::from_millis(1));
                match self.read_flags() {
                    Ok(f) => now = f,
                    Err(_) => return 0,
                }
                if now.oom_kill != self.last_count {
                    break;
                }
            }
        }
        let kills = now.oom_kill.saturating_sub(self.last_count);
        self.last_count = now.oom_kill;
        self.last_oom = now.oom.unwrap_or(self.last_oom);
        let look = Look {
            notified,
            kills,
            under_oom: now.under_oom,
        };
        self.frozen_start |= self.episodes.observe(look, Instant::now());
        self.keep_ticking(self.episodes.is_open());
        kills
    }

    /// True once per OOM episode without a kill: the container stopped at
    /// its limit because the OOM killer is disabled or has nothing it may
    /// kill. Read after [`Self::take_new_kills`].
    pub fn take_frozen_start(&mut self) -> bool {
        std::mem::take(&mut self.frozen_start)
    }

    /// The cgroup's OOM counters now (usage, limit, failcnt for a log line).
    pub fn counters(&self) -> Option<OomCounters> {
        self.cgroups.oom_counters().ok()
    }

    fn keep_ticking(&mut self, on: bool) {
        if on == self.ticking {
            return;
        }
        let r = if on {
            self.timer.set(
                Expiration::Interval(TimeSpec::from_duration(TICK)),
                TimerSetTimeFlags::empty(),
            )
        } else {
            self.timer.unset()
        };
        match r {
            Ok(()) => self.ticking = on,
            Err(e) => tracing::debug!("OOM episode timer: {e}"),
        }
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

/// The OOM flags of a memory cgroup: v1 `memory.oom_control`, v2
/// `memory.events`.
fn read_flags(dir: &Path, v2: bool) -> Result<Flags> {
    let file = dir.join(if v2 {
        "memory.events"
    } else {
        "memory.oom_control"
    });
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Ok(Flags {
        oom_kill: get("oom_kill").unwrap_or(0),
        under_oom: get("under_oom").map(|v| v != 0),
        oom: get("oom"),
    })
}

/// The kernel's oom_kill counter of a memory cgroup (one file read: every
/// delete asks it).
pub fn read_oom_kill(dir: &Path, v2: bool) -> Result<u64> {
    Ok(read_flags(dir, v2)?.oom_kill)
}
