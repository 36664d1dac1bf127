//! Signal names and numbers as runc accepts them: "9", "KILL", "SIGKILL", "kill".

use nix::sys::signal::Signal;
use std::str::FromStr;

pub fn parse(raw: &str) -> Result<Signal, String> {
    if let Ok(n) = raw.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| format!("signal: {raw:?} is not a valid signal number"));
    }
    let upper = raw.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| {
        format!("signal: unknown signal {raw:?} (use a name such as TERM, KILL, HUP, USR1, or its number)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("9"), Ok(Signal::SIGKILL));
        assert_eq!(parse("KILL"), Ok(Signal::SIGKILL));
        assert_eq!(parse("sigterm"), Ok(Signal::SIGTERM));
        assert_eq!(parse("SIGUSR1"), Ok(Signal::SIGUSR1));
        assert!(parse("NOPE").is_err());
        assert!(parse("99").is_err());
    }
}
