//! A block cache on disk that outlives the mount and is shared safely by every mount (process)
//! that uses the same directory.
//!
//! Layout under `DIR/weaverfs-v1/`:
//! - `files/HASH/key`: the file version (URL, size, validator, block size) the blocks belong to;
//!   HASH is the SHA-256 of that text, so another version never meets old blocks.
//! - `files/HASH/N`: block N, a header (magic, hash, index, length, CRC-32C) and the bytes.
//!   Written into `tmp/` and published with `link`, so a block is whole or absent; its checksum
//!   is checked at every read, so a block torn by a power loss is dropped, never served.
//! - `files/HASH/data` and `data.crc`: once every block of a version is on disk, they are
//!   assembled into one plain file with the exact bytes (each block's CRC checked while
//!   copying, the server's digest too when it gave one), written in `tmp/`, synced, and
//!   published by rename under the lock, its CRC list first; then the blocks are removed and
//!   the ledger moves from them to it. Its space is reserved before the copy, while the blocks
//!   still count, so the bound holds during assembly (a file over about half the bound stays
//!   in blocks). Reads pread it and check the block's CRC; FUSE passthrough hands it to the
//!   kernel. Eviction treats it (with its CRC list) as one unit.
//! - `ledger`: the bytes in use (and the hit/miss counters), changed only under `flock(lock)`.
//!   Space is reserved in the ledger before a block is written, so the bound holds across
//!   processes; `link` (EEXIST) and `unlink` (ENOENT) decide who counts a block, so two mounts
//!   never count one twice. Whenever the ledger and the files may differ (at open, and when
//!   eviction finds nothing more it knows of) the files are scanned and the ledger set exact.
//!
//! Files deleted by another process are misses (fetched again); a deleted ledger is rebuilt.
//! A data file open in passthrough when it is evicted or deleted keeps serving the kernel (the
//! open descriptor holds it); its space returns when the last handle closes.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::blocks;
use super::data_file::{self, Crcs, DataFile, CRCS, DATA};
use crate::read::digest::Expected;

const VERSION_DIR: &str = "weaverfs-v1";
const MAGIC: &[u8; 8] = b"WFSBLK01";
/// magic, key hash, index, length, CRC-32C, padding.
const HEADER: usize = 64;
/// Space a file takes, as allocated on ext4/xfs (what `du` shows).
const ALLOC: u64 = 4096;
/// A block used less than this long ago is not touched again (fewer metadata writes).
const TOUCH_EVERY: Duration = Duration::from_secs(10);
/// A temporary file this old belongs to a process that died.
const STALE_TMP: Duration = Duration::from_secs(600);

/// Limits of a disk cache.
#[derive(Debug, Clone, Copy)]
pub struct DiskLimits {
    /// Bytes of the cache directory (as allocated) never exceeded.
    pub max_bytes: u64,
    /// Fraction of the filesystem kept free (0.05: mountpoint-s3's default).
    pub min_free: f64,
}

/// What is in a cache directory, for `weaverfs cache`.
#[derive(Debug, Default)]
pub struct Report {
    pub used: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub files: Vec<FileReport>,
}

#[derive(Debug)]
pub struct FileReport {
    pub url: String,
    pub size: u64,
    pub block_size: u64,
    pub blocks: u64,
    /// Bytes of the file present.
    pub present: u64,
}

/// Counters kept in the ledger.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Ledger {
    used: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
}

impl Ledger {
    fn parse(text: &str) -> Option<Ledger> {
        let mut l = Ledger::default();
        for word in text.split_whitespace() {
            let (name, value) = word.split_once('=')?;
            let value = value.parse().ok()?;
            match name {
                "used" => l.used = value,
                "hits" => l.hits = value,
                "misses" => l.misses = value,
                "evictions" => l.evictions = value,
                _ => {}
            }
        }
        Some(l)
    }

    fn text(&self) -> String {
        format!(
            "used={} hits={} misses={} evictions={}\n",
            self.used, self.hits, self.misses, self.evictions
        )
    }
}

pub struct DiskCache {
    root: PathBuf,
    limits: DiskLimits,
    lock: File,
    ledger: File,
    local: Mutex<Local>,
    /// Data files open for reads, by hash (checked against the path at each use).
    data_files: Mutex<HashMap<String, Arc<DataFile>>>,
    /// Versions being assembled by this process.
    assembling: Mutex<HashSet<String>>,
    /// Blocks on disk of the versions this process stores, by hash: counted once from the
    /// directory, then one more per stored block, so the completeness check is not a
    /// directory scan per block (quadratic in a large file's blocks).
    stored: Mutex<HashMap<String, u64>>,
    hits: AtomicU64,
    misses: AtomicU64,
    pub stats: DiskStats,
}

/// This process's counters, for the mount's stats.
#[derive(Debug, Default)]
pub struct DiskStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub bytes_read: AtomicU64,
    pub writes: AtomicU64,
    pub bytes_written: AtomicU64,
    pub evictions: AtomicU64,
    pub dropped_corrupt: AtomicU64,
}

impl DiskStats {
    pub fn snapshot(&self, limit_bytes: u64) -> crate::stats::DiskSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        crate::stats::DiskSnapshot {
            hits: get(&self.hits),
            misses: get(&self.misses),
            bytes_read: get(&self.bytes_read),
            bytes_written: get(&self.bytes_written),
            blocks_written: get(&self.writes),
            evictions: get(&self.evictions),
            dropped_corrupt: get(&self.dropped_corrupt),
            limit_bytes,
        }
    }
}

