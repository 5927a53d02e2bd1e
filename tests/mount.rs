//! The tree contract, through a real FUSE mount of the built-in server.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::time::Duration;

use common::{run, Lcg, Mounted};
use weaverfs_server::{jobs, ServerConfig};

fn small_server() -> ServerConfig {
    ServerConfig {
        big_file_size: 24 << 20,
        ..ServerConfig::default()
    }
}

fn names(dir: &std::path::Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn text(m: &Mounted, rel: &str) -> String {
    fs::read_to_string(m.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn file_path(job: &str, rest: &str) -> String {
    format!("/wpsoutputs/{job}/{rest}")
}

#[test]
fn root_lists_jobs_and_resolves_unlisted_ones() {
    let m = Mounted::start(small_server(), &[]);
    let root = names(m.root());
    for job in [
        jobs::LITERALS,
        jobs::FILES,
        jobs::FAILED,
        jobs::RUNNING,
        jobs::DISMISSED,
        jobs::RAW,
        jobs::OLD,
    ] {
        assert!(root.contains(job), "{job} missing from {root:?}");
    }
    assert!(!root.contains(jobs::UNLISTED));
    // Not listed, but resolvable by id.
    assert!(m.path(jobs::UNLISTED).is_dir());
    assert_eq!(
        text(&m, &format!("{}/secret", jobs::UNLISTED)),
        "found me\n"
    );
    // Names that cannot be job ids fail without a request; unknown ids fail after one request,
    // and are then remembered as absent.
    let absent = [
        "x.aux.xml",
        ".hidden",
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
    ];
    m.server.clear_requests();
    for _ in 0..3 {
        for name in absent {
            let err = fs::metadata(m.path(name)).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{name}");
        }
    }
    let asked: Vec<String> = m.server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        !asked
            .iter()
            .any(|p| p.contains("aux") || p.contains("hidden")),
        "{asked:?}"
    );
    for id in &absent[2..] {
        let n = asked
            .iter()
            .filter(|p| p.ends_with(&format!("/jobs/{id}")))
            .count();
        assert_eq!(n, 1, "{id} asked {n} times: {asked:?}");
    }
    // Directories are 0755 and owned by the mounting user.
    let meta = fs::metadata(m.path(jobs::LITERALS)).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o755);
    assert_eq!(meta.uid(), unsafe { libc::getuid() });
    let status = m.unmount();
    assert!(status.success(), "{status:?}");
}

#[test]
fn literal_outputs_are_text_files() {
    let m = Mounted::start(small_server(), &[]);
    let job = jobs::LITERALS;
    let got = names(&m.path(job));
    let want: BTreeSet<String> = [
        ".job",
        "message",
        "count",
        "ratio",
        "flag",
        "config.json",
        "region.json",
        "table.csv",
        "ints",
        "labels",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(got, want);
    assert_eq!(text(&m, &format!("{job}/message")), "hello world\n");
    assert_eq!(text(&m, &format!("{job}/count")), "42\n");
    assert_eq!(text(&m, &format!("{job}/ratio")), "3.1416\n");
    assert_eq!(text(&m, &format!("{job}/flag")), "true\n");
    assert_eq!(text(&m, &format!("{job}/table.csv")), "a,b\n1,2\n");
    assert_eq!(text(&m, &format!("{job}/ints")), "1\n2\n3\n");
    assert_eq!(text(&m, &format!("{job}/labels")), "1\n2\n");
    let config: serde_json::Value =
        serde_json::from_str(&text(&m, &format!("{job}/config.json"))).unwrap();
    assert_eq!(
        config,
        serde_json::json!({"threshold": 0.5, "bands": [1, 2]})
    );
    let region: serde_json::Value =
        serde_json::from_str(&text(&m, &format!("{job}/region.json"))).unwrap();
    assert_eq!(
        region["bbox"],
        serde_json::json!([-74.0, 45.0, -70.0, 47.0])
    );
    let meta = fs::metadata(m.path(&format!("{job}/count"))).unwrap();
    assert_eq!(meta.len(), 3);
    assert_eq!(meta.mode() & 0o777, 0o644);
    // Outputs and the job directory carry the job's `finished` time.
    let status_doc: serde_json::Value =
        serde_json::from_str(&text(&m, &format!("{job}/.job/status.json"))).unwrap();
    let finished =
        weaverfs_fs::api::status::parse_time(status_doc["finished"].as_str().unwrap()).unwrap();
    let finished = finished
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(meta.mtime(), finished);
    // The job directory shows it once its status has been read and the kernel's 1 s attribute
    // cache of the listing's entry has expired.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(fs::metadata(m.path(job)).unwrap().mtime(), finished);
    // The job's documents.
    let status: serde_json::Value =
        serde_json::from_str(&text(&m, &format!("{job}/.job/status.json"))).unwrap();
    assert_eq!(status["status"], "successful");
    let results: serde_json::Value =
        serde_json::from_str(&text(&m, &format!("{job}/.job/results.json"))).unwrap();
    assert_eq!(results["count"], 42);
    assert!(text(&m, &format!("{job}/.job/inputs.json")).contains("inputs"));
    assert!(!m.path(&format!("{job}/.job/exceptions.json")).exists());
}

#[test]
fn href_files_match_the_server_byte_for_byte() {
    let m = Mounted::start(small_server(), &["--cache-size", "8M"]);
    let job = jobs::FILES;
    let got = names(&m.path(job));
    for want in [
        ".job",
        "output_text.txt",
        "output_bin.bin",
        "output_big.dat",
        "output_netcdf.nc",
        "files",
        "output_dir",
        "summary",
    ] {
        assert!(got.contains(want), "{want} missing from {got:?}");
    }
    let cases = [
        ("output_text.txt", "output_text/result.txt"),
        ("output_bin.bin", "output_bin/data.bin"),
        ("output_netcdf.nc", "output_netcdf/sample.nc"),
        ("output_big.dat", "output_big/big.dat"),
    ];
    for (name, served) in cases {
        let url_path = file_path(job, served);
        let size = m.server.file_size(&url_path).unwrap();
        let local = m.path(&format!("{job}/{name}"));
        let meta = fs::metadata(&local).unwrap();
        assert_eq!(meta.len(), size, "{name} size");
        assert_eq!(meta.blocks(), size.div_ceil(512), "{name} st_blocks");
        assert!(meta.blksize() >= 4096);
        // Sequentially, in odd-sized chunks.
        let mut f = fs::File::open(&local).unwrap();
        let mut offset = 0u64;
        let mut buf = vec![0u8; 777_777];
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            let want = m
                .server
                .file_bytes(&url_path, offset, offset + n as u64)
                .unwrap();
            assert!(buf[..n] == want[..], "{name}: bytes differ at {offset}");
            offset += n as u64;
        }
        assert_eq!(offset, size, "{name}: read {offset} of {size} bytes");
        // At random offsets, through a fresh handle.
        let f = fs::File::open(&local).unwrap();
        let mut rng = Lcg(size ^ 0x5eed);
        for _ in 0..200 {
            let at = rng.below(size);
            let len = 1 + rng.below(300_000) as usize;
            let mut buf = vec![0u8; len];
            let n = f.read_at(&mut buf, at).unwrap();
            let end = (at + len as u64).min(size);
            assert_eq!(n as u64, end - at, "{name}: short read at {at}");
            let want = m.server.file_bytes(&url_path, at, end).unwrap();
            assert!(
                buf[..n] == want[..],
                "{name}: bytes differ in a read of {len} at {at}"
            );
        }
    }
    // href files carry the host's Last-Modified.
    let href = format!("{}/{}/output_bin/data.bin", m.server.files_url(), job);
    let last_modified = m.rt.block_on(async {
        let resp = reqwest::Client::new().head(&href).send().await.unwrap();
        let value = resp.headers()["last-modified"]
            .to_str()
            .unwrap()
            .to_string();
        httpdate::parse_http_date(&value).unwrap()
    });
    let want = last_modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        fs::metadata(m.path(&format!("{job}/output_bin.bin")))
            .unwrap()
            .mtime(),
        want
    );
    // `ls -l` shows the same sizes.
    let listing = run("ls", &["-l", m.path(job).to_str().unwrap()]);
    let big = m
        .server
        .file_size(&file_path(job, "output_big/big.dat"))
        .unwrap();
    assert!(listing.contains(&big.to_string()), "{listing}");
}

