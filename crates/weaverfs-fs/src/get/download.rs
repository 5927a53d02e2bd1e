//! Writes one file of the job to disk: remote files by several range reads in flight into a
//! `.part` file (resumable), literals and documents from the bytes the mount would show.
//! A file appears under its name only once complete, with the mount's mtime.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;

use super::partial::{self, PartState, Prefix};
use super::progress::FileBar;
use crate::error::{FsError, Result};
use crate::fs::WeaverFs;
use crate::read::{ReadState, RemoteFile};
use crate::tree::Content;

/// How often the sidecar of a `.part` file records progress.
const SAVE_EVERY: Duration = Duration::from_millis(500);

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Already complete on disk (same size and mtime): not fetched.
    Skipped,
    /// Written; `kept` bytes came from an earlier run's `.part`, `fetched` from the server.
    Written { kept: u64, fetched: u64 },
}

pub struct Downloader<'a> {
    pub fs: &'a WeaverFs,
    /// Bytes per range read.
    pub chunk: u64,
    /// Range reads in flight per file.
    pub ranges: usize,
}

impl Downloader<'_> {
    /// Writes the file at inode `ino` to `dest`; `mtime` is the one the mount shows.
    pub async fn fetch(
        &self,
        ino: u64,
        mtime: SystemTime,
        dest: &Path,
        bar: &FileBar,
    ) -> Result<Outcome> {
        let node = self.fs.tree().node(ino)?;
        if !matches!(node.content, Content::Remote(_)) {
            return self.fetch_bytes(ino, mtime, dest, bar).await;
        }
        let mut attempt = 0;
        loop {
            let file = self.fs.tree().remote_file(&node).await?;
            let mtime = file.meta.mtime().unwrap_or(mtime);
            if is_complete(dest, file.size(), mtime) {
                discard_part(dest);
                bar.resumed(file.size());
                return Ok(Outcome::Skipped);
            }
            match self.fetch_remote(&file, mtime, dest, bar).await {
                // Changed while being fetched: start this file again, once, on the new version.
                Err(FsError::Stale(why)) if attempt == 0 => {
                    tracing::info!("{why}; fetching it again");
                    discard_part(dest);
                    bar.restart();
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn fetch_remote(
        &self,
        file: &Arc<RemoteFile>,
        mtime: SystemTime,
        dest: &Path,
        bar: &FileBar,
    ) -> Result<Outcome> {
        let size = file.size();
        let url = file.url.as_str();
        let part_path = partial::part_path(dest);
        let part_len = std::fs::metadata(&part_path).map(|m| m.len()).ok();
        let mut state = match partial::load(dest) {
            Some(s) if s.is_version(url, &file.meta) && part_len == Some(size) => s,
            _ => PartState::new(url, &file.meta),
        };
        let kept = state.done;
        let part = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(kept == 0)
            .open(&part_path)
            .map_err(|e| io_error(&part_path, e))?;
        part.set_len(size).map_err(|e| io_error(&part_path, e))?;
        if kept == 0 {
            // Name the version before any of its bytes are written.
            partial::save(dest, &state).map_err(|e| io_error(dest, e))?;
        }
        bar.resumed(kept);
        let part = Arc::new(part);
        let mut prefix = Prefix::new(kept);
        let mut saved_at = Instant::now();
        let chunks = (kept..size).step_by(self.chunk.max(1) as usize);
        let mut writes = futures::stream::iter(chunks)
            .map(|start| self.fetch_chunk(file, &part, start, (start + self.chunk).min(size)))
            .buffer_unordered(self.ranges.max(1));
        let mut failure = None;
        while let Some(written) = writes.next().await {
            match written {
                Ok((start, end)) => {
                    bar.inc(end - start);
                    if prefix.finish(start, end) && saved_at.elapsed() >= SAVE_EVERY {
                        record(&part, dest, &mut state, prefix.done());
                        saved_at = Instant::now();
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(writes);
        if let Some(e) = failure {
            // Keep what is complete for the next run (unless the file changed: then it is void).
            if !matches!(e, FsError::Stale(_)) {
                record(&part, dest, &mut state, prefix.done());
            }
            return Err(e);
        }
        part.sync_data().map_err(|e| io_error(&part_path, e))?;
        let written = part.metadata().map_err(|e| io_error(&part_path, e))?.len();
        if written != size || prefix.done() != size {
            return Err(FsError::Io(format!(
                "{}: {written} bytes written, {} complete, {size} expected",
                part_path.display(),
                prefix.done()
            )));
        }
        self.check_digest(file, &part_path, dest)?;
        part.set_modified(mtime)
            .map_err(|e| io_error(&part_path, e))?;
        std::fs::rename(&part_path, dest).map_err(|e| io_error(dest, e))?;
        partial::remove(dest);
        Ok(Outcome::Written {
            kept,
            fetched: size - kept,
        })
    }

    /// Checks a complete download against the digest the results gave, if any: a mismatch
    /// is EIO, drops the file's cached blocks and the partial file (nothing wrong is kept).
    fn check_digest(&self, file: &RemoteFile, part_path: &Path, dest: &Path) -> Result<()> {
        let Some(digest) = self.fs.tree().api().digest_of(&file.url) else {
            return Ok(());
        };
        let part = File::open(part_path).map_err(|e| io_error(part_path, e))?;
        let stats = self.fs.stats();
        match crate::read::digest::check_whole(&digest, std::io::BufReader::new(part)) {
            Ok(None) => {
                tracing::info!("{}: its digest matches", file.url);
                stats.digest_checked(true);
                Ok(())
            }
            Ok(Some(why)) => {
                tracing::error!("{}: downloaded whole, its bytes are wrong: {why}", file.url);
                stats.digest_checked(false);
                self.fs.reader().forget_blocks(file);
                discard_part(dest);
                Err(FsError::Io(format!("{}: digest mismatch: {why}", file.url)))
            }
            Err(e) => {
                tracing::warn!("{}: digest {digest:?} not checked: {e}", file.url);
                Ok(())
            }
        }
    }

    /// Reads `[start, end)` through the reader (cache, validated ranges) and writes it in place.
    async fn fetch_chunk(
        &self,
        file: &Arc<RemoteFile>,
        part: &Arc<File>,
        start: u64,
        end: u64,
    ) -> Result<(u64, u64)> {
        let state = Mutex::new(ReadState::default());
        let bytes = self
            .fs
            .reader()
            .read(file, &state, start, end - start)
            .await?;
        if bytes.len() as u64 != end - start {
            return Err(FsError::Io(format!(
                "{}: {} bytes at {start}, {} expected",
                file.url,
                bytes.len(),
                end - start
            )));
        }
        let part = part.clone();
        tokio::task::spawn_blocking(move || part.write_all_at(&bytes, start))
            .await
            .map_err(|e| FsError::Io(format!("write task: {e}")))?
            .map_err(|e| FsError::Io(format!("write at {start}: {e}")))?;
        Ok((start, end))
    }

    /// Literals and `.job/` documents: small, read whole as the mount serves them.
    async fn fetch_bytes(
        &self,
        ino: u64,
        mtime: SystemTime,
        dest: &Path,
        bar: &FileBar,
    ) -> Result<Outcome> {
        let opened = self.fs.open(ino).await?;
        let mut content = Vec::new();
        let read = async {
            loop {
                let bytes = self
                    .fs
                    .read(opened.fh, content.len() as u64, 1 << 20)
                    .await?;
                if bytes.is_empty() {
                    return Ok::<(), FsError>(());
                }
                content.extend_from_slice(&bytes);
            }
        }
        .await;
        self.fs.release(opened.fh);
        read?;
        let part_path = partial::part_path(dest);
        let write = || -> std::io::Result<()> {
            let part = File::create(&part_path)?;
            part.write_all_at(&content, 0)?;
            part.set_modified(mtime)?;
            std::fs::rename(&part_path, dest)
        };
        write().map_err(|e| io_error(dest, e))?;
        bar.inc(content.len() as u64);
        Ok(Outcome::Written {
            kept: 0,
            fetched: content.len() as u64,
        })
    }
}

/// Syncs the `.part` file, then records `done` in its sidecar: the sidecar never claims bytes
/// that are not on disk.
fn record(part: &File, dest: &Path, state: &mut PartState, done: u64) {
    state.done = done;
    let saved = part.sync_data().and_then(|()| partial::save(dest, state));
    if let Err(e) = saved {
        tracing::warn!("{}: cannot record progress: {e}", dest.display());
    }
}

/// Whether `dest` is already this version: same size and same mtime (to the second, as HTTP
/// dates are).
fn is_complete(dest: &Path, size: u64, mtime: SystemTime) -> bool {
    let Ok(meta) = std::fs::metadata(dest) else {
        return false;
    };
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .ok()
    };
    meta.is_file() && meta.len() == size && meta.modified().ok().and_then(secs) == secs(mtime)
}

fn discard_part(dest: &Path) {
    let _ = std::fs::remove_file(partial::part_path(dest));
    partial::remove(dest);
}

fn io_error(path: &Path, e: std::io::Error) -> FsError {
    FsError::Io(format!("{}: {e}", path.display()))
}
