//! One version of a file on a file host: its size and validator, and validated range requests.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use reqwest::header::{
    HeaderMap, HeaderName, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, ETAG,
    IF_RANGE, LAST_MODIFIED, PRAGMA, RANGE,
};
use reqwest::{Method, Response, StatusCode, Url};

use crate::cache::buffer_pool::{BufferPool, PooledBuf};
use crate::client::http::{self, HttpClient};
use crate::error::{FsError, Result};

/// What a HEAD (or a one-byte range request) tells of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMeta {
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The server said it serves byte ranges (`Accept-Ranges: bytes`, or a 206 to the probe).
    pub accepts_ranges: bool,
}

impl RemoteMeta {
    fn from_headers(headers: &HeaderMap, size: u64) -> RemoteMeta {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        RemoteMeta {
            size,
            etag: text(ETAG),
            last_modified: text(LAST_MODIFIED),
            accepts_ranges: text(ACCEPT_RANGES).is_some_and(|v| v.contains("bytes")),
        }
    }

    /// The validator sent in `If-Range`: a strong ETag, else Last-Modified (weak ETags cannot be
    /// used with If-Range).
    pub fn validator(&self) -> Option<&str> {
        self.etag
            .as_deref()
            .filter(|e| !e.starts_with("W/"))
            .or(self.last_modified.as_deref())
    }

    pub fn mtime(&self) -> Option<SystemTime> {
        self.last_modified
            .as_deref()
            .and_then(|d| httpdate::parse_http_date(d).ok())
    }

    /// Whether a response's headers describe another version of the file than this one.
    fn differs_from(&self, headers: &HeaderMap) -> bool {
        !self.same_version(&RemoteMeta::from_headers(headers, self.size))
    }

    /// Whether `other` is this version: the same size, and the same validators where both
    /// have one (whether ranges are advertised is no part of a version).
    pub fn same_version(&self, other: &RemoteMeta) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.size == other.size
            && same(&self.etag, &other.etag)
            && same(&self.last_modified, &other.last_modified)
    }
}

/// How far an HTTP cache on the way (a site Squid, a proxy) may answer a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Normal reads: anything a cache holds for the URL (cacheable, no cache-busting headers).
    Cached,
    /// A cache checks its copy with the origin first (`max-age=0`: a conditional request,
    /// no body moves when the copy is current). Probes, which decide the version.
    Revalidated,
    /// Past every cache (`no-cache`, and `Pragma` for HTTP/1.0 caches): after an answer that
    /// failed validation, and for the evidence before a verdict.
    Origin,
}

impl Freshness {
    pub fn headers(self) -> &'static [(HeaderName, &'static str)] {
        const REVALIDATED: [(HeaderName, &str); 1] = [(CACHE_CONTROL, "max-age=0")];
        const ORIGIN: [(HeaderName, &str); 2] = [(CACHE_CONTROL, "no-cache"), (PRAGMA, "no-cache")];
        match self {
            Freshness::Cached => &[],
            Freshness::Revalidated => &REVALIDATED,
            Freshness::Origin => &ORIGIN,
        }
    }
}

/// Finds a file's size and validators: HEAD, else `Range: bytes=0-0` and the Content-Range total;
/// retried under the client's policy. A cache on the way revalidates its copy first, so a file
/// changed at the origin is seen as changed (and a stale cached copy then fails validation).
pub async fn probe(http: &HttpClient, url: &Url) -> Result<RemoteMeta> {
    let what = format!("size of {url}");
    http.retry()
        .run(&what, || probe_once(http, url, Freshness::Revalidated))
        .await
}

/// The bytes a size probe can bring along: at most this many from the start of the file. A
/// file this small (most job outputs that are not data sets) comes whole with its size, and a
/// larger one's header (what `file`, GDAL and `head` read first) costs no round trip of its
/// own; a listing of large files moves this much per file.
pub const PROBE_BYTES: u64 = 64 << 10;

/// A probe that asked for the first bytes of the file with its size.
#[derive(Debug)]
pub struct Probed {
    pub meta: RemoteMeta,
    /// The first `min(want, size)` bytes, or nothing when the server would only send them
    /// with the whole (larger) file.
    pub first: Bytes,
}

