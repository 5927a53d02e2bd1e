//! Mapping byte ranges of a file onto fixed-size blocks.

use std::ops::{Range, RangeInclusive};

/// The cache index of a file's first bytes as a probe got them, when they are not a whole
/// block (no block has this index: a file is at most `i64::MAX` bytes).
pub const HEAD_INDEX: u64 = u64::MAX;

/// The blocks that hold bytes `[offset, offset + len)` of a file of `file_size` bytes, clipped at
/// the end of the file; None when nothing of the range is inside the file.
pub fn blocks_for(
    offset: u64,
    len: u64,
    block_size: u64,
    file_size: u64,
) -> Option<RangeInclusive<u64>> {
    let end = offset.saturating_add(len).min(file_size);
    if offset >= end {
        return None;
    }
    Some(offset / block_size..=(end - 1) / block_size)
}

/// The bytes `[start, end)` that block `index` covers in a file of `file_size` bytes.
pub fn block_span(index: u64, block_size: u64, file_size: u64) -> Range<u64> {
    let start = index.saturating_mul(block_size).min(file_size);
    let end = start.saturating_add(block_size).min(file_size);
    start..end
}

/// How many blocks a file of `file_size` bytes has.
pub fn block_count(block_size: u64, file_size: u64) -> u64 {
    file_size.div_ceil(block_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert_eq!(blocks_for(0, 10, 4, 10), Some(0..=2));
        assert_eq!(blocks_for(4, 4, 4, 10), Some(1..=1));
        assert_eq!(blocks_for(9, 100, 4, 10), Some(2..=2));
        assert_eq!(blocks_for(10, 1, 4, 10), None);
        assert_eq!(blocks_for(3, 0, 4, 10), None);
        assert_eq!(blocks_for(u64::MAX, u64::MAX, 4, 10), None);
        assert_eq!(block_span(2, 4, 10), 8..10);
        assert_eq!(block_span(3, 4, 10), 10..10);
        assert_eq!(block_count(4, 10), 3);
        assert_eq!(block_count(4, 0), 0);
    }

    proptest! {
        /// The blocks of a range cover exactly the part of the range inside the file.
        #[test]
        fn blocks_cover_the_range(offset in 0u64..10_000, len in 0u64..10_000,
                                  bs in 1u64..5000, size in 0u64..20_000) {
            let want_end = (offset + len).min(size);
            match blocks_for(offset, len, bs, size) {
                None => prop_assert!(offset >= want_end),
                Some(r) => {
                    let first = block_span(*r.start(), bs, size);
                    let last = block_span(*r.end(), bs, size);
                    prop_assert!(first.start <= offset && offset < first.end);
                    prop_assert!(last.start < want_end && want_end <= last.end);
                    prop_assert!(*r.end() < block_count(bs, size));
                }
            }
        }
    }
}
