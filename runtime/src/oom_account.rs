//! What the runtime can say about a container's OOM kills: the cgroup's
//! counters joined with the kernel's per-kill records.

use serde::{Deserialize, Serialize};

use crate::cgroups::{CgroupSet, Layout, OomCounters};
use crate::kmsg_oom::{self, OomKill};
use crate::state::ContainerState;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OomAccount {
    /// The container's memory cgroup, as the kernel names it in its log.
    pub memcg: String,
    /// Kills counted by the cgroup (`oom_kill`), whoever was the victim.
    pub oom_kills: u64,
    /// The container's init was an OOM victim (case a); false when only
    /// other processes were (case b), or when init ended otherwise (case c).
    pub init_oom_killed: bool,
    /// cgroup whose limit was hit by the latest kill: the container's own,
    /// or an ancestor's (case d).
    pub oom_cgroup: Option<String>,
    pub limit_hit_by_ancestor: bool,
    pub counters: Option<OomCounters>,
    pub kills: Vec<OomKill>,
    /// An OOM without a victim: the container stopped at its limit.
    pub frozen_at_limit: Option<FrozenAtLimit>,
}

/// The container stopped at its memory limit and nothing was killed: the
/// OOM killer is disabled (v1 `oom_kill_disable`) or had nothing it may
/// kill (every task at oom_score_adj -1000). Its tasks wait (v1) or retry
/// their faults (v2) until memory is freed, the limit raised, or they are
/// killed from outside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrozenAtLimit {
    /// Under OOM at this moment (v1 `under_oom` 1). v2 has no such flag:
    /// false there, where the counters only say that it happened.
    pub now: bool,
    pub oom_kill_disabled: bool,
    /// Bytes.
    pub usage: u64,
    pub limit: Option<u64>,
    /// v1 `memory.failcnt`; v2 `memory.events` max.
    pub failcnt: Option<u64>,
    /// v2 `memory.events` oom: OOM calls counted, none with a kill.
    pub oom_calls: Option<u64>,
}

impl FrozenAtLimit {
    /// v1: under OOM right now. v2: OOM calls counted and never a kill.
    pub fn from_counters(c: &OomCounters) -> Option<FrozenAtLimit> {
        let v1_now = c.under_oom == Some(true);
        let v2_seen = c.oom.is_some_and(|n| n > 0) && c.oom_kill == 0;
        (v1_now || v2_seen).then(|| FrozenAtLimit {
            now: v1_now,
            oom_kill_disabled: c.oom_kill_disable == Some(true),
            usage: c.usage,
            limit: c.limit,
            failcnt: c.failcnt.or(c.max),
            oom_calls: c.oom,
        })
    }

    /// "frozen at its limit, OOM killer disabled: usage 32.0 MiB of limit
    /// 32.0 MiB, failcnt 465".
    pub fn sentence(&self) -> String {
        let why = if self.oom_kill_disabled {
            "OOM killer disabled"
        } else {
            "nothing the OOM killer may kill"
        };
        let limit = self
            .limit
            .map(|l| mib(l / 1024))
            .unwrap_or_else(|| "none".into());
        let hits = match (self.oom_calls, self.failcnt) {
            (Some(oom), max) => format!(
                "memory.events max {}, oom {oom}, oom_kill 0",
                max.unwrap_or(0)
            ),
            (None, f) => format!("failcnt {}", f.unwrap_or(0)),
        };
        format!(
            "frozen at its limit, {why}: usage {} of limit {limit}, {hits}",
            mib(self.usage / 1024)
        )
    }
}

/// The memory cgroup path relative to its hierarchy's root ("/a/b").
pub fn memcg_path(cg: &CgroupSet) -> Option<String> {
    let dir = cg.memory_dir()?;
    let d = cg.dirs.iter().find(|d| d.path == dir)?;
    let rel = d.path.strip_prefix(&d.mount).ok()?;
    Some(format!("/{}", rel.display()))
}

pub fn account(st: &ContainerState) -> OomAccount {
    account_with(st, st.cgroups.oom_counters().ok())
}

/// The account from counters read earlier (the shim reads them at the exit,
/// explains it later, when the cgroup may be gone).
pub fn account_with(st: &ContainerState, counters: Option<OomCounters>) -> OomAccount {
    let memcg = memcg_path(&st.cgroups).unwrap_or_default();
    let frozen_at_limit = counters.as_ref().and_then(FrozenAtLimit::from_counters);
    let oom_kills = counters.as_ref().map(|c| c.oom_kill).unwrap_or(0);
    // The kernel log is only read when the counter says there is something
    // to find: `state` is called often and must stay cheap.
    let mut kills = if oom_kills > 0 && !memcg.is_empty() {
        kernel_records(&memcg, oom_kills, init_since(st))
    } else {
        Vec::new()
    };
    // Records beyond the count are older cgroups' at the same path (an id
    // or cgroupsPath used again): the newest ones are this cgroup's.
    let extra = kills.len().saturating_sub(oom_kills as usize);
    kills.drain(..extra);
    let init_oom_killed = st.pid > 0 && kills.iter().any(|k| k.pid == st.pid);
    let oom_cgroup = kills
        .last()
        .map(|k| k.oom_memcg.clone())
        .filter(|c| !c.is_empty());
    let limit_hit_by_ancestor = kills.last().is_some_and(|k| {
        !k.oom_memcg.is_empty()
            && k.oom_memcg != memcg
            && !k.oom_memcg.starts_with(&format!("{memcg}/"))
    });
    OomAccount {
        memcg,
        oom_kills,
        init_oom_killed,
        oom_cgroup,
        limit_hit_by_ancestor,
        counters,
        kills,
        frozen_at_limit,
    }
}

