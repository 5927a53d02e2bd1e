//! The one tokio runtime of the process, shared by every filesystem, and how Python threads
//! wait on it: with the GIL released, so other Python threads run while the network is slow.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use weaverfs_fs::error::FsError;

/// The runtime, and the process that made it: a forked child (multiprocessing, dask's
/// process pool) has none of its parent's threads, so it makes its own.
static RUNTIME: Mutex<Option<(u32, Arc<tokio::runtime::Runtime>)>> = Mutex::new(None);

/// The runtime of this process, made on first use.
pub fn runtime() -> PyResult<Arc<tokio::runtime::Runtime>> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return Ok(rt.clone());
        }
        // The parent's runtime: its worker threads do not exist here, so dropping it would
        // wait for them forever. It is left as it is.
        std::mem::forget(slot.take());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weaverfs")
        .build()
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("tokio runtime: {e}")))?;
    let rt = Arc::new(rt);
    *slot = Some((pid, rt.clone()));
    Ok(rt)
}

/// Runs `fut` to completion on the shared runtime without the GIL, giving up after `limit`
/// (as the mount does for one filesystem call).
pub fn wait<T, F>(py: Python<'_>, limit: Duration, fut: F) -> PyResult<Result<T, FsError>>
where
    F: Future<Output = Result<T, FsError>> + Send,
    T: Send,
{
    let rt = runtime()?;
    Ok(py.detach(|| {
        rt.block_on(async {
            match tokio::time::timeout(limit, fut).await {
                Ok(result) => result,
                Err(_) => Err(FsError::TimedOut(format!(
                    "no answer within {} s",
                    limit.as_secs()
                ))),
            }
        })
    }))
}
