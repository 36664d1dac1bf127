//! v2 freezing: write cgroup.freeze, then wait for cgroup.events to report
//! the new state (the write only requests it).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroups::error::CgroupError;
use crate::cgroups::freeze::TIMEOUT;
use crate::cgroups::fs;

pub(crate) fn set(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let v = if frozen { "1" } else { "0" };
    fs::write(dir, "cgroup.freeze", v, "freezer")?;
    let want = u64::from(frozen);
    let start = Instant::now();
    let mut sleep = Duration::from_micros(100);
    loop {
        let ev = fs::read_flat_keyed(dir, "cgroup.events")?;
        if ev.get("frozen").copied() == Some(want) {
            return Ok(());
        }
        if start.elapsed() >= TIMEOUT {
            if frozen {
                if let Err(e) = fs::write(dir, "cgroup.freeze", "0", "freezer") {
                    tracing::warn!("thawing after failed freeze: {e}");
                }
            }
            return Err(CgroupError::Timeout {
                path: dir.join("cgroup.events"),
                what: if frozen { "freeze" } else { "thaw" },
                millis: TIMEOUT.as_millis() as u64,
            });
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(10));
    }
}

pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(fs::read_string(dir, "cgroup.freeze")?.trim() == "1")
}
