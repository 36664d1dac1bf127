//! `rcrun state`: the OCI state JSON, as runc prints it, plus an `oom`
//! object once the container's cgroup has seen an OOM kill or is frozen
//! under OOM (disableOOMKiller).

use serde_json::json;

use crate::error::{Error, Result};
use crate::oom_account;
use crate::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let st = root.load(&args.container_id)?;
    let mut value =
        serde_json::to_value(st.oci(st.status())).map_err(|e| Error::State(e.to_string()))?;
    let account = oom_account::account(&st);
    // With disableOOMKiller the container freezes at its limit instead of
    // being killed: say so, it is otherwise indistinguishable from a hang.
    let under_oom = account
        .counters
        .as_ref()
        .and_then(|c| c.under_oom)
        .unwrap_or(false);
    if account.oom_kills > 0 || under_oom {
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "oom".into(),
                json!({
                    "oomKills": account.oom_kills,
                    "initOomKilled": account.init_oom_killed,
                    "oomCgroup": account.oom_cgroup,
                    "limitHitByAncestor": account.limit_hit_by_ancestor,
                    "underOom": under_oom,
                }),
            );
        }
    }
    let out = serde_json::to_string_pretty(&value).map_err(|e| Error::State(e.to_string()))?;
    println!("{out}");
    Ok(0)
}
