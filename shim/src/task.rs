//! The containerd Task service (task API v2, served as v3 too:
//! bootstrap.rs): each call decodes its request, calls one operation of the
//! service or of a container, publishes the event the transition calls for,
//! and encodes the response. Errors become ttrpc codes by their variant
//! (error.rs).

use async_trait::async_trait;
use containerd_shim_protos::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse,
    DeleteRequest, DeleteResponse, Empty, ExecProcessRequest, KillRequest, PauseRequest,
    PidsRequest, PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
    StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, UpdateTaskRequest,
    WaitRequest, WaitResponse,
};
use containerd_shim_protos::events::task::{TaskDelete, TaskPaused, TaskResumed, TaskStart};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::oci::Options;
use containerd_shim_protos::shim_async::Task;
use containerd_shim_protos::ttrpc::r#async::TtrpcContext;
use containerd_shim_protos::ttrpc::{self};
use nix::sys::signal::Signal;

use crate::error::{Error, Result};
use crate::io as pio;
use crate::process::Exit;
use crate::runtime_options;
use crate::service::Service;

const RUNC_OPTIONS: &str = "containerd.runc.v1.Options";

/// How long delete waits for an exited process's terminal output.
const OUTPUT_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// containerd's runc options (state root, pivot, keyring, SystemdCgroup),
/// typed or as the generic options' TOML (runtime_options.rs); others
/// ignored.
fn runc_options(any: &MessageField<Any>) -> Result<Options> {
    match any.as_ref() {
        Some(a) if a.type_url.ends_with(RUNC_OPTIONS) => Options::parse_from_bytes(&a.value)
            .map_err(|e| Error::InvalidArgument(format!("options: {e}"))),
        Some(a) if a.type_url.ends_with(runtime_options::TYPE_URL_SUFFIX) => {
            runtime_options::to_runc(&a.value).map_err(Error::InvalidArgument)
        }
        _ => Ok(Options::default()),
    }
}

fn signal_of(n: u32) -> Result<Signal> {
    Signal::try_from(n as i32).map_err(|_| Error::InvalidArgument(format!("invalid signal {n}")))
}

fn resources_of(req: &UpdateTaskRequest) -> Result<oci_spec::runtime::LinuxResources> {
    let res = req
        .resources
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument("update: resources are required".into()))?;
    serde_json::from_slice(&res.value)
        .map_err(|e| Error::InvalidArgument(format!("update: resources: {e}")))
}

fn delete_response(pid: i32, exit: Option<Exit>) -> DeleteResponse {
    DeleteResponse {
        pid: pid.max(0) as u32,
        exit_status: exit.as_ref().map(|e| e.status).unwrap_or(0),
        exited_at: exit.map(|e| MessageField::some(e.at)).unwrap_or_default(),
        ..Default::default()
    }
}

fn log_err<T>(what: &str, r: Result<T>) -> ttrpc::Result<T> {
    r.map_err(|e| {
        tracing::debug!("{what}: {e}");
        e.into()
    })
}

/// What Create asks that the shim refuses before looking further, and its
/// runc options.
fn create_options(req: &CreateTaskRequest) -> Result<Options> {
    rcrun::state::validate_id(&req.id)?;
    if !req.checkpoint.is_empty() {
        return Err(Error::Unimplemented("checkpoint/restore".into()));
    }
    runc_options(&req.options)
}

impl Service {
    fn start_init(&self, id: &str) -> Result<i32> {
        let mut st = self.state();
        let c = st.container(id)?;
        let pid = c.start_init()?;
        self.publisher.publish(&TaskStart {
            container_id: c.id.clone(),
            pid: pid as u32,
            ..Default::default()
        });
        tracing::info!(id = %c.id, pid, "started");
        Ok(pid)
    }

    /// Before the delete of an exited process with a terminal: lets the
    /// copy of its output end by itself (runc's shim waits for it too), so
    /// that what it printed last is not cut off. Bounded: a daemon it left
    /// behind may hold the pty open.
    async fn drain_output(&self, req: &DeleteRequest) {
        let output = self
            .state()
            .container(&req.id)
            .and_then(|c| c.process_mut(&req.exec_id))
            .ok()
            .filter(|p| p.exit.is_some())
            .and_then(|p| p.io.take_output());
        if let Some(mut copy) = output {
            if tokio::time::timeout(OUTPUT_DRAIN, &mut copy).await.is_err() {
                tracing::debug!(id = %req.id, exec = %req.exec_id, "terminal output still open at delete");
                copy.abort();
            }
        }
    }

    fn delete_task(&self, req: &DeleteRequest) -> Result<DeleteResponse> {
        let mut st = self.state();
        let c = st.container(&req.id)?;
        if !req.exec_id.is_empty() {
            let (pid, exit) = c.delete_exec(&req.exec_id)?;
            return Ok(delete_response(pid, exit));
        }
        c.delete()?;
        let Some(c) = st.containers.remove(&req.id) else {
            return Err(Error::NotFound(req.id.clone()));
        };
        let resp = delete_response(c.init.pid, c.init.exit.clone());
        self.publisher.publish(&TaskDelete {
            container_id: c.id.clone(),
            id: c.id.clone(),
            pid: c.init.pid as u32,
            exit_status: resp.exit_status,
            exited_at: resp.exited_at.clone(),
            ..Default::default()
        });
        tracing::info!(id = %c.id, "deleted");
        Ok(resp)
    }

