//! The disk cache (`--cache-dir`) through real mounts: its bound, reuse after a remount with no
//! bytes from the origin, a changed file fetched again, a daemon killed mid-write, two mounts
//! sharing one directory, its counters in `stats.json`, a server that ignores Range, and the
//! check of a file read whole against the server's digest; a file complete on disk as one data
//! file, read by FUSE passthrough (as root) or from that file, never with a damaged byte.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{is_mounted, Mounted};
use weaverfs_fs::cache::disk::{allocated_bytes, ledger_used};
use weaverfs_fs::stats::Snapshot;
use weaverfs_server::{jobs, Digests, ServerConfig, TestServer};

const MIB: u64 = 1 << 20;
const BIG: &str = "output_big/big.dat";

fn server() -> ServerConfig {
    ServerConfig {
        big_file_size: 24 * MIB,
        ..ServerConfig::default()
    }
}

fn served() -> String {
    format!("/wpsoutputs/{}/{BIG}", jobs::FILES)
}

fn local(root: &Path) -> std::path::PathBuf {
    root.join(jobs::FILES).join("output_big.dat")
}

/// Body bytes of `path` the server sent, from its request log (ranges, or whole bodies).
fn origin_bytes(server: &TestServer, path: &str) -> u64 {
    let size = server.file_size(path).unwrap();
    server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with(path))
        .map(
            |r| match r.range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
                Some(range) => {
                    let (a, b) = range.split_once('-').unwrap();
                    let a: u64 = a.parse().unwrap();
                    let b: u64 = b.parse::<u64>().map_or(size - 1, |b| b.min(size - 1));
                    b + 1 - a
                }
                None => size,
            },
        )
        .sum()
}

fn assert_whole_file(server: &TestServer, file: &Path) {
    let size = server.file_size(&served()).unwrap();
    let got = fs::read(file).unwrap();
    assert_eq!(got.len() as u64, size);
    assert!(
        got == server.file_bytes(&served(), 0, size).unwrap(),
        "bytes differ"
    );
}

/// Another mount of the same server, in its own directory; killed and unmounted when dropped.
struct Extra {
    child: Child,
    dir: tempfile::TempDir,
}

impl Extra {
    fn mount(url: &str, args: &[&str]) -> Extra {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_weaverfs"))
            .arg("mount")
            .arg(url)
            .arg(dir.path())
            .arg("--foreground")
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_mounted(dir.path()) {
            assert!(Instant::now() < deadline, "the second mount did not appear");
            std::thread::sleep(Duration::from_millis(50));
        }
        Extra { child, dir }
    }
}

impl Drop for Extra {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("fusermount3")
            .arg("-uz")
            .arg(self.dir.path())
            .stderr(Stdio::null())
            .status();
    }
}

