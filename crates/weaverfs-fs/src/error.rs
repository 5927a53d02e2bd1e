//! The one error type of the core, and its mapping to errno values.

use std::fmt;

/// Why a filesystem operation failed. Every variant maps to one documented errno.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FsError {
    /// No such job, output or file; also results that were dismissed or purged (404/410).
    #[error("not found: {0}")]
    NotFound(String),
    /// The remote file changed under an open handle (new ETag or Last-Modified).
    #[error("file changed on the server: {0}")]
    Stale(String),
    /// The server answered something we cannot use, or the network failed.
    #[error("I/O error: {0}")]
    Io(String),
    /// A failure worth retrying: a connection reset or refused, a 429/5xx answer (with the
    /// delay its `Retry-After` asks for), a truncated or mislabelled body. EIO once retries
    /// are exhausted.
    #[error("I/O error: {0}")]
    Unavailable(String, Option<std::time::Duration>),
    /// A request took longer than its timeout.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// The server refused our credentials (401/403).
    #[error("access denied: {0}")]
    Denied(String),
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("bad file handle")]
    BadHandle,
}

impl FsError {
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound(_) => libc::ENOENT,
            FsError::Stale(_) => libc::ESTALE,
            FsError::Io(_) | FsError::Unavailable(..) => libc::EIO,
            FsError::TimedOut(_) => libc::ETIMEDOUT,
            FsError::Denied(_) => libc::EACCES,
            FsError::NotDir => libc::ENOTDIR,
            FsError::IsDir => libc::EISDIR,
            FsError::BadHandle => libc::EBADF,
        }
    }

    pub fn io(what: impl fmt::Display) -> Self {
        FsError::Io(what.to_string())
    }

    pub fn unavailable(what: impl fmt::Display) -> Self {
        FsError::Unavailable(what.to_string(), None)
    }

    /// Whether trying again may succeed: network failures, timeouts, 429 and 5xx answers.
    pub fn is_transient(&self) -> bool {
        matches!(self, FsError::Unavailable(..) | FsError::TimedOut(_))
    }
}

pub type Result<T, E = FsError> = std::result::Result<T, E>;
