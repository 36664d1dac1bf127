//! Create: mount the rootfs containerd hands over, prepare the stdio, let
//! the library create the container, and watch for OOM kills before it
//! starts. A failure undoes the mount and leaves the id free.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use containerd_shim_protos::api::{CreateTaskRequest, CreateTaskResponse};
use containerd_shim_protos::events::task::{TaskCreate, TaskIO};
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::shim::oci::Options;
use rcrun::oom::OomWatcher;
use rcrun::state::Root;

use crate::actions::{self, PersistedOptions};
use crate::container::Container;
use crate::error::{Error, Result};
use crate::io::{self as pio, StdioPaths};
use crate::process::Proc;
use crate::service::Service;

/// Unmounts, on drop, the rootfs this create mounted, unless the create
/// got through.
struct MountedRootfs(Option<PathBuf>);

impl MountedRootfs {
    fn keep(mut self) -> Option<PathBuf> {
        self.0.take()
    }
}

impl Drop for MountedRootfs {
    fn drop(&mut self) {
        if let Some(r) = &self.0 {
            crate::mount::unmount_rootfs(r);
        }
    }
}

impl Service {
    /// The state root: containerd's `root` option, else rcrun's default,
    /// one directory per namespace either way.
    fn root_for(&self, opts: &Options) -> PathBuf {
        if opts.root.is_empty() {
            actions::default_root(&self.namespace)
        } else {
            Path::new(&opts.root).join(&self.namespace)
        }
    }

    pub(crate) async fn create_container(
        &self,
        req: CreateTaskRequest,
        opts: Options,
    ) -> Result<CreateTaskResponse> {
        if self.state().containers.contains_key(&req.id) {
            return Err(Error::AlreadyExists(format!(
                "container {} already exists",
                req.id
            )));
        }
        let bundle = PathBuf::from(&req.bundle);
        let root = self.root_for(&opts);
        actions::save_options(&bundle, &PersistedOptions { root: root.clone() })?;
        let rootfs = bundle.join("rootfs");
        let mounted = if req.rootfs.is_empty() {
            MountedRootfs(None)
        } else {
            crate::mount::mount_rootfs(&req.rootfs, &rootfs)?;
            MountedRootfs(Some(rootfs))
        };
        let paths = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let mut prepared = pio::prepare(&paths)?;
        let rroot = Root::new(Some(&root));
        let t0 = std::time::Instant::now();
        // Blocking on purpose: the library forks, and this process is
        // single-threaded (main.rs), so fork is safe and nothing else runs
        // meanwhile.
        let created = rcrun::container::Container::create(
            &rroot,
            &req.id,
            rcrun::container::CreateOptions {
                bundle: bundle.clone(),
                pid_file: None,
                console_socket: prepared.console_path(),
                no_pivot: opts.no_pivot_root,
                no_new_keyring: opts.no_new_keyring,
                preserve_fds: 0,
                detach: true,
                stdio: prepared.take_stdio(),
                // The shim lives on: the library moves it back out of the
                // container's cgroups after forking.
                caller_exits: false,
                // containerd's `SystemdCgroup = true` (runc options).
                systemd_cgroup: opts.systemd_cgroup,
            },
        )?;
        let cs = created.state();
        // The OOM watch is registered now, before start: a process killed in
        // its first milliseconds is still reported.
        let oom = match OomWatcher::new(&cs.cgroups) {
            Ok(w) => Some(Arc::new(Mutex::new(w))),
            Err(e) => {
                tracing::warn!(id = %req.id, "no OOM watch: {e}");
                None
            }
        };
        let oom_task = oom
            .as_ref()
            .and_then(|w| self.spawn_oom_watch(&req.id, &rroot, w));
        let mut init = Proc::new(paths.clone());
        init.pid = cs.pid;
        let c = Container {
            id: req.id.clone(),
            bundle: bundle.clone(),
            root: rroot,
            cgroups: cs.cgroups.clone(),
            rootfs: mounted.keep(),
            init,
            execs: HashMap::new(),
            oom,
            oom_task,
            paused: false,
        };
        self.state().containers.insert(req.id.clone(), c);
        self.publisher.publish(&TaskCreate {
            container_id: req.id.clone(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: MessageField::some(TaskIO {
                stdin: paths.stdin,
                stdout: paths.stdout,
                stderr: paths.stderr,
                terminal: paths.terminal,
                ..Default::default()
            }),
            checkpoint: req.checkpoint.clone(),
            pid: cs.pid as u32,
            ..Default::default()
        });
        // How long the loop was blocked (see main.rs).
        tracing::info!(id = %req.id, pid = cs.pid, ms = t0.elapsed().as_millis() as u64, "created");
        match prepared.start().await {
            Ok(io) => {
                if let Some(c) = self.state().containers.get_mut(&req.id) {
                    c.init.io = io;
                    if c.init.exit.is_some() {
                        c.init.io.close_stdin();
                    }
                }
            }
            Err(e) => tracing::warn!(id = %req.id, "stdio: {e}"),
        }
        Ok(CreateTaskResponse {
            pid: cs.pid as u32,
            ..Default::default()
        })
    }
}