/// Like [`probe`], with a GET of the first `want` bytes instead of a HEAD: the size, the
/// validators and the first bytes in one round trip. Servers that answer the range oddly
/// are probed as [`probe`] does.
pub async fn probe_with_first_bytes(http: &HttpClient, url: &Url, want: u64) -> Result<Probed> {
    let what = format!("size and first bytes of {url}");
    http.retry()
        .run(&what, || probe_first_once(http, url, want.max(1)))
        .await
}

async fn probe_first_once(http: &HttpClient, url: &Url, want: u64) -> Result<Probed> {
    let what = format!("GET {url} (first {want} bytes)");
    let range = format!("bytes=0-{}", want - 1);
    let mut headers = vec![(RANGE, range.as_str())];
    headers.extend_from_slice(Freshness::Revalidated.headers());
    let resp = http.send(Method::GET, url.clone(), &headers, &what).await?;
    let status = resp.status();
    let total = |resp: &Response| {
        resp.headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range)
    };
    match status {
        StatusCode::PARTIAL_CONTENT => {
            let Some((start, end, size)) = total(&resp) else {
                return Err(FsError::unavailable(format!(
                    "{what}: 206 without a Content-Range"
                )));
            };
            let size = plausible_size(size, &what)?;
            let len = want.min(size);
            if (start, end + 1) != (0, len) {
                return Err(FsError::unavailable(format!(
                    "{what}: the server answered another range ({start}-{end}/{size})"
                )));
            }
            let mut meta = RemoteMeta::from_headers(resp.headers(), size);
            meta.accepts_ranges = true;
            let first = read_exactly(resp, len, &what, http).await?;
            Ok(Probed { meta, first })
        }
        // The range ignored: the whole body comes, read only when it is small.
        StatusCode::OK => match header_u64(resp.headers(), CONTENT_LENGTH) {
            Some(size) => {
                let size = plausible_size(size, &what)?;
                let meta = RemoteMeta::from_headers(resp.headers(), size);
                let first = match size <= want {
                    true => read_exactly(resp, size, &what, http).await?,
                    false => Bytes::new(),
                };
                Ok(Probed { meta, first })
            }
            None => {
                drop(resp);
                Ok(Probed {
                    meta: probe_once(http, url, Freshness::Revalidated).await?,
                    first: Bytes::new(),
                })
            }
        },
        // An empty file has no byte 0.
        StatusCode::RANGE_NOT_SATISFIABLE if total(&resp).is_some_and(|t| t.2 == 0) => Ok(Probed {
            meta: RemoteMeta::from_headers(resp.headers(), 0),
            first: Bytes::new(),
        }),
        s if matches!(s, StatusCode::NOT_FOUND | StatusCode::GONE)
            || s == StatusCode::UNAUTHORIZED
            || s == StatusCode::FORBIDDEN
            || http::status_error(&what, s).is_transient() =>
        {
            Err(http::response_error(&what, &resp))
        }
        // Anything else (a server that refuses ranges on this file, say): as a plain probe.
        _ => {
            drop(resp);
            Ok(Probed {
                meta: probe_once(http, url, Freshness::Revalidated).await?,
                first: Bytes::new(),
            })
        }
    }
}

/// A body that must be `len` bytes long.
async fn read_exactly(resp: Response, len: u64, what: &str, http: &HttpClient) -> Result<Bytes> {
    let (body, received) = read_body(resp, len as usize, what).await?;
    http.stats().fetched(received);
    if received as u64 != len {
        return Err(FsError::unavailable(format!(
            "{what}: {received} bytes received, {len} expected"
        )));
    }
    Ok(body)
}

