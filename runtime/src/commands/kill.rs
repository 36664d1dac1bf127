//! `rcrun kill <id> [signal]`: SIGTERM by default, as runc.

use rcrun::container::Container;
use rcrun::error::{Result, SpecError};
use rcrun::signal;
use rcrun::state::Root;

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
    // Signal 0 (a liveness check) is no nix Signal.
    let sig = match args.signal.as_str() {
        "0" => None,
        s => Some(signal::parse(s).map_err(|m| SpecError::from_message(&m))?),
    };
    // Waits for a create in progress: its init pid is not known before.
    Container::open(root, &args.container_id)?.kill(sig, args.all)?;
    Ok(0)
}
