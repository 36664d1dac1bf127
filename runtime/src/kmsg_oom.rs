//! The kernel's own account of OOM kills, read from /dev/kmsg by the runtime
//! (root) so that users without dmesg access can see it: victim pid and
//! command, its memory, and which cgroup's limit was hit (`oom_memcg`) versus
//! the cgroup the victim lived in (`task_memcg`). That last pair is what
//! tells a kill by the container's own limit from one by an ancestor's.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use serde::{Deserialize, Serialize};

/// One OOM kill as the kernel logged it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomKill {
    /// Microseconds since boot (kmsg timestamp).
    pub kernel_time_us: u64,
    /// Wall-clock time, RFC 3339.
    pub time: String,
    pub pid: i32,
    pub command: String,
    /// cgroup (memory hierarchy path) whose limit was hit.
    pub oom_memcg: String,
    /// cgroup the victim was in.
    pub task_memcg: String,
    pub constraint: String,
    pub anon_rss_kb: u64,
    pub file_rss_kb: u64,
    pub shmem_rss_kb: u64,
    pub total_vm_kb: u64,
    pub oom_score_adj: i64,
    /// The `memory: usage ..., limit ..., failcnt ...` line before the kill
    /// (cgroup v1 kernels print it; v2 prints memory.events style lines).
    /// On v1, when that counter never failed (failcnt 0) but the
    /// `memory+swap:` one did (memsw limit == memory limit: the memsw counter
    /// trips first), these are the memory+swap counter's numbers.
    pub usage_kb: Option<u64>,
    pub limit_kb: Option<u64>,
    pub failcnt: Option<u64>,
}

/// One record of /dev/kmsg: "prio,seq,usec,flags;message".
fn split_record(rec: &str) -> Option<(u64, &str)> {
    let (head, msg) = rec.split_once(';')?;
    let usec = head.split(',').nth(2)?.parse().ok()?;
    Some((usec, msg.lines().next().unwrap_or("")))
}

fn kv<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    s.split(',')
        .find_map(|part| part.trim().strip_prefix(key)?.strip_prefix('='))
}

