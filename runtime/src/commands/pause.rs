//! `rcrun pause`: freeze every process of the container.

use crate::error::{Error, Result};
use crate::state::{Root, Status};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let st = root.load(&args.container_id)?;
    match st.status() {
        Status::Running | Status::Created => st.cgroups.freeze()?,
        _ => return Err(Error::State("container not running".into())),
    }
    Ok(0)
}
