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
use weaverfs::server::{jobs, Fault, RandomFaults, ServerConfig};

const BIG_SIZE: u64 = 4 << 20;
const BLOCK: u64 = 256 << 10;

fn server() -> ServerConfig {
    ServerConfig {
        big_file_size: BIG_SIZE,
        ..ServerConfig::default()
    }
}

/// Short timeouts so that a fault costs the suite half a second, not half a minute.
const FAST: &[&str] = &[
    "--block-size",
    "256K",
    "--read-timeout",
    "0.5",
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

/// GET requests for `url`, by Range header.
fn gets_by_range(m: &Mounted, url: &str) -> BTreeMap<String, usize> {
    let mut by_range = BTreeMap::new();
    for r in m.server.requests() {
        if r.method == "GET" && r.path == url {
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
        Fault::SlowFirstByte(secs(2)),
        Fault::Stall {
            after: 4096,
            pause: secs(2),
        },
        Fault::ShortBody { missing: 1000 },
        Fault::WrongContentRange,
        Fault::IgnoreRange,
    ];
    let blocks = BIG_SIZE.div_ceil(BLOCK) as usize;
    for fault in faults {
        let m = mount(&[]);
        let path = m.path(&big_rel());
        assert_eq!(fs::metadata(&path).unwrap().len(), BIG_SIZE);
        m.server.clear_requests();
        m.server.inject(&big_url(), fault.clone());
        let start = Instant::now();
        let got = fs::read(&path).unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        let took = start.elapsed();
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
            assert!(took >= secs(s), "{fault:?}: Retry-After not honoured ({took:?})");
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
            Fault::SlowFirstByte(Duration::from_secs(2)),
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
