//! libcontainer's create run in a short-lived child of rcrun, for the case
//! where rcrun has to join every container cgroup itself before the fork
//! (lc_builder.rs: a relative cgroupsPath under a caller whose v1 cgroups
//! differ per hierarchy). libcontainer's cleanup after a failed create
//! SIGKILLs every process in those cgroups: the child, never rcrun, so rcrun
//! lives to remove the state and cgroups it made.
//!
//! The init outlives the child: `run` and the shim are subreapers and
//! inherit it; after `create` it is the caller's, as when rcrun exits.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;

use crate::error::{one_line, Error, Result};

/// Runs `build` (which returns the init's pid) in a child process.
pub fn run(build: impl FnOnce() -> Result<i32>) -> Result<i32> {
    let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
    // SAFETY: the caller is single-threaded (libcontainer forks too); the
    // child runs libcontainer's create, writes its result and _exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::os("fork", e))? {
        ForkResult::Child => {
            drop(rd);
            let mut msg = match build() {
                Ok(pid) => format!("ok {pid}"),
                Err(e) => format!("err {}", one_line(&e.to_string())),
            };
            // One write of at most PIPE_BUF bytes: atomic, and in the pipe
            // before we exit.
            let mut end = msg.len().min(libc::PIPE_BUF);
            while !msg.is_char_boundary(end) {
                end -= 1;
            }
            msg.truncate(end);
            let _ = File::from(wr).write_all(msg.as_bytes());
            crate::clone3::exit_now(0)
        }
        ForkResult::Parent { child } => {
            drop(wr);
            // The init holds a copy of the write end until it execs (after
            // `start`): no EOF to wait for. The child's exit is the end.
            let status = waitpid(child, None).map_err(|e| Error::os("waitpid", e))?;
            let out = read_available(rd)?;
            parse(&out).unwrap_or_else(|| {
                Err(Error::Internal(format!(
                    "create: libcontainer's process setup failed and its cleanup ended the helper process ({status:?}); its errors are above"
                )))
            })
        }
    }
}

/// What is in the pipe now, without waiting for more.
fn read_available(rd: std::os::fd::OwnedFd) -> Result<String> {
    nix::fcntl::fcntl(
        rd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
    )
    .map_err(|e| Error::os("fcntl(O_NONBLOCK)", e))?;
    let mut buf = vec![0u8; libc::PIPE_BUF];
    let n = match File::from(rd).read(&mut buf) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(Error::io("the create helper's result", e)),
    };
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The child's result line: `ok <pid>` or `err <message>`.
fn parse(out: &str) -> Option<Result<i32>> {
    if let Some(pid) = out.strip_prefix("ok ") {
        return pid.trim().parse().ok().map(Ok);
    }
    out.strip_prefix("err ")
        .map(|m| Err(Error::Internal(m.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines() {
        assert!(matches!(parse("ok 42"), Some(Ok(42))));
        assert!(matches!(parse("err no"), Some(Err(Error::Internal(m))) if m == "no"));
        assert!(parse("").is_none());
        assert!(parse("ok x").is_none());
    }

    #[test]
    fn a_killed_child_is_an_error_not_our_death() {
        // What libcontainer's cleanup does to the helper.
        let r = run(|| {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            Ok(1)
        });
        assert!(matches!(r, Err(Error::Internal(m)) if m.contains("SIGKILL")));
        assert!(matches!(run(|| Ok(7)), Ok(7)));
    }

    #[test]
    fn an_init_holding_the_pipe_does_not_hold_us() {
        // libcontainer's init keeps the write end until it execs.
        let t0 = std::time::Instant::now();
        let r = run(|| {
            // SAFETY: the grandchild only sleeps and _exits.
            match unsafe { nix::unistd::fork() } {
                Ok(ForkResult::Child) => {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    crate::clone3::exit_now(0)
                }
                Ok(ForkResult::Parent { child }) => Ok(child.as_raw()),
                Err(e) => Err(Error::os("fork", e)),
            }
        });
        let Ok(pid) = r else {
            panic!("no pid: {r:?}");
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        assert!(t0.elapsed() < std::time::Duration::from_secs(3));
    }
}
