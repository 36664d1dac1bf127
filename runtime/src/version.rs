//! Version strings for `--version`.

use std::sync::LazyLock;

pub const SHORT: &str = env!("CARGO_PKG_VERSION");

/// What follows the program name on `--version`'s first line: runc prints
/// `runc version X`, and docker (`docker info`) parses that shape.
pub const CLI_SHORT: &str = concat!("version ", env!("CARGO_PKG_VERSION"));

/// The git commit rcrun was built from (runtime/build.rs), or "unknown".
pub const COMMIT: &str = match option_env!("RCRUN_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// The libcontainer version in Cargo.lock at build time.
pub const LIBCONTAINER: &str = match option_env!("RCRUN_LIBCONTAINER_VERSION") {
    Some(v) => v,
    None => "unknown",
};

pub static LONG: LazyLock<String> = LazyLock::new(|| {
    let layout = match crate::cgroups::Hierarchies::detect() {
        Ok(h) => format!("{:?}", h.layout()).to_lowercase(),
        Err(e) => format!("unknown ({e})"),
    };
    format!(
        "{}\ncommit: {}\nspec: {}\nlibcontainer: {}\ncgroup layout: {}",
        CLI_SHORT,
        COMMIT,
        crate::state::OCI_VERSION,
        LIBCONTAINER,
        layout
    )
});
