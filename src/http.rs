//! The HTTP client shared by the API client and the file reader.
//!
//! Credentials ([`crate::auth`]) are attached only to requests whose origin gets them, so an href
//! pointing elsewhere, or a redirect to elsewhere, never receives them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};

use crate::auth::{AuthOptions, Credentials};
use crate::error::FsError;
use crate::stats::Stats;
use crate::tls::TlsOptions;

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Longest wait for any byte of a response (first byte or the next body chunk).
    pub read_timeout: Duration,
    pub auth: AuthOptions,
    pub tls: TlsOptions,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            auth: AuthOptions::default(),
            tls: TlsOptions::default(),
        }
    }
}

/// A reqwest client plus the credentials and the origins they belong to.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Arc<Credentials>,
    stats: Arc<Stats>,
}

impl HttpClient {
    pub fn new(api_base: &Url, opts: &HttpOptions) -> Result<Self, String> {
        let auth = Arc::new(Credentials::new(api_base, &opts.auth)?);
        let client = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .pool_max_idle_per_host(64)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .user_agent(concat!("weaverfs/", env!("CARGO_PKG_VERSION")));
        let client = crate::tls::configure(client, &opts.tls)?
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpClient {
            client,
            auth,
            stats: Arc::new(Stats::new(api_base)),
        })
    }

    /// Signs in where the credentials need it (Magpie), so bad ones fail a mount at start.
    pub async fn authenticate(&self) -> Result<(), FsError> {
        self.auth.start(&self.client).await
    }

    /// [`HttpClient::send_once`], retried once after a 401/403 if the credentials changed
    /// meanwhile or could be renewed (a rotated token file, a new Magpie ticket).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        headers: &[(HeaderName, &str)],
        what: &str,
    ) -> Result<Response, FsError> {
        let seen = self.auth.generation();
        let resp = self
            .send_once(method.clone(), url.clone(), headers, what)
            .await?;
        let refused = matches!(
            resp.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        );
        if refused && self.auth.applies_to(resp.url()) && self.auth.renew(&self.client, seen).await
        {
            tracing::debug!("{what}: {} with old credentials; retrying", resp.status());
            return self.send_once(method, url, headers, what).await;
        }
        Ok(resp)
    }

    /// The counters of the mount this client serves.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Sends a request, following redirects here rather than in reqwest, so that credentials
    /// are decided again at every hop: a redirect off the API's origin gets none (and no
    /// `Referer` is ever sent).
    async fn send_once(
        &self,
        method: Method,
        url: Url,
        headers: &[(HeaderName, &str)],
        what: &str,
    ) -> Result<Response, FsError> {
        let (kind, started) = (self.stats.kind_of(&method, &url, headers), Instant::now());
        let result = self
            .send_following_redirects(method, url, headers, what)
            .await;
        self.stats.request(kind, &result, started.elapsed());
        result
    }

    async fn send_following_redirects(
        &self,
        method: Method,
        url: Url,
        headers: &[(HeaderName, &str)],
        what: &str,
    ) -> Result<Response, FsError> {
        let mut url = url;
        let mut method = method;
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.client.request(method.clone(), url.clone());
            for (name, value) in headers {
                req = req.header(name, *value);
            }
            req = req.headers(self.auth.headers_for(&self.client, &url).await?);
            let resp = req.send().await.map_err(|e| transport_error(what, e))?;
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok());
            match (resp.status(), location) {
                (s, Some(next)) if s.is_redirection() && s != StatusCode::NOT_MODIFIED => {
                    if s == StatusCode::SEE_OTHER {
                        method = Method::GET;
                    }
                    tracing::debug!("{what}: {s} to {next}");
                    url = next;
                }
                _ => return Ok(resp),
            }
        }
        Err(FsError::Io(format!(
            "{what}: more than {MAX_REDIRECTS} redirects"
        )))
    }
}

/// Maps a reqwest error (connect, timeout, body) to the error a filesystem call reports.
pub fn transport_error(what: &str, e: reqwest::Error) -> FsError {
    if e.is_timeout() {
        FsError::TimedOut(format!("{what}: {e}"))
    } else if let Some(advice) = crate::tls::certificate_advice(&e) {
        FsError::Io(format!("{what}: {advice}"))
    } else {
        FsError::Io(format!("{what}: {}", error_chain(&e)))
    }
}

/// Maps an unexpected status to the error a filesystem call reports.
pub fn status_error(what: &str, status: StatusCode) -> FsError {
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => FsError::NotFound(format!("{what}: {status}")),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            FsError::Denied(format!("{what}: {status}"))
        }
        _ => FsError::Io(format!("{what}: unexpected {status}")),
    }
}

/// An error with its sources, on one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
