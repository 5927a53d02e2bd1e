//! The read path on a long link, against the built-in server holding every answer for a fixed
//! time (its latency knob): what is asked together, how much is in flight at the origin, and
//! which round trips are saved. The assertions count requests and their overlap at the
//! server, not time, so they hold on a slow machine too.

use std::collections::HashSet;
mod common;

use std::sync::Arc;
use std::time::Duration;

use weaverfs_fs::fs::WeaverFs;
use weaverfs_fs::mount::{build_fs, MountConfig};
use weaverfs_fs::tree::ROOT_INO;
use weaverfs_server::{jobs, Fault, ServerConfig, TestServer};

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

/// Requests for the file `name` alone: other files' probes may still be coming in.
fn requests_for(server: &TestServer, name: &str) -> usize {
    file_requests(server)
        .iter()
        .filter(|r| r.path.ends_with(name))
        .count()
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
    // Its size came with the job: an open probes it (and the listing probes its neighbours).
    fs.release(fs.open(ino).await.unwrap().fh);
    let path = format!("{FILES}/{}/output_big/big.dat", jobs::FILES);
    until_file_requests(&server, 3).await;
    server.clear_requests();
    server.reset_peaks();
    let got = read_all(&fs, ino, 128 << 10).await;
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
        .filter(|r| r.path == path)
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
    // None larger than half a long link's TCP window (4 MiB): a body as large as the window
    // takes two round trips.
    assert!(
        ranges.iter().all(|(a, b)| b - a <= 2 << 20),
        "a request of more than 2 MiB: {ranges:?}"
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
    // Every size known (from the job's statistics: nobody waits for the probes).
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
    // Its size came with the job (statistics); opening it needs its probe.
    let attr = fs.lookup(job, "f099.txt").await.unwrap();
    assert_eq!(attr.size, "file 99\n".len() as u64 * (10 + 99 * 7));
    let fh = fs.open(attr.ino).await.unwrap().fh;
    fs.release(fh);
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
    // The latency keeps the start's requests in flight together, so each has a connection
    // of its own (as on a long link).
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
    assert_eq!(opened.len(), 3, "{:?}", server.requests());
    server.clear_requests();
    ino_of(&fs, &[jobs::FILES, "output_text.txt"]).await;
    // The job's status, results and statistics, sent together, each went on a connection
    // already open.
    let api: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(API))
        .collect();
    assert_eq!(api.len(), 3, "{api:?}");
    assert_eq!(peers(&api).len(), 3, "three connections at once: {api:?}");
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
    // The job's status, results and statistics were asked together; the file's size came
    // with them.
    assert!(server.peak_in_flight(API) >= 3, "not asked together");
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
    assert_eq!(api, 3, "{before:?}");
    assert!(text(&before) <= 1, "{before:?}");
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

/// The bytes of file `i` of [`job_of_files`].
fn file_body(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k * 31 + i * 7) as u8).collect()
}

/// A server with the job [`MANY`] of `n` files (`f000.dat`...: outputs `f000`...), file `i`
/// of `size(i)` bytes (see [`file_body`]).
fn job_of_files(n: usize, size: impl Fn(usize) -> usize) -> (tempfile::TempDir, ServerConfig) {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join(MANY);
    std::fs::create_dir(&job).unwrap();
    for i in 0..n {
        std::fs::write(job.join(format!("f{i:03}.dat")), file_body(i, size(i))).unwrap();
    }
    let cfg = ServerConfig {
        jobs_dir: Some(dir.path().to_path_buf()),
        big_file_size: 1 << 20,
        ..ServerConfig::default()
    };
    (dir, cfg)
}

fn statistics_requests(server: &TestServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/statistics"))
        .count()
}

/// Files in a job past which a listing no longer probes the files whose size was announced
/// larger than a probe brings (in a smaller job every file is probed with the listing).
const PAST_PROBE_ALL: usize = 65;

