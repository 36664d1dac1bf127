//! Shared by the fuzz tests (spec_fuzz, config_fuzz, cli_fuzz): the PRNG,
//! the knobs (seed, iterations, time budget) and, for the tests that run
//! the rcrun binary, the sandbox (sandbox.rs).
#![allow(dead_code)]

pub mod invocation;
pub mod leftovers;
pub mod sandbox;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use sandbox::os;

/// splitmix64: tiny, good enough, and the same sequence everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// `RCRUN_FUZZ_SEED` (decimal or 0x-hex), else `default`.
pub fn seed(default: u64) -> u64 {
    std::env::var("RCRUN_FUZZ_SEED")
        .ok()
        .and_then(|v| match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => v.parse().ok(),
        })
        .unwrap_or(default)
}

/// An unsigned knob from the environment, else `default`.
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A change to the caller's environment (what rcrun inherits), and whether
/// it is benign: one that must not make a valid `create` fail (runc
/// ignores all of these).
pub fn caller_env(rng: &mut Rng) -> (Vec<(OsString, OsString)>, bool) {
    let one = |k: &[u8], v: &[u8]| vec![(os(k), os(v))];
    match rng.below(20) {
        0 => (one(b"FUZZ_BAD", b"\xff\xfe"), true),
        1 => (one(b"FUZZ_\xff", b"1"), true),
        2 => (one(b"LANG", b"\xc3"), true),
        3 => (one(b"FUZZ_HUGE", &[b'x'; 100_000]), true),
        4 => (
            (0..2000)
                .map(|i| (format!("FUZZ_{i}").into(), format!("{i}").into()))
                .collect(),
            true,
        ),
        5 => (one(b"FUZZ_NL", b"a\nb\rc"), true),
        6 => (one(b"", b"x"), true),
        7 => (one(b"RUST_BACKTRACE", b"full"), true),
        8 => (one(b"LISTEN_FDS", b"2147483647"), false),
        9 => (one(b"LISTEN_FDS", b"-5"), false),
        10 => (one(b"LISTEN_FDS", b"\xff"), false),
        11 => (one(b"NOTIFY_SOCKET", b"/proc/nonexistent/notify"), true),
        12 => (one(b"TMPDIR", b"/proc/nonexistent"), true),
        13 => (one(b"HOME", b""), true),
        14 => (one(b"XDG_RUNTIME_DIR", b"\xff"), true),
        15 => (one(b"PATH", b"/bin:\xff"), false),
        16 => (one(b"PATH", b""), false),
        17 => (one(b"TERM", b"\xff"), true),
        18 => (
            vec![
                (os(b"A\xffB"), os(b"\xfe")),
                (os(b"FUZZ_HUGE2"), os(&[b'y'; 60_000])),
            ],
            true,
        ),
        _ => (one(b"COLUMNS", b"-1"), true),
    }
}

/// The wall-clock budget of one process-level fuzz test:
/// `RCRUN_FUZZ_BUDGET_SECS` (default `default_secs`; 0 = none). A slow
/// machine then runs fewer inputs instead of blowing CI's time; the test
/// says how many it ran.
pub fn budget(default_secs: u64) -> Option<Duration> {
    match knob("RCRUN_FUZZ_BUDGET_SECS", default_secs) {
        0 => None,
        s => Some(Duration::from_secs(s)),
    }
}

/// The longest prefix of `s` of at most `n` bytes that ends on a char.
pub fn prefix(s: &str, n: usize) -> &str {
    let mut i = n.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// One failing run of a process-level fuzzer.
pub struct Failure {
    pub run: u64,
    pub problems: Vec<String>,
    /// The command line, as `Invocation::render` writes it.
    pub cmd: String,
    /// Files to save with it (name, content): the config.json, ...
    pub files: Vec<(String, Vec<u8>)>,
    /// The input in short (the mutated fields).
    pub summary: String,
    pub stderr: String,
}

/// Prints the failures (the first 40 in full, then a count by kind) and
/// saves each under target/fuzz-failures/<name>/<n>/ (cmd.txt,
/// problems.txt, stderr.txt and its files), then fails the test.
pub fn report(name: &str, failures: &[Failure]) {
    if failures.is_empty() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/fuzz-failures")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (i, f) in failures.iter().enumerate() {
        let d = dir.join(i.to_string());
        let _ = std::fs::create_dir_all(&d);
        for (n, data) in &f.files {
            let _ = std::fs::write(d.join(n), data);
        }
        let _ = std::fs::write(d.join("cmd.txt"), format!("{}\n", f.cmd));
        let _ = std::fs::write(
            d.join("problems.txt"),
            format!("{}\n{}\n", f.problems.join("\n"), f.summary),
        );
        let _ = std::fs::write(d.join("stderr.txt"), &f.stderr);
        if i < 40 {
            eprintln!(
                "{name}_fuzz: FAIL #{i} (run {}): {}",
                f.run,
                f.problems.join(" | ")
            );
            eprintln!("    command: {}", f.cmd);
            if !f.summary.is_empty() {
                eprintln!("    input:   {}", f.summary);
            }
            for l in f.stderr.lines().take(6) {
                eprintln!("    stderr:  {}", prefix(l, 300));
            }
        }
    }
    // Every failure by kind (the marker numbers and the leftovers' names
    // taken out), the ones past the first 40 included.
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for f in failures {
        for p in &f.problems {
            *kinds.entry(kind(p)).or_default() += 1;
        }
    }
    for (k, n) in &kinds {
        eprintln!("{name}_fuzz: {n:>5} x {k}");
    }
    panic!(
        "{name}_fuzz: {} failing runs; inputs saved in {}",
        failures.len(),
        dir.display()
    );
}

/// A problem without what varies from run to run.
fn kind(p: &str) -> String {
    let p = match p.find(": ") {
        Some(i) if p.starts_with("left behind") || p.starts_with("delete") => &p[..i],
        _ => p,
    };
    let mut out = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if out.ends_with("FZ") {
            out.push('n');
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        }
    }
    out
}
