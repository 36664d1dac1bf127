//! Events to containerd, in order, surviving a containerd restart.
//!
//! Every event goes through one queue and one forwarding task, so
//! `/tasks/oom` is always delivered before the `/tasks/exit` it explains.
//! When containerd is away (restart), the task reconnects and retries the
//! event at the head of the queue with a backoff, for up to
//! [`GIVE_UP_AFTER`]; nothing behind it overtakes it.
//!
//! `Any.type_url`s are written by hand ("containerd.events.TaskExit") rather
//! than from protobuf reflection: building the descriptor pool would cost
//! a few hundred KiB of heap in every shim for a string we know.

use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::{Duration, Instant};

use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::event::Envelope;
use containerd_shim_protos::shim::events::ForwardRequest;
use containerd_shim_protos::shim_async::{Client, EventsClient};
use containerd_shim_protos::topics;
use containerd_shim_protos::ttrpc::r#async::transport::Socket;
use containerd_shim_protos::ttrpc::{self, context};
use tokio::sync::mpsc;

const GIVE_UP_AFTER: Duration = Duration::from_secs(300);
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// An event ready to send: its topic, type url and encoded body.
pub struct Event {
    topic: &'static str,
    type_url: &'static str,
    body: Vec<u8>,
    at: Timestamp,
}

macro_rules! event_kinds {
    ($($ty:ident => $topic:ident),* $(,)?) => {
        /// Messages that can be published, with their topic and type url.
        pub trait Publishable: Message {
            const TOPIC: &'static str;
            const TYPE_URL: &'static str;
        }
        $(impl Publishable for $ty {
            const TOPIC: &'static str = topics::$topic;
            const TYPE_URL: &'static str = concat!("containerd.events.", stringify!($ty));
        })*
    };
}

event_kinds! {
    TaskCreate => TASK_CREATE_EVENT_TOPIC,
    TaskStart => TASK_START_EVENT_TOPIC,
    TaskExit => TASK_EXIT_EVENT_TOPIC,
    TaskOOM => TASK_OOM_EVENT_TOPIC,
    TaskDelete => TASK_DELETE_EVENT_TOPIC,
    TaskExecAdded => TASK_EXEC_ADDED_EVENT_TOPIC,
    TaskExecStarted => TASK_EXEC_STARTED_EVENT_TOPIC,
    TaskPaused => TASK_PAUSED_EVENT_TOPIC,
    TaskResumed => TASK_RESUMED_EVENT_TOPIC,
}

#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::UnboundedSender<Event>,
}

impl Publisher {
    /// Starts the forwarding task. `address` is containerd's ttrpc socket
    /// (TTRPC_ADDRESS); an empty one drops events (tests, no containerd).
    pub fn start(address: String, namespace: String) -> Publisher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(forward_loop(address, namespace, rx));
        Publisher { tx }
    }

    pub fn publish<M: Publishable>(&self, msg: &M) {
        let body = match msg.write_to_bytes() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("encode {}: {e}", M::TYPE_URL);
                return;
            }
        };
        tracing::debug!(topic = M::TOPIC, "publish");
        let ev = Event {
            topic: M::TOPIC,
            type_url: M::TYPE_URL,
            body,
            at: now(),
        };
        if self.tx.send(ev).is_err() {
            tracing::warn!("event queue closed, dropping {}", M::TOPIC);
        }
    }
}

pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
        ..Default::default()
    }
}

fn connect(address: &str) -> std::io::Result<EventsClient> {
    let path = address.strip_prefix("unix://").unwrap_or(address);
    // A unix-socket connect completes or fails at once: no need to block
    // the loop's thread in a helper thread for it.
    let s = StdUnixStream::connect(path)?;
    s.set_nonblocking(true)?;
    let s = tokio::net::UnixStream::from_std(s)?;
    Ok(EventsClient::new(Client::new(Socket::from(s))))
}

async fn forward_loop(address: String, namespace: String, mut rx: mpsc::UnboundedReceiver<Event>) {
    let mut client: Option<EventsClient> = None;
    while let Some(ev) = rx.recv().await {
        if address.is_empty() {
            continue;
        }
        let mut req = ForwardRequest::new();
        req.envelope = MessageField::some(Envelope {
            timestamp: MessageField::some(ev.at.clone()),
            namespace: namespace.clone(),
            topic: ev.topic.to_string(),
            event: MessageField::some(Any {
                type_url: ev.type_url.to_string(),
                value: ev.body,
                ..Default::default()
            }),
            ..Default::default()
        });
        let deadline = Instant::now() + GIVE_UP_AFTER;
        let mut backoff = Duration::from_millis(50);
        loop {
            if client.is_none() {
                match connect(&address) {
                    Ok(c) => client = Some(c),
                    Err(e) => tracing::debug!("connect {address}: {e}"),
                }
            }
            if let Some(c) = &client {
                let ctx = context::with_duration(FORWARD_TIMEOUT);
                match c.forward(ctx, &req).await {
                    Ok(_) => break,
                    // containerd answered: retrying would not change that.
                    Err(ttrpc::Error::RpcStatus(s)) => {
                        tracing::warn!("forward {}: rejected: {}", ev.topic, s.message());
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("forward {}: {e:?}", ev.topic);
                        client = None;
                    }
                }
            }
            if Instant::now() > deadline {
                tracing::error!("dropping event {}: containerd unreachable", ev.topic);
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}
