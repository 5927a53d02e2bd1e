//! A soak: sustained mixed load on one mount through the sample server's random faults (every
//! transient kind, at a set rate), with a cache smaller than the files. Every byte read is
//! compared with the server's; no file changes, so any ESTALE is false; a call that outlives the
//! bound on a call is a hang; the daemon's RSS, open fds and threads are sampled throughout and
//! must come back near their baseline once the handles are closed.
//!
//! `SOAK_SECS` (60), `SOAK_WORKERS` (9), `SOAK_RATE` (0.05 of all requests faulted),
//! `SOAK_CACHE` (8M), `SOAK_SEED`, `SOAK_REPORT` (a JSON report file). `scripts/soak.sh` runs it
//! for longer and keeps the report.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Lcg, Mounted};
use serde_json::json;
use weaverfs_server::{jobs, Fault, RandomFaults, ServerConfig};

/// --retry-max-time: a call answers within 2 × this + --connect-timeout.
const RETRY_MAX_TIME: u64 = 10;
/// A call running longer than this is a hang.
const HANG: Duration = Duration::from_secs(2 * RETRY_MAX_TIME + 2 + 15);

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every transient fault the server injects (no file changes: those are not transient).
fn transient_faults() -> Vec<Fault> {
    let ms = Duration::from_millis;
    let status = |code, retry_after| Fault::Status { code, retry_after };
    vec![
        Fault::Reset { after: 0 },
        Fault::Reset { after: 5000 },
        status(500, None),
        status(502, None),
        status(503, Some(0)),
        status(504, None),
        status(429, None),
        status(429, Some(1)),
        status(412, None),
        status(416, None),
        Fault::SlowFirstByte(ms(300)),
        // Past --read-timeout: the attempt times out and is tried again.
        Fault::SlowFirstByte(ms(2500)),
        Fault::Stall {
            after: 2000,
            pause: ms(300),
        },
        Fault::ShortBody { missing: 10 },
        Fault::WrongContentRange,
        Fault::IgnoreRange,
        Fault::ShiftRange { by: 10 },
        Fault::ShiftRange { by: 1 << 20 },
    ]
}

/// One file the workers read: its path in the mount and its true bytes.
struct Target {
    rel: String,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Tally {
    reads: u64,
    bytes: u64,
    /// Of those, reads around the page cache (each one a read of the daemon).
    direct_reads: u64,
    direct_bytes: u64,
    wrong: u64,
    false_estale: u64,
    listings: u64,
    documents: u64,
    opens: u64,
    errors: BTreeMap<String, u64>,
    /// The first few failures, word for word.
    examples: Vec<String>,
}

impl Tally {
    fn failed(&mut self, what: &str, e: &std::io::Error) {
        let errno = e.raw_os_error().unwrap_or(0);
        if errno == libc::ESTALE {
            self.false_estale += 1;
        }
        *self.errors.entry(errno_name(errno)).or_insert(0) += 1;
        if self.examples.len() < 20 {
            self.examples.push(format!("{what}: {e}"));
        }
    }
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::EIO => "EIO".into(),
        libc::ETIMEDOUT => "ETIMEDOUT".into(),
        libc::ESTALE => "ESTALE".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EACCES => "EACCES".into(),
        0 => "not an OS error".into(),
        n => format!("errno {n}"),
    }
}

/// The daemon's resources at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    secs: f64,
    rss_kib: u64,
    fds: u64,
    threads: u64,
}

fn sample(pid: u32, start: Instant) -> Sample {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Sample {
        secs: start.elapsed().as_secs_f64(),
        rss_kib: field("VmRSS:"),
        fds,
        threads: field("Threads:"),
    }
}

/// What a worker does in a loop.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// Random preads around the page cache (each one a FUSE read).
    RandomDirect,
    /// Random preads through the page cache.
    RandomCached,
    /// Whole files, start to end.
    Sequential,
    /// The root and job directories listed, their entries stat'ed.
    Listing,
    /// `.job/status.json` and `.weaverfs/stats.json`, parsed.
    Documents,
    /// Open, one small read, close.
    Churn,
}

