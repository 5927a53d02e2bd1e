//! Block buffers, reused: a block dropped from the cache gives its buffer back for the next one.
//!
//! A fresh 1 MiB buffer per block costs page faults and zeroing on its first writes, and the
//! allocator keeps freed ones as free memory of the process (glibc moves buffers of this size
//! from their own mappings onto its heaps after the first few are freed, where holes stay
//! resident): some 20 MiB above the cache on a cold 1 GiB read. Buffers that go back to a pool
//! are never freed, so the memory of the blocks is the most blocks ever held at once, which
//! the cache bounds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

pub struct BufferPool {
    /// Every buffer's capacity: the block size.
    size: usize,
    /// The most idle buffers kept (the cache's capacity in blocks); one more is freed.
    keep: usize,
    idle: Mutex<Vec<Vec<u8>>>,
    /// Buffers allocated and not freed (in use or idle).
    allocated: AtomicU64,
    /// The most `allocated` has been.
    peak: AtomicU64,
}

impl BufferPool {
    /// A pool of buffers of `size` bytes that keeps up to `keep` of them idle.
    pub fn new(size: usize, keep: usize) -> Arc<Self> {
        Arc::new(BufferPool {
            size,
            keep,
            idle: Mutex::new(Vec::new()),
            allocated: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        })
    }

    pub fn buffer_size(&self) -> usize {
        self.size
    }

    /// An empty buffer of `buffer_size` bytes' room: an idle one, or a new one.
    pub fn take(self: &Arc<Self>) -> PooledBuf {
        let reused = self.lock().pop();
        let buf = reused.unwrap_or_else(|| {
            let now = self.allocated.fetch_add(1, Ordering::Relaxed) + 1;
            self.peak.fetch_max(now, Ordering::Relaxed);
            // Not zeroed: it is filled before it is read.
            Vec::with_capacity(self.size)
        });
        PooledBuf {
            buf,
            pool: self.clone(),
        }
    }

    /// Bytes in the pool's buffers now (in use and idle).
    pub fn allocated_bytes(&self) -> u64 {
        self.allocated.load(Ordering::Relaxed) * self.size as u64
    }

    /// The most bytes the pool's buffers have taken at once.
    pub fn peak_bytes(&self) -> u64 {
        self.peak.load(Ordering::Relaxed) * self.size as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A panic while holding the lock leaves a list of buffers, consistent.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn give_back(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut idle = self.lock();
        if idle.len() < self.keep && buf.capacity() == self.size {
            idle.push(buf);
        } else {
            drop(idle);
            self.allocated.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A buffer of a [`BufferPool`], filled once and then frozen into [`Bytes`]; it goes back to
/// the pool when the last `Bytes` of it is dropped.
pub struct PooledBuf {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl PooledBuf {
    /// Appends bytes, within the buffer's room (beyond it the buffer would move).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        assert!(
            self.buf.len() + bytes.len() <= self.pool.size,
            "a pooled buffer cannot grow"
        );
        self.buf.extend_from_slice(bytes);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_and_are_reused() {
        let pool = BufferPool::new(4, 2);
        let mut a = pool.take();
        a.extend_from_slice(b"abcd");
        let a = a.freeze();
        let slice = a.slice(1..3);
        drop(a);
        assert_eq!(&slice[..], b"bc", "a slice keeps the buffer");
        assert_eq!(pool.allocated_bytes(), 4);
        drop(slice);
        let mut b = pool.take();
        assert!(b.is_empty(), "a reused buffer starts empty");
        b.extend_from_slice(b"wx");
        assert_eq!(&b.freeze()[..], b"wx");
        assert_eq!(pool.peak_bytes(), 4, "one buffer served both");
    }

    #[test]
    fn at_most_keep_buffers_stay_idle() {
        let pool = BufferPool::new(4, 2);
        let held: Vec<_> = (0..5).map(|_| pool.take()).collect();
        assert_eq!(pool.allocated_bytes(), 20);
        drop(held);
        assert_eq!(pool.allocated_bytes(), 8, "two kept, three freed");
        assert_eq!(pool.peak_bytes(), 20);
    }

    #[test]
    #[should_panic(expected = "cannot grow")]
    fn a_buffer_does_not_grow_past_its_size() {
        BufferPool::new(2, 1).take().extend_from_slice(b"abc");
    }
}
