//! The namespace: which directories and files exist, their inode numbers, their attributes, and
//! how long each listing is trusted.
//!
//! ```text
//! /                       one directory per job of GET /jobs (refreshed after the listing TTL)
//! /JOB/                   .job/ plus the outputs, once the job has succeeded
//! /JOB/.job/              status.json, state, and those of inputs.json results.json logs.txt
//!                         exceptions.json statistics.json provenance.json the server has;
//!                         steps/ of a workflow
//! /JOB/@STATE             a job without outputs: its state and message
//! /JOB/OUTPUT[.ext]       literals as text, JSON as .json, href outputs fetched by range
//! /JOB/OUTPUT/            arrays of files, directory outputs
//! /@process/ /@status/ /@date/   the views: symlinks to the jobs, from the root listing
//! /.weaverfs/stats.json   the mount's counters (found by name, not listed)
//! ```

pub mod dir_index;
mod links;
pub mod naming;
pub mod node;
pub mod outputs;
pub mod steps;
pub mod views;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use lru::LruCache;
use url::Url;

use crate::api::listing::Listed;
use crate::api::{ApiClient, JobDocument, JobState, JobStatus, Results};
use crate::error::{FsError, Result};
use crate::read::{probe, probe_with_first_bytes, FirstBytes, RemoteFile};
use crate::stats::{STATS_DIR, STATS_FILE};
use naming::UniqueNames;
pub use node::{Attr, ChildSpec, Content, Doc, Listing, Node};
use views::{View, ViewDir, ViewIndex};

pub const ROOT_INO: u64 = 1;
/// The directory of a job's own documents.
pub const JOB_META_DIR: &str = ".job";

/// What the namespace trusts and for how long.
#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// The root listing (GET /jobs) is refreshed after this.
    pub listing_ttl: Duration,
    /// Status and results of finished jobs are re-checked after this.
    pub finished_ttl: Duration,
    /// Status and documents of running jobs are re-checked after this.
    pub active_ttl: Duration,
    /// A name that is not a job is remembered as absent for this long.
    pub negative_ttl: Duration,
    /// Keep bare output ids, without extensions.
    pub plain_names: bool,
}

impl Default for TreeConfig {
    fn default() -> Self {
        TreeConfig {
            listing_ttl: Duration::from_secs(30),
            finished_ttl: Duration::from_secs(60),
            active_ttl: Duration::from_secs(2),
            negative_ttl: Duration::from_secs(30),
            plain_names: false,
        }
    }
}

/// What is known of a job: its status and, once it succeeded, its results.
#[derive(Debug, Clone)]
struct JobSnapshot {
    status: JobStatus,
    /// None until the job succeeds; an error when its results are gone (dismissed, purged).
    results: Option<std::result::Result<Arc<Results>, FsError>>,
    at: Instant,
}

type JobCell = Arc<tokio::sync::Mutex<Option<JobSnapshot>>>;
/// A `.job/` document as last fetched: None when the server does not have it.
type DocCell = Arc<tokio::sync::Mutex<Option<(Option<Bytes>, Instant)>>>;

pub struct Tree {
    api: ApiClient,
    cfg: TreeConfig,
    mounted_at: SystemTime,
    inodes: Mutex<Inodes>,
    jobs: Mutex<HashMap<Arc<str>, JobCell>>,
    /// The `.job/` documents of each job, absent ones too, so a listing and the lookups and
    /// reads after it agree, and a missing document is asked for once per TTL.
    docs: Mutex<HashMap<(Arc<str>, Doc), DocCell>>,
    /// Root names recently found not to be jobs.
    absent: Mutex<LruCache<String, Instant>>,
    /// The views of the last root listing.
    views: Mutex<Arc<ViewIndex>>,
    /// Workflow steps found in jobs' logs, per job.
    steps: Mutex<LruCache<Arc<str>, links::StepsRead>>,
    /// Where the first bytes that size probes bring along go; None: probes are HEADs.
    first_bytes: Option<FirstBytes>,
}

/// The inode numbers handed out. Listed jobs get `JOB_BIT | n`, `n` their place in `jobs`, and
/// no node until one is asked for by inode (a lookup, an `opendir`): a root of 100,000 jobs
/// costs an id each, not a node each.
struct Inodes {
    nodes: HashMap<u64, Arc<Node>>,
    by_name: HashMap<(u64, Arc<str>), u64>,
    next: u64,
    jobs: Vec<Arc<str>>,
}

