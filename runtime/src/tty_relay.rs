//! Foreground `run` and `exec -t` with a terminal and no --console-socket:
//! as runc, rcrun is the console socket's receiver itself. The container
//! process gets a pty of its own (stdin, stdout and stderr all its slave,
//! `tty` names it), and rcrun copies between that pty's master and its own
//! stdio until the process is gone: its input to the pty, the pty's output
//! to its stdout. When rcrun's stdio is a terminal, that terminal is put in
//! raw mode for the duration (restored after) and its size is the pty's,
//! on SIGWINCH too.
//!
//! runc refuses to run without a terminal of its own ("open /dev/tty: no
//! such device or address"); rcrun copies to whatever its stdio is.

use std::fs;
use std::io::{ErrorKind, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::SigSet;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

use crate::error::{Error, Result};

/// How long the end waits for the pty's output once the process is gone (a
/// daemon it left behind may keep the pty open).
const DRAIN: Duration = Duration::from_secs(2);

/// The console socket rcrun listens on, in a directory of its own (0700).
pub struct ConsoleListener {
    dir: PathBuf,
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleListener {
    pub fn new() -> Result<ConsoleListener> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("rcrun-tty-{}-{nanos}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        let path = dir.join("console.sock");
        let listener = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                return Err(Error::io(&path, e));
            }
        };
        Ok(ConsoleListener {
            dir,
            path,
            listener,
        })
    }

    /// What libcontainer connects to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Once the process exists: the pty master it sent (its connection is
    /// queued by then), and the copies started.
    pub fn start_relay(&self) -> Result<Relay> {
        let what = || format!("console socket {}", self.path.display());
        self.listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(what(), e))?;
        let (stream, _) = self.listener.accept().map_err(|e| match e.kind() {
            ErrorKind::WouldBlock => Error::Internal(format!("{}: no pty master was sent", what())),
            _ => Error::io(what(), e),
        })?;
        let master = recv_fd(stream.as_raw_fd()).map_err(|e| Error::io(what(), e))?;
        Ok(Relay::start(master))
    }
}

impl Drop for ConsoleListener {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_dir(&self.dir);
    }
}

/// The first fd received on a unix socket (SCM_RIGHTS, close-on-exec).
pub fn recv_fd(sock: RawFd) -> std::io::Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(got) = c {
            // SAFETY: received fds are new and ours.
            fds.extend(
                got.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let mut it = fds.into_iter();
    it.next()
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, "no fd in the message"))
}

/// The copies between rcrun's stdio and the container's pty.
pub struct Relay {
    master: OwnedFd,
    /// rcrun's own terminal and its settings before raw mode.
    host: Option<(RawFd, Termios)>,
    output_done: mpsc::Receiver<()>,
}

impl Relay {
    fn start(master: OwnedFd) -> Relay {
        let host = [0, 1, 2].into_iter().find_map(|fd| {
            // SAFETY: fds 0-2 stay open while rcrun runs.
            let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let saved = termios::tcgetattr(b).ok()?;
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(b, SetArg::TCSANOW, &raw).ok()?;
            Some((fd, saved))
        });
        let relay_master = |m: &OwnedFd| m.try_clone().ok();
        if let Some(m) = relay_master(&master) {
            std::thread::spawn(move || copy(0, m.as_raw_fd()));
        }
        let (tx, output_done) = mpsc::channel();
        if let Some(m) = relay_master(&master) {
            std::thread::spawn(move || {
                copy(m.as_raw_fd(), 1);
                let _ = tx.send(());
            });
        }
        let r = Relay {
            master,
            host,
            output_done,
        };
        r.resize();
        r
    }

    /// The pty takes the size of rcrun's terminal (at start, on SIGWINCH).
    pub fn resize(&self) {
        let Some((fd, _)) = self.host else { return };
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: valid fds and a winsize to fill / read.
        unsafe {
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0 {
                libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
    }

    /// After the process ended: its last output is copied (bounded).
    pub fn finish(self) {
        let _ = self.output_done.recv_timeout(DRAIN);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some((fd, saved)) = &self.host {
            // SAFETY: as in start.
            let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
            let _ = termios::tcsetattr(b, SetArg::TCSANOW, saved);
        }
    }
}

/// Copies `src` to `dst` until EOF, EIO (the pty's slave is closed by all)
/// or a write error. Signals stay with the main thread (it relays them).
fn copy(src: RawFd, dst: RawFd) {
    let _ = SigSet::all().thread_block();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match nix::unistd::read(src, &mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        // SAFETY: dst stays open for the life of the copy (rcrun's stdio
        // or the master clone the thread owns).
        let out = unsafe { std::os::fd::BorrowedFd::borrow_raw(dst) };
        let mut off = 0;
        while off < n {
            match nix::unistd::write(out.as_fd(), &buf[off..n]) {
                Ok(w) => off += w,
                Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }
}
