//! The filesystem operations, as async functions returning plain values: what the FUSE adapter
//! calls, and what tests call without a kernel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::error::{FsError, Result};
use crate::read::{ReadState, Reader, RemoteFile};
use crate::stats::Stats;
use crate::tree::views::ViewDir;
use crate::tree::{Attr, Content, Doc, Node, Tree};

/// An entry of a directory listing as `readdir` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// Shared with the tree's listing: an open directory of 100,000 jobs copies no name.
    pub name: Arc<str>,
    pub is_dir: bool,
    /// A symbolic link (a view's job, `@latest`, a workflow step).
    pub is_link: bool,
}

/// How an open file is to be treated by the kernel.
#[derive(Debug, Clone)]
pub struct Opened {
    pub fh: u64,
    /// Bypass the page cache: for documents that grow (logs of a running job), and for a file
    /// whose size changed since the kernel last heard it.
    pub direct_io: bool,
    /// Keep the kernel's cached pages: the file is the version they were read from.
    pub keep_cache: bool,
    /// The file's exact bytes as one local file (complete in the disk cache): the kernel may
    /// read it directly (FUSE passthrough); the handle's reads work without it too.
    pub passthrough: Option<Arc<std::fs::File>>,
}

enum Handle {
    Remote {
        file: Arc<RemoteFile>,
        state: Mutex<ReadState>,
    },
    /// Content fixed at open: literals and `.job/` documents.
    Bytes(Bytes),
    /// A job's log: each read takes the document as now known (fetched again after the job's
    /// TTL), so `tail -f` on an open handle sees the lines written since. Logs only grow.
    Log(Arc<Node>),
    Dir(Arc<Vec<DirEntry>>),
}

pub struct WeaverFs {
    tree: Tree,
    reader: Reader,
    handles: Mutex<HashMap<u64, Arc<Handle>>>,
    next_fh: AtomicU64,
    /// Offer complete files on disk for FUSE passthrough.
    passthrough: bool,
}

impl WeaverFs {
    pub fn new(tree: Tree, reader: Reader) -> Self {
        WeaverFs {
            tree: tree.keep_first_bytes(reader.first_bytes()),
            reader,
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            passthrough: true,
        }
    }

    /// Size probes are HEADs, without the first bytes (for `get`, which checks the version of
    /// files it already has and reads the others whole).
    pub fn with_head_probes(mut self) -> Self {
        self.tree = self.tree.keep_first_bytes(None);
        self
    }

