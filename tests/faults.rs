//! Reliability through a real mount: every fault the built-in server can inject is retried to
//! the exact bytes, or ends in its documented errno; an outage ends and the same mount works
//! again; random faults never produce a wrong byte; many readers share one fetch per block.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Lcg, Mounted};
use weaverfs_fs::client::http::{HttpClient, HttpOptions};
use weaverfs_fs::client::retry::RetryPolicy;
use weaverfs_fs::read::probe;
use weaverfs_server::{jobs, Fault, RandomFaults, ServerConfig, TestServer};

const BIG_SIZE: u64 = 4 << 20;
const BLOCK: u64 = 256 << 10;

fn server() -> ServerConfig {
    ServerConfig {
        big_file_size: BIG_SIZE,
        ..ServerConfig::default()
    }
}

/// Short timeouts so that a fault costs the suite a second, not half a minute.
const FAST: &[&str] = &[
    "--block-size",
    "256K",
    "--read-timeout",
    "1",
    "--connect-timeout",
    "1",
    "--retries",
    "4",
    "--retry-max-time",
    "10",
];

/// Mounts with the [`FAST`] options, `overrides` (option, value pairs) taking precedence.
fn mount_with(cfg: ServerConfig, overrides: &[&str]) -> Mounted {
    let mut args: Vec<&str> = Vec::new();
    for pair in FAST.chunks(2) {
        if !overrides.chunks(2).any(|o| o[0] == pair[0]) {
            args.extend_from_slice(pair);
        }
    }
    args.extend_from_slice(overrides);
    Mounted::start(cfg, &args)
}

fn mount(overrides: &[&str]) -> Mounted {
    mount_with(server(), overrides)
}

fn big_url() -> String {
    format!("/wpsoutputs/{}/output_big/big.dat", jobs::FILES)
}

fn big_rel() -> String {
    format!("{}/output_big.dat", jobs::FILES)
}

fn truth(m: &Mounted, url: &str) -> Vec<u8> {
    m.server.file_bytes(url, 0, u64::MAX).expect("served")
}

/// The Range of the size probe, a GET of the first 64 KiB.
const PROBE_RANGE: &str = "bytes=0-65535";

/// GET requests for `url` that read blocks, by Range header (the size probe left out).
fn gets_by_range(m: &Mounted, url: &str) -> BTreeMap<String, usize> {
    let mut by_range = BTreeMap::new();
    for r in m.server.requests() {
        if r.method == "GET" && r.path == url && r.range.as_deref() != Some(PROBE_RANGE) {
            *by_range.entry(r.range.unwrap_or_default()).or_insert(0) += 1;
        }
    }
    by_range
}

fn gets(m: &Mounted, url: &str) -> usize {
    gets_by_range(m, url).values().sum()
}

/// A handle that bypasses the page cache, so each `pread` is exactly one FUSE read.
fn open_direct(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_block(f: &File, index: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; BLOCK as usize];
    let n = f.read_at(&mut buf, index * BLOCK)?;
    buf.truncate(n);
    Ok(buf)
}

fn errno(r: std::io::Result<impl std::fmt::Debug>) -> i32 {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.raw_os_error().unwrap_or_else(|| panic!("{e}")),
    }
}