async fn probe_once(http: &HttpClient, url: &Url, fresh: Freshness) -> Result<RemoteMeta> {
    let what = format!("HEAD {url}");
    let resp = http
        .send(Method::HEAD, url.clone(), fresh.headers(), &what)
        .await?;
    let status = resp.status();
    if status.is_success() {
        if let Some(size) = header_u64(resp.headers(), CONTENT_LENGTH) {
            let size = plausible_size(size, &what)?;
            return Ok(RemoteMeta::from_headers(resp.headers(), size));
        }
    } else if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE)
        || status.is_client_error() && status != StatusCode::METHOD_NOT_ALLOWED
        || http::status_error(&what, status).is_transient()
    {
        return Err(http::response_error(&what, &resp));
    }
    // No HEAD, or no length in it: ask for the first byte.
    drop(resp);
    let what = format!("GET {url} (first byte)");
    let mut headers = vec![(RANGE, "bytes=0-0")];
    headers.extend_from_slice(fresh.headers());
    let resp = http.send(Method::GET, url.clone(), &headers, &what).await?;
    let status = resp.status();
    let size = match status {
        StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE => resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_content_range(v).map(|r| r.2)),
        StatusCode::OK => header_u64(resp.headers(), CONTENT_LENGTH),
        _ => return Err(http::response_error(&what, &resp)),
    };
    let size = size.ok_or_else(|| FsError::Io(format!("{what}: the server tells no size")))?;
    let size = plausible_size(size, &what)?;
    let mut meta = RemoteMeta::from_headers(resp.headers(), size);
    meta.accepts_ranges |= status == StatusCode::PARTIAL_CONTENT;
    Ok(meta)
}

/// A size the kernel can show: file offsets are signed 64-bit, so a larger one is nonsense.
/// (A negative one does not parse, and counts as no size.)
fn plausible_size(size: u64, what: &str) -> Result<u64> {
    if size > i64::MAX as u64 {
        return Err(FsError::Io(format!("{what}: absurd size {size}")));
    }
    Ok(size)
}

