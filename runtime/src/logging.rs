//! Log lines in runc's (logrus) formats, because containerd's runc shim parses
//! the `--log` file (json) to report why a command failed.
//!
//! text: `time="2024-01-02T03:04:05Z" level=error msg="..."`
//! json: `{"level":"error","msg":"...","time":"2024-01-02T03:04:05Z"}`

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "--log-format: unknown log format {other:?} (expected text or json)"
            )),
        }
    }
}

enum Sink {
    Stderr,
    File(Mutex<File>),
}

struct RuncLayer {
    format: Format,
    sink: Sink,
    max_level: Level,
}

/// Collects the `message` field and appends the other fields as `k=v`.
#[derive(Default)]
struct MessageVisitor {
    message: String,
    extra: String,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.extra, " {}={:?}", field.name(), value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.extra, " {}={value}", field.name());
        }
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Renders one log line (without the newline).
pub fn render(format: Format, level: &str, msg: &str) -> String {
    match format {
        Format::Json => serde_json::json!({"level": level, "msg": msg, "time": now()}).to_string(),
        Format::Text => format!(
            "time=\"{}\" level={} msg={}",
            now(),
            level,
            serde_json::Value::String(msg.to_string())
        ),
    }
}

impl RuncLayer {
    /// libcontainer warns about things that are normal for us (controllers
    /// its v1 manager does not find on hybrid hosts, ambient capabilities):
    /// its warnings are noise unless debugging, its errors are kept.
    fn level_for(&self, target: &str) -> Level {
        let dependency = target.starts_with("libcontainer") || target.starts_with("libcgroups");
        if dependency && self.max_level < Level::DEBUG {
            Level::ERROR
        } else {
            self.max_level
        }
    }
}

fn muted(level: &Level, layer: &RuncLayer, target: &str) -> bool {
    let dependency = target.starts_with("libcontainer") || target.starts_with("libcgroups");
    if dependency && layer.max_level < Level::DEBUG && rcrun::log_control::dependencies_muted() {
        return true;
    }
    *level > layer.level_for(target)
}

impl<S: Subscriber> Layer<S> for RuncLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        !muted(metadata.level(), self, metadata.target())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if muted(&level, self, event.metadata().target()) {
            return;
        }
        let mut v = MessageVisitor::default();
        event.record(&mut v);
        let mut line = render(self.format, level_name(&level), &(v.message + &v.extra));
        line.push('\n');
        match &self.sink {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::File(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
    }
}

/// Where errors go besides the log: runc prints the bare message on stderr
/// when the log goes to a file.
pub struct LogTarget {
    pub to_stderr: bool,
}

pub fn init(log: Option<&Path>, format: Format, debug: bool) -> std::io::Result<LogTarget> {
    let sink = match log {
        Some(path) if path != Path::new("/dev/stderr") => {
            // O_CLOEXEC (std's default) keeps the log fd out of the container.
            let f = OpenOptions::new().create(true).append(true).open(path)?;
            rcrun::log_control::set_log_fd(f.as_raw_fd());
            Sink::File(Mutex::new(f))
        }
        _ => Sink::Stderr,
    };
    let to_stderr = matches!(sink, Sink::Stderr);
    let max_level = if debug { Level::DEBUG } else { Level::WARN };
    let layer = RuncLayer {
        format,
        sink,
        max_level,
    };
    // try_init: a second init (tests) is harmless.
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(LogTarget { to_stderr })
}