#[test]
fn every_transient_fault_is_retried_to_the_exact_bytes() {
    let secs = Duration::from_secs;
    let faults = [
        Fault::Reset { after: 0 },
        Fault::Reset { after: 100_000 },
        Fault::Status {
            code: 500,
            retry_after: None,
        },
        Fault::Status {
            code: 502,
            retry_after: None,
        },
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        Fault::Status {
            code: 504,
            retry_after: None,
        },
        Fault::Status {
            code: 429,
            retry_after: None,
        },
        Fault::Status {
            code: 503,
            retry_after: Some(2),
        },
        Fault::Status {
            code: 429,
            retry_after: Some(1),
        },
        Fault::SlowFirstByte(secs(3)),
        Fault::Stall {
            after: 4096,
            pause: secs(3),
        },
        Fault::ShortBody { missing: 1000 },
        Fault::WrongContentRange,
        Fault::IgnoreRange,
    ];
    let blocks = BIG_SIZE.div_ceil(BLOCK) as usize;
    for fault in faults {
        // Whole-block reads around the page cache, without read-ahead: every GET is one the
        // reader waits for, so a Retry-After shows in its time.
        let m = mount(&["--read-ahead-blocks", "0"]);
        let path = m.path(&big_rel());
        assert_eq!(fs::metadata(&path).unwrap().len(), BIG_SIZE);
        let f = open_direct(&path);
        m.server.clear_requests();
        m.server.inject(&big_url(), fault.clone());
        let start = Instant::now();
        let mut got = Vec::new();
        for index in 0..blocks as u64 {
            let block = read_block(&f, index).unwrap_or_else(|e| panic!("{fault:?}: {e}"));
            got.extend_from_slice(&block);
        }
        let took = start.elapsed();
        drop(f);
        assert!(got == truth(&m, &big_url()), "{fault:?}: wrong bytes");
        assert_eq!(m.server.pending_faults(), 0, "{fault:?} was not applied");
        assert_eq!(m.server.faults_injected(), 1, "{fault:?}");
        if fault != Fault::IgnoreRange {
            // Each block once, plus the one retry of the faulted block.
            assert_eq!(gets(&m, &big_url()), blocks + 1, "{fault:?}");
        }
        if let Fault::Status {
            retry_after: Some(s),
            ..
        } = fault
        {
            assert!(
                took >= secs(s),
                "{fault:?}: Retry-After not honoured ({took:?})"
            );
        }
        m.unmount();
    }
}

#[test]
fn exhausted_and_final_failures_map_to_their_errno_and_are_not_cached() {
    let m = mount(&["--retries", "2", "--read-ahead-blocks", "0"]);
    let path = m.path(&big_rel());
    let f = open_direct(&path);
    let url = big_url();
    let truth = truth(&m, &url);
    let cases: [(Fault, i32, usize); 7] = [
        // Transient: 1 + 2 retries, then EIO or ETIMEDOUT.
        (
            Fault::Status {
                code: 503,
                retry_after: None,
            },
            libc::EIO,
            3,
        ),
        (Fault::Reset { after: 10 }, libc::EIO, 3),
        (
            Fault::SlowFirstByte(Duration::from_secs(3)),
            libc::ETIMEDOUT,
            3,
        ),
        // Final: one request, no retry.
        (
            Fault::Status {
                code: 400,
                retry_after: None,
            },
            libc::EIO,
            1,
        ),
        (
            Fault::Status {
                code: 403,
                retry_after: None,
            },
            libc::EACCES,
            1,
        ),
        (
            Fault::Status {
                code: 404,
                retry_after: None,
            },
            libc::ENOENT,
            1,
        ),
        (
            Fault::Status {
                code: 410,
                retry_after: None,
            },
            libc::ENOENT,
            1,
        ),
    ];
    // Each case reads its own block, since the one before left its block cached.
    for (index, (fault, want, attempts)) in (1u64..).zip(cases) {
        m.server.clear_requests();
        m.server.inject_times(&url, fault.clone(), 20);
        assert_eq!(errno(read_block(&f, index)), want, "{fault:?}");
        assert_eq!(gets(&m, &url), attempts, "{fault:?}");
        // The failure was not cached: once the server is well, the same handle reads.
        m.server.clear_faults();
        let span = (index * BLOCK) as usize..((index + 1) * BLOCK) as usize;
        assert!(read_block(&f, index).unwrap() == truth[span], "{fault:?}");
    }
    drop(f);
    m.unmount();
}

