//! One module per subcommand.

pub mod completion;
pub mod create;
pub mod criu;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod oom_report;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

/// `--format` of `list` and `ps`: table or json, as runc.
pub fn unknown_format(other: &str) -> rcrun::error::Error {
    rcrun::error::SpecError::field(
        "--format",
        format!("invalid format {other:?} (table or json)"),
    )
    .into()
}
