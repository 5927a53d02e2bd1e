//! Reading a file from a server that ignores Range: one GET of the whole body per file, cut into
//! blocks that go to the readers waiting for them and into the block cache as they arrive. The
//! stream stays at most a few blocks ahead of the furthest block a reader waits for, so a large
//! file is not pulled into memory, and it is restarted only when a reader needs a block it has
//! passed and the cache no longer holds. A reader gets its block from the stream itself, so a
//! cache smaller than the file (or busy with other files) never fails a read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Response;
use tokio::sync::{oneshot, Notify};

use super::remote::{RangeAnswer, RemoteFile};
use crate::cache::{blocks, BlockCache, BufferPool, DiskCache};
use crate::client::http::{self, HttpClient};
use crate::error::{FsError, Result};

/// Where a stream's blocks are kept on disk too: the cache and the file version's key there.
pub type DiskTarget = Option<(Arc<DiskCache>, Arc<str>)>;

/// A stream with no reader waiting for this long is dropped.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

type Waiter = oneshot::Sender<Result<Bytes>>;

#[derive(Debug, Default)]
struct Progress {
    /// Blocks `[0, next)` have been delivered.
    next: u64,
    failed: Option<FsError>,
    /// Readers waiting for a block not delivered yet, by block.
    waiters: BTreeMap<u64, Vec<Waiter>>,
}

/// What readers wait for, shared by the stream's task and its readers.
#[derive(Debug, Default)]
struct Demand {
    progress: Mutex<Progress>,
    /// The furthest block a reader waits for.
    wanted: AtomicU64,
    moved: Notify,
    /// How many blocks the stream may run ahead of `wanted`.
    ahead: u64,
}

impl Demand {
    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug)]
pub struct BodyStream {
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
        http: HttpClient,
        cache: Arc<BlockCache>,
        disk: DiskTarget,
        block_size: u64,
        ahead: u64,
    ) -> Arc<BodyStream> {
        let demand = Arc::new(Demand {
            ahead,
            ..Demand::default()
        });
        let task_demand = demand.clone();
        // Dropping the stream aborts the task (see Drop), which drops the waiters' senders.
        let task = tokio::spawn(async move {
            let result = pump(&file, resp, &http, &cache, &disk, block_size, &task_demand).await;
            if let Err(e) = result {
                let waiters = {
                    let mut p = task_demand.progress();
                    p.failed = Some(e.clone());
                    std::mem::take(&mut p.waiters)
                };
                for w in waiters.into_values().flatten() {
                    let _ = w.send(Err(e.clone()));
                }
            }
        });
        Arc::new(BodyStream {
            demand,
            task: task.abort_handle(),
        })
    }

    /// Where block `index` will come from, or None when this stream has passed it or failed.
    fn subscribe(&self, index: u64) -> Option<oneshot::Receiver<Result<Bytes>>> {
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.demand.progress();
            if p.failed.is_some() || p.next > index {
                return None;
            }
            p.waiters.entry(index).or_default().push(tx);
        }
        self.demand.wanted.fetch_max(index, Ordering::Relaxed);
        self.demand.moved.notify_one();
        Some(rx)
    }
}

/// Copies the body into blocks, for their waiters and the cache.
async fn pump(
    file: &RemoteFile,
    mut resp: Response,
    http: &HttpClient,
    cache: &BlockCache,
    disk: &DiskTarget,
    block_size: u64,
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
                    http.stats().fetched(chunk.len());
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
        cache.insert((file.key.clone(), index), block.clone());
        if let Some((disk, key)) = disk {
            let expected = file.verifier().map(|v| v.expected().clone());
            disk.store(key.clone(), index, block.clone(), expected);
        }
        let waiters = {
            let mut p = demand.progress();
            p.next = index + 1;
            p.waiters.remove(&index).unwrap_or_default()
        };
        for w in waiters {
            let _ = w.send(Ok(block.clone()));
        }
        index += 1;
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
        // Longer than the file: another version, or a faulty answer; a HEAD tells which (after
        // this answer gives back its place under the per-origin limit).
        drop(resp);
        return Err(file
            .changed_or_fault(http, &what, "the body is longer than the file")
            .await);
    }
    Ok(())
}

/// Block `index` of a file whose server ignores Range. `first` is a whole-body response that
/// has already started (the answer to a range request), if any. Every block the stream
/// passes goes to the memory cache, and to `disk` when given.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_block(
    file: &Arc<RemoteFile>,
    http: &HttpClient,
    cache: &Arc<BlockCache>,
    buffers: &Arc<BufferPool>,
    disk: DiskTarget,
    block_size: u64,
    ahead: u64,
    index: u64,
    mut first: Option<Response>,
) -> Result<Bytes> {
    for _ in 0..3 {
        let (stream, block) = {
            let mut current = file.body_stream.lock().await;
            match current
                .as_ref()
                .and_then(|s| Some((s.clone(), s.subscribe(index)?)))
            {
                Some(found) => found,
                None => {
                    if let Some(block) = cache.get(&(file.key.clone(), index)) {
                        return Ok(block);
                    }
                    let resp = match first.take() {
                        Some(r) => r,
                        // A range request, not a plain GET: a server judged not to serve
                        // ranges on a fault or two gets the chance to show it does.
                        None => {
                            let span = blocks::block_span(index, block_size, file.size());
                            match file.get_range(http, span.start, span.end, buffers).await? {
                                RangeAnswer::Bytes(b) => return Ok(b),
                                RangeAnswer::WholeBody(r) => r,
                            }
                        }
                    };
                    let s = BodyStream::start(
                        file.clone(),
                        resp,
                        http.clone(),
                        cache.clone(),
                        disk.clone(),
                        block_size,
                        ahead,
                    );
                    let block = s
                        .subscribe(index)
                        .expect("a new stream is before every block");
                    *current = Some(s.clone());
                    (s, block)
                }
            }
        };
        match block.await {
            Ok(result) => return result,
            // The stream was dropped before this block (its task aborted): start another.
            Err(_) => tracing::debug!("the stream of {} ended before block {index}", file.url),
        }
        drop(stream);
    }
    Err(FsError::io(format!(
        "{}: the download stream kept ending",
        file.url
    )))
}