#[test]
fn a_file_changed_between_blocks_is_estale_and_reopening_shows_the_new_version() {
    let m = mount(&["--read-ahead-blocks", "0"]);
    let (path, url) = (m.path(&big_rel()), big_url());
    let old = truth(&m, &url);
    let f = open_direct(&path);
    assert!(read_block(&f, 0).unwrap() == old[..BLOCK as usize]);
    m.server.clear_requests();
    m.server.inject(&url, Fault::ChangeFile);
    assert_eq!(errno(read_block(&f, 5)), libc::ESTALE);
    // Asked once more past any cache (no-cache), then a fresh HEAD decides; never retried.
    let asked: Vec<_> = m
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == url)
        .map(|r| {
            let cc = r
                .headers
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_string());
            (r.method, cc)
        })
        .collect();
    let no_cache = Some("no-cache".to_string());
    assert_eq!(
        asked,
        [
            ("GET".to_string(), None),
            ("GET".to_string(), no_cache.clone()),
            ("HEAD".to_string(), no_cache)
        ],
        "a changed file is not retried"
    );
    let new = truth(&m, &url);
    assert!(new != old && new.len() == old.len());
    // The open handle never mixes versions: what it has not read yet stays ESTALE.
    assert_eq!(errno(read_block(&f, 6)), libc::ESTALE);
    drop(f);
    // Opening again shows the new version, whole.
    assert!(fs::read(&path).unwrap() == new);
    m.unmount();
}

#[test]
fn an_outage_fails_fast_and_the_same_mount_recovers() {
    let m = mount(&["--retries", "2", "--retry-max-time", "3"]);
    let names_before = fs::read_dir(m.root()).unwrap().count();
    m.server.set_down(true);
    // Nothing fetched yet: errors, within the bound, and EIO rather than ENOENT, so that an
    // outage is never remembered as absence.
    let unlisted = m.path(jobs::UNLISTED);
    let big = m.path(&big_rel());
    let start = Instant::now();
    assert_eq!(errno(fs::metadata(&unlisted)), libc::EIO);
    assert_eq!(errno(fs::read(&big)), libc::EIO);
    // --retry-max-time 3 bounds each request; a call makes a few in a row at most.
    assert!(start.elapsed() < Duration::from_secs(2 * 3 * 2 + 2));
    // What was listed before the outage is still listed.
    assert_eq!(fs::read_dir(m.root()).unwrap().count(), names_before);
    assert!(m.server.faults_injected() > 0);

    m.server.set_down(false);
    assert!(fs::metadata(&unlisted).unwrap().is_dir());
    assert!(fs::read(&big).unwrap() == truth(&m, &big_url()));

    // An outage shorter than the retries is not seen at all: a read started during it
    // succeeds (503 with Retry-After: 1, then the server is back).
    let bin_url = format!("/wpsoutputs/{}/output_bin/data.bin", jobs::FILES);
    let bin = m.path(&format!("{}/output_bin.bin", jobs::FILES));
    fs::metadata(&bin).unwrap();
    m.server.set_down(true);
    let refused = m.server.faults_injected();
    let reader = std::thread::spawn(move || fs::read(bin));
    common::wait_for("the read to meet the outage", || {
        m.server.faults_injected() > refused
    });
    m.server.set_down(false);
    assert!(reader.join().unwrap().unwrap() == truth(&m, &bin_url));
    m.unmount();
}

