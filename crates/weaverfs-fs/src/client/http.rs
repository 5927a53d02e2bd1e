//! The HTTP client shared by the API client and the file reader.
//!
//! Credentials ([`crate::client::auth`]) are attached only to requests whose origin gets them, so an href
//! pointing elsewhere, or a redirect to elsewhere, never receives them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};

use crate::client::auth::{AuthOptions, Credentials};
use crate::client::limit::{self, OriginLimits};
use crate::client::proxy::{ProxyOptions, Route, Routes};
use crate::client::retry::{self, RetryPolicy};
use crate::client::tls::TlsOptions;
use crate::error::FsError;
use crate::stats::Stats;

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
    /// How failed reads are tried again.
    pub retry: RetryPolicy,
    /// Proxies and site caches ([`crate::client::proxy`]).
    pub proxy: ProxyOptions,
    /// Requests in flight at once to one origin, at most ([`crate::client::limit`]).
    pub max_requests_per_origin: usize,
}

/// The memory one HTTP/1 connection's receive buffers take: hyper's read buffer grows to 408 KiB
/// on a large body (its `DEFAULT_MAX_BUFFER_SIZE`; reqwest offers no way to lower it) and keeps
/// it while the connection waits in the pool; a chunk cut from it and waiting in the body's
/// channel pins that buffer while the next read takes a second one. A slow body (a capped link)
/// keeps both alive for the whole answer: measured 1.0 MiB per connection there (0.4-0.7 MiB
/// on a fast link), so two buffers and the allocator's slack are what one connection costs.
pub const RECEIVE_BUFFER_BYTES: u64 = 1 << 20;

impl HttpOptions {
    /// The memory the receive buffers of one origin's connections may take: one per request
    /// in flight, which is as many connections as the pool keeps.
    pub fn receive_buffers(&self) -> u64 {
        self.max_requests_per_origin.max(1) as u64 * RECEIVE_BUFFER_BYTES
    }

    /// The longest any filesystem call waits: twice the retry budget, so a call that needs a
    /// few requests in a row (a listing, then a status) still fits, plus the connect timeout.
    pub fn op_timeout(&self) -> Duration {
        self.retry.max_time * 2 + self.connect_timeout
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            auth: AuthOptions::default(),
            tls: TlsOptions::default(),
            retry: RetryPolicy::default(),
            proxy: ProxyOptions::default(),
            max_requests_per_origin: limit::DEFAULT_MAX_REQUESTS_PER_ORIGIN,
        }
    }
}

/// A reqwest client plus the credentials and the origins they belong to.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    /// The `--proxy` list, if any; else `client` uses the environment's proxies.
    routes: Option<Arc<Routes>>,
    proxy: Arc<ProxyOptions>,
    auth: Arc<Credentials>,
    stats: Arc<Stats>,
    retry: RetryPolicy,
    limits: Arc<OriginLimits>,
}

impl HttpClient {
    pub fn new(api_base: &Url, opts: &HttpOptions) -> Result<Self, String> {
        let auth = Arc::new(Credentials::new(api_base, &opts.auth)?);
        let build = |route: Option<&Route>| -> Result<reqwest::Client, String> {
            let mut client = reqwest::Client::builder()
                .connect_timeout(opts.connect_timeout)
                .read_timeout(opts.read_timeout)
                .pool_max_idle_per_host(opts.max_requests_per_origin.max(1))
                // Shorter than the servers' keep-alive (nginx: 75 s), so an idle connection is
                // closed by us, not found dead at its next use; and idle fds go soon.
                .pool_idle_timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .tcp_nodelay(true)
                .user_agent(concat!("weaverfs/", env!("CARGO_PKG_VERSION")));
            client = match route {
                None => client,
                Some(Route::Direct) => client.no_proxy(),
                Some(Route::Proxy(url)) => client.proxy(
                    reqwest::Proxy::all(url.as_str())
                        .map_err(|e| format!("--proxy {url}: {e}"))?
                        .no_proxy(reqwest::NoProxy::from_env()),
                ),
            };
            crate::client::tls::configure(client, &opts.tls, api_base)?
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))
        };
        let routes = match opts.proxy.groups.is_empty() {
            true => None,
            false => Some(Arc::new(Routes::new(&opts.proxy.groups, |r| {
                build(Some(r))
            })?)),
        };
        let client = match &routes {
            Some(r) => r.client(r.order()[0]).clone(),
            None => build(None)?,
        };
        Ok(HttpClient {
            client,
            routes,
            proxy: Arc::new(opts.proxy.clone()),
            auth,
            stats: Arc::new(Stats::new(api_base)),
            retry: opts.retry,
            limits: Arc::new(OriginLimits::new(opts.max_requests_per_origin)),
        })
    }

    /// Signs in where the credentials need it (Magpie), so bad ones fail a mount at start.
    pub async fn authenticate(&self) -> Result<(), FsError> {
        self.auth.start(&self.client).await
    }

    /// `HttpClient::send_once`, retried once after a 401/403 if the credentials changed
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
            // Its place under the per-origin limit goes to the retry.
            drop(resp);
            return self.send_once(method, url, headers, what).await;
        }
        Ok(resp)
    }

    /// The per-origin limit of concurrent requests.
    pub fn limits(&self) -> &OriginLimits {
        &self.limits
    }

    /// The counters of the mount this client serves.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The retry policy that reads (see [`crate::client::retry`]) run under, counting retries in the
    /// mount's stats.
    pub fn retry(&self) -> Retrying<'_> {
        Retrying {
            policy: &self.retry,
            stats: &self.stats,
        }
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
            url = self.proxy.map(&url);
            let auth = self.auth.headers_for(&self.client, &url).await?;
            let send = |client: &reqwest::Client| {
                let mut req = client.request(method.clone(), url.clone());
                for (name, value) in headers {
                    req = req.header(name, *value);
                }
                req.headers(auth.clone()).send()
            };
            // Held until the response's body is dropped (see `limit::hold`).
            let permit = self.limits.acquire(&url).await;
            let resp = self.send_routed(send, what).await?;
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
                _ => return Ok(limit::hold(resp, permit)),
            }
        }
        Err(FsError::Io(format!(
            "{what}: more than {MAX_REDIRECTS} redirects"
        )))
    }
}

