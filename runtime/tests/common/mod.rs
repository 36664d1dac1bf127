//! Shared by the fuzz tests: the PRNG and the knobs (seed, iterations,
//! time budget).
#![allow(dead_code)]

use std::time::Duration;

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
