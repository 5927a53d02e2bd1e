//! The read path of remote files: reads map onto blocks, blocks come from the cache or from one
//! validated range request each, and sequential readers get a growing read-ahead window.

pub mod body_stream;
pub mod digest;
pub mod remote;

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::cache::{blocks, BlockCache, BufferPool, DiskCache};
use crate::client::http::HttpClient;
use crate::client::limit::{self, Urgency};
use crate::error::Result;
pub use remote::{probe, probe_with_first_bytes, Probed, RemoteFile, RemoteMeta, PROBE_BYTES};

/// Where the bytes size probes bring along go: the block cache, as whole blocks, and the
/// first bytes of a larger file under [`blocks::HEAD_INDEX`] for a first small read.
#[derive(Clone)]
pub struct FirstBytes {
    cache: Arc<BlockCache>,
    block_size: u64,
}

impl FirstBytes {
    /// How many bytes a probe asks for.
    pub fn want(&self) -> u64 {
        PROBE_BYTES
    }

    /// Keeps the first bytes of `file` that a probe got.
    pub fn keep(&self, file: &RemoteFile, first: Bytes) {
        let got = first.len() as u64;
        if got == 0 {
            return;
        }
        for index in 0..blocks::block_count(self.block_size, file.size()) {
            let span = blocks::block_span(index, self.block_size, file.size());
            if span.end > got {
                break;
            }
            let block = first.slice(span.start as usize..span.end as usize);
            self.cache.insert((file.key.clone(), index), block);
        }
        if got < file.size() && !got.is_multiple_of(self.block_size) {
            self.cache
                .insert((file.key.clone(), blocks::HEAD_INDEX), first);
        }
    }
}

/// Where a handle's reads have been, to tell sequential reading from random reading.
#[derive(Debug, Default)]
pub struct ReadState {
    reads: u64,
    next_offset: u64,
    /// Read-ahead window in blocks; 0 while reads look random.
    window: u64,
    /// Blocks up to here have been requested ahead already.
    prefetched_to: Option<u64>,
    /// Bytes read sequentially since the window opened.
    bytes: u64,
    /// The window's current size, measured; None before it opens.
    step: Option<Step>,
}

/// How fast a reader went with one window size: the window doubles again only when it went
/// faster than with the size before (on a link bound by its bandwidth, not its round trip, a
/// wider window only holds more of the cache in flight).
#[derive(Debug, Clone, Copy)]
struct Step {
    /// When the window took this size, and the bytes read by then.
    since: Instant,
    bytes_then: u64,
    /// Bytes per second with the size before (0: not measured, the window grows freely).
    rate_before: f64,
}

/// Below this many blocks the window doubles on every wait, measured or not: a reader's first
/// round trips are worth more than the memory.
const FREE_WINDOW: u64 = 16;

/// How much faster a wider window must have made the reader for it to double again.
const GROWTH_WORTH_IT: f64 = 1.125;

/// How far behind or ahead of the furthest read so far a read may land and still count as
/// sequential:
/// the kernel sends a sequential reader's reads several at a time, and they arrive out of order
/// (`limits.md`: a reader that takes each for a seek collapses).
const REORDER_SLACK: u64 = 4 << 20;

/// The most bytes one read-ahead request asks for: several blocks in one round trip, cut into
/// blocks for the cache. Well within what a connection carries in a round trip on a long link
/// (a TCP window of a few MiB; a body as large as the window takes two round trips): more bytes
/// in flight need more requests, not larger ones.
const MAX_REQUEST_BYTES: u64 = 2 << 20;

/// Read-ahead requests that cover a full window: on a long link each connection carries about
/// a window of bytes per round trip, so the requests, not their sizes, grow with the
/// bandwidth-delay product.
const REQUESTS_PER_WINDOW: u64 = 8;

/// Where a read's blocks are when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    /// All in the cache: the reader does not wait.
    Cached,
    /// All in the cache or on their way (read ahead, or asked for by another read).
    Coming,
    /// Some not asked for yet.
    Missing,
}

/// How one read is served.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// Fetch just the bytes asked for, not the blocks around them.
    direct: bool,
    /// The handle's first read, which starts its own blocks in `prefetch`.
    first: bool,
    /// Blocks to fetch into the cache in the background.
    prefetch: std::ops::Range<u64>,
    /// Blocks per read-ahead request.
    run: u64,
}

