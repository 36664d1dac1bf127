//! Deterministic crash points for the crash-recovery tests
//! (conformance/tests/crash.bats, docs/reliability.md).
//!
//! Only with the cargo feature `crash-points` (never in a normal build):
//! `RCRUN_TEST_CRASH_AT=<name>` makes rcrun SIGKILL itself when it reaches
//! the step `<name>`, exactly as a `kill -9` from outside would at that
//! moment. The names are listed in [`POINTS`]. Without the feature every
//! call compiles to nothing.

/// Every crash point, in the order an operation passes them.
pub const POINTS: &[&str] = &[
    // create: state directory made, no lock file yet
    "create:after-mkdir",
    // create: state directory made and locked, no state.json yet
    "create:after-state-dir",
    // create: state.json (pid 0, cgroups to be made) written
    "create:after-state-init",
    // create: cgroup directories made, limits not yet written
    "create:after-cgroup-mkdir",
    // create: limits written, no process yet
    "create:after-resources",
    // create: init cloned (waiting for start), its pid not yet saved
    "create:after-clone",
    // create: state.json with the init pid saved, before returning
    "create:after-state-write",
    // start (container/start.rs): nothing done yet, the init waits
    "start:before-release",
    // start: connected to the init's notify socket (that releases it),
    // nothing written
    "start:after-connect",
    // start: init released, "started" not saved (reads created)
    "start:after-release",
    // start, with poststart hooks: "started" saved with this process as
    // starter, hooks not run (reads created once we are dead)
    "start:before-poststart",
    // start, with poststart hooks: hooks run, final save not done
    "start:after-poststart",
    // start: final state saved (running), before start returns
    "start:after-save",
    // delete: processes killed, cgroups and state still there
    "delete:after-kill",
    // delete: cgroups removed, state directory still there
    "delete:after-cgroup-rm",
];

/// Environment variable naming the point to crash at.
pub const ENV: &str = "RCRUN_TEST_CRASH_AT";

#[cfg(feature = "crash-points")]
pub fn point(name: &str) {
    debug_assert!(POINTS.contains(&name), "unknown crash point {name}");
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        // SIGKILL, not abort/exit: no destructor, no unwinding, no flush,
        // the lock and fds go only because the kernel drops them.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn point(_name: &str) {}