#[test]
fn random_faults_never_yield_wrong_bytes() {
    const SEED: u64 = 0x5eed_fa17;
    const READS: usize = 300;
    let cfg = ServerConfig {
        big_file_size: (3 << 20) + 12_345,
        extra_jobs: 3,
        extra_file_size: (1 << 20) + 777,
        ..ServerConfig::default()
    };
    let m = mount_with(
        cfg,
        &[
            "--retries",
            "6",
            "--read-timeout",
            "0.3",
            "--retry-max-time",
            "20",
            // A cache smaller than the files, so that reads keep going to the server.
            "--block-size",
            "128K",
            "--cache-size",
            "4M",
        ],
    );
    let mut files: Vec<(String, String)> = ["output_big/big.dat", "output_bin/data.bin"]
        .iter()
        .zip(["output_big.dat", "output_bin.bin"])
        .map(|(url, rel)| {
            (
                format!("{}/{rel}", jobs::FILES),
                format!("/wpsoutputs/{}/{url}", jobs::FILES),
            )
        })
        .collect();
    for i in 0..3 {
        let id = jobs::extra_job_id(i);
        files.push((
            format!("{id}/data.bin"),
            format!("/wpsoutputs/{id}/data/data.bin"),
        ));
    }
    // Two handles per file: one through the page cache, one around it.
    let mut handles = Vec::new();
    for (rel, url) in &files {
        let bytes = truth(&m, url);
        handles.push((File::open(m.path(rel)).unwrap(), bytes.clone(), rel));
        handles.push((open_direct(&m.path(rel)), bytes, rel));
    }
    let pause = Duration::from_millis(800);
    m.server.set_random_faults(Some(RandomFaults {
        seed: SEED,
        probability: 0.3,
        prefix: "/wpsoutputs/".into(),
        kinds: vec![
            Fault::Reset { after: 0 },
            Fault::Reset { after: 5000 },
            Fault::Status {
                code: 500,
                retry_after: None,
            },
            Fault::Status {
                code: 503,
                retry_after: Some(0),
            },
            Fault::Status {
                code: 429,
                retry_after: None,
            },
            Fault::SlowFirstByte(pause),
            Fault::Stall { after: 2000, pause },
            Fault::ShortBody { missing: 10 },
            Fault::WrongContentRange,
            Fault::IgnoreRange,
        ],
    }));
    let mut rng = Lcg(SEED);
    let (mut ok, mut bytes_checked, mut errors) = (0usize, 0usize, Vec::new());
    let mut buf = vec![0u8; 3 << 20];
    for _ in 0..READS {
        let (file, want, rel) = &handles[rng.below(handles.len() as u64) as usize];
        let size = want.len() as u64;
        let offset = rng.below(size + 1000);
        let longest = [4096, 300_000, 1_300_000][rng.below(3) as usize];
        let len = 1 + rng.below(longest) as usize;
        match file.read_at(&mut buf[..len], offset) {
            Ok(n) => {
                let start = offset.min(size) as usize;
                let expected = &want[start..(start + len).min(want.len())];
                assert_eq!(n, expected.len(), "{rel} at {offset}+{len}: short read");
                assert!(
                    buf[..n] == *expected,
                    "{rel} at {offset}+{len}: wrong bytes"
                );
                ok += 1;
                bytes_checked += n;
            }
            Err(e) => errors.push(format!("{rel} at {offset}+{len}: {e}")),
        }
    }
    m.server.set_random_faults(None);
    let injected = m.server.faults_injected();
    println!(
        "{READS} random reads: {ok} exact ({bytes_checked} bytes checked), {} failed; \
         {injected} faults injected: {:?}",
        errors.len(),
        m.server.fault_counts()
    );
    assert!(injected >= 20, "too few faults to mean anything");
    // Six retries make a lasting failure very unlikely at this fault rate.
    assert!(errors.len() * 50 <= READS, "{errors:?}");
    drop(handles);
    m.unmount();
}

/// Runs `count` readers at once; fails instead of hanging if one does not finish in time.
fn concurrent_reads(count: usize, read: impl Fn(usize) + Send + Sync + 'static) {
    let read = std::sync::Arc::new(read);
    let (tx, rx) = mpsc::channel();
    for i in 0..count {
        let (tx, read) = (tx.clone(), read.clone());
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(i)));
            let _ = tx.send((i, outcome.is_ok()));
        });
    }
    for _ in 0..count {
        let (i, ok) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a reader hung (deadlock?)");
        assert!(ok, "reader {i} failed");
    }
}

