//! Reading a file from a server that ignores Range: one GET of the whole body per file, cut into
//! blocks that go into the block cache as they arrive. The stream stays at most a few blocks
//! ahead of the furthest block a reader waits for, so a large file is not pulled into memory,
//! and it is restarted from byte 0 only when a reader needs a block it has passed and the cache
//! no longer holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Response;
use tokio::sync::{watch, Notify};

use super::remote::RemoteFile;
use crate::cache::{blocks, BlockCache};
use crate::client::http::{self, HttpClient};
use crate::error::{FsError, Result};
use crate::stats::Stats;

/// A stream with no reader waiting for this long is dropped.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Progress {
    /// Blocks `[0, next)` have been delivered to the cache.
    next: u64,
    failed: Option<FsError>,
}

/// What readers wait for, shared by the stream's task and its readers.
#[derive(Debug, Default)]
struct Demand {
    /// The furthest block a reader waits for.
    wanted: AtomicU64,
    moved: Notify,
    /// How many blocks the stream may run ahead of `wanted`.
    ahead: u64,
}

#[derive(Debug)]
pub struct BodyStream {
    progress: watch::Receiver<Progress>,
    demand: Arc<Demand>,
    task: tokio::task::AbortHandle,
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BodyStream {
    fn start(
        file: Arc<RemoteFile>,
        resp: Response,
        cache: Arc<BlockCache>,
        block_size: u64,
        ahead: u64,
        stats: Arc<Stats>,
    ) -> Arc<BodyStream> {
        let (tx, rx) = watch::channel(Progress {
            next: 0,
            failed: None,
        });
        let demand = Arc::new(Demand {
            ahead,
            ..Demand::default()
        });
        let task_demand = demand.clone();
        // Dropping the stream aborts the task (see Drop).
        let task = tokio::spawn(async move {
            let result = pump(&file, resp, &cache, &stats, block_size, &tx, &task_demand).await;
            if let Err(e) = result {
                tx.send_modify(|p| p.failed = Some(e));
            }
        });
        Arc::new(BodyStream {
            progress: rx,
            demand,
            task: task.abort_handle(),
        })
    }

    fn next_block(&self) -> u64 {
        self.progress.borrow().next
    }

    fn usable_for(&self, index: u64) -> bool {
        let p = self.progress.borrow();
        p.failed.is_none() && p.next <= index
    }

    /// Waits until block `index` has been delivered (or the stream failed).
    async fn wait_for(&self, index: u64) -> Result<()> {
        self.demand.wanted.fetch_max(index, Ordering::Relaxed);
        self.demand.moved.notify_one();
        let mut rx = self.progress.clone();
        let p = rx
            .wait_for(|p| p.next > index || p.failed.is_some())
            .await
            .map_err(|_| FsError::io("the download stream ended"))?;
        match &p.failed {
            Some(e) if p.next <= index => Err(e.clone()),
            _ => Ok(()),
        }
    }
}

/// Copies the body into the cache block by block.
async fn pump(
    file: &RemoteFile,
    mut resp: Response,
    cache: &BlockCache,
    stats: &Stats,
    block_size: u64,
    progress: &watch::Sender<Progress>,
    demand: &Demand,
) -> Result<()> {
    let size = file.size();
    let count = blocks::block_count(block_size, size);
    let what = format!("GET {} (whole body)", file.url);
    let mut buf = BytesMut::new();
    let mut index = 0u64;
    while index < count {
        let want = blocks::block_span(index, block_size, size);
        let want = (want.end - want.start) as usize;
        while buf.len() < want {
            match resp
                .chunk()
                .await
                .map_err(|e| http::transport_error(&what, e))?
            {
                Some(chunk) => {
                    stats.fetched(chunk.len());
                    buf.extend_from_slice(&chunk)
                }
                None => {
                    return Err(FsError::unavailable(format!(
                        "{what}: the body ended before the file's {size} bytes"
                    )))
                }
            }
        }
        let block: Bytes = buf.split_to(want).freeze();
        cache.insert((file.key.clone(), index), block);
        index += 1;
        progress.send_modify(|p| p.next = index);
        // Backpressure: stay a few blocks ahead of the readers.
        while index > demand.wanted.load(Ordering::Relaxed) + demand.ahead {
            if tokio::time::timeout(IDLE_LIMIT, demand.moved.notified())
                .await
                .is_err()
            {
                return Err(FsError::io("the download stream was idle and was dropped"));
            }
        }
    }
    if !buf.is_empty() || resp.chunk().await.ok().flatten().is_some() {
        return Err(file.stale());
    }
    Ok(())
}

/// Block `index` of a file whose server ignores Range. `first` is a whole-body response that
/// has already started (the answer to a range request), if any.
pub async fn fetch_block(
    file: &Arc<RemoteFile>,
    http: &HttpClient,
    cache: &Arc<BlockCache>,
    block_size: u64,
    ahead: u64,
    index: u64,
    mut first: Option<Response>,
) -> Result<Bytes> {
    for _ in 0..3 {
        let stream = {
            let mut current = file.body_stream.lock().await;
            match current.as_ref() {
                Some(s) if s.usable_for(index) => s.clone(),
                _ => {
                    let resp = match first.take() {
                        Some(r) => r,
                        None => file.get_whole(http).await?,
                    };
                    let stats = http.stats().clone();
                    let s = BodyStream::start(
                        file.clone(),
                        resp,
                        cache.clone(),
                        block_size,
                        ahead,
                        stats,
                    );
                    *current = Some(s.clone());
                    s
                }
            }
        };
        stream.wait_for(index).await?;
        if let Some(block) = cache.get(&(file.key.clone(), index)) {
            return Ok(block);
        }
        // Evicted between delivery and now; the next stream must start over.
        tracing::debug!(
            "block {index} of {} left the cache before it was read (stream at {})",
            file.url,
            stream.next_block()
        );
    }
    Err(FsError::Io(format!(
        "{}: the server ignores Range and the cache is too small to read this file",
        file.url
    )))
}