#[test]
fn arrays_directories_and_tools() {
    let m = Mounted::start(small_server(), &[]);
    let job = jobs::FILES;
    // An array of files is a directory named by the items' file names, unique on collision.
    assert_eq!(
        names(&m.path(&format!("{job}/files"))),
        ["a.json", "a-2.json", "b.json"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    for (name, served) in [
        ("a.json", "files/a.json"),
        ("b.json", "files/b.json"),
        ("a-2.json", "files/sub/a.json"),
    ] {
        let url_path = file_path(job, served);
        let size = m.server.file_size(&url_path).unwrap();
        let got = fs::read(m.path(&format!("{job}/files/{name}"))).unwrap();
        assert_eq!(
            got,
            m.server.file_bytes(&url_path, 0, size).unwrap(),
            "{name}"
        );
    }
    // A directory output is listed from the host's index.
    assert_eq!(
        names(&m.path(&format!("{job}/output_dir"))),
        ["x.txt", "y.txt"].iter().map(|s| s.to_string()).collect()
    );
    let x = file_path(job, "output_dir/x.txt");
    let size = m.server.file_size(&x).unwrap();
    assert_eq!(
        fs::read(m.path(&format!("{job}/output_dir/x.txt"))).unwrap(),
        m.server.file_bytes(&x, 0, size).unwrap()
    );
    assert_eq!(text(&m, &format!("{job}/summary")), "2 files\n");
    // The tools users open results with.
    let nc = m.path(&format!("{job}/output_netcdf.nc"));
    let header = run("ncdump", &["-h", nc.to_str().unwrap()]);
    assert!(header.contains("float tas(time, lat, lon)"), "{header}");
    let data = run("ncdump", &["-v", "tas", nc.to_str().unwrap()]);
    assert!(data.contains("287"), "{data}");
    let copy = tempfile::tempdir().unwrap();
    run(
        "cp",
        &[
            "-r",
            m.path(job).to_str().unwrap(),
            copy.path().to_str().unwrap(),
        ],
    );
    let copied = copy.path().join(job).join("output_netcdf.nc");
    assert_eq!(fs::read(copied).unwrap(), fs::read(&nc).unwrap());
}

#[test]
fn job_states_failed_running_dismissed() {
    let m = Mounted::start(small_server(), &["--active-ttl", "1"]);
    let only = |note: &str| [".job".to_string(), note.to_string()].into();
    // Failed: .job/ with the exceptions, and the @failed note that says why.
    assert_eq!(names(&m.path(jobs::FAILED)), only("@failed"));
    let note = text(&m, &format!("{}/@failed", jobs::FAILED));
    assert!(note.starts_with("failed: "), "{note}");
    let meta = names(&m.path(&format!("{}/.job", jobs::FAILED)));
    assert!(
        meta.contains("exceptions.json") && meta.contains("logs.txt"),
        "{meta:?}"
    );
    let exceptions = text(&m, &format!("{}/.job/exceptions.json", jobs::FAILED));
    assert!(exceptions.contains("MissingParameterValue"), "{exceptions}");
    // Dismissed: .job/ and its note, outputs are ENOENT.
    assert_eq!(names(&m.path(jobs::DISMISSED)), only("@dismissed"));
    let err = fs::metadata(m.path(&format!("{}/anything", jobs::DISMISSED))).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    // Running: .job/ and its note, a log that grows; outputs appear once it succeeds.
    let running = m.path(jobs::RUNNING);
    assert_eq!(names(&running), only("@running"));
    let logs = m.path(&format!("{}/.job/logs.txt", jobs::RUNNING));
    let first = fs::read_to_string(&logs).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let later = fs::read_to_string(&logs).unwrap();
    assert!(
        later.len() > first.len() && later.starts_with(&first),
        "{first:?} then {later:?}"
    );
    m.server.set_job_status(jobs::RUNNING, "successful");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !running.join("message").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "outputs did not appear: {:?}",
            names(&running)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(text(&m, &format!("{}/message", jobs::RUNNING)), "done\n");
    let report = file_path(jobs::RUNNING, "report/report.txt");
    let size = m.server.file_size(&report).unwrap();
    assert_eq!(
        fs::read(m.path(&format!("{}/report.txt", jobs::RUNNING))).unwrap(),
        m.server.file_bytes(&report, 0, size).unwrap()
    );
}

#[test]
fn results_fallbacks_and_old_shapes() {
    let m = Mounted::start(small_server(), &[]);
    // A job submitted with response=raw: /results is 204 + Link without the profile.
    let raw = file_path(jobs::RAW, "output_raw/raw.txt");
    let size = m.server.file_size(&raw).unwrap();
    assert_eq!(
        fs::read(m.path(&format!("{}/output_raw.txt", jobs::RAW))).unwrap(),
        m.server.file_bytes(&raw, 0, size).unwrap()
    );
    // An old server: status `succeeded`, multipart /results, the OLD list from /outputs.
    assert_eq!(text(&m, &format!("{}/text", jobs::OLD)), "old style\n");
    assert_eq!(
        names(&m.path(&format!("{}/parts", jobs::OLD))),
        ["p1.txt", "p2.txt"].iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn the_mount_is_read_only() {
    let m = Mounted::start(small_server(), &[]);
    let job = m.path(jobs::LITERALS);
    let erofs = Some(libc::EROFS);
    assert_eq!(
        fs::File::create(job.join("new"))
            .unwrap_err()
            .raw_os_error(),
        erofs
    );
    assert_eq!(
        fs::create_dir(job.join("d")).unwrap_err().raw_os_error(),
        erofs
    );
    assert_eq!(
        fs::OpenOptions::new()
            .write(true)
            .open(job.join("count"))
            .unwrap_err()
            .raw_os_error(),
        erofs
    );
    assert_eq!(
        fs::remove_file(job.join("count"))
            .unwrap_err()
            .raw_os_error(),
        erofs
    );
    assert_eq!(fs::read_to_string(job.join("count")).unwrap(), "42\n");
}

#[test]
fn a_server_that_ignores_range_is_read_in_one_stream() {
    let cfg = ServerConfig {
        ignore_range: true,
        ..small_server()
    };
    let m = Mounted::start(cfg, &["--cache-size", "16M"]);
    let served = file_path(jobs::FILES, "output_big/big.dat");
    let size = m.server.file_size(&served).unwrap();
    m.server.clear_requests();
    let got = fs::read(m.path(&format!("{}/output_big.dat", jobs::FILES))).unwrap();
    assert_eq!(got.len() as u64, size);
    assert!(
        got == m.server.file_bytes(&served, 0, size).unwrap(),
        "bytes differ"
    );
    let gets = m
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with(&served))
        .count();
    assert!(
        gets <= 2,
        "{gets} GETs of a 24 MiB file whose server ignores Range"
    );
}

#[test]
fn a_file_changed_on_the_server_fails_the_open_handle_and_reopens_new() {
    let m = Mounted::start(
        small_server(),
        &["--cache-size", "4M", "--read-ahead-blocks", "0"],
    );
    let served = file_path(jobs::FILES, "output_big/big.dat");
    let local = m.path(&format!("{}/output_big.dat", jobs::FILES));
    let mut f = fs::File::open(&local).unwrap();
    let mut head = vec![0u8; 4096];
    f.read_exact(&mut head).unwrap();
    assert_eq!(head, m.server.file_bytes(&served, 0, 4096).unwrap());
    m.server.bump_file_version(&served);
    // A block not read before must come from the old version, which is gone: an error, never
    // bytes of the new version under the old handle.
    f.seek(SeekFrom::Start(20 << 20)).unwrap();
    let mut buf = vec![0u8; 4096];
    let err = f.read_exact(&mut buf).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESTALE), "{err}");
    drop(f);
    // Opened again: the new version.
    let f = fs::File::open(&local).unwrap();
    let n = f.read_at(&mut buf, 20 << 20).unwrap();
    assert_eq!(n, 4096);
    assert_eq!(
        buf,
        m.server
            .file_bytes(&served, 20 << 20, (20 << 20) + 4096)
            .unwrap()
    );
}

#[test]
fn reopening_an_unchanged_file_reads_from_the_page_cache() {
    let m = Mounted::start(small_server(), &["--job-ttl", "3", "--cache-size", "4M"]);
    let served = file_path(jobs::FILES, "output_big/big.dat");
    let local = m.path(&format!("{}/output_big.dat", jobs::FILES));
    let size = m.server.file_size(&served).unwrap();
    let original = m.server.file_bytes(&served, 0, size).unwrap();
    // The first read, through a locked mapping: its pages stay in the page cache whatever
    // memory pressure the machine is under (a busy machine reclaimed some of them before).
    let pinned = PinnedPages::of(&local, size as usize);
    assert!(pinned.bytes() == original);
    m.server.clear_requests();
    assert!(fs::read(&local).unwrap() == original);
    let gets = m
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == served)
        .count();
    assert_eq!(gets, 0, "the second read went to the server");
    // A new version (same size) once the file is checked again: its bytes, not the cached
    // ones, although the old pages are still pinned.
    m.server.bump_file_version(&served);
    std::thread::sleep(Duration::from_millis(3200));
    let replaced = m.server.file_bytes(&served, 0, size).unwrap();
    assert!(replaced != original);
    assert!(fs::read(&local).unwrap() == replaced);
}