impl Inodes {
    /// The id of a listed job's inode.
    fn listed_id(&self, ino: u64) -> Option<&Arc<str>> {
        if ino & views::JOB_BIT == 0 {
            return None;
        }
        self.jobs.get((ino & !views::JOB_BIT) as usize)
    }

    /// The node of a listed job's inode, made now (not kept).
    fn listed_job(&self, ino: u64, mtime: SystemTime) -> Option<Node> {
        let id = self.listed_id(ino)?.clone();
        Some(Node::new(ino, ROOT_INO, Content::Job(id), mtime))
    }

    /// Whether `ino` is the directory of job `id`.
    fn is_job(&self, ino: u64, id: &str) -> bool {
        match self.nodes.get(&ino) {
            Some(node) => matches!(&node.content, Content::Job(j) if **j == *id),
            None => self.listed_id(ino).is_some_and(|j| **j == *id),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a root name could be a job id: GDAL's and QGIS's sidecar probes (`x.aux.xml`,
/// `.hidden`) fail at once without asking the server.
pub fn could_be_job_id(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Tree {
    pub fn new(api: ApiClient, cfg: TreeConfig) -> Self {
        let now = SystemTime::now();
        let root = Arc::new(Node::new(ROOT_INO, ROOT_INO, Content::Root, now));
        Tree {
            api,
            cfg,
            mounted_at: now,
            inodes: Mutex::new(Inodes {
                nodes: HashMap::from([(ROOT_INO, root)]),
                by_name: HashMap::new(),
                next: ROOT_INO + 1,
                jobs: Vec::new(),
            }),
            jobs: Mutex::new(HashMap::new()),
            docs: Mutex::new(HashMap::new()),
            absent: Mutex::new(LruCache::new(std::num::NonZeroUsize::new(4096).unwrap())),
            views: Mutex::new(Arc::new(ViewIndex::empty())),
            steps: Mutex::new(LruCache::new(std::num::NonZeroUsize::new(4096).unwrap())),
            first_bytes: None,
        }
    }

    /// Probes of file sizes ask for the first bytes too, and keep them in `first` (None:
    /// HEAD probes).
    pub fn keep_first_bytes(mut self, first: Option<FirstBytes>) -> Self {
        self.first_bytes = first;
        self
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The node of an inode; a listed job's is made and kept from now on (its listing and its
    /// caches live in it).
    pub fn node(&self, ino: u64) -> Result<Arc<Node>> {
        self.find_node(ino, true)
    }

    /// The node of an inode for its attributes: a listed job's that was never looked up is made
    /// for the call and not kept, so `ls -l` of a large root keeps no node per job.
    pub fn peek_node(&self, ino: u64) -> Result<Arc<Node>> {
        self.find_node(ino, false)
    }

    fn find_node(&self, ino: u64, keep: bool) -> Result<Arc<Node>> {
        if ino & (views::LINK_BIT | views::LATEST_BIT) != 0 {
            return self.derived_link(ino);
        }
        let mut inodes = lock(&self.inodes);
        if let Some(node) = inodes.nodes.get(&ino) {
            return Ok(node.clone());
        }
        let node = inodes
            .listed_job(ino, self.mounted_at)
            .map(Arc::new)
            .ok_or_else(|| FsError::NotFound(format!("inode {ino}")))?;
        if keep {
            inodes.nodes.insert(ino, node.clone());
        }
        Ok(node)
    }

    /// The node for `(parent, name)`: the same inode number as before; a new node when the
    /// content changed, so its caches start afresh.
    fn register(
        &self,
        parent: u64,
        name: Arc<str>,
        content: Content,
        mtime: SystemTime,
    ) -> Arc<Node> {
        let mut inodes = lock(&self.inodes);
        let key = (parent, name);
        let ino = match inodes.by_name.get(&key) {
            Some(&ino) => {
                if let Some(node) = inodes.nodes.get(&ino) {
                    if node.content == content {
                        return node.clone();
                    }
                }
                ino
            }
            None => {
                let ino = inodes.next;
                inodes.next += 1;
                inodes.by_name.insert(key, ino);
                ino
            }
        };
        let node = Arc::new(Node::new(ino, parent, content, mtime));
        inodes.nodes.insert(ino, node.clone());
        node
    }

    /// Adds the listed jobs to `entries`, in order, with the inode each name had in the previous
    /// listing (or from a lookup before it), else a new `JOB_BIT` number. No node is made.
    fn add_jobs(
        &self,
        jobs: &RootJobs,
        previous: Option<&Listing>,
        entries: &mut Vec<(Arc<str>, u64)>,
    ) {
        let mut inodes = lock(&self.inodes);
        for (i, job) in jobs.jobs.iter().enumerate() {
            let name = jobs.renamed.get(&i).unwrap_or(&job.id).clone();
            let known = previous
                .and_then(|l| l.get(&name))
                .or_else(|| inodes.by_name.get(&(ROOT_INO, name.clone())).copied());
            let ino = match known.filter(|&ino| inodes.is_job(ino, &job.id)) {
                Some(ino) => ino,
                None => {
                    let ino = views::JOB_BIT | inodes.jobs.len() as u64;
                    inodes.jobs.push(job.id.clone());
                    ino
                }
            };
            entries.push((name, ino));
        }
    }

    /// The entry `name` of directory `parent`, for its attributes (a listed job's node may be
    /// made for the call only; `node` keeps it).
    pub async fn lookup(&self, parent: &Arc<Node>, name: &str) -> Result<Arc<Node>> {
        if !parent.content.is_dir() {
            return Err(FsError::NotDir);
        }
        if parent.content == Content::Root {
            if name == STATS_DIR {
                return Ok(self.stats_dir());
            }
            // A known job resolves from the last listing, even a stale one, so a path walk
            // does not wait for a refresh of thousands of jobs.
            let (known, never_listed) = match parent.listing.try_lock() {
                Ok(listing) => (
                    listing.as_ref().and_then(|l| l.get(name)),
                    listing.is_none(),
                ),
                Err(_) => (None, false),
            };
            // A listed job's node is kept only once it is opened or looked into: `ls -l` of a
            // large root looks every job up again after the entry TTL.
            if let Some(ino) = known {
                return self.peek_node(ino);
            }
            // Before the first listing, a path walk to one job asks for that job alone, not
            // for every page of the root (a fresh mount's first read; a script on a node).
            if never_listed && could_be_job_id(name) {
                return self.lookup_unlisted_job(name).await;
            }
            // A job id resolves even when the listing fails (it may be forbidden, or down).
            match self.children(parent).await {
                Ok(listing) => {
                    if let Some(ino) = listing.get(name) {
                        return self.peek_node(ino);
                    }
                }
                Err(e) => tracing::warn!("job listing: {e}"),
            }
            return self.lookup_unlisted_job(name).await;
        }
        if let Content::View(ViewDir::Bucket(view, bucket)) = &parent.content {
            return self.lookup_in_bucket(parent, *view, bucket, name).await;
        }
        match self.children(parent).await?.get(name) {
            Some(ino) => self.node(ino),
            None => Err(FsError::NotFound(name.to_string())),
        }
    }

    /// `.weaverfs/`: resolved by name but left out of the root listing, so `ls -a`, `find`,
    /// `cp -r` and backups of the mount never meet it.
    fn stats_dir(&self) -> Arc<Node> {
        let file = ChildSpec::new(STATS_FILE, Content::Stats);
        let content = Content::Static(Arc::from([file]));
        self.register(ROOT_INO, STATS_DIR.into(), content, self.mounted_at)
    }

    /// A job that the listing does not show (private, newer than the listing) still resolves.
    async fn lookup_unlisted_job(&self, name: &str) -> Result<Arc<Node>> {
        let absent = || FsError::NotFound(format!("no job {name}"));
        if !could_be_job_id(name) {
            return Err(absent());
        }
        if let Some(at) = lock(&self.absent).get(name) {
            if at.elapsed() < self.cfg.negative_ttl {
                return Err(absent());
            }
        }
        match self.job(name).await {
            Ok(snapshot) => {
                let name: Arc<str> = name.into();
                let content = Content::Job(name.clone());
                Ok(self.register(ROOT_INO, name, content, self.job_mtime(&snapshot)))
            }
            Err(FsError::NotFound(_)) => {
                lock(&self.absent).put(name.to_string(), Instant::now());
                Err(absent())
            }
            Err(e) => Err(e),
        }
    }

    /// The entries of a directory, from its listing while it is fresh.
    pub async fn children(&self, dir: &Arc<Node>) -> Result<Arc<Listing>> {
        let mut listing = dir.listing.lock().await;
        if let Some(l) = listing.as_ref() {
            // The shorter of the TTL now and when listed: a job's directory listed while it ran
            // is listed again once it has ended, though an ended job is trusted for longer.
            let ttl = self.listing_ttl(dir).await.min(l.ttl);
            if l.at.is_some_and(|at| at.elapsed() < ttl) {
                return Ok(l.clone());
            }
        }
        let ttl = self.listing_ttl(dir).await;
        let (specs, mtime, jobs) = match self.list(dir).await {
            Ok(found) => found,
            Err(e @ (FsError::Io(_) | FsError::Unavailable(..) | FsError::TimedOut(_)))
                if listing.is_some() =>
            {
                // Keep what was listed, and try again after a TTL, not at every lookup.
                tracing::warn!("keeping the previous listing of inode {}: {e}", dir.ino);
                let previous = listing
                    .as_ref()
                    .map(|l| l.entries.to_vec())
                    .unwrap_or_default();
                let kept = Arc::new(Listing::new(previous, ttl));
                *listing = Some(kept.clone());
                return Ok(kept);
            }
            Err(e) => return Err(e),
        };
        let mut entries =
            Vec::with_capacity(specs.len() + jobs.as_ref().map_or(0, |j| j.jobs.len()));
        let mut made = Vec::with_capacity(specs.len());
        for spec in specs {
            let name: Arc<str> = spec.name.into();
            let node = self.register(dir.ino, name.clone(), spec.content, mtime);
            if node.remote.try_lock().is_ok_and(|r| r.is_none()) {
                node.set_size_hint(spec.size_hint);
            }
            entries.push((name, node.ino));
            made.push(node);
        }
        if let Some(jobs) = jobs {
            let first = entries.len();
            self.add_jobs(&jobs, listing.as_deref(), &mut entries);
            let rows = entries[first..].iter().cloned().zip(jobs.jobs);
            self.set_views(rows.map(|((name, ino), job)| (name, ino, job)));
        }
        self.probe_files(made.iter());
        let large = entries.len() >= TRIM_AFTER;
        let fresh = Arc::new(Listing::new(entries, ttl));
        *listing = Some(fresh.clone());
        if large {
            release_freed_memory();
        }
        Ok(fresh)
    }

    /// Starts fetching the sizes of a directory's remote files, many at a time, so `ls -l`
    /// does not wait for one probe after another; small files come whole with their size. In
    /// the background (see [`crate::client::limit`]): a lookup or an open of one file does
    /// not queue behind the probes of its 999 siblings.
    ///
    /// In a directory of more than [`PROBE_ALL_UP_TO`] remote files, a file whose size was
    /// announced and that is larger than a probe brings is not probed now: its size is known,
    /// and its probe would bring only its first bytes (64 MiB for a job of 1000 large files).
    /// It is probed when opened. In a smaller directory (most jobs) every file is probed, so
    /// a first small read (a header) of any of them costs no round trip.
    fn probe_files<'a>(&self, nodes: impl Iterator<Item = &'a Arc<Node>>) {
        let whole = self.first_bytes.as_ref().map_or(0, |f| f.want());
        let mut remote: Vec<Arc<Node>> = nodes
            .filter(|n| matches!(n.content, Content::Remote(_)))
            .cloned()
            .collect();
        if remote.len() > PROBE_ALL_UP_TO {
            remote.retain(|n| n.size_hint().is_none_or(|size| size <= whole));
        }
        if remote.is_empty() {
            return;
        }
        let (api, ttl, first) = (
            self.api.clone(),
            self.cfg.finished_ttl,
            self.first_bytes.clone(),
        );
        let at_once = api.http().limits().background_max();
        tokio::spawn(crate::client::limit::background(async move {
            futures::stream::iter(remote)
                .for_each_concurrent(at_once, |node| {
                    let (api, first) = (&api, first.as_ref());
                    async move {
                        if let Err(e) = probe_remote(api, ttl, &node, first).await {
                            tracing::warn!("{e}");
                        }
                    }
                })
                .await;
        }));
    }

    async fn listing_ttl(&self, dir: &Node) -> Duration {
        match &dir.content {
            Content::Root | Content::View(_) => self.cfg.listing_ttl,
            Content::Static(_) => Duration::MAX,
            _ => self.job_ttl(dir).await,
        }
    }

    /// How long what belongs to this node's job is trusted: longer once the job is finished.
    async fn job_ttl(&self, node: &Node) -> Duration {
        let finished = match self.job_of(node) {
            Some(id) => self
                .cached_job(&id)
                .await
                .is_some_and(|s| s.status.state.is_terminal()),
            None => false,
        };
        if finished {
            self.cfg.finished_ttl
        } else {
            self.cfg.active_ttl
        }
    }

    /// The job a node belongs to, found by walking up to the root's child.
    fn job_of(&self, node: &Node) -> Option<Arc<str>> {
        let inodes = lock(&self.inodes);
        let mut current = inodes.nodes.get(&node.ino)?.clone();
        loop {
            if let Content::Job(id) = &current.content {
                return Some(id.clone());
            }
            if current.ino == ROOT_INO || current.parent == ROOT_INO {
                return None;
            }
            current = inodes.nodes.get(&current.parent)?.clone();
        }
    }

    /// Lists a directory from its source, with the mtime its entries get; the root also gives
    /// what the listing says of each job (by its position in the entries).
    async fn list(&self, dir: &Node) -> Result<(Vec<ChildSpec>, SystemTime, Option<RootJobs>)> {
        match &dir.content {
            Content::Root => {
                let mut jobs = self.api.list_jobs().await?;
                let mut names = UniqueNames::reserving(&[STATS_DIR]);
                let specs: Vec<ChildSpec> = View::ALL
                    .iter()
                    .map(|v| {
                        let name = names.claim(v.name());
                        ChildSpec::new(name, Content::View(ViewDir::Top(*v)))
                    })
                    .collect();
                jobs.retain(|job| naming::addressable_job_id(&job.id));
                let mut renamed = HashMap::new();
                for (i, job) in jobs.iter().enumerate() {
                    let name = names.claim_shared(&job.id, &"job listing");
                    if !Arc::ptr_eq(&name, &job.id) {
                        renamed.insert(i, name);
                    }
                }
                Ok((specs, self.mounted_at, Some(RootJobs { jobs, renamed })))
            }
            Content::Job(id) => {
                let snap = self.job(id).await?;
                let mut specs = vec![ChildSpec::new(JOB_META_DIR, Content::JobMeta(id.clone()))];
                if let Some(Ok(results)) = &snap.results {
                    specs.extend(outputs::output_entries(
                        id,
                        &results.outputs,
                        self.cfg.plain_names,
                    ));
                }
                if specs.len() == 1 {
                    // No outputs (yet): the state, visible in `ls -l` of the job.
                    let note = format!("@{}", snap.status.state.as_str());
                    specs.push(ChildSpec::new(
                        note,
                        Content::Document(id.clone(), Doc::StateNote),
                    ));
                }
                Ok((specs, self.job_mtime(&snap), None))
            }
            Content::JobMeta(id) => {
                let snap = self.job(id).await?;
                let state = snap.status.state;
                let mut wanted = vec![("inputs.json", Doc::Inputs), ("logs.txt", Doc::Logs)];
                if matches!(&snap.results, Some(Ok(r)) if r.raw.is_some()) {
                    wanted.push(("results.json", Doc::Results));
                }
                if state == JobState::Failed {
                    wanted.push(("exceptions.json", Doc::Exceptions));
                }
                if state == JobState::Successful {
                    wanted.push(("statistics.json", Doc::Statistics));
                    wanted.push(("provenance.json", Doc::Provenance));
                }
                // Only what the server has is listed, so readdir and lookup agree.
                let present =
                    futures::future::join_all(wanted.into_iter().map(|(name, d)| async move {
                        self.has_doc(id, d).await.then_some((name, d))
                    }))
                    .await;
                let doc =
                    |name: &str, d: Doc| ChildSpec::new(name, Content::Document(id.clone(), d));
                let mut specs = vec![doc("status.json", Doc::Status), doc("state", Doc::State)];
                specs.extend(present.into_iter().flatten().map(|(n, d)| doc(n, d)));
                if !self.steps(id, &snap).await.is_empty() {
                    specs.push(ChildSpec::new(links::STEPS_DIR, Content::Steps(id.clone())));
                }
                Ok((specs, self.job_mtime(&snap), None))
            }
            Content::Static(entries) => Ok((entries.to_vec(), dir.mtime, None)),
            Content::RemoteDir(href) => Ok((self.list_remote_dir(href).await?, dir.mtime, None)),
            Content::View(ViewDir::Top(view)) => {
                Ok((self.list_view(*view).await?, dir.mtime, None))
            }
            Content::Steps(id) => Ok((self.list_steps(id).await?, dir.mtime, None)),
            _ => Err(FsError::NotDir),
        }
    }
}

/// What the root listing says of its jobs, in the root's order after the views: the listing's
/// summary of each, and the root name of the few whose id is not their name as is.
struct RootJobs {
    jobs: Vec<Listed>,
    renamed: HashMap<usize, Arc<str>>,
}

/// Up to this many remote files in a directory, a listing probes them all, large ones too
/// (at most 4 MiB of first bytes with 64 KiB probes); above it, only those whose size was not
/// announced or that a probe brings whole ([`Tree::probe_files`]).
const PROBE_ALL_UP_TO: usize = 64;

/// A directory this large gives the memory its listing freed back to the system.
const TRIM_AFTER: usize = 10_000;

/// Returns freed heap pages to the system: glibc keeps the pages the listing pages and the
/// temporary vectors of a large listing used, in each thread's arena, until told.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Tree {
    fn job_mtime(&self, snap: &JobSnapshot) -> SystemTime {
        snap.status.mtime.unwrap_or(self.mounted_at)
    }

    async fn list_remote_dir(&self, href: &str) -> Result<Vec<ChildSpec>> {
        let url = Url::parse(href).map_err(|e| FsError::Io(format!("bad href {href}: {e}")))?;
        let what = format!("index of {href}");
        let http = self.api.http();
        let attempt = || async {
            let resp = http
                .send(reqwest::Method::GET, url.clone(), &[], &what)
                .await?;
            let status = resp.status();
            if !status.is_success() {
                let e = crate::client::http::response_error(&what, &resp);
                // A server that is down must not leave the directory cached as empty.
                if e.is_transient() {
                    return Err(e);
                }
                tracing::info!("{what}: {status}; the directory is shown empty");
                return Ok(String::new());
            }
            let body = crate::api::read_document(resp, &what).await?;
            Ok(String::from_utf8_lossy(&body).into_owned())
        };
        let body = http.retry().run(&what, attempt).await?;
        let mut names = UniqueNames::default();
        let place = format!("index of {href}");
        Ok(dir_index::parse_index(&url, &body)
            .into_iter()
            .map(|e| {
                let content = if e.is_dir {
                    Content::RemoteDir(e.url.as_str().into())
                } else {
                    Content::Remote(e.url.as_str().into())
                };
                ChildSpec::new(names.claim_in(&e.name, &place), content)
            })
            .collect())
    }

    async fn cached_job(&self, id: &str) -> Option<JobSnapshot> {
        let cell = lock(&self.jobs).get(id).cloned()?;
        let snapshot = cell.lock().await.clone();
        snapshot
    }

    /// The job's status and results, fetched again once they are older than their TTL.
    async fn job(&self, id: &str) -> Result<JobSnapshot> {
        let cell = lock(&self.jobs).entry(id.into()).or_default().clone();
        let mut cached = cell.lock().await;
        if let Some(s) = cached.as_ref() {
            let ttl = if s.status.state.is_terminal() {
                self.cfg.finished_ttl
            } else {
                self.cfg.active_ttl
            };
            if s.at.elapsed() < ttl {
                return Ok(s.clone());
            }
        }
        // A job seen for the first time: its results are asked with its status, in one
        // round trip; later only once the status says they are there.
        let (status, mut fetched) = match cached.is_none() {
            true => match self.api.status_and_results(id).await {
                Ok((status, results)) => (Ok(status), results),
                Err(e) => (Err(e), None),
            },
            false => (self.api.status(id).await, None),
        };
        let status = match status {
            Ok(status) => status,
            Err(e) => match (&e, cached.as_ref()) {
                // A flaky link: what was known is better than an error.
                (
                    FsError::Io(_) | FsError::Unavailable(..) | FsError::TimedOut(_),
                    Some(previous),
                ) => {
                    tracing::warn!("job {id}: keeping the previous status: {e}");
                    return Ok(previous.clone());
                }
                _ => return Err(e),
            },
        };
        let results = if status.state == JobState::Successful {
            // Results of a successful job do not change; keep them while it stays successful.
            match cached.as_ref().and_then(|s| s.results.clone()) {
                Some(Ok(r)) => Some(Ok(r)),
                _ => {
                    let answer = match fetched.take() {
                        Some(answer) => answer,
                        None => self.api.results(id, status.process_id.as_deref()).await,
                    };
                    match answer {
                        Ok(r) => Some(Ok(Arc::new(r))),
                        Err(e @ FsError::NotFound(_)) => {
                            tracing::info!("job {id}: results are gone: {e}");
                            Some(Err(e))
                        }
                        // The job directory still shows `.job/`; asked again after the TTL.
                        Err(e) => {
                            tracing::warn!("job {id}: results cannot be shown: {e}");
                            Some(Err(e))
                        }
                    }
                }
            }
        } else {
            None
        };
        let snapshot = JobSnapshot {
            status,
            results,
            at: Instant::now(),
        };
        *cached = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// The current version of a remote file: probed once, then again after the job TTL.
    pub async fn remote_file(&self, node: &Node) -> Result<Arc<RemoteFile>> {
        probe_remote(
            &self.api,
            self.cfg.finished_ttl,
            node,
            self.first_bytes.as_ref(),
        )
        .await
    }

    /// The bytes of a `.job/` document, fetched again after its TTL.
    pub async fn document(&self, node: &Node) -> Result<Bytes> {
        let Content::Document(id, doc) = &node.content else {
            return Err(FsError::IsDir);
        };
        match doc {
            Doc::Status => Ok(Bytes::from(self.job(id).await?.status.raw)),
            Doc::State | Doc::StateNote => {
                let snap = self.job(id).await?;
                let note = *doc == Doc::StateNote;
                let mut text = links::state_text(&snap.status, note);
                if let (true, Some(Err(e))) = (note, &snap.results) {
                    // A job that succeeded but shows nothing: say why.
                    text = format!("{}; its results could not be read: {e}\n", text.trim_end());
                }
                Ok(Bytes::from(text))
            }
            Doc::Results => match self.job(id).await?.results {
                Some(Ok(r)) => r
                    .raw
                    .clone()
                    .map(Bytes::from)
                    .ok_or_else(|| FsError::NotFound(format!("job {id}: no results document"))),
                Some(Err(e)) => Err(e),
                None => Err(FsError::NotFound(format!("job {id} has no results"))),
            },
            _ => self
                .job_doc(id, *doc)
                .await
                .ok_or_else(|| FsError::NotFound(format!("job {id}: no {doc:?} document"))),
        }
    }

    async fn has_doc(&self, id: &Arc<str>, doc: Doc) -> bool {
        match doc {
            Doc::Status | Doc::Results | Doc::State | Doc::StateNote => true,
            _ => self.job_doc(id, doc).await.is_some(),
        }
    }

    /// A `.job/` document from the cache while its job's TTL lasts; None when the server
    /// does not have it (or could not give it: logged).
    async fn job_doc(&self, id: &Arc<str>, doc: Doc) -> Option<Bytes> {
        let cell = lock(&self.docs)
            .entry((id.clone(), doc))
            .or_default()
            .clone();
        let mut cached = cell.lock().await;
        let finished = self
            .cached_job(id)
            .await
            .is_some_and(|s| s.status.state.is_terminal());
        let ttl = if finished {
            self.cfg.finished_ttl
        } else {
            self.cfg.active_ttl
        };
        if let Some((bytes, at)) = cached.as_ref() {
            if at.elapsed() < ttl {
                return bytes.clone();
            }
        }
        let fetched = self.fetch_doc(id, doc).await;
        *cached = Some((fetched.clone(), Instant::now()));
        fetched
    }

    async fn fetch_doc(&self, id: &str, doc: Doc) -> Option<Bytes> {
        let which = match doc {
            Doc::Inputs => JobDocument::Inputs,
            Doc::Logs => JobDocument::Logs,
            Doc::Exceptions => JobDocument::Exceptions,
            Doc::Statistics => JobDocument::Statistics,
            Doc::Provenance => JobDocument::Provenance,
            Doc::Status | Doc::Results | Doc::State | Doc::StateNote => return None,
        };
        match self.api.document(id, which).await {
            Ok(bytes) => return Some(Bytes::from(bytes)),
            // 404, 405, 410, 501: a document this server (or job) does not have.
            Err(FsError::NotFound(e)) => tracing::debug!("{e}"),
            Err(e @ FsError::Io(_)) if e.to_string().contains("unexpected") => {
                tracing::debug!("{e}")
            }
            Err(e) => tracing::warn!("job {id}: {e}; not listed in .job/ for now"),
        }
        if doc != Doc::Exceptions {
            return None;
        }
        // No /exceptions: the error /results answered is the cause of the failure.
        match self.api.results_error(id).await {
            Ok(body) => body.map(Bytes::from),
            Err(e) => {
                tracing::warn!("job {id}: the cause of its failure: {e}");
                None
            }
        }
    }

    /// A node's attributes; for remote files and documents this may ask the server.
    pub async fn attr(&self, node: &Node) -> Result<Attr> {
        let mut attr = Attr {
            ino: node.ino,
            size: 0,
            is_dir: node.content.is_dir(),
            is_link: false,
            mtime: node.mtime,
            ttl: Duration::from_secs(1),
        };
        match &node.content {
            Content::Job(id) => match self.cached_job(id).await {
                Some(s) => attr.mtime = self.job_mtime(&s),
                // The listing's time, before the job itself was read.
                None => attr.mtime = self.listed_time(node.ino).unwrap_or(node.mtime),
            },
            Content::View(ViewDir::Bucket(view, name)) => {
                attr.mtime = self.bucket_time(*view, name).unwrap_or(node.mtime);
            }
            Content::Link(target) => {
                attr.size = target.len() as u64;
                attr.is_link = true;
                // `@latest` moves: the kernel asks again at each path walk.
                if node.ino & views::LATEST_BIT != 0 {
                    attr.ttl = Duration::ZERO;
                }
            }
            Content::Inline(bytes) => {
                attr.size = bytes.len() as u64;
                attr.ttl = self.cfg.finished_ttl;
            }
            Content::Document(..) => attr.size = self.document(node).await?.len() as u64,
            Content::Stats => {
                attr.size = self.api.http().stats().json().len() as u64;
                (attr.mtime, attr.ttl) = (SystemTime::now(), Duration::ZERO);
            }
            // Announced, not yet answered: the size given without waiting for the probe.
            // The kernel hears it, so an open that finds another size bypasses its cache; it
            // keeps it only for the default second, so a size found wrong is soon corrected.
            Content::Remote(_) if node.size_hint().is_some() => {
                let size = node.size_hint().unwrap_or_default();
                attr.size = size;
                node.reported_size
                    .store(size, std::sync::atomic::Ordering::Relaxed);
            }
            Content::Remote(_) => {
                let file = self.remote_file(node).await?;
                attr.size = file.size();
                node.reported_size
                    .store(file.size(), std::sync::atomic::Ordering::Relaxed);
                attr.mtime = file.meta.mtime().unwrap_or(node.mtime);
                attr.ttl = self.cfg.finished_ttl;
            }
            _ => {}
        }
        Ok(attr)
    }
}

/// The current version of a remote file node: probed once, then again after `finished_ttl`.
/// The node's lock makes concurrent callers (a listing's background probes, a lookup, an open)
/// share one probe. With `first`, the probe is a GET of the first bytes, kept there.
async fn probe_remote(
    api: &ApiClient,
    finished_ttl: Duration,
    node: &Node,
    first: Option<&FirstBytes>,
) -> Result<Arc<RemoteFile>> {
    let Content::Remote(href) = &node.content else {
        return Err(FsError::IsDir);
    };
    let mut cached = node.remote.lock().await;
    if let Some((file, at)) = cached.as_ref() {
        if at.elapsed() < finished_ttl && !file.is_stale() {
            return Ok(file.clone());
        }
    }
    let url = Url::parse(href).map_err(|e| FsError::Io(format!("bad href {href}: {e}")))?;
    let (meta, bytes) = match first {
        Some(f) => {
            let probed = probe_with_first_bytes(api.http(), &url, f.want()).await?;
            (probed.meta, probed.first)
        }
        None => (probe(api.http(), &url).await?, Bytes::new()),
    };
    let file = match cached.as_ref() {
        Some((old, _)) if old.meta.same_version(&meta) && !old.is_stale() => old.clone(),
        Some((old, _)) => {
            // Handles still open on the old version must not serve its cached blocks as
            // the file's bytes any more: the kernel's pages are about to hold the new ones.
            old.stale();
            Arc::new(RemoteFile::new(url, meta))
        }
        None => Arc::new(RemoteFile::new(url, meta)),
    };
    if let Some(f) = first {
        f.keep(&file, bytes);
    }
    // The file host's answer is the size from now on, whatever was announced.
    node.set_size_hint(None);
    *cached = Some((file.clone(), Instant::now()));
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_candidates() {
        assert!(could_be_job_id("0d6c1a2e-1111-4222-8333-944455556666"));
        assert!(could_be_job_id("job_42"));
        assert!(!could_be_job_id("x.aux.xml"));
        assert!(!could_be_job_id(".hidden"));
        assert!(!could_be_job_id(""));
        assert!(!could_be_job_id("-rf"));
        assert!(!could_be_job_id(&"a".repeat(129)));
    }
}
