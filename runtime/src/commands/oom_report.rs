//! `rcrun oom-report <id>`: the container's OOM kills explained: who was
//! killed, which cgroup's limit was hit, memory at the time, counters.

use rcrun::error::{Result, SpecError};
use rcrun::oom_account;
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// text or json
    #[arg(short, long, default_value = "text")]
    pub format: String,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let st = root.load(&args.container_id)?;
    let account = oom_account::account(&st);
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&account)?),
        "text" => print!("{}", oom_account::to_text(&st.id, st.pid, &account)),
        other => {
            return Err(SpecError::field(
                "--format",
                format!("invalid format {other:?} (text or json)"),
            )
            .into())
        }
    }
    Ok(0)
}
