//! Per-container lock: serialises the operations that change a container
//! (`create`, `start`, `kill`, `delete`, `pause`, `resume`, `update`,
//! `exec`: see container::Container::open), so that e.g. a `delete --force`
//! racing a `create` waits for it instead of removing a half-made container
//! under its feet. Queries (`state`, `ps`, `events`) take no lock.
//!
//! The lock is a POSIX record lock (`fcntl(F_SETLK)`) on `<root>/<id>/lock`.
//! Not `flock(2)` nor OFD locks: those belong to the open file description,
//! which the container's init inherits when libcontainer clones it while
//! `create` holds the lock, so the init would keep the container locked until
//! it execs (deadlocking `start`). A POSIX lock belongs to the process, is
//! not inherited across fork/clone, and the kernel drops it when the holder
//! dies: a `kill -9`'d rcrun never leaves a container locked.
//!
//! Caveats of POSIX locks, which this module respects: closing ANY fd of the
//! file releases the lock (we open it once per operation), and threads of
//! one process do not exclude each other (the CLI is single-threaded; the
//! shim serialises operations per container itself).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};

use crate::error::{Error, Result, StateError};

pub const LOCK_FILE: &str = "lock";
/// Where `create` makes the lock file before renaming it to [`LOCK_FILE`].
const LOCK_TMP: &str = "lock.new";

/// How long an operation waits for another one on the same container
/// (`create` with slow hooks is the longest legitimate holder).
const WAIT: Duration = Duration::from_secs(60);

/// How long a directory without lock file is given to get one (see
/// [`Locked::NoLockFile`]).
const NO_LOCK_FILE_GRACE: Duration = Duration::from_millis(200);

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct ContainerLock {
    file: File,
}

impl ContainerLock {
    /// Whether `<dir>/lock` is still the file we hold the lock of: false
    /// once the directory was removed (and maybe made again by another
    /// `create`) under us, so that nothing of it is ours to remove.
    pub fn is_current(&self, dir: &Path) -> bool {
        same_file(&self.file, &dir.join(LOCK_FILE))
    }
}

/// Creates the lock file of a freshly made (empty) container directory,
/// already locked: it is made and locked under a temporary name, then
/// renamed into place, so no other process ever sees it unlocked (one that
/// did could take a live `create` for a dead one).
pub fn create_and_lock(dir: &Path, id: &str) -> Result<ContainerLock> {
    let tmp = dir.join(LOCK_TMP);
    let path = dir.join(LOCK_FILE);
    let gone = || Error::State(StateError::RemovedWhileCreating { id: id.to_string() });
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => gone(),
            _ => Error::io(&tmp, e),
        })?;
    match try_lock(&file) {
        Ok(true) => {}
        // Nobody else opens the temporary name.
        Ok(false) => {
            return Err(Error::State(StateError::Locked {
                id: id.to_string(),
                path: tmp.clone(),
            }))
        }
        Err(e) => return Err(Error::io(&tmp, e)),
    }
    std::fs::rename(&tmp, &path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => gone(),
        _ => Error::io(&path, e),
    })?;
    Ok(ContainerLock { file })
}

/// Outcome of [`lock_existing`].
#[derive(Debug)]
pub enum Locked {
    /// The lock is held and `<dir>/lock` is still the file we locked.
    Held(ContainerLock),
    /// The directory exists but has no lock file: a `create` was killed
    /// between its mkdir and creating the file (or is in that window now).
    NoLockFile,
    /// The directory does not exist (or was removed while we waited).
    Gone,
}

/// Waits (bounded) for the lock of an existing container directory.
pub fn lock_existing(dir: &Path, id: &str) -> Result<Locked> {
    lock_existing_within(dir, id, WAIT)
}

/// Like [`lock_existing`], without waiting: `Ok(None)` when another process
/// holds the lock.
pub fn try_lock_existing(dir: &Path, id: &str) -> Result<Option<Locked>> {
    match lock_existing_within(dir, id, Duration::ZERO) {
        Ok(l) => Ok(Some(l)),
        Err(Error::State(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn lock_existing_within(dir: &Path, id: &str, wait: Duration) -> Result<Locked> {
    let path = dir.join(LOCK_FILE);
    let deadline = Instant::now() + wait;
    let no_file_deadline = Instant::now() + wait.min(NO_LOCK_FILE_GRACE);
    let mut sleep = Duration::from_millis(1);
    loop {
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !dir.is_dir() {
                    return Ok(Locked::Gone);
                }
                // A live `create` puts the lock file in place microseconds
                // after its mkdir; a killed one never does. Wait a little
                // for the first before concluding the second.
                if Instant::now() < no_file_deadline {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                return Ok(Locked::NoLockFile);
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        loop {
            match try_lock(&file) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
            let now = Instant::now();
            if now >= deadline {
                let holder = holder_pid(&file)
                    .map(|p| format!(" (held by pid {p})"))
                    .unwrap_or_default();
                return Err(Error::State(StateError::Busy {
                    id: id.to_string(),
                    holder,
                    secs: wait.as_secs(),
                }));
            }
            std::thread::sleep(sleep.min(deadline - now));
            sleep = (sleep * 2).min(Duration::from_millis(20));
        }
        // The holder may have deleted the container (and a new `create` may
        // have made the id again) while we waited: the lock only counts if
        // the path still names the file we locked.
        if same_file(&file, &path) {
            return Ok(Locked::Held(ContainerLock { file }));
        }
        if !path.exists() && !dir.is_dir() {
            return Ok(Locked::Gone);
        }
    }
}

/// Non-blocking exclusive lock of the whole file; Ok(false) when another
/// process holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    let fl = whole_file(libc::F_WRLCK);
    match fcntl(file.as_raw_fd(), FcntlArg::F_SETLK(&fl)) {
        Ok(_) => Ok(true),
        Err(Errno::EAGAIN) | Err(Errno::EACCES) => Ok(false),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(io::Error::from(e)),
    }
}

fn holder_pid(file: &File) -> Option<i32> {
    let mut fl = whole_file(libc::F_WRLCK);
    fcntl(file.as_raw_fd(), FcntlArg::F_GETLK(&mut fl)).ok()?;
    (fl.l_type != libc::F_UNLCK as libc::c_short && fl.l_pid > 0).then_some(fl.l_pid)
}

fn whole_file(kind: libc::c_int) -> libc::flock {
    // SAFETY: libc::flock is plain old data, all-zero is a valid value:
    // offset 0, l_len 0 = the whole file however it grows.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rcrun-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::create_dir_all(&d);
        d
    }

    #[test]
    fn create_lock_relock_and_removal() {
        let d = tmpdir("a");
        let held = create_and_lock(&d, "a");
        assert!(held.is_ok());
        // Same process: POSIX locks do not conflict with ourselves.
        assert!(matches!(lock_existing(&d, "a"), Ok(Locked::Held(_))));
        drop(held);
        let _ = std::fs::remove_dir_all(&d);
        assert!(matches!(lock_existing(&d, "a"), Ok(Locked::Gone)));
    }

    #[test]
    fn missing_lock_file_is_reported() {
        let d = tmpdir("b");
        assert!(matches!(lock_existing(&d, "b"), Ok(Locked::NoLockFile)));
        let _ = std::fs::remove_dir_all(&d);
    }
}
