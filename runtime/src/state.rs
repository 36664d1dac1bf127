//! Container state on disk: `<root>/<id>/state.json`, written atomically
//! (temp file + rename) inside 0700 directories.
//!
//! Layout of a container's directory:
//! - `state.json`   our state (this module)
//! - `config.json`  the spec handed to libcontainer (resources stripped: we own cgroups)
//! - `lc/<id>/`     libcontainer's own state and its start notify socket

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupSet;
use crate::container::Starter;
use crate::crashpoint;
use crate::error::{Error, Result, StateError};
use crate::lock::{self, ContainerLock, Locked};

pub const DEFAULT_ROOT: &str = "/run/rcrun";
const STATE_FILE: &str = "state.json";

/// The OCI runtime-spec version we report, as runc does.
pub const OCI_VERSION: &str = "1.0.2";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

/// What we persist about a container.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Init pid; 0 until the init process exists.
    pub pid: i32,
    /// Start time of `pid` (field 22 of /proc/<pid>/stat): tells our init
    /// from an unrelated process that reused the pid.
    pub pid_start_time: u64,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Set by `start` once the init is released: distinguishes `created`
    /// from `running` (see container/start.rs).
    pub started: bool,
    pub cgroups: CgroupSet,
    /// While `start` runs poststart hooks (`started` already saved): that
    /// `start` process. Should it die before it finishes, the container
    /// reads `created` again, which `delete` kills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starter: Option<Starter>,
}

/// The OCI state as runc prints it (`runc state`, `runc list --format json`).
#[derive(Debug, Serialize)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    pub owner: &'a str,
}

impl ContainerState {
    pub fn status(&self) -> Status {
        if self.pid <= 0 || !process_alive(self.pid, self.pid_start_time) {
            return Status::Stopped;
        }
        // A created container can be paused too (runc allows it).
        if self.cgroups.is_frozen().unwrap_or(false) {
            return Status::Paused;
        }
        // A start that died before it finished did not start anything
        // anyone knows about: created, so that `delete` kills it.
        let start_done = self.started && self.starter.is_none_or(|s| s.alive());
        if start_done {
            Status::Running
        } else {
            Status::Created
        }
    }

    pub fn oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            // runc reports pid 0 once the container has stopped.
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
            owner: &self.owner,
        }
    }
}

/// Paths of the state root and one container's directory.
#[derive(Clone, Debug)]
pub struct Root {
    pub path: PathBuf,
}

