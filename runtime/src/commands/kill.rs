//! `rcrun kill <id> [signal]`: SIGTERM by default, as runc.

use crate::container;
use crate::error::{Error, Result};
use crate::signal;
use crate::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Send the signal to every process of the container
    #[arg(short, long)]
    pub all: bool,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
    /// Signal name or number (default: SIGTERM)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let sig = signal::parse(&args.signal).map_err(Error::Spec)?;
    container::signal(root, &args.container_id, sig, args.all)?;
    Ok(0)
}
