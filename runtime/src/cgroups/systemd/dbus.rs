//! The few systemd Manager calls the driver makes, over zbus. Like runc,
//! rcrun talks to systemd on the system bus and, when there is no bus
//! daemon, on systemd's private socket (root only). Each call that queues
//! a job waits for the job's JobRemoved signal, with a timeout.

use std::time::Duration;

use futures_lite::StreamExt;
use zbus::zvariant::{OwnedObjectPath, Value as ZValue};
use zbus::{Connection, Proxy};

use super::properties::{Prop, Value};
use super::SystemdError;

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a start or stop job may take (runc waits as long).
pub(super) const JOB_TIMEOUT: Duration = Duration::from_secs(30);

const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

/// A connection to systemd's manager.
pub struct Systemd {
    proxy: Proxy<'static>,
}

fn to_zvalue(v: &Value) -> ZValue<'static> {
    match v {
        Value::Bool(b) => ZValue::from(*b),
        Value::U64(n) => ZValue::from(*n),
        Value::Str(s) => ZValue::from(s.clone()),
        Value::U8(n) => ZValue::from(*n),
        Value::I16(n) => ZValue::from(*n),
        Value::U16(n) => ZValue::from(*n),
        Value::I32(n) => ZValue::from(*n),
        Value::U32(n) => ZValue::from(*n),
        Value::I64(n) => ZValue::from(*n),
        Value::F64(n) => ZValue::from(*n),
        Value::Strs(l) => ZValue::from(l.clone()),
        Value::Bytes(b) => ZValue::from(b.clone()),
        Value::U32s(p) => ZValue::from(p.clone()),
        Value::DeviceAllow(l) => ZValue::from(l.clone()),
    }
}

fn props_arg<N: AsRef<str>>(props: &[(N, Value)]) -> Vec<(&str, ZValue<'static>)> {
    props
        .iter()
        .map(|(n, v)| (n.as_ref(), to_zvalue(v)))
        .collect()
}

/// systemd's error name (if it sent one) and its words.
fn reason(e: &zbus::Error) -> (Option<String>, String) {
    match e {
        zbus::Error::MethodError(name, detail, _) => (
            Some(name.to_string()),
            detail.clone().unwrap_or_else(|| name.to_string()),
        ),
        zbus::Error::FDO(f) => (None, f.to_string()),
        other => (None, other.to_string()),
    }
}

impl Systemd {
    /// Connects as runc does: the bus, else the private socket.
    pub fn connect() -> Result<Systemd, SystemdError> {
        zbus::block_on(async {
            let conn = match Connection::system().await {
                Ok(c) => c,
                Err(bus_err) => {
                    tracing::debug!(
                        "systemd: the system bus: {bus_err}; trying its private socket"
                    );
                    super::private_socket::connect()
                        .await
                        .map_err(|private_err| SystemdError::Connect {
                            bus_address: crate::error::one_line(&system_bus_address()),
                            bus_err: crate::error::one_line(&bus_err.to_string()),
                            private_address: super::private_socket::ADDRESS.into(),
                            private_err: crate::error::one_line(&private_err.to_string()),
                        })?
                }
            };
            let proxy: Proxy<'static> = zbus::proxy::Builder::new(&conn)
                .destination(DESTINATION)
                .and_then(|b| b.path(MANAGER_PATH))
                .and_then(|b| b.interface(MANAGER))
                .map(|b| b.cache_properties(zbus::proxy::CacheProperties::No))
                .map_err(|e| SystemdError::call("connect", "", &e))?
                .build()
                .await
                .map_err(|e| SystemdError::call("connect", "", &e))?;
            // Job signals go only to subscribed clients.
            if let Err(e) = proxy.call_method("Subscribe", &()).await {
                tracing::debug!("systemd Subscribe: {e}");
            }
            Ok(Systemd { proxy })
        })
    }

    /// systemd's major version (the Manager's Version property), if it
    /// says one we can read.
    pub fn version(&self) -> Option<u32> {
        match zbus::block_on(self.proxy.get_property::<String>("Version")) {
            Ok(v) => super::devices::parse_version(&v),
            Err(e) => {
                tracing::debug!("systemd Version: {e}");
                None
            }
        }
    }

    /// StartTransientUnit, waiting for its job. A unit of that name left
    /// over in the failed state is reset and the start retried once, as
    /// runc does; an existing slice unit is fine (slices are shared).
    pub fn start_unit<N: AsRef<str>>(
        &self,
        unit: &str,
        props: &[(N, Value)],
    ) -> Result<(), SystemdError> {
        const M: &str = "StartTransientUnit";
        let aux: Vec<(&str, Vec<(&str, ZValue)>)> = Vec::new();
        let args = (unit, "replace", props_arg(props), aux);
        let first = self.job(M, unit, &args);
        match first {
            Err(SystemdError::Call { name: Some(n), .. }) if n == UNIT_EXISTS => {
                if unit.ends_with(".slice") {
                    return Ok(());
                }
                self.reset_failed(unit);
                self.job(M, unit, &args)
            }
            other => other,
        }
    }