#[derive(Clone)]
pub struct Reader {
    http: HttpClient,
    cache: Arc<BlockCache>,
    /// The buffers of the blocks, reused.
    buffers: Arc<BufferPool>,
    block_size: u64,
    max_window: u64,
    /// The disk cache, when the mount has one.
    disk: Option<Arc<DiskCache>>,
    /// Only whole aligned blocks are requested (no small direct reads): what a disk cache
    /// keeps and what a site cache can serve to every node.
    whole_blocks: bool,
}

impl Reader {
    /// `max_window` is the largest read-ahead, in blocks; it is kept within half of the cache
    /// (blocks in flight count against the cache), so read-ahead never evicts what is being
    /// read, and within the requests read-ahead may have in flight at one origin (more would
    /// only queue for permits, holding cache).
    pub fn new(http: HttpClient, cache: Arc<BlockCache>, block_size: u64, max_window: u64) -> Self {
        let cache_blocks = (cache.capacity() / block_size).max(1);
        let run = (MAX_REQUEST_BYTES / block_size).max(1);
        let in_flight_blocks = http.limits().background_max() as u64 * run;
        http.stats().watch_cache(&cache);
        // Idle buffers are kept up to the cache's worth: those of the blocks it dropped.
        let buffers = BufferPool::new(block_size as usize, cache_blocks as usize);
        http.stats().watch_buffers(&buffers);
        Reader {
            max_window: max_window.min(cache_blocks / 2).min(in_flight_blocks),
            http,
            cache,
            buffers,
            block_size,
            disk: None,
            whole_blocks: false,
        }
    }

    /// Keeps blocks in `disk` too, across mounts.
    pub fn with_disk(mut self, disk: Option<Arc<DiskCache>>) -> Self {
        self.whole_blocks |= disk.is_some();
        if let Some(d) = &disk {
            self.http.stats().watch_disk(d);
            // Blocks in flight take room on disk too, beside the copy a complete file is
            // assembled into: an eighth of a small disk cache at most.
            let disk_blocks = d.limits().max_bytes / self.block_size;
            self.max_window = self.max_window.min((disk_blocks / 8).max(1));
        }
        self.disk = disk;
        self
    }

    /// Requests whole aligned blocks only (set when reads go through a proxy or site cache).
    pub fn whole_blocks_only(mut self, on: bool) -> Self {
        self.whole_blocks |= on;
        self
    }

    /// Where probes put the first bytes they get; None when reads must ask for whole blocks
    /// only (a disk cache, a site cache: probes stay HEADs there).
    pub fn first_bytes(&self) -> Option<FirstBytes> {
        (!self.whole_blocks).then(|| FirstBytes {
            cache: self.cache.clone(),
            block_size: self.block_size,
        })
    }

    pub fn disk(&self) -> Option<&Arc<DiskCache>> {
        self.disk.as_ref()
    }

    pub fn cache(&self) -> &Arc<BlockCache> {
        &self.cache
    }