const ROLES: [Role; 9] = [
    Role::RandomDirect,
    Role::Sequential,
    Role::Listing,
    Role::RandomCached,
    Role::Documents,
    Role::Churn,
    Role::RandomDirect,
    Role::Sequential,
    Role::Churn,
];

struct Worker {
    root: PathBuf,
    targets: Arc<Vec<Target>>,
    tally: Arc<Mutex<Tally>>,
    /// Milliseconds since the start at which the current call began, 0 when idle.
    busy_since: Arc<AtomicU64>,
    start: Instant,
}

impl Worker {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one filesystem call under the hang watch.
    fn call<T>(&self, f: impl FnOnce() -> T) -> T {
        let now = self.start.elapsed().as_millis() as u64 + 1;
        self.busy_since.store(now, Ordering::Relaxed);
        let out = f();
        self.busy_since.store(0, Ordering::Relaxed);
        out
    }

    /// Compares a read of `len` bytes at `offset` (`direct`: around the page cache).
    fn check(
        &self,
        t: &Target,
        offset: u64,
        got: std::io::Result<&[u8]>,
        len: usize,
        direct: bool,
    ) {
        let mut tally = self.tally();
        match got {
            Ok(got) => {
                let start = (offset as usize).min(t.bytes.len());
                let want = &t.bytes[start..(start + len).min(t.bytes.len())];
                tally.reads += 1;
                tally.bytes += got.len() as u64;
                if direct {
                    tally.direct_reads += 1;
                    tally.direct_bytes += got.len() as u64;
                }
                if got != want {
                    tally.wrong += 1;
                    let what = format!("{} at {offset}+{len}: wrong bytes", t.rel);
                    tally.examples.push(what);
                }
            }
            Err(e) => tally.failed(&format!("{} at {offset}+{len}", t.rel), &e),
        }
    }

