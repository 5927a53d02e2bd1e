//! The counters of one mount: HTTP requests by kind and status with their latencies, bytes
//! fetched and served, block-cache counters, retries, and errors by errno. Read as JSON at
//! `MOUNTPOINT/.weaverfs/stats.json` and as a table by `weaverfs stats MOUNTPOINT`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderName, IF_RANGE, RANGE};
use reqwest::{Method, Response, Url};
use serde::{Deserialize, Serialize};

use crate::cache::{BlockCache, BufferPool, DiskCache};
use crate::error::FsError;

/// The virtual directory at the mount root (never a job id: those have no dots).
pub const STATS_DIR: &str = ".weaverfs";
/// The stats document in [`STATS_DIR`].
pub const STATS_FILE: &str = "stats.json";

/// What an HTTP request was for, told from its method, URL and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `GET /jobs` (each page).
    Listing,
    /// `GET /jobs/{id}`.
    Status,
    /// `GET /jobs/{id}/results` or `/outputs`.
    Results,
    /// `GET /jobs/{id}/inputs`, `/logs`, `/exceptions`.
    Document,
    /// The index page of a directory output.
    Index,
    /// The size of a file: `HEAD`, or the first byte when HEAD tells nothing.
    Probe,
    /// A block of a file.
    Range,
    /// A whole file, from a server that ignores Range.
    WholeBody,
}

const KINDS: [RequestKind; 8] = [
    RequestKind::Listing,
    RequestKind::Status,
    RequestKind::Results,
    RequestKind::Document,
    RequestKind::Index,
    RequestKind::Probe,
    RequestKind::Range,
    RequestKind::WholeBody,
];

impl RequestKind {
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Listing => "listing",
            RequestKind::Status => "status",
            RequestKind::Results => "results",
            RequestKind::Document => "document",
            RequestKind::Index => "index",
            RequestKind::Probe => "probe",
            RequestKind::Range => "range",
            RequestKind::WholeBody => "whole_body",
        }
    }

    /// The kind of a request to `url`, where `jobs` is the API's `{base}/jobs` URL.
    pub fn of(method: &Method, url: &Url, headers: &[(HeaderName, &str)], jobs: &Url) -> Self {
        static PROBE_RANGE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| format!("bytes=0-{}", crate::read::PROBE_BYTES - 1));
        let header = |name: &HeaderName| headers.iter().find(|(n, _)| n == name).map(|h| h.1);
        if method == Method::HEAD {
            return RequestKind::Probe;
        }
        if let Some(range) = header(&RANGE) {
            // The size probe asks for the first bytes without a validator.
            let probe = range == "bytes=0-0" || range == PROBE_RANGE.as_str();
            return if probe && header(&IF_RANGE).is_none() {
                RequestKind::Probe
            } else {
                RequestKind::Range
            };
        }
        let jobs_path = jobs.path().trim_end_matches('/');
        let api_tail = (url.origin() == jobs.origin())
            .then(|| url.path().strip_prefix(jobs_path))
            .flatten()
            .filter(|tail| tail.is_empty() || tail.starts_with('/'));
        if let Some(tail) = api_tail {
            let segments: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
            return match segments[..] {
                [] => RequestKind::Listing,
                [_] => RequestKind::Status,
                [_, "results" | "outputs"] => RequestKind::Results,
                _ => RequestKind::Document,
            };
        }
        if url.path().ends_with('/') {
            RequestKind::Index
        } else {
            RequestKind::WholeBody
        }
    }
}

/// Latencies in fixed logarithmic buckets: exact below 16 µs, then 8 buckets per doubling, so
/// a percentile is within 12.5% of the true value.
struct Histogram {
    buckets: Vec<AtomicU64>,
}

const SUB_BUCKETS: u64 = 8;
const LINEAR_BELOW: u64 = 16;
/// Doublings covered above 16 µs: up to 2^44 µs (about 200 days).
const OCTAVES: u64 = 40;