/// State of this process, under its mutex (flock does not exclude threads of one process).
struct Local {
    /// Blocks by path, least recently used first, with the mtime last seen.
    lru: LruCache<PathBuf, SystemTime>,
    /// Hits and misses not yet added to the ledger.
    flushed_hits: u64,
    flushed_misses: u64,
}

/// Held while the ledger may change: the process mutex, then the directory's flock.
struct Locked<'a> {
    cache: &'a DiskCache,
    local: MutexGuard<'a, Local>,
    ledger: Ledger,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.cache.write_ledger(&mut self.local, &mut self.ledger);
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self.cache.lock.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Why a complete version was not assembled.
enum Unassembled {
    BlockMissing,
    WrongDigest(String),
    /// Another mount published it first.
    Published,
}

/// The file size and block size a disk key names (its second and last lines).
fn key_sizes(key: &str) -> Option<(u64, u64)> {
    let mut lines = key.lines();
    let size = lines.nth(1)?.parse().ok()?;
    let block_size: u64 = lines.last()?.parse().ok()?;
    (block_size > 0).then_some((size, block_size))
}

/// Block files in a version's directory.
fn count_blocks(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u64>().is_ok())
        .count() as u64
}

/// The directory name of a file version.
pub fn key_hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn allocated(len: u64) -> u64 {
    len.div_ceil(ALLOC) * ALLOC
}

/// What one hash directory costs besides its blocks: the directory and its key file.
const KEY_COST: u64 = 2 * ALLOC;

