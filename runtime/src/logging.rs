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

/// Collects the `message` field and the others as logrus fields (numbers
/// stay numbers in json, as runc's `pid` and `status`).
#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: Vec<(String, serde_json::Value)>,
}

impl MessageVisitor {
    fn field(&mut self, field: &Field, value: serde_json::Value) {
        self.fields.push((field.name().to_string(), value));
    }
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            // A path or string given as `?x` is Debug-quoted: kept once.
            let shown = format!("{value:?}");
            let value = serde_json::from_str::<String>(&shown).unwrap_or(shown);
            self.field(field, value.into());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.field(field, value.into());
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, value.into());
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

/// A logrus text value: bare when it is a plain word, quoted otherwise.
fn text_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c)) =>
        {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// One log line (without the newline), `fields` as logrus puts them: after `msg` in text, keys
/// of their own (all keys sorted) in json.
fn render_with(
    format: Format,
    level: &str,
    msg: &str,
    fields: &[(String, serde_json::Value)],
) -> String {
    match format {
        Format::Json => {
            let mut m: std::collections::BTreeMap<&str, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            m.insert("level", level.into());
            m.insert("msg", msg.into());
            m.insert("time", now().into());
            serde_json::to_string(&m).unwrap_or_default()
        }
        Format::Text => {
            let mut line = format!(
                "time=\"{}\" level={} msg={}",
                now(),
                level,
                serde_json::Value::String(msg.to_string())
            );
            for (k, v) in fields {
                let _ = write!(line, " {k}={}", text_value(v));
            }
            line
        }
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
        let mut line = render_with(self.format, level_name(&level), &v.message, &v.fields);
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
