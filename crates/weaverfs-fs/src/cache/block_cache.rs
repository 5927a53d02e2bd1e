//! An LRU cache of file blocks, bounded in bytes, where concurrent misses on one block share a
//! single fetch.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use lru::LruCache;

use crate::client::limit::Urgency;
use crate::error::FsError;

/// A block of one version of one file: (file key, which includes its validator; block index).
pub type BlockKey = (Arc<str>, u64);

type SharedFetch = Shared<BoxFuture<'static, Result<Bytes, FsError>>>;

enum Found {
    Cached(Bytes),
    /// The fetch to wait for; true when the lookup started it.
    Fetching(SharedFetch, bool),
}

/// The bytes of blocks a cache of `cache_size` bytes holds when `others` bytes of the same
/// budget go to buffers outside it (the connections' receive buffers): at most a quarter of the
/// budget goes to them, in whole blocks, so a small cache keeps most of its blocks.
pub fn blocks_budget(cache_size: u64, block_size: u64, others: u64) -> u64 {
    let block_size = block_size.max(1);
    let others = others.min(cache_size / 4) / block_size * block_size;
    cache_size - others
}

/// Counters for the stats of the mount.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub coalesced: AtomicU64,
    pub evictions: AtomicU64,
    /// Blocks fetched by `prefetch`, then read.
    pub read_ahead_hits: AtomicU64,
}

/// Room held in a [`BlockCache`] for bytes being fetched.
pub struct Reservation {
    cache: Arc<BlockCache>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        state.bytes -= self.bytes;
        state.reserved -= self.bytes;
    }
}

pub struct BlockCache {
    capacity: u64,
    state: Mutex<State>,
    pub stats: CacheStats,
}

struct State {
    /// Blocks read (or put in) since they came, least recently used first out.
    blocks: LruCache<BlockKey, Bytes>,
    /// Blocks fetched by `prefetch` and not read yet: evicted only when `blocks` is empty, so
    /// an eviction takes one step however many blocks are ahead of their readers.
    ahead: LruCache<BlockKey, Bytes>,
    /// Bytes of the blocks and of the reservations.
    bytes: u64,
    /// Bytes of the reservations alone.
    reserved: u64,
    /// The most `bytes` has been.
    peak: u64,
    inflight: HashMap<BlockKey, SharedFetch>,
    /// Blocks fetched (or being fetched) by `prefetch` and not read since.
    prefetched: HashSet<BlockKey>,
    /// The urgency of each block `prefetch` is fetching, raised when a reader comes to wait
    /// for it.
    urgencies: HashMap<BlockKey, Arc<Urgency>>,
}

impl State {
    fn contains(&self, key: &BlockKey) -> bool {
        self.blocks.contains(key) || self.ahead.contains(key)
    }

    /// The block, marked recently used in its list.
    fn get(&mut self, key: &BlockKey) -> Option<&Bytes> {
        match self.blocks.contains(key) {
            true => self.blocks.get(key),
            false => self.ahead.get(key),
        }
    }

    /// Takes a block out of the cache.
    fn pop(&mut self, key: &BlockKey) {
        if let Some(old) = self.blocks.pop(key).or_else(|| self.ahead.pop(key)) {
            self.bytes -= old.len() as u64;
        }
    }

    /// A block fetched ahead is read (or its fetch is over without it): it joins the blocks
    /// read, as the most recent. True when it had been fetched ahead.
    fn read(&mut self, key: &BlockKey) -> bool {
        if let Some(block) = self.ahead.pop(key) {
            self.blocks.put(key.clone(), block);
        }
        self.prefetched.remove(key)
    }
}

