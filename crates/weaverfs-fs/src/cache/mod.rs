//! Block arithmetic, the block cache in memory and the one on disk.

pub mod block_cache;
pub mod blocks;
pub mod buffer_pool;
pub mod data_file;
pub mod disk;

pub use block_cache::{BlockCache, BlockKey, CacheStats};
pub use buffer_pool::BufferPool;
pub use disk::{DiskCache, DiskLimits};
