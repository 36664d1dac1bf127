//! The CVE-2019-5736 defence: no process rcrun starts inside a container may
//! run from the host's rcrun binary.
//!
//! The container's init and every exec'd process are clones of the runtime
//! until they execve the user's program, so while they set up (and longer if
//! the container runs `/proc/self/exe` or a `#!` script pointing at it),
//! `/proc/<pid>/exe` inside the container names the runtime's binary. A
//! container process that opens it (O_PATH) can reopen it for writing once
//! the runtime has exited and overwrite the host binary that the next
//! `rcrun` (as root) runs.
//!
//! So `create`, `run` and `exec` (and the shim's server) first re-execute
//! themselves from a copy that cannot be written:
//! 1. a detached, read-only bind mount of the binary (open_tree + mount_setattr):
//!    no copy, no mount visible in any mount table, `/proc/<pid>/exe` opens
//!    give EROFS. Needs CAP_SYS_ADMIN and Linux >= 5.12.
//! 2. otherwise a sealed memfd copy (F_SEAL_WRITE, ..): writes give EPERM.
//!
//! A binary that is already read-only (a read-only /usr, or the re-executed
//! process itself) is used as it is.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::execveat;

/// Set across the re-exec: if the new image still is not sealed, we fail
/// instead of re-executing forever. Never a way to skip the protection: it
/// only turns a missing seal into an error.
const MARKER: &str = "_RCRUN_SEALED_EXEC";

const SEALS: SealFlag = SealFlag::from_bits_truncate(
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE,
);

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot open /proc/self/exe: {0}")]
    Open(std::io::Error),
    #[error(
        "cannot make a read-only copy of the rcrun binary: bind mount: {bind}; memfd: {memfd}"
    )]
    NoCopy { bind: String, memfd: String },
    #[error("re-executing from the read-only copy of the rcrun binary: {0}")]
    Exec(nix::Error),
    #[error("the re-executed rcrun still runs from a writable binary (refusing to start a container from it)")]
    StillWritable,
}

/// Whether this process runs from a binary that cannot be written: on a
/// read-only mount, or a memfd with write seals.
pub fn is_sealed() -> Result<bool, SealError> {
    let exe = File::open("/proc/self/exe").map_err(SealError::Open)?;
    if fstatvfs(&exe).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        return Ok(true);
    }
    let seals = fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS).unwrap_or(0);
    Ok(SealFlag::from_bits_truncate(seals).contains(SEALS))
}

/// Returns when this process runs from a sealed binary; otherwise re-executes
/// itself (same argv and environment) from one and does not return.
///
/// Must be called while the process is single-threaded and before it has
/// made anything (the re-executed image starts over).
pub fn ensure_sealed() -> Result<(), SealError> {
    let marked = std::env::var_os(MARKER).is_some();
    if is_sealed()? {
        if marked {
            // SAFETY (set/remove_var): single-threaded, as the caller promises.
            std::env::remove_var(MARKER);
        }
        return Ok(());
    }
    if marked {
        return Err(SealError::StillWritable);
    }
    let fd = match readonly_bind() {
        Ok(fd) => fd,
        Err(bind) => sealed_memfd().map_err(|memfd| SealError::NoCopy {
            bind: bind.to_string(),
            memfd,
        })?,
    };
    std::env::set_var(MARKER, "1");
    let argv = cstrings(std::env::args_os());
    let envp = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }));
    let err = execveat(
        Some(fd.as_raw_fd()),
        c"",
        &argv,
        &envp,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    );
    std::env::remove_var(MARKER);
    Err(SealError::Exec(err.err().unwrap_or(nix::Error::EINVAL)))
}

/// Strings from the kernel (argv, environ) hold no NUL; one that did would
/// be dropped rather than cut.
fn cstrings(items: impl Iterator<Item = OsString>) -> Vec<CString> {
    items
        .filter_map(|s| CString::new(s.into_vec()).ok())
        .collect()
}

/// A detached clone of the mount holding our binary, rooted at the binary
/// and made read-only: never attached anywhere, it lives as long as a
/// process runs from it.
fn readonly_bind() -> Result<OwnedFd, nix::Error> {
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    // SAFETY: a NUL-terminated path and plain flags; the result is a new fd.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            flags,
        )
    };
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: open_tree returned a new fd that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` is a valid mount_attr of the size passed; empty path
    // with AT_EMPTY_PATH names the fd itself.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if ret < 0 {
        return Err(nix::Error::last());
    }
    Ok(tree)
}

/// A memfd holding a copy of our binary, sealed against any write.
fn sealed_memfd() -> Result<OwnedFd, String> {
    let name = c"rcrun";
    let flags = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
    let memfd = memfd_create(name, flags).map_err(|e| format!("memfd_create: {e}"))?;
    let mut src = File::open("/proc/self/exe").map_err(|e| format!("open: {e}"))?;
    let mut dst = File::from(memfd);
    std::io::copy(&mut src, &mut dst).map_err(|e| format!("copy: {e}"))?;
    let memfd = OwnedFd::from(dst);
    fcntl(memfd.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS)).map_err(|e| format!("seal: {e}"))?;
    Ok(memfd)
}
