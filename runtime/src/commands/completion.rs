//! `rcrun completion <shell>`: print a completion script.
//!
//!   rcrun completion bash > /usr/share/bash-completion/completions/rcrun
//!   rcrun completion zsh  > /usr/share/zsh/vendor-completions/_rcrun
//!   rcrun completion fish > /usr/share/fish/vendor_completions.d/rcrun.fish

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use rcrun::error::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &Args) -> Result<i32> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "rcrun", &mut buf);
    std::io::stdout()
        .write_all(&buf)
        .map_err(|e| Error::io("stdout", e))?;
    Ok(0)
}
