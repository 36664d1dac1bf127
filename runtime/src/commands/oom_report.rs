//! `rcrun oom-report <id>`: the container's OOM kills explained: who was
//! killed, which cgroup's limit was hit, memory at the time, counters.
//! Once the container is gone (docker removes it within half a second of
//! the exit), the account rcrun kept in its OOM journal, saying so.

use rcrun::error::{Error, Result, SpecError};
use rcrun::oom_account;
use rcrun::oom_journal::{self, Found};
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
    let st = match root.load(&args.container_id) {
        Ok(st) => st,
        Err(Error::NotExist(id)) => return gone(root, &id, &args.format),
        Err(e) => return Err(e),
    };
    let account = oom_account::account(&st);
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&account)?),
        "text" => print!("{}", oom_account::to_text(&st.id, st.pid, &account)),
        other => return Err(bad_format(other)),
    }
    Ok(0)
}

fn bad_format(format: &str) -> Error {
    SpecError::field(
        "--format",
        format!("invalid format {format:?} (text or json)"),
    )
    .into()
}

/// The journal's account of a container that no longer exists; an id it
/// never saw is the usual "does not exist".
fn gone(root: &Root, id: &str, format: &str) -> Result<i32> {
    if format != "text" && format != "json" {
        return Err(bad_format(format));
    }
    let Some(found) = oom_journal::find(&root.path, id)? else {
        return Err(Error::NotExist(id.to_string()));
    };
    if format == "json" {
        #[derive(serde::Serialize)]
        struct Json<'a> {
            #[serde(flatten)]
            account: &'a oom_account::OomAccount,
            gone: &'a oom_journal::Gone,
        }
        let Found { gone, account } = &found;
        println!("{}", serde_json::to_string_pretty(&Json { account, gone })?);
    } else {
        print!("{}", oom_journal::to_text(id, &found));
    }
    Ok(0)
}
