//! The `rcrun` binary: parse runc's command line, run the subcommand, print
//! errors the way runc does (log line + bare message on stderr when the log
//! goes to a file) and exit 1 on failure.

mod cli;
mod commands;
mod logging;

use cli::{Cli, Command};
use logging::Format;
use rcrun::state::Root;

fn main() {
    drop_non_utf8_env();
    if seals_first() {
        // First thing: this re-executes the process from a read-only copy
        // of the binary (rcrun::sealed_exe), so the work before it is done
        // twice. Decided on the raw arguments: a container id spelled like
        // one of these subcommands only costs an unneeded re-exec.
        if let Err(e) = rcrun::sealed_exe::ensure_sealed() {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            eprintln!("{}", cli::usage_error_line(&e));
            std::process::exit(e.exit_code());
        }
    };
    if matches!(
        cli.command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) && !matches!(rcrun::sealed_exe::is_sealed(), Ok(true))
    {
        // Not reached: seals_first saw the subcommand. Kept so that a
        // change in the argument scan can never start a container from the
        // writable binary.
        eprintln!(
            "internal error: {:?} must run from a sealed binary",
            cli.command
        );
        std::process::exit(1);
    }
    let format = match Format::parse(&cli.log_format) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    let target = match logging::init(cli.log.as_deref(), format, cli.debug) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "--log: {}: {e}",
                cli.log
                    .as_deref()
                    .unwrap_or_else(|| std::path::Path::new(""))
                    .display()
            );
            std::process::exit(1);
        }
    };
    let code = match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            // One line whatever the error quotes (paths, ids, libcontainer's
            // own messages).
            let msg = rcrun::error::one_line(&e.to_string());
            tracing::error!("{msg}");
            if !target.to_stderr {
                eprintln!("{msg}");
            }
            // runc's exec exits 255 when it fails itself, so that its
            // caller can tell that from the process's own exit status.
            if matches!(cli.command, Command::Exec(_)) {
                255
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}

/// Whether the command line names a subcommand that starts container
/// processes (create, run, exec): those must run from a sealed binary.
fn seals_first() -> bool {
    std::env::args_os()
        .skip(1)
        .any(|a| a == "create" || a == "run" || a == "exec")
}

/// The caller's environment is not the container's (that comes from
/// `process.env`), and rcrun reads nothing from it that is not UTF-8: a
/// variable that is not UTF-8 is dropped before anything (std's
/// `env::vars`, which libcontainer calls, panics on one).
fn drop_non_utf8_env() {
    let bad: Vec<_> = std::env::vars_os()
        .filter(|(k, v)| k.to_str().is_none() || v.to_str().is_none())
        .map(|(k, _)| k)
        .collect();
    for k in bad {
        // Single-threaded: nothing else reads the environment yet.
        std::env::remove_var(k);
    }
}

fn dispatch(cli: &Cli) -> rcrun::error::Result<i32> {
    // Absolute now: create leaves a deleted cwd for "/" (libcontainer needs
    // a cwd), and a relative root must not follow it there.
    let root_path = match &cli.root {
        Some(p) => Some(std::path::absolute(p).map_err(|e| {
            rcrun::error::Error::from(rcrun::error::SpecError::new(
                "--root",
                p.display().to_string(),
                format!(": cannot be resolved against the current directory: {e}"),
            ))
        })?),
        None => None,
    };
    let root = Root::new(root_path.as_deref());
    match &cli.command {
        Command::Create(a) => commands::create::run(&root, a, cli.systemd_cgroup),
        Command::Start(a) => commands::start::run(&root, a),
        Command::Run(a) => commands::run::run(&root, a, cli.systemd_cgroup),
        Command::State(a) => commands::state::run(&root, a),
        Command::Kill(a) => commands::kill::run(&root, a),
        Command::Delete(a) => commands::delete::run(&root, a),
        Command::List(a) => commands::list::run(&root, a),
        Command::Ps(a) => commands::ps::run(&root, a),
        Command::Exec(a) => commands::exec::run(&root, a),
        Command::Pause(a) => commands::pause::run(&root, a),
        Command::Resume(a) => commands::resume::run(&root, a),
        Command::Update(a) => commands::update::run(&root, a),
        Command::Events(a) => commands::events::run(&root, a),
        Command::OomReport(a) => commands::oom_report::run(&root, a),
        Command::Features(a) => commands::features::run(a),
        Command::Spec(a) => commands::spec::run(a),
        Command::Completion(a) => commands::completion::run(a),
        Command::Checkpoint(a) => commands::criu::run("checkpoint", a),
        Command::Restore(a) => commands::criu::run("restore", a),
    }
}
