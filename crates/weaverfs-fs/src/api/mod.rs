//! The job API client: listing, status, results and the job's documents.
//!
//! Request URLs are always built from the mount URL; links and hrefs in responses are data.

pub mod answer;
pub mod listing;
pub mod probe;
pub mod results;
pub mod statistics;
pub mod status;
mod summary;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::header::{HeaderMap, HeaderName, ACCEPT, LINK};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::client::http::{self, HttpClient};
use crate::error::{FsError, Result};
pub use results::{FileRef, Output, OutputValue};
pub use status::{JobState, JobStatus};

/// The OGC results profile: asks a server for the JSON results document whatever the submission.
pub const RESULTS_PROFILE: &str = "https://www.opengis.net/def/profile/OGC/0/ogc-results";
const JSON: &str = "application/json";
static ACCEPT_PROFILE: HeaderName = HeaderName::from_static("accept-profile");
static CONTENT_PROFILE: HeaderName = HeaderName::from_static("content-profile");

/// Parsed results plus the document as served (for `.job/results.json`).
#[derive(Debug, Clone)]
pub struct Results {
    pub outputs: Vec<Output>,
    /// The JSON document the outputs came from; None for raw and multipart bodies.
    pub raw: Option<Vec<u8>>,
}

/// The job documents shown under `JOB/.job/`, besides the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobDocument {
    Inputs,
    Logs,
    Exceptions,
    Statistics,
    Provenance,
}

