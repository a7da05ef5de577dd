//! Logging through `tracing`, in cloud-init's log format:
//! `2026-11-23 23:18:06,123 - boot.rs[DEBUG]: message` (UTC).
//!
//! Everything goes to `/var/log/cloud-init.log` in the root (mode 0640) once
//! a live run opens it; warnings and errors (everything with `--debug`) also
//! go to stderr. A plan never opens the log file: it writes nothing.
//! A small subscriber of our own: the format is fixed and start-up stays cheap.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

struct Logger {
    file: Mutex<Option<File>>,
    debug_to_stderr: AtomicBool,
    next_span: AtomicU64,
}

static LOGGER: Logger = Logger {
    file: Mutex::new(None),
    debug_to_stderr: AtomicBool::new(false),
    next_span: AtomicU64::new(1),
};

struct Forward;

/// Installs the subscriber (once per process).
pub fn init(debug: bool) {
    LOGGER.debug_to_stderr.store(debug, Ordering::Relaxed);
    let _ = tracing::subscriber::set_global_default(Forward);
}

/// Starts appending to the log file `guest` in `root` (created 0640).
pub fn open_file(root: &crate::rootfs::Root, guest: &Path) -> std::io::Result<()> {
    let f = root.open_append(guest, 0o640)?;
    *LOGGER.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    Ok(())
}

/// Stops writing to the log file (the next stage of `boot` may open another).
pub fn close_file() {
    *LOGGER.file.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

fn line(meta: &Metadata, msg: &str) -> String {
    let now = chrono::Utc::now();
    let file = meta
        .file()
        .and_then(|f| Path::new(f).file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| meta.target().to_string());
    let level = match *meta.level() {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "DEBUG",
    };
    format!(
        "{},{:03} - {file}[{level}]: {msg}\n",
        now.format("%Y-%m-%d %H:%M:%S"),
        now.timestamp_subsec_millis()
    )
}

impl Subscriber for Forward {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= Level::DEBUG
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(LOGGER.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut msg = Message::default();
        event.record(&mut msg);
        let text = line(meta, &msg.0);
        if let Some(f) = LOGGER
            .file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            let _ = f.write_all(text.as_bytes());
        }
        if *meta.level() <= Level::WARN || LOGGER.debug_to_stderr.load(Ordering::Relaxed) {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