impl DiskCache {
    /// Opens (creating it if needed) the cache in `dir`, and sets its ledger from the files.
    pub fn open(dir: &Path, limits: DiskLimits) -> io::Result<Arc<DiskCache>> {
        let root = dir.join(VERSION_DIR);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root.join("files"))?;
        fs::create_dir_all(root.join("tmp"))?;
        let tag = dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            let _ = fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# weaverfs disk cache\n",
            );
        }
        let open = |name: &str| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(root.join(name))
        };
        let cache = Arc::new(DiskCache {
            lock: open("lock")?,
            ledger: open("ledger")?,
            root,
            limits,
            local: Mutex::new(Local {
                lru: LruCache::unbounded(),
                flushed_hits: 0,
                flushed_misses: 0,
            }),
            data_files: Mutex::new(HashMap::new()),
            assembling: Mutex::new(HashSet::new()),
            stored: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stats: DiskStats::default(),
        });
        cache.locked()?.rescan()?;
        Ok(cache)
    }

    pub fn limits(&self) -> DiskLimits {
        self.limits
    }

    fn block_path(&self, hash: &str, index: u64) -> PathBuf {
        self.root.join("files").join(hash).join(index.to_string())
    }

    fn locked(&self) -> io::Result<Locked<'_>> {
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: flock on a descriptor we own; it blocks until other processes let go.
        if unsafe { libc::flock(self.lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut text = String::new();
        (&self.ledger).seek(SeekFrom::Start(0))?;
        (&self.ledger).read_to_string(&mut text)?;
        let parsed = Ledger::parse(&text);
        let mut locked = Locked {
            cache: self,
            local,
            ledger: parsed.unwrap_or_default(),
        };
        if parsed.is_none() || text.is_empty() {
            locked.rescan()?;
        }
        Ok(locked)
    }

    fn write_ledger(&self, local: &mut Local, ledger: &mut Ledger) -> io::Result<()> {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        ledger.hits += hits - local.flushed_hits;
        ledger.misses += misses - local.flushed_misses;
        local.flushed_hits = hits;
        local.flushed_misses = misses;
        let text = ledger.text();
        self.ledger.set_len(0)?;
        (&self.ledger).seek(SeekFrom::Start(0))?;
        (&self.ledger).write_all(text.as_bytes())
    }

    /// Block `index` of the file version `key`, if the cache has it whole and intact.
    pub fn get(&self, key: &str, index: u64, len: u64) -> Option<Bytes> {
        let hash = key_hash(key);
        if let Some((data, mtime)) = self.data_file(&hash) {
            match data.block(index, len) {
                Ok(Some(bytes)) => {
                    let path = self.root.join("files").join(&hash).join(DATA);
                    self.hit(path, mtime, len);
                    return Some(bytes);
                }
                Ok(None) => {}
                Err(why) => {
                    self.drop_corrupt(&self.root.join("files").join(&hash).join(DATA), &why);
                    return None;
                }
            }
        }
        let path = self.block_path(&hash, index);
        match read_block(&path, &hash, index, len) {
            Ok(Some((data, mtime))) => {
                self.hit(path, mtime, len);
                Some(data)
            }
            Ok(None) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(why) => {
                self.drop_corrupt(&path, &why);
                None
            }
        }
    }

    /// Counts a hit on the file at `path` and moves it up the LRU (its mtime is the clock
    /// other mounts see, touched at most every `TOUCH_EVERY`).
    fn hit(&self, path: PathBuf, mtime: SystemTime, len: u64) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.stats.hits.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes_read.fetch_add(len, Ordering::Relaxed);
        self.touch(path, mtime);
    }

    fn touch(&self, path: PathBuf, mtime: SystemTime) {
        let now = SystemTime::now();
        let seen = if now.duration_since(mtime).unwrap_or_default() > TOUCH_EVERY {
            let _ = File::open(&path).and_then(|f| f.set_modified(now));
            now
        } else {
            mtime
        };
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.lru.put(path, seen);
    }

    /// Drops a file found damaged (a miss).
    fn drop_corrupt(&self, path: &Path, why: &str) {
        tracing::warn!("disk cache: dropping {}: {why}", path.display());
        self.stats.dropped_corrupt.fetch_add(1, Ordering::Relaxed);
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.locked() {
            l.remove(path);
        }
    }

    /// The open data file of the version `hash`, if it has one now, with its mtime. One
    /// deleted or replaced since it was opened is opened again (or is a miss).
    fn data_file(&self, hash: &str) -> Option<(Arc<DataFile>, SystemTime)> {
        let dir = self.root.join("files").join(hash);
        let mut open = self.data_files.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(meta) = fs::metadata(dir.join(DATA)) else {
            open.remove(hash);
            return None;
        };
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if let Some(f) = open.get(hash).filter(|f| f.is(&meta)) {
            return Some((f.clone(), mtime));
        }
        open.remove(hash);
        match DataFile::open(&dir) {
            Ok(Some(f)) => {
                let f = Arc::new(f);
                open.insert(hash.to_string(), f.clone());
                Some((f, mtime))
            }
            Ok(None) => None,
            Err(why) => {
                drop(open);
                self.drop_corrupt(&dir.join(DATA), &why);
                None
            }
        }
    }

    /// The complete data file of the version `key` (assembled now if every block is there),
    /// for FUSE passthrough, and whether its bytes were checked against the server's digest.
    pub fn complete_file(&self, key: &str, expected: Option<&Expected>) -> Option<(File, bool)> {
        if let Err(e) = self.assemble_if_complete(key, expected) {
            tracing::warn!("disk cache: cannot assemble a complete file: {e}");
        }
        let (size, _) = key_sizes(key)?;
        let hash = key_hash(key);
        let (data, mtime) = self.data_file(&hash)?;
        if data.crcs().size != size {
            return None;
        }
        let file = data.file().try_clone().ok()?;
        self.touch(self.root.join("files").join(&hash).join(DATA), mtime);
        Some((file, data.crcs().digest_checked))
    }

    /// Stores a block of `key` unless it is there already or no room can be made for it
    /// within the limits; true when this call stored it.
    pub fn put(&self, key: &str, index: u64, data: &[u8]) -> io::Result<bool> {
        let hash = key_hash(key);
        let dir = self.root.join("files").join(&hash);
        let path = dir.join(index.to_string());
        let space = allocated((HEADER + data.len()) as u64);
        let (tmp, reserved) = {
            let mut l = self.locked()?;
            if path.exists() || dir.join(DATA).exists() {
                return Ok(false);
            }
            let key_missing = !dir.join("key").exists();
            let reserved = space + if key_missing { KEY_COST } else { 0 };
            if !l.make_room(reserved, None)? {
                return Ok(false);
            }
            if key_missing {
                fs::create_dir_all(&dir)?;
                let key_tmp = dir.join("key.tmp");
                fs::write(&key_tmp, key)?;
                fs::rename(&key_tmp, dir.join("key"))?;
            }
            let tmp = self.new_tmp(space, &hash)?;
            l.ledger.used += reserved;
            (tmp, reserved)
        };
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8..40].copy_from_slice(&Sha256::digest(hash.as_bytes()));
        header[40..48].copy_from_slice(&index.to_le_bytes());
        header[48..56].copy_from_slice(&(data.len() as u64).to_le_bytes());
        header[56..60].copy_from_slice(&crc32c::crc32c(data).to_le_bytes());
        let written = (|| {
            let mut f = OpenOptions::new().write(true).open(&tmp)?;
            f.write_all(&header)?;
            f.write_all(data)?;
            fs::hard_link(&tmp, &path)
        })();
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => {
                self.stats.writes.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .bytes_written
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
                local.lru.put(path, SystemTime::now());
                // The key's reservation stays: its files exist now.
                Ok(true)
            }
            Err(e) => {
                // Another mount published it first (EEXIST), or the write failed: give back
                // the block's reservation.
                let mut l = self.locked()?;
                l.ledger.used = l.ledger.used.saturating_sub(space);
                let _ = reserved;
                if e.kind() == io::ErrorKind::AlreadyExists {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// A new temporary file in `tmp/`, named so that a rescan counts its reservation of
    /// `space` bytes for as long as this process lives.
    fn new_tmp(&self, space: u64, hash: &str) -> io::Result<PathBuf> {
        // Unique in this process, whatever the number of caches open in it.
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{seq}-{space}-{hash}", std::process::id());
        let tmp = self.root.join("tmp").join(name);
        File::create(&tmp)?;
        Ok(tmp)
    }

    /// Assembles the data file of the version `key` when every block of it is on disk and it
    /// has none yet; true when it has one now. Blocks that fail their CRC, or bytes that fail
    /// the server's digest, stop it (and are dropped); so does a bound that cannot hold the
    /// copy beside the blocks.
    pub fn assemble_if_complete(&self, key: &str, expected: Option<&Expected>) -> io::Result<bool> {
        let Some((size, block_size)) = key_sizes(key) else {
            return Ok(false);
        };
        let hash = key_hash(key);
        let dir = self.root.join("files").join(&hash);
        if dir.join(DATA).exists() {
            return Ok(true);
        }
        let count = blocks::block_count(block_size, size);
        if size == 0 || count_blocks(&dir) < count {
            return Ok(false);
        }
        if !self
            .assembling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash.clone())
        {
            return Ok(false);
        }
        let done = self.assemble(key, &hash, &dir, size, block_size, expected);
        self.assembling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&hash);
        done
    }

    fn assemble(
        &self,
        key: &str,
        hash: &str,
        dir: &Path,
        size: u64,
        block_size: u64,
        expected: Option<&Expected>,
    ) -> io::Result<bool> {
        let count = blocks::block_count(block_size, size);
        let space = allocated(size) + allocated(Crcs::len_for(count));
        let (tmp, crc_tmp) = {
            let mut l = self.locked()?;
            if dir.join(DATA).exists() {
                return Ok(true);
            }
            if !l.make_room(space, Some(dir))? {
                tracing::debug!("disk cache: no room to assemble {}", dir.display());
                return Ok(false);
            }
            let tmp = self.new_tmp(space, hash)?;
            // Its reservation is the data file's.
            let crc_tmp = self.new_tmp(0, hash)?;
            l.ledger.used += space;
            (tmp, crc_tmp)
        };
        let published = (|| -> io::Result<Result<(), Unassembled>> {
            let mut out = OpenOptions::new().write(true).open(&tmp)?;
            let copied = data_file::copy_blocks(&mut out, count, |index| {
                let span = blocks::block_span(index, block_size, size);
                let path = dir.join(index.to_string());
                match read_block(&path, hash, index, span.end - span.start) {
                    Ok(found) => found.map(|(bytes, _)| bytes),
                    Err(why) => {
                        self.drop_corrupt(&path, &why);
                        None
                    }
                }
            })?;
            let Some(crcs) = copied else {
                return Ok(Err(Unassembled::BlockMissing));
            };
            if let Some(expected) = expected {
                let read = io::BufReader::with_capacity(1 << 20, File::open(&tmp)?);
                if let Some(why) = expected.check(read).map_err(io::Error::other)? {
                    return Ok(Err(Unassembled::WrongDigest(why)));
                }
            }
            let list = Crcs {
                block_size,
                size,
                digest_checked: expected.is_some(),
                crcs,
            };
            let mut f = File::create(&crc_tmp)?;
            f.write_all(&list.encode())?;
            f.sync_all()?;
            // Under the lock: no other mount publishes or evicts this version meanwhile.
            let mut l = self.locked()?;
            if dir.join(DATA).exists() {
                return Ok(Err(Unassembled::Published));
            }
            l.remove(&dir.join(CRCS));
            fs::rename(&crc_tmp, dir.join(CRCS))?;
            fs::rename(&tmp, dir.join(DATA))?;
            // Published for good before its blocks go.
            File::open(dir)?.sync_all()?;
            for index in 0..count {
                l.remove(&dir.join(index.to_string()));
            }
            l.local.lru.put(dir.join(DATA), SystemTime::now());
            Ok(Ok(()))
        })();
        let _ = fs::remove_file(&crc_tmp);
        let _ = fs::remove_file(&tmp);
        if let Ok(Ok(())) = published {
            tracing::debug!("disk cache: {} is complete: one data file", dir.display());
            return Ok(true);
        }
        // Not published: the reservation goes back.
        let mut l = self.locked()?;
        l.ledger.used = l.ledger.used.saturating_sub(space);
        drop(l);
        match published? {
            Err(Unassembled::WrongDigest(why)) => {
                tracing::error!(
                    "disk cache: {}: {why}; its blocks are dropped",
                    dir.display()
                );
                self.forget(key)?;
                Ok(false)
            }
            _ => Ok(dir.join(DATA).exists()),
        }
    }

    /// Removes every cached block (what `weaverfs cache --clear` does); mounts using the
    /// directory keep working and fetch again.
    pub fn clear(&self) -> io::Result<()> {
        let mut l = self.locked()?;
        for entry in fs::read_dir(self.root.join("files"))? {
            let entry = entry?;
            if !l.has_live_tmp(&entry.file_name().to_string_lossy()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        l.rescan()
    }

    /// What the directory holds, per file version.
    pub fn report(&self) -> io::Result<Report> {
        let l = self.locked()?;
        let mut files = Vec::new();
        for entry in fs::read_dir(self.root.join("files"))? {
            let dir = entry?.path();
            let Ok(key) = fs::read_to_string(dir.join("key")) else {
                continue;
            };
            let mut lines = key.lines();
            let url = lines.next().unwrap_or_default().to_string();
            let size = lines.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let block_size = lines.last().and_then(|s| s.parse().ok()).unwrap_or(0);
            let (mut blocks, mut present) = (0, 0);
            for block in fs::read_dir(&dir)?.flatten() {
                if block.file_name() == DATA {
                    blocks = crate::cache::blocks::block_count(block_size.max(1), size);
                    present = size;
                    break;
                }
                if block.file_name().to_string_lossy().parse::<u64>().is_ok() {
                    blocks += 1;
                    present += block
                        .metadata()
                        .map_or(0, |m| m.len().saturating_sub(HEADER as u64));
                }
            }
            files.push(FileReport {
                url,
                size,
                block_size,
                blocks,
                present,
            });
        }
        files.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(Report {
            used: l.ledger.used,
            hits: l.ledger.hits,
            misses: l.ledger.misses,
            evictions: l.ledger.evictions,
            files,
        })
    }
}

impl Drop for DiskCache {
    fn drop(&mut self) {
        // Adds this process's last hits and misses to the ledger.
        let _ = self.locked();
    }
}

/// A block file's bytes if it is whole and belongs where it is; Ok(None) when absent.
fn read_block(
    path: &Path,
    hash: &str,
    index: u64,
    len: u64,
) -> Result<Option<(Bytes, SystemTime)>, String> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if meta.len() != HEADER as u64 + len {
        return Err(format!(
            "{} bytes, {} expected",
            meta.len(),
            HEADER as u64 + len
        ));
    }
    let mut buf = vec![0u8; meta.len() as usize];
    file.read_exact(&mut buf).map_err(|e| e.to_string())?;
    let (header, data) = buf.split_at(HEADER);
    let u64_at = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap());
    let crc = u32::from_le_bytes(header[56..60].try_into().unwrap());
    if &header[..8] != MAGIC
        || header[8..40] != Sha256::digest(hash.as_bytes())[..]
        || u64_at(40) != index
        || u64_at(48) != len
    {
        return Err("header does not match".into());
    }
    if crc32c::crc32c(data) != crc {
        return Err("checksum mismatch (torn or damaged block)".into());
    }
    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let mut bytes = Bytes::from(buf);
    Ok(Some((bytes.split_off(HEADER), mtime)))
}

