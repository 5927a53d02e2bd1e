//! The per-origin limit of concurrent requests (`--max-requests-per-origin`), in two classes.
//!
//! Every request (API, probes, ranges) holds a permit of its origin from before it is sent
//! until its response body is dropped, so the server never sees more than the limit from one
//! mount. Background work (the size probes of a listing, read-ahead) runs in
//! [`background`] and may take only part of the permits: a quarter (at least one) is always
//! left to what a user waits for now, so the file asked for never queues behind its 999
//! neighbours' probes. Background work that someone comes to wait for (a read-ahead block the
//! reader now reads) is promoted: its [`Urgency`] is raised and its requests stop queueing for
//! the background share.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The default limit: enough requests of several blocks each to keep a 100 ms, 1 Gbit/s link
/// busy, and probes enough that `ls -l` of 1000 files at 100 ms takes under 2 s (32: 3.4 s;
/// measured in `docs/read-path.md`), still far from the hundreds of connections a server
/// would take for abuse.
pub const DEFAULT_MAX_REQUESTS_PER_ORIGIN: usize = 64;

tokio::task_local! {
    static BACKGROUND: Arc<Urgency>;
}

/// Runs `work` as background work: its requests leave a share of the permits to the others.
pub async fn background<F: Future>(work: F) -> F::Output {
    background_until(Arc::default(), work).await
}

/// Runs `work` as background work until `urgency` is raised: from then on its requests are
/// foreground (one waiting for the background share stops waiting for it).
pub async fn background_until<F: Future>(urgency: Arc<Urgency>, work: F) -> F::Output {
    BACKGROUND.scope(urgency, work).await
}

/// Whether someone waits now for what a piece of background work fetches.
#[derive(Debug, Default)]
pub struct Urgency {
    raised: AtomicBool,
    notify: Notify,
}

impl Urgency {
    /// Someone waits for this work: its requests become foreground.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    async fn raised(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Registered before the flag is read, so a raise in between is not missed.
        notified.as_mut().enable();
        if !self.is_raised() {
            notified.await;
        }
    }
}

/// The permits of every origin a mount talks to.
#[derive(Debug)]
pub struct OriginLimits {
    max: usize,
    origins: Mutex<HashMap<String, Arc<Origin>>>,
}

#[derive(Debug)]
struct Origin {
    all: Arc<Semaphore>,
    /// What background work may hold of `all`.
    background: Arc<Semaphore>,
}

/// A request's right to be in flight; dropped with its response body.
#[derive(Debug)]
pub struct Permit {
    _all: OwnedSemaphorePermit,
    _background: Option<OwnedSemaphorePermit>,
}

impl OriginLimits {
    /// At most `max` requests at once per origin (0 is taken as 1).
    pub fn new(max: usize) -> Self {
        OriginLimits {
            max: max.max(1),
            origins: Mutex::default(),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// How many requests background work may have in flight at one origin.
    pub fn background_max(&self) -> usize {
        background_share(self.max)
    }

    fn origin(&self, origin: &str) -> Arc<Origin> {
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        origins
            .entry(origin.to_string())
            .or_insert_with(|| {
                Arc::new(Origin {
                    all: Arc::new(Semaphore::new(self.max)),
                    background: Arc::new(Semaphore::new(background_share(self.max))),
                })
            })
            .clone()
    }

    /// Waits for a permit for a request to `url`'s origin (scheme, host, port).
    pub async fn acquire(&self, url: &url::Url) -> Permit {
        let origin = self.origin(&url.origin().ascii_serialization());
        // Background work queues for its own share first, so it never holds a place in the
        // queue for `all` that a request someone waits for could have.
        let background = match BACKGROUND.try_with(|u| u.clone()) {
            Ok(urgency) if !urgency.is_raised() => {
                tokio::select! {
                    biased;
                    permit = origin.background.clone().acquire_owned() => {
                        Some(permit.expect("never closed"))
                    }
                    // Someone waits for it now: it queues with the foreground.
                    () = urgency.raised() => None,
                }
            }
            _ => None,
        };
        let all = origin
            .all
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        Permit {
            _all: all,
            _background: background,
        }
    }
}

/// Three quarters of `max`, and at least one, but one less than `max` where that is possible.
fn background_share(max: usize) -> usize {
    (max - max / 4).min(max.saturating_sub(1)).max(1)
}

/// The response, holding `permit` until its body is dropped. The body keeps its length
/// (`content_length`) and is passed through as it comes.
pub fn hold(resp: reqwest::Response, permit: Permit) -> reqwest::Response {
    use reqwest::ResponseBuilderExt;
    let mut builder = http::Response::builder()
        .status(resp.status())
        .version(resp.version())
        .url(resp.url().clone());
    if let Some(headers) = builder.headers_mut() {
        *headers = resp.headers().clone();
    }
    let body = http::Response::<reqwest::Body>::from(resp).into_body();
    builder
        .body(reqwest::Body::wrap(Held {
            body,
            _permit: permit,
        }))
        .expect("the parts of a valid response")
        .into()
}

/// A body and the permit it holds.
struct Held {
    body: reqwest::Body,
    _permit: Permit,
}

impl http_body::Body for Held {
    type Data = bytes::Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, reqwest::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn background_leaves_room() {
        assert_eq!(background_share(1), 1);
        assert_eq!(background_share(2), 1);
        assert_eq!(background_share(4), 3);
        assert_eq!(background_share(32), 24);
    }

    #[tokio::test]
    async fn a_foreground_request_passes_queued_background_work() {
        let limits = Arc::new(OriginLimits::new(4));
        let url = url::Url::parse("http://h:1/f").unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(background(limits.acquire(&url)).await);
        }
        // A fourth background request waits for its share...
        let waiting = {
            let (limits, url) = (limits.clone(), url.clone());
            tokio::spawn(background(async move { limits.acquire(&url).await }))
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        // ... while one the user waits for gets the place left.
        let now = limits.acquire(&url).await;
        // Another origin has its own permits.
        let other = url::Url::parse("http://other:1/f").unwrap();
        drop(limits.acquire(&other).await);
        drop((now, held.pop()));
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn background_work_someone_waits_for_stops_waiting_for_its_share() {
        let limits = Arc::new(OriginLimits::new(4));
        let url = url::Url::parse("http://h:1/f").unwrap();
        let held: Vec<_> =
            futures::future::join_all((0..3).map(|_| background(limits.acquire(&url)))).await;
        let urgency = Arc::new(Urgency::default());
        let waiting = {
            let (limits, url, urgency) = (limits.clone(), url.clone(), urgency.clone());
            tokio::spawn(background_until(urgency, async move {
                limits.acquire(&url).await
            }))
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // The reader now waits for it: it takes the place left to the foreground, while the
        // background share is still full.
        urgency.raise();
        let permit = tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .expect("the promoted request still waits for the background share")
            .unwrap();
        assert!(permit._background.is_none());
        drop(held);
    }
}
