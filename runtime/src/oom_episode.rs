//! OOM episodes: a stretch of time a memory cgroup spends at its limit with
//! the kernel's OOM handling invoked, told apart from the kills in it.
//!
//! Why: with the OOM killer disabled (v1 `oom_kill_disable`) or nothing it
//! may kill (every task at oom_score_adj -1000, v1 or v2) the container
//! stops at its limit and no `oom_kill` counter ever moves. The kernel keeps
//! notifying, though: v1's eventfd each time a task (re)enters the OOM path,
//! v2's `memory.events` `oom` on every failed charge (a faulting task retries
//! without end, so thousands a second). One report per episode, not one per
//! notification.
//!
//! The rule:
//! - An episode begins at an OOM notification while none is open.
//! - It lasts while notifications keep coming or (v1) `under_oom` reads 1,
//!   and ends once [`QUIET`] has passed without either.
//! - It is reported once, as frozen at its limit, unless a kill was counted
//!   in it (a kill is its own report, one per kill, as ever); on v1 only
//!   once `under_oom` was read as 1 (with the killer on it is set only for
//!   the instant of the OOM call).

use std::time::{Duration, Instant};

/// How long an episode must be calm before it is over: long enough to span
/// a v1 waiter woken to retry, short enough that a new OOM after the limit
/// was raised is a new episode.
pub const QUIET: Duration = Duration::from_secs(1);

/// How often an open episode is looked at again, to see it end.
pub const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
struct Open {
    last_busy: Instant,
    killed: bool,
    reported: bool,
}

/// What one look at the cgroup found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Look {
    /// An OOM notification arrived (v1 eventfd, v2 `oom` moved).
    pub notified: bool,
    /// Kills counted since the previous look.
    pub kills: u64,
    /// v1 `under_oom`; None on v2, which has no such flag.
    pub under_oom: Option<bool>,
}

#[derive(Debug, Default)]
pub struct Episodes {
    open: Option<Open>,
}

impl Episodes {
    /// Takes one look into account. True when it is the first sign that the
    /// open episode is a frozen one (to be reported, once).
    pub fn observe(&mut self, look: Look, now: Instant) -> bool {
        let busy = look.notified || look.under_oom == Some(true);
        let open = match &mut self.open {
            Some(o) => {
                if busy {
                    o.last_busy = now;
                } else if now.duration_since(o.last_busy) >= QUIET {
                    self.open = None;
                    return false;
                }
                o
            }
            None if look.notified => self.open.insert(Open {
                last_busy: now,
                killed: false,
                reported: false,
            }),
            None => return false,
        };
        open.killed |= look.kills > 0;
        if open.killed || open.reported || look.under_oom == Some(false) {
            return false;
        }
        open.reported = true;
        true
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn look(notified: bool, kills: u64, under_oom: Option<bool>) -> Look {
        Look {
            notified,
            kills,
            under_oom,
        }
    }

    /// v1, killer disabled: one notification, under_oom stays 1 for as
    /// long as the container is frozen: reported once, however long.
    #[test]
    fn v1_frozen_is_one_episode() {
        let t0 = Instant::now();
        let mut e = Episodes::default();
        assert!(e.observe(look(true, 0, Some(true)), t0));
        for ms in (250..60_000).step_by(250) {
            assert!(!e.observe(look(false, 0, Some(true)), at(t0, ms)));
        }
        // a waiter woken by a freed page and back under OOM: same episode
        assert!(!e.observe(look(true, 0, Some(true)), at(t0, 60_100)));
        assert!(e.is_open());
        // limit raised: under_oom 0 for a second ends it
        assert!(!e.observe(look(false, 0, Some(false)), at(t0, 60_200)));
        assert!(e.is_open());
        assert!(!e.observe(look(false, 0, Some(false)), at(t0, 61_200)));
        assert!(!e.is_open());
        // and the next OOM is a new episode, reported again
        assert!(e.observe(look(true, 0, Some(true)), at(t0, 70_000)));
    }

    /// v1, killer on: the OOM is notified and a kill counted: a kill, no
    /// frozen report; the episode then ends by itself.
    #[test]
    fn a_kill_is_no_frozen_episode() {
        let t0 = Instant::now();
        let mut e = Episodes::default();
        assert!(!e.observe(look(true, 1, Some(false)), t0));
        // the victim is slow to die: more OOM calls, no new kill
        assert!(!e.observe(look(true, 0, Some(true)), at(t0, 100)));
        assert!(!e.observe(look(false, 0, Some(false)), at(t0, 1_100)));
        assert!(!e.is_open());
    }

    /// v1: the flag read 0 at the notification (killer on, nothing killable:
    /// under_oom is set only during each OOM call): reported when it is
    /// seen set, still once.
    #[test]
    fn v1_reported_when_under_oom_is_seen() {
        let t0 = Instant::now();
        let mut e = Episodes::default();
        assert!(!e.observe(look(true, 0, Some(false)), t0));
        assert!(e.observe(look(true, 0, Some(true)), at(t0, 10)));
        assert!(!e.observe(look(true, 0, Some(true)), at(t0, 20)));
    }

    /// v2, nothing killable: `oom` moves on every retried fault; one report
    /// until the counter has been still for QUIET.
    #[test]
    fn v2_storm_is_one_episode() {
        let t0 = Instant::now();
        let mut e = Episodes::default();
        assert!(e.observe(look(true, 0, None), t0));
        for ms in 1..5_000 {
            assert!(!e.observe(look(true, 0, None), at(t0, ms)));
        }
        assert!(!e.observe(look(false, 0, None), at(t0, 5_500)));
        assert!(e.is_open());
        assert!(!e.observe(look(false, 0, None), at(t0, 6_000)));
        assert!(!e.is_open());
    }

    /// A kill while frozen (killer re-enabled) is reported as a kill by the
    /// caller; it does not make a second frozen report.
    #[test]
    fn kill_inside_a_frozen_episode() {
        let t0 = Instant::now();
        let mut e = Episodes::default();
        assert!(e.observe(look(true, 0, Some(true)), t0));
        assert!(!e.observe(look(true, 1, Some(false)), at(t0, 300)));
        assert!(!e.observe(look(true, 0, Some(true)), at(t0, 400)));
    }

    /// Looks without a notification (ticks, an exit's recount) open nothing.
    #[test]
    fn no_notification_no_episode() {
        let t0 = Instant::now();
        let mut e = Episodes::default();
        assert!(!e.observe(look(false, 0, Some(true)), t0));
        assert!(!e.observe(look(false, 2, None), t0));
        assert!(!e.is_open());
    }
}
