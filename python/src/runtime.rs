//! The one tokio runtime of the process, shared by every filesystem, and how Python threads
//! wait on it: with the GIL released, so other Python threads run while the network is slow,
//! and interruptible by Ctrl-C.

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

/// How often a waiting call looks at Python's signals, so that Ctrl-C in a notebook ends a
/// slow call with KeyboardInterrupt.
const SIGNAL_CHECK: Duration = Duration::from_millis(200);

/// Runs `fut` to completion on the shared runtime without the GIL, giving up after `limit`
/// (as the mount does for one filesystem call), or when a signal handler raises (Ctrl-C).
pub fn wait<T, F>(py: Python<'_>, limit: Duration, fut: F) -> PyResult<Result<T, FsError>>
where
    F: Future<Output = Result<T, FsError>> + Send,
    T: Send,
{
    let rt = runtime()?;
    py.detach(|| {
        rt.block_on(async {
            let fut = tokio::time::timeout(limit, fut);
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    done = &mut fut => {
                        return Ok(done.unwrap_or_else(|_| {
                            Err(FsError::TimedOut(format!(
                                "no answer within {} s",
                                limit.as_secs()
                            )))
                        }));
                    }
                    _ = tokio::time::sleep(SIGNAL_CHECK) => {
                        Python::attach(|py| py.check_signals())?;
                    }
                }
            }
        })
    })
}
