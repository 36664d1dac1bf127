//! `rcrun state`: the OCI state JSON, as runc prints it.

use crate::error::{Error, Result};
use crate::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let st = root.load(&args.container_id)?;
    let out = serde_json::to_string_pretty(&st.oci(st.status()))
        .map_err(|e| Error::State(e.to_string()))?;
    println!("{out}");
    Ok(0)
}
