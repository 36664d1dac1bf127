//! `rcrun checkpoint` / `rcrun restore`: runc's subcommands, present so that
//! callers (and `-h`) find them, refused in one line: rcrun has no
//! checkpoint/restore; runc implements them with criu.

use rcrun::error::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id, with runc's flags for it (--image-path, --work-path,
    /// --leave-running, ...): the command is refused whatever they are
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn run(what: &str, args: &Args) -> Result<i32> {
    Err(Error::unsupported(
        format!("{what} {}", args.args.join(" ")),
        "rcrun does not implement checkpoint/restore (runc does it with criu; run runc for it)",
    ))
}
