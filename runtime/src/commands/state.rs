//! `rcrun state`: the OCI state JSON, as runc prints it, plus an `oom`
//! object once the container's cgroup has seen an OOM kill or is frozen
//! under OOM (disableOOMKiller).

use rcrun::container::Container;
use rcrun::error::Result;
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let c = Container::peek(root, &args.container_id)?;
    // Through a Value: the keys are printed in the order they always were.
    let value = serde_json::to_value(c.report())?;
    let out = serde_json::to_string_pretty(&value)?;
    println!("{out}");
    Ok(0)
}
