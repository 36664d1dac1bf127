//! OOM accounts that outlive the container: a bounded journal under the
//! state root (see file.rs for the files, the lock and the size cap).
//!
//! Docker removes a container's runtime state a few tenths of a second
//! after it exits, so an account kept only in the state is gone before
//! anyone asks. Whoever sees a kill writes the account here, when it sees
//! it: `rcrun delete` (before the cgroup goes; the only call docker 20.10's
//! runc shim makes after the exit), the rcrun shim, `rcrun events`. One
//! container instance is its id plus its creation time; a writer adds
//! nothing when the journal already has an account of that instance with
//! as many kills, and `delete` then adds only a short deletion record.
//! `rcrun oom-report` reads it back once the state is gone.

mod file;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use file::{JOURNAL, MAX_BYTES, ROTATED};

use crate::error::Result;
use crate::oom;
use crate::oom_account::{self, OomAccount};
use crate::state::{self, ContainerState};

/// Kernel records kept per entry (the newest): a cgroup that kills in a
/// loop must not fill a generation with one container.
const MAX_KILLS: usize = 16;

/// Who wrote an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Writer {
    Delete,
    Shim,
    Events,
}

impl std::fmt::Display for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Writer::Delete => "rcrun delete",
            Writer::Shim => "the rcrun shim",
            Writer::Events => "rcrun events",
        })
    }
}

/// One line of the journal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// The container's creation time: tells this instance from a later
    /// container with the same id.
    pub created: String,
    pub recorded_at: String,
    pub recorded_by: Writer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub init_pid: i32,
    /// None in a deletion record: the account is in an earlier entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<OomAccount>,
    /// Kernel records left out (older than the newest [`MAX_KILLS`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kills_not_kept: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What the journal says of a container that no longer exists.
#[derive(Debug, Serialize)]
pub struct Gone {
    pub created: String,
    /// None when no `delete` by rcrun recorded it (the state was removed
    /// some other way).
    pub deleted_at: Option<String>,
    pub recorded_at: String,
    pub recorded_by: Writer,
    pub init_pid: i32,
    pub kills_not_kept: usize,
}

pub struct Found {
    pub gone: Gone,
    pub account: OomAccount,
}

/// What the journal holds of one instance.
#[derive(Default)]
struct Known {
    max_kills: u64,
    deleted: bool,
}

fn known(lines: &[String], id: &str, created: &str) -> Known {
    let mut k = Known::default();
    for e in lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
    {
        if e.id == id && e.created == created {
            if let Some(a) = &e.account {
                k.max_kills = k.max_kills.max(a.oom_kills);
            }
            k.deleted |= e.deleted_at.is_some();
        }
    }
    k
}

fn entry(st: &ContainerState, account: Option<&OomAccount>, by: Writer, deleted: bool) -> Entry {
    let mut kills_not_kept = 0;
    let account = account.map(|a| {
        let mut a = a.clone();
        kills_not_kept = a.kills.len().saturating_sub(MAX_KILLS);
        a.kills.drain(..kills_not_kept);
        a
    });
    let now = state::now_rfc3339();
    Entry {
        id: st.id.clone(),
        created: st.created.clone(),
        recorded_at: now.clone(),
        recorded_by: by,
        deleted_at: deleted.then_some(now),
        init_pid: st.pid,
        account,
        kills_not_kept,
    }
}

/// Appends `e` unless the journal already says as much: an account with
/// fewer kills than one already there is dropped, a deletion's account
/// shrinks to a deletion record, a second deletion record is dropped.
fn append(files: &file::Files, mut e: Entry) -> Result<bool> {
    files.append_with(|lines| {
        let k = known(lines, &e.id, &e.created);
        let kills = e.account.as_ref().map(|a| a.oom_kills);
        if kills.is_some_and(|n| n <= k.max_kills) {
            e.account = None;
            e.kills_not_kept = 0;
        }
        if e.account.is_none() && (e.deleted_at.is_none() || k.deleted) {
            return None;
        }
        serde_json::to_string(&e).ok()
    })
}