/// A file read whole through O_DIRECT, one mount block (1 MiB) at a time in order: each read
/// reaches weaverfs as it was made.
fn read_direct_by_blocks(path: &Path) -> Vec<u8> {
    const MOUNT_BLOCK: usize = 1 << 20;
    let f = open_direct(path);
    let mut got = Vec::new();
    let mut buf = vec![0u8; MOUNT_BLOCK];
    loop {
        let n = f
            .read_at(&mut buf, got.len() as u64)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn thirty_two_readers_of_one_file_share_one_get_per_block() {
    let size = (16 << 20) + 5;
    let cfg = ServerConfig {
        big_file_size: size,
        ..ServerConfig::default()
    };
    let m = Mounted::start(cfg, &[]);
    let path = m.path(&big_rel());
    fs::metadata(&path).unwrap();
    m.server.clear_requests();
    let want = std::sync::Arc::new(truth(&m, &big_url()));
    let reader_path = path.clone();
    // Each reader asks weaverfs for every block itself (O_DIRECT, whole blocks in order), so
    // the sharing is weaverfs's alone: through the shared page cache, how the kernel split a
    // reader's reads depended on how far the others had got, and on a busy machine a read
    // that landed ahead of the others was served by a small direct request of its own.
    concurrent_reads(32, move |_| {
        assert!(read_direct_by_blocks(&reader_path) == *want, "wrong bytes");
    });
    // Every byte asked for once: the ranges (a block each, or a read-ahead run of blocks)
    // tile the file without overlap.
    let by_range = gets_by_range(&m, &big_url());
    assert!(by_range.values().all(|&n| n == 1), "{by_range:?}");
    let mut spans: Vec<(u64, u64)> = by_range
        .keys()
        .map(|r| {
            let (a, b) = r.trim_start_matches("bytes=").split_once('-').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    spans.sort();
    let mut next = 0;
    for (a, b) in &spans {
        assert_eq!(*a, next, "{by_range:?}");
        next = b + 1;
    }
    assert_eq!(next, size, "{by_range:?}");
    m.unmount();
}

#[test]
fn thirty_two_readers_of_thirty_two_files_get_exact_bytes() {
    let size: u64 = (3 << 20) + 333;
    let cfg = ServerConfig {
        extra_jobs: 32,
        extra_file_size: size,
        ..ServerConfig::default()
    };
    let m = Mounted::start(cfg, &[]);
    let url = |i| format!("/wpsoutputs/{}/data/data.bin", jobs::extra_job_id(i));
    let wants: Vec<Vec<u8>> = (0..32).map(|i| truth(&m, &url(i))).collect();
    let wants = std::sync::Arc::new(wants);
    let root = m.root().to_path_buf();
    concurrent_reads(32, move |i| {
        let path = root.join(format!("{}/data.bin", jobs::extra_job_id(i)));
        // Whole blocks in order, past the page cache: how the kernel splits and schedules
        // read-ahead on a busy machine decides nothing about the requests counted below.
        let got = read_direct_by_blocks(&path);
        assert!(got == wants[i], "{}: wrong bytes", path.display());
    });
    for i in 0..32 {
        let by_range = gets_by_range(&m, &url(i));
        assert_eq!(
            by_range.len() as u64,
            size.div_ceil(1 << 20),
            "{by_range:?}"
        );
        assert!(by_range.values().all(|&n| n == 1), "{by_range:?}");
    }
    m.unmount();
}

#[test]
fn a_stalled_server_never_hangs_a_call() {
    // Every request stalls far past the timeouts; each call still answers within the bound.
    let m = mount(&["--retries", "1", "--retry-max-time", "2"]);
    let path = m.path(&big_rel());
    fs::metadata(&path).unwrap();
    m.server
        .inject_times("/", Fault::SlowFirstByte(Duration::from_secs(30)), 1000);
    let start = Instant::now();
    let err = fs::read(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    let listing = fs::read_dir(m.path(jobs::UNLISTED)).map(|d| d.count());
    assert_eq!(errno(listing), libc::ETIMEDOUT);
    // Bound: --retry-max-time × 2 + --connect-timeout per call.
    assert!(
        start.elapsed() < Duration::from_secs(2 * (2 * 2 + 1)),
        "{:?}",
        start.elapsed()
    );
    m.server.clear_faults();
    assert!(fs::read(&path).unwrap() == truth(&m, &big_url()));
    m.unmount();
}

#[test]
fn connection_refused_is_retried_until_the_server_listens() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // A port with nothing listening yet.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let path = format!("/wpsoutputs/{}/output_text/result.txt", jobs::FILES);
        let url = url::Url::parse(&format!("http://{addr}{path}")).unwrap();
        let client = |retries| {
            let opts = HttpOptions {
                retry: RetryPolicy {
                    retries,
                    max_time: Duration::from_secs(10),
                    base_delay: Duration::from_millis(100),
                    max_delay: Duration::from_millis(400),
                },
                ..HttpOptions::default()
            };
            HttpClient::new(&url, &opts).unwrap()
        };
        let err = probe(&client(0), &url).await.unwrap_err();
        assert_eq!(err.errno(), libc::EIO, "{err}");
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            TestServer::start_on(addr, ServerConfig::default())
                .await
                .unwrap()
        });
        let meta = probe(&client(20), &url).await.unwrap();
        let server = late.await.unwrap();
        assert_eq!(Some(meta.size), server.file_size(&path));
    });
}

