//! Container stdio.
//!
//! Footprint first: stdout and stderr fifos are handed to the container
//! process itself (opened O_RDWR, so opening never blocks and a containerd
//! restart does not SIGPIPE the container), so the shim copies nothing for
//! them. stdin goes through a pipe the shim feeds from the fifo, because a
//! fifo reader opened before the client's writer would read EOF at once;
//! readiness (not a read) is awaited first, and the kernel only reports
//! POLLHUP on a fifo once a writer has come and gone. With a terminal the
//! shim copies between the fifos and the pty master it receives on a
//! console socket.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

const COPY_BUF: usize = 16 * 1024;

/// The stdio a client asked for (fifo paths, `file://` URIs or empty).
#[derive(Clone, Debug, Default)]
pub struct StdioPaths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// What the shim keeps running for a process's stdio.
#[derive(Default)]
pub struct ProcessIo {
    /// Copies (stdin, terminal). Aborted on delete.
    tasks: Vec<JoinHandle<()>>,
    /// The terminal's output copy (pty master to the stdout fifo), which
    /// ends by itself once the process and whatever it left holding the
    /// pty are gone: delete waits for it (what the process printed last
    /// may still be in the pty when its exit is reported).
    output: Option<JoinHandle<()>>,
    /// Tells the stdin copy to drain what is buffered and close.
    stdin_close: Option<Arc<Notify>>,
    /// pty master (resize).
    pub console: Option<Arc<OwnedFd>>,
}

impl ProcessIo {
    pub fn close_stdin(&mut self) {
        if let Some(n) = self.stdin_close.take() {
            n.notify_one();
        }
    }

    /// The terminal's output copy, for the caller to wait on.
    pub fn take_output(&mut self) -> Option<JoinHandle<()>> {
        self.output.take()
    }

    pub fn abort(&mut self) {
        for t in self.tasks.drain(..).chain(self.output.take()) {
            t.abort();
        }
        self.stdin_close = None;
        self.console = None;
    }
}

impl Drop for ProcessIo {
    fn drop(&mut self) {
        self.abort();
    }
}

/// stdio prepared before the process exists.
pub struct Prepared {
    pub stdio: rcrun::container::Stdio,
    pub console_socket: Option<ConsoleSocket>,
    /// stdin fifo reader and the pipe end that feeds the process.
    stdin_copy: Option<(OwnedFd, OwnedFd)>,
    paths: StdioPaths,
}

pub fn prepare(paths: &StdioPaths) -> Result<Prepared> {
    let mut stdio = rcrun::container::Stdio::default();
    let mut stdin_copy = None;
    let mut console_socket = None;
    if paths.terminal {
        console_socket = Some(ConsoleSocket::new()?);
    } else {
        if !paths.stdin.is_empty() {
            let fifo = open_fifo_reader(&paths.stdin)?;
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            set_nonblocking(w.as_raw_fd())?;
            stdio.stdin = Some(r);
            stdin_copy = Some((fifo, w));
        }
        stdio.stdout = open_output(&paths.stdout)?;
        stdio.stderr = open_output(&paths.stderr)?;
    }
    // Empty paths: /dev/null rather than the shim's own stdio.
    if stdio.stdin.is_none() && !paths.terminal {
        stdio.stdin = Some(dev_null(false)?);
    }
    if stdio.stdout.is_none() && !paths.terminal {
        stdio.stdout = Some(dev_null(true)?);
    }
    if stdio.stderr.is_none() && !paths.terminal {
        stdio.stderr = Some(dev_null(true)?);
    }
    Ok(Prepared {
        stdio: std::mem::take(&mut stdio),
        console_socket,
        stdin_copy,
        paths: paths.clone(),
    })
}

impl Prepared {
    /// Takes the container's fds out (they go to the runtime and are closed
    /// here once the process has them).
    pub fn take_stdio(&mut self) -> rcrun::container::Stdio {
        std::mem::take(&mut self.stdio)
    }

    pub fn console_path(&self) -> Option<PathBuf> {
        self.console_socket.as_ref().map(|c| c.path.clone())
    }

    /// After the process exists: starts the copies. For a terminal, receives
    /// the pty master first.
    pub async fn start(mut self) -> Result<ProcessIo> {
        let mut io = ProcessIo::default();
        if let Some((fifo, w)) = self.stdin_copy.take() {
            let notify = Arc::new(Notify::new());
            io.stdin_close = Some(notify.clone());
            io.tasks
                .push(tokio::spawn(copy_task(fifo, w, Some(notify), "stdin")));
        }
        if let Some(sock) = self.console_socket.take() {
            let master = sock.receive_master().await?;
            set_nonblocking(master.as_raw_fd())?;
            let master = Arc::new(master);
            if !self.paths.stdin.is_empty() {
                let fifo = open_fifo_reader(&self.paths.stdin)?;
                let m = master
                    .try_clone()
                    .map_err(|e| Error::io("dup pty master", e))?;
                let notify = Arc::new(Notify::new());
                io.stdin_close = Some(notify.clone());
                io.tasks
                    .push(tokio::spawn(copy_task(fifo, m, Some(notify), "pty stdin")));
            }
            if let Some(out) = open_output(&self.paths.stdout)? {
                set_nonblocking(out.as_raw_fd())?;
                let m = master
                    .try_clone()
                    .map_err(|e| Error::io("dup pty master", e))?;
                io.output = Some(tokio::spawn(copy_task(m, out, None, "pty stdout")));
            }
            io.console = Some(master);
        }
        Ok(io)
    }
}

