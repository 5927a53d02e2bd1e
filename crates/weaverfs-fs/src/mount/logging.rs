//! Where logs go: stderr in the foreground, else a file (`--log-file`) or syslog (which
//! journald collects on systemd machines).

use std::ffi::CString;
use std::io::Write;
use std::path::Path;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

pub enum LogTarget<'a> {
    Stderr,
    File(&'a Path),
    Syslog,
}

/// Installs the global subscriber. `verbose`: 0 info, 1 debug, 2+ trace; RUST_LOG overrides.
pub fn init(verbose: u8, target: LogTarget) -> Result<(), String> {
    let default = match verbose {
        0 => "weaverfs=info",
        1 => "weaverfs=debug",
        _ => "weaverfs=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match target {
        LogTarget::Stderr => builder.with_writer(std::io::stderr).init(),
        LogTarget::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("log file {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init()
        }
        LogTarget::Syslog => {
            // SAFETY: openlog keeps the pointer, so the identity is a 'static C string.
            unsafe { libc::openlog(c"weaverfs".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
            builder
                .with_ansi(false)
                .without_time() // syslog stamps each line itself
                .with_writer(Syslog)
                .init()
        }
    }
    Ok(())
}

/// Sends each formatted event to syslog(3) at the priority of its level.
struct Syslog;

pub struct SyslogLine {
    priority: libc::c_int,
    buf: Vec<u8>,
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        SyslogLine {
            priority: libc::LOG_INFO,
            buf: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine {
        let priority = match *meta.level() {
            Level::ERROR => libc::LOG_ERR,
            Level::WARN => libc::LOG_WARNING,
            Level::INFO => libc::LOG_INFO,
            _ => libc::LOG_DEBUG,
        };
        SyslogLine {
            priority,
            buf: Vec::new(),
        }
    }
}

impl Write for SyslogLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf).replace('\0', " ");
        let Ok(line) = CString::new(text.trim_end()) else {
            return;
        };
        // SAFETY: a constant format and a NUL-terminated string we own.
        unsafe { libc::syslog(self.priority, c"%s".as_ptr(), line.as_ptr()) };
    }
}
