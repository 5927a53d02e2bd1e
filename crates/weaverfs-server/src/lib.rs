//! Built-in HTTP server imitating a Weaver job API (`/weaver`) and the nginx
//! host of its output files (`/wpsoutputs`), for `weaverfs demo` and tests.

mod api;
mod auth;
mod clock;
mod conditional;
mod content;
mod digests;
mod dir_jobs;
mod errors;
mod faults;
mod files;
pub mod hostile;
mod in_flight;
pub mod jobs;
pub mod ogc;
mod range;
mod render;
mod state;
mod workflow;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::ServerAuth;
pub use digests::Digests;
pub use faults::{Fault, RandomFaults};
use jobs::{Catalog, Status};
use state::Shared;

/// Behaviour knobs of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Delay added before every response (API and files).
    pub latency: Duration,
    /// Make the file host answer Range requests with 200 and the whole body.
    pub ignore_range: bool,
    /// Size of `output_big/big.dat` of the FILES job.
    pub big_file_size: u64,
    /// Extra synthetic successful jobs in the listing (for paging tests).
    pub extra_jobs: usize,
    /// A directory laid out like Weaver's outputs (`{job-uuid}/{output}/{file}`) whose jobs
    /// are served too.
    pub jobs_dir: Option<std::path::PathBuf>,
    /// Credentials required, like Twitcher + Magpie (none by default).
    pub auth: ServerAuth,
    /// Size of a `data` file output given to each extra job (none when 0), for tests that
    /// read many different files.
    pub extra_file_size: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            latency: Duration::ZERO,
            ignore_range: false,
            big_file_size: 256 * 1024 * 1024,
            extra_jobs: 0,
            jobs_dir: None,
            auth: ServerAuth::default(),
            extra_file_size: 0,
        }
    }
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path with its query string, e.g. `/weaver/jobs?page=1`.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// All request headers, to check what credentials reached the server.
    pub headers: header::HeaderMap,
    /// The client's address: one per connection, so tests see which requests shared one.
    pub peer: Option<SocketAddr>,
}

/// A running server; dropping it stops accepting connections too.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// How long `shutdown` lets open connections (a half-read stream, say)
/// finish before the server task is aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