impl Root {
    pub fn new(path: Option<&Path>) -> Root {
        Root {
            path: path
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT)),
        }
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// libcontainer's root for this container; its own dir is `<this>/<id>`.
    pub fn libcontainer_root(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("lc")
    }

    /// Creates `<root>/<id>` (0700) exclusively and takes its lock (see
    /// lock.rs), held until the returned lock is dropped: the mkdir is what
    /// makes a duplicate id fail, even when two `create`s race. A directory
    /// left by a `create` that was killed before it wrote any state (no
    /// state.json, lock free) is removed and the mkdir retried once.
    pub fn create_container_dir_locked(&self, id: &str) -> Result<ContainerLock> {
        let dir = match self.create_container_dir(id) {
            Err(Error::Exists(_)) if self.remove_if_stale(id)? => self.create_container_dir(id)?,
            res => res?,
        };
        crashpoint::point("create:after-mkdir");
        lock::create_and_lock(&dir, id)
    }

    /// Takes the lock of an existing container (waiting, bounded, for the
    /// operation holding it). NotExist when the container does not exist.
    /// A directory without lock file or without state (what a killed
    /// `create` leaves) gives `Ok(None)` and is left for `delete`.
    pub fn lock(&self, id: &str) -> Result<Option<ContainerLock>> {
        validate_id(id)?;
        match lock::lock_existing(&self.container_dir(id), id)? {
            Locked::Held(l) => Ok(Some(l)),
            Locked::NoLockFile => Ok(None),
            Locked::Gone => Err(Error::NotExist(id.to_string())),
        }
    }

    /// Removes `<root>/<id>` if it is what a killed `create` leaves before
    /// its first state write: no state.json and nobody holding the lock.
    /// Only a lock we hold proves that no `create` is still working on it
    /// (a directory with no lock file yet is not touched: its `create` may
    /// be between its mkdir and the lock file). Returns whether it removed.
    fn remove_if_stale(&self, id: &str) -> Result<bool> {
        let dir = self.container_dir(id);
        // No waiting: a held lock means a live `create` (or another
        // operation), and the caller then reports the id as taken.
        let Some(Locked::Held(_lock)) = lock::try_lock_existing(&dir, id)? else {
            return Ok(false);
        };
        if dir.join(STATE_FILE).exists() {
            return Ok(false);
        }
        tracing::debug!(
            "removing {}: left by a create that did not finish",
            dir.display()
        );
        self.remove(id)?;
        Ok(true)
    }

    /// Creates `<root>/<id>` (0700) exclusively.
    fn create_container_dir(&self, id: &str) -> Result<PathBuf> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        let dir = self.container_dir(id);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Exists(id.to_string()))
            }
            Err(e) => Err(Error::io(&dir, e)),
        }
    }

    pub fn load(&self, id: &str) -> Result<ContainerState> {
        validate_id(id)?;
        let path = self.container_dir(id).join(STATE_FILE);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotExist(id.to_string()))
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        serde_json::from_slice(&data).map_err(|e| {
            if written_by_runc(&data) {
                Error::State(StateError::NotOurs {
                    id: id.to_string(),
                    path: path.clone(),
                })
            } else {
                Error::State(StateError::Corrupt {
                    path: path.clone(),
                    source: e,
                })
            }
        })
    }

    pub fn save(&self, state: &ContainerState) -> Result<()> {
        let dir = self.container_dir(&state.id);
        let data = serde_json::to_vec(state).map_err(|e| StateError::Serialize {
            id: state.id.clone(),
            source: e,
        })?;
        write_atomic(&dir.join(STATE_FILE), &data)
    }

    /// Ids of every container with a state directory, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id);
        // state.json first: from then on the container no longer exists for
        // state/list/start, whatever happens to the rest of the directory
        // (a crash here leaves a stateless directory `delete` removes).
        match fs::remove_file(dir.join(STATE_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dir.join(STATE_FILE), e)),
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&dir, e)),
        }
    }
}

/// runc keeps its state in the same `<root>/<id>/state.json` layout, and
/// docker 20.10 gives every runtime the same root (`runtime-runc/moby`): a
/// runc state file has runc's own keys (`init_process_pid`, `config`).
fn written_by_runc(data: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| {
            v.as_object()
                .map(|o| o.contains_key("init_process_pid") && o.contains_key("config"))
        })
        .unwrap_or(false)
}

/// runc accepts `^[\w+-\.]+$`; anything else could escape the state root.
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::InvalidId(id.to_string(), "must not be empty"));
    }
    if id == "." || id == ".." {
        return Err(Error::InvalidId(id.to_string(), "must not be . or .."));
    }
    let ok = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if !ok {
        return Err(Error::InvalidId(
            id.to_string(),
            "only letters, digits, '_', '+', '-' and '.' are allowed",
        ));
    }
    Ok(())
}

/// Writes via a temp file in the same directory and renames it over `path`,
/// so a reader (or a crash) never sees a half-written file.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Field 22 (starttime) of /proc/<pid>/stat, or None if the process is gone
/// or a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm (field 2) may contain spaces and parens: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state).
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match process_start_time(pid) {
        Some(t) => start_time == 0 || t == start_time,
        None => false,
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id("..").is_err());
        assert!(validate_id("a/b").is_err());
        assert!(validate_id("a b").is_err());
    }

    #[test]
    fn own_start_time_is_readable() {
        let pid = std::process::id() as i32;
        let t = process_start_time(pid);
        assert!(t.is_some());
        assert!(process_alive(pid, t.unwrap_or(0)));
        assert!(!process_alive(pid, t.unwrap_or(0) + 1));
    }
}
