//! dav-server's filesystem over the core: paths are walked to entries ([`walk`]), directories
//! listed with their attributes, files opened as handles of the core. It only translates.

use std::sync::Arc;
use std::time::SystemTime;

use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, FsError as DavError, FsFuture, FsResult,
    FsStream, OpenOptions, ReadDirMeta,
};
use futures::{stream, FutureExt};

use super::errors::Why;
use super::file::OpenFile;
use super::paths::{leads_back, link_target, walk};
use crate::error::{FsError, Result};
use crate::fs::WeaverFs;
use crate::tree::Attr;

/// The core for one request; its first error is kept in `why`.
#[derive(Clone)]
pub struct DavFs {
    fs: Arc<WeaverFs>,
    why: Why,
    /// For a GET: the first byte its body will need, read at open so that an origin that
    /// fails does so before the headers (a 502 with its reason, not a cut body).
    first_byte: Option<FirstByte>,
}

/// Where a GET's body starts: an offset, or this many bytes before the end (`bytes=-N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstByte {
    At(u64),
    FromEnd(u64),
}

impl FirstByte {
    /// From a Range header's first range; anything else starts at 0 (a malformed Range is
    /// ignored by dav-server, which then sends the whole file).
    pub fn of_range(range: Option<&str>) -> FirstByte {
        let first = range
            .and_then(|r| r.trim().strip_prefix("bytes="))
            .and_then(|r| r.split(',').next())
            .and_then(|r| r.trim().split_once('-'));
        match first {
            Some(("", n)) => n
                .trim()
                .parse()
                .map_or(FirstByte::At(0), FirstByte::FromEnd),
            Some((n, _)) => FirstByte::At(n.trim().parse().unwrap_or(0)),
            None => FirstByte::At(0),
        }
    }

    fn offset(self, size: u64) -> u64 {
        match self {
            FirstByte::At(n) => n,
            FirstByte::FromEnd(n) => size.saturating_sub(n),
        }
    }
}

/// The attributes dav-server asks for: sizes, times and kinds, as the mount shows them.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub size: u64,
    pub mtime: SystemTime,
    pub is_dir: bool,
}

impl From<&Attr> for Meta {
    fn from(a: &Attr) -> Self {
        Meta {
            size: if a.is_dir { 0 } else { a.size },
            mtime: a.mtime,
            is_dir: a.is_dir,
        }
    }
}

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.size
    }
    fn modified(&self) -> FsResult<SystemTime> {
        Ok(self.mtime)
    }
    fn is_dir(&self) -> bool {
        self.is_dir
    }
}

/// A listed entry, its metadata taken with the listing.
struct Entry {
    name: String,
    meta: Meta,
}

impl DavDirEntry for Entry {
    fn name(&self) -> Vec<u8> {
        self.name.clone().into_bytes()
    }
    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta);
        futures::future::ready(Ok(meta)).boxed()
    }
}

/// The decoded path of a request (names in the tree are UTF-8).
fn path_str(path: &DavPath) -> Result<&str> {
    std::str::from_utf8(path.as_bytes())
        .map_err(|_| FsError::NotFound("a path that is not UTF-8".into()))
}

impl DavFs {
    pub fn new(fs: Arc<WeaverFs>, why: Why) -> Self {
        DavFs {
            fs,
            why,
            first_byte: None,
        }
    }

    pub fn with_first_byte(mut self, first: FirstByte) -> Self {
        self.first_byte = Some(first);
        self
    }

    /// The entries of the directory at `path` with their attributes, links followed; a link
    /// back to a directory the path passed through is left out, so walks end.
    pub async fn list(&self, path: &str) -> Result<Vec<(String, Meta)>> {
        let dir = walk(&self.fs, path).await?;
        if !dir.attr.is_dir {
            return Err(FsError::NotDir);
        }
        let fh = self.fs.opendir(dir.attr.ino).await?;
        let listed = self.fs.readdir_attrs(fh, 0, usize::MAX).await;
        self.fs.release(fh);
        let mut out = Vec::new();
        for (_, entry, attr) in listed? {
            let name = &*entry.name;
            if name == "." || name == ".." {
                continue;
            }
            if !attr.is_link {
                out.push((name.to_owned(), Meta::from(&attr)));
                continue;
            }
            let target = link_target(&dir.real, &self.fs.readlink(attr.ino)?);
            if leads_back(&target, &dir.trail) {
                continue;
            }
            match walk(&self.fs, &target).await {
                Ok(to) => out.push((name.to_owned(), Meta::from(&to.attr))),
                // A view's job that is gone since: the link dangles, as in the mount.
                Err(e) => tracing::debug!("{path}/{name}: link to {target}: {e}"),
            }
        }
        Ok(out)
    }

    async fn metadata_of(&self, path: &DavPath) -> Result<Meta> {
        Ok(Meta::from(&walk(&self.fs, path_str(path)?).await?.attr))
    }

    async fn open_file(&self, path: &DavPath) -> Result<OpenFile> {
        let attr = walk(&self.fs, path_str(path)?).await?.attr;
        if attr.is_dir {
            return Err(FsError::IsDir);
        }
        let opened = self.fs.open(attr.ino).await?;
        let file = OpenFile::new(self.fs.clone(), opened.fh, self.why.clone());
        // The size of the version just opened (a new version may have another).
        let meta = Meta::from(&self.fs.getattr(attr.ino).await?);
        if let Some(first) = self.first_byte {
            let at = first.offset(meta.size);
            if at < meta.size {
                // One byte brings its block into the cache, where the body's read finds it.
                self.fs.read(opened.fh, at, 1).await?;
            }
        }
        Ok(file.with_meta(meta))
    }
}

impl DavFileSystem for DavFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            if options.write || options.append || options.create || options.truncate {
                return Err(DavError::Forbidden);
            }
            match self.open_file(path).await {
                Ok(file) => Ok(Box::new(file) as Box<dyn DavFile>),
                Err(e) => Err(self.why.record(e)),
            }
        }
        .boxed()
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let listed = match path_str(path) {
                Ok(p) => self.list(p).await,
                Err(e) => Err(e),
            };
            let entries = listed.map_err(|e| self.why.record(e))?;
            let entries = entries.into_iter().map(|(name, meta)| {
                let entry: Box<dyn DavDirEntry> = Box::new(Entry { name, meta });
                Ok(entry)
            });
            let entries: FsStream<Box<dyn DavDirEntry>> = Box::pin(stream::iter(entries));
            Ok(entries)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            match self.metadata_of(path).await {
                Ok(meta) => Ok(Box::new(meta) as Box<dyn DavMetaData>),
                Err(e) => Err(self.why.record(e)),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::FirstByte;

    #[test]
    fn a_get_starts_at_its_first_range() {
        assert_eq!(FirstByte::of_range(None), FirstByte::At(0));
        assert_eq!(
            FirstByte::of_range(Some("bytes=100-199")),
            FirstByte::At(100)
        );
        assert_eq!(FirstByte::of_range(Some("bytes=5-,0-1")), FirstByte::At(5));
        assert_eq!(
            FirstByte::of_range(Some("bytes=-500")),
            FirstByte::FromEnd(500)
        );
        assert_eq!(FirstByte::of_range(Some("items=1-2")), FirstByte::At(0));
        assert_eq!(FirstByte::FromEnd(500).offset(100), 0);
    }
}
