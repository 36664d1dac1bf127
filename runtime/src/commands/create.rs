//! `rcrun create`: set up the container; its process waits for `start`.

use std::path::PathBuf;

use rcrun::container::{Container, CreateOptions};
use rcrun::error::Result;
use rcrun::state::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to the bundle (directory holding config.json)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the init pid to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for rootfs on ramfs)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N file descriptors after stdio to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

impl Args {
    /// Options for the `create` command, which exits right after.
    pub fn options(&self, detach: bool) -> CreateOptions {
        CreateOptions {
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            detach,
            stdio: Default::default(),
            caller_exits: true,
        }
    }
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    Container::create(root, &args.container_id, args.options(true))?;
    Ok(0)
}
