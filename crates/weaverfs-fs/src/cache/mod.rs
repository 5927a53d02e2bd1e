//! Block arithmetic, the block cache in memory and the one on disk.

pub mod block_cache;
pub mod blocks;
pub mod data_file;
pub mod disk;

pub use block_cache::{BlockCache, BlockKey, CacheStats};
pub use disk::{DiskCache, DiskLimits};
