//! One run of the rcrun binary: what to run (arguments, environment, cwd,
//! stdin) and what came of it, with the checks no input excuses.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

/// Where the run starts.
#[derive(Clone, Debug)]
pub enum Cwd {
    Dir(PathBuf),
    /// A directory of the sandbox, removed after the chdir and before the
    /// exec: rcrun starts in a deleted cwd.
    Deleted,
}

#[derive(Clone, Debug)]
pub struct Invocation {
    pub args: Vec<OsString>,
    /// Added to a minimal environment (PATH only).
    pub env: Vec<(OsString, OsString)>,
    pub cwd: Cwd,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Invocation {
    pub fn new(args: Vec<OsString>) -> Invocation {
        Invocation {
            args,
            env: Vec::new(),
            cwd: Cwd::Dir(PathBuf::from("/")),
            stdin: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// A shell-like rendering for reports: arguments and environment
    /// quoted as Rust strings, bytes that are not UTF-8 as \x escapes.
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.cwd {
            Cwd::Dir(d) => s.push_str(&format!("(cd {}; ", d.display())),
            Cwd::Deleted => s.push_str("(cd <deleted dir>; "),
        }
        if self.env.len() > 6 {
            let (k, v) = &self.env[0];
            s.push_str(&format!(
                "<{} variables: {}={} ...> ",
                self.env.len(),
                quote(k.as_bytes()),
                quote(v.as_bytes())
            ));
        }
        for (k, v) in self.env.iter().filter(|_| self.env.len() <= 6) {
            let v = if v.len() > 80 {
                format!("<{} bytes>", v.len())
            } else {
                quote(v.as_bytes())
            };
            s.push_str(&format!("{}={v} ", quote(k.as_bytes())));
        }
        s.push_str("rcrun");
        for a in &self.args {
            s.push(' ');
            if a.len() > 200 {
                s.push_str(&format!(
                    "<{} bytes: {}...>",
                    a.len(),
                    quote(&a.as_bytes()[..40])
                ));
            } else {
                s.push_str(&quote(a.as_bytes()));
            }
        }
        if let Some(i) = &self.stdin {
            s.push_str(&format!(" <<< {}", quote(&i[..i.len().min(300)])));
        }
        s.push(')');
        s
    }
}

/// Bytes as a Rust-like string literal when they need quoting, with
/// \xNN for bytes that are not UTF-8.
pub fn quote(b: impl AsRef<[u8]>) -> String {
    let b = b.as_ref();
    let plain = !b.is_empty()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&c));
    if plain {
        return String::from_utf8_lossy(b).into_owned();
    }
    let mut s = String::from("\"");
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            s.extend(c.escape_debug());
        }
        for x in chunk.invalid() {
            s.push_str(&format!("\\x{x:02x}"));
        }
    }
    s.push('"');
    s
}

impl Outcome {
    /// Problems that no input excuses: a panic, exit 101, death by a
    /// signal, a hang (unless `may_block`).
    pub fn crash_problems(&self, may_block: bool) -> Vec<String> {
        let mut p = Vec::new();
        if self.timed_out && !may_block {
            p.push(format!("HANG: still running after {:?}", self.took));
        }
        if self.code == Some(101) {
            p.push("exit 101 (a Rust panic)".into());
        }
        if let Some(s) = self.signal.filter(|_| !self.timed_out) {
            p.push(format!("killed by signal {s}"));
        }
        if self.stderr.contains("panicked") {
            p.push("\"panicked\" on stderr".into());
        }
        p
    }

    /// A failure must print exactly one non-empty line on stderr.
    pub fn one_line_problem(&self) -> Option<String> {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        match lines.len() {
            1 => None,
            0 => Some(format!("exit {:?} with nothing on stderr", self.code)),
            n => Some(format!("{n} lines on stderr")),
        }
    }

    /// The error line without the logger's `time=... level=error msg=`.
    pub fn message(&self) -> &str {
        let s = self.stderr.trim();
        match s.find("msg=") {
            Some(i) => &s[i + 4..],
            None => s,
        }
    }
}
