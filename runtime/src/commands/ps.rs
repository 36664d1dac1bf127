//! `rcrun ps`: the container's pids (json) or `ps` output filtered to them.

use std::process::Command;

use rcrun::container::Container;
use rcrun::error::{Error, Result};
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
    /// Options passed to ps(1) (table format only)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let pids = Container::peek(root, &args.container_id)?.pids()?;
    match args.format.as_str() {
        "json" => {
            let out = serde_json::to_string(&pids)?;
            println!("{out}");
        }
        "table" => {
            let opts = if args.ps_options.is_empty() {
                vec!["-ef".to_string()]
            } else {
                args.ps_options.clone()
            };
            let out = Command::new("ps")
                .args(&opts)
                .output()
                .map_err(|e| Error::launch("running ps", e))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let pid_col = header
                .split_whitespace()
                .position(|c| c == "PID")
                .ok_or_else(|| Error::Internal("ps output has no PID column".into()))?;
            println!("{header}");
            for line in lines {
                let pid = line
                    .split_whitespace()
                    .nth(pid_col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{line}");
                }
            }
        }
        other => return Err(super::unknown_format(other)),
    }
    Ok(0)
}
