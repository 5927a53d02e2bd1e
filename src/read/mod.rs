//! The read path of remote files: reads map onto blocks, blocks come from the cache or from one
//! validated range request each, and sequential readers get a growing read-ahead window.

pub mod body_stream;
pub mod remote;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::cache::{blocks, BlockCache};
use crate::error::Result;
use crate::http::HttpClient;
pub use remote::{probe, RemoteFile, RemoteMeta};

/// Where a handle's reads have been, to tell sequential reading from random reading.
#[derive(Debug, Default)]
pub struct ReadState {
    next_offset: u64,
    /// Read-ahead window in blocks; 0 while reads look random.
    window: u64,
    /// Blocks up to here have been requested ahead already.
    prefetched_to: Option<u64>,
}

#[derive(Clone)]
pub struct Reader {
    http: HttpClient,
    cache: Arc<BlockCache>,
    block_size: u64,
    max_window: u64,
}

impl Reader {
    /// `max_window` is the largest read-ahead, in blocks; it is kept within a quarter of the
    /// cache so read-ahead never evicts what is being read.
    pub fn new(http: HttpClient, cache: Arc<BlockCache>, block_size: u64, max_window: u64) -> Self {
        let cache_blocks = (cache.capacity() / block_size).max(1);
        Reader {
            http,
            max_window: max_window.min(cache_blocks / 4),
            cache,
            block_size,
        }
    }

    pub fn cache(&self) -> &Arc<BlockCache> {
        &self.cache
    }

    /// Up to `size` bytes at `offset`; fewer only at the end of the file.
    pub async fn read(
        &self,
        file: &Arc<RemoteFile>,
        state: &std::sync::Mutex<ReadState>,
        offset: u64,
        size: u64,
    ) -> Result<Bytes> {
        let Some(range) = blocks::blocks_for(offset, size, self.block_size, file.size()) else {
            return Ok(Bytes::new());
        };
        let ahead = self.plan_read_ahead(state, offset, size, *range.end(), file.size());
        for index in ahead {
            let reader = self.clone();
            let file = file.clone();
            tokio::spawn(async move {
                if let Err(e) = reader.block(&file, index).await {
                    tracing::debug!("read-ahead of block {index} of {}: {e}", file.url);
                }
            });
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
        let end = (offset + size).min(file.size());
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

    /// Updates the handle's state and returns the blocks to fetch ahead of this read.
    fn plan_read_ahead(
        &self,
        state: &std::sync::Mutex<ReadState>,
        offset: u64,
        size: u64,
        last_block: u64,
        file_size: u64,
    ) -> std::ops::Range<u64> {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        // The kernel's own read-ahead may reorder reads a little; tolerate one block of it.
        let sequential = offset.abs_diff(st.next_offset) <= self.block_size;
        st.next_offset = offset + size;
        if !sequential {
            st.window = 0;
            st.prefetched_to = None;
            return 0..0;
        }
        st.window = (st.window * 2).clamp(1, self.max_window.max(1));
        if self.max_window == 0 {
            return 0..0;
        }
        let count = blocks::block_count(self.block_size, file_size);
        let from = st
            .prefetched_to
            .map_or(last_block + 1, |p| p.max(last_block) + 1);
        let to = (last_block + 1 + st.window).min(count);
        if from >= to {
            return 0..0;
        }
        st.prefetched_to = Some(to - 1);
        from..to
    }

    /// One block of a file: cached, or fetched once however many readers want it.
    async fn block(&self, file: &Arc<RemoteFile>, index: u64) -> Result<Bytes> {
        let key = (file.key.clone(), index);
        let reader = self.clone();
        let file = file.clone();
        self.cache
            .get_or_fetch(key, move || async move {
                reader.fetch_block(&file, index).await
            })
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
        body_stream::fetch_block(
            file,
            &self.http,
            &self.cache,
            self.block_size,
            ahead,
            index,
            whole_body,
        )
        .await
    }
}
