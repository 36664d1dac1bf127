//! Tests that need what a host may lack (root, cgroups) call [`skip`] and
//! return: a line on the test output says so, and with
//! RCRUN_TEST_REQUIRE_ROOT=1 (CI: conformance/ci.sh) it is a failure, so
//! that no such test reports `ok` in CI without having run.

use std::io::Write;

/// This test cannot run here, for `why`.
pub(crate) fn skip(why: &str) {
    let test = std::thread::current().name().unwrap_or("test").to_owned();
    let required = std::env::var("RCRUN_TEST_REQUIRE_ROOT").as_deref() == Ok("1");
    assert!(
        !required,
        "{test}: cannot run: {why} (RCRUN_TEST_REQUIRE_ROOT=1)"
    );
    // Not eprintln!: the test harness captures that; this line shows.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}
