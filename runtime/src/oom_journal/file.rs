//! The journal's files under the state root: `oom-journal.jsonl` (newest
//! lines), `oom-journal.jsonl.1` (the generation before) and the lock file
//! `oom-journal.lock`. Files, not directories: `rcrun list` and `runc list`
//! (docker 20.10 shares its root with runc) only look at directories.
//!
//! Root writes here, in a root-owned directory, so every open refuses a
//! symlink (O_NOFOLLOW), a FIFO or device (O_NONBLOCK, then "regular file"),
//! a hard link to some other file (one link) and a file someone else owns.
//! Files are created 0600.
//!
//! Writers hold a POSIX record lock on the lock file (process-owned, not
//! inherited by a container init cloned meanwhile, unlike flock: see
//! lock.rs) and an in-process mutex (the shim's threads share one process,
//! and POSIX locks do not exclude threads). Each line is one `write(2)` in
//! O_APPEND mode. Before a line would take the current file past the cap,
//! the current file is renamed over the rotated one: at most two caps of
//! disk, the newest lines always kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::lock;

pub const JOURNAL: &str = "oom-journal.jsonl";
pub const ROTATED: &str = "oom-journal.jsonl.1";
const LOCK: &str = "oom-journal.lock";

/// Size cap of one generation: a kill's entry is about 1 KiB, so each
/// generation keeps a few hundred accounts.
pub const MAX_BYTES: u64 = 256 * 1024;

/// A writer that cannot get the lock in this time gives up (the journal is
/// a help, never a reason to block a delete).
const LOCK_WAIT: Duration = Duration::from_secs(2);

static IN_PROCESS: Mutex<()> = Mutex::new(());

pub struct Files {
    dir: PathBuf,
    max_bytes: u64,
}

/// The lock, held while this lives.
struct Held<'a> {
    _file: Option<File>,
    _guard: std::sync::MutexGuard<'a, ()>,
}

impl Files {
    pub fn new(dir: &Path) -> Files {
        Files {
            dir: dir.to_path_buf(),
            max_bytes: MAX_BYTES,
        }
    }

    #[cfg(test)]
    pub fn with_cap(dir: &Path, max_bytes: u64) -> Files {
        Files {
            dir: dir.to_path_buf(),
            max_bytes,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Every line of both generations, oldest first. Nothing (and nothing
    /// created) when there is no journal.
    pub fn read_lines(&self) -> Result<Vec<String>> {
        if !self.path(LOCK).exists() && !self.path(JOURNAL).exists() {
            return Ok(Vec::new());
        }
        let _held = self.lock(false)?;
        self.read_locked()
    }

    /// Under the lock: `decide` sees every line and returns the line to
    /// append, or None to append nothing (a duplicate). Returns whether a
    /// line was written.
    pub fn append_with(&self, decide: impl FnOnce(&[String]) -> Option<String>) -> Result<bool> {
        let _held = self.lock(true)?;
        let lines = self.read_locked()?;
        let Some(mut line) = decide(&lines) else {
            return Ok(false);
        };
        line.push('\n');
        let path = self.path(JOURNAL);
        let mut f = open_checked(&path, true)?;
        let len = f.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len > 0 && len + line.len() as u64 > self.max_bytes {
            std::fs::rename(&path, self.path(ROTATED)).map_err(|e| Error::io(&path, e))?;
            f = open_checked(&path, true)?;
        }
        // One write: O_APPEND keeps it whole even next to a writer that
        // does not lock.
        f.write_all(line.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        Ok(true)
    }

    fn read_locked(&self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for name in [ROTATED, JOURNAL] {
            let path = self.path(name);
            let mut f = match open_checked(&path, false) {
                Ok(f) => f,
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    continue
                }
                Err(e) => return Err(e),
            };
            let mut text = String::new();
            // Bounded whatever wrote the file: twice the cap at most.
            (&mut f)
                .take(self.max_bytes * 2)
                .read_to_string(&mut text)
                .map_err(|e| Error::io(&path, e))?;
            lines.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        }
        Ok(lines)
    }

    /// Readers wait for writers; only writers create the lock file.
    fn lock(&self, create: bool) -> Result<Held<'_>> {
        let guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.path(LOCK);
        let file = match open_file(&path, create, true) {
            Ok(f) => f,
            Err(e) if !create && e.kind() == io::ErrorKind::NotFound => {
                return Ok(Held {
                    _file: None,
                    _guard: guard,
                })
            }
            Err(e) => return Err(Error::io(&path, refused(e))),
        };
        check_file(&file, &path)?;
        let deadline = Instant::now() + LOCK_WAIT;
        while !lock::try_lock(&file).map_err(|e| Error::io(&path, e))? {
            if Instant::now() >= deadline {
                return Err(Error::io(
                    &path,
                    io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("still locked after {} s", LOCK_WAIT.as_secs()),
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Held {
            _file: Some(file),
            _guard: guard,
        })
    }
}

/// Opens a journal file for appending (`write`, created 0600) or reading,
/// refusing anything but a regular file of ours with one link.
fn open_checked(path: &Path, write: bool) -> Result<File> {
    let f = open_file(path, write, false).map_err(|e| Error::io(path, refused(e)))?;
    check_file(&f, path)?;
    Ok(f)
}

fn open_file(path: &Path, create: bool, lockable: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .mode(0o600);
    if lockable {
        // A write lock needs a writable fd.
        o.read(true).write(true).create(create);
    } else if create {
        o.append(true).create(true);
    } else {
        o.read(true);
    }
    o.open(path)
}

/// ELOOP from O_NOFOLLOW says "symlink": say it in words.
fn refused(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a symlink; not followed, the OOM journal is not written",
        )
    } else {
        e
    }
}

fn check_file(f: &File, path: &Path) -> Result<()> {
    let m = f.metadata().map_err(|e| Error::io(path, e))?;
    let euid = nix::unistd::geteuid().as_raw();
    if !m.file_type().is_file() || m.nlink() != 1 || m.uid() != euid {
        return Err(Error::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file of ours with one link; the OOM journal is not used",
            ),
        ));
    }
    Ok(())
}
