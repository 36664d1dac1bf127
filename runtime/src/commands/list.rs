//! `rcrun list`: table or JSON, like runc.

use rcrun::error::Result;
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    let mut states = Vec::new();
    for id in root.list()? {
        // A directory without readable state (mid-create) is skipped, as runc does.
        if let Ok(st) = root.load(&id) {
            states.push(st);
        }
    }
    if args.quiet {
        for st in &states {
            println!("{}", st.id);
        }
        return Ok(0);
    }
    match args.format.as_str() {
        "json" => {
            let list: Vec<_> = states.iter().map(|s| s.oci(s.status())).collect();
            let out = serde_json::to_string(&list)?;
            println!("{out}");
        }
        "table" => {
            println!(
                "{:<12} {:<10} {:<10} {:<40} {:<32} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for st in &states {
                let o = st.oci(st.status());
                println!(
                    "{:<12} {:<10} {:<10} {:<40} {:<32} {}",
                    o.id,
                    o.pid,
                    o.status.to_string(),
                    o.bundle.display(),
                    o.created,
                    if o.owner.is_empty() { "root" } else { o.owner }
                );
            }
        }
        other => return Err(super::unknown_format(other)),
    }
    Ok(0)
}
