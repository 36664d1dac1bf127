//! v1 freezer: freezer.state goes THAWED -> FREEZING -> FROZEN.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroups::error::CgroupError;
use crate::cgroups::freeze::TIMEOUT;
use crate::cgroups::fs;

const STATE: &str = "freezer.state";

pub(crate) fn set(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let start = Instant::now();
    let mut sleep = Duration::from_micros(100);
    loop {
        // Rewriting the state re-attempts freezing tasks that were busy
        // (e.g. in the middle of fork) on the previous attempt.
        fs::write(dir, STATE, want, "freezer")?;
        if fs::read_string(dir, STATE)?.trim() == want {
            return Ok(());
        }
        if start.elapsed() >= TIMEOUT {
            if frozen {
                // Do not leave the container half frozen.
                if let Err(e) = fs::write(dir, STATE, "THAWED", "freezer") {
                    tracing::warn!("thawing after failed freeze: {e}");
                }
            }
            return Err(CgroupError::Timeout {
                path: dir.join(STATE),
                what: if frozen { "freeze" } else { "thaw" },
                millis: TIMEOUT.as_millis() as u64,
            });
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(10));
    }
}

pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(fs::read_string(dir, STATE)?.trim() == "FROZEN")
}
