//! `rcrun spec`: write a starting config.json, like `runc spec`.

use std::path::PathBuf;

use oci_spec::runtime::Spec;

use rcrun::error::{Error, Result, SpecError};

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
        return Err(Error::unsupported(
            "--rootless",
            "rootless containers are not supported by rcrun",
        ));
    }
    let path = args.bundle.join("config.json");
    if path.exists() {
        return Err(Error::FileExists(path));
    }
    let spec = Spec::default();
    let data = serde_json::to_string_pretty(&spec)?;
    // Name the flag and its value (Debug: bytes that are not UTF-8 stay
    // visible), not only the file it led to.
    std::fs::write(&path, data + "\n").map_err(|e| {
        Error::from(SpecError::field(
            format!("--bundle {:?}", args.bundle),
            format!("cannot write config.json there: {e}"),
        ))
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_bundle_names_the_flag_and_value() {
        for b in ["/proc/nonexistent/dir", "/proc/self/status"] {
            let args = Args {
                bundle: PathBuf::from(b),
                rootless: false,
            };
            let e = run(&args).expect_err(b).to_string();
            assert!(e.starts_with(&format!("--bundle {b:?}: ")), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