impl Histogram {
    fn new() -> Self {
        let n = LINEAR_BELOW + OCTAVES * SUB_BUCKETS;
        Histogram {
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn bucket_of(micros: u64) -> usize {
        if micros < LINEAR_BELOW {
            return micros as usize;
        }
        let octave = 63 - micros.leading_zeros() as u64; // >= 4
        let sub = (micros >> (octave - 3)) & (SUB_BUCKETS - 1);
        let index = LINEAR_BELOW + (octave - 4) * SUB_BUCKETS + sub;
        index.min(LINEAR_BELOW + OCTAVES * SUB_BUCKETS - 1) as usize
    }

    /// The largest value that falls in bucket `i`.
    fn upper_bound(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR_BELOW {
            return i;
        }
        let octave = (i - LINEAR_BELOW) / SUB_BUCKETS + 4;
        let sub = (i - LINEAR_BELOW) % SUB_BUCKETS;
        ((SUB_BUCKETS + sub + 1) << (octave - 3)) - 1
    }

    fn record(&self, elapsed: Duration) {
        let micros = elapsed.as_micros().min(u64::MAX as u128) as u64;
        self.buckets[Self::bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    fn counts(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }
}

/// p50, p90 and p99 of bucket counts, in milliseconds (0 without any value).
fn percentiles(counts: &[u64]) -> Percentiles {
    let total: u64 = counts.iter().sum();
    let at = |q: f64| {
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Histogram::upper_bound(i) as f64 / 1000.0;
            }
        }
        0.0
    };
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
    }
}

struct KindCounters {
    /// By status code ("206"), or "timeout" / "failed" when no response came.
    by_status: Mutex<BTreeMap<String, u64>>,
    latency: Histogram,
}

/// The counters of one mount, shared by its HTTP client, reader and FUSE adapter.
pub struct Stats {
    started: Instant,
    jobs_url: Url,
    requests: Vec<KindCounters>,
    /// HTTP requests sent again after a failure (incremented by the retry logic).
    pub retries: AtomicU64,
    bytes_fetched: AtomicU64,
    bytes_served: AtomicU64,
    errors: Mutex<BTreeMap<i32, u64>>,
    cache: OnceLock<Arc<BlockCache>>,
    buffers: OnceLock<Arc<BufferPool>>,
    disk: OnceLock<Arc<DiskCache>>,
    /// Range requests sent again past the caches after an answer failed validation.
    refetched_past_caches: AtomicU64,
    /// Files read whole whose bytes matched the server's digest, and those that did not.
    digests_verified: AtomicU64,
    digest_mismatches: AtomicU64,
    /// Opens served by FUSE passthrough from a complete file in the disk cache.
    passthrough_opens: AtomicU64,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Stats {
    /// Counters for a mount of the API at `api_base`.
    pub fn new(api_base: &Url) -> Self {
        let mut jobs_url = api_base.clone();
        if let Ok(mut segments) = jobs_url.path_segments_mut() {
            segments.pop_if_empty().push("jobs");
        }
        Stats {
            started: Instant::now(),
            jobs_url,
            requests: KINDS
                .iter()
                .map(|_| KindCounters {
                    by_status: Mutex::new(BTreeMap::new()),
                    latency: Histogram::new(),
                })
                .collect(),
            retries: AtomicU64::new(0),
            bytes_fetched: AtomicU64::new(0),
            bytes_served: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            cache: OnceLock::new(),
            buffers: OnceLock::new(),
            disk: OnceLock::new(),
            refetched_past_caches: AtomicU64::new(0),
            digests_verified: AtomicU64::new(0),
            digest_mismatches: AtomicU64::new(0),
            passthrough_opens: AtomicU64::new(0),
        }
    }

    /// The block cache whose counters the stats show.
    pub fn watch_cache(&self, cache: &Arc<BlockCache>) {
        let _ = self.cache.set(cache.clone());
    }

    /// The block buffers whose memory the stats show.
    pub fn watch_buffers(&self, buffers: &Arc<BufferPool>) {
        let _ = self.buffers.set(buffers.clone());
    }

    /// The disk cache whose counters the stats show.
    pub fn watch_disk(&self, disk: &Arc<DiskCache>) {
        let _ = self.disk.set(disk.clone());
    }

    /// One open handed to the kernel with FUSE passthrough.
    pub fn passthrough_opened(&self) {
        self.passthrough_opens.fetch_add(1, Ordering::Relaxed);
    }

    /// One range request sent again with `no-cache` after its answer failed validation.
    pub fn refetched_past_caches(&self) {
        self.refetched_past_caches.fetch_add(1, Ordering::Relaxed);
    }

    /// A file read whole was checked against the server's digest.
    pub fn digest_checked(&self, matched: bool) {
        let counter = match matched {
            true => &self.digests_verified,
            false => &self.digest_mismatches,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn kind_of(
        &self,
        method: &Method,
        url: &Url,
        headers: &[(HeaderName, &str)],
    ) -> RequestKind {
        RequestKind::of(method, url, headers, &self.jobs_url)
    }

    /// One request's outcome and its time to the response headers.
    pub fn request(
        &self,
        kind: RequestKind,
        result: &Result<Response, FsError>,
        elapsed: Duration,
    ) {
        let status = match result {
            Ok(resp) => resp.status().as_u16().to_string(),
            Err(FsError::TimedOut(_)) => "timeout".into(),
            Err(_) => "failed".into(),
        };
        let counters = &self.requests[kind as usize];
        *lock(&counters.by_status).entry(status).or_default() += 1;
        counters.latency.record(elapsed);
    }

    /// One more request sent again after a failure.
    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes of file content received from a server.
    pub fn fetched(&self, bytes: usize) {
        self.bytes_fetched
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes returned to readers.
    pub fn served(&self, bytes: usize) {
        self.bytes_served.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A failed filesystem call. ENOENT is not counted: looking up names that do not exist is
    /// what shells and tools do all the time.
    pub fn error(&self, errno: i32) {
        if errno != libc::ENOENT {
            *lock(&self.errors).entry(errno).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut requests = BTreeMap::new();
        let mut status_classes = BTreeMap::new();
        let mut all = vec![0u64; Histogram::new().buckets.len()];
        let mut total = 0;
        for (kind, counters) in KINDS.iter().zip(&self.requests) {
            let by_status = lock(&counters.by_status).clone();
            let counts = counters.latency.counts();
            for (a, c) in all.iter_mut().zip(&counts) {
                *a += c;
            }
            let count = by_status.values().sum();
            total += count;
            for (status, n) in &by_status {
                *status_classes.entry(status_class(status)).or_default() += n;
            }
            let latency_ms = percentiles(&counts);
            let snap = KindSnapshot {
                count,
                by_status,
                latency_ms,
            };
            requests.insert(kind.name().to_string(), snap);
        }
        let cache = self.cache.get().map(|c| CacheSnapshot {
            hits: c.stats.hits.load(Ordering::Relaxed),
            misses: c.stats.misses.load(Ordering::Relaxed),
            coalesced: c.stats.coalesced.load(Ordering::Relaxed),
            evictions: c.stats.evictions.load(Ordering::Relaxed),
            read_ahead_hits: c.stats.read_ahead_hits.load(Ordering::Relaxed),
            used_bytes: c.used(),
            peak_used_bytes: c.peak_used(),
            capacity_bytes: c.capacity(),
            buffer_bytes: self.buffers.get().map_or(0, |b| b.allocated_bytes()),
            peak_buffer_bytes: self.buffers.get().map_or(0, |b| b.peak_bytes()),
        });
        Snapshot {
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            requests_total: total,
            status_classes,
            latency_ms: percentiles(&all),
            requests,
            retries: self.retries.load(Ordering::Relaxed),
            bytes_fetched: self.bytes_fetched.load(Ordering::Relaxed),
            bytes_served: self.bytes_served.load(Ordering::Relaxed),
            cache: cache.unwrap_or_default(),
            disk_cache: self
                .disk
                .get()
                .map(|d| d.stats.snapshot(d.limits().max_bytes)),
            refetched_past_caches: self.refetched_past_caches.load(Ordering::Relaxed),
            digests_verified: self.digests_verified.load(Ordering::Relaxed),
            digest_mismatches: self.digest_mismatches.load(Ordering::Relaxed),
            passthrough_opens: self.passthrough_opens.load(Ordering::Relaxed),
            errors: lock(&self.errors)
                .iter()
                .map(|(errno, n)| (errno_name(*errno), *n))
                .collect(),
        }
    }

    /// The snapshot as the bytes of `stats.json`.
    pub fn json(&self) -> Bytes {
        let mut text = serde_json::to_vec_pretty(&self.snapshot()).unwrap_or_default();
        text.push(b'\n');
        Bytes::from(text)
    }
}

/// "2xx" for "206"; "timeout" and "failed" as they are.
fn status_class(status: &str) -> String {
    match status.as_bytes() {
        [d, _, _] if d.is_ascii_digit() => format!("{}xx", *d as char),
        _ => status.to_string(),
    }
}

fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ESTALE => "ESTALE",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EACCES => "EACCES",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EBADF => "EBADF",
        libc::EROFS => "EROFS",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// The stats at one moment: the document of `stats.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub uptime_seconds: f64,
    pub requests_total: u64,
    /// "2xx", "4xx", …, "timeout", "failed" (no response).
    pub status_classes: BTreeMap<String, u64>,
    /// Time to the response headers, over all requests.
    pub latency_ms: Percentiles,
    pub requests: BTreeMap<String, KindSnapshot>,
    pub retries: u64,
    /// File content received from servers.
    pub bytes_fetched: u64,
    /// Bytes returned by read calls.
    pub bytes_served: u64,
    pub cache: CacheSnapshot,
    /// The disk cache (`--cache-dir`), when the mount has one: this mount's counters.
    #[serde(default)]
    pub disk_cache: Option<DiskSnapshot>,
    /// Range requests asked again with `no-cache` after an answer failed validation.
    #[serde(default)]
    pub refetched_past_caches: u64,
    /// Files read whole whose bytes matched the server's digest (`digestMultibase`).
    #[serde(default)]
    pub digests_verified: u64,
    /// Files read whole whose bytes did not: EIO, and their blocks dropped.
    #[serde(default)]
    pub digest_mismatches: u64,
    /// Opens the kernel serves itself from a complete file in the disk cache (FUSE
    /// passthrough); their reads are not in `bytes_served`.
    #[serde(default)]
    pub passthrough_opens: u64,
    /// Failed filesystem calls by errno name (ENOENT not counted).
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KindSnapshot {
    pub count: u64,
    pub by_status: BTreeMap<String, u64>,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

/// This mount's use of the disk cache (the directory's totals are in `weaverfs cache DIR`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskSnapshot {
    pub hits: u64,
    pub misses: u64,
    /// Block bytes read from disk (hits).
    pub bytes_read: u64,
    /// Block bytes written to disk.
    pub bytes_written: u64,
    pub blocks_written: u64,
    pub evictions: u64,
    /// Blocks found torn or damaged and dropped.
    pub dropped_corrupt: u64,
    pub limit_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CacheSnapshot {
    pub hits: u64,
    pub misses: u64,
    /// Misses that waited for a fetch already under way.
    pub coalesced: u64,
    pub evictions: u64,
    /// Blocks fetched by read-ahead and then read.
    pub read_ahead_hits: u64,
    pub used_bytes: u64,
    /// The most `used_bytes` has been.
    #[serde(default)]
    pub peak_used_bytes: u64,
    pub capacity_bytes: u64,
    /// Memory of the block buffers (in the cache, being filled or read, idle in the pool).
    #[serde(default)]
    pub buffer_bytes: u64,
    #[serde(default)]
    pub peak_buffer_bytes: u64,
}

/// The snapshot as a table for people.
pub fn render_table(s: &Snapshot) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ms = |v: f64| format!("{v:.1}ms");
    let _ = writeln!(out, "uptime          {}", human_duration(s.uptime_seconds));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<12} {:>8} {:>9} {:>9} {:>9}  STATUS",
        "REQUESTS", "COUNT", "P50", "P90", "P99"
    );
    let row = |out: &mut String, name: &str, count: u64, p: &Percentiles, status: String| {
        let _ = writeln!(
            out,
            "{name:<12} {count:>8} {:>9} {:>9} {:>9}  {status}",
            ms(p.p50),
            ms(p.p90),
            ms(p.p99)
        );
    };
    for (name, k) in s.requests.iter().filter(|(_, k)| k.count > 0) {
        row(
            &mut out,
            name,
            k.count,
            &k.latency_ms,
            counts_line(&k.by_status),
        );
    }
    row(
        &mut out,
        "all",
        s.requests_total,
        &s.latency_ms,
        counts_line(&s.status_classes),
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "retries         {}", s.retries);
    let _ = writeln!(out, "bytes fetched   {}", human_bytes(s.bytes_fetched));
    let _ = writeln!(out, "bytes served    {}", human_bytes(s.bytes_served));
    let c = &s.cache;
    let _ = writeln!(
        out,
        "block cache     hits {}, misses {}, coalesced {}, evictions {}, read-ahead hits {}",
        c.hits, c.misses, c.coalesced, c.evictions, c.read_ahead_hits
    );
    let _ = writeln!(
        out,
        "cache memory    {} of {} (peak {}; block buffers {}, peak {})",
        human_bytes(c.used_bytes),
        human_bytes(c.capacity_bytes),
        human_bytes(c.peak_used_bytes),
        human_bytes(c.buffer_bytes),
        human_bytes(c.peak_buffer_bytes)
    );
    if let Some(d) = &s.disk_cache {
        let _ = writeln!(
            out,
            "disk cache      hits {}, misses {}, read {}, written {}, evictions {}, dropped {}",
            d.hits,
            d.misses,
            human_bytes(d.bytes_read),
            human_bytes(d.bytes_written),
            d.evictions,
            d.dropped_corrupt
        );
        let _ = writeln!(out, "passthrough     {} opens", s.passthrough_opens);
    }
    if s.refetched_past_caches + s.digests_verified + s.digest_mismatches > 0 {
        let _ = writeln!(
            out,
            "validation      refetched past caches {}, digests verified {}, mismatched {}",
            s.refetched_past_caches, s.digests_verified, s.digest_mismatches
        );
    }
    let errors = if s.errors.is_empty() {
        "none".to_string()
    } else {
        counts_line(&s.errors)
    };
    let _ = writeln!(out, "errors          {errors}");
    out
}

/// `200:3 404:1`
fn counts_line(counts: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k}:{n}")).collect();
    parts.join(" ")
}

/// `12345678` → `11.8 MiB (12345678 bytes)`
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {} ({n} bytes)", UNITS[unit])
    }
}

fn human_duration(seconds: f64) -> String {
    let s = seconds as u64;
    match s {
        0..=59 => format!("{seconds:.1}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// `weaverfs stats MOUNTPOINT`: reads the mount's stats file and prints it as a table, or as
/// the raw JSON.
pub fn print_stats(mountpoint: &std::path::Path, raw: bool) -> Result<(), String> {
    let path = mountpoint.join(STATS_DIR).join(STATS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{} is not a weaverfs mount (no {STATS_DIR}/{STATS_FILE})",
            mountpoint.display()
        ),
        _ => format!("{}: {e}", path.display()),
    })?;
    if raw {
        print!("{text}");
        return Ok(());
    }
    let snapshot: Snapshot =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    print!("{}", render_table(&snapshot));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn request_kinds_from_method_url_and_range() {
        let jobs = url("https://h/weaver/jobs");
        let get =
            |u: &str, h: &[(HeaderName, &str)]| RequestKind::of(&Method::GET, &url(u), h, &jobs);
        assert_eq!(
            get("https://h/weaver/jobs?limit=1", &[]),
            RequestKind::Listing
        );
        assert_eq!(get("https://h/weaver/jobs/abc", &[]), RequestKind::Status);
        assert_eq!(
            get("https://h/weaver/jobs/abc/results", &[]),
            RequestKind::Results
        );
        assert_eq!(
            get("https://h/weaver/jobs/abc/outputs?schema=OGC", &[]),
            RequestKind::Results
        );
        assert_eq!(
            get("https://h/weaver/jobs/abc/logs", &[]),
            RequestKind::Document
        );
        // Another path or another origin is not the API.
        assert_eq!(
            get("https://h/weaver/jobsx/a.nc", &[]),
            RequestKind::WholeBody
        );
        assert_eq!(
            get("https://files/weaver/jobs/a", &[]),
            RequestKind::WholeBody
        );
        assert_eq!(
            get("https://h/wpsoutputs/abc/dir/", &[]),
            RequestKind::Index
        );
        let f = "https://h/wpsoutputs/abc/out/a.nc";
        assert_eq!(get(f, &[(RANGE, "bytes=0-0")]), RequestKind::Probe);
        assert_eq!(
            get(f, &[(RANGE, "bytes=0-0"), (IF_RANGE, "\"e\"")]),
            RequestKind::Range
        );
        assert_eq!(
            get(f, &[(RANGE, "bytes=1048576-2097151")]),
            RequestKind::Range
        );
        assert_eq!(
            RequestKind::of(&Method::HEAD, &url(f), &[], &jobs),
            RequestKind::Probe
        );
    }

    #[test]
    fn histogram_buckets_bound_their_values() {
        for v in (0..5000u64).chain([65_535, 1 << 30, 123_456_789, u64::MAX / 2]) {
            let i = Histogram::bucket_of(v);
            let upper = Histogram::upper_bound(i);
            assert!(
                upper >= v || i == Histogram::new().buckets.len() - 1,
                "{v} > {upper}"
            );
            if (LINEAR_BELOW..1 << 44).contains(&v) {
                // Within 12.5% above the value.
                assert!(upper as f64 <= v as f64 * 1.125 + 1.0, "{v} -> {upper}");
            }
            if i > 0 {
                assert!(Histogram::upper_bound(i - 1) < v, "{v} in bucket {i}");
            }
        }
    }

    #[test]
    fn percentiles_of_known_latencies() {
        let h = Histogram::new();
        // 90 requests of 1 ms, 9 of 10 ms, 1 of 200 ms.
        for _ in 0..90 {
            h.record(Duration::from_millis(1));
        }
        for _ in 0..9 {
            h.record(Duration::from_millis(10));
        }
        h.record(Duration::from_millis(200));
        let p = percentiles(&h.counts());
        let near = |got: f64, want: f64| got >= want && got <= want * 1.125;
        assert!(near(p.p50, 1.0), "{p:?}");
        assert!(near(p.p90, 1.0), "{p:?}");
        assert!(near(p.p99, 10.0), "{p:?}");
        assert_eq!(
            percentiles(&Histogram::new().counts()),
            Percentiles::default()
        );
    }

    #[test]
    fn snapshot_counts_and_renders() {
        let stats = Stats::new(&url("http://h/weaver/"));
        let kind = stats.kind_of(&Method::GET, &url("http://h/weaver/jobs/x"), &[]);
        assert_eq!(kind, RequestKind::Status);
        stats.request(
            kind,
            &Err(FsError::TimedOut("t".into())),
            Duration::from_millis(3),
        );
        stats.request(
            kind,
            &Err(FsError::Io("refused".into())),
            Duration::from_millis(1),
        );
        stats.fetched(10);
        stats.served(7);
        stats.error(libc::EIO);
        stats.error(libc::EIO);
        stats.error(libc::ENOENT);
        stats.retried();
        let s = stats.snapshot();
        assert_eq!(s.requests_total, 2);
        assert_eq!(s.requests["status"].by_status["timeout"], 1);
        assert_eq!(s.status_classes["failed"], 1);
        assert_eq!((s.bytes_fetched, s.bytes_served, s.retries), (10, 7, 1));
        assert_eq!(s.errors, BTreeMap::from([("EIO".to_string(), 2)]));
        let back: Snapshot = serde_json::from_slice(&stats.json()).unwrap();
        assert_eq!(back.requests_total, 2);
        let table = render_table(&back);
        assert!(table.contains("status"), "{table}");
        assert!(table.contains("timeout:1"), "{table}");
        assert!(table.contains("EIO:2"), "{table}");
        assert!(
            !table.contains("range "),
            "kinds without requests are left out: {table}"
        );
    }

    #[test]
    fn status_classes_and_sizes() {
        assert_eq!(status_class("206"), "2xx");
        assert_eq!(status_class("404"), "4xx");
        assert_eq!(status_class("timeout"), "timeout");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB (3145728 bytes)");
    }
}