    /// The buffers the blocks are read into.
    pub fn buffers(&self) -> &Arc<BufferPool> {
        &self.buffers
    }

    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// Up to `size` bytes at `offset`; fewer only at the end of the file.
    ///
    /// Sequential readers get whole blocks and a growing read-ahead. A random read, and the
    /// first read of a handle, fetch only the bytes asked for when whole blocks would be many
    /// times more: a 4 KiB probe of a large file costs one small request, not a megabyte.
    pub async fn read(
        &self,
        file: &Arc<RemoteFile>,
        state: &std::sync::Mutex<ReadState>,
        offset: u64,
        size: u64,
    ) -> Result<Bytes> {
        if file.is_stale() {
            // Seen replaced on the server: none of this version's bytes are served any more.
            return Err(file.stale());
        }
        if let Some(e) = file.corrupt_error() {
            return Err(e);
        }
        let Some(range) = blocks::blocks_for(offset, size, self.block_size, file.size()) else {
            return Ok(Bytes::new());
        };
        let end = (offset + size).min(file.size());
        let key = |i| (file.key.clone(), i);
        let ready = if range.clone().all(|i| self.cache.is_cached(&key(i))) {
            Ready::Cached
        } else if range.clone().all(|i| self.cache.is_present(&key(i))) {
            Ready::Coming
        } else {
            Ready::Missing
        };
        let plan = self.plan(
            state,
            offset,
            end - offset,
            &range,
            file.size(),
            ready,
            Instant::now(),
        );
        let mut own_blocks_started = !range.is_empty();
        // Until the server shows whether it serves ranges, one request at a time: a server that
        // ignores them would answer each parallel request with the whole file.
        let prefetch = if file.honours_range() || file.ignores_range() {
            plan.prefetch
        } else {
            0..0
        };
        for (index, started) in self.prefetch_blocks(file, prefetch, plan.run) {
            if range.contains(&index) {
                own_blocks_started &= started;
            }
        }
        // Direct when this read's blocks are not there yet: for a random read, none cached or
        // coming; for a first read, this very read started their fetch (a second reader of a
        // fresh file waits for those blocks instead of asking again).
        // A file with a digest is read in blocks, which the check hashes.
        let direct = plan.direct
            && !self.whole_blocks
            && file.verifier().is_none()
            && file.honours_range()
            && if plan.first {
                own_blocks_started
            } else {
                !range
                    .clone()
                    .any(|i| self.cache.is_present(&(file.key.clone(), i)))
            };
        if direct {
            // The first bytes a probe brought along.
            let head = self.cache.get(&(file.key.clone(), blocks::HEAD_INDEX));
            if let Some(head) = head.filter(|h| end <= h.len() as u64) {
                return Ok(head.slice(offset as usize..end as usize));
            }
            let what = format!("{} bytes {offset}-{}", file.url, end - 1);
            let answer = self
                .http
                .retry()
                .run(&what, || {
                    file.get_range(&self.http, offset, end, &self.buffers)
                })
                .await?;
            match answer {
                remote::RangeAnswer::Bytes(bytes) => return Ok(bytes),
                // The file is now known to ignore Range: the blocks below read it as a stream.
                remote::RangeAnswer::WholeBody(_) => {}
            }
        }
        let parts =
            futures::future::try_join_all(range.clone().map(|i| self.block(file, i))).await?;
        for (index, part) in range.clone().zip(&parts) {
            let span = blocks::block_span(index, self.block_size, file.size());
            if part.len() as u64 != span.end - span.start {
                return Err(crate::error::FsError::Io(format!(
                    "{}: block {index} has {} bytes, {} expected",
                    file.url,
                    part.len(),
                    span.end - span.start
                )));
            }
        }
        self.check_digest(file, range.clone(), &parts)?;
        let first_start = blocks::block_span(*range.start(), self.block_size, file.size()).start;
        if parts.len() == 1 {
            let skip = (offset - first_start) as usize;
            return Ok(parts[0].slice(skip..skip + (end - offset) as usize));
        }
        let mut out = BytesMut::with_capacity((end - offset) as usize);
        let mut pos = first_start;
        for part in &parts {
            let from = offset.max(pos) - pos;
            let to = (end - pos).min(part.len() as u64);
            out.extend_from_slice(&part[from as usize..to as usize]);
            pos += part.len() as u64;
        }
        Ok(out.freeze())
    }

    /// Hashes the blocks a read got for the file's digest check; when they complete a file
    /// whose bytes do not match, its blocks are dropped (memory and disk) and this read, and
    /// every later one of this version, is EIO.
    fn check_digest(
        &self,
        file: &Arc<RemoteFile>,
        range: std::ops::RangeInclusive<u64>,
        parts: &[Bytes],
    ) -> Result<()> {
        let Some(verifier) = file.verifier() else {
            return Ok(());
        };
        for (index, part) in range.zip(parts) {
            match verifier.feed(index, part) {
                digest::Verdict::Pending => {}
                digest::Verdict::Matched => {
                    tracing::info!("{}: read whole; its digest matches", file.url);
                    self.http.stats().digest_checked(true);
                }
                digest::Verdict::Mismatched(why) => {
                    tracing::error!(
                        "{}: read whole, its bytes are wrong: {why}; its cached blocks are \
                         dropped and its reads fail (EIO)",
                        file.url
                    );
                    self.http.stats().digest_checked(false);
                    self.forget_blocks(file);
                    return Err(file.corrupt(&format!("digest mismatch: {why}")));
                }
            }
        }
        Ok(())
    }

    /// Drops every cached block of a file version, in memory and on disk.
    pub fn forget_blocks(&self, file: &RemoteFile) {
        for index in 0..blocks::block_count(self.block_size, file.size()) {
            self.cache.remove(&(file.key.clone(), index));
        }
        self.cache.remove(&(file.key.clone(), blocks::HEAD_INDEX));
        if let Some(disk) = &self.disk {
            if let Err(e) = disk.forget(&self.disk_key(file)) {
                tracing::warn!("disk cache: cannot drop the blocks of {}: {e}", file.url);
            }
        }
    }