/// The mount's `.weaverfs/stats.json`.
fn stats(root: &Path) -> Snapshot {
    let text = fs::read(root.join(".weaverfs/stats.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// Waits until the mount's disk cache has written `bytes` (blocks go to disk in the background).
fn wait_written(root: &Path, bytes: u64) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = stats(root);
        let written = s.disk_cache.as_ref().map_or(0, |d| d.bytes_written);
        if written >= bytes {
            return s;
        }
        assert!(Instant::now() < deadline, "{written} bytes written to disk");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cache_report(dir: &Path) -> String {
    common::run(
        env!("CARGO_BIN_EXE_weaverfs"),
        &["cache", dir.to_str().unwrap()],
    )
}

/// The data files (versions complete on disk) of a cache directory.
fn data_files(cache: &Path) -> Vec<std::path::PathBuf> {
    let files = cache.join("weaverfs-v1/files");
    fs::read_dir(files)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("data"))
        .filter(|p| p.exists())
        .collect()
}

/// Waits until the cache holds a complete file (assembled in the background), and gives it.
fn wait_data_file(cache: &Path) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(p) = data_files(cache).pop() {
            return p;
        }
        assert!(Instant::now() < deadline, "no complete file assembled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Block files left in a version's directory.
fn block_files(version: &Path) -> usize {
    fs::read_dir(version)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u64>().is_ok())
        .count()
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Mounts with `args`, reads the big file whole, waits until it is complete on disk, unmounts,
/// lets `between` act on the data file, and mounts again with no request logged yet.
fn complete_then_remount(cache: &Path, args: &[&str], between: impl FnOnce(&Path)) -> Mounted {
    let mut m = Mounted::start_logged(server(), args);
    assert_whole_file(&m.server, &local(m.root()));
    let data = wait_data_file(cache);
    m.stop();
    between(&data);
    m.server.clear_requests();
    let url = m.server.api_url();
    m.mount(&url, args, &[]);
    m
}

#[test]
fn a_complete_file_is_read_by_passthrough_after_a_remount() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["--cache-dir", cache.path().to_str().unwrap()];
    let m = complete_then_remount(cache.path(), &args, |data| {
        assert_eq!(block_files(data.parent().unwrap()), 0, "blocks removed");
        assert!(cache_report(cache.path()).contains("100.0%"));
    });
    let data = data_files(cache.path()).pop().unwrap();
    let want = m.server.file_bytes(&served(), 0, 24 * MIB).unwrap();
    assert!(fs::read(&data).unwrap() == want, "the data file's bytes");
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 0, "fetched again");
    let s = stats(m.root());
    if is_root() {
        assert!(s.passthrough_opens >= 1, "{s:?}");
        // The kernel read the data file itself: nothing went through weaverfs.
        assert_eq!(s.disk_cache.unwrap().hits, 0);
    } else {
        // Unprivileged: refused by the kernel, read through weaverfs instead.
        assert_eq!(s.passthrough_opens, 0);
    }
    let shown = common::run(
        env!("CARGO_BIN_EXE_weaverfs"),
        &["stats", m.root().to_str().unwrap()],
    );
    assert!(shown.contains("passthrough"), "{shown}");
}

#[test]
fn without_passthrough_a_complete_file_is_read_from_its_data_file() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    let args = ["--cache-dir", dir, "--no-passthrough", "--cache-size", "4M"];
    let m = complete_then_remount(cache.path(), &args, |_| {});
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 0, "fetched again");
    let s = stats(m.root());
    let d = s.disk_cache.unwrap();
    assert_eq!(s.passthrough_opens, 0);
    assert!(d.hits >= 24 && d.misses == 0, "{d:?}");
}

#[test]
fn a_damaged_data_file_is_fetched_again_never_served() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    // The pread path, where every block's CRC is checked.
    let args = ["--cache-dir", dir, "--no-passthrough", "--cache-size", "4M"];
    let m = complete_then_remount(cache.path(), &args, |data| {
        let mut bytes = fs::read(data).unwrap();
        bytes[(5 * MIB + 777) as usize] ^= 0x40;
        fs::write(data, bytes).unwrap();
    });
    // Every byte right: the damaged block (and what the dropped file held) comes again from
    // the server.
    assert_whole_file(&m.server, &local(m.root()));
    let fetched = origin_bytes(&m.server, &served());
    assert!(fetched >= MIB, "{fetched} bytes from the origin");
    let d = stats(m.root()).disk_cache.unwrap();
    assert!(d.dropped_corrupt >= 1, "{d:?}");
    assert!(m.log().contains("checksum mismatch"), "{}", m.log());
}