    /// Whether complete files on disk are offered for FUSE passthrough (`--no-passthrough`).
    pub fn with_passthrough(mut self, on: bool) -> Self {
        self.passthrough = on;
        self
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    pub fn stats(&self) -> &Arc<Stats> {
        self.tree.api().http().stats()
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Handle>>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_handle(&self, handle: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles().insert(fh, Arc::new(handle));
        fh
    }

    fn handle(&self, fh: u64) -> Result<Arc<Handle>> {
        self.handles().get(&fh).cloned().ok_or(FsError::BadHandle)
    }

    pub async fn lookup(&self, parent: u64, name: &str) -> Result<Attr> {
        let parent = self.tree.node(parent)?;
        let node = self.tree.lookup(&parent, name).await?;
        self.tree.attr(&node).await
    }

    pub async fn getattr(&self, ino: u64) -> Result<Attr> {
        let node = self.tree.peek_node(ino)?;
        self.tree.attr(&node).await
    }

    /// Opens a directory: its listing is taken once here, so paging through it is consistent.
    pub async fn opendir(&self, ino: u64) -> Result<u64> {
        let node = self.tree.node(ino)?;
        if !node.content.is_dir() {
            return Err(FsError::NotDir);
        }
        let dir = |ino, name: &str| DirEntry {
            ino,
            name: name.into(),
            is_dir: true,
            is_link: false,
        };
        let mut entries = vec![dir(ino, "."), dir(node.parent, "..")];
        if let Content::View(ViewDir::Bucket(..)) = &node.content {
            // A view's bucket: links only, made from the views, never registered.
            let links = self.tree.bucket_entries(&node).await?;
            entries.extend(links.into_iter().map(|l| DirEntry {
                ino: l.ino,
                name: l.name,
                is_dir: false,
                is_link: true,
            }));
            return Ok(self.add_handle(Handle::Dir(Arc::new(entries))));
        }
        let children = self.tree.children(&node).await?;
        entries.reserve(children.entries.len());
        for (name, child) in children.entries.iter() {
            let child_node = self.tree.peek_node(*child)?;
            entries.push(DirEntry {
                ino: *child,
                name: name.clone(),
                is_dir: child_node.content.is_dir(),
                is_link: matches!(child_node.content, Content::Link(_)),
            });
        }
        Ok(self.add_handle(Handle::Dir(Arc::new(entries))))
    }

    /// The entries of an open directory, as taken when it was opened.
    pub fn readdir(&self, fh: u64) -> Result<Arc<Vec<DirEntry>>> {
        match &*self.handle(fh)? {
            Handle::Dir(entries) => Ok(entries.clone()),
            _ => Err(FsError::NotDir),
        }
    }

    /// Up to `count` entries of an open directory from position `from`, each with its position
    /// and attributes: what `readdirplus` returns, which spares `ls -l` a lookup per entry.
    /// An entry whose attributes cannot be had now is left out (its lookup will say why).
    pub async fn readdir_attrs(
        &self,
        fh: u64,
        from: usize,
        count: usize,
    ) -> Result<Vec<(usize, DirEntry, Attr)>> {
        let entries = self.readdir(fh)?;
        let page: Vec<(usize, &DirEntry)> =
            entries.iter().enumerate().skip(from).take(count).collect();
        let attrs = futures::future::join_all(page.iter().map(|(_, e)| async {
            let node = self.tree.peek_node(e.ino)?;
            self.tree.attr(&node).await
        }))
        .await;
        let mut out = Vec::with_capacity(page.len());
        for ((i, e), attr) in page.into_iter().zip(attrs) {
            match attr {
                Ok(attr) => out.push((i, e.clone(), attr)),
                Err(err) => tracing::debug!("{}: no attributes for a listing: {err}", e.name),
            }
        }
        Ok(out)
    }

    /// The entry at `path` (`JOB/out.nc`: names separated by `/`, from the root; empty or `/`
    /// is the root), for front ends that speak in paths (WebDAV, Python). Links on the way
    /// are followed, and so is a final link when `follow_last` is set: their targets are
    /// relative to the link's directory, as the mount shows them. A loop of links is an error.
    pub async fn resolve(&self, path: &str, follow_last: bool) -> Result<Attr> {
        const MAX_LINKS: usize = 40;
        // Names still to walk, last first; `..` pops the directory stack.
        let mut todo: Vec<String> = path
            .split('/')
            .rev()
            .filter(|n| !n.is_empty() && *n != ".")
            .map(str::to_owned)
            .collect();
        let mut stack = vec![self.getattr(crate::tree::ROOT_INO).await?];
        let mut links = 0;
        while let Some(name) = todo.pop() {
            let dir = *stack.last().expect("the root stays");
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            if !dir.is_dir {
                return Err(FsError::NotDir);
            }
            let attr = self.lookup(dir.ino, &name).await?;
            if attr.is_link && (follow_last || !todo.is_empty()) {
                links += 1;
                if links > MAX_LINKS {
                    return Err(FsError::Io(format!("{path}: too many levels of links")));
                }
                let target = self.readlink(attr.ino)?;
                if target.starts_with('/') {
                    stack.truncate(1);
                }
                todo.extend(
                    target
                        .split('/')
                        .rev()
                        .filter(|n| !n.is_empty() && *n != ".")
                        .map(str::to_owned),
                );
                continue;
            }
            stack.push(attr);
        }
        Ok(stack.pop().expect("the root stays"))
    }

    /// The target of a symbolic link.
    pub fn readlink(&self, ino: u64) -> Result<Arc<str>> {
        match &self.tree.node(ino)?.content {
            Content::Link(target) => Ok(target.clone()),
            _ => Err(FsError::Io(format!("inode {ino} is not a symbolic link"))),
        }
    }

    pub async fn open(&self, ino: u64) -> Result<Opened> {
        let node = self.tree.node(ino)?;
        let mut passthrough = None;
        let (handle, direct_io, keep_cache) = match &node.content {
            Content::Inline(bytes) => (Handle::Bytes(bytes.clone()), false, false),
            Content::Document(_, Doc::Logs) => {
                self.tree.document(&node).await?;
                (Handle::Log(node.clone()), true, false)
            }
            Content::Document(..) => {
                let bytes = self.tree.document(&node).await?;
                (Handle::Bytes(bytes), true, false)
            }
            Content::Stats => (Handle::Bytes(self.stats().json()), true, false),
            Content::Remote(_) => {
                let file = self.tree.remote_file(&node).await?;
                if let Some(e) = file.corrupt_error() {
                    return Err(e);
                }
                if let Some(digest) = self.tree.api().digest_of(&file.url) {
                    file.expect_digest(&digest, self.reader.block_size());
                }
                // A new version with another size: bypass the kernel's cached size and pages.
                let direct_io = node.size_differs_from_reported(file.size());
                let keep_cache = node.opened_again(&file.key) && !direct_io;
                // Checked at open like any version: a complete data file is its exact bytes
                // (and assembled now if its blocks are all on disk).
                let complete = self.reader.complete_file(&file).await;
                if self.passthrough {
                    passthrough = complete.map(Arc::new);
                }
                let handle = Handle::Remote {
                    file,
                    state: Mutex::new(ReadState::default()),
                };
                (handle, direct_io, keep_cache)
            }
            _ => return Err(FsError::IsDir),
        };
        Ok(Opened {
            fh: self.add_handle(handle),
            direct_io,
            keep_cache,
            passthrough,
        })
    }

    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Bytes> {
        match &*self.handle(fh)? {
            Handle::Bytes(bytes) => Ok(slice(bytes, offset, size)),
            Handle::Log(node) => Ok(slice(&self.tree.document(node).await?, offset, size)),
            Handle::Remote { file, state } => {
                self.reader.read(file, state, offset, size as u64).await
            }
            Handle::Dir(_) => Err(FsError::IsDir),
        }
    }

    /// Closes a file or directory handle.
    pub fn release(&self, fh: u64) {
        self.handles().remove(&fh);
    }
}

/// The bytes of `bytes` from `offset`, at most `size` of them.
fn slice(bytes: &Bytes, offset: u64, size: u32) -> Bytes {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = start.saturating_add(size as usize).min(bytes.len());
    bytes.slice(start..end)
}