    /// The complete data file of `file` in the disk cache (assembled now if every block is
    /// there), for FUSE passthrough. None without one, or when the file has a digest its bytes
    /// were not checked against (its reads then go through the check).
    pub async fn complete_file(&self, file: &Arc<RemoteFile>) -> Option<std::fs::File> {
        let disk = self.disk.clone()?;
        file.meta.validator()?;
        let key = self.disk_key(file);
        let expected = file.verifier().map(|v| v.expected().clone());
        let (data, checked) =
            tokio::task::spawn_blocking(move || disk.complete_file(&key, expected.as_ref()))
                .await
                .ok()??;
        (checked || file.verifier().is_none()).then_some(data)
    }

    /// The disk cache's name of a file version's blocks.
    fn disk_key(&self, file: &RemoteFile) -> String {
        format!("{}\n{}", file.key, self.block_size)
    }

    /// Updates the handle's state and decides how to serve a read of `len` bytes at `offset`
    /// that touches `blocks`; `ready` says where those blocks are.
    ///
    /// A sequential reader's window (blocks requested ahead) doubles when the reader had to
    /// wait for its blocks: up to [`FREE_WINDOW`] on every wait, then only while each doubling
    /// made the reader faster (measured at `now` over half a window's worth of reads), so it grows
    /// until the requests in flight cover the bandwidth-delay product and stops where the link,
    /// not the round trip, bounds it; within `max_window`. A random read drops it to nothing.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        state: &std::sync::Mutex<ReadState>,
        offset: u64,
        len: u64,
        blocks: &std::ops::RangeInclusive<u64>,
        file_size: u64,
        ready: Ready,
        now: Instant,
    ) -> Plan {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let first = st.reads == 0;
        st.reads += 1;
        let slack = self.block_size.max(REORDER_SLACK);
        // Behind the furthest read, onto blocks read ahead or asked for already: a late read of
        // the kernel's batch (it has up to 64 reads in flight, which reach us in any order; a
        // 1 GiB `dd` at 100 ms saw reads 2-30 blocks late, each taken for a seek that dropped
        // the window to nothing). It changes nothing.
        if offset + slack < st.next_offset && ready != Ready::Missing {
            return Plan {
                direct: false,
                first: false,
                prefetch: 0..0,
                run: 1,
            };
        }
        // A little behind the furthest read or a little ahead of it.
        let sequential = offset + slack >= st.next_offset && offset <= st.next_offset + slack;
        st.next_offset = match sequential {
            true => st.next_offset.max(offset + len),
            false => offset + len,
        };
        let (first_block, last_block) = (*blocks.start(), *blocks.end());
        let span = blocks::block_span(first_block, self.block_size, file_size).start
            ..blocks::block_span(last_block, self.block_size, file_size).end;
        // Whole blocks would more than quadruple the bytes this read needs.
        let small = span.end - span.start > 4 * len;
        if !sequential {
            tracing::trace!(offset, len, next = st.next_offset, "seek");
            st.window = 0;
            st.prefetched_to = None;
            st.step = None;
            return Plan {
                direct: small,
                first: false,
                prefetch: 0..0,
                run: 1,
            };
        }
        st.bytes += len;
        if st.window == 0 || ready != Ready::Cached {
            self.grow(&mut st, now);
        }
        tracing::trace!(offset, len, ?ready, window = st.window, "sequential read");
        let direct = first && small;
        if self.max_window == 0 {
            return Plan {
                direct,
                first: false,
                prefetch: 0..0,
                run: 1,
            };
        }
        let run = self.run_for(st.window);
        let count = blocks::block_count(self.block_size, file_size);
        // A direct first read also starts its own blocks, for the reads that follow it.
        let from = match (direct, st.prefetched_to) {
            (true, _) => first_block,
            (false, Some(p)) => p.max(last_block) + 1,
            (false, None) => last_block + 1,
        };
        let to = (last_block + 1 + st.window).min(count);
        // Whole requests of `run` blocks: a window sliding by one small read at a time would
        // otherwise ask for a block at a time.
        let prefetch = if from < to && (to - from >= run || to == count || direct) {
            st.prefetched_to = Some(to - 1);
            from..to
        } else {
            0..0
        };
        Plan {
            direct,
            first: direct,
            prefetch,
            run,
        }
    }

    /// Doubles the window of a reader that waited, if it is worth it (see [`Self::plan`]).
    fn grow(&self, st: &mut ReadState, now: Instant) {
        let most = self.max_window.max(1);
        let rate_before = match st.step {
            Some(step) if st.window >= FREE_WINDOW.min(most) => {
                // Measured once half a window's worth of blocks was read with this size (a
                // shorter step under-reads a doubling, a longer one slows the ramp).
                let read = st.bytes - step.bytes_then;
                if read < st.window / 2 * self.block_size {
                    return;
                }
                let secs = now.saturating_duration_since(step.since).as_secs_f64();
                let rate = read as f64 / secs.max(1e-6);
                if rate < step.rate_before * GROWTH_WORTH_IT {
                    // No faster than the size before: stay, and measure again from here.
                    st.step = Some(Step {
                        since: now,
                        bytes_then: st.bytes,
                        rate_before: step.rate_before.max(rate),
                    });
                    return;
                }
                rate
            }
            _ => 0.0,
        };
        let window = (st.window * 2).clamp(1, most);
        if window != st.window || st.step.is_none() {
            tracing::trace!(window, rate_before, "read-ahead window");
            st.window = window;
            st.step = Some(Step {
                since: now,
                bytes_then: st.bytes,
                rate_before,
            });
        }
    }

    /// Blocks per read-ahead request for a window of `window` blocks: about
    /// [`REQUESTS_PER_WINDOW`] requests cover the window, each at most [`MAX_REQUEST_BYTES`]
    /// (a wider window takes more requests).
    fn run_for(&self, window: u64) -> u64 {
        let most = (MAX_REQUEST_BYTES / self.block_size).max(1);
        window.div_ceil(REQUESTS_PER_WINDOW).clamp(1, most)
    }

    /// Starts fetching `blocks` in the background, `run` blocks per request where the file
    /// serves ranges and nothing asks for whole blocks one by one (a disk cache, a site
    /// cache); true for each block this call started.
    fn prefetch_blocks(
        &self,
        file: &Arc<RemoteFile>,
        blocks: std::ops::Range<u64>,
        run: u64,
    ) -> Vec<(u64, bool)> {
        let joined = run > 1 && !self.whole_blocks && file.honours_range();
        let mut started = Vec::new();
        let mut at = blocks.start;
        while at < blocks.end {
            let end = match joined {
                true => (at + run).min(blocks.end),
                false => at + 1,
            };
            // A block already cached or coming splits the request around it.
            let end = (at..end)
                .find(|&i| i > at && self.cache.is_present(&(file.key.clone(), i)))
                .unwrap_or(end);
            if end - at == 1 || self.cache.is_present(&(file.key.clone(), at)) {
                started.push((at, self.prefetch(file, at)));
                at += 1;
            } else {
                started.extend(self.prefetch_run(file, at..end));
                at = end;
            }
        }
        started
    }

    /// Fetches blocks `run` with one range request, each block going to the cache on its own.
    /// The request is background work until a reader waits for one of its blocks.
    fn prefetch_run(&self, file: &Arc<RemoteFile>, run: std::ops::Range<u64>) -> Vec<(u64, bool)> {
        use futures::FutureExt;
        let span = blocks::block_span(run.start, self.block_size, file.size()).start
            ..blocks::block_span(run.end - 1, self.block_size, file.size()).end;
        // Counted in the cache while on its way: memory stays within the cache. Without room
        // (other readers' read-ahead holds it), the reader fetches these blocks when it gets
        // to them.
        let Some(room) = self.cache.try_reserve(span.end - span.start) else {
            return run.map(|index| (index, false)).collect();
        };
        let (first, urgency) = (run.start, Arc::new(Urgency::default()));
        let fetch = {
            let (reader, file, urgency) = (self.clone(), file.clone(), urgency.clone());
            async move {
                let _room = room;
                let what = format!(
                    "{} bytes {}-{} (read-ahead)",
                    file.url,
                    span.start,
                    span.end - 1
                );
                tracing::trace!("{what}: asked");
                let answer = limit::background_until(
                    urgency,
                    reader.http.retry().run(&what, || {
                        file.get_blocks(&reader.http, span.start, span.end, &reader.buffers)
                    }),
                )
                .await?;
                tracing::trace!("{what}: got");
                match answer {
                    remote::RangeAnswer::Bytes(blocks) => Ok(Arc::new(blocks)),
                    remote::RangeAnswer::WholeBody(_) => Err(crate::error::FsError::unavailable(
                        format!("{what}: the whole file came"),
                    )),
                }
            }
            .boxed()
            .shared()
        };
        run.map(|index| {
            let (reader, file, fetch) = (self.clone(), file.clone(), fetch.clone());
            let key = (file.key.clone(), index);
            let started = self
                .cache
                .prefetch(key, urgency.clone(), move || async move {
                    match fetch.await {
                        // Each block came in its own buffer: one kept in the cache pins no other.
                        Ok(blocks) => {
                            blocks
                                .get((index - first) as usize)
                                .cloned()
                                .ok_or_else(|| {
                                    crate::error::FsError::Io(format!(
                                        "{}: block {index} missing",
                                        file.url
                                    ))
                                })
                        }
                        Err(e @ crate::error::FsError::Stale(_)) => Err(e),
                        // One block at a time, as a reader would (a server that sent the whole
                        // file is read as a stream there).
                        Err(e) => {
                            tracing::debug!("read-ahead of {}: {e}; block {index} alone", file.url);
                            reader.fetch_block_cached(&file, index).await
                        }
                    }
                });
            (index, started)
        })
        .collect()
    }

    /// Starts fetching a block in the background unless it is cached or coming; true when
    /// this call started it.
    fn prefetch(&self, file: &Arc<RemoteFile>, index: u64) -> bool {
        let key = (file.key.clone(), index);
        if self.cache.is_present(&key) {
            return false;
        }
        let span = blocks::block_span(index, self.block_size, file.size());
        let Some(room) = self.cache.try_reserve(span.end - span.start) else {
            return false;
        };
        let reader = self.clone();
        let file = file.clone();
        let urgency = Arc::new(Urgency::default());
        self.cache
            .prefetch(key, urgency.clone(), move || async move {
                let result =
                    limit::background_until(urgency, reader.fetch_block_cached(&file, index)).await;
                drop(room);
                if let Err(e) = &result {
                    tracing::debug!("read-ahead of block {index} of {}: {e}", file.url);
                }
                result
            })
    }

    /// One block of a file: cached, or fetched once however many readers want it.
    async fn block(&self, file: &Arc<RemoteFile>, index: u64) -> Result<Bytes> {
        let key = (file.key.clone(), index);
        let reader = self.clone();
        let file = file.clone();
        self.cache
            .get_or_fetch(key, move || async move {
                reader.fetch_block_cached(&file, index).await
            })
            .await
    }

    /// A block from the disk cache if the mount has one and the file a validator, else from
    /// the server (and then kept on disk).
    async fn fetch_block_cached(&self, file: &Arc<RemoteFile>, index: u64) -> Result<Bytes> {
        match &self.disk {
            Some(disk) if file.meta.validator().is_some() => {
                let span = blocks::block_span(index, self.block_size, file.size());
                let key = self.disk_key(file);
                let fetch = self.fetch_block_retrying(file, index);
                let expected = file.verifier().map(|v| v.expected().clone());
                let block = disk
                    .get_or_fetch(key, index, span.end - span.start, expected, fetch)
                    .await?;
                // On disk means fetched by ranges before: read-ahead may start.
                file.ranges_were_seen();
                Ok(block)
            }
            _ => self.fetch_block_retrying(file, index).await,
        }
    }

    /// A block from the server, tried again under the retry policy when the failure is transient.
    async fn fetch_block_retrying(&self, file: &Arc<RemoteFile>, index: u64) -> Result<Bytes> {
        let what = format!("block {index} of {}", file.url);
        self.http
            .retry()
            .run(&what, || self.fetch_block(file, index))
            .await
    }

    async fn fetch_block(&self, file: &Arc<RemoteFile>, index: u64) -> Result<Bytes> {
        let whole_body = if file.ignores_range() {
            None
        } else {
            let span = blocks::block_span(index, self.block_size, file.size());
            match file
                .get_range(&self.http, span.start, span.end, &self.buffers)
                .await?
            {
                remote::RangeAnswer::Bytes(b) => return Ok(b),
                remote::RangeAnswer::WholeBody(resp) => Some(resp),
            }
        };
        let ahead = self.max_window.max(2);
        let disk = match &self.disk {
            Some(d) if file.meta.validator().is_some() => {
                Some((d.clone(), Arc::from(self.disk_key(file))))
            }
            _ => None,
        };
        body_stream::fetch_block(
            file,
            &self.http,
            &self.cache,
            &self.buffers,
            disk,
            self.block_size,
            ahead,
            index,
            whole_body,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::http::HttpOptions;
    use reqwest::Url;

    const MIB: u64 = 1 << 20;

    fn reader(read_ahead: u64) -> Reader {
        let url = Url::parse("http://127.0.0.1:9/weaver").unwrap();
        let http = HttpClient::new(&url, &HttpOptions::default()).unwrap();
        Reader::new(http, BlockCache::new(256 * MIB), MIB, read_ahead)
    }

    fn plan(
        r: &Reader,
        st: &std::sync::Mutex<ReadState>,
        offset: u64,
        len: u64,
        size: u64,
    ) -> Plan {
        plan_ready(r, st, offset, len, size, false)
    }

    fn plan_ready(
        r: &Reader,
        st: &std::sync::Mutex<ReadState>,
        offset: u64,
        len: u64,
        size: u64,
        ready: bool,
    ) -> Plan {
        let blocks = blocks::blocks_for(offset, len, MIB, size).unwrap();
        let ready = if ready { Ready::Cached } else { Ready::Missing };
        r.plan(st, offset, len, &blocks, size, ready, Instant::now())
    }

    /// `count` 1 MiB reads from `at` by a reader that waits for each, on a 100 ms link carrying
    /// `mib_per_s` at most: each read takes a round trip's share of the window, or the link's
    /// time for its bytes, on a clock of its own.
    fn link_reads(
        r: &Reader,
        st: &std::sync::Mutex<ReadState>,
        at: u64,
        count: u64,
        mib_per_s: f64,
    ) {
        let mut now = Instant::now();
        for i in 0..count {
            let offset = at + i * MIB;
            let blocks = blocks::blocks_for(offset, MIB, MIB, 1 << 40).unwrap();
            r.plan(st, offset, MIB, &blocks, 1 << 40, Ready::Missing, now);
            let rtt_share = 0.1 / window(st).max(1) as f64;
            now += std::time::Duration::from_secs_f64(rtt_share.max(1.0 / mib_per_s));
        }
    }

    #[test]
    fn the_window_stops_growing_when_the_reader_stops_going_faster() {
        // 100 MiB/s at 100 ms: 10 blocks in flight carry it; the window stops at the first
        // size past that (16), doubles once more to see that 32 is no faster, and stays.
        let r = reader(256);
        let st = Default::default();
        link_reads(&r, &st, 0, 400, 100.0);
        assert_eq!(window(&st), 32);
        // Unbounded, the same reader grows to its bound: the requests read-ahead may have in
        // flight (48 of 2 MiB), within half the cache (128).
        let st = Default::default();
        link_reads(&r, &st, 0, 400, f64::INFINITY);
        assert_eq!((window(&st), r.max_window), (96, 96));
        // A seek starts the measure again.
        let p = plan_ready(&r, &st, 1 << 39, 4096, 1 << 40, false);
        assert_eq!((window(&st), p.prefetch), (0, 0..0));
    }

    #[test]
    fn a_late_read_onto_blocks_on_their_way_is_no_seek() {
        let r = reader(64);
        let st = Default::default();
        link_reads(&r, &st, 0, 40, f64::INFINITY);
        let w = window(&st);
        assert!(w > 1);
        // 20 blocks behind, onto blocks read ahead: one of the kernel's reads, late.
        let late = |ready| {
            let blocks = blocks::blocks_for(20 * MIB, MIB, MIB, 1 << 40).unwrap();
            r.plan(&st, 20 * MIB, MIB, &blocks, 1 << 40, ready, Instant::now())
        };
        let p = late(Ready::Coming);
        assert_eq!((window(&st), p.prefetch, p.direct), (w, 0..0, false));
        // Onto blocks nobody asked for: a seek.
        late(Ready::Missing);
        assert_eq!(window(&st), 0);
    }

    fn window(st: &std::sync::Mutex<ReadState>) -> u64 {
        st.lock().unwrap().window
    }

    #[test]
    fn a_first_small_read_is_direct_and_starts_its_blocks() {
        let r = reader(8);
        let st = Default::default();
        let p = plan(&r, &st, 0, 16 << 10, 100 * MIB);
        assert_eq!((p.direct, p.first, p.prefetch), (true, true, 0..2));
        // The next reads are sequential and wait for their blocks: blocks, with a window that
        // doubles.
        let p = plan(&r, &st, 16 << 10, 128 << 10, 100 * MIB);
        assert_eq!((p.direct, p.prefetch), (false, 2..3));
        let p = plan(&r, &st, 144 << 10, 1 << 20, 100 * MIB);
        assert_eq!((p.direct, p.prefetch), (false, 3..6));
    }

    #[test]
    fn the_window_grows_only_while_the_reader_waits() {
        let r = reader(64);
        let st = Default::default();
        let mut at = 0;
        let mut read = |ready| {
            let p = plan_ready(&r, &st, at, MIB, 1 << 40, ready);
            at += MIB;
            p
        };
        for _ in 0..3 {
            read(false);
        }
        assert_eq!(window(&st), 4);
        // Its blocks were there before it read them: the pipe is full, the window stays.
        for _ in 0..10 {
            read(true);
        }
        assert_eq!(window(&st), 4);
        // Waiting again: it grows, up to the limit asked for (on a link of unbounded
        // bandwidth, each doubling doubles the speed).
        link_reads(&r, &st, 13 * MIB, 40, f64::INFINITY);
        assert_eq!(window(&st), 64);
        // A seek: no window, no read-ahead.
        let p = plan_ready(&r, &st, 1 << 39, 4096, 1 << 40, false);
        assert_eq!((window(&st), p.prefetch), (0, 0..0));
    }

    #[test]
    fn a_large_window_asks_for_several_blocks_per_request() {
        let r = reader(64);
        assert_eq!(
            [1, 8, 16, 17, 32, 64, 1000].map(|w| r.run_for(w)),
            [1, 1, 2, 2, 2, 2, 2]
        );
        let st = Default::default();
        let mut at = 0;
        let mut asked = Vec::new();
        for _ in 0..200 {
            let p = plan_ready(&r, &st, at, 128 << 10, 1 << 40, false);
            at += 128 << 10;
            if !p.prefetch.is_empty() {
                asked.push(p.prefetch.clone());
                // Never less than a request's worth once the window is wide.
                assert!(p.prefetch.end - p.prefetch.start >= p.run, "{p:?}");
            }
        }
        // Each block asked for once, in order.
        for pair in asked.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{asked:?}");
        }
    }

    #[test]
    fn reads_the_kernel_sends_out_of_order_stay_sequential() {
        let r = reader(64);
        let st = Default::default();
        // A batch of 128 KiB reads, arriving shuffled.
        let k = 128 << 10;
        for (n, i) in [0u64, 2, 1, 4, 3, 7, 5, 6, 9, 8, 12, 10, 11]
            .iter()
            .enumerate()
        {
            let p = plan(&r, &st, i * k, k, 1 << 30);
            assert!(n == 0 || !p.direct, "read {i} taken for a seek");
        }
        assert!(window(&st) > 1);
    }

    proptest::proptest! {
        /// Whatever the reads, the window stays within its bounds and read-ahead never asks
        /// for blocks past the end of the file or more than the window ahead.
        #[test]
        fn the_window_stays_bounded(
            reads in proptest::collection::vec((0u64..64, 1u64..(3 << 20), proptest::prelude::any::<bool>()), 1..100),
            max in 0u64..100,
        ) {
            let r = reader(max);
            let size = 64 * MIB;
            let st = Default::default();
            for (block, len, ready) in reads {
                let offset = block * MIB;
                let p = plan_ready(&r, &st, offset, len, size, ready);
                let w = window(&st);
                proptest::prop_assert!(w <= r.max_window.max(1));
                proptest::prop_assert!(p.prefetch.end <= 64);
                let last = (offset + len).min(size).div_ceil(MIB);
                proptest::prop_assert!(p.prefetch.is_empty() || p.prefetch.end <= last + w + 1);
            }
        }
    }

    #[test]
    fn a_read_of_a_whole_small_file_takes_its_block() {
        let r = reader(8);
        let st = Default::default();
        let p = plan(&r, &st, 0, 128 << 10, 100 << 10);
        assert!(!p.direct);
    }

    #[test]
    fn random_reads_are_direct_and_never_read_ahead() {
        let r = reader(8);
        let st = Default::default();
        for offset in [50 * MIB, 7 * MIB, 90 * MIB + 4096, 3 * MIB] {
            let p = plan(&r, &st, offset, 4096, 100 * MIB);
            assert_eq!((p.direct, p.first, p.prefetch), (true, false, 0..0));
        }
        // A large random read takes whole blocks.
        let p = plan(&r, &st, 40 * MIB, MIB, 100 * MIB);
        assert_eq!((p.direct, p.prefetch), (false, 0..0));
    }

    #[test]
    fn read_ahead_stays_within_the_cache() {
        // 64 MiB of cache: at most 32 blocks ahead, whatever was asked.
        let url = Url::parse("http://127.0.0.1:9/weaver").unwrap();
        let http = HttpClient::new(&url, &HttpOptions::default()).unwrap();
        let r = Reader::new(http, BlockCache::new(64 * MIB), MIB, 1000);
        assert_eq!(r.max_window, 32);
    }
}
