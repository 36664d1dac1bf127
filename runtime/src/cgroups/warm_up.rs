//! Starting the kernel's wait for the one cgroup.procs write that `create`
//! makes on v1/hybrid hosts, early, so that it overlaps with the rest of
//! `create` (parsing, checks, state, cgroup directories, spec).
//!
//! The first write to any cgroup.procs after a quiet moment waits for an
//! RCU grace period (the cgroup threadgroup rwsem switching to its writer
//! mode: ~10 ms on the benchmark host); writes in the following few ms are
//! fast. A thread writes our own pid into the cgroup we are already in (no
//! migration happens), which starts that wait; the write of the init's pid
//! later finds it done or under way. Nothing on v2, where the init is
//! cloned into its cgroup without any write.

use std::fs;
use std::sync::Mutex;
use std::thread::JoinHandle;

use super::{CgroupSet, Hierarchies, Layout};

/// The warm-up thread of [`warm_up_cgroup_writes`], joined before any clone.
static WARM_UP: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// Joins the warm-up thread (if any) when dropped.
pub struct WarmUp(());

impl Drop for WarmUp {
    fn drop(&mut self) {
        finish_warm_up();
    }
}

/// Starts the warm-up thread (see the module doc).
pub fn warm_up_cgroup_writes(h: &Hierarchies) -> WarmUp {
    finish_warm_up();
    if h.layout() == Layout::V2 {
        return WarmUp(());
    }
    let Some(path) = CgroupSet::current(h)
        .ok()
        .and_then(|cur| cur.dirs.first().map(|d| d.path.join("cgroup.procs")))
    else {
        return WarmUp(());
    };
    let pid = std::process::id().to_string();
    let spawned = std::thread::Builder::new()
        .name("cgroup-warm-up".into())
        // Failure is harmless: the later write just waits the full time.
        .spawn(move || {
            let _ = fs::write(&path, pid);
        });
    if let (Ok(handle), Ok(mut slot)) = (spawned, WARM_UP.lock()) {
        *slot = Some(handle);
    }
    WarmUp(())
}

/// Waits for the warm-up thread: the process must be single-threaded when
/// it clones or forks (the child would inherit locks held by the other
/// thread).
pub fn finish_warm_up() {
    let handle = match WARM_UP.lock() {
        Ok(mut slot) => slot.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    if let Some(h) = handle {
        let _ = h.join();
    }
}
