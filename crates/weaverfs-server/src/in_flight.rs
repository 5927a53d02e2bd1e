//! How many requests the server is answering at once, per path prefix (`/weaver`,
//! `/wpsoutputs`): from the request's arrival until the last byte of its answer is handed to
//! the connection. Tests assert with it that a client never had more than N requests at an
//! origin, or that it did send requests together (a peak above 1 under a latency hold).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};

#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// Per prefix: (now, the most at once since the last reset).
    counts: Mutex<HashMap<String, (usize, usize)>>,
}

/// Counts one request until dropped.
pub(crate) struct Guard {
    owner: Arc<InFlight>,
    prefix: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut counts = self.owner.lock();
        if let Some(c) = counts.get_mut(&self.prefix) {
            c.0 -= 1;
        }
    }
}

/// `/weaver/jobs/1` → `/weaver`.
pub(crate) fn prefix_of(path: &str) -> String {
    let rest = path.trim_start_matches('/');
    let first = rest.split(['/', '?']).next().unwrap_or("");
    format!("/{first}")
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (usize, usize)>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn start(self: &Arc<Self>, path: &str) -> Guard {
        let prefix = prefix_of(path);
        let mut counts = self.lock();
        let c = counts.entry(prefix.clone()).or_default();
        c.0 += 1;
        c.1 = c.1.max(c.0);
        Guard {
            owner: self.clone(),
            prefix,
        }
    }

    /// The most requests under `prefix` answered at once since the last reset.
    pub(crate) fn peak(&self, prefix: &str) -> usize {
        self.lock().get(prefix).map_or(0, |c| c.1)
    }

    /// Starts counting peaks again from the requests in flight now.
    pub(crate) fn reset_peaks(&self) {
        for c in self.lock().values_mut() {
            c.1 = c.0;
        }
    }
}

/// The response, with `guard` released once its body has been sent (or dropped). The body
/// keeps its length, so HEAD answers and Content-Length stay as they were.
pub(crate) fn hold_until_sent(resp: Response, guard: Guard) -> Response {
    let (parts, body) = resp.into_parts();
    Response::from_parts(
        parts,
        Body::new(Held {
            body,
            _guard: guard,
        }),
    )
}

struct Held {
    body: Body,
    _guard: Guard,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_per_prefix() {
        let f = Arc::new(InFlight::default());
        assert_eq!(prefix_of("/weaver/jobs?page=2"), "/weaver");
        assert_eq!(prefix_of("/wpsoutputs"), "/wpsoutputs");
        let a = f.start("/weaver/jobs");
        let b = f.start("/weaver/jobs/1");
        let c = f.start("/wpsoutputs/x");
        assert_eq!((f.peak("/weaver"), f.peak("/wpsoutputs")), (2, 1));
        drop((a, b));
        f.reset_peaks();
        assert_eq!(f.peak("/weaver"), 0);
        drop(c);
        assert_eq!(
            f.peak("/wpsoutputs"),
            1,
            "a peak lasts until the next reset"
        );
    }
}