fn logged(id: &str, res: Result<bool>) {
    match res {
        Ok(true) => tracing::debug!("OOM account of {id} written to the journal"),
        Ok(false) => {}
        Err(e) => tracing::warn!("OOM journal, container {id}: {e}"),
    }
}

/// A writer that saw a kill keeps its account. Best effort: a journal that
/// cannot be written is a warning.
pub fn record_seen(root: &Path, st: &ContainerState, account: &OomAccount, by: Writer) {
    if account.oom_kills == 0 {
        return;
    }
    let files = file::Files::new(root);
    logged(&st.id, append(&files, entry(st, Some(account), by, false)));
}

/// `delete`, before the cgroup is removed: a container with OOM kills
/// leaves its account (or, when one is already there, the time of its
/// deletion). Reads the kernel log only when the journal lacks the kills.
pub fn record_delete(root: &Path, st: &ContainerState) {
    // Every delete passes here: one counter file read when nothing was
    // killed.
    let Some(dir) = st.cgroups.memory_dir() else {
        return;
    };
    let v2 = dir.join("memory.events").exists();
    if oom::read_oom_kill(dir, v2).unwrap_or(0) == 0 {
        return;
    }
    let Ok(counters) = st.cgroups.oom_counters() else {
        return;
    };
    if counters.oom_kill == 0 {
        return;
    }
    let files = file::Files::new(root);
    let have = files
        .read_lines()
        .map(|l| known(&l, &st.id, &st.created).max_kills)
        .unwrap_or(0);
    let account = (have < counters.oom_kill).then(|| oom_account::account_with(st, Some(counters)));
    logged(
        &st.id,
        append(&files, entry(st, account.as_ref(), Writer::Delete, true)),
    );
}

/// The account of the latest instance of `id` in the journal, with when it
/// was deleted.
pub fn find(root: &Path, id: &str) -> Result<Option<Found>> {
    find_in(&file::Files::new(root), id)
}

fn find_in(files: &file::Files, id: &str) -> Result<Option<Found>> {
    let entries: Vec<Entry> = files
        .read_lines()?
        .iter()
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        .filter(|e| e.id == id)
        .collect();
    let Some(created) = entries.last().map(|e| e.created.clone()) else {
        return Ok(None);
    };
    let instance = || entries.iter().filter(|e| e.created == created);
    let deleted_at = instance().find_map(|e| e.deleted_at.clone());
    // The account with the most kills; the later one of equals.
    let best = instance()
        .filter(|e| e.account.is_some())
        .max_by_key(|e| e.account.as_ref().map(|a| a.oom_kills));
    let Some(e) = best else {
        return Ok(None);
    };
    let Some(account) = e.account.clone() else {
        return Ok(None);
    };
    Ok(Some(Found {
        gone: Gone {
            created,
            deleted_at,
            recorded_at: e.recorded_at.clone(),
            recorded_by: e.recorded_by,
            init_pid: e.init_pid,
            kills_not_kept: e.kills_not_kept,
        },
        account,
    }))
}

/// `rcrun oom-report`'s text for a container that is gone.
pub fn to_text(id: &str, f: &Found) -> String {
    let g = &f.gone;
    let mut s = match &g.deleted_at {
        Some(t) => format!("container {id} no longer exists: deleted at {t}"),
        None => format!("container {id} no longer exists (its deletion was not recorded)"),
    };
    s.push_str(&format!(
        " (created {})\nits OOM account, recorded by {} at {}:\n",
        g.created, g.recorded_by, g.recorded_at
    ));
    if g.kills_not_kept > 0 {
        s.push_str(&format!(
            "  ({} older kernel record(s) not kept in the journal)\n",
            g.kills_not_kept
        ));
    }
    s.push_str(&oom_account::to_text_as_of(
        id,
        g.init_pid,
        &f.account,
        &format!("at {}", g.recorded_at),
    ));
    s
}

#[cfg(test)]
mod tests;
