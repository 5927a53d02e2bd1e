//! The core's errors as the Python exceptions a user expects from a file API, with the
//! server's reason in the message and the path as `filename`.

use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyNotADirectoryError, PyOSError, PyPermissionError,
    PyTimeoutError,
};
use pyo3::PyErr;
use weaverfs_fs::error::FsError;

/// The exception for `err` met at `path`.
pub fn to_py(err: FsError, path: &str) -> PyErr {
    let errno = err.errno();
    let args = (errno, err.to_string(), path.to_owned());
    match err {
        FsError::NotFound(_) => PyFileNotFoundError::new_err(args),
        FsError::Denied(_) => PyPermissionError::new_err(args),
        FsError::NotDir => PyNotADirectoryError::new_err(args),
        FsError::IsDir => PyIsADirectoryError::new_err(args),
        FsError::TimedOut(_) => PyTimeoutError::new_err(args),
        // A file changed under an open handle (ESTALE), the network, the server's answer.
        FsError::Stale(_) | FsError::Io(_) | FsError::Unavailable(..) | FsError::BadHandle => {
            PyOSError::new_err(args)
        }
    }
}