pub(crate) fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

/// Whose limit kill `k` hit, said from the container's point of view.
pub fn whose_limit(a: &OomAccount, k: &OomKill) -> String {
    if k.oom_memcg == a.memcg || k.oom_memcg.is_empty() {
        "the container's own memory limit".to_string()
    } else if k.oom_memcg.starts_with(&format!("{}/", a.memcg)) {
        format!("the limit of sub-cgroup {}", k.oom_memcg)
    } else {
        format!(
            "the limit of ANCESTOR cgroup {} (not the container's own)",
            k.oom_memcg
        )
    }
}

/// When the kernel rate-limited the cgroup part of its report (a burst of
/// OOMs within 5 s): the cgroup's own peak (v1 max_usage_in_bytes) against
/// its limit says the same thing.
fn peak_from_counters(a: &OomAccount) -> Option<String> {
    let c = a.counters.as_ref()?;
    let (peak, limit) = (c.max_usage?, c.limit?);
    Some(format!(
        "  cgroup memory: peak usage {} of limit {}, failcnt {} (the cgroup's counters: the kernel rate-limited this part of its report)\n",
        mib(peak / 1024),
        mib(limit / 1024),
        c.failcnt.unwrap_or(0)
    ))
}

/// The account as text for a person (`rcrun oom-report`'s default format).
pub fn to_text(id: &str, init_pid: i32, a: &OomAccount) -> String {
    to_text_as_of(id, init_pid, a, "now")
}

/// The text, with the counters labelled as of `when` ("now", "at <time>").
pub fn to_text_as_of(id: &str, init_pid: i32, a: &OomAccount, when: &str) -> String {
    let mut s = format!(
        "container {id}: {} OOM kill(s) counted by memory cgroup {}\n",
        a.oom_kills, a.memcg
    );
    if let Some(f) = &a.frozen_at_limit {
        s.push_str(&format!("  {}\n", f.sentence()));
        s.push_str(if f.now {
            "  no process killed: it waits until memory is freed, the limit raised, or it is killed\n"
        } else {
            "  no process killed by these OOMs\n"
        });
    }
    if a.oom_kills > 0 && a.kills.is_empty() {
        s.push_str("  (the kernel log no longer holds the details of these kills)\n");
    }
    for k in &a.kills {
        let who = if k.pid == init_pid {
            "the container's init process"
        } else {
            "a process of the container (init lives on)"
        };
        s.push_str(&format!(
            "- {}: killed pid {} ({}), {}\n",
            k.time, k.pid, k.command, who
        ));
        s.push_str(&format!("  limit hit: {}\n", whose_limit(a, k)));
        if let (Some(u), Some(l)) = (k.usage_kb, k.limit_kb) {
            s.push_str(&format!(
                "  cgroup memory at the kill: usage {}, limit {}, failcnt {}\n",
                mib(u),
                mib(l),
                k.failcnt.unwrap_or(0)
            ));
        } else if let Some(line) = peak_from_counters(a) {
            s.push_str(&line);
        }
        s.push_str(&format!(
            "  victim memory: anon-rss {}, file-rss {}, shmem-rss {}, total-vm {}, oom_score_adj {}\n",
            mib(k.anon_rss_kb),
            mib(k.file_rss_kb),
            mib(k.shmem_rss_kb),
            mib(k.total_vm_kb),
            k.oom_score_adj
        ));
    }
    if let Some(c) = &a.counters {
        if let Ok(j) = serde_json::to_string(c) {
            s.push_str(&format!("counters {when}: {j}\n"));
        }
    }
    s
}

