//! containerd-shim-rcrun-v2: containerd's runtime v2 shim for rcrun
//! (`--runtime io.containerd.rcrun.v2`), task API v2 and v3 over ttrpc, using the
//! rcrun library in-process (no runtime binary per call).
//!
//! # One thread, on purpose
//! The serving shim runs a tokio *current_thread* runtime and starts no
//! thread of its own (no spawn_blocking, no tokio::fs; ttrpc's async server
//! and client spawn tasks, not threads). The library's `create` may run one
//! short-lived thread on v1/hybrid hosts (`cgroups::warm_up`),
//! and joins it before it clones. Reasons:
//! - the library clones from this process: `create` the container's init
//!   (one clone3; libcontainer's main and intermediate processes on its
//!   fallback path), `exec` libcontainer's intermediate process. Forking a
//!   multi-threaded process is only safe if no other thread holds a lock
//!   (malloc arenas, the tracing dispatcher, std's env lock) at that
//!   instant, which a multi-threaded runtime cannot promise. With one
//!   thread the clone happens with every lock free.
//! - the SIGCHLD reaper (waitpid(-1)) can never run while the library waits
//!   for a child of its own, nor before a new pid is registered.
//! - footprint: no worker threads, stacks or per-thread malloc arenas.
//!
//! The price: create/exec block this shim's loop while they run (measured in
//! the report: tens of milliseconds), which only delays requests for the same
//! container (or pod) — containerd runs one shim per container/pod.

mod actions;
mod bootstrap;
mod container;
mod create;
mod error;
mod events;
mod exec;
mod io;
mod logger;
mod mount;
mod oom_log;
mod process;
mod reaper;
mod runtime_options;
mod service;
mod stats;
mod task;
mod termination;

use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::time::Duration;

use containerd_shim::Flags;
use containerd_shim_protos::ttrpc::r#async::transport::Listener;
use containerd_shim_protos::ttrpc::r#async::Server;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use crate::error::{Error, Result};

const NAME: &str = "containerd-shim-rcrun-v2";

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let flags = match containerd_shim::parse(args.get(1..).unwrap_or_default()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            std::process::exit(2);
        }
    };
    if flags.version {
        println!(
            "{NAME}:\n  Version:  {}\n  Runtime:  rcrun (library)",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    let res = match flags.action.as_str() {
        "start" => actions::start(&flags).map(|addr| {
            print!("{addr}");
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }),
        "delete" => actions::delete(&flags),
        "" => serve(flags),
        other => Err(Error::InvalidArgument(format!("unknown action {other:?}"))),
    };
    if let Err(e) = res {
        eprintln!("{NAME}: {e}");
        std::process::exit(1);
    }
}

fn serve(flags: Flags) -> Result<()> {
    // Every container process is a clone of this server until it execs:
    // run from a read-only (or sealed) copy of the binary, never the host's
    // file (CVE-2019-5736; rcrun::sealed_exe). Re-executes once, first
    // thing, with the same argv, environment and inherited fds.
    rcrun::sealed_exe::ensure_sealed().map_err(|e| Error::Other(e.to_string()))?;
    // Container processes are re-parented to us when their intermediate
    // parents exit: we reap them and publish their true exit status.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::io("PR_SET_CHILD_SUBREAPER", e.into()))?;
    // One thread by design: should a library start a short-lived one, it
    // shares the main malloc arena instead of mapping a 64 MiB arena and
    // keeping its pages.
    // SAFETY: mallopt with an integer parameter, before any thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    logger::init(flags.debug);
    let rt = tokio::runtime::Builder::new_current_thread()
        // A shim watches a handful of fds: 64 events per epoll_wait instead
        // of tokio's 1024 (12 KiB of heap for the event buffer).
        .max_io_events_per_tick(64)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    let res = rt.block_on(run(&flags));
    if let Err(e) = &res {
        tracing::error!("shim: {e}");
    }
    res
}

/// The listener: fd 3 from `start`, or bind `-socket` (run by hand).
fn listener(flags: &Flags) -> Result<UnixListener> {
    let fd = actions::LISTENER_FD;
    let handed = std::env::var(actions::LISTENER_ENV).ok() == Some(fd.to_string());
    // Not inherited by anything we start.
    std::env::remove_var(actions::LISTENER_ENV);
    let is_socket = handed
        && nix::sys::stat::fstat(fd)
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFSOCK)
            .unwrap_or(false);
    if is_socket {
        // SAFETY: fd 3 was handed to us by `start` and nothing else owns it.
        let l = unsafe { UnixListener::from_raw_fd(fd) };
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        return Ok(l);
    }
    let path = flags
        .socket
        .strip_prefix("unix://")
        .unwrap_or(&flags.socket);
    if path.is_empty() {
        return Err(Error::InvalidArgument(
            "no listener on fd 3 and no -socket".into(),
        ));
    }
    if let Some(d) = std::path::Path::new(path).parent() {
        let _ = std::fs::create_dir_all(d);
    }
    UnixListener::bind(path).map_err(|e| Error::io(format!("bind {path}"), e))
}

async fn run(flags: &Flags) -> Result<()> {
    let l = listener(flags)?;
    let sig = |k: SignalKind| signal(k).map_err(|e| Error::io("signal handler", e));
    // SIGPIPE gets a handler rather than SIG_IGN: an ignored disposition
    // would be inherited by container processes across exec.
    let mut sigchld = sig(SignalKind::child())?;
    let mut sigterm = sig(SignalKind::terminate())?;
    let mut sigint = sig(SignalKind::interrupt())?;
    let mut sigpipe = sig(SignalKind::pipe())?;

    let ttrpc_address = std::env::var("TTRPC_ADDRESS").unwrap_or_default();
    let publisher = events::Publisher::start(ttrpc_address, flags.namespace.clone());
    let shutdown = Arc::new(Notify::new());
    let svc = Arc::new(service::Service::new(
        flags.namespace.clone(),
        publisher,
        shutdown.clone(),
    ));
    let listener = Listener::try_from(l).map_err(|e| Error::io("ttrpc listener", e))?;
    let mut server = Server::new()
        .add_listener(listener)
        .register_service(bootstrap::task_services(svc.clone()));
    server
        .start()
        .await
        .map_err(|e| Error::Other(format!("ttrpc server: {e}")))?;
    // `start` waits for our stdout to close: we serve now.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
    }
    tracing::info!(id = %flags.id, pid = std::process::id(), "shim serving");

    // `biased`: a SIGCHLD is reaped before anything else is looked at.
    loop {
        tokio::select! {
            biased;
            _ = sigchld.recv() => svc.reap().await,
            _ = sigterm.recv() => tracing::debug!("SIGTERM ignored"),
            _ = sigint.recv() => tracing::debug!("SIGINT ignored"),
            _ = sigpipe.recv() => {}
            _ = shutdown.notified() => break,
        }
    }
    tracing::info!("shutting down");
    // Let the Shutdown reply (and queued events) go out.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), server.shutdown()).await;
    let path = flags
        .socket
        .strip_prefix("unix://")
        .unwrap_or(&flags.socket);
    if !path.is_empty() {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
