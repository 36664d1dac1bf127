//! `rcrun start`: let a created container's process run.

use crate::container;
use crate::error::Result;
use crate::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    container::start(root, &args.container_id)?;
    Ok(0)
}
