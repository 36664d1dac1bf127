//! Command line: runc's global flags and subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Parser, Debug)]
#[command(
    name = "rcrun",
    // clap prints "<name> <version>": with "version X" that is runc's
    // first line, `rcrun version X`, which docker info parses.
    version = rcrun::version::CLI_SHORT,
    about = "Open Container Initiative runtime (rcrun: cgroup limits and OOM kills done right)",
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version (runc's -v/--version)
    #[arg(short = 'v', long, short_alias = 'V', action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    /// Root directory for container state (keep it on tmpfs)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log file (default: stderr)
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long, global = true, default_value = "text", value_name = "FORMAT")]
    pub log_format: String,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups: cgroupsPath is slice:prefix:name and
    /// the container's cgroup is a transient scope unit
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility; ignored
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    pub criu: Option<String>,
    /// Accepted for runc compatibility: rootless mode is not supported.
    /// Not global: `spec --rootless` is a different (boolean) flag, and
    /// callers (go-runc) put this one before the subcommand.
    #[arg(long, value_name = "BOOL", hide = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container (the process waits for `start`)
    Create(commands::create::Args),
    /// Start a created container
    Start(commands::start::Args),
    /// Create and start a container, waiting for it unless --detach
    Run(commands::run::Args),
    /// Print the state of a container as JSON
    State(commands::state::Args),
    /// Send a signal to the container's init (default SIGTERM)
    Kill(commands::kill::Args),
    /// Delete a container and everything it owns
    Delete(commands::delete::Args),
    /// List containers
    List(commands::list::Args),
    /// Show the processes of a container
    Ps(commands::ps::Args),
    /// Run a new process inside a container
    Exec(commands::exec::Args),
    /// Freeze every process of a container
    Pause(commands::pause::Args),
    /// Thaw a paused container
    Resume(commands::resume::Args),
    /// Change a container's resource limits
    Update(commands::update::Args),
    /// Stream a container's events (OOM) and stats as JSON lines
    Events(commands::events::Args),
    /// Explain the container's OOM kills: victim, limit hit, memory, counters
    OomReport(commands::oom_report::Args),
    /// Print what this runtime supports (OCI features document)
    Features(commands::features::Args),
    /// Write a default config.json
    Spec(commands::spec::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion(commands::completion::Args),
    /// Not implemented: rcrun has no checkpoint (runc's needs criu)
    Checkpoint(commands::criu::Args),
    /// Not implemented: rcrun has no restore (runc's needs criu)
    Restore(commands::criu::Args),
}

/// A command-line mistake as ONE line: clap's message, the items it lists
/// on the following lines, its tip and the usage line, e.g.
/// `error: unrecognized subcommand 'creat' (tip: a similar subcommand
/// exists: 'create'; usage: rcrun [OPTIONS] <COMMAND>)`.
pub fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut head = String::new();
    let mut notes: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("For more information") {
            continue;
        }
        if head.is_empty() {
            head = t.to_string();
        } else if let Some(u) = t.strip_prefix("Usage: ") {
            notes.push(format!("usage: {u}"));
        } else if let Some(v) = t.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            notes.push(v.to_string());
        } else if t.starts_with("tip:") {
            notes.push(t.to_string());
        } else if head.ends_with(':') {
            head = format!("{head} {t}");
        } else {
            head = format!("{head}, {t}");
        }
    }
    if notes.is_empty() {
        head
    } else {
        format!("{head} ({})", notes.join("; "))
    }
}

/// Parses the command line. `--version` prints the long form (commit, spec,
/// libcontainer, this host's cgroup layout), which reads mountinfo: built only
/// when asked for, not on every command.
pub fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = runc_help_shape(Cli::command());
    if std::env::args_os().any(|a| a == "--version" || a == "-v" || a == "-V") {
        // runc prints the same long form for -v and --version.
        let long = rcrun::version::LONG.as_str();
        cmd = cmd.version(long).long_version(long);
    }
    let matches = cmd.try_get_matches().map_err(no_help_topic)?;
    Cli::from_arg_matches(&matches)
}

/// runc's help (urfave/cli) starts with `NAME:` and `   runc <cmd> - ...`;
/// scripts (runc's own help.bats) read those two lines.
const RUNC_HELP: &str = "NAME:\n   {bin} - {about}\n\nUSAGE:\n   {usage}\n\n{all-args}{after-help}";

fn runc_help_shape(cmd: clap::Command) -> clap::Command {
    // The name as invoked (clap's own {bin} says `rcrun-delete`).
    let bin = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "rcrun".to_string());
    cmd.help_template(RUNC_HELP.replace("{bin}", &bin))
        .mut_subcommands(|s| {
            let t = RUNC_HELP.replace("{bin}", &format!("{bin} {}", s.get_name()));
            s.help_template(t)
        })
}

/// `rcrun foo -h`: runc's words, "No help topic for 'foo'".
fn no_help_topic(e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let asked_help = std::env::args_os().any(|a| a == "-h" || a == "--help");
    match e.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(name))
            if asked_help && e.kind() == ErrorKind::InvalidSubcommand =>
        {
            clap::Error::raw(
                ErrorKind::InvalidSubcommand,
                format!("No help topic for '{name}'\n"),
            )
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own consistency checks (duplicate ids between global and
    /// subcommand flags panic at parse time otherwise).
    #[test]
    fn command_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn spec_rootless_and_global_rootless_parse() {
        let cli = Cli::try_parse_from(["rcrun", "--rootless", "false", "spec", "--rootless"]);
        assert!(cli.is_ok(), "{cli:?}");
        let cli = Cli::try_parse_from(["rcrun", "spec"]);
        assert!(matches!(cli.map(|c| c.command), Ok(Command::Spec(_))));
    }

    #[test]
    fn usage_errors_are_one_line() {
        for argv in [
            vec!["rcrun", "creat", "x"],
            vec!["rcrun", "run"],
            vec!["rcrun", "create", "--bundl", "x", "c1"],
            vec!["rcrun", "completion", "nope"],
            vec!["rcrun", "update", "--memory"],
        ] {
            let Err(e) = Cli::try_parse_from(&argv) else {
                panic!("{argv:?} parsed");
            };
            let line = usage_error_line(&e);
            assert!(
                !line.contains('\n') && line.starts_with("error: "),
                "{line}"
            );
        }
        let Err(e) = Cli::try_parse_from(["rcrun", "creat", "x"]) else {
            panic!("parsed");
        };
        assert_eq!(
            usage_error_line(&e),
            "error: unrecognized subcommand 'creat' (tip: a similar subcommand exists: 'create'; usage: rcrun [OPTIONS] <COMMAND>)"
        );
    }

    /// Every argument and subcommand has a help line.
    #[test]
    fn every_argument_is_documented() {
        let cmd = Cli::command();
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() {
                missing.push(sub.get_name().to_string());
            }
            for a in sub.get_arguments() {
                if !a.is_hide_set() && a.get_help().is_none() {
                    missing.push(format!("{} {}", sub.get_name(), a.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }
}