#[test]
fn the_bound_holds_while_a_complete_file_is_assembled() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    // Room for the blocks and the copy beside them, little more.
    let bound = 52 * MIB;
    let args = ["--cache-dir", dir, "--cache-dir-size", "52M"];
    let m = Mounted::start_logged(server(), &args);
    let file = local(m.root());
    // Bytes the cache takes on disk, its temporary files included.
    let taken = || {
        let tmp: u64 = fs::read_dir(cache.path().join("weaverfs-v1/tmp"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
            .sum();
        allocated_bytes(cache.path()) + tmp
    };
    let max = std::thread::scope(|s| {
        let reader = s.spawn(|| assert_whole_file(&m.server, &file));
        let mut max = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !reader.is_finished() || data_files(cache.path()).is_empty() {
            assert!(Instant::now() < deadline, "no complete file assembled");
            max = max.max(taken());
            std::thread::sleep(Duration::from_millis(2));
        }
        reader.join().unwrap();
        max
    });
    assert!(max <= bound, "{max} > {bound}");
    assert!(max > 24 * MIB, "the cache was not used: {max} bytes");
    assert!(ledger_used(cache.path()).unwrap() <= bound);
}

#[test]
fn a_daemon_killed_mid_assembly_leaves_no_torn_data_file() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["--cache-dir", cache.path().to_str().unwrap()];
    let cfg = ServerConfig {
        big_file_size: 96 * MIB,
        ..ServerConfig::default()
    };
    let mut m = Mounted::start_logged(cfg, &args);
    let url = m.server.api_url();
    let file = local(m.root());
    let reader = std::thread::spawn(move || {
        let _ = fs::read(file);
    });
    // An assembly's temporary file: it reserves more than one block.
    let tmp = cache.path().join("weaverfs-v1/tmp");
    let assembling = || {
        fs::read_dir(&tmp).into_iter().flatten().flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let space: u64 = name
                .split('-')
                .nth(2)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            space > 2 * MIB && e.metadata().is_ok_and(|m| m.len() > 0)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !assembling() {
        assert!(Instant::now() < deadline, "no assembly seen");
        assert!(
            data_files(cache.path()).is_empty(),
            "assembled before it was seen"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(m.pid() as i32, libc::SIGKILL) };
    let _ = reader.join();
    common::run("fusermount3", &["-uz", m.root().to_str().unwrap()]);
    assert!(
        data_files(cache.path()).is_empty(),
        "a data file half written"
    );
    // A fresh mount: the blocks are all there, so the file is assembled at open; every byte
    // right, none from the origin.
    m.server.clear_requests();
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 0);
    let data = wait_data_file(cache.path());
    let want = m.server.file_bytes(&served(), 0, 96 * MIB).unwrap();
    assert!(fs::read(data).unwrap() == want);
}

#[test]
fn a_remount_reads_the_file_from_disk_with_no_origin_bytes() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    // Reads through weaverfs (not the kernel's passthrough), so the disk counters see them.
    let args = ["--cache-size", "8M", "--cache-dir", dir, "--no-passthrough"];
    let mut m = Mounted::start_logged(server(), &args);
    assert_whole_file(&m.server, &local(m.root()));
    // The mount's counters: every block missed on disk, then written there.
    let first = wait_written(m.root(), 24 * MIB).disk_cache.unwrap();
    assert_eq!((first.hits, first.bytes_read), (0, 0), "{first:?}");
    assert!(
        first.misses >= 24 && first.blocks_written == 24,
        "{first:?}"
    );
    assert_eq!(first.limit_bytes, 10 << 30, "the default bound");
    m.stop();
    let report = cache_report(cache.path());
    assert!(report.contains("100.0%"), "{report}");
    assert!(report.contains(&served()), "{report}");
    m.server.clear_requests();
    let url = m.server.api_url();
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 0, "fetched again");
    let again = stats(m.root()).disk_cache.unwrap();
    assert!(
        again.hits >= 24 && again.bytes_read >= 24 * MIB,
        "{again:?}"
    );
    assert_eq!((again.misses, again.bytes_written), (0, 0), "{again:?}");
    let report = cache_report(cache.path());
    assert!(report.contains("blocks hit"), "{report}");
    // Cleared: the next mount fetches again, and still reads right.
    common::run(env!("CARGO_BIN_EXE_weaverfs"), &["cache", dir, "--clear"]);
    m.stop();
    assert!(cache_report(cache.path()).contains("files       0"));
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 24 * MIB);
}

#[test]
fn the_bound_holds_while_a_larger_file_is_read() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    let bound = 8 * MIB;
    let m = Mounted::start_logged(
        server(),
        &[
            "--cache-size",
            "4M",
            "--cache-dir",
            dir,
            "--cache-dir-size",
            "8M",
        ],
    );
    let file = local(m.root());
    let max = std::thread::scope(|s| {
        let reader = s.spawn(|| assert_whole_file(&m.server, &file));
        let mut max = 0;
        while !reader.is_finished() {
            max = max.max(allocated_bytes(cache.path()));
            std::thread::sleep(Duration::from_millis(5));
        }
        reader.join().unwrap();
        max
    });
    // Blocks reach the disk in the background, after the reads that fetched them.
    common::wait_for("the cache to be used (over half its bound)", || {
        allocated_bytes(cache.path()) > bound / 2
    });
    let end = allocated_bytes(cache.path());
    assert!(max <= bound && end <= bound, "{max} / {end} > {bound}");
    assert!(ledger_used(cache.path()).unwrap() <= bound);
}

#[test]
fn a_file_changed_on_the_server_is_not_served_from_old_blocks() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["--cache-dir", cache.path().to_str().unwrap()];
    let mut m = Mounted::start_logged(server(), &args);
    assert_whole_file(&m.server, &local(m.root()));
    m.stop();
    m.server.bump_file_version(&served());
    m.server.clear_requests();
    let url = m.server.api_url();
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 24 * MIB);
}

