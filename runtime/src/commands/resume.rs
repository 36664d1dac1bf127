//! `rcrun resume`: thaw a paused container.

use rcrun::container::Container;
use rcrun::error::Result;
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    Container::open(root, &args.container_id)?.resume()?;
    Ok(0)
}
