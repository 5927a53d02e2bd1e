//! The read path on a long link, against the built-in server holding every answer for a fixed
//! time (its latency knob): what is asked together, how much is in flight at the origin, and
//! which round trips are saved. The assertions count requests and their overlap at the
//! server, not time, so they hold on a slow machine too.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use weaverfs_fs::fs::WeaverFs;
use weaverfs_fs::mount::{build_fs, MountConfig};
use weaverfs_fs::tree::ROOT_INO;
use weaverfs_server::{jobs, ServerConfig, TestServer};

const FILES: &str = "/wpsoutputs";
const API: &str = "/weaver";
/// The job of many small files served from a directory.
const MANY: &str = "00000000-0000-4000-8000-00000000a001";

async fn setup(
    cfg: ServerConfig,
    tune: impl FnOnce(&mut MountConfig),
) -> (TestServer, Arc<WeaverFs>) {
    let server = TestServer::start(cfg).await.unwrap();
    let mut mount = MountConfig::new(server.api_url().parse().unwrap());
    tune(&mut mount);
    (server, Arc::new(build_fs(&mount).unwrap()))
}

/// A server with `n` small files (`f000.txt`...: 100 bytes to a few KiB) in the job [`MANY`].
fn many_small_files(n: usize) -> (tempfile::TempDir, ServerConfig) {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join(MANY);
    std::fs::create_dir(&job).unwrap();
    for i in 0..n {
        let body = format!("file {i}\n").repeat(10 + i * 7);
        std::fs::write(job.join(format!("f{i:03}.txt")), body).unwrap();
    }
    let cfg = ServerConfig {
        jobs_dir: Some(dir.path().to_path_buf()),
        big_file_size: 16 << 20,
        ..ServerConfig::default()
    };
    (dir, cfg)
}

/// The inode of `path` (names from the root), through the core's own path walk.
async fn ino_of(fs: &WeaverFs, path: &[&str]) -> u64 {
    let path = path.join("/");
    fs.resolve(&path, true)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .ino
}

fn file_requests(server: &TestServer) -> Vec<weaverfs_server::RequestRecord> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(FILES))
        .collect()
}

