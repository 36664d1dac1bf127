//! `rcrun events`: JSON lines as runc prints them: `{"type":"stats",...}`
//! every interval, `{"type":"oom","id":...}` the moment an OOM kill happens,
//! and once when an OOM episode without a kill begins (killer disabled:
//! the container freezes at its limit; oom_episode.rs). Ends when the
//! container stops.

use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::json;

use rcrun::container::Container;
use rcrun::error::{Result, SpecError};
use rcrun::oom::OomWatcher;
use rcrun::oom_account;
use rcrun::oom_journal;
use rcrun::state::{ContainerState, Root, Status};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Stats interval: 5s, 500ms, 1m, 1h, or seconds as a number (1ms to 2562047h)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Print stats once and exit
    #[arg(long)]
    pub stats: bool,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

/// The shortest interval: below it `events` would only spin printing stats.
const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// The longest interval: Go's time.Duration limit (i64 nanoseconds, about
/// 292 years), what runc accepts; `Instant + interval` cannot overflow.
const MAX_INTERVAL: Duration = Duration::from_nanos(i64::MAX as u64);

pub fn parse_interval(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("--interval: {s:?} is not a duration (e.g. 5s, 500ms, 1m)");
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("--interval: {s:?} must be positive"));
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d < MIN_INTERVAL => Err(format!("--interval: {s:?} is below the minimum, 1ms")),
        Ok(d) if d <= MAX_INTERVAL => Ok(d),
        _ => Err(format!(
            "--interval: {s:?} is too long (at most {}h)",
            MAX_INTERVAL.as_secs() / 3600
        )),
    }
}

fn stats_line(st: &ContainerState) -> Result<String> {
    let data = st.cgroups.stats()?;
    Ok(json!({"type": "stats", "id": st.id, "data": data}).to_string())
}

/// runc's event line, fields in runc's order (`json!` would sort them).
#[derive(serde::Serialize)]
struct OomEvent<'a> {
    r#type: &'static str,
    id: &'a str,
}

/// Prints one `oom` event per new kill or frozen episode, at once, then
/// logs the account (which needs a read of the kernel log: after the event).
fn emit_ooms(root: &Root, st: &ContainerState, events: u64) {
    if events == 0 {
        return;
    }
    let event = OomEvent {
        r#type: "oom",
        id: &st.id,
    };
    // (two &str fields: serializing cannot fail)
    let line = serde_json::to_string(&event).unwrap_or_default();
    for _ in 0..events {
        println!("{line}");
    }
    let account = oom_account::account(st);
    for line in oom_account::render_log_lines(&st.id, st.pid, &account) {
        tracing::warn!("{line}");
    }
    oom_journal::record_seen(&root.path, st, &account, oom_journal::Writer::Events);
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let interval = parse_interval(&args.interval).map_err(|m| SpecError::from_message(&m))?;
    let c = Container::peek(root, &args.container_id)?;
    c.require_live()?;
    let st = c.state();
    if args.stats {
        println!("{}", stats_line(st)?);
        return Ok(0);
    }
    let mut watcher = OomWatcher::new(&st.cgroups).ok();
    let mut next_stats = Instant::now() + interval;
    loop {
        let wait = next_stats.saturating_duration_since(Instant::now());
        // Poll at most every 100ms for exit of the container (no pidfd on
        // a process that is not our child in every kernel we support).
        let timeout = wait.min(Duration::from_millis(100));
        let ms = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::ZERO);
        let ready = match &watcher {
            Some(w) => {
                let mut fds = [PollFd::new(w.fd(), PollFlags::POLLIN)];
                poll(&mut fds, ms).map(|n| n > 0).unwrap_or(false)
            }
            None => {
                std::thread::sleep(timeout);
                false
            }
        };
        if ready {
            if let Some(w) = watcher.as_mut() {
                let kills = w.take_new_kills();
                emit_ooms(root, st, kills + u64::from(w.take_frozen_start()));
            }
        }
        if Instant::now() >= next_stats {
            if let Ok(line) = stats_line(st) {
                println!("{line}");
            }
            next_stats += interval;
        }
        if st.status() == Status::Stopped {
            if let Some(w) = watcher.as_mut() {
                emit_ooms(root, st, w.recount());
            }
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert!(parse_interval("x").is_err());
        assert!(parse_interval("0s").is_err());
    }

    /// Out-of-range values are one-line errors naming the flag and the
    /// value, never a panic (Duration::from_secs_f64 panics past u64
    /// seconds, `Instant + interval` past the clock's range).
    #[test]
    fn intervals_out_of_range() {
        for s in [
            "99999999999999999999s",
            "99999999999999999999",
            "18446744073709551616",
            "9223372037s",
            "5124095576030431h",
            "1e-10ms",
            "0.0000001ms",
            "0.0001",
        ] {
            let e = parse_interval(s).expect_err(s);
            assert!(
                e.starts_with("--interval: ") && e.contains(&format!("{s:?}")) && !e.contains('\n'),
                "{e}"
            );
        }
        assert_eq!(parse_interval("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(
            parse_interval("2562047h"),
            Ok(Duration::from_secs(2_562_047 * 3600))
        );
        assert!(parse_interval("2562048h").is_err());
    }
}
