//! `rcrun create`: set up the container; its process waits for `start`.

use std::path::PathBuf;

use rcrun::container::{Container, CreateOptions};
use rcrun::error::Result;
use rcrun::state::Root;

/// Where the bundle is and where the init's pid and pty go; shared with `run`.
#[derive(clap::Args, Debug)]
pub struct BundleFlags {
    /// Path to the bundle (directory holding config.json)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the init pid to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
}

/// How the init is set up; shared with `run`. A separate struct from
/// [`BundleFlags`] because `run` lists `--no-subreaper` between the two,
/// and clap orders help by declaration.
#[derive(clap::Args, Debug)]
pub struct SetupFlags {
    /// Do not use pivot_root (for rootfs on ramfs)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N file descriptors after stdio to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
}

/// The options both `create` and `run` hand to [`Container::create`];
/// `systemd_cgroup` is the global `--systemd-cgroup`.
pub fn options(
    b: &BundleFlags,
    s: &SetupFlags,
    detach: bool,
    caller_exits: bool,
    systemd_cgroup: bool,
) -> CreateOptions {
    CreateOptions {
        bundle: b.bundle.clone(),
        pid_file: b.pid_file.clone(),
        console_socket: b.console_socket.clone(),
        no_pivot: s.no_pivot,
        no_new_keyring: s.no_new_keyring,
        preserve_fds: s.preserve_fds,
        detach,
        stdio: Default::default(),
        caller_exits,
        systemd_cgroup,
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub bundle: BundleFlags,
    #[command(flatten)]
    pub setup: SetupFlags,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

pub fn run(root: &Root, args: &Args, systemd_cgroup: bool) -> Result<i32> {
    // create exits right after; the init waits for `start`.
    let opts = options(&args.bundle, &args.setup, true, true, systemd_cgroup);
    Container::create(root, &args.container_id, opts)?;
    Ok(0)
}
