//! State shared by all handlers: the catalog, the test knobs, and what tests
//! change at runtime (job statuses, file versions, the request log).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::auth::AuthState;
use super::clock::{self, Micros};
use super::hostile::ListingMode;
use super::jobs::{running_log_line, Catalog, JobDef, Status};
use super::workflow::{StepRef, DEFAULT_REMOTE_ADES};
use super::RequestRecord;

/// Oldest records are dropped beyond this, so a long demo cannot grow memory.
const MAX_RECORDS: usize = 100_000;

/// A job as currently seen through the API.
#[derive(Debug, Clone)]
pub(crate) struct JobView {
    pub def: Arc<JobDef>,
    pub status: Status,
    pub started: Option<Micros>,
    pub finished: Option<Micros>,
    pub updated: Micros,
}

impl JobView {
    pub(crate) fn message(&self) -> &'static str {
        match self.def.message {
            Some(m) if self.status == self.def.status => m,
            _ => self.status.default_message(),
        }
    }
}

/// Runtime changes to a job; absent until a test touches the job.
#[derive(Debug, Clone)]
struct JobChange {
    status: Status,
    started: Option<Micros>,
    finished: Option<Micros>,
    updated: Micros,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub catalog: Catalog,
    latency_us: AtomicU64,
    ignore_range: AtomicBool,
    changes: Mutex<HashMap<String, JobChange>>,
    /// Number of `/logs` reads per job, for logs that grow.
    log_reads: Mutex<HashMap<String, usize>>,
    /// Bump count per file, keyed `{job}/{path}`.
    versions: Mutex<HashMap<String, u32>>,
    requests: Mutex<VecDeque<RequestRecord>>,
    /// Base URL of the hrefs when they are not on the API's origin (`weaver.wps_output_url`).
    files_url: Mutex<Option<String>>,
    refuse_head: AtomicBool,
    redirect_target: Mutex<Option<String>>,
    pub auth: AuthState,
    listing_mode: Mutex<ListingMode>,
    digests: Mutex<super::digests::Digests>,
    pub faults: super::faults::Faults,
    remote_ades: Mutex<Option<String>>,
    pub in_flight: Arc<super::in_flight::InFlight>,
    /// Bytes added to every size `/statistics` gives (a test's lying server).
    statistics_skew: AtomicI64,
}