    /// SetUnitProperties with runtime=true (nothing persists past reboot).
    pub fn set_properties(&self, unit: &str, props: &[Prop]) -> Result<(), SystemdError> {
        if props.is_empty() {
            return Ok(());
        }
        zbus::block_on(
            self.proxy
                .call_method("SetUnitProperties", &(unit, true, props_arg(props))),
        )
        .map(drop)
        .map_err(|e| SystemdError::call("SetUnitProperties", unit, &e))
    }

    /// StopUnit, waiting for the job; a unit that is already gone is fine.
    /// Then ResetFailedUnit, so that no failed unit stays listed.
    pub fn stop_unit(&self, unit: &str) -> Result<(), SystemdError> {
        let res = match self.job("StopUnit", unit, &(unit, "replace")) {
            Err(SystemdError::Call { name: Some(n), .. }) if n == NO_SUCH_UNIT => Ok(()),
            other => other,
        };
        self.reset_failed(unit);
        res
    }

    pub fn reset_failed(&self, unit: &str) {
        if let Err(e) = zbus::block_on(self.proxy.call_method("ResetFailedUnit", &(unit,))) {
            tracing::debug!("systemd ResetFailedUnit {unit}: {e}");
        }
    }

    /// systemd's JobRemoved signals. On the bus, the proxy's stream (sent
    /// by systemd's unique name); on the private socket only systemd is
    /// there and its sender is not a bus name (see private_socket.rs), so
    /// the rule names no sender.
    async fn job_removed(
        &self,
    ) -> zbus::Result<std::pin::Pin<Box<dyn futures_lite::Stream<Item = zbus::Message> + Send>>>
    {
        let conn = self.proxy.connection();
        if conn.is_bus() {
            return Ok(Box::pin(self.proxy.receive_signal("JobRemoved").await?));
        }
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .path(MANAGER_PATH)?
            .interface(MANAGER)?
            .member("JobRemoved")?
            .build();
        let stream = zbus::MessageStream::for_match_rule(rule, conn, None).await?;
        Ok(Box::pin(stream.filter_map(Result::ok)))
    }

    /// Calls `method` (which returns a job path) and waits for that job's
    /// JobRemoved; a result other than "done" is an error.
    fn job<B>(&self, method: &'static str, unit: &str, args: &B) -> Result<(), SystemdError>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        zbus::block_on(async {
            let mut removed = self
                .job_removed()
                .await
                .map_err(|e| SystemdError::call(method, unit, &e))?;
            let job: OwnedObjectPath = self
                .proxy
                .call(method, args)
                .await
                .map_err(|e| SystemdError::call(method, unit, &e))?;
            let wait = async {
                while let Some(msg) = removed.next().await {
                    let body = msg.body();
                    let Ok((_id, path, _unit, result)) =
                        body.deserialize::<(u32, OwnedObjectPath, String, String)>()
                    else {
                        continue;
                    };
                    if path == job {
                        return Ok(result);
                    }
                }
                Err(SystemdError::Job {
                    method: method.into(),
                    unit: unit.to_string(),
                    result: "the connection to systemd closed before the job finished".into(),
                })
            };
            let timeout = async {
                async_io::Timer::after(JOB_TIMEOUT).await;
                Err(SystemdError::Job {
                    method: method.into(),
                    unit: unit.to_string(),
                    result: format!("the job did not finish within {} s", JOB_TIMEOUT.as_secs()),
                })
            };
            let result = futures_lite::future::or(wait, timeout).await?;
            if result == "done" {
                Ok(())
            } else {
                Err(SystemdError::Job {
                    method: method.into(),
                    unit: unit.to_string(),
                    result: format!("job {result} (see journalctl -u {unit})"),
                })
            }
        })
    }
}

/// The system bus's address as zbus takes it: the environment's, else the
/// well-known socket.
fn system_bus_address() -> String {
    std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .unwrap_or_else(|_| "unix:path=/var/run/dbus/system_bus_socket".into())
}

impl SystemdError {
    pub(crate) fn call(method: &'static str, unit: &str, e: &zbus::Error) -> Self {
        let (name, reason) = reason(e);
        SystemdError::Call {
            method: method.into(),
            unit: crate::error::one_line(unit),
            name,
            reason: crate::error::one_line(&reason),
        }
    }
}
