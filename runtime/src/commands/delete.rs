//! `rcrun delete`: remove a container's processes, cgroups and state.

use rcrun::container::Container;
use rcrun::error::Result;
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill the container first if it is running (SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    Container::delete(root, &args.container_id, args.force)?;
    Ok(0)
}
