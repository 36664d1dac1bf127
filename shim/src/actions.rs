//! The `start` and `delete` binary actions containerd runs before and after
//! the long-lived shim.
//!
//! `start`: works out the socket address (one shim per container, or per
//! pod: `io.kubernetes.cri.sandbox-id`), binds it, spawns the serving shim
//! with the listener as fd 3, waits until it serves (it closes its stdout),
//! and prints the address: containerd's start handshake (task API v2, or the
//! v3 bootstrap JSON for containerd >= 2: bootstrap.rs).
//! `delete`: cleanup after a shim died: force-deletes the container, unmounts
//! the rootfs and reports SIGKILL's 137.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use containerd_shim::Flags;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::shim::DeleteResponse;

use crate::error::{Error, Result};

/// Annotation that groups a pod's containers into one shim (CRI).
const GROUP_ANNOTATIONS: &[&str] = &[
    "io.kubernetes.cri.sandbox-id",
    "io.kubernetes.cri-o.SandboxID",
];

/// Where the serving shim finds its listener, and the variable that says
/// so (fd 3 alone could be anything a caller leaked).
pub const LISTENER_FD: i32 = 3;
pub const LISTENER_ENV: &str = "RCRUN_SHIM_LISTENER_FD";

/// Shim options persisted in the bundle so the `delete` action (run when
/// the serving shim is gone) finds the container's state root.
pub const OPTIONS_FILE: &str = "rcrun-shim.json";

pub fn default_root(namespace: &str) -> PathBuf {
    Path::new("/run/containerd/rcrun").join(namespace)
}

fn grouping(id: &str) -> String {
    let Ok(data) = std::fs::read("config.json") else {
        return id.to_string();
    };
    let Ok(spec) = serde_json::from_slice::<serde_json::Value>(&data) else {
        return id.to_string();
    };
    GROUP_ANNOTATIONS
        .iter()
        .find_map(|k| spec["annotations"][k].as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(id)
        .to_string()
}

fn socket_path(address: &str) -> &str {
    address.strip_prefix("unix://").unwrap_or(address)
}

fn write_address(address: &str) -> Result<()> {
    let tmp = "address.tmp";
    std::fs::write(tmp, address).map_err(|e| Error::io("write address", e))?;
    std::fs::rename(tmp, "address").map_err(|e| Error::io("write address", e))
}

fn bind(path: &str) -> std::io::Result<UnixListener> {
    if let Some(dir) = Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    UnixListener::bind(path)
}

/// The `start` action: returns what to print, the address (task API v2) or
/// the bootstrap JSON (v3, containerd >= 2; see bootstrap.rs).
pub fn start(flags: &Flags) -> Result<String> {
    let address = start_shim(flags)?;
    let version = crate::bootstrap::task_api_version(&flags.publish_binary);
    Ok(crate::bootstrap::start_answer(&address, version))
}

/// Starts (or finds) the serving shim; returns its address.
fn start_shim(flags: &Flags) -> Result<String> {
    let group = grouping(&flags.id);
    let address = containerd_shim::socket_address(&flags.address, &flags.namespace, &group);
    let path = socket_path(&address).to_string();
    let listener = match bind(&path) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            // A shim for this group already serves there: share it.
            if UnixStream::connect(&path).is_ok() {
                write_address(&address)?;
                return Ok(address);
            }
            if std::fs::symlink_metadata(&path)
                .map(|m| m.file_type().is_socket())
                .unwrap_or(false)
            {
                let _ = std::fs::remove_file(&path);
            }
            bind(&path).map_err(|e| Error::io(format!("bind {path}"), e))?
        }
        Err(e) => return Err(Error::io(format!("bind {path}"), e)),
    };
    match spawn(flags, &address, listener) {
        Ok(()) => {}
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    }
    write_address(&address)?;
    Ok(address)
}