/// The kernel's records of the kills in `memcg`, waiting (bounded) for the
/// last ones: the kernel counts the kill and sends SIGKILL before it prints
/// "Killed process ...", so on a busy host the victim can be reaped, and
/// the counter read, before the record is in the log.
fn kernel_records(memcg: &str, counted: u64, init: Option<(i32, u64)>) -> Vec<OomKill> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(250);
    loop {
        // No kernel log to read (no /dev/kmsg access): nothing to wait for.
        let Ok(kills) = kmsg_oom::kills_in(memcg, init) else {
            return Vec::new();
        };
        if kills.len() as u64 >= counted || std::time::Instant::now() >= deadline {
            return kills;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Whether the kernel log has the init of `st` OOM-killed in the
/// container's memory cgroup: what is left to ask when that cgroup is gone
/// before anyone read its counters. With the systemd driver, systemd stops
/// the scope and removes its cgroup as soon as a kill empties it, and can
/// get there before the watcher (docs/conformance-layouts.md, "The OOM
/// event through containerd's runc shim"). The kernel prints the kill's
/// `oom-kill:` line before it sends the signal; only a rate-limited
/// report comes later, hence the short wait.
pub fn init_oom_killed_in_log(st: &ContainerState) -> bool {
    let (Some(memcg), Some(init)) = (memcg_path_when_gone(&st.cgroups), init_since(st)) else {
        return false;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(50);
    loop {
        let Ok(kills) = kmsg_oom::kills_in(&memcg, Some(init)) else {
            return false;
        };
        if kills.iter().any(|k| is_kill_of(k, init)) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// [`memcg_path`], also of a removed cgroup: on cgroup v2 the memory
/// directory is found through its cgroup.controllers, which a removed
/// cgroup no longer has; on a pure v2 host it is the cgroup2 directory.
fn memcg_path_when_gone(cg: &CgroupSet) -> Option<String> {
    if let Some(p) = memcg_path(cg) {
        return Some(p);
    }
    let d = cg.unified_dir().filter(|_| cg.layout == Layout::V2)?;
    let rel = d.path.strip_prefix(&d.mount).ok()?;
    Some(format!("/{}", rel.display()))
}

/// `k` killed the process `init` (pid, start in µs since boot): a kill of
/// the same pid logged before that start was another process's.
fn is_kill_of(k: &OomKill, init: (i32, u64)) -> bool {
    k.pid == init.0 && k.kernel_time_us >= init.1
}

/// The init's pid and its start in µs since boot (from /proc's start time
/// in clock ticks), to recognise its kill in a rate-limited kernel report.
fn init_since(st: &ContainerState) -> Option<(i32, u64)> {
    if st.pid <= 0 || st.pid_start_time == 0 {
        return None;
    }
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    let ticks = u64::try_from(ticks).ok().filter(|&t| t > 0)?;
    // One tick of slack: the start time is truncated to ticks.
    let start_us = st.pid_start_time.saturating_mul(1_000_000) / ticks;
    Some((st.pid, start_us.saturating_sub(1_000_000 / ticks)))
}

/// One line per kill, for the runtime log, after one for an OOM without a
/// victim.
pub fn render_log_lines(id: &str, init_pid: i32, a: &OomAccount) -> Vec<String> {
    let frozen = a
        .frozen_at_limit
        .as_ref()
        .map(|f| format!("OOM in container {id}: {}; no process killed", f.sentence()));
    if a.oom_kills == 0 {
        return frozen.into_iter().collect();
    }
    frozen
        .into_iter()
        .chain(kill_lines(id, init_pid, a))
        .collect()
}

fn kill_lines(id: &str, init_pid: i32, a: &OomAccount) -> Vec<String> {
    if a.kills.is_empty() {
        return vec![format!(
            "OOM kill in container {id}: {} kill(s) counted by {} (no kernel log record left)",
            a.oom_kills, a.memcg
        )];
    }
    a.kills
        .iter()
        .map(|k| {
            if k.oom_memcg.is_empty() {
                return format!(
                    "OOM kill in container {id}: pid {} ({}){} killed; victim anon-rss {} (the kernel rate-limited the rest of its report: {} kill(s) counted by {})",
                    k.pid,
                    k.command,
                    if k.pid == init_pid { " = init" } else { "" },
                    mib(k.anon_rss_kb),
                    a.oom_kills,
                    a.memcg
                );
            }
            let own = k.oom_memcg == a.memcg;
            format!(
                "OOM kill in container {id}: pid {} ({}){} killed; limit hit: {} {}; usage {} of limit {}, failcnt {}; victim anon-rss {}",
                k.pid,
                k.command,
                if k.pid == init_pid { " = init" } else { "" },
                if own { "own" } else { "ANCESTOR" },
                k.oom_memcg,
                k.usage_kb.map(mib).unwrap_or_else(|| "?".into()),
                k.limit_kb.map(mib).unwrap_or_else(|| "?".into()),
                k.failcnt.map(|f| f.to_string()).unwrap_or_else(|| "?".into()),
                mib(k.anon_rss_kb),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kill_is_the_inits_only_with_its_pid_after_its_start() {
        let k = |pid, at| OomKill {
            pid,
            kernel_time_us: at,
            ..Default::default()
        };
        let init = (4242, 5_000_000);
        assert!(is_kill_of(&k(4242, 5_000_001), init));
        assert!(is_kill_of(&k(4242, 5_000_000), init));
        // the same pid in an earlier container at that cgroup path
        assert!(!is_kill_of(&k(4242, 4_999_999), init));
        // a child of the init
        assert!(!is_kill_of(&k(4243, 6_000_000), init));
    }
}