/// A file's pages mapped and locked in memory (`mlock` reads them in): the kernel may not
/// reclaim them, but an open that drops the file's cache still does.
struct PinnedPages {
    addr: *mut libc::c_void,
    len: usize,
}

impl PinnedPages {
    fn of(path: &std::path::Path, len: usize) -> Self {
        use std::os::fd::AsRawFd;
        let file = fs::File::open(path).unwrap();
        // SAFETY: a fresh read-only shared mapping of an open file; checked below.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert!(
            addr != libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        let pinned = PinnedPages { addr, len };
        // SAFETY: the range is the mapping made above.
        let locked = unsafe { libc::mlock(addr, len) };
        assert_eq!(locked, 0, "mlock: {}", std::io::Error::last_os_error());
        pinned
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is readable and lives as long as self.
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping this value owns.
        unsafe { libc::munmap(self.addr, self.len) };
    }
}

#[test]
fn credentials_go_to_the_api_origin_only() {
    let token = tempfile::NamedTempFile::new().unwrap();
    fs::write(token.path(), "tok123\n").unwrap();
    let m = Mounted::start(
        small_server(),
        &[
            "-H",
            "X-Api-Key: k1",
            "--token-file",
            token.path().to_str().unwrap(),
        ],
    );
    // The hrefs are on another origin (localhost, not 127.0.0.1), like a separate file host.
    let other = m.server.base_url().replace("127.0.0.1", "localhost");
    m.server.set_files_url(Some(format!("{other}/wpsoutputs")));
    m.server.clear_requests();
    let served = file_path(jobs::FILES, "output_text/result.txt");
    let size = m.server.file_size(&served).unwrap();
    assert_eq!(
        fs::read(m.path(&format!("{}/output_text.txt", jobs::FILES))).unwrap(),
        m.server.file_bytes(&served, 0, size).unwrap()
    );
    let requests = m.server.requests();
    let (api, files): (Vec<_>, Vec<_>) =
        requests.iter().partition(|r| r.path.starts_with("/weaver"));
    assert!(!api.is_empty() && !files.is_empty(), "{requests:?}");
    for r in &api {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer tok123",
            "{}",
            r.path
        );
        assert_eq!(r.headers.get("x-api-key").unwrap(), "k1", "{}", r.path);
    }
    assert_none_carry(&files, &["authorization", "x-api-key"]);
}