    fn open(&self, t: &Target, direct: bool) -> Option<File> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        if direct {
            opts.custom_flags(libc::O_DIRECT);
        }
        let opened = self.call(|| opts.open(self.root.join(&t.rel)));
        let mut tally = self.tally();
        tally.opens += 1;
        match opened {
            Ok(f) => Some(f),
            Err(e) => {
                tally.failed(&format!("open {}", t.rel), &e);
                None
            }
        }
    }

    fn pick<'a>(&'a self, rng: &mut Lcg) -> &'a Target {
        &self.targets[rng.below(self.targets.len() as u64) as usize]
    }

    fn random_reads(&self, rng: &mut Lcg, direct: bool, until: Instant) {
        let mut buf = vec![0u8; 1 << 20];
        while Instant::now() < until {
            let t = self.pick(rng);
            let Some(f) = self.open(t, direct) else {
                continue;
            };
            // A handle serves a few dozen reads, then another file is opened.
            for _ in 0..40 {
                let size = t.bytes.len() as u64;
                let offset = rng.below(size + 100);
                let longest = [4096, 100_000, 1 << 20][rng.below(3) as usize];
                let len = 1 + rng.below(longest) as usize;
                let got = self.call(|| f.read_at(&mut buf[..len], offset));
                self.check(t, offset, got.map(|n| &buf[..n]), len, direct);
                if Instant::now() >= until {
                    break;
                }
            }
        }
    }

    /// Whole files: through the page cache (kept across opens), or around it in 1 MiB reads,
    /// so that every block comes through the daemon.
    fn sequential(&self, rng: &mut Lcg, until: Instant) {
        let mut buf = vec![0u8; 1 << 20];
        let mut through_page_cache = false;
        while Instant::now() < until {
            let t = self.pick(rng);
            through_page_cache = !through_page_cache;
            if through_page_cache {
                let got = self.call(|| fs::read(self.root.join(&t.rel)));
                self.tally().opens += 1;
                self.check(
                    t,
                    0,
                    got.as_deref().map_err(clone_error),
                    t.bytes.len(),
                    false,
                );
                continue;
            }
            let Some(f) = self.open(t, true) else {
                continue;
            };
            let mut offset = 0u64;
            while offset < t.bytes.len() as u64 {
                let got = self.call(|| f.read_at(&mut buf, offset));
                let n = *got.as_ref().unwrap_or(&0);
                self.check(t, offset, got.map(|n| &buf[..n]), buf.len(), true);
                if n == 0 {
                    break;
                }
                offset += n as u64;
            }
        }
    }

    fn churn(&self, rng: &mut Lcg, until: Instant) {
        let mut buf = vec![0u8; 4096];
        while Instant::now() < until {
            let t = self.pick(rng);
            let direct = rng.below(2) == 0;
            let Some(f) = self.open(t, direct) else {
                continue;
            };
            let offset = rng.below(t.bytes.len() as u64 + 1) & !4095;
            let got = self.call(|| f.read_at(&mut buf, offset));
            self.check(t, offset, got.map(|n| &buf[..n]), buf.len(), direct);
            self.call(|| drop(f));
        }
    }

    fn listing(&self, until: Instant) {
        while Instant::now() < until {
            let listed = self.call(|| list_and_stat(&self.root));
            let mut tally = self.tally();
            match listed {
                Ok(_) => tally.listings += 1,
                Err(e) => tally.failed("listing", &e),
            }
        }
    }

    fn documents(&self, until: Instant) {
        let docs = [
            self.root.join(jobs::FILES).join(".job/status.json"),
            self.root.join(".weaverfs/stats.json"),
        ];
        while Instant::now() < until {
            for doc in &docs {
                let read = self.call(|| fs::read(doc));
                let mut tally = self.tally();
                match read {
                    Ok(text) => match serde_json::from_slice::<serde_json::Value>(&text) {
                        Ok(_) => tally.documents += 1,
                        Err(e) => {
                            tally.wrong += 1;
                            tally
                                .examples
                                .push(format!("{}: bad JSON: {e}", doc.display()));
                        }
                    },
                    Err(e) => tally.failed(&doc.display().to_string(), &e),
                }
            }
        }
    }

    fn run(&self, role: Role, seed: u64, until: Instant) {
        let mut rng = Lcg(seed);
        match role {
            Role::RandomDirect => self.random_reads(&mut rng, true, until),
            Role::RandomCached => self.random_reads(&mut rng, false, until),
            Role::Sequential => self.sequential(&mut rng, until),
            Role::Listing => self.listing(until),
            Role::Documents => self.documents(until),
            Role::Churn => self.churn(&mut rng, until),
        }
    }
}

fn clone_error(e: &std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::new(e.kind(), e.to_string()),
    }
}

/// The root, and each job directory in it, listed with every entry stat'ed.
fn list_and_stat(root: &Path) -> std::io::Result<usize> {
    let mut seen = 0;
    for job in fs::read_dir(root)? {
        let job = job?.path();
        if !job.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&job)? {
            entry?.metadata()?;
            seen += 1;
        }
    }
    Ok(seen)
}

