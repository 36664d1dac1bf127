//! `rcrun spec`: write a starting config.json, like `runc spec`.

use std::path::PathBuf;

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Generate a rootless spec (not supported)
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(args: &Args) -> Result<i32> {
    if args.rootless {
        return Err(Error::Unsupported(
            "--rootless: rootless containers are not supported by rcrun".into(),
        ));
    }
    let path = args.bundle.join("config.json");
    if path.exists() {
        return Err(Error::Spec(format!(
            "File {} exists. Remove it first",
            path.display()
        )));
    }
    let spec = Spec::default();
    let data = serde_json::to_string_pretty(&spec).map_err(|e| Error::Spec(e.to_string()))?;
    std::fs::write(&path, data + "\n").map_err(|e| Error::io(&path, e))?;
    Ok(0)
}