/// Locks ignoring poisoning: a panicking test thread must not wedge the server.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(catalog: Catalog, latency: Duration, ignore_range: bool) -> Self {
        let shared = Shared {
            catalog,
            latency_us: AtomicU64::new(0),
            ignore_range: AtomicBool::new(ignore_range),
            changes: Mutex::default(),
            log_reads: Mutex::default(),
            versions: Mutex::default(),
            requests: Mutex::default(),
            files_url: Mutex::default(),
            refuse_head: AtomicBool::new(false),
            redirect_target: Mutex::default(),
            auth: AuthState::default(),
            listing_mode: Mutex::default(),
            digests: Mutex::default(),
            faults: Default::default(),
            remote_ades: Mutex::default(),
            in_flight: Default::default(),
            statistics_skew: AtomicI64::new(0),
        };
        shared.set_latency(latency);
        shared
    }

    pub(crate) fn statistics_skew(&self) -> i64 {
        self.statistics_skew.load(Ordering::Relaxed)
    }

    pub(crate) fn set_statistics_skew(&self, bytes: i64) {
        self.statistics_skew.store(bytes, Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    pub(crate) fn set_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.store(us, Ordering::Relaxed);
    }

    pub(crate) fn files_url(&self) -> Option<String> {
        lock(&self.files_url).clone()
    }

    pub(crate) fn set_files_url(&self, url: Option<String>) {
        *lock(&self.files_url) = url;
    }

    pub(crate) fn redirect_target(&self) -> Option<String> {
        lock(&self.redirect_target).clone()
    }

    pub(crate) fn set_redirect_target(&self, target: Option<String>) {
        *lock(&self.redirect_target) = target;
    }

    pub(crate) fn digests(&self) -> super::digests::Digests {
        *lock(&self.digests)
    }

    pub(crate) fn set_digests(&self, mode: super::digests::Digests) {
        *lock(&self.digests) = mode;
    }

    pub(crate) fn listing_mode(&self) -> ListingMode {
        *lock(&self.listing_mode)
    }

    pub(crate) fn set_listing_mode(&self, mode: ListingMode) {
        *lock(&self.listing_mode) = mode;
    }

    pub(crate) fn head_allowed(&self) -> bool {
        !self.refuse_head.load(Ordering::Relaxed)
    }

    pub(crate) fn set_refuse_head(&self, on: bool) {
        self.refuse_head.store(on, Ordering::Relaxed);
    }

    pub(crate) fn ignore_range(&self) -> bool {
        self.ignore_range.load(Ordering::Relaxed)
    }

    pub(crate) fn set_ignore_range(&self, on: bool) {
        self.ignore_range.store(on, Ordering::Relaxed);
    }

    pub(crate) fn job(&self, id: &str) -> Option<JobView> {
        let def = self.catalog.get(id)?;
        let change = lock(&self.changes).get(id).cloned();
        Some(match change {
            Some(c) => JobView {
                def,
                status: c.status,
                started: c.started,
                finished: c.finished,
                updated: c.updated,
            },
            None => JobView {
                status: def.status,
                started: def.started,
                finished: def.finished,
                updated: def.updated,
                def,
            },
        })
    }

    /// Moves a job to `status`, stamping `started`/`finished` as a real
    /// worker would. Returns false for an unknown job.
    pub(crate) fn set_status(&self, id: &str, status: Status) -> bool {
        let Some(view) = self.job(id) else {
            return false;
        };
        let now = clock::now();
        let started = match status {
            Status::Created | Status::Accepted => None,
            _ => view.started.or(Some(now)),
        };
        let finished = if status.is_terminal() {
            view.finished.or(Some(now))
        } else {
            None
        };
        let change = JobChange {
            status,
            started,
            finished,
            updated: now.max(view.updated),
        };
        lock(&self.changes).insert(id.to_owned(), change);
        true
    }

    /// Log lines of a job for one `/logs` request. A running job's log grows
    /// by one line per request; once it stops, a final status line is added. A workflow's
    /// step lines appear when it ends, naming its step jobs under `api` (this server's API
    /// URL) or the remote ADES, as Weaver writes them.
    pub(crate) fn read_logs(&self, view: &JobView, api: &str) -> Vec<String> {
        let def = &view.def;
        if !def.steps.is_empty() {
            return self.workflow_logs(view, api);
        }
        if !def.growing_logs {
            return def.logs.clone();
        }
        let started = view.started.unwrap_or(def.created);
        let mut reads = lock(&self.log_reads);
        let count = reads.entry(def.id.clone()).or_insert(0);
        let active = matches!(view.status, Status::Running | Status::Accepted);
        let n = def.logs.len() + *count;
        if active {
            *count += 1;
        }
        let mut lines: Vec<String> = (0..n).map(|k| running_log_line(started, k)).collect();
        if !active {
            let at = view.finished.unwrap_or(view.updated);
            let status = view.status.as_str();
            let msg = view.message();
            lines.push(super::jobs::log_line(at, started, 100, status, msg));
        }
        lines
    }

    fn workflow_logs(&self, view: &JobView, api: &str) -> Vec<String> {
        let def = &view.def;
        let mut lines = def.logs.clone();
        if !view.status.is_terminal() {
            return lines;
        }
        let started = view.started.unwrap_or(def.created);
        let end = view.finished.unwrap_or(view.updated);
        let remote = self.remote_ades();
        for (k, (name, step)) in def.steps.iter().enumerate() {
            let (provider, base, id) = match step {
                StepRef::Here(id) => ("localhost", api, *id),
                StepRef::Remote(id) => ("remote-ades", remote.as_str(), *id),
            };
            let process = self.catalog.get(id).map_or("unknown", |j| j.process);
            let url = format!("{base}/processes/{process}/jobs/{id}");
            let at = started + (end - started) * (k as i64 + 1) / (def.steps.len() as i64 + 1);
            let msg = format!(
                "[provider: {provider}, step: {name}] - Monitoring job on remote ADES: [{url}]"
            );
            lines.push(super::jobs::log_line(at, started, 20, "running", &msg));
        }
        let (status, msg) = (view.status.as_str(), view.message());
        lines.push(super::jobs::log_line(end, started, 100, status, msg));
        lines
    }

    /// The API URL of the remote ADES that runs remote workflow steps.
    pub(crate) fn remote_ades(&self) -> String {
        lock(&self.remote_ades)
            .clone()
            .unwrap_or_else(|| DEFAULT_REMOTE_ADES.to_string())
    }

    pub(crate) fn set_remote_ades(&self, url: Option<String>) {
        *lock(&self.remote_ades) = url;
    }

    pub(crate) fn file_version(&self, key: &str) -> u32 {
        lock(&self.versions).get(key).copied().unwrap_or(0)
    }

    pub(crate) fn bump_file_version(&self, key: &str) {
        *lock(&self.versions).entry(key.to_owned()).or_insert(0) += 1;
    }

    pub(crate) fn record(&self, rec: RequestRecord) {
        let mut log = lock(&self.requests);
        if log.len() == MAX_RECORDS {
            log.pop_front();
        }
        log.push_back(rec);
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.requests).iter().cloned().collect()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.requests).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::jobs::{FILES, RUNNING};
    use super::*;

    const API: &str = "http://127.0.0.1:1/weaver";

    #[test]
    fn workflow_steps_reach_the_log_when_it_ends() {
        use super::super::jobs::{STEP_STAGE, WORKFLOW, WORKFLOW_RUNNING};
        let s = shared();
        let done = s.read_logs(&s.job(WORKFLOW).unwrap(), API);
        let steps: Vec<&String> = done.iter().filter(|l| l.contains("remote ADES")).collect();
        assert_eq!(steps.len(), 3);
        assert!(steps[0].contains(&format!(
            "[provider: localhost, step: stage_in] - Monitoring job on remote ADES: \
             [{API}/processes/stage-in/jobs/{STEP_STAGE}]"
        )));
        assert!(steps[2].contains(DEFAULT_REMOTE_ADES));
        let running = s.job(WORKFLOW_RUNNING).unwrap();
        assert!(!s
            .read_logs(&running, API)
            .iter()
            .any(|l| l.contains("step:")));
        s.set_status(WORKFLOW_RUNNING, Status::Successful);
        let ended = s.read_logs(&s.job(WORKFLOW_RUNNING).unwrap(), API);
        assert_eq!(
            ended
                .iter()
                .filter(|l| l.contains("step: stage_in"))
                .count(),
            1
        );
        assert!(ended.last().unwrap().contains("successful"));
    }

    fn shared() -> Shared {
        Shared::new(Catalog::new(1024, 0), Duration::ZERO, false)
    }

    #[test]
    fn running_logs_grow_by_one_line_per_read() {
        let s = shared();
        let view = s.job(RUNNING).unwrap();
        let a = s.read_logs(&view, API);
        let b = s.read_logs(&view, API);
        let c = s.read_logs(&view, API);
        assert_eq!((a.len(), b.len(), c.len()), (3, 4, 5));
        assert_eq!(b[..3], a[..]);
    }

    #[test]
    fn finishing_the_running_job() {
        let s = shared();
        s.read_logs(&s.job(RUNNING).unwrap(), API);
        assert!(s.set_status(RUNNING, Status::Successful));
        let view = s.job(RUNNING).unwrap();
        assert_eq!(view.status, Status::Successful);
        assert!(view.finished.is_some());
        assert_eq!(view.message(), "Job successful.");
        let logs = s.read_logs(&view, API);
        assert_eq!(logs.len(), 5);
        assert!(logs[4].contains("successful"));
        assert_eq!(s.read_logs(&view, API).len(), 5, "logs stop growing");
        assert!(!s.set_status("00000000-0000-4000-8000-000000000000", Status::Failed));
    }

    #[test]
    fn request_log_is_bounded() {
        let s = shared();
        for i in 0..MAX_RECORDS + 5 {
            s.record(RequestRecord {
                method: "GET".into(),
                path: format!("/{i}"),
                range: None,
                headers: Default::default(),
                peer: None,
            });
        }
        let log = s.requests();
        assert_eq!(log.len(), MAX_RECORDS);
        assert_eq!(log[0].path, "/5");
        s.clear_requests();
        assert!(s.requests().is_empty());
    }

    #[test]
    fn file_versions_start_at_zero() {
        let s = shared();
        let key = format!("{FILES}/output_text/result.txt");
        assert_eq!(s.file_version(&key), 0);
        s.bump_file_version(&key);
        s.bump_file_version(&key);
        assert_eq!(s.file_version(&key), 2);
    }
}