impl HttpClient {
    /// Sends through the first route of the `--proxy` list that answers: a proxy that cannot
    /// be reached (connection refused, reset, timed out) is marked failed and the next is
    /// tried at once. Without a list, through the environment's proxies or directly.
    async fn send_routed<F, Fut>(&self, send: F, what: &str) -> Result<Response, FsError>
    where
        F: Fn(&reqwest::Client) -> Fut,
        Fut: std::future::Future<Output = reqwest::Result<Response>>,
    {
        let Some(routes) = &self.routes else {
            return send(&self.client)
                .await
                .map_err(|e| transport_error(what, e));
        };
        let mut last = None;
        for i in routes.order() {
            match send(routes.client(i)).await {
                Ok(resp) => {
                    routes.worked(i);
                    return Ok(resp);
                }
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    tracing::info!("{what}: through {:?}: {}", routes.route(i), error_chain(&e));
                    routes.failed(i);
                    last = Some(e);
                }
                Err(e) => return Err(transport_error(what, e)),
            }
        }
        Err(match last {
            Some(e) => transport_error(what, e),
            None => FsError::io(format!("{what}: no route")),
        })
    }
}

/// The retry policy of a client, with its stats.
pub struct Retrying<'a> {
    policy: &'a RetryPolicy,
    stats: &'a Stats,
}

impl Retrying<'_> {
    pub async fn run<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, FsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, FsError>>,
    {
        let stats = self.stats;
        self.policy
            .run_counted(what, attempt, || stats.retried())
            .await
    }
}

/// Maps a reqwest error (connect, reset, timeout, body) to the error a filesystem call reports;
/// all are worth a retry.
pub fn transport_error(what: &str, e: reqwest::Error) -> FsError {
    if e.is_timeout() {
        FsError::TimedOut(format!("{what}: {e}"))
    } else if let Some(advice) = crate::client::tls::certificate_advice(&e) {
        FsError::Io(format!("{what}: {advice}"))
    } else {
        FsError::unavailable(format!("{what}: {}", error_chain(&e)))
    }
}

/// Maps an unexpected status to the error a filesystem call reports: 429 and 5xx other than
/// 501 are transient, other statuses are final.
pub fn status_error(what: &str, status: StatusCode) -> FsError {
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => FsError::NotFound(format!("{what}: {status}")),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            FsError::Denied(format!("{what}: {status}"))
        }
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => FsError::unavailable(format!("{what}: {status}")),
        _ => FsError::Io(format!("{what}: unexpected {status}")),
    }
}

/// [`status_error`] for a response, with the wait its `Retry-After` asks for.
pub fn response_error(what: &str, resp: &Response) -> FsError {
    with_retry_after(status_error(what, resp.status()), resp.headers())
}

/// Adds the `Retry-After` of `headers` to a transient error.
pub fn with_retry_after(e: FsError, headers: &HeaderMap) -> FsError {
    match e {
        FsError::Unavailable(text, None) => {
            let after = headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry::parse_retry_after);
            FsError::Unavailable(text, after)
        }
        other => other,
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn which_statuses_are_worth_a_retry() {
        for code in [429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(status_error("x", status).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 405, 410, 416, 501] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(!status_error("x", status).is_transient(), "{code}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("3"));
        let e = with_retry_after(status_error("x", StatusCode::TOO_MANY_REQUESTS), &headers);
        assert!(matches!(e, FsError::Unavailable(_, Some(d)) if d == Duration::from_secs(3)));
        let e = with_retry_after(status_error("x", StatusCode::NOT_FOUND), &headers);
        assert!(matches!(e, FsError::NotFound(_)));
    }
}
