//! Faults the server injects on request of a test: what a flaky link, an overloaded proxy or a
//! file replaced mid-read look like to the client. A fault comes from a queue of one-shot rules
//! matched by path prefix, or from a seeded random plan; an outage answers 503 to everything.
//! Every fault applied is counted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;

use super::files;
use super::state::Shared;

/// One fault of one response.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Sends the headers and `after` bytes of the body, then drops the connection.
    Reset { after: u64 },
    /// Answers `code` (429, 500, 502, 503, 404, 410, ...) instead, with `Retry-After: secs`.
    Status { code: u16, retry_after: Option<u64> },
    /// Waits this long before the answer starts.
    SlowFirstByte(Duration),
    /// Sends `after` bytes of the body, pauses, then sends the rest.
    Stall { after: u64, pause: Duration },
    /// Ends the body `missing` bytes before its Content-Length (the connection is closed).
    ShortBody { missing: u64 },
    /// Labels a partial answer with a Content-Range one byte further than what it holds.
    WrongContentRange,
    /// Ignores Range: 200 and the whole file.
    IgnoreRange,
    /// Moves the requested range `by` bytes further before the file host sees it, as a
    /// confused hop might: past the end of a small file this is a 416.
    ShiftRange { by: u64 },
    /// Replaces the file (new ETag, new bytes, same size) just before answering.
    ChangeFile,
}

impl Fault {
    /// A short name for the counters.
    pub fn name(&self) -> String {
        match self {
            Fault::Reset { .. } => "reset".into(),
            Fault::Status { code, retry_after } => match retry_after {
                Some(_) => format!("status {code} with Retry-After"),
                None => format!("status {code}"),
            },
            Fault::SlowFirstByte(_) => "slow first byte".into(),
            Fault::Stall { .. } => "stall".into(),
            Fault::ShortBody { .. } => "short body".into(),
            Fault::WrongContentRange => "wrong Content-Range".into(),
            Fault::IgnoreRange => "range ignored".into(),
            Fault::ShiftRange { .. } => "range shifted".into(),
            Fault::ChangeFile => "file changed".into(),
        }
    }

    /// Whether the fault can be applied to this request (a body fault needs a GET, a range
    /// fault, 412 or 416 a Range request, a file change a file).
    fn applies_to(&self, method: &Method, path: &str, has_range: bool) -> bool {
        let get = method == Method::GET;
        match self {
            Fault::Reset { .. } | Fault::Stall { .. } | Fault::ShortBody { .. } => get,
            Fault::WrongContentRange | Fault::IgnoreRange | Fault::ShiftRange { .. } => {
                get && has_range
            }
            Fault::ChangeFile => files::file_key(path).is_some(),
            // What a confused hop answers to a range request, not to a plain one.
            Fault::Status {
                code: 412 | 416, ..
            } => get && has_range,
            Fault::Status { .. } | Fault::SlowFirstByte(_) => true,
        }
    }
}

/// Faults drawn at random: each request under `prefix` gets one of `kinds` (among those that
/// apply to it) with `probability`, from a generator seeded with `seed`.
#[derive(Debug, Clone)]
pub struct RandomFaults {
    pub seed: u64,
    pub probability: f64,
    pub prefix: String,
    pub kinds: Vec<Fault>,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// One-shot faults by path prefix, applied in order.
    queue: Mutex<VecDeque<(String, Fault)>>,
    random: Mutex<Option<(RandomFaults, u64)>>,
    down: AtomicBool,
    counts: Mutex<BTreeMap<String, u64>>,
    /// `(path, offset)`: range requests for `path` starting at `offset` or later wait until
    /// released, so a test can stop a download at an exact point, whatever the machine's speed.
    hold: Mutex<Option<(String, u64)>>,
    released: tokio::sync::Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    pub(crate) fn push(&self, prefix: &str, fault: Fault, times: usize) {
        let mut queue = lock(&self.queue);
        for _ in 0..times {
            queue.push_back((prefix.to_owned(), fault.clone()));
        }
    }

    pub(crate) fn clear(&self) {
        lock(&self.queue).clear();
        *lock(&self.random) = None;
        self.down.store(false, Ordering::Relaxed);
        self.release_ranges();
    }

    pub(crate) fn hold_ranges_from(&self, path: &str, offset: u64) {
        *lock(&self.hold) = Some((path.to_owned(), offset));
        // Those held below a new offset go on.
        self.released.notify_waiters();
    }

    pub(crate) fn release_ranges(&self) {
        *lock(&self.hold) = None;
        self.released.notify_waiters();
    }