#[test]
fn a_daemon_killed_mid_write_leaves_no_torn_block() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["--cache-dir", cache.path().to_str().unwrap()];
    let mut m = Mounted::start_logged(server(), &args);
    let url = m.server.api_url();
    let file = local(m.root());
    let reader = std::thread::spawn(move || {
        let _ = fs::read(file);
    });
    // Killed while blocks are being written.
    let deadline = Instant::now() + Duration::from_secs(30);
    while allocated_bytes(cache.path()) < 4 * MIB {
        assert!(Instant::now() < deadline, "no block reached the disk");
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(m.pid() as i32, libc::SIGKILL) };
    let _ = reader.join();
    common::run("fusermount3", &["-uz", m.root().to_str().unwrap()]);
    // A fresh mount on the same cache: every byte right, from disk where whole.
    m.server.clear_requests();
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    assert!(
        origin_bytes(&m.server, &served()) < 24 * MIB,
        "nothing reused"
    );
}

#[test]
fn two_mounts_share_one_cache_directory() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    let bound = 32 * MIB;
    let args = ["--cache-dir", dir, "--cache-dir-size", "32M"];
    let mut m = Mounted::start_logged(server(), &args);
    let url = m.server.api_url();
    let other = Extra::mount(&url, &args);
    std::thread::scope(|s| {
        let a = s.spawn(|| assert_whole_file(&m.server, &local(m.root())));
        let b = s.spawn(|| assert_whole_file(&m.server, &local(other.dir.path())));
        while !a.is_finished() || !b.is_finished() {
            assert!(allocated_bytes(cache.path()) <= bound);
            std::thread::sleep(Duration::from_millis(5));
        }
        a.join().unwrap();
        b.join().unwrap();
    });
    drop(other);
    m.stop();
    // Each block counted once: the ledger is what the files take.
    let used = ledger_used(cache.path()).unwrap();
    assert!(used <= bound);
    assert!(allocated_bytes(cache.path()) <= used);
    // A third mount finds the whole file.
    m.server.clear_requests();
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 0);
}

#[test]
fn a_server_that_ignores_range_fills_the_disk_cache_too() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["--cache-dir", cache.path().to_str().unwrap()];
    let cfg = ServerConfig {
        ignore_range: true,
        ..server()
    };
    let mut m = Mounted::start_logged(cfg, &args);
    assert_whole_file(&m.server, &local(m.root()));
    wait_written(m.root(), 24 * MIB);
    m.stop();
    m.server.clear_requests();
    let url = m.server.api_url();
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    assert_eq!(origin_bytes(&m.server, &served()), 0, "fetched again");
}

#[test]
fn a_file_read_whole_matches_the_servers_digest_and_normal_reads_are_cacheable() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["--cache-dir", cache.path().to_str().unwrap()];
    let m = Mounted::start_logged(server(), &args);
    m.server.set_digests(Digests::Correct);
    // Read from byte 0 to the end: the check completes.
    assert_whole_file(&m.server, &local(m.root()));
    let s = stats(m.root());
    assert_eq!((s.digests_verified, s.digest_mismatches), (1, 0));
    assert!(m.log().contains("its digest matches"), "{}", m.log());
    // No cache-busting header on any normal read (a site cache can serve them all).
    let gets: Vec<_> = m
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == served())
        .collect();
    assert!(!gets.is_empty());
    for r in &gets {
        assert!(
            r.headers.get("cache-control").is_none() && r.headers.get("pragma").is_none(),
            "{:?}",
            r.headers
        );
    }
    assert_eq!(s.refetched_past_caches, 0);
}

#[test]
fn a_wrong_digest_is_eio_now_and_later_and_its_blocks_are_dropped() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["--cache-dir", cache.path().to_str().unwrap()];
    let mut m = Mounted::start_logged(server(), &args);
    m.server.set_digests(Digests::Wrong);
    let file = local(m.root());
    let err = fs::read(&file).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    // Never served on later reads: the next open fails too.
    let err = fs::read(&file).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    let s = stats(m.root());
    assert_eq!((s.digests_verified, s.digest_mismatches), (0, 1));
    assert!(
        s.errors.get("EIO").is_some_and(|&n| n >= 2),
        "{:?}",
        s.errors
    );
    let log = m.log();
    assert!(
        log.contains("its bytes are wrong") && log.contains("sha2-256"),
        "{log}"
    );
    m.stop();
    // Its blocks were dropped from the disk: a remount (the digest right now) fetches the file
    // again, and the check passes.
    m.server.set_digests(Digests::Correct);
    m.server.clear_requests();
    let url = m.server.api_url();
    m.mount(&url, &args, &[]);
    assert_whole_file(&m.server, &local(m.root()));
    let fetched = origin_bytes(&m.server, &served());
    assert!(fetched >= 22 * MIB, "{fetched} bytes: old blocks reused");
    assert_eq!(stats(m.root()).digests_verified, 1);
}