/// Waits until the server has seen `n` requests for files (the background probes of a
/// listing), whatever the machine's speed.
async fn until_file_requests(server: &TestServer, n: usize) {
    while file_requests(server).len() < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn read_all(fs: &WeaverFs, ino: u64, chunk: u32) -> Vec<u8> {
    let fh = fs.open(ino).await.unwrap().fh;
    let mut out = Vec::new();
    loop {
        let got = fs.read(fh, out.len() as u64, chunk).await.unwrap();
        if got.is_empty() {
            break;
        }
        out.extend_from_slice(&got);
    }
    fs.release(fh);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_read_keeps_several_large_ranges_in_flight() {
    let cfg = ServerConfig {
        latency: Duration::from_millis(20),
        big_file_size: 48 << 20,
        ..ServerConfig::default()
    };
    let (server, fs) = setup(cfg, |_| {}).await;
    let ino = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    server.clear_requests();
    server.reset_peaks();
    let got = read_all(&fs, ino, 128 << 10).await;
    let path = format!("{FILES}/{}/output_big/big.dat", jobs::FILES);
    assert!(
        got == server.file_bytes(&path, 0, 48 << 20).unwrap(),
        "wrong bytes"
    );
    // Several requests at once, some of several blocks each, and every byte asked once.
    assert!(
        server.peak_in_flight(FILES) >= 4,
        "peak {}",
        server.peak_in_flight(FILES)
    );
    let mut ranges: Vec<(u64, u64)> = file_requests(&server)
        .iter()
        .filter_map(|r| {
            r.range
                .as_deref()?
                .strip_prefix("bytes=")?
                .split_once('-')
                .map(|(a, b)| (a.parse().unwrap(), b.parse::<u64>().unwrap() + 1))
        })
        .collect();
    ranges.sort();
    // The first read asked for its own bytes (a first read may be all a reader wants).
    let first = ranges.iter().position(|r| *r == (0, 128 << 10));
    ranges.remove(first.expect("the first read asked for its own bytes"));
    assert!(
        ranges.iter().any(|(a, b)| b - a > 1 << 20),
        "no request of several blocks: {ranges:?}"
    );
    let mut at = 0;
    for (a, b) in &ranges {
        assert!(*a >= at, "bytes {a}-{b} asked twice: {ranges:?}");
        at = *b;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_requests_at_an_origin_than_its_limit() {
    let (_dir, mut cfg) = many_small_files(60);
    cfg.latency = Duration::from_millis(30);
    let (server, fs) = setup(cfg, |m| m.http.max_requests_per_origin = 4).await;
    server.reset_peaks();
    // A listing's probes, a sequential reader and lookups, all at once.
    let job = ino_of(&fs, &[MANY]).await;
    let listed = fs.opendir(job).await.unwrap();
    let big = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    let reader = {
        let fs = fs.clone();
        tokio::spawn(async move { read_all(&fs, big, 128 << 10).await.len() })
    };
    for i in (0..60).step_by(7) {
        fs.lookup(job, &format!("f{i:03}.txt")).await.unwrap();
    }
    assert_eq!(reader.await.unwrap(), 16 << 20);
    until_file_requests(&server, 61).await;
    fs.release(listed);
    // API and files are one origin here.
    let peak = server.peak_in_flight(FILES) + server.peak_in_flight(API);
    assert!(
        server.peak_in_flight(FILES) <= 4,
        "{} at once",
        server.peak_in_flight(FILES)
    );
    assert!(peak >= 2, "the requests were not sent together");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_files_come_with_the_listing_and_many_probes_fly_at_once() {
    let (_dir, mut cfg) = many_small_files(100);
    cfg.latency = Duration::from_millis(200);
    let (server, fs) = setup(cfg, |_| {}).await;
    let job = ino_of(&fs, &[MANY]).await;
    server.reset_peaks();
    let listed = fs.opendir(job).await.unwrap();
    until_file_requests(&server, 100).await;
    // More than the 16 at a time there used to be (48: the background share of 64).
    assert!(
        server.peak_in_flight(FILES) > 16,
        "peak {}",
        server.peak_in_flight(FILES)
    );
    // Each probe was a GET of the first bytes, not a HEAD.
    assert!(file_requests(&server)
        .iter()
        .all(|r| r.method == "GET" && r.range.as_deref() == Some("bytes=0-65535")));
    // Wait for the probes' answers: every size known.
    for e in fs
        .readdir(listed)
        .unwrap()
        .iter()
        .filter(|e| e.name.ends_with(".txt"))
    {
        fs.getattr(e.ino).await.unwrap();
    }
    server.clear_requests();
    for e in fs
        .readdir(listed)
        .unwrap()
        .iter()
        .filter(|e| e.name.ends_with(".txt"))
    {
        let got = read_all(&fs, e.ino, 128 << 10).await;
        let i: usize = e.name[1..4].parse().unwrap();
        assert_eq!(got, format!("file {i}\n").repeat(10 + i * 7).into_bytes());
    }
    assert_eq!(
        file_requests(&server),
        vec![],
        "the probes carried the files' bytes"
    );
    fs.release(listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_asked_for_passes_its_neighbours_probes() {
    let (_dir, mut cfg) = many_small_files(100);
    cfg.latency = Duration::from_millis(100);
    let (server, fs) = setup(cfg, |m| m.http.max_requests_per_origin = 4).await;
    let job = ino_of(&fs, &[MANY]).await;
    let listed = fs.opendir(job).await.unwrap();
    // The listing queued 100 probes, 3 at a time; the last file is asked for now.
    let attr = fs.lookup(job, "f099.txt").await.unwrap();
    assert_eq!(attr.size, "file 99\n".len() as u64 * (10 + 99 * 7));
    until_file_requests(&server, 100).await;
    let order: Vec<String> = file_requests(&server).into_iter().map(|r| r.path).collect();
    let mine = order.iter().position(|p| p.ends_with("f099.txt")).unwrap();
    assert!(
        mine < 10,
        "the file asked for was probe number {mine}: {order:?}"
    );
    fs.release(listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_mount_has_the_connections_its_first_lookup_needs_open() {
    // The latency keeps both of the start's requests in flight together, so each has a
    // connection of its own (as on a long link).
    let cfg = ServerConfig {
        latency: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let (server, fs) = setup(cfg, |_| {}).await;
    // What `mount` asks before it returns.
    fs.tree().api().check().await.unwrap();
    let peers = |requests: &[weaverfs_server::RequestRecord]| -> HashSet<_> {
        requests.iter().map(|r| r.peer.expect("a peer")).collect()
    };
    let opened = peers(&server.requests());
    assert_eq!(opened.len(), 2, "{:?}", server.requests());
    server.clear_requests();
    ino_of(&fs, &[jobs::FILES, "output_text.txt"]).await;
    // The job's status and results, sent together, each went on a connection already open.
    let api: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(API))
        .collect();
    assert_eq!(api.len(), 2, "{api:?}");
    assert_eq!(peers(&api).len(), 2, "two connections at once: {api:?}");
    assert!(peers(&api).is_subset(&opened), "{api:?} vs {opened:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_read_on_a_fresh_mount_asks_what_it_can_together() {
    let cfg = ServerConfig {
        latency: Duration::from_millis(100),
        big_file_size: 16 << 20,
        ..ServerConfig::default()
    };
    let (server, fs) = setup(cfg, |_| {}).await;
    let root = fs.opendir(ROOT_INO).await.unwrap();
    server.clear_requests();
    server.reset_peaks();
    let ino = ino_of(&fs, &[jobs::FILES, "output_text.txt"]).await;
    // The job's status and results were asked together, then the file's size and bytes.
    assert!(server.peak_in_flight(API) >= 2, "status, then results");
    let asked = |server: &TestServer| -> Vec<_> {
        server
            .requests()
            .into_iter()
            .map(|r| (r.method, r.path, r.range))
            .collect()
    };
    let before = asked(&server);
    let api = before.iter().filter(|r| r.1.starts_with(API)).count();
    let text = |asked: &[(String, String, Option<String>)]| {
        asked.iter().filter(|r| r.1.ends_with("result.txt")).count()
    };
    assert_eq!((api, text(&before)), (2, 1), "{before:?}");
    let fh = fs.open(ino).await.unwrap().fh;
    let got = fs.read(fh, 0, 4096).await.unwrap();
    assert!(!got.is_empty());
    // The read asked for nothing: the probe brought the bytes.
    assert_eq!(text(&asked(&server)), 1, "{:?}", asked(&server));
    fs.release(fh);
    fs.release(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_read_ahead_asked_for_passes_the_probes_once_the_reader_waits_for_it() {
    // 30 jobs of 5 small files each: their listings queue their probes for the background
    // share (3 of 4 at a time).
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..30)
        .map(|j| format!("00000000-0000-4000-8000-0000000b{j:04}"))
        .collect();
    for name in &names {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        for i in 0..5 {
            std::fs::write(
                dir.path().join(name).join(format!("f{i}.txt")),
                "x".repeat(100),
            )
            .unwrap();
        }
    }
    let cfg = ServerConfig {
        jobs_dir: Some(dir.path().to_path_buf()),
        big_file_size: 16 << 20,
        latency: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let (server, fs) = setup(cfg, |m| m.http.max_requests_per_origin = 4).await;
    let big = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    let listings: Vec<_> = names
        .iter()
        .map(|name| {
            let (fs, name) = (fs.clone(), name.clone());
            tokio::spawn(async move { fs.opendir(ino_of(&fs, &[&name]).await).await.unwrap() })
        })
        .collect();
    let mut listed = Vec::new();
    for l in listings {
        listed.push(l.await.unwrap());
    }
    until_file_requests(&server, 3).await;
    server.clear_requests();
    // The first block is the reader's own; the second is asked for ahead, in the background,
    // behind the probes; the second read waits for it.
    let fh = fs.open(big).await.unwrap().fh;
    let first = fs.read(fh, 0, 1 << 20).await.unwrap();
    let second = fs.read(fh, 1 << 20, 1 << 20).await.unwrap();
    fs.release(fh);
    let path = format!("{FILES}/{}/output_big/big.dat", jobs::FILES);
    assert!(first == server.file_bytes(&path, 0, 1 << 20).unwrap());
    assert!(second == server.file_bytes(&path, 1 << 20, 2 << 20).unwrap());
    until_file_requests(&server, 140).await;
    let order: Vec<String> = file_requests(&server)
        .into_iter()
        .map(|r| format!("{} {}", r.path, r.range.unwrap_or_default()))
        .collect();
    let second_block = order
        .iter()
        .position(|r| r.ends_with("big.dat bytes=1048576-2097151"))
        .unwrap_or_else(|| panic!("the second block was not asked for alone: {order:?}"));
    // Behind the probes it would have come after most of the 150.
    assert!(
        second_block < 50,
        "the block the reader waited for was request number {second_block}: {order:?}"
    );
    for l in listed {
        fs.release(l);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_together_stay_within_the_cache_with_their_read_ahead() {
    const SIZE: usize = 12 << 20;
    let (dir, mut cfg) = many_small_files(0);
    for i in 0..4u8 {
        let body: Vec<u8> = (0..SIZE).map(|b| (b % 251) as u8 ^ i).collect();
        std::fs::write(dir.path().join(MANY).join(format!("big{i}.dat")), body).unwrap();
    }
    cfg.latency = Duration::from_millis(20);
    let (server, fs) = setup(cfg, |m| m.cache_size = 16 << 20).await;
    let job = ino_of(&fs, &[MANY]).await;
    server.reset_peaks();
    // Four sequential readers at once, each of whose windows may reach half the cache.
    let readers: Vec<_> = (0..4u8)
        .map(|i| {
            let fs = fs.clone();
            tokio::spawn(async move {
                let ino = fs.lookup(job, &format!("big{i}.dat")).await.unwrap().ino;
                let got = read_all(&fs, ino, 128 << 10).await;
                let want: Vec<u8> = (0..SIZE).map(|b| (b % 251) as u8 ^ i).collect();
                assert!(got == want, "wrong bytes in big{i}.dat");
            })
        })
        .collect();
    for r in readers {
        r.await.unwrap();
    }
    let cache = fs.reader().cache();
    // Blocks and read-ahead on its way together, never more than the cache: 48 MiB went
    // through it, with several ranges in flight.
    assert!(
        cache.peak_used() <= cache.capacity(),
        "{} bytes held at once in a cache of {}",
        cache.peak_used(),
        cache.capacity()
    );
    assert!(cache.peak_used() > cache.capacity() / 2);
    assert!(server.peak_in_flight(FILES) >= 4);
}