    /// Waits while a range request for `path` starting at `start` is held.
    async fn wait_if_held(&self, path: &str, start: Option<u64>) {
        let Some(start) = start else { return };
        loop {
            // Registered before the check, so a release in between is not missed.
            let released = self.released.notified();
            match &*lock(&self.hold) {
                Some((held, from)) if held == path && start >= *from => {}
                _ => return,
            }
            released.await;
        }
    }

    pub(crate) fn pending(&self) -> usize {
        lock(&self.queue).len()
    }

    pub(crate) fn set_random(&self, plan: Option<RandomFaults>) {
        *lock(&self.random) = plan.map(|p| {
            let state = p.seed;
            (p, state)
        });
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.counts).clone()
    }

    fn count(&self, name: String) {
        *lock(&self.counts).entry(name).or_insert(0) += 1;
    }

    /// The fault for this request, if any: the first queued rule that matches, else a draw.
    fn pick(&self, method: &Method, path: &str, has_range: bool) -> Option<Fault> {
        {
            let mut queue = lock(&self.queue);
            let found = queue.iter().position(|(prefix, f)| {
                path.starts_with(prefix.as_str()) && f.applies_to(method, path, has_range)
            });
            if let Some(i) = found {
                return queue.remove(i).map(|(_, f)| f);
            }
        }
        let mut random = lock(&self.random);
        let (plan, state) = random.as_mut()?;
        if !path.starts_with(plan.prefix.as_str()) {
            return None;
        }
        let usable: Vec<&Fault> = plan
            .kinds
            .iter()
            .filter(|f| f.applies_to(method, path, has_range))
            .collect();
        let roll = next_fraction(state);
        let which = next_fraction(state);
        if usable.is_empty() || roll >= plan.probability {
            return None;
        }
        let i = ((which * usable.len() as f64) as usize).min(usable.len() - 1);
        Some(usable[i].clone())
    }
}

/// A step of a 64-bit LCG, as a number in [0, 1).
fn next_fraction(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// Middleware: applies the outage or the fault chosen for this request.
pub(crate) async fn inject(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let faults = &shared.faults;
    if faults.down.load(Ordering::Relaxed) {
        faults.count("outage 503".into());
        return status_response(503, Some(1));
    }
    let path = req.uri().path().to_owned();
    let has_range = req.headers().contains_key(header::RANGE);
    let start = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok()?.strip_prefix("bytes=")?.split_once('-'))
        .and_then(|(start, _)| start.trim().parse::<u64>().ok());
    faults.wait_if_held(&path, start).await;
    let Some(fault) = faults.pick(req.method(), &path, has_range) else {
        return next.run(req).await;
    };
    tracing::debug!("fault for {} {path}: {fault:?}", req.method());
    faults.count(fault.name());
    apply(&shared, fault, req, next).await
}

async fn apply(shared: &Shared, fault: Fault, mut req: Request, next: Next) -> Response {
    match fault {
        Fault::Status { code, retry_after } => status_response(code, retry_after),
        Fault::SlowFirstByte(wait) => {
            tokio::time::sleep(wait).await;
            next.run(req).await
        }
        Fault::IgnoreRange => {
            req.headers_mut().remove(header::RANGE);
            req.headers_mut().remove(header::IF_RANGE);
            next.run(req).await
        }
        Fault::ShiftRange { by } => {
            let shifted = req
                .headers()
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| shift_range(v, by))
                .and_then(|v| HeaderValue::from_str(&v).ok());
            if let Some(v) = shifted {
                req.headers_mut().insert(header::RANGE, v);
            }
            next.run(req).await
        }
        Fault::ChangeFile => {
            let path = req.uri().path();
            if let (Some(key), files::Resolved::File(_)) =
                (files::file_key(path), files::resolve(shared, path))
            {
                shared.bump_file_version(key);
            }
            next.run(req).await
        }
        Fault::WrongContentRange => {
            let mut resp = next.run(req).await;
            let shifted = resp
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(shift_content_range);
            if let Some(v) = shifted.and_then(|v| HeaderValue::from_str(&v).ok()) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp
        }
        Fault::Reset { after } => cut_body(next.run(req).await, after, Cut::Reset),
        Fault::ShortBody { missing } => {
            let resp = next.run(req).await;
            let len = resp
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(0);
            cut_body(resp, len.saturating_sub(missing.max(1)), Cut::End)
        }
        Fault::Stall { after, pause } => cut_body(next.run(req).await, after, Cut::Pause(pause)),
    }
}

