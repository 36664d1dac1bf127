//! Removal of the directories a [`super::CgroupSet`] created.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::CgroupError;

/// Total time spent waiting for processes to leave (EBUSY), across all
/// directories: killed processes take a moment to be reaped.
const BUSY_BUDGET: Duration = Duration::from_millis(1000);

/// rmdir each of `created`, deepest first. Missing directories are fine.
/// Sub-cgroups that the container's own workload made inside its cgroup
/// (`own`, when we created it) are removed first, as runc does: they are
/// part of the container, and would keep its directory busy forever.
pub(crate) fn remove_dirs(created: &[PathBuf], own: &[&Path]) -> Result<(), CgroupError> {
    let mut dirs: Vec<&PathBuf> = created.iter().collect();
    dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    dirs.dedup();
    let deadline = Instant::now() + BUSY_BUDGET;
    let mut first_err = None;
    for d in dirs {
        let res = if own.contains(&d.as_path()) {
            remove_children(d, deadline).and_then(|()| rmdir_retry(d, deadline))
        } else {
            rmdir_retry(d, deadline)
        };
        if let Err(e) = res {
            tracing::warn!("{e}");
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

fn remove_children(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    for sub in super::fs::sub_cgroups(dir)? {
        remove_children(&sub, deadline)?;
        rmdir_retry(&sub, deadline)?;
    }
    Ok(())
}

fn rmdir_retry(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    let mut sleep = Duration::from_millis(1);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "removed cgroup");
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(CgroupError::Busy {
                        path: dir.to_path_buf(),
                        source: e,
                        millis: BUSY_BUDGET.as_millis() as u64,
                    });
                }
                std::thread::sleep(sleep.min(deadline - now));
                sleep = (sleep * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(CgroupError::io("rmdir", dir, e)),
        }
    }
}
