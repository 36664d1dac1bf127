//! `rcrun delete`: remove a container's processes, cgroups and state.

use crate::container;
use crate::error::Result;
use crate::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill the container first if it is running (SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    container::delete(root, &args.container_id, args.force)?;
    Ok(0)
}
