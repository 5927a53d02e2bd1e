//! A file version whose every block is on disk, kept as one plain file (`data`: the exact
//! bytes, which FUSE passthrough can hand to the kernel) and, beside it, the CRC-32C of each
//! block (`data.crc`), so a read from it is one `pread` and one checksum, and never torn bytes.

use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use bytes::Bytes;

use crate::cache::blocks;

pub const DATA: &str = "data";
pub const CRCS: &str = "data.crc";
const MAGIC: &[u8; 8] = b"WFSCRC01";
/// magic, block size, file size, whether the server's digest was checked, padding.
const HEAD: usize = 32;

/// The CRC list of a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crcs {
    pub block_size: u64,
    pub size: u64,
    /// The bytes were checked against the server's digest when they were assembled.
    pub digest_checked: bool,
    pub crcs: Vec<u32>,
}

impl Crcs {
    /// Bytes of the CRC file of a data file of `blocks` blocks.
    pub fn len_for(blocks: u64) -> u64 {
        HEAD as u64 + 4 * blocks
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::len_for(self.crcs.len() as u64) as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.block_size.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.push(self.digest_checked as u8);
        out.resize(HEAD, 0);
        for crc in &self.crcs {
            out.extend_from_slice(&crc.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Crcs> {
        if bytes.len() < HEAD || &bytes[..8] != MAGIC {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let (block_size, size) = (u64_at(8), u64_at(16));
        let crcs: Vec<u32> = bytes[HEAD..]
            .chunks(4)
            .map(|c| c.try_into().map(u32::from_le_bytes))
            .collect::<Result<_, _>>()
            .ok()?;
        (block_size > 0 && crcs.len() as u64 == blocks::block_count(block_size, size)).then_some(
            Crcs {
                block_size,
                size,
                digest_checked: bytes[24] == 1,
                crcs,
            },
        )
    }
}

/// An open data file and its CRC list.
pub struct DataFile {
    file: File,
    crcs: Crcs,
    dev: u64,
    ino: u64,
}

impl DataFile {
    /// The data file in `dir`: Ok(None) when there is none; an error when it and its CRC
    /// list do not agree (damaged: to be dropped).
    pub fn open(dir: &Path) -> Result<Option<DataFile>, String> {
        let file = match File::open(dir.join(DATA)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let meta = file.metadata().map_err(|e| e.to_string())?;
        let text = std::fs::read(dir.join(CRCS)).map_err(|e| format!("{CRCS}: {e}"))?;
        let crcs = Crcs::decode(&text).ok_or_else(|| format!("{CRCS} is damaged"))?;
        if meta.len() != crcs.size {
            return Err(format!("{} bytes, {} expected", meta.len(), crcs.size));
        }
        Ok(Some(DataFile {
            file,
            crcs,
            dev: meta.dev(),
            ino: meta.ino(),
        }))
    }

    /// Whether `meta` (of the path now) is still the file this one opened.
    pub fn is(&self, meta: &Metadata) -> bool {
        (meta.dev(), meta.ino()) == (self.dev, self.ino)
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn crcs(&self) -> &Crcs {
        &self.crcs
    }

    /// Block `index` of `len` bytes: None when the file has no such block, an error when its
    /// checksum is wrong.
    pub fn block(&self, index: u64, len: u64) -> Result<Option<Bytes>, String> {
        let span = blocks::block_span(index, self.crcs.block_size, self.crcs.size);
        let Some(want) = self
            .crcs
            .crcs
            .get(index as usize)
            .copied()
            .filter(|_| span.end - span.start == len)
        else {
            return Ok(None);
        };
        let mut buf = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut buf, span.start)
            .map_err(|e| e.to_string())?;
        if crc32c::crc32c(&buf) != want {
            return Err(format!(
                "block {index}: checksum mismatch (damaged data file)"
            ));
        }
        Ok(Some(Bytes::from(buf)))
    }
}

/// Writes the blocks `block(0..n)` gives (each already checked) one after the other into
/// `out`, and syncs it; the CRC of each, or None when a block is missing.
pub fn copy_blocks(
    out: &mut File,
    count: u64,
    mut block: impl FnMut(u64) -> Option<Bytes>,
) -> io::Result<Option<Vec<u32>>> {
    let mut crcs = Vec::with_capacity(count as usize);
    let mut w = io::BufWriter::with_capacity(1 << 20, &mut *out);
    for index in 0..count {
        let Some(data) = block(index) else {
            return Ok(None);
        };
        crcs.push(crc32c::crc32c(&data));
        w.write_all(&data)?;
    }
    w.flush()?;
    drop(w);
    out.sync_all()?;
    Ok(Some(crcs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_lists_round_trip_and_must_fit_their_file() {
        let c = Crcs {
            block_size: 4,
            size: 10,
            digest_checked: true,
            crcs: vec![1, 2, 3],
        };
        assert_eq!(c.encode().len() as u64, Crcs::len_for(3));
        assert_eq!(Crcs::decode(&c.encode()), Some(c.clone()));
        let mut short = c.encode();
        short.truncate(short.len() - 4);
        assert_eq!(Crcs::decode(&short), None, "a block's CRC missing");
        assert_eq!(Crcs::decode(b"WFSCRC0"), None);
    }

    #[test]
    fn a_flipped_byte_is_found_at_read() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..10u8).collect();
        let mut out = File::create(dir.path().join(DATA)).unwrap();
        let crcs = copy_blocks(&mut out, 3, |i| {
            let s = (i * 4) as usize;
            Some(Bytes::copy_from_slice(&data[s..(s + 4).min(10)]))
        })
        .unwrap()
        .unwrap();
        let list = Crcs {
            block_size: 4,
            size: 10,
            digest_checked: false,
            crcs,
        };
        std::fs::write(dir.path().join(CRCS), list.encode()).unwrap();
        let f = DataFile::open(dir.path()).unwrap().unwrap();
        assert_eq!(f.block(2, 2).unwrap().unwrap(), &data[8..]);
        assert_eq!(f.block(2, 4), Ok(None), "wrong length");
        let mut bytes = std::fs::read(dir.path().join(DATA)).unwrap();
        bytes[5] ^= 1;
        std::fs::write(dir.path().join(DATA), bytes).unwrap();
        assert_eq!(f.block(0, 4).unwrap().unwrap(), &data[..4]);
        assert!(f.block(1, 4).is_err());
        // Missing a block: no CRC list.
        let mut out = File::create(dir.path().join("x")).unwrap();
        let none = copy_blocks(&mut out, 2, |i| (i == 0).then(Bytes::new)).unwrap();
        assert_eq!(none, None);
    }
}