/// The least a job's listing waits for its `/statistics` once its status and results are in.
const STATISTICS_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct ApiClient {
    http: HttpClient,
    base: Url,
    /// The declared output ids of each process asked about.
    processes: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// The digest results gave for each href (normalised URL text), for the read path.
    digests: Arc<Mutex<HashMap<String, Arc<str>>>>,
    /// Whether this server has Weaver's `/statistics` (the sizes of a job's files).
    statistics: Arc<statistics::Support>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The output ids of a process description: `outputs` as a mapping or a list of `{id}`, at
/// the root or under `process` (older Weaver).
fn output_ids(doc: &Value) -> Vec<String> {
    let outputs = doc
        .get("outputs")
        .or_else(|| doc.get("process").and_then(|p| p.get("outputs")));
    match outputs {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl ApiClient {
    /// `base` is the server's root (`https://host/weaver`), under which `/jobs` lives.
    pub fn new(base: Url, http: HttpClient) -> Self {
        ApiClient {
            http,
            base,
            processes: Default::default(),
            digests: Default::default(),
            statistics: Default::default(),
        }
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The server's root as mounted.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `{base}/jobs[/{id}[/{tail}]]`, each segment percent-encoded.
    fn jobs_url(&self, id: Option<&str>, tail: Option<&str>) -> Url {
        let mut url = self.base.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .expect("the API URL is a base URL (checked at startup)");
            segs.pop_if_empty().push("jobs");
            if let Some(id) = id {
                segs.push(id);
            }
            if let Some(tail) = tail {
                segs.push(tail);
            }
        }
        url
    }

    /// A GET of a JSON document, retried under the client's policy.
    async fn get_json_body(&self, url: Url, what: &str) -> Result<Vec<u8>> {
        let attempt = || async {
            let resp = self
                .http
                .send(Method::GET, url.clone(), &[(ACCEPT, JSON)], what)
                .await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_document(resp, what).await?;
            if !status.is_success() {
                return Err(http::with_retry_after(
                    api_error(what, status, &body),
                    &headers,
                ));
            }
            Ok(body)
        };
        self.http.retry().run(what, attempt).await
    }

    /// Whether the server answers a job listing: a first page of one job. The landing page
    /// is asked at the same time, once or twice, so that a new mount holds as many open
    /// connections to the API as the first job looked up sends requests at once (its status
    /// and results, and its statistics where the server may have them:
    /// [`Self::status_and_results`]), each on a connection of its own over HTTP/1.1; none of
    /// them then waits a round trip for a connection to open.
    pub async fn check(&self) -> Result<()> {
        let together = 1 + usize::from(self.statistics.worth_asking());
        let warm = futures::future::join_all((0..together).map(|_| self.warm_up()));
        let (listing, _) = futures::join!(self.jobs_page("limit=1&page=0"), warm);
        listing.map(|_| ())
    }

    /// `GET {base}` (the landing page), read to its end so its connection stays open for
    /// reuse; what it answers does not matter.
    async fn warm_up(&self) {
        let what = "landing page";
        let sent = self
            .http
            .send(Method::GET, self.base.clone(), &[(ACCEPT, JSON)], what)
            .await;
        if let Ok(resp) = sent {
            let _ = read_document(resp, what).await;
        }
    }

    /// Every job the server lists (with what the listing says of it), following its paging.
    pub async fn list_jobs(&self) -> Result<Vec<listing::Listed>> {
        listing::list_all(self).await
    }

    /// One page of the listing: `GET {base}/jobs?{query}`. A 400 past the first page is the end.
    async fn jobs_page(&self, query: &str) -> Result<Option<listing::Page>> {
        let mut url = self.jobs_url(None, None);
        url.set_query(Some(query));
        let attempt = || async {
            let resp = self
                .http
                .send(Method::GET, url.clone(), &[(ACCEPT, JSON)], "job listing")
                .await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_document(resp, "job listing").await?;
            if status == StatusCode::BAD_REQUEST && !query.contains("page=0") {
                // Weaver answers a page past the end with 400 instead of an empty page.
                return Ok(None);
            }
            if !status.is_success() {
                return Err(http::with_retry_after(
                    api_error("job listing", status, &body),
                    &headers,
                ));
            }
            listing::Page::parse(&body, &url)
                .map(Some)
                .map_err(FsError::Io)
        };
        self.http.retry().run("job listing", attempt).await
    }

    pub async fn status(&self, id: &str) -> Result<JobStatus> {
        let what = format!("status of job {id}");
        let body = self
            .get_json_body(self.jobs_url(Some(id), None), &what)
            .await?;
        JobStatus::parse(&body).map_err(|e| FsError::Io(format!("{what}: {e}")))
    }

    /// The results of a successful job. The OGC results document from `/results` is used when
    /// the server marks it as one (`Content-Profile: …/ogc-results`, Weaver >= 6.7); otherwise
    /// Weaver's stable `/outputs?schema=OGC`; and where the server has no `/outputs` (other
    /// OGC API - Processes servers), whatever `/results` answered, read by [`answer`]: a raw
    /// body, multipart parts, a JSON value or document, or the links of a 204.
    /// `process` is the job's process id, for the names its declared outputs give.
    /// The files' sizes come from `/statistics` where the server has it, asked at the same time.
    pub async fn results(&self, id: &str, process: Option<&str>) -> Result<Results> {
        let process = process.map(str::to_string);
        let (results, sizes) = self
            .with_sizes(id, self.fetch_results(id, async { process }))
            .await;
        let mut results = results?;
        statistics::apply(&mut results.outputs, &sizes);
        self.learn_digests(&results.outputs);
        Ok(results)
    }

    /// `documents` (a job's status or results) and, asked at the same time, the sizes of its
    /// files. The sizes are a hint: once the documents are in, they are waited for at most
    /// as long again (and at least [`STATISTICS_GRACE`]), so a slow or hung `/statistics`
    /// costs the job's directory that much, not an HTTP timeout; its files are then probed.
    async fn with_sizes<T>(
        &self,
        id: &str,
        documents: impl std::future::Future<Output = T>,
    ) -> (T, HashMap<String, u64>) {
        let started = std::time::Instant::now();
        let mut sizes = std::pin::pin!(self.statistics_sizes(id));
        let mut documents = std::pin::pin!(documents);
        tokio::select! {
            out = &mut documents => {
                let grace = started.elapsed().max(STATISTICS_GRACE);
                let sizes = tokio::time::timeout(grace, sizes).await.unwrap_or_else(|_| {
                    tracing::debug!("statistics of job {id}: no answer within {grace:?}; probing its files");
                    HashMap::new()
                });
                (out, sizes)
            }
            sizes = &mut sizes => (documents.await, sizes),
        }
    }

    /// The sizes `/statistics` gives for a job's single-file outputs; none where the server
    /// has no statistics or answers oddly. One attempt: a hint is not worth a retry's wait.
    async fn statistics_sizes(&self, id: &str) -> HashMap<String, u64> {
        if !self.statistics.worth_asking() {
            return HashMap::new();
        }
        let what = format!("statistics of job {id}");
        let url = self.jobs_url(Some(id), Some("statistics"));
        let resp = match self
            .http
            .send(Method::GET, url, &[(ACCEPT, JSON)], &what)
            .await
        {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!("{e}");
                return HashMap::new();
            }
        };
        let status = resp.status();
        let body = read_document(resp, &what).await.unwrap_or_default();
        self.statistics.learn(status.as_u16(), &body);
        match status.is_success() {
            true => statistics::output_sizes(&body),
            false => HashMap::new(),
        }
    }

    /// A job's status, and its results when it succeeded, asked together: `/results` goes
    /// out with the status request, not a round trip after it, and is dropped unread when the
    /// status says the job has none. The files' sizes are asked with them too (`/statistics`,
    /// where the server has it).
    pub async fn status_and_results(
        &self,
        id: &str,
    ) -> Result<(JobStatus, Option<Result<Results>>)> {
        let (answer, sizes) = self.with_sizes(id, self.status_then_results(id)).await;
        let (status, mut results) = answer?;
        if let Some(Ok(r)) = &mut results {
            statistics::apply(&mut r.outputs, &sizes);
            self.learn_digests(&r.outputs);
        }
        Ok((status, results))
    }

    async fn status_then_results(&self, id: &str) -> Result<(JobStatus, Option<Result<Results>>)> {
        use futures::future::{select, Either, FutureExt};
        let status = self.status(id).shared();
        let process = status.clone().map(|s| s.ok().and_then(|s| s.process_id));
        let results = std::pin::pin!(self.fetch_results(id, process));
        let wanted = |s: &JobStatus| s.state == JobState::Successful;
        let (status, results) = match select(status.clone(), results).await {
            Either::Left((status, results)) => {
                let status = status?;
                let results = match wanted(&status) {
                    true => Some(results.await),
                    false => None,
                };
                (status, results)
            }
            Either::Right((results, status)) => {
                let status = status.await?;
                let results = wanted(&status).then_some(results);
                (status, results)
            }
        };
        Ok((status, results))
    }

    /// The `digestMultibase` results gave for the file at `url`, if any.
    pub fn digest_of(&self, url: &Url) -> Option<Arc<str>> {
        lock(&self.digests).get(url.as_str()).cloned()
    }

    fn learn_digests(&self, outputs: &[Output]) {
        fn walk(v: &OutputValue, found: &mut Vec<(String, String)>) {
            match v {
                OutputValue::File(f) => {
                    if let (Some(d), Ok(url)) = (&f.digest, Url::parse(&f.href)) {
                        found.push((url.to_string(), d.clone()));
                    }
                }
                OutputValue::Items(items) => items.iter().for_each(|i| walk(i, found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        outputs.iter().for_each(|o| walk(&o.value, &mut found));
        if !found.is_empty() {
            let mut digests = lock(&self.digests);
            for (url, d) in found {
                digests.insert(url, d.into());
            }
        }
    }

    async fn fetch_results(
        &self,
        id: &str,
        process: impl std::future::Future<Output = Option<String>>,
    ) -> Result<Results> {
        let what = format!("results of job {id}");
        let url = self.jobs_url(Some(id), Some("results"));
        let headers = [(ACCEPT, JSON), (ACCEPT_PROFILE.clone(), RESULTS_PROFILE)];
        // One attempt: the answer, with its body where it must be read.
        let attempt = || async {
            let resp = self
                .http
                .send(Method::GET, url.clone(), &headers, &what)
                .await?;
            let status = resp.status();
            if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE)
                || http::status_error(&what, status).is_transient()
            {
                let headers = resp.headers().clone();
                let body = read_document(resp, &what).await.unwrap_or_default();
                return Err(http::with_retry_after(
                    api_error(&format!("{what} ({url})"), status, &body),
                    &headers,
                ));
            }
            let profiled = is_results_profile(resp.headers());
            let mut found = answer::Answer::new(resp.url().clone(), status, resp.headers());
            if found.needs_body() {
                found.body = Some(read_document(resp, &what).await?);
            }
            // A raw body is dropped unread here: it is read when its file is.
            Ok((profiled, found))
        };
        let mut failure = None;
        let (profiled, found) = match self.http.retry().run(&what, attempt).await {
            Ok(found) => (found.0, Some(found.1)),
            // As before retries existed: a server failing on /results may still serve /outputs.
            Err(e) if e.is_transient() => {
                tracing::info!("{what}: {e}; trying /outputs");
                failure = Some(e);
                (false, None)
            }
            Err(e) => return Err(e),
        };
        if let Some(body) = found
            .as_ref()
            .filter(|a| profiled && a.status == StatusCode::OK)
            .and_then(|a| a.body.as_ref())
        {
            match parse_body(body, results::parse_results) {
                Ok(mut outputs) => {
                    answer::resolve_hrefs(&mut outputs, &found.as_ref().unwrap().url);
                    return Ok(Results {
                        outputs,
                        raw: Some(body.clone()),
                    });
                }
                Err(e) => tracing::info!("{what}: {e}"),
            }
        }
        let mut outputs_url = self.jobs_url(Some(id), Some("outputs"));
        outputs_url.set_query(Some("schema=OGC"));
        let outputs = match self.get_json_body(outputs_url.clone(), &what).await {
            Ok(body) => {
                parse_body(&body, results::parse_outputs_response).map(|outputs| (outputs, body))
            }
            Err(e) => Err(e.to_string()),
        };
        let found = match (outputs, found) {
            (Ok((mut outputs, body)), _) => {
                answer::resolve_hrefs(&mut outputs, &outputs_url);
                return Ok(Results {
                    outputs,
                    raw: Some(body),
                });
            }
            // The error /results gave, not the 404 of a server that has no /outputs.
            (Err(_), None) if failure.is_some() => return Err(failure.unwrap()),
            (Err(e), None) => return Err(FsError::Io(format!("{what}: {e}"))),
            (Err(e), Some(found)) => {
                tracing::debug!("{what}: /outputs: {e}; reading what /results answered");
                found
            }
        };
        let declared = match process.await {
            Some(p) => self.declared_outputs(&p).await,
            None => Vec::new(),
        };
        match answer::interpret(&found, &declared).await {
            Ok((mut outputs, raw)) => {
                answer::resolve_hrefs(&mut outputs, &found.url);
                Ok(Results { outputs, raw })
            }
            Err(e) => Err(FsError::Io(format!("{what}: {e}"))),
        }
    }

    /// The output ids a process declares (`GET /processes/{id}`), asked once per process;
    /// none when the server does not say.
    pub async fn declared_outputs(&self, process: &str) -> Vec<String> {
        if let Some(known) = lock(&self.processes).get(process) {
            return known.clone();
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("the API URL is a base URL (checked at startup)")
            .pop_if_empty()
            .push("processes")
            .push(process);
        let what = format!("description of process {process}");
        let ids = match self.get_json_body(url, &what).await {
            Ok(body) => serde_json::from_slice::<Value>(&body)
                .map(|doc| output_ids(&doc))
                .unwrap_or_default(),
            Err(e) => {
                tracing::debug!("{e}");
                Vec::new()
            }
        };
        lock(&self.processes).insert(process.to_string(), ids.clone());
        ids
    }

    /// The error body of `/results`: the cause of a failed job on servers without
    /// `/exceptions`. None when `/results` answers a success, or nothing.
    pub async fn results_error(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let what = format!("results of job {id}");
        let url = self.jobs_url(Some(id), Some("results"));
        let attempt = || async {
            let resp = self
                .http
                .send(Method::GET, url.clone(), &[(ACCEPT, JSON)], &what)
                .await?;
            let status = resp.status();
            if status.is_success() || status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let body = read_document(resp, &what).await?;
            Ok((!body.is_empty()).then_some(body))
        };
        self.http.retry().run(&what, attempt).await
    }

    /// A document of `.job/`: inputs as served, logs as text lines, exceptions as served.
    pub async fn document(&self, id: &str, doc: JobDocument) -> Result<Vec<u8>> {
        let (tail, what) = match doc {
            JobDocument::Inputs => ("inputs", "inputs"),
            JobDocument::Logs => ("logs", "logs"),
            JobDocument::Exceptions => ("exceptions", "exceptions"),
            JobDocument::Statistics => ("statistics", "statistics"),
            JobDocument::Provenance => ("prov", "provenance"),
        };
        let what = format!("{what} of job {id}");
        let body = self
            .get_json_body(self.jobs_url(Some(id), Some(tail)), &what)
            .await?;
        Ok(match doc {
            JobDocument::Logs => logs_as_text(body),
            _ => body,
        })
    }
}

/// API documents larger than this are refused, so a server sending endless JSON cannot exhaust
/// memory (a page of 1,000 job ids is about 40 KiB).
pub const MAX_DOCUMENT: usize = 64 << 20;

/// The body of an API answer, at most [`MAX_DOCUMENT`] bytes.
pub(crate) async fn read_document(mut resp: reqwest::Response, what: &str) -> Result<Vec<u8>> {
    let too_large = || {
        let mib = MAX_DOCUMENT >> 20;
        FsError::Io(format!(
            "{what}: the answer is larger than {mib} MiB; refused"
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| http::transport_error(what, e))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn parse_body(
    body: &[u8],
    parse: fn(&Value) -> std::result::Result<Vec<Output>, String>,
) -> std::result::Result<Vec<Output>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    parse(&doc)
}

/// Whether a response says it is the OGC results document (`Content-Profile`, or a
/// `Link: <…/ogc-results>; rel="profile"`).
fn is_results_profile(headers: &HeaderMap) -> bool {
    let names_profile = |v: &str| v.contains("/def/profile/OGC/0/ogc-results");
    let content_profile = headers
        .get_all(CONTENT_PROFILE.clone())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(names_profile);
    let link = headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|l| names_profile(l) && l.contains("rel=\"profile\""));
    content_profile || link
}

/// Weaver's logs are a JSON list of lines; shown as text, a line each.
fn logs_as_text(body: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<Vec<Value>>(&body) {
        Ok(lines) => {
            let mut text = String::new();
            for line in lines {
                match line {
                    Value::String(s) => text.push_str(&s),
                    other => text.push_str(&other.to_string()),
                }
                text.push('\n');
            }
            text.into_bytes()
        }
        Err(_) => body,
    }
}

/// The first string field of `keys` in a JSON error body ("" if none).
fn error_field(body: &[u8], keys: &[&str]) -> String {
    let doc = serde_json::from_slice::<Value>(body).unwrap_or_default();
    // FastAPI puts an error object under `detail`.
    let doc = match doc.get("detail") {
        Some(inner @ Value::Object(_)) => inner.clone(),
        _ => doc,
    };
    keys.iter()
        .find_map(|k| doc.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

/// The server's own words in an error body: `title|code` and `detail|description`.
pub(crate) fn error_text(body: &[u8]) -> Option<String> {
    let title = error_field(body, &["title", "code"]);
    let detail = format!("{title} {}", error_field(body, &["detail", "description"]));
    let detail = detail.trim();
    (!detail.is_empty()).then(|| detail.to_string())
}

/// An error for a non-success API answer, with the server's own words (`title|code`,
/// `detail|description`) when the body has them.
fn api_error(what: &str, status: StatusCode, body: &[u8]) -> FsError {
    let title = error_field(body, &["title", "code"]);
    let message = match error_text(body) {
        None => format!("{what}: {status}"),
        Some(detail) => format!("{what}: {status} ({detail})"),
    };
    // Weaver answers 400 NoSuchJob for an id that is not a UUID: no such job all the same.
    if title == "NoSuchJob" {
        return FsError::NotFound(message);
    }
    match http::status_error(what, status) {
        FsError::NotFound(_) => FsError::NotFound(message),
        FsError::Denied(_) => FsError::Denied(message),
        FsError::Unavailable(..) => FsError::unavailable(message),
        _ => FsError::Io(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server whose every answer is JSON that never ends (chunked), or that claims `length`.
    async fn endless_json_server(length: Option<u64>) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let head = match length {
                        Some(n) => format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {n}\r\n\r\n"),
                        None => "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".into(),
                    };
                    if sock.write_all(head.as_bytes()).await.is_err() || length.is_some() {
                        return;
                    }
                    let mut chunk = b"10000\r\n".to_vec();
                    chunk.extend(std::iter::repeat_n(b'[', 0x10000));
                    chunk.extend(b"\r\n");
                    while sock.write_all(&chunk).await.is_ok() {}
                });
            }
        });
        Url::parse(&format!("http://{addr}/weaver/")).unwrap()
    }

    #[tokio::test]
    async fn endless_or_huge_documents_are_refused() {
        for length in [None, Some(u64::MAX / 2)] {
            let base = endless_json_server(length).await;
            let http = HttpClient::new(&base, &Default::default()).unwrap();
            let api = ApiClient::new(base, http);
            let e = api.list_jobs().await.unwrap_err();
            assert!(
                matches!(&e, FsError::Io(m) if m.contains("larger than 64 MiB")),
                "{e}"
            );
            let e = api.status("x").await.unwrap_err();
            assert!(e.to_string().contains("larger than 64 MiB"), "{e}");
        }
    }

    #[test]
    fn logs_become_lines() {
        let text = logs_as_text(br#"["a", "b", 3]"#.to_vec());
        assert_eq!(text, b"a\nb\n3\n");
        assert_eq!(logs_as_text(b"plain".to_vec()), b"plain");
    }

    #[test]
    fn urls_are_built_from_the_base() {
        let base = Url::parse("https://host/weaver/").unwrap();
        let http = HttpClient::new(&base, &Default::default()).unwrap();
        let api = ApiClient::new(base, http);
        assert_eq!(
            api.jobs_url(Some("a b/c"), Some("results")).as_str(),
            "https://host/weaver/jobs/a%20b%2Fc/results"
        );
    }

    #[test]
    fn api_errors_carry_the_server_words() {
        let e = api_error(
            "x",
            StatusCode::GONE,
            br#"{"title":"JobDismissed","detail":"Job was dismissed"}"#,
        );
        assert!(matches!(e, FsError::NotFound(ref m) if m.contains("JobDismissed")));
        let e = api_error(
            "x",
            StatusCode::BAD_REQUEST,
            br#"{"code":"JobInvalidParameter"}"#,
        );
        assert!(matches!(e, FsError::Io(ref m) if m.contains("JobInvalidParameter")));
        let e = api_error("x", StatusCode::BAD_REQUEST, br#"{"title":"NoSuchJob"}"#);
        assert!(matches!(e, FsError::NotFound(_)));
    }

    #[test]
    fn json_media_types() {
        assert!(results::is_json_media("application/json; profile=ogc"));
        assert!(results::is_json_media("application/geo+json"));
        assert!(!results::is_json_media("multipart/mixed; boundary=x"));
    }
}
