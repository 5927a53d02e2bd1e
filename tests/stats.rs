//! `.weaverfs/stats.json` and `weaverfs stats`, through a real mount of the built-in server:
//! the counters must agree with what was actually read.

mod common;

use std::fs;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::Command;

use common::{run, Mounted};
use weaverfs_fs::stats::Snapshot;
use weaverfs_server::{jobs, ServerConfig};

/// The stats as a reader sees them, and how many bytes reading them took.
fn stats(m: &Mounted) -> (Snapshot, u64) {
    let text = fs::read_to_string(m.path(".weaverfs/stats.json")).unwrap();
    let snapshot = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (snapshot, text.len() as u64)
}

fn count(s: &Snapshot, kind: &str, status: &str) -> u64 {
    s.requests[kind].by_status.get(status).copied().unwrap_or(0)
}

/// Reads the whole file with O_DIRECT, so the kernel's page cache cannot answer it.
fn read_direct(path: &std::path::Path) -> Vec<u8> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .unwrap();
    let size = f.metadata().unwrap().len() as usize;
    let mut buf = vec![0u8; size];
    let mut done = 0;
    while done < size {
        let n = f.read_at(&mut buf[done..], done as u64).unwrap();
        assert!(n > 0, "{}: end of file at {done} of {size}", path.display());
        done += n;
    }
    buf
}

#[test]
fn stats_follow_what_was_read() {
    let cfg = ServerConfig {
        big_file_size: 24 << 20,
        ..ServerConfig::default()
    };
    let m = Mounted::start(cfg, &["--cache-size", "8M"]);

    // Found by name, but never listed: find, cp -r and backups of the mount do not meet it.
    let root = run("ls", &["-a", m.root().to_str().unwrap()]);
    assert!(
        root.contains(jobs::FILES) && !root.contains(".weaverfs"),
        "{root}"
    );
    let dir = run("ls", &[m.path(".weaverfs").to_str().unwrap()]);
    assert_eq!(dir.trim(), "stats.json");
    assert!(fs::metadata(m.path(".weaverfs/stats.json")).unwrap().len() > 0);

    let (before, before_len) = stats(&m);
    let job = m.path(jobs::FILES);
    let mut read = 0;
    for (name, served) in [
        ("output_bin.bin", "output_bin/data.bin"),
        ("output_big.dat", "output_big/big.dat"),
    ] {
        let url_path = format!("/wpsoutputs/{}/{served}", jobs::FILES);
        let size = m.server.file_size(&url_path).unwrap();
        let got = fs::read(job.join(name)).unwrap();
        assert!(
            got == m.server.file_bytes(&url_path, 0, size).unwrap(),
            "{name} differs"
        );
        read += got.len() as u64;
    }
    let (after_read, _) = stats(&m);
    // Through the page cache the kernel may ask for a page twice; exact counts come below.
    let served = after_read.bytes_served - before.bytes_served;
    assert!(served >= read + before_len, "served {served} < read {read}");
    // Every byte came from the server once at least; an 8 MiB cache may fetch some twice.
    let fetched = after_read.bytes_fetched - before.bytes_fetched;
    assert!(fetched >= read, "fetched {fetched} < read {read}");
    for (kind, status) in [
        ("listing", "200"),
        ("status", "200"),
        // The size probe is a GET of the first bytes: 206.
        ("probe", "206"),
        ("range", "206"),
    ] {
        assert!(
            count(&after_read, kind, status) > 0,
            "no {kind} {status}: {after_read:?}"
        );
    }
    assert!(count(&after_read, "results", "200") > 0, "{after_read:?}");
    assert_eq!(after_read.status_classes.get("5xx"), None);
    assert!(
        after_read.latency_ms.p50 > 0.0 && after_read.latency_ms.p99 >= after_read.latency_ms.p50
    );
    let cache = &after_read.cache;
    assert!(
        cache.read_ahead_hits > 0,
        "a sequential read uses read-ahead: {cache:?}"
    );
    assert!(
        cache.evictions > 0,
        "24 MiB through an 8 MiB cache: {cache:?}"
    );
    // The 8 MiB budget less a quarter for the connections' receive buffers.
    assert_eq!(cache.capacity_bytes, 6 << 20, "{cache:?}");
    assert!(cache.used_bytes <= cache.peak_used_bytes && cache.peak_used_bytes <= 6 << 20);
    // The blocks' buffers are reused: far fewer than the 24 blocks read.
    assert!(
        cache.peak_buffer_bytes > 0 && cache.peak_buffer_bytes <= 16 << 20,
        "{cache:?}"
    );

    // A re-read of a cached file, past the kernel's page cache: block-cache hits, nothing
    // fetched.
    let small = job.join("output_bin.bin");
    let first = read_direct(&small);
    let (warm, warm_len) = stats(&m);
    assert_eq!(read_direct(&small), first);
    let (reread, _) = stats(&m);
    assert!(reread.cache.hits > warm.cache.hits, "{:?}", reread.cache);
    assert_eq!(reread.bytes_fetched, warm.bytes_fetched);
    assert_eq!(
        reread.bytes_served - warm.bytes_served,
        first.len() as u64 + warm_len,
        "bytes served: the file and the stats.json read before it"
    );
    assert_eq!(reread.cache.misses, warm.cache.misses);

    // A name that is not there is no error worth counting; a file host that is down is.
    assert!(fs::metadata(m.path("x.aux.xml")).is_err());
    assert!(fs::metadata(job.join("no-such-output")).is_err());
    let base = m.server.base_url();
    m.server.set_files_url(Some(format!("{base}/moved")));
    m.server
        .set_redirect_target(Some("http://127.0.0.1:1/wpsoutputs".into()));
    let err = fs::read(m.path(&format!("{}/output_raw.txt", jobs::RAW))).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    let (failed, _) = stats(&m);
    assert!(
        failed.errors.get("EIO").copied().unwrap_or(0) >= 1,
        "{:?}",
        failed.errors
    );
    assert!(!failed.errors.contains_key("ENOENT"), "{:?}", failed.errors);
    assert!(
        count(&failed, "probe", "failed") > 0,
        "{:?}",
        failed.requests["probe"]
    );

    // The command shows the same counters as a table, or as the raw JSON.
    let mnt = m.root().to_str().unwrap();
    let table = run(env!("CARGO_BIN_EXE_weaverfs"), &["stats", mnt]);
    for want in [
        "range".to_string(),
        format!("206:{}", count(&failed, "range", "206")),
        "read-ahead hits".to_string(),
        format!("EIO:{}", failed.errors["EIO"]),
        format!("({} bytes)", failed.bytes_fetched),
    ] {
        assert!(table.contains(&want), "{want:?} missing from:\n{table}");
    }
    let raw = run(env!("CARGO_BIN_EXE_weaverfs"), &["stats", "--json", mnt]);
    let parsed: Snapshot = serde_json::from_str(&raw).unwrap();
    assert_eq!(parsed.errors, failed.errors);
    assert!(parsed.cache.hits >= reread.cache.hits);

    // Not a mount: a clear error.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weaverfs"))
        .arg("stats")
        .arg(elsewhere.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a weaverfs mount"), "{stderr}");
}
