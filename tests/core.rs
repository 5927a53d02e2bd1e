//! The filesystem core against the built-in server, without a kernel: what the FUSE adapter
//! calls, checked directly.

use std::sync::Arc;

use weaverfs_fs::fs::WeaverFs;
use weaverfs_fs::mount::{build_fs, MountConfig};
use weaverfs_fs::tree::ROOT_INO;
use weaverfs_server::{jobs, ServerConfig, TestServer};

async fn setup(cfg: ServerConfig, cache: u64) -> (TestServer, Arc<WeaverFs>) {
    let server = TestServer::start(cfg).await.unwrap();
    let mut mount = MountConfig::new(server.api_url().parse().unwrap());
    mount.cache_size = cache;
    (server, Arc::new(build_fs(&mount).unwrap()))
}

fn small() -> ServerConfig {
    ServerConfig {
        big_file_size: 16 << 20,
        ..ServerConfig::default()
    }
}

fn big_path() -> String {
    format!("/wpsoutputs/{}/output_big/big.dat", jobs::FILES)
}

async fn ino_of(fs: &WeaverFs, path: &[&str]) -> u64 {
    let mut ino = ROOT_INO;
    for name in path {
        ino = fs
            .lookup(ino, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .ino;
    }
    ino
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_attributes_and_literals() {
    let (_server, fs) = setup(small(), 8 << 20).await;
    let fh = fs.opendir(ROOT_INO).await.unwrap();
    let names: Vec<String> = fs
        .readdir(fh)
        .unwrap()
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    fs.release(fh);
    assert_eq!(&names[..2], [".", ".."]);
    assert!(names.contains(&jobs::FILES.to_string()));
    let job = fs.lookup(ROOT_INO, jobs::LITERALS).await.unwrap();
    assert!(job.is_dir);
    let count = fs.lookup(job.ino, "count").await.unwrap();
    assert_eq!((count.size, count.is_dir), (3, false));
    let fh = fs.open(count.ino).await.unwrap().fh;
    assert_eq!(&fs.read(fh, 0, 100).await.unwrap()[..], b"42\n");
    assert_eq!(&fs.read(fh, 1, 100).await.unwrap()[..], b"2\n");
    assert!(fs.read(fh, 10, 100).await.unwrap().is_empty());
    fs.release(fh);
    // Inode numbers are stable.
    assert_eq!(fs.lookup(job.ino, "count").await.unwrap().ino, count.ino);
    // A lookup of something absent is ENOENT; reads on a closed handle are EBADF.
    let missing = fs.lookup(job.ino, "nope").await.unwrap_err();
    assert_eq!(missing.errno(), libc::ENOENT);
    assert_eq!(fs.read(fh, 0, 1).await.unwrap_err().errno(), libc::EBADF);
}

fn gets_of(server: &TestServer, path: &str) -> Vec<weaverfs_server::RequestRecord> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_on_one_block_are_one_request() {
    let (server, fs) = setup(small(), 8 << 20).await;
    let ino = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    // Its size came with the job: the file's own probe is its first open.
    fs.release(fs.open(ino).await.unwrap().fh);
    server.clear_requests();
    let offset = 5u64 << 20;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let fs = fs.clone();
        tasks.push(tokio::spawn(async move {
            // A handle each, reading the whole block (so no read is served directly).
            let fh = fs.open(ino).await.unwrap().fh;
            let bytes = fs.read(fh, offset, 1 << 20).await.unwrap();
            fs.release(fh);
            bytes
        }));
    }
    for t in tasks {
        let bytes = t.await.unwrap();
        assert_eq!(
            &bytes[..],
            &server
                .file_bytes(&big_path(), offset, offset + (1 << 20))
                .unwrap()[..]
        );
    }
    let gets = gets_of(&server, &big_path());
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].range.as_deref(), Some("bytes=5242880-6291455"));
    assert!(gets[0].headers.get("if-range").is_some(), "no If-Range");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_readers_share_the_blocks() {
    let (server, fs) = setup(small(), 8 << 20).await;
    let ino = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    server.clear_requests();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let fs = fs.clone();
        tasks.push(tokio::spawn(async move {
            let fh = fs.open(ino).await.unwrap().fh;
            let head = fs.read(fh, 0, 4096).await.unwrap();
            let next = fs.read(fh, 4096, 128 << 10).await.unwrap();
            fs.release(fh);
            [head, next].concat()
        }));
    }
    let want = server
        .file_bytes(&big_path(), 0, 4096 + (128 << 10))
        .unwrap();
    for t in tasks {
        assert_eq!(t.await.unwrap(), want);
    }
    // The first 4 KiB came with the size probe (the lookup); one reader started the blocks,
    // the others waited for those blocks: no block was asked for twice.
    let mut ranges: Vec<String> = gets_of(&server, &big_path())
        .into_iter()
        .filter_map(|r| r.range)
        .collect();
    let small_first: Vec<&String> = ranges.iter().filter(|r| *r == "bytes=0-4095").collect();
    assert_eq!(small_first.len(), 0, "{ranges:?}");
    let total = ranges.len();
    ranges.sort();
    ranges.dedup();
    assert_eq!(total, ranges.len(), "a range asked twice: {ranges:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_reads_fetch_only_what_they_read() {
    let (server, fs) = setup(small(), 8 << 20).await;
    let ino = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    let fh = fs.open(ino).await.unwrap().fh;
    server.clear_requests();
    let size = 16u64 << 20;
    let mut at = 7 << 20;
    for _ in 0..50 {
        // Jumps of several MiB: no read follows the one before.
        at = (at + (5 << 20) + 12288) % (size - 4096) / 4096 * 4096;
        let got = fs.read(fh, at, 4096).await.unwrap();
        assert_eq!(
            &got[..],
            &server.file_bytes(&big_path(), at, at + 4096).unwrap()[..]
        );
    }
    let gets = gets_of(&server, &big_path());
    assert_eq!(gets.len(), 50, "one small request per read");
    for g in &gets {
        let range = g.range.as_deref().unwrap();
        let (a, b) = range
            .strip_prefix("bytes=")
            .and_then(|r| r.split_once('-'))
            .unwrap();
        let len = b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1;
        assert_eq!(len, 4096, "{range}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_reads_are_read_ahead_and_exact() {
    let (server, fs) = setup(small(), 8 << 20).await;
    let ino = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    let fh = fs.open(ino).await.unwrap().fh;
    server.clear_requests();
    let size = 16u64 << 20;
    let mut at = 0;
    while at < size {
        let got = fs.read(fh, at, 128 << 10).await.unwrap();
        assert_eq!(
            &got[..],
            &server
                .file_bytes(&big_path(), at, at + got.len() as u64)
                .unwrap()[..]
        );
        at += got.len() as u64;
    }
    // The first read came directly; then every block was fetched exactly once, read-ahead
    // included.
    let mut ranges: Vec<String> = gets_of(&server, &big_path())
        .into_iter()
        .filter_map(|r| r.range)
        .collect();
    let first = ranges.iter().position(|r| r == "bytes=0-131071");
    ranges.remove(first.expect("the first read asked for its own bytes"));
    let total = ranges.len();
    ranges.sort();
    ranges.dedup();
    assert_eq!((total, ranges.len()), (16, 16), "{ranges:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_come_from_a_ranged_get_that_needs_no_head() {
    let (server, fs) = setup(small(), 8 << 20).await;
    server.set_refuse_head(true);
    let attr = fs
        .lookup(ino_of(&fs, &[jobs::FILES]).await, "output_big.dat")
        .await
        .unwrap();
    assert_eq!(attr.size, 16 << 20);
    let fh = fs.open(attr.ino).await.unwrap().fh;
    let at = (16 << 20) - 100;
    let got = fs.read(fh, at, 4096).await.unwrap();
    assert_eq!(
        &got[..],
        &server.file_bytes(&big_path(), at, 16 << 20).unwrap()[..]
    );
    // One GET of the first bytes told the size (no HEAD, no one-byte range).
    let asked: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == big_path())
        .map(|r| (r.method, r.range.unwrap_or_default()))
        .collect();
    let probes = asked
        .iter()
        .filter(|(m, r)| m == "GET" && r == "bytes=0-65535")
        .count();
    assert_eq!(probes, 1, "{asked:?}");
    assert!(asked.iter().all(|(m, _)| m == "GET"), "{asked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_follows_every_page() {
    let cfg = ServerConfig {
        extra_jobs: 2500,
        ..small()
    };
    let (server, fs) = setup(cfg, 8 << 20).await;
    let fh = fs.opendir(ROOT_INO).await.unwrap();
    let entries = fs.readdir(fh).unwrap();
    let (views, jobs_listed): (Vec<&str>, Vec<&str>) = entries
        .iter()
        .skip(2)
        .map(|e| &*e.name)
        .partition(|n| n.starts_with('@'));
    assert_eq!(views, ["@process", "@status", "@date"]);
    let expected = jobs::LISTED_SAMPLES + 2500;
    assert_eq!(
        jobs_listed.len(),
        expected,
        "the listed samples and 2500 extra jobs"
    );
    let names: std::collections::HashSet<&str> = jobs_listed.into_iter().collect();
    assert_eq!(names.len(), expected, "no duplicates");
    assert!(names.contains(jobs::extra_job_id(0).as_str()));
    assert!(names.contains(jobs::extra_job_id(2499).as_str()));
    assert!(!names.contains(jobs::UNLISTED));
    let pages = server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/weaver/jobs?"))
        .count();
    assert_eq!(pages, 3, "three pages of 1000");
}

/// One step of the interleaving property test: a handle reads `len` bytes, either where it
/// stopped (a sequential reader) or somewhere else.
#[derive(Debug, Clone)]
struct Step {
    handle: usize,
    sequential: bool,
    offset: u64,
    len: u64,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    (
        0..4usize,
        any::<bool>(),
        0..(16u64 << 20),
        prop_oneof![1..8192u64, 4096..(3u64 << 20)],
    )
        .prop_map(|(handle, sequential, offset, len)| Step {
            handle,
            sequential,
            offset,
            len,
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Reads from several handles, interleaved at random, sequential and random, through a
    /// small cache that evicts: every read returns exactly the file's bytes.
    #[test]
    fn interleaved_handles_read_the_true_bytes(
        steps in proptest::collection::vec(step(), 1..60),
        concurrent in proptest::prelude::any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // 4 MiB of cache: read-ahead of one block, and constant eviction.
            let (server, fs) = setup(small(), 4 << 20).await;
            let ino = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
            let size = 16u64 << 20;
            let mut handles = Vec::new();
            for _ in 0..4 {
                handles.push((fs.open(ino).await.unwrap().fh, 0u64));
            }
            let mut reads = Vec::new();
            for s in &steps {
                let (fh, pos) = &mut handles[s.handle];
                let at = if s.sequential { *pos } else { s.offset };
                *pos = (at + s.len).min(size);
                reads.push((*fh, at, s.len));
            }
            let check = |at: u64, len: u64, got: &[u8]| {
                let want = server.file_bytes(&big_path(), at, (at + len).min(size)).unwrap();
                assert!(got == &want[..], "read of {len} at {at}: wrong bytes");
            };
            if concurrent {
                let tasks: Vec<_> = reads
                    .into_iter()
                    .map(|(fh, at, len)| {
                        let fs = fs.clone();
                        tokio::spawn(async move { (at, len, fs.read(fh, at, len as u32).await) })
                    })
                    .collect();
                for t in tasks {
                    let (at, len, got) = t.await.unwrap();
                    check(at, len, &got.unwrap());
                }
            } else {
                for (fh, at, len) in reads {
                    check(at, len, &fs.read(fh, at, len as u32).await.unwrap());
                }
            }
            server.shutdown().await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_path_walk_asks_for_its_job_alone() {
    let cfg = ServerConfig {
        extra_jobs: 2500,
        ..small()
    };
    let (server, fs) = setup(cfg, 8 << 20).await;
    let ino = ino_of(&fs, &[jobs::FILES, "output_big.dat"]).await;
    let fh = fs.open(ino).await.unwrap().fh;
    assert_eq!(fs.read(fh, 0, 4096).await.unwrap().len(), 4096);
    let asked: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        !asked.iter().any(|p| p.starts_with("/weaver/jobs?")),
        "no root listing for one path: {asked:?}"
    );
    assert!(asked.contains(&format!("/weaver/jobs/{}", jobs::FILES)));
    // The root, listed later, holds the same job directory.
    let root = fs.opendir(ROOT_INO).await.unwrap();
    let listed = fs.readdir(root).unwrap();
    let job = fs.lookup(ROOT_INO, jobs::FILES).await.unwrap().ino;
    assert!(listed
        .iter()
        .any(|e| &*e.name == jobs::FILES && e.ino == job));
}

/// Path-speaking front ends (WebDAV, Python) resolve through the views' links to the job's own
/// entries, and a path that leaves the tree or names nothing says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_resolve_through_links_to_the_same_entries() {
    let (_server, fs) = setup(small(), 8 << 20).await;
    let direct = fs
        .resolve(&format!("{}/count", jobs::LITERALS), true)
        .await
        .unwrap();
    assert_eq!(direct.ino, ino_of(&fs, &[jobs::LITERALS, "count"]).await);
    assert_eq!(fs.resolve("", true).await.unwrap().ino, ROOT_INO);
    assert_eq!(fs.resolve("/./", true).await.unwrap().ino, ROOT_INO);
    // A view's entry is a link to the job directory (`../../JOB`): followed on the way, kept
    // as a link at the end unless asked.
    let view = format!("@status/successful/{}", jobs::LITERALS);
    let link = fs.resolve(&view, false).await.unwrap();
    assert!(link.is_link);
    let job = fs.resolve(&view, true).await.unwrap();
    assert_eq!(job.ino, ino_of(&fs, &[jobs::LITERALS]).await);
    let through = fs.resolve(&format!("{view}/count"), false).await.unwrap();
    assert_eq!(through.ino, direct.ino);
    assert!(matches!(
        fs.resolve(&format!("{}/nothing-here", jobs::LITERALS), true)
            .await,
        Err(weaverfs_fs::error::FsError::NotFound(_))
    ));
    assert!(matches!(
        fs.resolve(&format!("{}/count/deeper", jobs::LITERALS), true)
            .await,
        Err(weaverfs_fs::error::FsError::NotDir)
    ));
    // `..` never climbs above the root.
    assert_eq!(fs.resolve("../..", true).await.unwrap().ino, ROOT_INO);
}
