//! `rcrun resume`: thaw a paused container.

use crate::error::{Error, Result};
use crate::state::{Root, Status};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let st = root.load(&args.container_id)?;
    if st.status() != Status::Paused {
        return Err(Error::State("container not paused".into()));
    }
    st.cgroups.thaw()?;
    Ok(0)
}