impl Locked<'_> {
    /// Frees space until `need` more bytes fit within the limits; false when they cannot.
    /// Nothing in `keep` (the version being assembled) is evicted.
    fn make_room(&mut self, need: u64, keep: Option<&Path>) -> io::Result<bool> {
        let limits = self.cache.limits;
        let mut rescanned = false;
        let mut checks = 0usize;
        let mut kept = Vec::new();
        let fits = loop {
            let fits = self.ledger.used + need <= limits.max_bytes
                && free_space_ok(&self.cache.root, need, limits.min_free);
            if fits {
                break true;
            }
            let Some((path, seen)) = self.local.lru.pop_lru() else {
                if rescanned {
                    break false;
                }
                self.rescan()?;
                rescanned = true;
                continue;
            };
            if keep.is_some_and(|k| path.parent() == Some(k)) {
                kept.push((path, seen));
                continue;
            }
            checks += 1;
            match fs::metadata(&path) {
                Err(_) => continue,
                // Used by another mount since: keep it, and look again later.
                Ok(m)
                    if m.modified().is_ok_and(|t| t > seen)
                        && checks <= 2 * self.local.lru.len() + 2 =>
                {
                    let t = m.modified().unwrap_or(seen);
                    self.local.lru.put(path, t);
                }
                Ok(_) => {
                    if self.unlink(&path) {
                        self.ledger.evictions += 1;
                        self.cache.stats.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        };
        for (path, seen) in kept {
            self.local.lru.put(path, seen);
        }
        Ok(fits)
    }

    /// Removes a block, or a data file with its CRC list, and un-counts it; false when another
    /// process removed it first.
    fn unlink(&mut self, path: &Path) -> bool {
        let gone = |l: &mut Self, p: &Path| match fs::metadata(p) {
            Ok(m) if fs::remove_file(p).is_ok() => {
                l.ledger.used = l.ledger.used.saturating_sub(allocated(m.len()));
                true
            }
            _ => false,
        };
        let removed = gone(self, path);
        if path.file_name().is_some_and(|n| n == DATA) {
            if let Some(dir) = path.parent() {
                gone(self, &dir.join(CRCS));
            }
        }
        self.local.lru.pop(path);
        removed
    }

    /// Drops a file found damaged.
    fn remove(&mut self, path: &Path) {
        self.unlink(path);
    }

    fn has_live_tmp(&self, hash: &str) -> bool {
        fs::read_dir(self.cache.root.join("tmp"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(hash))
            })
            .unwrap_or(false)
    }

    /// Sets the ledger from the files, learns every block for eviction (oldest first), drops
    /// the temporary files of dead processes and the directories left without blocks.
    fn rescan(&mut self) -> io::Result<()> {
        let root = &self.cache.root;
        let mut used = 0u64;
        let mut live_tmp = HashSet::new();
        for entry in fs::read_dir(root.join("tmp"))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut parts = name.splitn(4, '-');
            let pid: i32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let space: u64 = parts.nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let hash = parts.next().unwrap_or_default().to_string();
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > STALE_TMP)
                .unwrap_or(true);
            if pid <= 0 || !process_alive(pid) || old {
                let _ = fs::remove_file(entry.path());
            } else {
                used += space;
                live_tmp.insert(hash);
            }
        }
        let mut blocks = Vec::new();
        for entry in fs::read_dir(root.join("files"))?.flatten() {
            let dir = entry.path();
            let hash = entry.file_name().to_string_lossy().into_owned();
            let mut any = false;
            for block in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = block.file_name();
                let Ok(m) = block.metadata() else { continue };
                let name = name.to_string_lossy();
                if name.parse::<u64>().is_ok() || name == DATA {
                    any = true;
                    used += allocated(m.len());
                    blocks.push((m.modified().unwrap_or(SystemTime::UNIX_EPOCH), block.path()));
                } else if name == CRCS {
                    used += allocated(m.len());
                }
            }
            if !any && !live_tmp.contains(&hash) {
                let _ = fs::remove_dir_all(&dir);
            } else {
                used += KEY_COST;
            }
        }
        blocks.sort();
        self.local.lru.clear();
        for (mtime, path) in blocks {
            self.local.lru.put(path, mtime);
        }
        self.ledger.used = used;
        Ok(())
    }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Whether `need` more bytes leave at least `min_free` of the filesystem free.