fn kb_after(s: &str, key: &str) -> Option<u64> {
    let start = s.find(key)? + key.len();
    let rest = &s[start..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Parses kernel log messages (in order) into OOM kills.
pub fn parse(records: &[(u64, String)]) -> Vec<OomKill> {
    let mut out: Vec<OomKill> = Vec::new();
    let mut pending_usage: Option<(u64, u64, u64)> = None;
    for (usec, msg) in records {
        if let Some(rest) = msg.strip_prefix("memory: usage ") {
            // "memory: usage 131072kB, limit 131072kB, failcnt 35"
            let usage = kb_after(rest, "");
            let limit = kb_after(rest, "limit ");
            let failcnt = kb_after(rest, "failcnt ");
            if let (Some(u), Some(l)) = (usage, limit) {
                pending_usage = Some((u, l, failcnt.unwrap_or(0)));
            }
        } else if let Some(rest) = msg.strip_prefix("memory+swap: usage ") {
            // v1, right after the "memory:" line.  With the memsw limit equal
            // to the memory limit this counter fails first and memory's
            // failcnt stays 0: report the counter that was hit.
            let usage = kb_after(rest, "");
            let limit = kb_after(rest, "limit ");
            let failcnt = kb_after(rest, "failcnt ").unwrap_or(0);
            match (pending_usage, usage, limit) {
                (Some((_, _, 0)), Some(u), Some(l)) if failcnt > 0 => {
                    pending_usage = Some((u, l, failcnt));
                }
                _ => {}
            }
        } else if let Some(rest) = msg.strip_prefix("oom-kill:") {
            let mut k = OomKill {
                kernel_time_us: *usec,
                constraint: kv(rest, "constraint").unwrap_or("").to_string(),
                oom_memcg: kv(rest, "oom_memcg").unwrap_or("").to_string(),
                task_memcg: kv(rest, "task_memcg").unwrap_or("").to_string(),
                command: kv(rest, "task").unwrap_or("").to_string(),
                pid: kv(rest, "pid").and_then(|p| p.parse().ok()).unwrap_or(0),
                ..Default::default()
            };
            if let Some((u, l, f)) = pending_usage.take() {
                k.usage_kb = Some(u);
                k.limit_kb = Some(l);
                k.failcnt = Some(f);
            }
            out.push(k);
        } else if msg.contains("out of memory: Killed process ") {
            // "Memory cgroup out of memory: Killed process 123 (dd) total-vm:..kB, anon-rss:..kB, ..."
            let pid: Option<i32> = msg
                .split("Killed process ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse().ok());
            // The kernel rate-limits the report before this line (10 per
            // 5 s: "oom_kill_process: N callbacks suppressed"), so a burst
            // of kills can leave this line alone: the kill is still
            // recorded, without its cgroups and counters.
            let matched = out
                .iter()
                .rposition(|k| Some(k.pid) == pid && k.total_vm_kb == 0);
            let idx = match (matched, pid) {
                (Some(i), _) => Some(i),
                (None, Some(pid)) => {
                    let command = msg
                        .split_once('(')
                        .and_then(|(_, r)| r.split_once(')'))
                        .map(|(c, _)| c.to_string())
                        .unwrap_or_default();
                    out.push(OomKill {
                        kernel_time_us: *usec,
                        pid,
                        command,
                        ..Default::default()
                    });
                    Some(out.len() - 1)
                }
                (None, None) => None,
            };
            if let Some(k) = idx.and_then(|i| out.get_mut(i)) {
                k.total_vm_kb = kb_after(msg, "total-vm:").unwrap_or(0);
                k.anon_rss_kb = kb_after(msg, "anon-rss:").unwrap_or(0);
                k.file_rss_kb = kb_after(msg, "file-rss:").unwrap_or(0);
                k.shmem_rss_kb = kb_after(msg, "shmem-rss:").unwrap_or(0);
                k.oom_score_adj = msg
                    .split("oom_score_adj:")
                    .nth(1)
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    out
}

/// Reads every record currently in the kernel log buffer (non-blocking).
pub fn read_kmsg() -> std::io::Result<Vec<(u64, String)>> {
    let mut f = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]);
                if let Some((usec, msg)) = split_record(&rec) {
                    out.push((usec, msg.to_string()));
                }
            }
            // EPIPE: records were overwritten while reading; go on.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Converts a kmsg timestamp (CLOCK_MONOTONIC µs) to wall-clock RFC 3339.
fn wall_time(usec: u64) -> String {
    let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() * 1_000_000 + t.tv_nsec() / 1000)
        .unwrap_or(0);
    let now = chrono::Utc::now();
    let delta = chrono::Duration::microseconds(mono - usec as i64);
    (now - delta).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// OOM kills of processes in `memcg` (path inside the memory hierarchy,
/// e.g. "/docker/abc") or below it, oldest first.
/// The kills of processes in `memcg` (or below). `init` (pid, and its start
/// in µs since boot) also claims a kill whose cgroups the kernel did not
/// print (rate-limited report) if it is the init's pid, logged after the
/// init started.
pub fn kills_in(memcg: &str, init: Option<(i32, u64)>) -> std::io::Result<Vec<OomKill>> {
    let memcg = memcg.trim_end_matches('/');
    let mut kills = parse(&read_kmsg()?);
    kills.retain(|k| {
        if k.task_memcg.is_empty() {
            return init.is_some_and(|(pid, since)| k.pid == pid && k.kernel_time_us >= since);
        }
        k.task_memcg == memcg || k.task_memcg.starts_with(&format!("{memcg}/"))
    });
    for k in &mut kills {
        k.time = wall_time(k.kernel_time_us);
    }
    Ok(kills)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(lines: &[&str]) -> Vec<(u64, String)> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| (1000 + i as u64, l.to_string()))
            .collect()
    }

    #[test]
    fn parses_a_memcg_kill() {
        let r = recs(&[
            "dd invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
            "memory: usage 131072kB, limit 131072kB, failcnt 42",
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t/c1,task_memcg=/t/c1,task=dd,pid=4242,uid=0",
            "Memory cgroup out of memory: Killed process 4242 (dd) total-vm:206012kB, anon-rss:130960kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:300kB oom_score_adj:0",
        ]);
        let k = parse(&r);
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].pid, 4242);
        assert_eq!(k[0].command, "dd");
        assert_eq!(k[0].oom_memcg, "/t/c1");
        assert_eq!(k[0].task_memcg, "/t/c1");
        assert_eq!(k[0].anon_rss_kb, 130960);
        assert_eq!(k[0].limit_kb, Some(131072));
        assert_eq!(k[0].failcnt, Some(42));
    }

    #[test]
    fn v1_memsw_counter_that_tripped_is_reported() {
        let kill = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t/c1,task_memcg=/t/c1,task=dd,pid=9,uid=0";
        // swap == limit: memory+swap fails first, memory's failcnt is 0
        let k = parse(&recs(&[
            "memory: usage 131072kB, limit 131072kB, failcnt 0",
            "memory+swap: usage 131072kB, limit 131072kB, failcnt 35",
            "kmem: usage 1000kB, limit 9007199254740988kB, failcnt 0",
            kill,
        ]));
        assert_eq!(k[0].failcnt, Some(35));
        assert_eq!(k[0].limit_kb, Some(131072));
        // memory's own counter failed: its numbers stay
        let k = parse(&recs(&[
            "memory: usage 131072kB, limit 131072kB, failcnt 7",
            "memory+swap: usage 131072kB, limit 9007199254740988kB, failcnt 0",
            kill,
        ]));
        assert_eq!((k[0].limit_kb, k[0].failcnt), (Some(131072), Some(7)));
    }

    #[test]
    fn rate_limited_report_still_records_the_kill() {
        // The second kill's report was suppressed: only its last line.
        let r = recs(&[
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t/a,task_memcg=/t/a,task=dd,pid=10,uid=0",
            "Memory cgroup out of memory: Killed process 10 (dd) total-vm:206000kB, anon-rss:130000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:300kB oom_score_adj:0",
            "Memory cgroup out of memory: Killed process 20 (dd) total-vm:206000kB, anon-rss:131000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:300kB oom_score_adj:0",
        ]);
        let k = parse(&r);
        assert_eq!(k.len(), 2);
        assert_eq!((k[0].pid, k[0].anon_rss_kb), (10, 130000));
        assert_eq!((k[1].pid, k[1].command.as_str()), (20, "dd"));
        assert_eq!(k[1].anon_rss_kb, 131000);
        assert!(k[1].task_memcg.is_empty());
    }

    #[test]
    fn ancestor_kill_is_visible() {
        let r = recs(&[
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t,task_memcg=/t/c1,task=sh,pid=7,uid=0",
        ]);
        let k = parse(&r);
        assert_eq!(k[0].oom_memcg, "/t");
        assert_ne!(k[0].oom_memcg, k[0].task_memcg);
    }

    #[test]
    fn kmsg_record_split() {
        assert_eq!(
            split_record("6,123,456789,-;hello\n"),
            Some((456789, "hello"))
        );
        assert_eq!(split_record("garbage"), None);
    }
}
