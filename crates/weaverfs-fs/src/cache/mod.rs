//! Block arithmetic and the block cache.

pub mod block_cache;
pub mod blocks;

pub use block_cache::{BlockCache, BlockKey, CacheStats};
