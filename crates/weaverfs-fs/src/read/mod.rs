//! The read path of remote files: reads map onto blocks, blocks come from the cache or from one
//! validated range request each, and sequential readers get a growing read-ahead window.

pub mod body_stream;
pub mod digest;
pub mod remote;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::cache::{blocks, BlockCache, DiskCache};
use crate::client::http::HttpClient;
use crate::error::Result;
pub use remote::{probe, RemoteFile, RemoteMeta};

/// Where a handle's reads have been, to tell sequential reading from random reading.
#[derive(Debug, Default)]
pub struct ReadState {
    reads: u64,
    next_offset: u64,
    /// Read-ahead window in blocks; 0 while reads look random.
    window: u64,
    /// Blocks up to here have been requested ahead already.
    prefetched_to: Option<u64>,
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
}

#[derive(Clone)]
pub struct Reader {
    http: HttpClient,
    cache: Arc<BlockCache>,
    block_size: u64,
    max_window: u64,
    /// The disk cache, when the mount has one.
    disk: Option<Arc<DiskCache>>,
    /// Only whole aligned blocks are requested (no small direct reads): what a disk cache
    /// keeps and what a site cache can serve to every node.
    whole_blocks: bool,
}

impl Reader {
    /// `max_window` is the largest read-ahead, in blocks; it is kept within a quarter of the
    /// cache so read-ahead never evicts what is being read.
    pub fn new(http: HttpClient, cache: Arc<BlockCache>, block_size: u64, max_window: u64) -> Self {
        let cache_blocks = (cache.capacity() / block_size).max(1);
        http.stats().watch_cache(&cache);
        Reader {
            http,
            max_window: max_window.min(cache_blocks / 4),
            cache,
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
        }
        self.disk = disk;
        self
    }

    /// Requests whole aligned blocks only (set when reads go through a proxy or site cache).
    pub fn whole_blocks_only(mut self, on: bool) -> Self {
        self.whole_blocks |= on;
        self
    }

    pub fn disk(&self) -> Option<&Arc<DiskCache>> {
        self.disk.as_ref()
    }

    pub fn cache(&self) -> &Arc<BlockCache> {
        &self.cache
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
        let plan = self.plan(state, offset, end - offset, &range, file.size());
        let mut own_blocks_started = !range.is_empty();
        // Until the server shows whether it serves ranges, one request at a time: a server that
        // ignores them would answer each parallel request with the whole file.
        let prefetch = if file.honours_range() || file.ignores_range() {
            plan.prefetch
        } else {
            0..0
        };
        for index in prefetch {
            let started = self.prefetch(file, index);
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
            let what = format!("{} bytes {offset}-{}", file.url, end - 1);
            let answer = self
                .http
                .retry()
                .run(&what, || file.get_range(&self.http, offset, end))
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
    /// that touches `blocks`.
    fn plan(
        &self,
        state: &std::sync::Mutex<ReadState>,
        offset: u64,
        len: u64,
        blocks: &std::ops::RangeInclusive<u64>,
        file_size: u64,
    ) -> Plan {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let first = st.reads == 0;
        st.reads += 1;
        // The kernel's own read-ahead may reorder reads a little; tolerate one block of it.
        let sequential = offset.abs_diff(st.next_offset) <= self.block_size;
        st.next_offset = offset + len;
        let (first_block, last_block) = (*blocks.start(), *blocks.end());
        let span = blocks::block_span(first_block, self.block_size, file_size).start
            ..blocks::block_span(last_block, self.block_size, file_size).end;
        // Whole blocks would more than quadruple the bytes this read needs.
        let small = span.end - span.start > 4 * len;
        if !sequential {
            st.window = 0;
            st.prefetched_to = None;
            return Plan {
                direct: small,
                first: false,
                prefetch: 0..0,
            };
        }
        st.window = (st.window * 2).clamp(1, self.max_window.max(1));
        let direct = first && small;
        if self.max_window == 0 {
            return Plan {
                direct,
                first: false,
                prefetch: 0..0,
            };
        }
        let count = blocks::block_count(self.block_size, file_size);
        // A direct first read also starts its own blocks, for the reads that follow it.
        let from = match (direct, st.prefetched_to) {
            (true, _) => first_block,
            (false, Some(p)) => p.max(last_block) + 1,
            (false, None) => last_block + 1,
        };
        let to = (last_block + 1 + st.window).min(count);
        let prefetch = if from < to {
            st.prefetched_to = Some(to - 1);
            from..to
        } else {
            0..0
        };
        Plan {
            direct,
            first: direct,
            prefetch,
        }
    }

    /// Starts fetching a block in the background unless it is cached or coming; true when
    /// this call started it.
    fn prefetch(&self, file: &Arc<RemoteFile>, index: u64) -> bool {
        let reader = self.clone();
        let file = file.clone();
        let key = (file.key.clone(), index);
        self.cache.prefetch(key, move || async move {
            let result = reader.fetch_block_cached(&file, index).await;
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
            match file.get_range(&self.http, span.start, span.end).await? {
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
        Reader::new(http, BlockCache::new(64 * MIB), MIB, read_ahead)
    }

    fn plan(
        r: &Reader,
        st: &std::sync::Mutex<ReadState>,
        offset: u64,
        len: u64,
        size: u64,
    ) -> Plan {
        let blocks = blocks::blocks_for(offset, len, MIB, size).unwrap();
        r.plan(st, offset, len, &blocks, size)
    }

    #[test]
    fn a_first_small_read_is_direct_and_starts_its_blocks() {
        let r = reader(8);
        let st = Default::default();
        let p = plan(&r, &st, 0, 16 << 10, 100 * MIB);
        assert_eq!((p.direct, p.first, p.prefetch), (true, true, 0..2));
        // The next reads are sequential: blocks, with a window that doubles.
        let p = plan(&r, &st, 16 << 10, 128 << 10, 100 * MIB);
        assert_eq!((p.direct, p.prefetch), (false, 2..3));
        let p = plan(&r, &st, 144 << 10, 1 << 20, 100 * MIB);
        assert_eq!((p.direct, p.prefetch), (false, 3..6));
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
        // 64 MiB of cache: at most 16 blocks ahead, whatever was asked.
        let r = reader(1000);
        assert_eq!(r.max_window, 16);
    }
}