fn free_space_ok(path: &Path, need: u64, min_free: f64) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return true;
    };
    // SAFETY: statvfs fills the struct we pass; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return true;
    }
    let unit = st.f_frsize as u64;
    let total = st.f_blocks as u64 * unit;
    let avail = st.f_bavail as u64 * unit;
    avail >= need + (total as f64 * min_free) as u64
}

/// The bytes in use as the ledger says, for tests.
pub fn ledger_used(dir: &Path) -> Option<u64> {
    let text = fs::read_to_string(dir.join(VERSION_DIR).join("ledger")).ok()?;
    Ledger::parse(&text).map(|l| l.used)
}

/// Bytes the cache's files take on disk (blocks, keys and directories), for tests.
pub fn allocated_bytes(dir: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        let mut total = 0;
        for e in fs::read_dir(p).into_iter().flatten().flatten() {
            let Ok(m) = e.metadata() else { continue };
            total += m.blocks() * 512;
            if m.is_dir() {
                total += walk(&e.path());
            }
        }
        total
    }
    walk(&dir.join(VERSION_DIR).join("files"))
}

impl DiskCache {
    /// Block `index` (of `len` bytes) of the file version `key` from disk, else from `fetch`;
    /// a fetched block is written to disk in the background, off the read's path (and the
    /// version assembled when it completes it, checked against `expected`).
    pub async fn get_or_fetch<Fut>(
        self: &Arc<Self>,
        key: String,
        index: u64,
        len: u64,
        expected: Option<Expected>,
        fetch: Fut,
    ) -> crate::error::Result<Bytes>
    where
        Fut: std::future::Future<Output = crate::error::Result<Bytes>>,
    {
        let key = Arc::<str>::from(key);
        let (disk, k) = (self.clone(), key.clone());
        if let Ok(Some(block)) = tokio::task::spawn_blocking(move || disk.get(&k, index, len)).await
        {
            return Ok(block);
        }
        let block = fetch.await?;
        if block.len() as u64 == len {
            self.store(key, index, block.clone(), expected);
        }
        Ok(block)
    }

