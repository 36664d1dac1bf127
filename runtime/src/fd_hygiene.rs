//! The fds a cloned init must not keep. Until exec it runs in the
//! container's namespaces with a copy of our fd table: the caller's fds,
//! the state lock, files we had open. Listed before launch opens its own
//! (which the init needs), closed in the child.

use std::fs;
use std::os::fd::RawFd;

/// The fds open in this process.
pub fn open_fds() -> Vec<RawFd> {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let listed: Vec<RawFd> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    // The listing's own fd is among them and closed now; its number may
    // be reused by the channels, which the init needs.
    listed
        .into_iter()
        .filter(|&fd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok())
        .collect()
}

/// In the cloned child: closes every fd of `inherited` from 3 +
/// `preserve_fds` on, except those in `keep` (the container's stdio, the
/// log).
pub fn close_inherited(inherited: &[RawFd], preserve_fds: i32, keep: &[RawFd]) {
    let first = 3 + preserve_fds.max(0);
    for &fd in inherited {
        if fd >= first && !keep.contains(&fd) {
            // Only the single-threaded child, which runs no destructor
            // before exec or _exit, loses the fd: no OwnedFd is left
            // pointing at it.
            let _ = nix::unistd::close(fd);
        }
    }
}
