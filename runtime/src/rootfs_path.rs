//! Paths inside a container's rootfs, looked up the way the kernel will see
//! them after pivot_root, and never outside it.
//!
//! The rootfs is the image's, and the image is hostile: any component may be
//! a symlink to "/", to a host directory, or a chain of them. Every lookup
//! here goes through openat2 with RESOLVE_IN_ROOT (symlinks and ".." stop at
//! the rootfs) and RESOLVE_NO_MAGICLINKS, and every directory is made with
//! mkdirat on a directory fd opened that way, so a rootfs symlink can never
//! make rcrun (root, on the host) create, open or stat a host path.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};

/// An open rootfs directory: the root every lookup is confined to.
pub struct Root {
    fd: OwnedFd,
}

/// What a path names in the rootfs.
pub struct Found {
    pub fd: OwnedFd,
    pub kind: SFlag,
    pub mode: u32,
}

impl Root {
    pub fn open(rootfs: &Path) -> std::io::Result<Root> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC).bits())
            .open(rootfs)?;
        Ok(Root { fd: f.into() })
    }

    /// Opens `path` (a container path) as O_PATH, inside the root.
    pub fn open_path(&self, path: &Path) -> Result<Found, Errno> {
        let rel = relative(path);
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let raw = openat2(self.fd.as_raw_fd(), rel.as_path(), how)?;
        // SAFETY: openat2 returned a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let st = fstat(fd.as_raw_fd())?;
        Ok(Found {
            fd,
            kind: SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()),
            mode: st.st_mode & 0o7777,
        })
    }

    /// The container path `path` resolves to (symlinks followed inside the
    /// root), for its longest existing prefix, and the components after it
    /// that do not exist. Errors other than "not there" (ELOOP, EACCES, a
    /// file in the middle) are returned.
    pub fn resolve(&self, path: &Path) -> Result<(PathBuf, Vec<OsString>), Errno> {
        let comps = components(path);
        let mut existing = comps.len();
        let found = loop {
            let prefix: PathBuf = comps[..existing].iter().collect();
            match self.open_path(&prefix) {
                Ok(f) => break f,
                Err(Errno::ENOENT) if existing > 0 => existing -= 1,
                Err(e) => return Err(e),
            }
        };
        let missing = comps[existing..].to_vec();
        if missing.iter().any(|c| c == "..") {
            return Err(Errno::ENOENT);
        }
        Ok((self.container_path(&found.fd)?, missing))
    }

    /// Makes every missing directory of `path` inside the root (mode 0755),
    /// like `mkdir -p` run after pivot_root. A symlink (dangling or not) is
    /// never created through: it is followed inside the root, or fails.
    pub fn mkdir_all(&self, path: &Path) -> Result<(), Errno> {
        let comps = components(path);
        for i in 1..=comps.len() {
            let prefix: PathBuf = comps[..i].iter().collect();
            match self.open_path(&prefix) {
                Ok(f) if f.kind == SFlag::S_IFDIR => continue,
                Ok(_) => return Err(Errno::ENOTDIR),
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
            if comps[i - 1] == ".." {
                return Err(Errno::ENOENT);
            }
            let parent: PathBuf = comps[..i - 1].iter().collect();
            let dir = self.open_path(&parent)?;
            if dir.kind != SFlag::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            // mkdirat does not follow a final symlink: a dangling one gives
            // EEXIST, and the next open finds where it points inside the
            // root.
            match mkdirat(
                Some(dir.fd.as_raw_fd()),
                comps[i - 1].as_os_str(),
                Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) => {}
                Err(Errno::EEXIST) => {
                    // Something appeared (or a dangling symlink): look again.
                    match self.open_path(&prefix) {
                        Ok(f) if f.kind == SFlag::S_IFDIR => {}
                        Ok(_) => return Err(Errno::ENOTDIR),
                        Err(Errno::ENOENT) => return Err(Errno::ENOENT),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Where `path` points when its last component is a symlink (the
    /// link's text, not followed); None for anything else or an error.
    pub fn symlink_target(&self, path: &Path) -> Option<PathBuf> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let raw = openat2(self.fd.as_raw_fd(), relative(path).as_path(), how).ok()?;
        // SAFETY: openat2 returned a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let st = fstat(fd.as_raw_fd()).ok()?;
        if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFLNK.bits() {
            return None;
        }
        // readlinkat with an empty path reads the O_PATH fd's own link.
        nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "")
            .ok()
            .map(PathBuf::from)
    }

    /// The container path of an fd opened inside this root.
    fn container_path(&self, fd: &OwnedFd) -> Result<PathBuf, Errno> {
        let host_root = fd_path(&self.fd)?;
        let host = fd_path(fd)?;
        let rel = host.strip_prefix(&host_root).map_err(|_| Errno::EXDEV)?;
        Ok(Path::new("/").join(rel))
    }
}

fn fd_path(fd: &OwnedFd) -> Result<PathBuf, Errno> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// Normal and ".." components of a container path ("/" and "." dropped).
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// `path` relative to the root ("." for the root itself).
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = components(path).iter().collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rcrun-rootfs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(dir.join("rootfs/bin"));
        let _ = std::fs::create_dir_all(dir.join("host"));
        dir
    }

    #[test]
    fn symlinks_stay_in_the_root() {
        let d = scratch("links");
        let rootfs = d.join("rootfs");
        let host = d.join("host");
        let _ = std::os::unix::fs::symlink(&host, rootfs.join("out"));
        let _ = std::os::unix::fs::symlink("../../../..", rootfs.join("up"));
        let mut prev = host.clone();
        for i in (0..46).rev() {
            let link = rootfs.join(format!("l{i}"));
            let _ = std::os::unix::fs::symlink(&prev, &link);
            prev = PathBuf::from(format!("/l{i}"));
        }
        let root = Root::open(&rootfs).ok();
        let made = root.as_ref().map(|r| r.mkdir_all(Path::new("/out/X")));
        let chain = root.as_ref().map(|r| r.mkdir_all(Path::new("/l0/X")));
        let up = root
            .as_ref()
            .map(|r| r.resolve(Path::new("/up/bin")).map(|(p, m)| (p, m.len())));
        let host_untouched = std::fs::read_dir(&host).map(|r| r.count()).unwrap_or(99) == 0;
        let _ = std::fs::remove_dir_all(&d);
        // /out points at a host path: resolved inside the root it does not
        // exist, and nothing is made through the dangling link.
        assert_eq!(made, Some(Err(Errno::ENOENT)));
        assert_eq!(chain, Some(Err(Errno::ELOOP)));
        assert_eq!(up, Some(Ok((PathBuf::from("/bin"), 0))));
        assert!(host_untouched);
    }
}
