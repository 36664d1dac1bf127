//! `exec` into a container whose seccomp filter hands syscalls to an agent
//! (SCMP_ACT_NOTIFY): the exec'd process's listener fd reaches the agent at
//! `linux.seccomp.listenerPath`, as runc does.
//!
//! The process loads its filter in the container (seccomp_late) and gets
//! the listener fd there, where the agent's socket (a host path) cannot be
//! reached. It sends the fd back over a socketpair made before the fork and
//! waits for the word that the agent has it before running the program
//! (runc's procSeccomp / procSeccompDone). libcontainer's exec returns only
//! once the program runs, so the other end is served by a short-lived child
//! of rcrun (the forwarder), forked while rcrun is still single-threaded:
//! it takes the fd, sends the agent the container process state with it,
//! and says the word. If anything fails the word never comes: the process
//! fails before its program runs, the exec fails, and rcrun reports the
//! forwarder's reason. The program never runs unserved.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::sockopt::PassCred;
use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType, UnixAddr, UnixCredentials,
};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::LinuxSeccomp;

use crate::error::{Error, Result, SpecError};
use crate::state::{ContainerState, OCI_VERSION};

/// How long the exec'd process may take from its start to sending the fd
/// (its last steps: stdio, the filter).
const FD_TIMEOUT: Duration = Duration::from_secs(30);

/// The two ends: the forwarder keeps `parent`; the exec'd process sends on
/// `child`.
pub struct Channel {
    parent: OwnedFd,
    child: OwnedFd,
}

impl Channel {
    /// Close-on-exec on both ends: the program the process runs never
    /// holds either. The forwarder's end passes credentials, so the
    /// process's pid arrives as seen from here (it only knows its pid in
    /// the container's pid namespace).
    pub fn open() -> Result<Channel> {
        let (parent, child) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::os("exec: seccomp listener channel", e))?;
        setsockopt(&parent, PassCred, &true)
            .map_err(|e| Error::os("exec: seccomp listener channel: SO_PASSCRED", e))?;
        Ok(Channel { parent, child })
    }

    /// The end the exec'd process sends on, as a number (its copy of
    /// rcrun's fd table has it under the same number).
    pub fn child_fd(&self) -> RawFd {
        self.child.as_raw_fd()
    }

    /// Forks the forwarder, which serves the exec'd process until it has
    /// handed the fd to the agent (or failed to). Call before the exec, with
    /// rcrun single-threaded.
    pub fn start_forwarder(self, seccomp: &LinuxSeccomp, st: &ContainerState) -> Result<Forwarder> {
        let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| Error::os("exec: seccomp forwarder pipe", e))?;
        // SAFETY: rcrun and the shim are single-threaded here (the systemd
        // driver keeps its threads in a child of its own); the forwarder
        // only talks to the process and the agent, writes its result and
        // _exits.
        match unsafe { nix::unistd::fork() } {
            Ok(ForkResult::Child) => {
                drop(rd);
                drop(self.child);
                let res = forward(&self.parent, seccomp, st);
                let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
                let _ = std::fs::File::from(wr).write_all(msg.as_bytes());
                if !msg.is_empty() {
                    // The process stops at once instead of at its timeout;
                    // said after the reason is written, which rcrun reads
                    // once the exec has failed.
                    let _ = nix::unistd::write(&self.parent, b"F");
                }
                // SAFETY: ends the child without running the parent's
                // destructors or atexit handlers.
                unsafe { libc::_exit(0) }
            }
            Ok(ForkResult::Parent { child }) => Ok(Forwarder {
                pid: child,
                result: rd,
                child_end: self.child,
            }),
            Err(e) => Err(Error::os("exec: forking the seccomp forwarder", e)),
        }
    }
}

/// The forwarder, from rcrun's side.
pub struct Forwarder {
    pid: Pid,
    result: OwnedFd,
    /// rcrun's copy, kept until the exec is over: closed, the forwarder
    /// would read EOF before the process even exists.
    child_end: OwnedFd,
}

impl Forwarder {
    /// After the exec: its reason if it failed. `exec_ok` false (the
    /// process is gone, or never started) ends a forwarder still waiting.
    pub fn finish(self, exec_ok: bool) -> Result<()> {
        drop(self.child_end);
        if !exec_ok {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        }
        let mut msg = String::new();
        let read = std::fs::File::from(self.result).read_to_string(&mut msg);
        let _ = waitpid(self.pid, None);
        match read {
            Ok(_) if msg.is_empty() => Ok(()),
            Ok(_) => Err(Error::Internal(msg)),
            Err(e) => Err(Error::io("exec: the seccomp forwarder's result", e)),
        }
    }
}

/// In the forwarder: the fd and the process's pid, then the agent, then the
/// word. The error is what the user reads (one line, naming the field).
fn forward(parent: &OwnedFd, seccomp: &LinuxSeccomp, st: &ContainerState) -> Result<()> {
    let (fd, pid) = receive_fd(parent)?;
    let path = seccomp.listener_path().clone().unwrap_or_default();
    let state = process_state(seccomp, st, pid);
    send_to_agent(&path, &state, &fd).map_err(|e| {
        SpecError::new(
            "linux.seccomp.listenerPath",
            format!("{path:?}"),
            format!(": failed to connect with seccomp agent: {e}"),
        )
    })?;
    nix::unistd::write(parent, b"A")
        .map(drop)
        .map_err(|e| Error::os("exec: telling the process its listener fd is served", e))
}

