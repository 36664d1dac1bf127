//! The raw clone3 our launch forks the container's init with: glibc has no
//! wrapper, and CLONE_INTO_CGROUP (cgroup v2) starts the child in the
//! container's cgroup without any cgroup.procs write.

use std::os::fd::RawFd;

pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3 with fork semantics (no shared memory, SIGCHLD on exit). Raw
/// syscall as in libcontainer's own fork. The caller must be
/// single-threaded (the rcrun CLI and the shim are), as with fork.
pub fn clone3(flags: u64, cgroup_fd: Option<RawFd>) -> Result<i32, nix::Error> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let mut a = CloneArgs {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup_fd.map(|f| f as u64).unwrap_or(0),
    };
    // SAFETY: `a` is a valid clone_args of the size we pass; with no stack
    // given the child continues on a copy of ours, like fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut a as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret < 0 {
        let e = nix::Error::last();
        if e == nix::Error::ENOSYS && flags & CLONE_INTO_CGROUP == 0 {
            // Kernels before 5.3: clone(2) with a NULL stack is fork too.
            // SAFETY: as above.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    flags | libc::SIGCHLD as u64,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                )
            };
            return if r < 0 {
                Err(nix::Error::last())
            } else {
                Ok(r as i32)
            };
        }
        return Err(e);
    }
    Ok(ret as i32)
}

/// Leaves a cloned child without running the parent's atexit handlers or
/// destructors (they belong to the parent's state, copied by clone).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(code) }
}