fn spawn(flags: &Flags, address: &str, listener: UnixListener) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| Error::io("current exe", e))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "-namespace",
        &flags.namespace,
        "-id",
        &flags.id,
        "-address",
        &flags.address,
        "-socket",
        address,
    ]);
    if flags.debug {
        cmd.arg("-debug");
    }
    cmd.env(LISTENER_ENV, LISTENER_FD.to_string());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let lfd: OwnedFd = listener.into();
    let raw = lfd.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec; the start
    // action is single-threaded.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if raw == LISTENER_FD {
                let fl = libc::fcntl(raw, libc::F_GETFD);
                if fl < 0 || libc::fcntl(raw, libc::F_SETFD, fl & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(raw, LISTENER_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::io("spawn shim", e))?;
    drop(lfd);
    adjust_oom_score(child.id());
    // The serving shim closes its stdout once it accepts requests (or dies).
    let mut out = Vec::new();
    if let Some(mut so) = child.stdout.take() {
        let _ = so.read_to_end(&mut out);
    }
    if let Ok(Some(status)) = child.try_wait() {
        return Err(Error::Other(format!(
            "shim exited before serving: {status}: {}",
            String::from_utf8_lossy(&out)
        )));
    }
    Ok(())
}

/// The shim is killed a little before containerd when memory runs out,
/// as containerd's own shims do: containerd's oom_score_adj + 1.
fn adjust_oom_score(pid: u32) {
    let parent = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .unwrap_or(0);
    let score = (parent + 1).min(1000);
    if let Err(e) = std::fs::write(format!("/proc/{pid}/oom_score_adj"), score.to_string()) {
        tracing::debug!("oom_score_adj: {e}");
    }
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
pub struct PersistedOptions {
    pub root: PathBuf,
}

pub fn save_options(bundle: &Path, opts: &PersistedOptions) -> Result<()> {
    let data = serde_json::to_vec(opts).map_err(|e| Error::Other(e.to_string()))?;
    let tmp = bundle.join(format!("{OPTIONS_FILE}.tmp"));
    std::fs::write(&tmp, data).map_err(|e| Error::io("write shim options", e))?;
    std::fs::rename(&tmp, bundle.join(OPTIONS_FILE)).map_err(|e| Error::io("write shim options", e))
}

pub fn load_options(bundle: &Path) -> Option<PersistedOptions> {
    let data = std::fs::read(bundle.join(OPTIONS_FILE)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// A shim killed outright leaves its socket: remove it, unless a shim still
/// serves there (a pod's shim serving its other containers).
fn remove_dead_socket(flags: &Flags, bundle: &Path) {
    let group = std::env::set_current_dir(bundle)
        .map(|()| grouping(&flags.id))
        .unwrap_or_else(|_| flags.id.clone());
    let address = containerd_shim::socket_address(&flags.address, &flags.namespace, &group);
    let path = socket_path(&address);
    let is_socket = std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false);
    if is_socket && UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
}

/// The `delete` action: clean up after a dead shim. Writes the encoded
/// DeleteResponse to stdout.
pub fn delete(flags: &Flags) -> Result<()> {
    let bundle = if flags.bundle.is_empty() {
        std::env::current_dir().map_err(|e| Error::io("cwd", e))?
    } else {
        PathBuf::from(&flags.bundle)
    };
    let root = load_options(&bundle)
        .map(|o| o.root)
        .unwrap_or_else(|| default_root(&flags.namespace));
    let root = rcrun::state::Root::new(Some(&root));
    if let Err(e) = rcrun::container::Container::delete(&root, &flags.id, true) {
        eprintln!("delete {}: {e}", flags.id);
    }
    crate::mount::unmount_rootfs(&bundle.join("rootfs"));
    let _ = std::fs::remove_file(bundle.join(OPTIONS_FILE));
    remove_dead_socket(flags, &bundle);
    let resp = DeleteResponse {
        pid: 0,
        exit_status: 128 + libc::SIGKILL as u32,
        exited_at: MessageField::some(crate::events::now()),
        ..Default::default()
    };
    let bytes = resp
        .write_to_bytes()
        .map_err(|e| Error::Other(format!("encode DeleteResponse: {e}")))?;
    let mut so = std::io::stdout();
    so.write_all(&bytes)
        .and_then(|_| so.flush())
        .map_err(|e| Error::io("write DeleteResponse", e))
}