/// In the exec'd process, right after its filter is loaded: sends the
/// listener fd to the forwarder (closing it here: only the agent must hold
/// it) and waits for its word that the agent has it.
pub fn hand_over(channel: RawFd, listener: OwnedFd) -> std::io::Result<()> {
    send_fd(channel, listener)?;
    // SAFETY: the channel's end, open in this process until its exec; only
    // borrowed here.
    let chan = unsafe { BorrowedFd::borrow_raw(channel) };
    let mut pfd = [PollFd::new(chan, PollFlags::POLLIN)];
    let timeout =
        PollTimeout::try_from(FD_TIMEOUT + Duration::from_secs(10)).unwrap_or(PollTimeout::MAX);
    if poll(&mut pfd, timeout)? == 0 {
        return Err(std::io::Error::other("no word from rcrun's forwarder"));
    }
    let mut word = [0u8; 1];
    match nix::unistd::read(channel, &mut word)? {
        1 if word[0] == b'A' => Ok(()),
        1 => Err(std::io::Error::other(
            "rcrun could not hand it to the agent",
        )),
        _ => Err(std::io::Error::other(
            "rcrun's forwarder ended without handing it to the agent",
        )),
    }
}

fn send_fd(channel: RawFd, listener: OwnedFd) -> std::io::Result<()> {
    send_with_fd(channel, b"L", listener.as_raw_fd())
}

/// One message on `sock`: `data` with `fd` attached (SCM_RIGHTS).
fn send_with_fd(sock: RawFd, data: &[u8], fd: RawFd) -> std::io::Result<()> {
    let iov = [IoSlice::new(data)];
    let fds = [fd];
    sendmsg::<UnixAddr>(
        sock,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

fn receive_fd(parent: &OwnedFd) -> Result<(OwnedFd, i32)> {
    let what = "exec: the process's seccomp listener fd";
    let timeout = PollTimeout::try_from(FD_TIMEOUT).unwrap_or(PollTimeout::MAX);
    let mut pfd = [PollFd::new(parent.as_fd(), PollFlags::POLLIN)];
    match poll(&mut pfd, timeout) {
        Ok(0) => return Err(Error::Internal(format!("{what}: not sent within 30 s"))),
        Ok(_) => {}
        Err(e) => return Err(Error::os(what, e)),
    }
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1], UnixCredentials);
    let msg = recvmsg::<UnixAddr>(
        parent.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::os(what, e))?;
    let (mut fd, mut pid) = (None, None);
    for c in msg.cmsgs().map_err(|e| Error::os(what, e))? {
        match c {
            ControlMessageOwned::ScmRights(fds) => {
                for raw in fds {
                    // SAFETY: the kernel just installed `raw` in our table;
                    // it is ours alone.
                    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                    fd.get_or_insert(owned);
                }
            }
            ControlMessageOwned::ScmCredentials(c) => pid = Some(c.pid()),
            _ => {}
        }
    }
    match (fd, pid) {
        (Some(fd), Some(pid)) => Ok((fd, pid)),
        (Some(_), None) => Err(Error::Internal(format!(
            "{what}: came without the sender's pid"
        ))),
        _ => Err(Error::Internal(format!(
            "{what}: the process ended before sending it (its error is above)"
        ))),
    }
}

/// runtime-spec's containerProcessState: what runc sends the agent.
fn process_state(seccomp: &LinuxSeccomp, st: &ContainerState, pid: i32) -> serde_json::Value {
    let mut state = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": st.id,
        "status": "running",
        "pid": st.pid,
        "bundle": st.bundle,
    });
    if !st.annotations.is_empty() {
        state["annotations"] = serde_json::json!(st.annotations);
    }
    serde_json::json!({
        "ociVersion": OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": seccomp.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    })
}

/// One connection, one message with the fd, closed at once (as the spec
/// and runc do).
fn send_to_agent(
    path: &std::path::Path,
    state: &serde_json::Value,
    fd: &OwnedFd,
) -> std::io::Result<()> {
    let sock = UnixStream::connect(path)?;
    let data = serde_json::to_vec(state)?;
    send_with_fd(sock.as_raw_fd(), &data, fd.as_raw_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_and_pid_go_from_child_end_to_parent_end() -> Result<()> {
        let ch = Channel::open()?;
        let (r, _w) = nix::unistd::pipe().map_err(|e| Error::os("pipe", e))?;
        let ino = nix::sys::stat::fstat(r.as_raw_fd()).map(|s| s.st_ino);
        send_fd(ch.child_fd(), r).map_err(|e| Error::io("send", e))?;
        let (got, pid) = receive_fd(&ch.parent)?;
        assert_eq!(
            nix::sys::stat::fstat(got.as_raw_fd()).map(|s| s.st_ino),
            ino
        );
        assert_eq!(pid, std::process::id() as i32);
        Ok(())
    }

    #[test]
    fn no_fd_is_an_error_not_a_hang() -> Result<()> {
        let Channel { parent, child } = Channel::open()?;
        drop(child);
        let err = receive_fd(&parent).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("ended before sending")));
        Ok(())
    }
}
