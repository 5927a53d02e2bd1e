//! The nodes of the namespace: what each entry is, its cached state, and its attributes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::views::ViewDir;
use crate::read::RemoteFile;

/// What a node is, and where its bytes or entries come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Root,
    Job(Arc<str>),
    JobMeta(Arc<str>),
    /// A directory whose entries are known (an array of files).
    Static(Arc<[ChildSpec]>),
    /// A directory output, listed from its host's index page.
    RemoteDir(Arc<str>),
    /// A literal output.
    Inline(Bytes),
    /// A document of `.job/`.
    Document(Arc<str>, Doc),
    /// An href output.
    Remote(Arc<str>),
    /// `.weaverfs/stats.json`: the mount's counters, taken at each open.
    Stats,
    /// A directory of the views (`@process/`, `@process/P/`...).
    View(ViewDir),
    /// A relative symbolic link (a view's job, `@latest`, a workflow step).
    Link(Arc<str>),
    /// `JOB/.job/steps/`: a workflow's steps, from its log.
    Steps(Arc<str>),
}

impl Content {
    pub fn is_dir(&self) -> bool {
        matches!(
            self,
            Content::Root
                | Content::Job(_)
                | Content::JobMeta(_)
                | Content::Static(_)
                | Content::RemoteDir(_)
                | Content::View(_)
                | Content::Steps(_)
        )
    }
}

/// The documents of `JOB/.job/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Doc {
    Status,
    Inputs,
    Results,
    Logs,
    Exceptions,
    Statistics,
    Provenance,
    /// `.job/state`: the state as one word.
    State,
    /// `JOB/@STATE` of a job without outputs: `STATE: message`.
    StateNote,
}

/// An entry a directory listing produces.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildSpec {
    pub name: String,
    pub content: Content,
    /// A remote file's size as the server announced it (a hint: see [`Node::size_hint`]).
    pub size_hint: Option<u64>,
}

impl ChildSpec {
    pub fn new(name: impl Into<String>, content: Content) -> Self {
        ChildSpec {
            name: name.into(),
            content,
            size_hint: None,
        }
    }

    pub fn with_size_hint(mut self, size: Option<u64>) -> Self {
        self.size_hint = size;
        self
    }
}

/// A directory entry or file with a stable inode number.
#[derive(Debug)]
pub struct Node {
    pub ino: u64,
    pub parent: u64,
    pub content: Content,
    /// The time known when the node was listed (the job's, for outputs).
    pub mtime: SystemTime,
    pub(super) listing: tokio::sync::Mutex<Option<Arc<Listing>>>,
    pub(super) remote: tokio::sync::Mutex<Option<(Arc<RemoteFile>, Instant)>>,
    /// The size last reported to the kernel for a remote file (u64::MAX: none yet).
    pub(super) reported_size: AtomicU64,
    /// A remote file's size as the results or `/statistics` announced it, reported until the
    /// file's first answer gives the real one (u64::MAX: none, or answered since).
    size_hint: AtomicU64,
    /// The version (block cache key) of a remote file when it was last opened.
    last_opened: std::sync::Mutex<Option<Arc<str>>>,
}

/// A directory's entries as last listed, in order, with an index by name: the entries' places
/// sorted by name (4 bytes an entry; the names are shared with the inode table and the views).
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Box<[(Arc<str>, u64)]>,
    by_name: Box<[u32]>,
    pub(super) at: Option<Instant>,
    /// How long it was to be trusted when it was made.
    pub(super) ttl: Duration,
}

impl Listing {
    pub(super) fn new(entries: Vec<(Arc<str>, u64)>, ttl: Duration) -> Self {
        let entries = entries.into_boxed_slice();
        let mut by_name: Vec<u32> = (0..entries.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| entries[a as usize].0.cmp(&entries[b as usize].0));
        Listing {
            entries,
            by_name: by_name.into_boxed_slice(),
            at: Some(Instant::now()),
            ttl,
        }
    }

    pub fn get(&self, name: &str) -> Option<u64> {
        let i = self
            .by_name
            .binary_search_by(|&i| (*self.entries[i as usize].0).cmp(name))
            .ok()?;
        Some(self.entries[self.by_name[i] as usize].1)
    }
}

/// The attributes the filesystem reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub size: u64,
    pub is_dir: bool,
    /// A symbolic link (its size is the target's length).
    pub is_link: bool,
    pub mtime: SystemTime,
    /// How long the kernel may keep this entry and these attributes.
    pub ttl: Duration,
}

impl Node {
    /// Whether the kernel may hold another size for this file than `size` (the file changed
    /// since its attributes were last given).
    pub fn size_differs_from_reported(&self, size: u64) -> bool {
        self.reported_size.load(Ordering::Relaxed) != size
    }

    /// The announced size of a remote file not yet probed.
    pub fn size_hint(&self) -> Option<u64> {
        Some(self.size_hint.load(Ordering::Relaxed)).filter(|&n| n != u64::MAX)
    }

    pub(super) fn set_size_hint(&self, size: Option<u64>) {
        self.size_hint
            .store(size.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Records that `version` of this file is being opened; true when the previous open was
    /// of the same version, so the kernel's cached pages of the file are still its bytes.
    pub fn opened_again(&self, version: &Arc<str>) -> bool {
        let mut last = self.last_opened.lock().unwrap_or_else(|e| e.into_inner());
        last.replace(version.clone()).as_ref() == Some(version)
    }

    pub(super) fn new(ino: u64, parent: u64, content: Content, mtime: SystemTime) -> Self {
        Node {
            ino,
            parent,
            content,
            mtime,
            listing: Default::default(),
            remote: Default::default(),
            reported_size: AtomicU64::new(u64::MAX),
            size_hint: AtomicU64::new(u64::MAX),
            last_opened: Default::default(),
        }
    }
}