#[test]
fn soak() {
    let secs: u64 = env("SOAK_SECS", 60);
    let workers: usize = env("SOAK_WORKERS", 9);
    let rate: f64 = env("SOAK_RATE", 0.05);
    let cache: String = env("SOAK_CACHE", "8M".to_string());
    let seed: u64 = env("SOAK_SEED", 0x50a4_5eed);
    let cfg = ServerConfig {
        big_file_size: (24 << 20) + 12_345,
        extra_jobs: 6,
        extra_file_size: (3 << 20) + 777,
        ..ServerConfig::default()
    };
    let retry_max_time = RETRY_MAX_TIME.to_string();
    let m = Mounted::start(
        cfg,
        &[
            "--cache-size",
            &cache,
            "--connect-timeout",
            "2",
            "--read-timeout",
            "2",
            "--retries",
            "6",
            "--retry-max-time",
            &retry_max_time,
            // Files are probed again often, so re-probes meet faults too.
            "--job-ttl",
            "5",
            "--listing-ttl",
            "5",
        ],
    );
    let mut rels: Vec<(String, String)> = vec![
        ("output_big.dat", "output_big/big.dat"),
        ("output_bin.bin", "output_bin/data.bin"),
        ("output_text.txt", "output_text/result.txt"),
    ]
    .into_iter()
    .map(|(rel, url)| {
        let rel = format!("{}/{rel}", jobs::FILES);
        (rel, format!("/wpsoutputs/{}/{url}", jobs::FILES))
    })
    .collect();
    for part in ["p1.txt", "p2.txt"] {
        let rel = format!("{}/parts/{part}", jobs::OLD);
        rels.push((rel, format!("/wpsoutputs/{}/parts/{part}", jobs::OLD)));
    }
    for i in 0..6 {
        let id = jobs::extra_job_id(i);
        rels.push((
            format!("{id}/data.bin"),
            format!("/wpsoutputs/{id}/data/data.bin"),
        ));
    }
    let targets: Vec<Target> = rels
        .into_iter()
        .map(|(rel, url)| {
            let bytes = m.server.file_bytes(&url, 0, u64::MAX).expect("served");
            Target { rel, bytes }
        })
        .collect();
    // Warm up without faults: every directory listed, every file opened once.
    list_and_stat(m.root()).unwrap();
    for t in &targets {
        assert_eq!(
            fs::metadata(m.path(&t.rel)).unwrap().len(),
            t.bytes.len() as u64
        );
    }
    let pid = m.pid();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let baseline = sample(pid, start);

    m.server.set_random_faults(Some(RandomFaults {
        seed,
        probability: rate,
        prefix: "/".into(),
        kinds: transient_faults(),
    }));
    let targets = Arc::new(targets);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut busy = Vec::new();
    let mut threads = Vec::new();
    for i in 0..workers {
        let worker = Worker {
            root: m.root().to_path_buf(),
            targets: targets.clone(),
            tally: tally.clone(),
            busy_since: Arc::new(AtomicU64::new(0)),
            start,
        };
        busy.push(worker.busy_since.clone());
        let role = ROLES[i % ROLES.len()];
        let seed = seed.wrapping_add(i as u64 * 7919);
        threads.push(std::thread::spawn(move || worker.run(role, seed, until)));
    }
    // Watch: resources every few seconds, and any call running past the bound.
    let mut samples = vec![baseline];
    let mut hangs = 0u64;
    let hung = AtomicBool::new(false);
    let mut last_print = Instant::now();
    while threads.iter().any(|t| !t.is_finished()) {
        std::thread::sleep(Duration::from_secs(2));
        let now_ms = start.elapsed().as_millis() as u64;
        let stuck = busy
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .filter(|&b| b > 0 && now_ms.saturating_sub(b) > HANG.as_millis() as u64)
            .count();
        if stuck > 0 && !hung.swap(true, Ordering::Relaxed) {
            hangs += stuck as u64;
            eprintln!("soak: {stuck} call(s) running for more than {HANG:?}");
        }
        if Instant::now() > until + HANG + Duration::from_secs(30) {
            break;
        }
        samples.push(sample(pid, start));
        // The server records every request; the soak does not need them.
        m.server.clear_requests();
        if last_print.elapsed() >= Duration::from_secs(30) {
            let s = samples.last().unwrap();
            let t = tally.lock().unwrap();
            eprintln!(
                "soak {:>5.0} s: {} reads, {} MB, errors {:?}, RSS {} MiB, {} fds, {} threads",
                s.secs,
                t.reads,
                t.bytes / 1_000_000,
                t.errors,
                s.rss_kib / 1024,
                s.fds,
                s.threads
            );
            last_print = Instant::now();
        }
    }
    let unfinished = threads.iter().filter(|t| !t.is_finished()).count() as u64;
    hangs = hangs.max(unfinished);
    for t in threads {
        if t.is_finished() {
            t.join().expect("a worker panicked");
        }
    }
    m.server.set_random_faults(None);
    let faults = m.server.fault_counts();

    // Every handle is closed: the daemon must come back near its baseline (idle connections
    // and the runtime's idle threads take a little while to go).
    let cache_kib = cache_size_kib(&cache);
    let settled = |s: &Sample| {
        s.fds <= baseline.fds + 4
            && s.threads <= baseline.threads + 4
            && s.rss_kib <= baseline.rss_kib + cache_kib + 48 * 1024
    };
    let mut after = sample(pid, start);
    let settle_until = Instant::now() + Duration::from_secs(60);
    while !settled(&after) && Instant::now() < settle_until {
        std::thread::sleep(Duration::from_secs(1));
        after = sample(pid, start);
    }
    samples.push(after);

    // The mount's own account of the run (read with the faults off).
    let stats: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path(".weaverfs/stats.json")).unwrap()).unwrap();
    let mount = json!({
        "requests_total": stats["requests_total"],
        "status_classes": stats["status_classes"],
        "retries": stats["retries"],
        "bytes_fetched": stats["bytes_fetched"],
        "bytes_served": stats["bytes_served"],
        "cache": stats["cache"],
        "errors": stats["errors"],
    });
    let t = tally.lock().unwrap();
    let peak = |f: fn(&Sample) -> u64| samples.iter().map(f).max().unwrap_or(0);
    let report = json!({
        "seconds": secs,
        "workers": workers,
        "fault_rate": rate,
        "cache": cache,
        "seed": seed,
        "reads": t.reads,
        "bytes": t.bytes,
        "direct_reads": t.direct_reads,
        "direct_bytes": t.direct_bytes,
        "mount_stats": mount,
        "wrong": t.wrong,
        "false_estale": t.false_estale,
        "hangs": hangs,
        "listings": t.listings,
        "documents": t.documents,
        "opens": t.opens,
        "errors_by_errno": t.errors,
        "error_examples": t.examples,
        "faults_injected": faults,
        "baseline": {"rss_kib": baseline.rss_kib, "fds": baseline.fds, "threads": baseline.threads},
        "peak": {"rss_kib": peak(|s| s.rss_kib), "fds": peak(|s| s.fds), "threads": peak(|s| s.threads)},
        "after_close": {"rss_kib": after.rss_kib, "fds": after.fds, "threads": after.threads,
                        "secs_to_settle": after.secs - secs as f64},
        "samples": samples.iter().map(|s| json!([s.secs.round(), s.rss_kib, s.fds, s.threads])).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    if let Ok(path) = std::env::var("SOAK_REPORT") {
        fs::write(&path, &text).unwrap();
    }
    println!(
        "soak: {secs} s, {workers} workers, fault rate {rate}, cache {cache}: {} reads exact of {} \
         ({} MB; {} reads, {} MB around the page cache), {} wrong, {} false ESTALE, {hangs} hangs; errors {:?}; {} listings, {} documents, \
         {} opens; faults {:?}; RSS {} -> {} peak -> {} MiB, fds {} -> {} -> {}, threads {} -> {} -> {}; mount stats {mount}",
        t.reads - t.wrong,
        t.reads,
        t.bytes / 1_000_000,
        t.direct_reads,
        t.direct_bytes / 1_000_000,
        t.wrong,
        t.false_estale,
        t.errors,
        t.listings,
        t.documents,
        t.opens,
        faults,
        baseline.rss_kib / 1024,
        peak(|s| s.rss_kib) / 1024,
        after.rss_kib / 1024,
        baseline.fds,
        peak(|s| s.fds),
        after.fds,
        baseline.threads,
        peak(|s| s.threads),
        after.threads
    );
    for e in &t.examples {
        println!("  {e}");
    }
    assert_eq!(t.wrong, 0, "wrong bytes: {:?}", t.examples);
    assert_eq!(t.false_estale, 0, "false ESTALE: {:?}", t.examples);
    assert_eq!(hangs, 0, "a call hung");
    assert!(t.reads > 100, "too few reads to mean anything");
    assert!(
        faults.values().sum::<u64>() > 50,
        "too few faults: {faults:?}"
    );
    assert!(
        settled(&after),
        "not back near the baseline once the handles closed: {baseline:?} -> {after:?}"
    );
    drop(t);
    m.unmount();
}

fn cache_size_kib(size: &str) -> u64 {
    let (num, unit) = size.split_at(size.len() - 1);
    let n: u64 = num.parse().unwrap_or(0);
    match unit {
        "K" => n,
        "M" => n << 10,
        "G" => n << 20,
        _ => size.parse::<u64>().unwrap_or(0) >> 10,
    }
}