fn small_url() -> String {
    format!("/wpsoutputs/{}/output_text/result.txt", jobs::FILES)
}

fn small_rel() -> String {
    format!("{}/output_text.txt", jobs::FILES)
}

/// A request of a file smaller than a block, shifted in transit past its end (416), or
/// answered 412 or 416 by a confused hop, is a fault: retried to the exact bytes, never ESTALE.
/// The file comes whole with its size probe, so the fault meets that probe.
#[test]
fn a_shifted_or_refused_range_on_a_small_file_is_retried_not_estale() {
    let statuses = [412, 416].map(|code| Fault::Status {
        code,
        retry_after: None,
    });
    let shift = Fault::ShiftRange { by: 1 << 20 };
    for fault in [shift, Fault::ShiftRange { by: 10 }]
        .into_iter()
        .chain(statuses)
    {
        let m = mount(&[]);
        let (path, url) = (m.path(&small_rel()), small_url());
        let want = truth(&m, &url);
        assert!((want.len() as u64) < BLOCK, "a file smaller than a block");
        m.server.clear_requests();
        m.server.inject(&url, fault.clone());
        assert_eq!(fs::metadata(&path).unwrap().len(), want.len() as u64);
        // Two handles on the same block, as readers sharing one request.
        let (a, b) = (open_direct(&path), open_direct(&path));
        let reader = std::thread::spawn(move || read_block(&b, 0));
        let got = read_block(&a, 0).unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert!(got == want, "{fault:?}: wrong bytes");
        let other = reader.join().unwrap();
        assert!(other.unwrap() == want, "{fault:?}: the second reader");
        assert_eq!(m.server.pending_faults(), 0, "{fault:?} was not applied");
        // The handle is not marked changed: it keeps reading.
        assert!(read_block(&a, 0).unwrap() == want, "{fault:?}");
        m.unmount();
    }
}

/// One 200 to a range request from a server that serves ranges is one odd answer: retried as a
/// range, and the file's later reads stay range requests.
#[test]
fn a_single_200_to_a_range_is_not_a_verdict() {
    let m = mount(&["--read-ahead-blocks", "0"]);
    let (path, url) = (m.path(&big_rel()), big_url());
    let want = truth(&m, &url);
    let f = open_direct(&path);
    assert!(read_block(&f, 0).unwrap() == want[..BLOCK as usize]);
    m.server.clear_requests();
    m.server.inject(&url, Fault::IgnoreRange);
    for index in 1..4u64 {
        let span = (index * BLOCK) as usize..((index + 1) * BLOCK) as usize;
        assert!(
            read_block(&f, index).unwrap() == want[span],
            "block {index}"
        );
    }
    let by_range = gets_by_range(&m, &url);
    assert!(
        !by_range.contains_key(""),
        "a GET without Range: {by_range:?}"
    );
    // Block 1 twice (the ignored one and its retry), 2 and 3 once.
    assert_eq!(by_range.values().sum::<usize>(), 4, "{by_range:?}");
    drop(f);
    m.unmount();
}

/// A server that ignores Range, with a cache smaller than the file: the file is still read whole
/// and exact, by one reader and by several at once.
#[test]
fn a_range_ignoring_file_larger_than_the_cache_is_still_readable() {
    let cfg = ServerConfig {
        ignore_range: true,
        big_file_size: 12 << 20,
        ..ServerConfig::default()
    };
    let m = mount_with(cfg, &["--block-size", "1M", "--cache-size", "2M"]);
    let path = m.path(&big_rel());
    let want = std::sync::Arc::new(truth(&m, &big_url()));
    assert!(fs::read(&path).unwrap() == *want, "one reader");
    concurrent_reads(3, move |_| {
        let got = fs::read(&path).unwrap();
        assert!(got == *want, "wrong bytes");
    });
    m.unmount();
}
