//! An open file for dav-server: reads at its position through the core's handle (the block
//! cache, read-ahead and the disk cache, as the mount reads), released when dropped.

use std::io::SeekFrom;
use std::sync::Arc;

use bytes::Bytes;
use dav_server::fs::{DavFile, DavMetaData, FsError as DavError, FsFuture};
use futures::FutureExt;

use super::davfs::Meta;
use super::errors::Why;
use crate::error::FsError;
use crate::fs::WeaverFs;

pub struct OpenFile {
    fs: Arc<WeaverFs>,
    fh: u64,
    pos: u64,
    meta: Meta,
    why: Why,
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenFile(fh {} at {})", self.fh, self.pos)
    }
}

impl OpenFile {
    pub fn new(fs: Arc<WeaverFs>, fh: u64, why: Why) -> Self {
        let meta = Meta {
            size: 0,
            mtime: std::time::UNIX_EPOCH,
            is_dir: false,
        };
        OpenFile {
            fs,
            fh,
            pos: 0,
            meta,
            why,
        }
    }

    pub fn with_meta(mut self, meta: Meta) -> Self {
        self.meta = meta;
        self
    }

    /// Up to `count` bytes at the position. Short of the size, no bytes is an error:
    /// dav-server would otherwise send zeros in their place.
    async fn read(&mut self, count: usize) -> Result<Bytes, FsError> {
        let left = self.meta.size.saturating_sub(self.pos);
        if left == 0 {
            return Ok(Bytes::new());
        }
        let want = (count as u64).min(left).min(u32::MAX as u64) as u32;
        let bytes = self.fs.read(self.fh, self.pos, want).await?;
        if bytes.is_empty() {
            return Err(FsError::Io(format!(
                "the file ended at byte {} of {}",
                self.pos, self.meta.size
            )));
        }
        self.pos += bytes.len() as u64;
        self.fs.stats().served(bytes.len());
        Ok(bytes)
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        self.fs.release(self.fh);
    }
}

impl DavFile for OpenFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta);
        futures::future::ready(Ok(meta)).boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move {
            // The error ends the body short of its Content-Length: the client sees a failed
            // transfer, never a complete one with wrong bytes.
            self.read(count).await.map_err(|e| self.why.record(e))
        }
        .boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let to = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.meta.size.checked_add_signed(d),
        };
        let result = match to {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(DavError::GeneralFailure),
        };
        futures::future::ready(result).boxed()
    }

    fn write_buf(&mut self, _buf: Box<dyn bytes::Buf + Send>) -> FsFuture<'_, ()> {
        futures::future::ready(Err(DavError::Forbidden)).boxed()
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        futures::future::ready(Err(DavError::Forbidden)).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        futures::future::ready(Ok(())).boxed()
    }
}