impl BlockCache {
    /// A cache holding at most `capacity` bytes of blocks.
    pub fn new(capacity: u64) -> Arc<Self> {
        Arc::new(BlockCache {
            capacity,
            state: Mutex::new(State {
                blocks: LruCache::unbounded(),
                ahead: LruCache::unbounded(),
                bytes: 0,
                reserved: 0,
                peak: 0,
                inflight: HashMap::new(),
                prefetched: HashSet::new(),
                urgencies: HashMap::new(),
            }),
            stats: CacheStats::default(),
        })
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes held now (blocks, and room taken for bytes on their way).
    pub fn used(&self) -> u64 {
        self.lock().bytes
    }

    /// The most bytes held at once since the cache was made: never more than the capacity.
    pub fn peak_used(&self) -> u64 {
        self.lock().peak
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (each update is one step).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The block if cached, marking it recently used.
    pub fn get(&self, key: &BlockKey) -> Option<Bytes> {
        self.lock().get(key).cloned()
    }

    /// Whether the block is cached or being fetched (no LRU update).
    pub fn is_present(&self, key: &BlockKey) -> bool {
        let state = self.lock();
        state.contains(key) || state.inflight.contains_key(key)
    }

    /// Whether the block is in the cache now (not just coming); no LRU update.
    pub fn is_cached(&self, key: &BlockKey) -> bool {
        self.lock().contains(key)
    }

    /// Caches a block, evicting the least recently used ones to stay within the capacity.
    pub fn insert(&self, key: BlockKey, block: Bytes) {
        let mut state = self.lock();
        self.insert_locked(&mut state, key, block);
    }

    /// Drops a block (its bytes were found wrong).
    pub fn remove(&self, key: &BlockKey) {
        let mut state = self.lock();
        state.pop(key);
        state.prefetched.remove(key);
    }

    fn insert_locked(&self, state: &mut State, key: BlockKey, block: Bytes) {
        let len = block.len() as u64;
        if len > self.capacity {
            state.read(&key);
            return;
        }
        state.pop(&key);
        match state.prefetched.contains(&key) {
            true => state.ahead.put(key, block),
            false => state.blocks.put(key, block),
        };
        state.bytes += len;
        self.evict_locked(state);
    }

    /// Evicts the least recently used blocks until the cache is within its capacity (the
    /// reservations, at most half of it, always fit). Blocks read ahead and not read yet go
    /// last (their own list): a reader promotes the blocks it reads, so they can be more
    /// recent than the blocks fetched for it, and evicting one of those only means fetching it
    /// again.
    fn evict_locked(&self, state: &mut State) {
        while state.bytes > self.capacity {
            let victim = match state.blocks.pop_lru() {
                Some(read) => Some(read),
                None => state.ahead.pop_lru(),
            };
            match victim {
                Some((key, evicted)) => {
                    state.bytes -= evicted.len() as u64;
                    state.prefetched.remove(&key);
                    self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                }
                None => break,
            }
        }
        state.peak = state.peak.max(state.bytes);
    }

    /// Takes room for `bytes` on their way (read-ahead in flight), evicting blocks for it, so
    /// that what is being fetched counts against the capacity too; given back when the
    /// reservation is dropped. None when the reservations would pass half the capacity
    /// (several readers' windows at once): that read-ahead is not sent, and memory stays
    /// within the cache whatever the windows.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let mut state = self.lock();
        if state.reserved + bytes > self.capacity / 2 {
            return None;
        }
        state.reserved += bytes;
        state.bytes += bytes;
        self.evict_locked(&mut state);
        Some(Reservation {
            cache: self.clone(),
            bytes,
        })
    }

    /// The block from the cache, or from `fetch`. Concurrent callers missing the same block
    /// wait for one fetch; its result is cached when it succeeds.
    pub async fn get_or_fetch<F, Fut>(
        self: &Arc<Self>,
        key: BlockKey,
        fetch: F,
    ) -> Result<Bytes, FsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, FsError>> + Send + 'static,
    {
        match self.find_or_start(key, fetch, None) {
            Found::Cached(block) => Ok(block),
            Found::Fetching(fetching, _) => fetching.await,
        }
    }

    /// Starts fetching a block that is neither cached nor being fetched, without waiting for
    /// it; true when this call started it. `urgency` is raised when a reader comes to wait for
    /// the block before it is there.
    pub fn prefetch<F, Fut>(
        self: &Arc<Self>,
        key: BlockKey,
        urgency: Arc<Urgency>,
        fetch: F,
    ) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, FsError>> + Send + 'static,
    {
        matches!(
            self.find_or_start(key, fetch, Some(urgency)),
            Found::Fetching(_, true)
        )
    }

    /// The cached block, or the fetch of it, started here (in one step under the lock) if
    /// nobody had started it.
    fn find_or_start<F, Fut>(
        self: &Arc<Self>,
        key: BlockKey,
        fetch: F,
        ahead: Option<Arc<Urgency>>,
    ) -> Found
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, FsError>> + Send + 'static,
    {
        let mut state = self.lock();
        if ahead.is_none() && state.read(&key) {
            self.stats.read_ahead_hits.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(block) = state.get(&key) {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Found::Cached(block.clone());
        }
        if let Some(fetching) = state.inflight.get(&key) {
            self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
            if ahead.is_none() {
                if let Some(urgency) = state.urgencies.get(&key) {
                    urgency.raise();
                }
            }
            return Found::Fetching(fetching.clone(), false);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        if let Some(urgency) = ahead {
            state.prefetched.insert(key.clone());
            state.urgencies.insert(key.clone(), urgency);
        }
        // The fetch runs as its own task, so it completes (and leaves `inflight`) even when
        // every reader waiting for it goes away.
        let task = {
            let cache = Arc::clone(self);
            let key = key.clone();
            let fut = fetch();
            tokio::spawn(async move {
                let result = fut.await;
                cache.finish(key, &result);
                result
            })
        };
        let cache = Arc::clone(self);
        let k = key.clone();
        let fetching = async move {
            task.await.unwrap_or_else(|e| {
                let failed = Err(FsError::Io(format!("block fetch failed: {e}")));
                cache.finish(k, &failed);
                failed
            })
        }
        .boxed()
        .shared();
        state.inflight.insert(key, fetching.clone());
        Found::Fetching(fetching, true)
    }

    fn finish(&self, key: BlockKey, result: &Result<Bytes, FsError>) {
        let mut state = self.lock();
        state.inflight.remove(&key);
        state.urgencies.remove(&key);
        match result {
            Ok(block) => self.insert_locked(&mut state, key, block.clone()),
            Err(_) => {
                state.read(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn key(file: &str, i: u64) -> BlockKey {
        (Arc::from(file), i)
    }

    #[test]
    fn evicts_least_recently_used_within_the_byte_budget() {
        let cache = BlockCache::new(10);
        cache.insert(key("f", 0), Bytes::from(vec![0; 4]));
        cache.insert(key("f", 1), Bytes::from(vec![1; 4]));
        assert!(cache.get(&key("f", 0)).is_some()); // 0 is now the most recent
        cache.insert(key("f", 2), Bytes::from(vec![2; 4]));
        assert!(cache.get(&key("f", 1)).is_none());
        assert!(cache.get(&key("f", 0)).is_some());
        assert!(cache.get(&key("f", 2)).is_some());
        assert_eq!(cache.used(), 8);
        assert_eq!(cache.stats.evictions.load(Ordering::Relaxed), 1);
        // A block larger than the whole cache is not kept, and evicts nothing.
        cache.insert(key("g", 0), Bytes::from(vec![0; 11]));
        assert_eq!(cache.used(), 8);
        // Replacing a block accounts for the old one.
        cache.insert(key("f", 2), Bytes::from(vec![2; 2]));
        assert_eq!(cache.used(), 6);
    }

    #[test]
    fn reservations_count_against_the_capacity() {
        let cache = BlockCache::new(10);
        cache.insert(key("f", 0), Bytes::from(vec![0; 4]));
        cache.insert(key("f", 1), Bytes::from(vec![1; 4]));
        let room = cache.try_reserve(4).unwrap();
        assert!(
            cache.get(&key("f", 0)).is_none(),
            "evicted for the bytes on their way"
        );
        assert_eq!(cache.used(), 8);
        // Half the cache at most is on its way.
        assert!(cache.try_reserve(2).is_none());
        let more = cache.try_reserve(1).unwrap();
        assert_eq!((cache.used(), cache.peak_used()), (9, 9));
        drop((room, more));
        assert_eq!(cache.used(), 4);
        assert!(cache.try_reserve(5).is_some());
    }

    #[tokio::test]
    async fn blocks_read_ahead_and_not_yet_read_are_evicted_last() {
        let cache = BlockCache::new(12);
        // Block 1 comes ahead of the reader; then the reader reads block 0, which makes block
        // 0 more recent than block 1.
        let ahead = Arc::new(Urgency::default());
        assert!(cache.prefetch(key("f", 1), ahead, || async { Ok(Bytes::from(vec![1; 4])) }));
        while !cache.is_cached(&key("f", 1)) {
            tokio::task::yield_now().await;
        }
        let block = || async { Ok(Bytes::from(vec![0; 4])) };
        cache.get_or_fetch(key("f", 0), block).await.unwrap();
        // Room for the next block ahead evicts block 0 (read), not block 1 (not read yet).
        let _room = cache.try_reserve(6).unwrap();
        assert!(cache.is_cached(&key("f", 1)));
        assert!(!cache.is_cached(&key("f", 0)));
    }

    #[test]
    fn receive_buffers_take_at_most_a_quarter_of_the_budget_in_whole_blocks() {
        const MIB: u64 = 1 << 20;
        // The default: 64 connections of 1 MiB take a quarter of 256 MiB.
        let receive = 64 * crate::client::http::RECEIVE_BUFFER_BYTES;
        assert_eq!(blocks_budget(256 * MIB, MIB, receive), 192 * MIB);
        assert_eq!(blocks_budget(512 * MIB, MIB, receive), 448 * MIB);
        assert_eq!(blocks_budget(16 * MIB, MIB, receive), 12 * MIB);
        assert_eq!(blocks_budget(6 * MIB, MIB, receive), 5 * MIB);
        assert_eq!(
            blocks_budget(3 * MIB, MIB, receive),
            3 * MIB,
            "less than a block: none"
        );
        assert_eq!(blocks_budget(256 * MIB, MIB, 0), 256 * MIB);
    }

    #[tokio::test]
    async fn among_blocks_read_ahead_the_least_recent_goes_first_and_a_read_one_joins_the_read() {
        let cache = BlockCache::new(12);
        for i in 0..3 {
            let block = move || async move { Ok(Bytes::from(vec![i as u8; 4])) };
            assert!(cache.prefetch(key("f", i), Arc::default(), block));
            while !cache.is_cached(&key("f", i)) {
                tokio::task::yield_now().await;
            }
        }
        // Block 1 is read: the only read block, so the first to go.
        let unused = || async { unreachable!() };
        cache.get_or_fetch(key("f", 1), unused).await.unwrap();
        cache.insert(key("g", 0), Bytes::from(vec![9; 4]));
        assert!(!cache.is_cached(&key("f", 1)));
        // Then the blocks ahead go oldest first, once no read block is left to evict.
        cache.remove(&key("g", 0));
        let _room = cache.try_reserve(6).unwrap();
        assert!(!cache.is_cached(&key("f", 0)) && cache.is_cached(&key("f", 2)));
        assert_eq!(cache.used(), 10);
    }

    #[test]
    fn versions_of_a_file_are_different_keys() {
        let cache = BlockCache::new(100);
        cache.insert(key("url#\"v1\"", 0), Bytes::from_static(b"old"));
        assert!(cache.get(&key("url#\"v2\"", 0)).is_none());
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let cache = BlockCache::new(1 << 20);
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let cache = cache.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_fetch(key("f", 7), || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(Bytes::from_static(b"block seven"))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(
                t.await.unwrap().unwrap(),
                Bytes::from_static(b"block seven")
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Now cached: no fetch at all.
        let again = cache
            .get_or_fetch(key("f", 7), || async { Err(FsError::io("must not fetch")) })
            .await;
        assert!(again.is_ok());
    }

    #[tokio::test]
    async fn failures_are_shared_and_not_cached() {
        let cache = BlockCache::new(1 << 20);
        let r = cache
            .get_or_fetch(key("f", 0), || async {
                Err(FsError::Stale("changed".into()))
            })
            .await;
        assert!(matches!(r, Err(FsError::Stale(_))));
        assert!(!cache.is_present(&key("f", 0)));
        let r = cache
            .get_or_fetch(key("f", 0), || async { Ok(Bytes::from_static(b"ok")) })
            .await;
        assert_eq!(r.unwrap(), Bytes::from_static(b"ok"));
    }

    #[tokio::test]
    async fn blocks_fetched_ahead_count_once_when_read() {
        let cache = BlockCache::new(8);
        let block = |b: &'static [u8]| move || async move { Ok(Bytes::from_static(b)) };
        let read_ahead_hits = || cache.stats.read_ahead_hits.load(Ordering::Relaxed);
        assert!(cache.prefetch(key("f", 0), Arc::default(), block(b"0000")));
        cache
            .get_or_fetch(key("f", 0), block(b"0000"))
            .await
            .unwrap();
        cache
            .get_or_fetch(key("f", 0), block(b"0000"))
            .await
            .unwrap();
        assert_eq!(
            read_ahead_hits(),
            1,
            "a second read of the block is a plain hit"
        );
        // A failed read-ahead leaves nothing behind.
        assert!(cache.prefetch(key("f", 3), Arc::default(), || async {
            Err(FsError::io("down"))
        }));
        while cache.is_present(&key("f", 3)) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        cache
            .get_or_fetch(key("f", 3), block(b"3333"))
            .await
            .unwrap();
        assert_eq!(read_ahead_hits(), 1);
    }

    #[tokio::test]
    async fn a_reader_waiting_for_a_block_fetched_ahead_raises_its_urgency() {
        let cache = BlockCache::new(8);
        let urgency = Arc::new(Urgency::default());
        let (send, receive) = tokio::sync::oneshot::channel::<Bytes>();
        cache.prefetch(key("f", 0), urgency.clone(), || async move {
            Ok(receive.await.unwrap())
        });
        // Another read-ahead of it is no reader.
        cache.prefetch(key("f", 0), Arc::default(), || async { unreachable!() });
        assert!(!urgency.is_raised());
        let reader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_fetch(key("f", 0), || async { unreachable!() })
                    .await
            })
        };
        while !urgency.is_raised() {
            tokio::task::yield_now().await;
        }
        send.send(Bytes::from_static(b"0000")).unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), Bytes::from_static(b"0000"));
    }

    proptest::proptest! {
        /// Whatever the sequence of inserts, the cache stays within its budget and keeps the
        /// most recently inserted block that fits.
        #[test]
        fn stays_within_budget(ops in proptest::collection::vec((0u64..20, 1usize..64), 1..200),
                               cap in 1u64..256) {
            let cache = BlockCache::new(cap);
            for (i, len) in ops.iter() {
                cache.insert(key("f", *i), Bytes::from(vec![0u8; *len]));
                proptest::prop_assert!(cache.used() <= cap);
                if (*len as u64) <= cap {
                    proptest::prop_assert_eq!(cache.get(&key("f", *i)).map(|b| b.len()), Some(*len));
                }
            }
        }
    }
}