/// `bytes 0-99/1234` → `bytes 1-100/1234`.
fn shift_content_range(v: &str) -> Option<String> {
    let rest = v.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    Some(format!("bytes {}-{}/{total}", a + 1, b + 1))
}

/// `bytes=0-9` → `bytes=10-19` for `by` 10 (open ranges `bytes=5-` move too).
fn shift_range(v: &str, by: u64) -> Option<String> {
    let (a, b) = v.strip_prefix("bytes=")?.split_once('-')?;
    let a = a.trim().parse::<u64>().ok()? + by;
    match b.trim() {
        "" => Some(format!("bytes={a}-")),
        b => Some(format!("bytes={a}-{}", b.parse::<u64>().ok()? + by)),
    }
}

fn status_response(code: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        format!("{status} (injected)\n"),
    )
        .into_response();
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// What happens to a body at the cut.
#[derive(Clone, Copy)]
enum Cut {
    /// The connection breaks.
    Reset,
    /// The body ends early (its Content-Length unchanged).
    End,
    /// The body pauses, then goes on.
    Pause(Duration),
}

/// The response with its body cut after `after` bytes.
fn cut_body(resp: Response, after: u64, cut: Cut) -> Response {
    let (parts, body) = resp.into_parts();
    let mut data = body.into_data_stream();
    let stream = async_stream(move |tx| async move {
        let mut sent = 0u64;
        let mut cut_done = false;
        while let Some(chunk) = data.next().await {
            let Ok(mut chunk) = chunk else { break };
            if !cut_done && sent + chunk.len() as u64 >= after {
                let head = chunk.split_to((after - sent) as usize);
                if !head.is_empty() && tx.send(Ok(head)).await.is_err() {
                    return;
                }
                sent = after;
                cut_done = true;
                match cut {
                    Cut::Reset => {
                        let _ = tx.send(Err(std::io::Error::other("injected reset"))).await;
                        return;
                    }
                    Cut::End => return,
                    Cut::Pause(d) => tokio::time::sleep(d).await,
                }
            }
            sent += chunk.len() as u64;
            if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

type Chunk = Result<Bytes, std::io::Error>;

/// A stream fed by a task through a small channel.
fn async_stream<F, Fut>(produce: F) -> impl futures::Stream<Item = Chunk> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<Chunk>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(produce(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_match_by_prefix_once() {
        let f = Faults::default();
        f.push("/wpsoutputs/a", Fault::ChangeFile, 2);
        f.push("/weaver", Fault::Reset { after: 0 }, 1);
        let get = Method::GET;
        assert_eq!(f.pick(&get, "/wpsoutputs/b/x", false), None);
        assert_eq!(f.pick(&Method::HEAD, "/weaver/jobs", false), None);
        assert_eq!(
            f.pick(&get, "/weaver/jobs", false),
            Some(Fault::Reset { after: 0 })
        );
        assert_eq!(
            f.pick(&get, "/wpsoutputs/a/x", false),
            Some(Fault::ChangeFile)
        );
        assert_eq!(f.pending(), 1);
    }

    #[test]
    fn random_faults_are_repeatable_and_near_their_probability() {
        let plan = RandomFaults {
            seed: 42,
            probability: 0.25,
            prefix: "/wpsoutputs/".into(),
            kinds: vec![Fault::IgnoreRange, Fault::SlowFirstByte(Duration::ZERO)],
        };
        let draw = || {
            let f = Faults::default();
            f.set_random(Some(plan.clone()));
            (0..4000)
                .map(|_| f.pick(&Method::GET, "/wpsoutputs/j/f", false))
                .collect::<Vec<_>>()
        };
        let a = draw();
        assert_eq!(a, draw());
        let hits = a.iter().flatten().count();
        assert!((800..1200).contains(&hits), "{hits}");
        // Without a Range header, only the slow answer applies.
        assert!(a
            .iter()
            .flatten()
            .all(|f| matches!(f, Fault::SlowFirstByte(_))));
    }

    #[test]
    fn content_range_shift() {
        assert_eq!(
            shift_content_range("bytes 0-99/1234").as_deref(),
            Some("bytes 1-100/1234")
        );
        assert_eq!(shift_content_range("bytes */1234"), None);
        assert_eq!(shift_range("bytes=0-9", 10).as_deref(), Some("bytes=10-19"));
        assert_eq!(shift_range("bytes=5-", 1).as_deref(), Some("bytes=6-"));
        assert_eq!(shift_range("bytes=-5", 1), None);
    }
}