    /// Writes a block to disk in the background, off the read's path; a block that completes
    /// its version has the version assembled into one data file (checked against `expected`).
    pub fn store(
        self: &Arc<Self>,
        key: Arc<str>,
        index: u64,
        block: Bytes,
        expected: Option<Expected>,
    ) {
        let disk = self.clone();
        tokio::task::spawn_blocking(move || match disk.put(&key, index, &block) {
            Ok(true) if disk.completes_version(&key) => {
                if let Err(e) = disk.assemble_if_complete(&key, expected.as_ref()) {
                    tracing::warn!("disk cache: cannot assemble a complete file: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("disk cache: cannot store block {index}: {e}"),
        });
    }

    /// Counts a block of `key` just stored; true when the version may now be complete on disk
    /// (then its count is dropped: assembly, or the next open, looks at the directory itself).
    fn completes_version(&self, key: &str) -> bool {
        let Some((size, block_size)) = key_sizes(key) else {
            return false;
        };
        let hash = key_hash(key);
        let mut stored = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        let n = match stored.get_mut(&hash) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => {
                let n = count_blocks(&self.root.join("files").join(&hash));
                stored.insert(hash.clone(), n);
                n
            }
        };
        let complete = n >= blocks::block_count(block_size, size);
        if complete {
            stored.remove(&hash);
        }
        complete
    }

    /// Drops every block of the file version `key` (its bytes were found wrong).
    pub fn forget(&self, key: &str) -> io::Result<()> {
        let hash = key_hash(key);
        let dir = self.root.join("files").join(&hash);
        let mut l = self.locked()?;
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            if name == DATA || name.to_string_lossy().parse::<u64>().is_ok() {
                l.remove(&entry.path());
            }
        }
        drop(l);
        self.data_files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&hash);
        Ok(())
    }
}

