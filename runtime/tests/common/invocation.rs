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

    /// The run as a bash command line to paste (`rcrun` standing for the
    /// binary): `$'...'` quoting, so bytes that are not UTF-8 and control
    /// characters come out as \xNN; a long value that repeats one byte as
    /// a `$(printf ...)`; other long values and more than 6 variables
    /// summed up (`<...>`: those runs are in the saved stdin or config).
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.cwd {
            Cwd::Dir(d) => s.push_str(&format!("(cd {}; ", quote(d.as_os_str().as_bytes()))),
            Cwd::Deleted => s.push_str("(d=$(mktemp -d); cd $d; rmdir $d; "),
        }
        s.push_str(&format!("env -i PATH={}", super::sandbox::PATH));
        if self.env.len() > 6 {
            let (k, v) = &self.env[0];
            s.push_str(&format!(
                " <{} variables: {}={} ...>",
                self.env.len(),
                quote(k.as_bytes()),
                long(v.as_bytes())
            ));
        } else {
            for (k, v) in &self.env {
                s.push_str(&format!(" {}={}", quote(k.as_bytes()), long(v.as_bytes())));
            }
        }
        s.push_str(" rcrun");
        for a in &self.args {
            s.push(' ');
            s.push_str(&long(a.as_bytes()));
        }
        if let Some(i) = &self.stdin {
            s.push_str(&format!(" <<< {}", long(i)));
        }
        s.push(')');
        s
    }
}

/// `quote`, or for more than 200 bytes a `$(printf ...)` making them when
/// they repeat one byte, else a summary.
fn long(b: &[u8]) -> String {
    if b.len() <= 200 {
        return quote(b);
    }
    if b.iter().all(|&c| c == b[0]) && b[0].is_ascii_alphanumeric() {
        return format!("\"$(printf %0{}d 0 | tr 0 {})\"", b.len(), b[0] as char);
    }
    format!("<{} bytes: {}...>", b.len(), quote(&b[..40]))
}

/// Bytes as a bash word: as they are when plain, else `$'...'` with \xNN
/// for control characters and bytes that are not UTF-8.
pub fn quote(b: impl AsRef<[u8]>) -> String {
    let b = b.as_ref();
    let plain = !b.is_empty()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&c));
    if plain {
        return String::from_utf8_lossy(b).into_owned();
    }
    let mut s = String::from("$'");
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '\'' => s.push_str("\\'"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for x in c.encode_utf8(&mut buf).bytes() {
                        s.push_str(&format!("\\x{x:02x}"));
                    }
                }
                c => s.push(c),
            }
        }
        for x in chunk.invalid() {
            s.push_str(&format!("\\x{x:02x}"));
        }
    }
    s.push('\'');
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
