//! Where logs go: stderr in the foreground, else a file (`--log-file`) or syslog (which
//! journald collects on systemd machines).

use std::ffi::CString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

pub enum LogTarget<'a> {
    Stderr,
    File(&'a Path),
    Syslog,
}

/// The socket syslog(3) writes to; containers and many compute nodes have none.
const SYSLOG_SOCKET: &str = "/dev/log";

/// Where background logs go when there is no syslog: `$XDG_STATE_HOME/weaverfs/weaverfs.log`,
/// else root's `/var/log/weaverfs.log`, a user's `~/.local/state/weaverfs/weaverfs.log`.
pub fn fallback_log_file() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    // SAFETY: getuid cannot fail.
    let root = unsafe { libc::getuid() } == 0;
    match state {
        Some(dir) => dir.join("weaverfs").join("weaverfs.log"),
        None if root => PathBuf::from("/var/log/weaverfs.log"),
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".local/state"))
            .unwrap_or_else(std::env::temp_dir)
            .join("weaverfs")
            .join("weaverfs.log"),
    }
}

fn has_syslog() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(SYSLOG_SOCKET).is_ok_and(|m| m.file_type().is_socket())
}

/// Installs the global subscriber. `verbose`: 0 info, 1 debug, 2+ trace; RUST_LOG overrides.
/// Colour only on a terminal. Returns the file logs went to instead of syslog, if there is no
/// syslog on this machine (the caller says where).
pub fn init(verbose: u8, target: LogTarget) -> Result<Option<PathBuf>, String> {
    let default = match verbose {
        0 => "weaverfs=info",
        1 => "weaverfs=debug",
        _ => "weaverfs=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let fallback = (matches!(target, LogTarget::Syslog) && !has_syslog()).then(fallback_log_file);
    let target = match &fallback {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("log directory {}: {e}", dir.display()))?;
            }
            LogTarget::File(path)
        }
        None => target,
    };
    match target {
        LogTarget::Stderr => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init(),
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
    Ok(fallback)
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