#[test]
fn plain_names_keep_bare_ids() {
    let m = Mounted::start(small_server(), &["--plain-names"]);
    let got = names(&m.path(jobs::FILES));
    for want in [
        "output_text",
        "output_bin",
        "output_big",
        "output_netcdf",
        "files",
        "output_dir",
    ] {
        assert!(got.contains(want), "{want} missing from {got:?}");
    }
    assert!(names(&m.path(jobs::LITERALS)).contains("config"));
}

#[test]
fn a_redirect_to_another_origin_gets_no_credentials() {
    let m = Mounted::start(small_server(), &["-H", "X-Api-Key: k1"]);
    // The hrefs are on the API's origin but redirect elsewhere, like a front for an object store.
    let base = m.server.base_url();
    m.server.set_files_url(Some(format!("{base}/moved")));
    m.server.set_redirect_target(Some(format!(
        "{}/wpsoutputs",
        base.replace("127.0.0.1", "localhost")
    )));
    m.server.clear_requests();
    let served = file_path(jobs::FILES, "output_bin/data.bin");
    let size = m.server.file_size(&served).unwrap();
    let got = fs::read(m.path(&format!("{}/output_bin.bin", jobs::FILES))).unwrap();
    assert!(
        got == m.server.file_bytes(&served, 0, size).unwrap(),
        "bytes differ"
    );
    let requests = m.server.requests();
    let moved: Vec<_> = requests
        .iter()
        .filter(|r| r.path.starts_with("/moved/"))
        .collect();
    let files: Vec<_> = requests
        .iter()
        .filter(|r| r.path.starts_with("/wpsoutputs/"))
        .collect();
    assert!(!moved.is_empty() && !files.is_empty(), "{requests:?}");
    for r in &moved {
        assert_eq!(
            r.headers.get("x-api-key").unwrap(),
            "k1",
            "same origin: {}",
            r.path
        );
    }
    assert_none_carry(&files, &["x-api-key", "referer"]);
}

/// No request of `requests` carries any of `headers`.
fn assert_none_carry(requests: &[&weaverfs_server::RequestRecord], headers: &[&str]) {
    for r in requests {
        for h in headers {
            assert!(r.headers.get(*h).is_none(), "{h} sent to {}", r.path);
        }
    }
}
