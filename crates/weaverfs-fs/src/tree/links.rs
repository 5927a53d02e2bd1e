//! The tree's side of the views and of workflow steps: view directories, the symlinks in them
//! (derived inodes, never registered), `@latest`, `.job/steps/`, and the state files.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;

use super::naming::UniqueNames;
use super::steps::{self, Step, StepJob};
use super::views::{self, LinkEntry, View, ViewDir, ViewIndex, LATEST};
use super::{lock, ChildSpec, Content, JobSnapshot, Node, Tree, ROOT_INO};
use crate::api::listing::Listed;
use crate::api::{JobDocument, JobStatus};
use crate::error::{FsError, Result};

/// `JOB/.job/steps/`.
pub const STEPS_DIR: &str = "steps";

/// The steps of a job's log as last read.
pub(super) struct StepsRead {
    steps: Arc<[Step]>,
    /// Whether the job had ended then.
    terminal: bool,
    at: Instant,
}

fn system_time(micros: i64) -> SystemTime {
    let d = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

/// `.job/state` (`running`), or the note of a job without outputs (`failed: why`).
pub(super) fn state_text(status: &JobStatus, with_message: bool) -> String {
    let state = status.state.as_str();
    let message = with_message
        .then(|| serde_json::from_slice::<Value>(&status.raw).ok())
        .flatten()
        .and_then(|doc| {
            doc.get("message")?
                .as_str()
                .map(str::trim)
                .map(str::to_string)
        })
        .filter(|m| !m.is_empty());
    match message {
        Some(m) => format!("{state}: {m}\n"),
        None => format!("{state}\n"),
    }
}

impl Tree {
    pub(super) fn view_index(&self) -> Arc<ViewIndex> {
        lock(&self.views).clone()
    }

    /// The views of the root listing, refreshed with it once it is older than its TTL.
    async fn fresh_views(&self) -> Result<Arc<ViewIndex>> {
        let root = self.node(ROOT_INO)?;
        // Boxed: listing a view directory lists the root.
        Box::pin(self.children(&root)).await?;
        Ok(self.view_index())
    }

    /// Rebuilds the views from a fresh root listing: `(root name, inode, summary)` of each job.
    pub(super) fn set_views(&self, rows: impl Iterator<Item = (Arc<str>, u64, Listed)>) {
        let index = ViewIndex::build(rows);
        let before = self.view_index().missing;
        if index.missing != before && index.missing.iter().any(|&n| n > 0) {
            let [process, state, created] = index.missing;
            tracing::info!(
                "job listing: of {} jobs, {process} have no processID (shown under @process/@unknown), \
                 {created} no creation time (@date/@unknown), {state} no status (@status/unknown)",
                index.len()
            );
        }
        *lock(&self.views) = Arc::new(index);
    }

    /// The listing's time of a job directory, before its status was read.
    pub(super) fn listed_time(&self, job_ino: u64) -> Option<SystemTime> {
        self.view_index().job_time(job_ino).map(system_time)
    }

    pub(super) fn bucket_time(&self, view: View, name: &str) -> Option<SystemTime> {
        self.view_index().bucket_time(view, name).map(system_time)
    }

    /// The buckets of `@process/`, `@status/` or `@date/`.
    pub(super) async fn list_view(&self, view: View) -> Result<Vec<ChildSpec>> {
        let index = self.fresh_views().await?;
        Ok(index
            .buckets(view)
            .into_iter()
            .map(|(name, _)| {
                ChildSpec::new(&*name, Content::View(ViewDir::Bucket(view, name.clone())))
            })
            .collect())
    }

    /// The entries of a bucket directory: `@latest` and one link per job, never registered.
    pub async fn bucket_entries(&self, dir: &Node) -> Result<Vec<LinkEntry>> {
        let Content::View(ViewDir::Bucket(view, name)) = &dir.content else {
            return Err(FsError::NotDir);
        };
        let index = self.fresh_views().await?;
        Ok(index.entries(*view, name, dir.ino).unwrap_or_default())
    }

    /// A name in a bucket: `@latest`, or a listed job of that bucket.
    pub(super) async fn lookup_in_bucket(
        &self,
        dir: &Node,
        view: View,
        bucket: &str,
        name: &str,
    ) -> Result<Arc<Node>> {
        let index = self.fresh_views().await?;
        let absent = || FsError::NotFound(format!("{}/{bucket}/{name}", view.name()));
        if name == LATEST && view == View::Process {
            return self.node(views::LATEST_BIT | dir.ino).map_err(|_| absent());
        }
        let root = self.node(ROOT_INO)?;
        let job = root.listing.lock().await.as_ref().and_then(|l| l.get(name));
        match job {
            Some(ino) if index.contains(view, bucket, ino) => self.node(views::LINK_BIT | ino),
            _ => Err(absent()),
        }
    }

    /// The node of a derived symlink inode, made from the current views.
    pub(super) fn derived_link(&self, ino: u64) -> Result<Arc<Node>> {
        let index = self.view_index();
        let link = if ino & views::LINK_BIT != 0 {
            index.job_link(ino & !views::LINK_BIT)
        } else {
            match &self.node(ino & !views::LATEST_BIT)?.content {
                Content::View(ViewDir::Bucket(View::Process, name)) => index.latest(name),
                _ => None,
            }
        };
        let link = link.ok_or_else(|| FsError::NotFound(format!("inode {ino}")))?;
        let mtime = link.time.map(system_time).unwrap_or(self.mounted_at);
        Ok(Arc::new(Node::new(
            ino,
            ROOT_INO,
            Content::Link(link.target),
            mtime,
        )))
    }

    /// The steps a job's log names, re-read after the TTL of the state the job had when they
    /// were read (a running workflow's log gains its steps when it ends). Never fails: a log
    /// that cannot be read (a dismissed job's, say) names no steps.
    pub(super) async fn steps(&self, id: &Arc<str>, snap: &JobSnapshot) -> Arc<[Step]> {
        let ttl = |terminal: bool| {
            if terminal {
                self.cfg.finished_ttl
            } else {
                self.cfg.active_ttl
            }
        };
        let terminal = snap.status.state.is_terminal();
        if let Some(cached) = lock(&self.steps).get(id) {
            // Read again once the job has ended: its directory is then trusted for longer.
            if cached.terminal == terminal && cached.at.elapsed() < ttl(terminal) {
                return cached.steps.clone();
            }
        }
        let steps: Arc<[Step]> = match self.api.document(id, JobDocument::Logs).await {
            Ok(log) => steps::parse_steps(&String::from_utf8_lossy(&log)).into(),
            Err(e) => {
                tracing::debug!("job {id}: no steps from its log: {e}");
                match lock(&self.steps).get(id) {
                    Some(previous) if e.is_transient() => return previous.steps.clone(),
                    _ => Arc::from([]),
                }
            }
        };
        let cached = StepsRead {
            steps: steps.clone(),
            terminal,
            at: Instant::now(),
        };
        lock(&self.steps).put(id.clone(), cached);
        steps
    }

    /// `.job/steps/`: a symlink to each step job of this server, a file with the URL of others.
    pub(super) async fn list_steps(&self, id: &Arc<str>) -> Result<Vec<ChildSpec>> {
        let snap = self.job(id).await?;
        let steps = self.steps(id, &snap).await;
        let root = self.node(ROOT_INO)?;
        let listing = root.listing.lock().await.clone();
        let is_listed = |job: &str| listing.as_ref().is_some_and(|l| l.get(job).is_some());
        let base = self.api.base();
        let mut names = UniqueNames::default();
        let place = format!("steps of job {id}");
        Ok(steps
            .iter()
            .map(|step| {
                let name = names.claim_in(&step.name, &place);
                let content = match steps::locate(step, base, is_listed) {
                    // `JOB/.job/steps/NAME` is three levels below the root.
                    StepJob::Here(job) => Content::Link(Arc::from(format!("../../../{job}"))),
                    StepJob::Elsewhere(url) => Content::Inline(Bytes::from(format!("{url}\n"))),
                };
                ChildSpec::new(name, content)
            })
            .collect())
    }
}