    fn pause_task(&self, id: &str, pause: bool) -> Result<()> {
        self.state().container(id)?.set_paused(pause)?;
        let container_id = id.to_string();
        if pause {
            self.publisher.publish(&TaskPaused {
                container_id,
                ..Default::default()
            });
        } else {
            self.publisher.publish(&TaskResumed {
                container_id,
                ..Default::default()
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Task for Service {
    async fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> ttrpc::Result<StateResponse> {
        let r = self
            .state()
            .container(&req.id)
            .and_then(|c| c.state(&req.exec_id));
        log_err("state", r)
    }

    async fn create(
        &self,
        _ctx: &TtrpcContext,
        req: CreateTaskRequest,
    ) -> ttrpc::Result<CreateTaskResponse> {
        let r = match create_options(&req) {
            Ok(opts) => self.create_container(req, opts).await,
            Err(e) => Err(e),
        };
        log_err("create", r)
    }

    async fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> ttrpc::Result<StartResponse> {
        let pid = if req.exec_id.is_empty() {
            self.start_init(&req.id)
        } else {
            self.start_exec(&req.id, &req.exec_id).await
        };
        log_err("start", pid).map(|pid| StartResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    async fn delete(
        &self,
        _ctx: &TtrpcContext,
        req: DeleteRequest,
    ) -> ttrpc::Result<DeleteResponse> {
        self.drain_output(&req).await;
        log_err("delete", self.delete_task(&req))
    }

    async fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> ttrpc::Result<PidsResponse> {
        let r = self.state().container(&req.id).and_then(|c| c.pids());
        log_err("pids", r).map(|processes| PidsResponse {
            processes,
            ..Default::default()
        })
    }

    async fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> ttrpc::Result<Empty> {
        log_err("pause", self.pause_task(&req.id, true)).map(|_| Empty::new())
    }

    async fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> ttrpc::Result<Empty> {
        log_err("resume", self.pause_task(&req.id, false)).map(|_| Empty::new())
    }

    async fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> ttrpc::Result<Empty> {
        let r = signal_of(req.signal).and_then(|sig| {
            self.state()
                .container(&req.id)?
                .kill(&req.exec_id, sig, req.all)
        });
        log_err("kill", r).map(|_| Empty::new())
    }

    async fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> ttrpc::Result<Empty> {
        log_err("exec", self.add_exec(req)).map(|_| Empty::new())
    }

    async fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> ttrpc::Result<Empty> {
        let r = (|| {
            let mut st = self.state();
            let p = st.container(&req.id)?.process(&req.exec_id)?;
            if let Some(m) = &p.io.console {
                pio::resize(m, req.width, req.height)?;
            }
            Ok(())
        })();
        log_err("resize", r).map(|_| Empty::new())
    }

    async fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> ttrpc::Result<Empty> {
        let r = (|| {
            let mut st = self.state();
            let p = st.container(&req.id)?.process_mut(&req.exec_id)?;
            if req.stdin {
                p.io.close_stdin();
            }
            Ok(())
        })();
        log_err("close_io", r).map(|_| Empty::new())
    }

    async fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> ttrpc::Result<Empty> {
        let r = resources_of(&req).and_then(|r| self.state().container(&req.id)?.update(&r));
        log_err("update", r).map(|_| Empty::new())
    }

    async fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> ttrpc::Result<WaitResponse> {
        let rx = {
            let mut st = self.state();
            let r = st.container(&req.id).and_then(|c| c.process(&req.exec_id));
            match r {
                Ok(p) => p.exit_tx.subscribe(),
                Err(e) => return log_err("wait", Err(e)),
            }
        };
        let mut rx = rx;
        let exit = match rx.wait_for(|e| e.is_some()).await {
            Ok(e) => e.clone(),
            // The process was deleted while waited on.
            Err(_) => None,
        };
        let exit = exit.ok_or_else(|| {
            ttrpc::Error::from(Error::NotFound(format!("process {} was deleted", req.id)))
        })?;
        Ok(WaitResponse {
            exit_status: exit.status,
            exited_at: MessageField::some(exit.at),
            ..Default::default()
        })
    }

    async fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> ttrpc::Result<StatsResponse> {
        let r = self
            .state()
            .container(&req.id)
            .and_then(|c| crate::stats::collect(&c.cgroups));
        let metrics = log_err("stats", r)?;
        Ok(StatsResponse {
            stats: MessageField::some(metrics),
            ..Default::default()
        })
    }

    async fn shutdown(&self, _ctx: &TtrpcContext, req: ShutdownRequest) -> ttrpc::Result<Empty> {
        let busy = !self.state().containers.is_empty();
        if busy && !req.now {
            return Ok(Empty::new());
        }
        self.shutdown.notify_one();
        Ok(Empty::new())
    }

    async fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: ConnectRequest,
    ) -> ttrpc::Result<ConnectResponse> {
        let pid = self
            .state()
            .containers
            .get(&req.id)
            .map(|c| c.init.pid.max(0) as u32)
            .unwrap_or(0);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid: pid,
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        })
    }
}
