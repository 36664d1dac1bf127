//! Version strings for `--version`.

use std::sync::LazyLock;

pub const SHORT: &str = env!("CARGO_PKG_VERSION");

pub static LONG: LazyLock<String> = LazyLock::new(|| {
    let layout = match crate::cgroups::Hierarchies::detect() {
        Ok(h) => format!("{:?}", h.layout()).to_lowercase(),
        Err(e) => format!("unknown ({e})"),
    };
    format!(
        "{}\ncommit: {}\nspec: {}\nlibcontainer: 0.7\ncgroup layout: {}",
        SHORT,
        option_env!("RCRUN_COMMIT").unwrap_or("unknown"),
        crate::state::OCI_VERSION,
        layout
    )
});