fn header_u64(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `bytes 0-99/1234` → (0, 99, 1234); `bytes */1234` → (0, 0, 1234) for the total only.
pub fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = total.trim().parse().ok()?;
    if range.trim() == "*" {
        return Some((0, 0, total));
    }
    let (a, b) = range.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

/// One version of one remote file, shared by the handles that opened it.
#[derive(Debug)]
pub struct RemoteFile {
    pub url: Url,
    pub meta: RemoteMeta,
    /// The block cache key: URL, size and validator, so a new version never meets old blocks.
    pub key: Arc<str>,
    ignores_range: AtomicBool,
    /// A 206 was seen for this file.
    ranges_seen: AtomicBool,
    /// 200 answers to range requests since the last 206: one is an odd hop, not a verdict.
    whole_answers: AtomicU32,
    /// Set once the server showed another version: the next open probes again.
    stale: AtomicBool,
    /// The whole-body stream used when the server ignores Range.
    pub(super) body_stream: tokio::sync::Mutex<Option<Arc<super::body_stream::BodyStream>>>,
    /// The check against the server's digest, set by the first open that knows one.
    verifier: OnceLock<super::digest::Verifier>,
    /// Why this version's bytes are known wrong (a digest mismatch): every read is EIO.
    corrupt: OnceLock<String>,
}

/// The answer to a block request.
pub enum RangeAnswer<B = Bytes> {
    /// The requested bytes, checked (one buffer, or one per block: [`RemoteFile::get_blocks`]).
    Bytes(B),
    /// The server ignores Range and is sending the whole (same) file from byte 0.
    WholeBody(Response),
}

/// A body expected to hold `len` bytes, read straight into one buffer of that size (a body that
/// came in one chunk is kept as it is), and how many bytes came: no list of chunks joined at the
/// end. Bytes past `len` are counted, not kept.
async fn read_body(resp: Response, len: usize, what: &str) -> Result<(Bytes, usize)> {
    let (pieces, received) = read_pieces(resp, len, len.max(1), None, what).await?;
    Ok((pieces.into_iter().next().unwrap_or_default(), received))
}

/// A body expected to hold `len` bytes, read straight into buffers of `piece` bytes each (the
/// last one shorter), and how many bytes came. Each piece is its own buffer, filled once from
/// the body's chunks (a chunk that is exactly a piece is kept as it is): a range of several
/// blocks is cut into blocks as it arrives, with no copy of the whole and none per block after.
/// Pieces of the pool's size (whole blocks) are the pool's buffers. Bytes past `len` are
/// counted, not kept.
async fn read_pieces(
    mut resp: Response,
    len: usize,
    piece: usize,
    pool: Option<&Arc<BufferPool>>,
    what: &str,
) -> Result<(Vec<Bytes>, usize)> {
    let mut received = 0usize;
    let mut pieces = Vec::with_capacity(len.div_ceil(piece));
    // Bytes in the pieces done, and the piece being filled.
    let (mut done, mut buf) = (0usize, None::<Piece>);
    while let Some(mut chunk) = resp
        .chunk()
        .await
        .map_err(|e| http::transport_error(what, e))?
    {
        received += chunk.len();
        if received > len {
            continue;
        }
        while !chunk.is_empty() {
            let piece_len = piece.min(len - done);
            if buf.is_none() && chunk.len() == piece_len {
                pieces.push(std::mem::take(&mut chunk));
            } else {
                let filling = buf.get_or_insert_with(|| Piece::new(piece_len, pool));
                let take = (piece_len - filling.len()).min(chunk.len());
                filling.extend_from_slice(&chunk.split_to(take));
                if filling.len() < piece_len {
                    continue;
                }
                pieces.extend(buf.take().map(Piece::freeze));
            }
            done += piece_len;
        }
    }
    pieces.extend(buf.map(Piece::freeze));
    Ok((pieces, received))
}

/// A piece being filled: a pool's buffer when it is one of the pool's size.
enum Piece {
    Pooled(PooledBuf),
    Own(BytesMut),
}

impl Piece {
    fn new(len: usize, pool: Option<&Arc<BufferPool>>) -> Piece {
        match pool {
            Some(pool) if pool.buffer_size() == len => Piece::Pooled(pool.take()),
            _ => Piece::Own(BytesMut::with_capacity(len)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Piece::Pooled(b) => b.len(),
            Piece::Own(b) => b.len(),
        }
    }

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        match self {
            Piece::Pooled(b) => b.extend_from_slice(bytes),
            Piece::Own(b) => b.extend_from_slice(bytes),
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Piece::Pooled(b) => b.freeze(),
            Piece::Own(b) => b.freeze(),
        }
    }
}

impl RemoteFile {
    pub fn new(url: Url, meta: RemoteMeta) -> Self {
        // Without a validator, versions cannot be told apart: each probe is its own version.
        static UNVALIDATED: AtomicU64 = AtomicU64::new(0);
        let version = match meta.validator() {
            Some(v) => v.to_string(),
            None => format!(
                "unvalidated-{}",
                UNVALIDATED.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let key = format!("{url}\n{}\n{version}", meta.size);
        RemoteFile {
            url,
            meta,
            key: Arc::from(key),
            ignores_range: AtomicBool::new(false),
            ranges_seen: AtomicBool::new(false),
            whole_answers: AtomicU32::new(0),
            stale: AtomicBool::new(false),
            body_stream: tokio::sync::Mutex::new(None),
            verifier: OnceLock::new(),
            corrupt: OnceLock::new(),
        }
    }

    /// Checks this version against `digest` (`digestMultibase`) when it is read whole in
    /// blocks of `block_size`; a digest in a form not understood is logged, and not checked.
    pub fn expect_digest(&self, digest: &str, block_size: u64) {
        if self.verifier.get().is_some() {
            return;
        }
        match super::digest::Expected::parse(digest) {
            Ok(expected) => {
                let blocks = crate::cache::blocks::block_count(block_size, self.size());
                let _ = self
                    .verifier
                    .set(super::digest::Verifier::new(expected, blocks));
            }
            Err(e) => tracing::warn!("{}: digest {digest:?} not checked: {e}", self.url),
        }
    }

    pub fn verifier(&self) -> Option<&super::digest::Verifier> {
        self.verifier.get()
    }

    /// Marks this version's bytes as wrong; the error every read of it gives.
    pub fn corrupt(&self, why: &str) -> FsError {
        let why = self.corrupt.get_or_init(|| why.to_string());
        FsError::Io(format!("{}: {why}", self.url))
    }

    /// The error for reads of a version whose bytes were found wrong, if it was.
    pub fn corrupt_error(&self) -> Option<FsError> {
        self.corrupt
            .get()
            .map(|why| FsError::Io(format!("{}: {why}", self.url)))
    }

    pub fn size(&self) -> u64 {
        self.meta.size
    }

    pub fn ignores_range(&self) -> bool {
        self.ignores_range.load(Ordering::Relaxed)
    }

    /// Whether a small range request can be expected to get just its bytes: the server
    /// advertised ranges or answered one, and has not ignored one since.
    pub fn honours_range(&self) -> bool {
        !self.ignores_range()
            && (self.meta.accepts_ranges || self.ranges_seen.load(Ordering::Relaxed))
    }

    /// A 206 came: the server serves ranges (again, if it had been judged not to).
    fn range_served(&self) {
        self.ranges_seen.store(true, Ordering::Relaxed);
        self.whole_answers.store(0, Ordering::Relaxed);
        if self.ignores_range.swap(false, Ordering::Relaxed) {
            tracing::info!("{}: the server serves ranges again", self.url);
        }
    }

    /// A 200 and the whole body came to a range request: whether to read the file as one
    /// stream now. A server that advertised or served ranges must show it twice in a row (one
    /// misbehaving hop is not a verdict); one never seen serving a range, at once.
    fn whole_body_served(&self) -> bool {
        if self.ignores_range() {
            return true;
        }
        let known_ranges = self.meta.accepts_ranges || self.ranges_seen.load(Ordering::Relaxed);
        let seen = self.whole_answers.fetch_add(1, Ordering::Relaxed) + 1;
        if known_ranges && seen < 2 {
            return false;
        }
        if !self.ignores_range.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{}: the server ignores Range requests; reading it as one stream",
                self.url
            );
        }
        true
    }

    /// Notes that this version's server answered range requests (its blocks came from the
    /// disk cache, which only keeps blocks fetched by ranges).
    pub fn ranges_were_seen(&self) {
        self.ranges_seen.store(true, Ordering::Relaxed);
    }

    /// GET of bytes `[start, end)` with `If-Range`, so that a changed file answers with its new
    /// whole body. An answer that fails validation (another size, validator or range verdict
    /// of the version) may be a cache's old copy: it is asked once more past every cache
    /// (`no-cache`) before a fresh HEAD decides; another version is reported as
    /// [`FsError::Stale`] only on that evidence (see [`RemoteFile::changed_or_fault`]); every
    /// other odd answer is a transient fault.
    /// A whole block comes in a buffer of `pool`.
    pub async fn get_range(
        &self,
        http: &HttpClient,
        start: u64,
        end: u64,
        pool: &Arc<BufferPool>,
    ) -> Result<RangeAnswer> {
        Ok(
            match self.get_pieces(http, start, end, end - start, pool).await? {
                RangeAnswer::Bytes(pieces) => {
                    RangeAnswer::Bytes(pieces.into_iter().next().unwrap_or_default())
                }
                RangeAnswer::WholeBody(resp) => RangeAnswer::WholeBody(resp),
            },
        )
    }

    /// [`RemoteFile::get_range`], its bytes cut into blocks as they arrive (a read-ahead run),
    /// each in its own buffer of `pool` (the last block of the file in one of its own size).
    pub async fn get_blocks(
        &self,
        http: &HttpClient,
        start: u64,
        end: u64,
        pool: &Arc<BufferPool>,
    ) -> Result<RangeAnswer<Vec<Bytes>>> {
        let block = pool.buffer_size() as u64;
        self.get_pieces(http, start, end, block, pool).await
    }

    /// The range, cut into pieces of `piece` bytes.
    async fn get_pieces(
        &self,
        http: &HttpClient,
        start: u64,
        end: u64,
        piece: u64,
        pool: &Arc<BufferPool>,
    ) -> Result<RangeAnswer<Vec<Bytes>>> {
        let what = format!("GET {} bytes {start}-{}", self.url, end - 1);
        let odd = match self
            .try_range(http, (start, end), piece, pool, Freshness::Cached, &what)
            .await?
        {
            Ok(answer) => return Ok(answer),
            Err(odd) => odd,
        };
        tracing::info!("{what}: {odd}; asking once more past the caches (no-cache)");
        http.stats().refetched_past_caches();
        let odd = match self
            .try_range(http, (start, end), piece, pool, Freshness::Origin, &what)
            .await?
        {
            Ok(answer) => {
                tracing::info!("{what}: the origin's answer is this version: a cache was stale");
                return Ok(answer);
            }
            Err(odd) => odd,
        };
        Err(self.changed_or_fault(http, &what, odd).await)
    }

    /// One range request; `Ok(Err(why))` when the answer failed validation (it may show
    /// another version).
    async fn try_range(
        &self,
        http: &HttpClient,
        (start, end): (u64, u64),
        piece: u64,
        pool: &Arc<BufferPool>,
        fresh: Freshness,
        what: &str,
    ) -> Result<std::result::Result<RangeAnswer<Vec<Bytes>>, &'static str>> {
        let range = format!("bytes={start}-{}", end - 1);
        let mut headers = vec![(RANGE, range.as_str())];
        if let Some(v) = self.meta.validator() {
            headers.push((IF_RANGE, v));
        }
        headers.extend_from_slice(fresh.headers());
        let resp = http
            .send(Method::GET, self.url.clone(), &headers, what)
            .await?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                self.range_served();
                let got = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                // Another range than asked (shifted, mislabelled) says nothing of the version.
                let Some((_, _, total)) = got.filter(|&(a, b, _)| (a, b) == (start, end - 1))
                else {
                    return Err(FsError::unavailable(format!(
                        "{what}: the server answered another range ({got:?})"
                    )));
                };
                let other_version =
                    total != self.meta.size || self.meta.differs_from(resp.headers());
                let piece = piece.max(1) as usize;
                let (body, received) =
                    read_pieces(resp, (end - start) as usize, piece, Some(pool), what).await?;
                http.stats().fetched(received);
                if received as u64 != end - start {
                    return Err(FsError::unavailable(format!(
                        "{what}: {received} bytes received, {} expected",
                        end - start
                    )));
                }
                if other_version {
                    return Ok(Err("the answer shows another version"));
                }
                Ok(Ok(RangeAnswer::Bytes(body)))
            }
            StatusCode::OK => {
                let length = header_u64(resp.headers(), CONTENT_LENGTH);
                if self.meta.differs_from(resp.headers())
                    || length.is_some_and(|l| l != self.meta.size)
                {
                    return Ok(Err("the whole body of another version came"));
                }
                if !self.whole_body_served() {
                    return Err(FsError::unavailable(format!(
                        "{what}: 200 and the whole file from a server that serves ranges"
                    )));
                }
                Ok(Ok(RangeAnswer::WholeBody(resp)))
            }
            StatusCode::PRECONDITION_FAILED => Ok(Err("412 Precondition Failed")),
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(Err("416 Range Not Satisfiable")),
            _ => Err(http::response_error(what, &resp)),
        }
    }

    /// An answer hinted that the file changed (`odd` says how): a fresh HEAD, past every
    /// cache, decides. Another size or validator there marks this version stale; the same
    /// version makes the answer a transient fault, for the retry policy; a failed HEAD is its
    /// own error.
    pub async fn changed_or_fault(&self, http: &HttpClient, what: &str, odd: &str) -> FsError {
        match probe_once(http, &self.url, Freshness::Origin).await {
            Ok(now) if !self.meta.same_version(&now) => {
                tracing::info!("{what}: {odd}; a fresh HEAD confirms it: {now:?}");
                self.stale()
            }
            Ok(_) => FsError::unavailable(format!(
                "{what}: {odd}, but a fresh HEAD shows the file unchanged"
            )),
            Err(e) => e,
        }
    }

    /// Whether the server was seen serving another version of this file.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// Marks this version as replaced on the server, and the error to report.
    pub fn stale(&self) -> FsError {
        self.stale.store(true, Ordering::Relaxed);
        FsError::Stale(format!(
            "{} changed on the server since it was opened; open it again",
            self.url
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_are_errors() {
        assert_eq!(plausible_size(0, "x").unwrap(), 0);
        assert_eq!(plausible_size(1 << 62, "x").unwrap(), 1 << 62);
        let e = plausible_size(u64::MAX, "HEAD u").unwrap_err();
        assert!(
            e.to_string().contains("absurd size 18446744073709551615"),
            "{e}"
        );
        assert_eq!(parse_content_range("bytes 0-0/-5"), None);
        assert_eq!(
            parse_content_range("bytes 0-0/99999999999999999999999"),
            None
        );
    }

    #[test]
    fn content_range_forms() {
        assert_eq!(parse_content_range("bytes 0-99/1234"), Some((0, 99, 1234)));
        assert_eq!(parse_content_range("bytes */1234"), Some((0, 0, 1234)));
        assert_eq!(parse_content_range("bytes 5-4"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range("bytes a-b/c"), None);
    }

    #[test]
    fn validator_prefers_strong_etag() {
        let mut m = RemoteMeta {
            size: 1,
            etag: Some("\"abc\"".into()),
            last_modified: Some("Sun, 01 Nov 2026 10:00:00 GMT".into()),
            accepts_ranges: true,
        };
        assert_eq!(m.validator(), Some("\"abc\""));
        m.etag = Some("W/\"abc\"".into());
        assert_eq!(m.validator(), Some("Sun, 01 Nov 2026 10:00:00 GMT"));
        assert!(m.mtime().is_some());
        m.last_modified = None;
        assert_eq!(m.validator(), None);
    }

    #[test]
    fn cache_keys_tell_versions_apart() {
        let url = Url::parse("http://h/f.nc").unwrap();
        let meta = |size, etag: Option<&str>| RemoteMeta {
            size,
            etag: etag.map(str::to_string),
            last_modified: None,
            accepts_ranges: true,
        };
        let key = |m| RemoteFile::new(url.clone(), m).key;
        assert_eq!(key(meta(6, Some("\"a\""))), key(meta(6, Some("\"a\""))));
        assert_ne!(key(meta(6, Some("\"a\""))), key(meta(12, Some("\"a\""))));
        assert_ne!(key(meta(6, Some("\"a\""))), key(meta(6, Some("\"b\""))));
        // Without any validator, two probes are two versions.
        assert_ne!(key(meta(6, None)), key(meta(6, None)));
    }

    #[test]
    fn a_new_etag_is_another_version() {
        let m = RemoteMeta {
            size: 1,
            etag: Some("\"a\"".into()),
            last_modified: None,
            accepts_ranges: true,
        };
        let mut h = HeaderMap::new();
        assert!(!m.differs_from(&h));
        h.insert(ETAG, "\"a\"".parse().unwrap());
        assert!(!m.differs_from(&h));
        h.insert(ETAG, "\"b\"".parse().unwrap());
        assert!(m.differs_from(&h));
    }

    #[test]
    fn advertising_ranges_is_no_part_of_a_version() {
        let m = RemoteMeta {
            size: 10,
            etag: Some("\"a\"".into()),
            last_modified: None,
            accepts_ranges: true,
        };
        let fallback = RemoteMeta {
            accepts_ranges: false,
            last_modified: Some("Sun, 01 Nov 2026 10:00:00 GMT".into()),
            ..m.clone()
        };
        assert!(m.same_version(&fallback));
        assert!(!m.same_version(&RemoteMeta {
            size: 11,
            ..m.clone()
        }));
        let other = RemoteMeta {
            etag: Some("\"b\"".into()),
            ..m.clone()
        };
        assert!(!m.same_version(&other));
    }

    #[test]
    fn one_whole_answer_is_a_verdict_only_where_ranges_were_never_seen() {
        let url = Url::parse("http://h/f.nc").unwrap();
        let meta = |accepts_ranges| RemoteMeta {
            size: 6,
            etag: None,
            last_modified: None,
            accepts_ranges,
        };
        let never = RemoteFile::new(url.clone(), meta(false));
        assert!(never.whole_body_served() && never.ignores_range());
        let advertised = RemoteFile::new(url.clone(), meta(true));
        assert!(!advertised.whole_body_served());
        // A 206 between two odd answers: still no verdict.
        advertised.range_served();
        assert!(!advertised.whole_body_served());
        assert!(advertised.whole_body_served(), "twice in a row");
        assert!(advertised.ignores_range() && !advertised.honours_range());
        // And a 206 later takes the verdict back.
        advertised.range_served();
        assert!(advertised.honours_range());
    }
}