/// Sizes of the probe-sized and of the larger files of the tests below.
fn small_or_large(i: usize) -> usize {
    match i % 2 {
        0 => 1_000 + i,
        _ => 200_000 + i,
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
    // The blocks' buffers are reused: their memory is what the cache holds, plus a block per
    // reader (the one it reads, evicted under it, or fetched without read-ahead room) and a
    // read-ahead run on its way from its answer into the cache (4 MiB); 48 MiB went through.
    let slack = (4 + 4) << 20;
    let buffers = fs.reader().buffers().peak_bytes();
    assert!(
        buffers <= cache.capacity() + slack,
        "{buffers} bytes of block buffers for a cache of {}",
        cache.capacity()
    );
}

/// `ls -l` of [`MANY`] (made by [`job_of_files`] with [`small_or_large`]): `n` files, each of
/// its true size, after one statistics request.
async fn ls_l_gives_the_sizes(server: &TestServer, fs: &WeaverFs, n: usize) {
    let job = ino_of(fs, &[MANY]).await;
    let listed = fs.opendir(job).await.unwrap();
    let attrs = fs.readdir_attrs(listed, 0, usize::MAX).await.unwrap();
    let files: Vec<_> = attrs
        .iter()
        .filter(|(_, e, _)| e.name.ends_with(".dat"))
        .collect();
    assert_eq!(files.len(), n);
    for (_, e, attr) in files {
        let i: usize = e.name[1..4].parse().unwrap();
        assert_eq!(attr.size, small_or_large(i) as u64, "{}", e.name);
    }
    assert_eq!(statistics_requests(server), 1);
    fs.release(listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_l_of_a_big_job_waits_for_no_file_and_asks_statistics_once() {
    let (_dir, cfg) = job_of_files(1000, small_or_large);
    let (server, fs) = setup(cfg, |_| {}).await;
    // The file host holds every answer: `ls -l` must not need one.
    server.inject_times(
        FILES,
        Fault::SlowFirstByte(Duration::from_secs(3600)),
        100_000,
    );
    ls_l_gives_the_sizes(&server, &fs, 1000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_statistics_request_leaves_the_sizes_to_the_probes() {
    let (_dir, cfg) = job_of_files(20, small_or_large);
    let (server, fs) = setup(cfg, |_| {}).await;
    // The server never answers the job's statistics: its directory must not wait for them
    // (beyond their grace), and the files' own answers give the sizes.
    server.inject(
        &format!("{API}/jobs/{MANY}/statistics"),
        Fault::SlowFirstByte(Duration::from_secs(3600)),
    );
    ls_l_gives_the_sizes(&server, &fs, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_files_a_probe_brings_whole_are_probed_with_the_listing() {
    let (_dir, cfg) = job_of_files(100, small_or_large);
    let (server, fs) = setup(cfg, |_| {}).await;
    let job = ino_of(&fs, &[MANY]).await;
    let listed = fs.opendir(job).await.unwrap();
    // Small and large files alternate: had the large ones been probed, some would be among
    // the first 50 requests (48 fly at once).
    until_file_requests(&server, 50).await;
    let asked = file_requests(&server);
    assert!(
        asked.iter().all(|r| {
            let i: usize = r.path.rsplit('/').next().unwrap()[1..4].parse().unwrap();
            small_or_large(i) <= 64 << 10
        }),
        "{:?}",
        asked.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // Those come whole with their probe: reading them asks nothing more.
    let small = fs.lookup(job, "f000.dat").await.unwrap();
    assert_eq!(
        read_all(&fs, small.ino, 128 << 10).await,
        file_body(0, 1_000)
    );
    // A large one is probed when opened, and read right.
    let large = fs.lookup(job, "f001.dat").await.unwrap();
    assert_eq!(
        read_all(&fs, large.ino, 128 << 10).await,
        file_body(1, 200_001)
    );
    assert_eq!(
        file_requests(&server)
            .iter()
            .filter(|r| r.path.ends_with("f000.dat"))
            .count(),
        1
    );
    fs.release(listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_that_lie_never_give_wrong_bytes() {
    let sizes = [100, 30_000, 200_000, 3 << 20];
    for skew in [4096, -4096] {
        let (_dir, cfg) = job_of_files(PAST_PROBE_ALL, |i| sizes.get(i).copied().unwrap_or(10));
        let (server, fs) = setup(cfg, |_| {}).await;
        server.set_statistics_skew(skew);
        let job = ino_of(&fs, &[MANY]).await;
        for (i, &real) in sizes.iter().enumerate() {
            let name = format!("f{i:03}.dat");
            let told = fs.lookup(job, &name).await.unwrap();
            let announced = (real as u64).saturating_add_signed(skew);
            if announced > 64 << 10 {
                // Not probed with the listing: the announced size until the file answers.
                assert_eq!(told.size, announced, "{name}");
            }
            let opened = fs.open(told.ino).await.unwrap();
            if told.size != real as u64 {
                assert!(opened.direct_io, "{name}: the kernel's size is bypassed");
            }
            fs.release(opened.fh);
            assert_eq!(
                read_all(&fs, told.ino, 128 << 10).await,
                file_body(i, real),
                "{name}, statistics {skew:+} bytes"
            );
            assert_eq!(fs.getattr(told.ino).await.unwrap().size, real as u64);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_statistics_is_asked_once_and_probes_give_the_sizes() {
    let (_dir, cfg) = job_of_files(20, small_or_large);
    let (server, fs) = setup(cfg, |_| {}).await;
    // As pygeoapi answers: 404, and not Weaver's NoJobStatistics.
    server.inject(
        &format!("{API}/jobs/{MANY}/statistics"),
        Fault::Status {
            code: 404,
            retry_after: None,
        },
    );
    let job = ino_of(&fs, &[MANY]).await;
    let listed = fs.opendir(job).await.unwrap();
    for (_, e, attr) in fs.readdir_attrs(listed, 0, usize::MAX).await.unwrap() {
        if let Some(i) = e.name.strip_suffix(".dat") {
            let i: usize = i[1..].parse().unwrap();
            assert_eq!(attr.size, small_or_large(i) as u64, "{}", e.name);
        }
    }
    // Every file was probed for its size.
    until_file_requests(&server, 20).await;
    // Another job: no statistics asked again.
    ino_of(&fs, &[jobs::FILES, "output_text.txt"]).await;
    assert_eq!(statistics_requests(&server), 1);
    fs.release(listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_opened_again_keeps_the_kernels_pages_and_asks_nothing() {
    // As the benchmark's "first 4 KiB of that file again": `ls -l` of a job whose sizes were
    // announced, a file read once, then opened again.
    let (_dir, cfg) = job_of_files(100, small_or_large);
    let (server, fs) = setup(cfg, |_| {}).await;
    let job = ino_of(&fs, &[MANY]).await;
    let listed = fs.opendir(job).await.unwrap();
    fs.readdir_attrs(listed, 0, usize::MAX).await.unwrap();
    // f000 is probed (whole) with the listing, f001 (200 kB) only when opened.
    for (i, name) in [(0, "f000.dat"), (1, "f001.dat")] {
        let told = fs.lookup(job, name).await.unwrap();
        let size = small_or_large(i);
        assert_eq!(told.size, size as u64, "{name}: the announced size");
        let first = fs.open(told.ino).await.unwrap();
        // The announced size was right: the kernel's size and pages are usable at once.
        assert!(!first.direct_io && !first.keep_cache, "{name}: first open");
        fs.release(first.fh);
        assert_eq!(read_all(&fs, told.ino, 4096).await, file_body(i, size));
        let asked = requests_for(&server, name);
        // The attributes now come from the file's answer, with the same size.
        assert_eq!(fs.getattr(told.ino).await.unwrap().size, size as u64);
        let again = fs.open(told.ino).await.unwrap();
        // The same version: the kernel keeps the pages it read, so it sends no read at all.
        assert!(again.keep_cache && !again.direct_io, "{name}: opened again");
        fs.release(again.fh);
        assert_eq!(read_all(&fs, told.ino, 4096).await, file_body(i, size));
        assert_eq!(
            requests_for(&server, name),
            asked,
            "{name}: no request when opened and read again"
        );
    }
    fs.release(listed);
}

/// Bytes weaverfs has served to the kernel so far, and the length of the `stats.json` read
/// that told it (served too, once the document was made).
fn bytes_served(m: &common::Mounted) -> (u64, u64) {
    let text = std::fs::read_to_string(m.path(".weaverfs/stats.json")).unwrap();
    let stats: weaverfs_fs::stats::Snapshot = serde_json::from_str(&text).unwrap();
    (stats.bytes_served, text.len() as u64)
}

#[test]
fn through_a_mount_a_file_read_again_comes_from_the_kernels_pages() {
    let (_dir, cfg) = job_of_files(PAST_PROBE_ALL, small_or_large);
    let m = common::Mounted::start(cfg, &[]);
    let job = m.path(MANY);
    common::run("ls", &["-l", job.to_str().unwrap()]);
    // f000 came whole with the listing's probe; f001 (200 kB) is probed when opened.
    for i in [0, 1] {
        let name = format!("f{i:03}.dat");
        let path = job.join(&name);
        let body = file_body(i, small_or_large(i));
        assert!(std::fs::read(&path).unwrap() == body, "{}", path.display());
        let asked = requests_for(&m.server, &name);
        let (before, told) = bytes_served(&m);
        assert!(std::fs::read(&path).unwrap() == body, "{}", path.display());
        let (after, _) = bytes_served(&m);
        assert_eq!(
            after - before,
            told,
            "{}: read again, no read reached weaverfs but the stats' own",
            path.display()
        );
        assert_eq!(requests_for(&m.server, &name), asked, "{name}: no request");
    }
    m.unmount();
}

#[test]
fn through_a_mount_ls_l_and_cat_agree_with_the_file_host_when_statistics_lie() {
    let sizes = [100, 200_000, 3 << 20];
    for skew in [4096, -4096] {
        let (_dir, cfg) = job_of_files(PAST_PROBE_ALL, |i| sizes.get(i).copied().unwrap_or(10));
        let m = common::Mounted::start(cfg, &[]);
        m.server.set_statistics_skew(skew);
        let job = m.path(MANY);
        let listed = common::run("ls", &["-l", job.to_str().unwrap()]);
        assert_eq!(listed.matches(".dat").count(), PAST_PROBE_ALL, "{listed}");
        // The large files are shown with the announced size until they answer.
        let announced = ((3 << 20) as u64).saturating_add_signed(skew);
        assert!(listed.contains(&format!(" {announced} ")), "{listed}");
        for (i, &real) in sizes.iter().enumerate() {
            let path = job.join(format!("f{i:03}.dat"));
            assert!(
                std::fs::read(&path).unwrap() == file_body(i, real),
                "{}: wrong bytes with statistics {skew:+}",
                path.display()
            );
            // Then the kernel's size is the file host's.
            common::wait_for("the real size", || {
                std::fs::metadata(&path).unwrap().len() == real as u64
            });
        }
        assert_eq!(statistics_requests(&m.server), 1);
        m.unmount();
    }
}