/// `weaverfs cache DIR [--clear]`: what the directory holds, as a table.
pub fn print_report(dir: &Path, clear: bool) -> Result<(), String> {
    if !dir.join(VERSION_DIR).is_dir() {
        return Err(format!(
            "{} is not a weaverfs cache directory",
            dir.display()
        ));
    }
    let limits = DiskLimits {
        max_bytes: u64::MAX,
        min_free: 0.0,
    };
    let cache = DiskCache::open(dir, limits).map_err(|e| format!("{}: {e}", dir.display()))?;
    if clear {
        cache
            .clear()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let r = cache
        .report()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let lookups = r.hits + r.misses;
    let rate = match lookups {
        0 => "-".to_string(),
        n => format!("{:.1}%", 100.0 * r.hits as f64 / n as f64),
    };
    println!("{}", dir.display());
    println!(
        "  used        {} bytes ({:.1} MiB)",
        r.used,
        r.used as f64 / 1048576.0
    );
    println!("  files       {}", r.files.len());
    println!(
        "  blocks hit  {} of {lookups} looked up ({rate}), {} evicted",
        r.hits, r.evictions
    );
    for f in &r.files {
        let pct = match f.size {
            0 => 100.0,
            n => 100.0 * f.present as f64 / n as f64,
        };
        println!(
            "  {pct:5.1}%  {:>12} of {:>12} bytes  {:>6} blocks of {}  {}",
            f.present, f.size, f.blocks, f.block_size, f.url
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn limits(max_bytes: u64) -> DiskLimits {
        DiskLimits {
            max_bytes,
            min_free: 0.0,
        }
    }

    fn block(i: u64, len: usize) -> Vec<u8> {
        (0..len).map(|b| (b as u64 * 31 + i) as u8).collect()
    }

    #[test]
    fn blocks_survive_reopening_only_for_their_version() {
        let dir = tempfile::tempdir().unwrap();
        let key = "http://h/f\n100\n\"a\"\n64";
        {
            let c = DiskCache::open(dir.path(), limits(10 * MIB)).unwrap();
            assert!(c.put(key, 0, &block(0, 64)).unwrap());
            assert!(!c.put(key, 0, &block(0, 64)).unwrap(), "stored once");
            assert!(c.put(key, 1, &block(1, 36)).unwrap());
        }
        let c = DiskCache::open(dir.path(), limits(10 * MIB)).unwrap();
        assert_eq!(c.get(key, 0, 64).unwrap(), block(0, 64));
        assert_eq!(c.get(key, 1, 36).unwrap(), block(1, 36));
        assert!(c.get("http://h/f\n100\n\"b\"\n64", 0, 64).is_none());
        let r = c.report().unwrap();
        assert_eq!(r.files.len(), 1);
        assert_eq!((r.files[0].size, r.files[0].present), (100, 100));
        assert_eq!(ledger_used(dir.path()), Some(r.used));
        // A block that is not the length its file says is not served (and is dropped).
        assert!(c.get(key, 1, 64).is_none());
        assert_eq!(c.report().unwrap().files[0].present, 64);
    }

    #[test]
    fn a_damaged_block_is_dropped_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let c = DiskCache::open(dir.path(), limits(10 * MIB)).unwrap();
        let key = "http://h/f\n64\n\"a\"\n64";
        c.put(key, 0, &block(0, 64)).unwrap();
        let path = c.block_path(&key_hash(key), 0);
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER + 10] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert!(c.get(key, 0, 64).is_none());
        assert!(!path.exists());
        // Truncated (as a crash could leave it): dropped too.
        c.put(key, 0, &block(0, 64)).unwrap();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(HEADER as u64 + 10).unwrap();
        assert!(c.get(key, 0, 64).is_none());
        assert!(c.put(key, 0, &block(0, 64)).unwrap());
        assert_eq!(c.get(key, 0, 64).unwrap(), block(0, 64));
    }

    #[test]
    fn two_caches_on_one_directory_stay_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let bound = 12 * (MIB / 16 + ALLOC) + 4 * KEY_COST;
        let a = DiskCache::open(dir.path(), limits(bound)).unwrap();
        let b = DiskCache::open(dir.path(), limits(bound)).unwrap();
        let path = dir.path();
        std::thread::scope(|s| {
            for (n, c) in [&a, &b].into_iter().enumerate() {
                s.spawn(move || {
                    for i in 0..60u64 {
                        // Both write some of the same blocks: counted once.
                        let key = format!("http://h/{}\n{}\n\"v\"\n65536", i % 3, MIB);
                        c.put(&key, (i + n as u64) % 16, &block(i, (MIB / 16) as usize))
                            .unwrap();
                        let used = ledger_used(path).unwrap();
                        assert!(used <= bound, "{used} > {bound}");
                        // Walked under the lock: an eviction between two directories of
                        // the walk would count a block and its replacement both.
                        let guard = c.locked().unwrap();
                        assert!(allocated_bytes(path) <= bound);
                        drop(guard);
                    }
                });
            }
        });
        // The ledger is exact: a rescan finds the same total.
        let used = ledger_used(dir.path()).unwrap();
        a.locked().unwrap().rescan().unwrap();
        assert_eq!(used, a.locked().unwrap().ledger.used);
        assert!(
            a.stats.evictions.load(Ordering::Relaxed) + b.stats.evictions.load(Ordering::Relaxed)
                > 0
        );
    }

    #[test]
    fn files_deleted_by_others_are_misses_and_the_ledger_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let bound = 4 * (MIB + ALLOC + HEADER as u64) + KEY_COST;
        let c = DiskCache::open(dir.path(), limits(bound)).unwrap();
        let key = format!("http://h/f\n{}\n\"a\"\n{MIB}", 8 * MIB);
        for i in 0..4 {
            assert!(c.put(&key, i, &block(i, MIB as usize)).unwrap());
        }
        fs::remove_dir_all(dir.path().join(VERSION_DIR).join("files")).unwrap();
        fs::create_dir(dir.path().join(VERSION_DIR).join("files")).unwrap();
        assert!(c.get(&key, 0, MIB).is_none());
        // The ledger still counts the deleted blocks; making room finds them gone and rescans.
        for i in 4..8 {
            assert!(
                c.put(&key, i, &block(i, MIB as usize)).unwrap(),
                "block {i}"
            );
        }
        assert_eq!(c.get(&key, 7, MIB).unwrap(), block(7, MIB as usize));
        c.clear().unwrap();
        assert!(c.get(&key, 7, MIB).is_none());
        assert_eq!(c.report().unwrap().used, 0);
    }

    #[test]
    fn temporary_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        drop(DiskCache::open(dir.path(), limits(MIB)).unwrap());
        // What a writer killed between reserving and publishing leaves (pid 0 never lives).
        let tmp = dir
            .path()
            .join(VERSION_DIR)
            .join("tmp")
            .join("0-1-4096-abc");
        fs::write(&tmp, b"half a block").unwrap();
        let c = DiskCache::open(dir.path(), limits(MIB)).unwrap();
        assert!(!tmp.exists());
        assert_eq!(c.report().unwrap().used, 0);
    }

    /// A 3-block file (64-byte blocks, 160 bytes) with every block stored.
    fn complete(c: &DiskCache) -> (&'static str, Vec<u8>) {
        let key = "http://h/whole\n160\n\"a\"\n64";
        let bytes: Vec<u8> = [block(0, 64), block(1, 64), block(2, 32)].concat();
        for (i, b) in [block(0, 64), block(1, 64), block(2, 32)]
            .iter()
            .enumerate()
        {
            assert!(c.put(key, i as u64, b).unwrap());
        }
        (key, bytes)
    }

    fn rescanned(c: &DiskCache) -> u64 {
        let mut l = c.locked().unwrap();
        l.rescan().unwrap();
        l.ledger.used
    }

    #[test]
    fn a_complete_version_becomes_one_data_file_and_the_ledger_follows() {
        let dir = tempfile::tempdir().unwrap();
        let c = DiskCache::open(dir.path(), limits(10 * MIB)).unwrap();
        let (key, bytes) = complete(&c);
        let before = ledger_used(dir.path()).unwrap();
        assert!(c.assemble_if_complete(key, None).unwrap());
        let vdir = c.root.join("files").join(key_hash(key));
        assert_eq!(fs::read(vdir.join(DATA)).unwrap(), bytes);
        assert_eq!(count_blocks(&vdir), 0, "its blocks are gone");
        let used = ledger_used(dir.path()).unwrap();
        assert_eq!(used, rescanned(&c), "the ledger is exact");
        assert!(used < before + allocated(160), "blocks un-counted");
        assert_eq!(c.get(key, 1, 64).unwrap(), block(1, 64));
        assert_eq!(c.get(key, 2, 32).unwrap(), block(2, 32));
        assert!(c.get(key, 2, 64).is_none(), "the wrong length is no hit");
        assert!(vdir.join(DATA).exists(), "and no damage");
        let r = c.report().unwrap();
        assert_eq!((r.files[0].present, r.files[0].blocks), (160, 3));
        // Stored again: nothing more (the data file has it).
        assert!(!c.put(key, 0, &block(0, 64)).unwrap());
        let (file, checked) = c.complete_file(key, None).unwrap();
        assert_eq!((file.metadata().unwrap().len(), checked), (160, false));
        // Deleted by another process: a miss, and the ledger recovers.
        fs::remove_file(vdir.join(DATA)).unwrap();
        assert!(c.get(key, 0, 64).is_none());
        assert!(c.complete_file(key, None).is_none());
    }

    #[test]
    fn assembly_never_passes_the_bound_and_keeps_its_own_blocks() {
        let dir = tempfile::tempdir().unwrap();
        // Room for the blocks, not for a copy of them besides.
        let bound = 3 * ALLOC + KEY_COST + ALLOC;
        let c = DiskCache::open(dir.path(), limits(bound)).unwrap();
        let (key, _) = complete(&c);
        assert!(!c.assemble_if_complete(key, None).unwrap());
        let vdir = c.root.join("files").join(key_hash(key));
        assert_eq!(count_blocks(&vdir), 3, "no block evicted for it");
        assert!(!vdir.join(DATA).exists());
        assert!(ledger_used(dir.path()).unwrap() <= bound);
        assert_eq!(ledger_used(dir.path()).unwrap(), rescanned(&c));
        // With room, another file's blocks are evicted for it, never this one's.
        let dir = tempfile::tempdir().unwrap();
        let bound = 5 * ALLOC + 2 * KEY_COST;
        let c = DiskCache::open(dir.path(), limits(bound)).unwrap();
        let other = "http://h/other\n64\n\"a\"\n64";
        c.put(other, 0, &block(9, 64)).unwrap();
        let (key, bytes) = complete(&c);
        assert!(c.assemble_if_complete(key, None).unwrap());
        assert!(c.get(other, 0, 64).is_none(), "evicted");
        assert!(ledger_used(dir.path()).unwrap() <= bound);
        // (An evicted version's directory stays counted until a rescan removes it.)
        assert!(ledger_used(dir.path()).unwrap() >= rescanned(&c));
        let vdir = c.root.join("files").join(key_hash(key));
        assert_eq!(fs::read(vdir.join(DATA)).unwrap(), bytes);
        // Evicted itself: the data file and its CRC list go as one.
        assert!(c.put(other, 0, &block(9, 64)).unwrap());
        let mut l = c.locked().unwrap();
        assert!(l.make_room(bound, None).is_ok());
        drop(l);
        assert!(!vdir.join(DATA).exists() && !vdir.join(CRCS).exists());
        assert!(ledger_used(dir.path()).unwrap() >= rescanned(&c));
    }

    #[test]
    fn a_damaged_data_file_is_dropped_and_a_wrong_digest_is_never_assembled() {
        let dir = tempfile::tempdir().unwrap();
        let c = DiskCache::open(dir.path(), limits(10 * MIB)).unwrap();
        let (key, bytes) = complete(&c);
        let right = Expected::Sha256(Sha256::digest(&bytes).to_vec());
        assert!(c.assemble_if_complete(key, Some(&right)).unwrap());
        assert!(
            c.complete_file(key, Some(&right)).unwrap().1,
            "digest checked"
        );
        let data = c.root.join("files").join(key_hash(key)).join(DATA);
        let mut flipped = fs::read(&data).unwrap();
        flipped[70] ^= 1;
        fs::write(&data, flipped).unwrap();
        assert_eq!(c.get(key, 0, 64).unwrap(), block(0, 64));
        assert!(c.get(key, 1, 64).is_none(), "block 1 is damaged");
        assert!(!data.exists(), "dropped");
        assert_eq!(c.stats.dropped_corrupt.load(Ordering::Relaxed), 1);
        assert!(ledger_used(dir.path()).unwrap() >= rescanned(&c));
        // A wrong digest: not assembled, and the blocks are dropped.
        let dir = tempfile::tempdir().unwrap();
        let c = DiskCache::open(dir.path(), limits(10 * MIB)).unwrap();
        let (key, _) = complete(&c);
        let wrong = Expected::Sha256(vec![0; 32]);
        assert!(!c.assemble_if_complete(key, Some(&wrong)).unwrap());
        assert!(c.get(key, 0, 64).is_none());
        assert!(ledger_used(dir.path()).unwrap() >= rescanned(&c));
    }

    #[test]
    fn ledger_text_round_trips() {
        let l = Ledger {
            used: 1,
            hits: 2,
            misses: 3,
            evictions: 4,
        };
        assert_eq!(Ledger::parse(&l.text()), Some(l));
        assert_eq!(Ledger::parse("used=x"), None);
    }
}