fn dev_null(write: bool) -> Result<OwnedFd> {
    let f = OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/null")
        .map_err(|e| Error::io("open /dev/null", e))?;
    Ok(f.into())
}

/// stdout/stderr for the container: a fifo (O_RDWR: never blocks, never
/// EPIPE while containerd restarts), a `file://` path (appended), or none.
fn open_output(path: &str) -> Result<Option<OwnedFd>> {
    if path.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = path.strip_prefix("binary://") {
        return Err(Error::Unimplemented(format!(
            "binary:// log drivers are not supported ({rest})"
        )));
    }
    let (p, file) = match path.strip_prefix("file://") {
        Some(p) => (p, true),
        None => (path.strip_prefix("fifo://").unwrap_or(path), false),
    };
    let mut o = OpenOptions::new();
    o.custom_flags(libc::O_CLOEXEC);
    if file {
        if let Some(dir) = Path::new(p).parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("mkdir {dir:?}"), e))?;
        }
        o.append(true).create(true);
    } else {
        o.read(true).write(true);
    }
    let f = o.open(p).map_err(|e| Error::io(format!("open {p}"), e))?;
    Ok(Some(f.into()))
}

fn open_fifo_reader(path: &str) -> Result<OwnedFd> {
    let p = path.strip_prefix("fifo://").unwrap_or(path);
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(p)
        .map_err(|e| Error::io(format!("open {p}"), e))?;
    Ok(f.into())
}

fn set_nonblocking(fd: RawFd) -> Result<()> {
    // SAFETY: fd is open for the duration of this call (caller owns it).
    let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let fl = OFlag::from_bits_truncate(fcntl(b.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(b.as_raw_fd(), FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Copies `src` to `dst` until EOF/EIO on `src` or EPIPE on `dst`. With
/// `stop`: when notified, copies what is already buffered and ends.
async fn copy_task(src: OwnedFd, dst: OwnedFd, stop: Option<Arc<Notify>>, what: &'static str) {
    if let Err(e) = copy(src, dst, stop).await {
        tracing::debug!("{what} copy ended: {e}");
    }
}

async fn copy(src: OwnedFd, dst: OwnedFd, stop: Option<Arc<Notify>>) -> io::Result<()> {
    let src = async_fd(src, tokio::io::Interest::READABLE)?;
    let dst = async_fd(dst, tokio::io::Interest::WRITABLE)?;
    let mut buf = vec![0u8; COPY_BUF];
    let mut stopping = false;
    loop {
        let n = if stopping {
            match read_now(src.get_ref(), &mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        } else {
            let mut guard = match &stop {
                Some(stop) => tokio::select! {
                    g = src.readable() => g?,
                    _ = stop.notified() => { stopping = true; continue; }
                },
                None => src.readable().await?,
            };
            match guard.try_io(|fd| read_now(fd.get_ref(), &mut buf)) {
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => n,
                // EIO: the pty's other side is closed (process gone).
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(()),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        };
        let mut off = 0;
        while off < n {
            let mut guard = dst.writable().await?;
            match guard.try_io(|fd| write_now(fd.get_ref(), &buf[off..n])) {
                Ok(Ok(w)) => off += w,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Registers an owned fd with the reactor.
pub fn async_fd(fd: OwnedFd, interest: tokio::io::Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd stays open and refers to the same file description
    // for as long as the AsyncFd owns it.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}

fn read_now(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    nix::unistd::read(fd.as_raw_fd(), buf).map_err(io::Error::from)
}

fn write_now(fd: &OwnedFd, buf: &[u8]) -> io::Result<usize> {
    nix::unistd::write(fd.as_fd(), buf).map_err(io::Error::from)
}

/// A listening unix socket the runtime sends the pty master to.
pub struct ConsoleSocket {
    listener: StdUnixListener,
    pub path: PathBuf,
}

static CONSOLE_SEQ: AtomicU32 = AtomicU32::new(0);

impl ConsoleSocket {
    fn new() -> Result<ConsoleSocket> {
        let n = CONSOLE_SEQ.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("rcrun-pty-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = StdUnixListener::bind(&path)
            .map_err(|e| Error::io(format!("console socket {path:?}"), e))?;
        Ok(ConsoleSocket { listener, path })
    }

    /// The runtime connected during create; the fd is waiting in the queue.
    async fn receive_master(self) -> Result<OwnedFd> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("console socket", e))?;
        let l = tokio::net::UnixListener::from_std(
            self.listener
                .try_clone()
                .map_err(|e| Error::io("console socket", e))?,
        )
        .map_err(|e| Error::io("console socket", e))?;
        let (stream, _) = tokio::time::timeout(Duration::from_secs(10), l.accept())
            .await
            .map_err(|_| Error::Other("no pty master received on the console socket".into()))?
            .map_err(|e| Error::io("accept console socket", e))?;
        let stream = stream
            .into_std()
            .map_err(|e| Error::io("console socket", e))?;
        stream
            .set_nonblocking(false)
            .map_err(|e| Error::io("console socket", e))?;
        recv_fd(stream.as_raw_fd())
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn recv_fd(sock: RawFd) -> Result<OwnedFd> {
    rcrun::tty_relay::recv_fd(sock).map_err(|e| Error::io("console socket", e))
}

/// TIOCSWINSZ on the pty master.
pub fn resize(master: &OwnedFd, width: u32, height: u32) -> Result<()> {
    let ws = libc::winsize {
        ws_row: height.min(u16::MAX as u32) as u16,
        ws_col: width.min(u16::MAX as u32) as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid fd and a properly initialised winsize.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if r < 0 {
        return Err(Error::io("resize pty", io::Error::last_os_error()));
    }
    Ok(())
}