impl TestServer {
    /// Binds `127.0.0.1:0`, serves on the current tokio runtime, and returns
    /// once the socket is listening.
    pub async fn start(cfg: ServerConfig) -> std::io::Result<TestServer> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), cfg).await
    }

    /// Same as [`TestServer::start`] on a given address.
    pub async fn start_on(addr: SocketAddr, cfg: ServerConfig) -> std::io::Result<TestServer> {
        let mut catalog = Catalog::new(cfg.big_file_size, cfg.extra_jobs)
            .with_extra_file_size(cfg.extra_file_size);
        if let Some(dir) = &cfg.jobs_dir {
            let jobs = dir_jobs::load(dir)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
            catalog.add_jobs(jobs);
        }
        let shared = Arc::new(Shared::new(catalog, cfg.latency, cfg.ignore_range));
        shared.auth.set(cfg.auth);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("test server failed: {e}");
            }
        });
        tracing::debug!("weaver test server listening on {addr}");
        Ok(TestServer {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address (a wildcard bind is reported as loopback).
    pub fn addr(&self) -> SocketAddr {
        let mut addr = self.addr;
        match addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
            SocketAddr::V6(a) if a.ip().is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// `http://127.0.0.1:PORT/weaver`
    pub fn api_url(&self) -> String {
        format!("{}/weaver", self.base_url())
    }

    /// `http://127.0.0.1:PORT/ogc`: the sample OGC API - Processes server that is not Weaver.
    pub fn ogc_url(&self) -> String {
        format!("{}{}", self.base_url(), ogc::PREFIX)
    }

    /// `http://127.0.0.1:PORT/wpsoutputs`
    pub fn files_url(&self) -> String {
        format!("{}{}", self.base_url(), files::PREFIX)
    }

    pub fn set_ignore_range(&self, on: bool) {
        self.shared.set_ignore_range(on);
    }

    pub fn set_latency(&self, d: Duration) {
        self.shared.set_latency(d);
    }

    /// Makes `/statistics` announce every file `bytes` larger (or smaller, when negative) than
    /// it is, as a server whose statistics are out of date would (test knob).
    pub fn set_statistics_skew(&self, bytes: i64) {
        self.shared.set_statistics_skew(bytes);
    }

    /// Answers HEAD on files with 405, as some hosts do (test knob).
    pub fn set_refuse_head(&self, on: bool) {
        self.shared.set_refuse_head(on);
    }

    /// Answers every request under `/moved/PATH` with a 302 to `{target}/PATH` (test knob for
    /// hrefs that redirect, e.g. to an object store). None answers 404.
    pub fn set_redirect_target(&self, target: Option<String>) {
        self.shared.set_redirect_target(target);
    }

    /// Serves hrefs under another base URL (like `weaver.wps_output_url` on another host);
    /// the files themselves stay served here under `/wpsoutputs`. None restores the default.
    pub fn set_files_url(&self, url: Option<String>) {
        self.shared.set_files_url(url);
    }

    /// `http://127.0.0.1:PORT/magpie`, where `POST /signin` issues `auth_tkt` tickets.
    pub fn magpie_url(&self) -> String {
        format!("{}/magpie", self.base_url())
    }

    /// Changes the credentials required from now on.
    pub fn set_auth(&self, auth: ServerAuth) {
        self.shared.auth.set(auth);
    }

    /// Forgets every Magpie ticket issued so far (they expire).
    pub fn expire_tickets(&self) {
        self.shared.auth.expire_tickets();
    }

    /// Successful Magpie sign-ins so far.
    pub fn signins(&self) -> u64 {
        self.shared.auth.signins()
    }

    /// How `GET /jobs` answers: honestly, or with hostile ids, or lying about its pages.
    /// Whether results carry `digestMultibase` for their files (and whether it is right).
    pub fn set_digests(&self, mode: Digests) {
        self.shared.set_digests(mode);
    }

    pub fn set_listing_mode(&self, mode: hostile::ListingMode) {
        self.shared.set_listing_mode(mode);
    }

    /// The API URL (`http://host:port/weaver`) of the remote ADES that the sample workflow's
    /// remote step ran on, as its log names it; None restores a default that is never served.
    pub fn set_remote_ades(&self, api_url: Option<String>) {
        self.shared.set_remote_ades(api_url);
    }

    /// Moves a job to `status` (`successful`, `failed`, `dismissed`, ...).
    /// A job made successful gets `finished` and its outputs and files appear;
    /// a dismissed job's files disappear.
    ///
    /// # Panics
    /// On an unknown job id or status name: a test bug worth a loud failure.
    pub fn set_job_status(&self, job_id: &str, status: &str) {
        let status =
            Status::parse(status).unwrap_or_else(|| panic!("unknown job status {status:?}"));
        assert!(
            self.shared.set_status(job_id, status),
            "unknown job {job_id}"
        );
    }

    /// Replaces a file under `/wpsoutputs` (path or full URL): new ETag, new
    /// Last-Modified, different bytes, same size.
    ///
    /// # Panics
    /// If the path names no file of a known job.
    pub fn bump_file_version(&self, url_path: &str) {
        let key = files::file_key(url_path)
            .filter(|key| {
                let (job, rel) = key.split_once('/').unwrap_or((key, ""));
                self.shared
                    .catalog
                    .get(job)
                    .is_some_and(|j| j.file(rel).is_some())
            })
            .unwrap_or_else(|| panic!("no such file {url_path}"));
        self.shared.bump_file_version(key);
    }

    /// Bytes `[start, end)` the file host currently serves for a path under
    /// `/wpsoutputs` (or a full URL); `end` is clamped to the size. `None`
    /// if the host would answer 404 (or the path is a directory).
    pub fn file_bytes(&self, url_path: &str, start: u64, end: u64) -> Option<Vec<u8>> {
        match files::resolve(&self.shared, files::url_path(url_path)) {
            files::Resolved::File(f) => Some(f.read(start, end)),
            _ => None,
        }
    }

    pub fn file_size(&self, url_path: &str) -> Option<u64> {
        match files::resolve(&self.shared, files::url_path(url_path)) {
            files::Resolved::File(f) => Some(f.size()),
            _ => None,
        }
    }

    /// Queues a one-shot fault for the next request whose path starts with `prefix` (and to
    /// which it applies: a body fault needs a GET, a range fault a Range request).
    pub fn inject(&self, prefix: &str, fault: Fault) {
        self.shared.faults.push(prefix, fault, 1);
    }

    /// Queues the same fault for the next `times` matching requests.
    pub fn inject_times(&self, prefix: &str, fault: Fault, times: usize) {
        self.shared.faults.push(prefix, fault, times);
    }

    /// Range requests for `url_path` that start at `offset` or later wait until
    /// [`TestServer::release_ranges`] (or [`TestServer::clear_faults`]); a new offset replaces
    /// the old one.
    pub fn hold_ranges_from(&self, url_path: &str, offset: u64) {
        self.shared.faults.hold_ranges_from(url_path, offset);
    }

    /// Lets held range requests go on.
    pub fn release_ranges(&self) {
        self.shared.faults.release_ranges();
    }

    /// Queued faults not applied yet.
    pub fn pending_faults(&self) -> usize {
        self.shared.faults.pending()
    }

    /// Draws faults at random for every request (None stops).
    pub fn set_random_faults(&self, plan: Option<RandomFaults>) {
        self.shared.faults.set_random(plan);
    }

    /// An outage: every request is answered 503 (`Retry-After: 1`) until it ends.
    pub fn set_down(&self, down: bool) {
        self.shared.faults.set_down(down);
    }

    /// Drops queued faults, the random plan and the outage.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Faults applied so far, by kind.
    pub fn fault_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.faults.counts()
    }

    /// The number of faults applied so far.
    pub fn faults_injected(&self) -> u64 {
        self.fault_counts().values().sum()
    }

    /// Requests received so far (the most recent 100 000).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// The most requests under `prefix` (`/weaver`, `/wpsoutputs`) the server was answering at
    /// once (from arrival to the last byte of the answer) since [`TestServer::reset_peaks`].
    pub fn peak_in_flight(&self, prefix: &str) -> usize {
        self.shared.in_flight.peak(prefix)
    }

    /// Starts counting [`TestServer::peak_in_flight`] again.
    pub fn reset_peaks(&self) {
        self.shared.in_flight.reset_peaks();
    }

    /// Stops accepting, lets open requests finish for a short grace period,
    /// then aborts whatever is left.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let file_routes = get(files::serve).head(files::serve);
    api::routes()
        .merge(ogc::routes())
        .route(files::PREFIX, file_routes.clone())
        .route(&format!("{}/", files::PREFIX), file_routes.clone())
        .route(&format!("{}/{{*path}}", files::PREFIX), file_routes)
        .route(
            &format!("{}/{{*path}}", files::MOVED_PREFIX),
            get(files::moved).head(files::moved),
        )
        .route(auth::SIGNIN, axum::routing::post(auth::signin))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        // Inner layer: requests are recorded (outer) before credentials are checked.
        .layer(middleware::from_fn_with_state(shared.clone(), auth::guard))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn_with_state(shared.clone(), track))
        .with_state(shared)
}

async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if path == "/weaver" || path.starts_with("/weaver/") {
        return api::not_found(path);
    }
    (
        axum::http::StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "not found\n",
    )
        .into_response()
}

/// The API and the file host are read-only: other methods get 405 in
/// the style of each (JSON for Weaver, an HTML page for nginx).
async fn method_not_allowed(req: Request) -> Response {
    let path = req.uri().path();
    if path.starts_with(files::PREFIX) {
        return files::method_not_allowed();
    }
    api::method_not_allowed(path)
}

/// Records the request, then applies the latency knob.
async fn track(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let range = req
        .headers()
        .get(header::RANGE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let counted = shared.in_flight.start(&path);
    shared.record(RequestRecord {
        method: req.method().to_string(),
        path,
        range,
        headers: req.headers().clone(),
        peer: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    });
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    in_flight::hold_until_sent(next.run(req).await, counted)
}

#[cfg(test)]
mod tests;
