//! tracing to the `log` fifo containerd opens in the bundle directory (it
//! copies each line into its own log). Opened O_RDWR|O_NONBLOCK: opening never
//! blocks, a containerd restart never SIGPIPEs us, and when nobody reads and
//! the fifo is full a line is dropped instead of stalling the shim.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

#[derive(Clone)]
struct FifoWriter(Arc<OwnedFd>);

impl Write for FifoWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match nix::unistd::write(&*self.0, buf) {
            Ok(n) => Ok(n),
            // Full fifo (nobody reading): drop the line.
            Err(nix::errno::Errno::EAGAIN) => Ok(buf.len()),
            Err(e) => Err(e.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sets up logging; without a `log` fifo (run by hand) logs go to stderr.
pub fn init(debug: bool) {
    let level = if debug { Level::DEBUG } else { Level::INFO };
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("log");
    // libcontainer reports things that are normal for us (controllers this
    // host lacks) as warnings: only its errors, unless debugging.
    let dep = if debug { Level::DEBUG } else { Level::ERROR };
    let filter = Targets::new()
        .with_default(level)
        .with_target("libcontainer", dep)
        .with_target("libcgroups", dep);
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_target(false)
        .without_time();
    let res = match fifo {
        Ok(f) => {
            let fd = Arc::new(OwnedFd::from(f));
            let layer = layer.with_writer(move || FifoWriter(fd.clone()));
            tracing_subscriber::registry()
                .with(layer.with_filter(filter))
                .try_init()
        }
        Err(_) => tracing_subscriber::registry()
            .with(layer.with_writer(io::stderr).with_filter(filter))
            .try_init(),
    };
    if let Err(e) = res {
        eprintln!("containerd-shim-rcrun-v2: logger: {e}");
    }
}
