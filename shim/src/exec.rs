//! Exec processes: Exec registers one (its OCI process and stdio), Start
//! hands the process to the library, which runs it in the container.

use containerd_shim_protos::api::ExecProcessRequest;
use containerd_shim_protos::events::task::{TaskExecAdded, TaskExecStarted};

use crate::error::{Error, Result};
use crate::io::{self as pio, StdioPaths};
use crate::process::Proc;
use crate::service::Service;

/// Exec ids name files and log lines: a short, plain name.
pub fn valid_exec_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 76
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("invalid exec id {id:?}")))
    }
}

impl Service {
    pub(crate) fn add_exec(&self, req: ExecProcessRequest) -> Result<()> {
        valid_exec_id(&req.exec_id)?;
        let mut st = self.state();
        let c = st.container(&req.id)?;
        if c.init.exit.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "container {} is stopped",
                req.id
            )));
        }
        if c.execs.contains_key(&req.exec_id) {
            return Err(Error::AlreadyExists(format!(
                "exec {} already exists",
                req.exec_id
            )));
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .ok_or_else(|| Error::InvalidArgument("exec: spec is required".into()))?;
        serde_json::from_slice::<oci_spec::runtime::Process>(&spec)
            .map_err(|e| Error::InvalidArgument(format!("exec spec: {e}")))?;
        let mut p = Proc::new(StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        });
        p.spec = Some(spec);
        c.execs.insert(req.exec_id.clone(), p);
        self.publisher.publish(&TaskExecAdded {
            container_id: req.id.clone(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        });
        Ok(())
    }

    /// Start of an exec; returns its pid.
    pub(crate) async fn start_exec(&self, id: &str, exec_id: &str) -> Result<i32> {
        let (pid, prepared) = {
            let mut st = self.state();
            let c = st.container(id)?;
            if !c.init.running() {
                return Err(Error::FailedPrecondition(format!(
                    "container {id} is not running"
                )));
            }
            // A process joining a frozen cgroup never reports ready: the
            // library would wait for it with this (only) thread.
            if c.paused {
                return Err(Error::FailedPrecondition(format!(
                    "cannot exec in paused container {id}"
                )));
            }
            let root = c.root.clone();
            let p = c.process_mut(exec_id)?;
            if p.started || p.exit.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "exec {exec_id} already started"
                )));
            }
            let spec = p
                .spec
                .clone()
                .ok_or_else(|| Error::InvalidArgument("exec without a process spec".into()))?;
            // The process goes to the library as a value (ExecOptions), never
            // as a file in the bundle.
            let process = rcrun::exec_process::parse(&spec, "exec process")?;
            let mut prepared = pio::prepare(&p.stdio)?;
            let t0 = std::time::Instant::now();
            // The shim checked the container's status itself (a paused
            // task may take an exec: containerd decides).
            let target = rcrun::container::Container::open(&root, id)?;
            let pid = target
                .exec_target(true)?
                .run(rcrun::container::ExecOptions {
                    process,
                    detach: true,
                    console_socket: prepared.console_path(),
                    stdio: prepared.take_stdio(),
                    ..Default::default()
                })?;
            p.pid = pid;
            p.started = true;
            p.spec = None;
            tracing::info!(id = %id, exec = %exec_id, pid, ms = t0.elapsed().as_millis() as u64, "exec started");
            self.publisher.publish(&TaskExecStarted {
                container_id: id.to_string(),
                exec_id: exec_id.to_string(),
                pid: pid as u32,
                ..Default::default()
            });
            (pid, prepared)
        };
        match prepared.start().await {
            Ok(io) => {
                if let Some(p) = self
                    .state()
                    .containers
                    .get_mut(id)
                    .and_then(|c| c.execs.get_mut(exec_id))
                {
                    // Kept when the process has already exited too: the
                    // terminal's copy still has its output to deliver.
                    p.io = io;
                    if p.exit.is_some() {
                        p.io.close_stdin();
                    }
                }
            }
            Err(e) => tracing::warn!(id = %id, exec = %exec_id, "stdio: {e}"),
        }
        Ok(pid)
    }
}
