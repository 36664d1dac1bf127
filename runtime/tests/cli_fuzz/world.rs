//! cli_fuzz's model of the CLI (from clap) and its world: the sandbox,
//! the bundles, and the live container runs are aimed at.

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use clap::CommandFactory;

use super::common::sandbox::{os, skip, Sandbox};
use super::common::Rng;
use crate::cli::Cli;
use rcrun::state::{Root, Status};

pub struct Flag {
    pub id: String,
    pub long: Option<String>,
    pub short: Option<char>,
    pub takes_value: bool,
    pub positional: bool,
    pub possible: Vec<String>,
}

pub struct Sub {
    pub name: String,
    pub flags: Vec<Flag>,
}

/// The global flags and the subcommands, from clap's model of the CLI.
pub fn model() -> (Vec<Flag>, Vec<Sub>) {
    let conv = |a: &clap::Arg| Flag {
        id: a.get_id().as_str().to_string(),
        long: a.get_long().map(str::to_string),
        short: a.get_short(),
        takes_value: a.get_action().takes_values(),
        positional: a.is_positional(),
        possible: a
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_string())
            .collect(),
    };
    let skip = |a: &&clap::Arg| !matches!(a.get_id().as_str(), "help" | "version");
    let cmd = Cli::command();
    let globals = cmd.get_arguments().filter(skip).map(conv).collect();
    let subs = cmd
        .get_subcommands()
        .map(|s| Sub {
            name: s.get_name().to_string(),
            flags: s.get_arguments().filter(skip).map(conv).collect(),
        })
        .collect();
    (globals, subs)
}

pub struct World {
    pub sb: Sandbox,
    /// The runs' working directory (relative paths land here).
    pub w: PathBuf,
    pub live: PathBuf,
    pub quick: PathBuf,
    pub term: PathBuf,
    pub bad: PathBuf,
    /// The previous run named the live container: what it did (a kill, an
    /// update to a tiny memory limit) may take it down a moment later.
    pub prev_named_live: bool,
}

impl World {
    pub fn new() -> Option<World> {
        let mut sb = Sandbox::new("cli")?;
        if !sb.busybox {
            // run and exec need real programs in the rootfs
            skip(
                "cli_fuzz",
                "no static busybox (apt-get install busybox-static)",
            );
            return None;
        }
        let d = sb.dir.clone();
        let w = d.join("w");
        for x in [w.join("sub"), w.join("e")] {
            let _ = std::fs::create_dir_all(x);
        }
        let _ = std::fs::write(d.join("file"), "x");
        let mk = |sb: &Sandbox, name: &str, args: &[&str], term: bool| {
            let mut c = sb.config(name);
            c["process"]["args"] = serde_json::json!(args);
            c["process"]["terminal"] = serde_json::json!(term);
            sb.bundle(name, &serde_json::to_vec(&c).unwrap_or_default())
        };
        let live = mk(&sb, "live", &["sleep", "600"], false);
        let quick = mk(&sb, "quick", &["true"], false);
        let term = mk(&sb, "term", &["true"], true);
        let bad = sb.bundle("bad", b"{\"ociVersion\": ");
        let _ = symlink(&quick, w.join("quick"));
        let _ = symlink(&sb.console_socket, w.join("console.sock"));
        let _ = symlink(&sb.console_socket, w.join("sub/console.sock"));
        let mut q = d.as_os_str().to_os_string();
        q.push(os(b"/q\xff"));
        let _ = symlink(&quick, PathBuf::from(q));
        let mut r = w.as_os_str().to_os_string();
        r.push(os(b"/r\xff"));
        sb.extra_roots = vec![
            w.join("root2"),
            w.join("sub/root2"),
            w.join("nx/deep/root"),
            w.join("e"),
            PathBuf::from(r),
        ];
        Some(World {
            sb,
            w,
            live,
            quick,
            term,
            bad,
            prev_named_live: false,
        })
    }

    pub fn live_status(&self) -> Option<Status> {
        Root::new(Some(&self.sb.root))
            .load("live")
            .ok()
            .map(|s| s.status())
    }

    /// Puts the live container in the state the subcommand is most useful
    /// against: running for exec and the like, often created for start.
    pub fn prepare(&mut self, rng: &mut Rng, sub: &str) {
        let root = self.sb.root.clone();
        let status = self.live_status();
        match sub {
            "exec" | "ps" | "events" | "pause" | "update" | "kill" | "oom-report"
                if status == Some(Status::Created) && rng.chance(80) =>
            {
                let _ = self.sb.rcrun(&root, &["start", "live"]);
            }
            "start" if status == Some(Status::Running) && rng.chance(60) => {
                let _ = self.sb.rcrun(&root, &["delete", "--force", "live"]);
                self.ensure_live();
            }
            _ => {}
        }
    }

    /// The live container is running.
    pub fn start_live(&mut self) {
        self.ensure_live();
        if self.live_status() == Some(Status::Created) {
            let root = self.sb.root.clone();
            let _ = self.sb.rcrun(&root, &["start", "live"]);
        }
    }

    /// The live container exists and is created or running.
    pub fn ensure_live(&mut self) {
        let root = self.sb.root.clone();
        match self.live_status() {
            Some(Status::Created | Status::Running) => return,
            Some(Status::Paused) => {
                let _ = self.sb.rcrun(&root, &["resume", "live"]);
                if matches!(self.live_status(), Some(Status::Created | Status::Running)) {
                    return;
                }
            }
            _ => {}
        }
        let _ = self.sb.rcrun(&root, &["delete", "--force", "live"]);
        let live = self.live.to_string_lossy().into_owned();
        let out = self.sb.rcrun(&root, &["create", "--bundle", &live, "live"]);
        assert_eq!(
            out.code,
            Some(0),
            "cli_fuzz: cannot create the live container: {}",
            out.stderr
        );
    }
}
