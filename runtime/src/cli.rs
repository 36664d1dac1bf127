//! Command line: runc's global flags and subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Parser, Debug)]
#[command(
    name = "rcrun",
    version = crate::version::SHORT,
    long_version = crate::version::LONG.as_str(),
    about = "rcrun: an OCI container runtime with cgroup limits and OOM kills done right",
    propagate_version = true
)]
pub struct Cli {
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
    /// Use systemd to manage cgroups (not supported: rcrun writes cgroupfs directly)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility; ignored
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    pub criu: Option<String>,
    /// Accepted for runc compatibility: rootless mode is not supported
    #[arg(long, global = true, value_name = "BOOL", hide = true)]
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
}
