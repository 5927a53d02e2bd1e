//! `weaverfs serve webdav` with HTTP requests: properties, ranges, conditional requests,
//! refused writes, Depth, errors before and after the headers, sign-in. The truth is the
//! sample server's bytes, and the FUSE mount of the same server for whole trees.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::gateway::{hrefs, Gateway};
use common::Mounted;
use reqwest::{header, Method, StatusCode};
use weaverfs_server::{jobs, Fault, ServerConfig};

const BIG: u64 = 60 << 20;
const BLOCK: u64 = 1 << 20;

fn server() -> ServerConfig {
    ServerConfig {
        big_file_size: BIG,
        ..ServerConfig::default()
    }
}

/// The sample server, its FUSE mount (the reference tree) and a gateway to it.
fn setup(gateway_args: &[&str]) -> (Mounted, Gateway) {
    let m = Mounted::start(server(), &[]);
    let gw = Gateway::start(&m.server.api_url(), gateway_args);
    (m, gw)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn propfind() -> Method {
    Method::from_bytes(b"PROPFIND").unwrap()
}

/// Sends a request and returns its status, headers and whole body.
fn send(m: &Mounted, req: reqwest::RequestBuilder) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    m.rt.block_on(async {
        let res = req.send().await.expect("the gateway answers");
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res.bytes().await.expect("a complete body");
        (status, headers, body.to_vec())
    })
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

fn big_url() -> String {
    format!("/wpsoutputs/{}/output_big/big.dat", jobs::FILES)
}

fn big_rel() -> String {
    format!("{}/output_big.dat", jobs::FILES)
}

/// Every regular file under `dir` of the mount, by path relative to the mount's root (links
/// are not followed: they are the views, whose targets are listed anyway).
fn mount_files(root: &Path, rel: &str, out: &mut BTreeMap<String, u64>) {
    for entry in std::fs::read_dir(root.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let child = format!("{rel}/{name}");
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            mount_files(root, &child, out);
        } else if kind.is_file() {
            out.insert(child, entry.metadata().unwrap().len());
        }
    }
}

/// The gateway's tree under `rel`: every file with its `getcontentlength`, by PROPFIND
/// Depth 1 from collection to collection.
fn gateway_files(m: &Mounted, gw: &Gateway, rel: &str, out: &mut BTreeMap<String, u64>) {
    let (status, _, body) = send(
        m,
        client()
            .request(propfind(), gw.dir(rel))
            .header("Depth", "1"),
    );
    assert_eq!(status, StatusCode::MULTI_STATUS, "{rel}: {}", text(&body));
    let body = text(&body);
    let own = match rel.trim_matches('/') {
        "" => "/".to_owned(),
        rel => format!("/{rel}/"),
    };
    for response in body.split("<D:response>").skip(1) {
        let href = hrefs(response).pop().unwrap();
        if href == own {
            continue;
        }
        let child = href.trim_matches('/').to_owned();
        if href.ends_with('/') {
            gateway_files(m, gw, &child, out);
        } else {
            let len = response
                .split("<D:getcontentlength>")
                .nth(1)
                .and_then(|s| s.split('<').next())
                .unwrap();
            out.insert(child, len.parse().unwrap());
        }
    }
}

#[test]
fn every_file_of_every_job_reads_as_the_mount_shows_it() {
    let (m, gw) = setup(&[]);
    for job in jobs::ALL
        .iter()
        // The running job's log grows between the two reads.
        .filter(|j| m.path(j).is_dir() && ![jobs::FILES, jobs::RUNNING].contains(j))
        .chain([&jobs::FILES])
    {
        assert_same_job(&m, &gw, job);
    }
}

/// The real pygeoapi of `tests/servers.rs` through the gateway: every job's files, with the
/// names, sizes and bytes its FUSE mount shows.
#[test]
fn a_real_pygeoapi_reads_through_the_gateway_as_through_the_mount() {
    let server = common::real_servers::RealServer::start("pygeoapi");
    let mut m = Mounted::serve(Default::default());
    m.mount(&server.url, &[], &[]);
    let gw = Gateway::start(&server.url, &[]);
    let ids: Vec<&str> = server
        .jobs
        .iter()
        .filter_map(|j| j["id"].as_str())
        .collect();
    assert!(ids.len() > 3, "pygeoapi's jobs: {:?}", server.jobs);
    for id in ids {
        assert_same_job(&m, &gw, id);
    }
}

/// Job `job` through the gateway: the files of the mount with their sizes (more below the
/// links of workflow steps, shown as the collections they point to), and their bytes.
fn assert_same_job(m: &Mounted, gw: &Gateway, job: &str) {
    let mut want = BTreeMap::new();
    mount_files(m.root(), job, &mut want);
    let mut got = BTreeMap::new();
    gateway_files(m, gw, job, &mut got);
    let want: BTreeMap<_, _> = want
        .into_iter()
        .map(|(k, v)| (k.trim_start_matches('/').to_owned(), v))
        .collect();
    // A job still in progress: its status and log change between the two reads.
    let state = std::fs::read_to_string(m.path(&format!("{job}/.job/state")));
    let done = state.is_ok_and(|s| ["succeeded", "failed", "dismissed"].contains(&s.trim()));
    let changing = |rel: &str| !done && rel.contains("/.job/");
    for (rel, size) in want.iter().filter(|(rel, _)| !changing(rel)) {
        assert_eq!(got.get(rel), Some(size), "job {job}: {rel}");
    }
    for rel in got.keys().filter(|k| !want.contains_key(*k)) {
        let under_link = rel
            .match_indices('/')
            .any(|(i, _)| m.path(&rel[..i]).is_symlink());
        assert!(under_link, "job {job}: {rel} is not in the mount");
    }
    for (rel, size) in &want {
        if *size > 8 << 20 || changing(rel) {
            continue; // the big output: read by range below, and whole in the davfs2 test
        }
        let (status, _, body) = send(m, client().get(gw.at(rel)));
        assert_eq!(status, StatusCode::OK, "{rel}");
        assert!(
            body == std::fs::read(m.path(rel)).unwrap(),
            "{rel}: the gateway's bytes are the mount's"
        );
    }
}

#[test]
fn a_propfind_of_a_job_fetches_no_file_body() {
    let (m, gw) = setup(&[]);
    m.server.clear_requests();
    let mut files = BTreeMap::new();
    gateway_files(&m, &gw, jobs::FILES, &mut files);
    assert_eq!(files[&big_rel()], BIG);
    let bodies: Vec<_> = m
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/wpsoutputs/"))
        .map(|r| r.path)
        .collect();
    // Listed output directories are asked for their index; no file body is fetched.
    assert!(
        bodies.iter().all(|p| p.ends_with('/')),
        "file bodies fetched: {bodies:?}"
    );
}

#[test]
fn a_small_range_of_a_big_output_fetches_about_one_block() {
    let (m, gw) = setup(&["--read-ahead-blocks", "0"]);
    let truth = m.server.file_bytes(&big_url(), 0, u64::MAX).unwrap();
    m.server.clear_requests();
    let start = 30_000_000u64;
    let (status, headers, body) = send(
        &m,
        client()
            .get(gw.at(&big_rel()))
            .header(header::RANGE, format!("bytes={start}-{}", start + 4095)),
    );
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        headers[header::CONTENT_RANGE],
        format!("bytes {start}-{}/{BIG}", start + 4095).as_str()
    );
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert!(body == truth[start as usize..start as usize + 4096]);
    let fetched: Vec<String> = m
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == big_url())
        .map(|r| r.range.unwrap_or_default())
        .collect();
    // The block holding the range, and the first byte alone (the core reads a first small
    // read directly while its block comes; the gateway reads it before the headers).
    let block = start / BLOCK;
    let whole = format!("bytes={}-{}", block * BLOCK, (block + 1) * BLOCK - 1);
    let mut fetched = fetched;
    fetched.sort();
    assert_eq!(
        fetched,
        [whole, format!("bytes={start}-{start}")],
        "about one block from the origin"
    );
    // A suffix range and a second range in the same block: served from the cache.
    let (status, _, body) = send(
        &m,
        client()
            .get(gw.at(&big_rel()))
            .header(header::RANGE, "bytes=-100"),
    );
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(body == truth[truth.len() - 100..]);
}

#[test]
fn head_and_conditional_requests() {
    let (m, gw) = setup(&[]);
    let url = gw.at(&format!("{}/output_text.txt", jobs::FILES));
    let (status, headers, body) = send(&m, client().head(url.clone()));
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(headers[header::CONTENT_LENGTH], "79");
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let modified = headers[header::LAST_MODIFIED].to_str().unwrap().to_owned();
    let get = || client().get(url.clone());
    let (status, _, _) = send(&m, get().header(header::IF_NONE_MATCH, &etag));
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = send(&m, get().header(header::IF_MODIFIED_SINCE, &modified));
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, body) = send(&m, get().header(header::IF_NONE_MATCH, "\"other\""));
    assert_eq!((status, body.len()), (StatusCode::OK, 79));
    // If-Range: the same version gives the range, another the whole file.
    let ranged = |tag: &str| {
        get()
            .header(header::RANGE, "bytes=0-3")
            .header(header::IF_RANGE, tag)
    };
    let (status, _, body) = send(&m, ranged(&etag));
    assert_eq!(
        (status, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &b"Weav"[..])
    );
    let (status, _, body) = send(&m, ranged("\"old-version\""));
    assert_eq!((status, body.len()), (StatusCode::OK, 79));
}

#[test]
fn writes_are_refused_with_allow_and_change_nothing() {
    let (m, gw) = setup(&[]);
    let job = gw.dir(jobs::FILES);
    let mut before = BTreeMap::new();
    gateway_files(&m, &gw, jobs::FILES, &mut before);
    let file = gw.at(&format!("{}/output_text.txt", jobs::FILES));
    let dest = gw.at(&format!("{}/copy.txt", jobs::FILES));
    for (method, url) in [
        ("PUT", file.clone()),
        ("PUT", dest.clone()),
        ("DELETE", file.clone()),
        ("DELETE", job.clone()),
        ("MKCOL", gw.dir(&format!("{}/new", jobs::FILES))),
        ("MOVE", file.clone()),
        ("COPY", file.clone()),
        ("PROPPATCH", file.clone()),
        ("LOCK", file.clone()),
        ("POST", file.clone()),
    ] {
        let req = client()
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("Destination", dest.as_str())
            .body("changed");
        let (status, headers, body) = send(&m, req);
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(headers[header::ALLOW], "OPTIONS, GET, HEAD, PROPFIND");
        assert!(text(&body).starts_with("weaverfs: read-only"), "{method}");
    }
    let mut after = BTreeMap::new();
    gateway_files(&m, &gw, jobs::FILES, &mut after);
    assert_eq!(before, after);
    let (_, _, body) = send(&m, client().get(file));
    assert!(body == std::fs::read(m.path(&format!("{}/output_text.txt", jobs::FILES))).unwrap());
    // No request but reads reached the origin.
    assert!(m
        .server
        .requests()
        .iter()
        .all(|r| r.method == "GET" || r.method == "HEAD"));
}

#[test]
fn options_says_class_1_read_only() {
    let (m, gw) = setup(&[]);
    let (status, headers, _) = send(
        &m,
        client().request(
            Method::OPTIONS,
            gw.at(&format!("{}/output_text.txt", jobs::FILES)),
        ),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["dav"], "1");
    let allow = headers[header::ALLOW].to_str().unwrap();
    for m in ["GET", "HEAD", "OPTIONS", "PROPFIND"] {
        assert!(allow.contains(m), "{allow}");
    }
    for m in ["PUT", "DELETE", "LOCK", "MOVE"] {
        assert!(!allow.contains(m), "{allow}");
    }
}

#[test]
fn depth_infinity_is_refused_on_collections_and_is_depth_0_on_files() {
    let (m, gw) = setup(&[]);
    let job = gw.dir(jobs::FILES);
    let file = gw.at(&format!("{}/output_text.txt", jobs::FILES));
    for depth in [None, Some("infinity")] {
        let mut req = client().request(propfind(), job.clone());
        if let Some(d) = depth {
            req = req.header("Depth", d);
        }
        let (status, _, body) = send(&m, req);
        assert_eq!(status, StatusCode::FORBIDDEN, "Depth {depth:?}");
        assert!(text(&body).contains("propfind-finite-depth"));
        // On a file, the file's own properties (fsspec asks this way).
        let mut req = client().request(propfind(), file.clone());
        if let Some(d) = depth {
            req = req.header("Depth", d);
        }
        let (status, _, body) = send(&m, req);
        assert_eq!(status, StatusCode::MULTI_STATUS);
        let body = text(&body);
        assert_eq!(hrefs(&body), [file.path()]);
        assert!(body.contains("<D:getcontentlength>79</D:getcontentlength>"));
    }
    let (status, _, body) = send(
        &m,
        client()
            .request(propfind(), job.clone())
            .header("Depth", "0"),
    );
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(hrefs(&text(&body)), [job.path()]);
    let huge = "9".repeat(10_000);
    for bad in ["2", "-1", huge.as_str()] {
        let (status, _, body) = send(
            &m,
            client()
                .request(propfind(), job.clone())
                .header("Depth", bad),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text(&body).starts_with("weaverfs: Depth must be"));
    }
}

#[test]
fn malformed_propfind_bodies_are_400() {
    let (m, gw) = setup(&[]);
    let job = gw.dir(jobs::FILES);
    for body in [
        "<not xml",
        "<?xml version=\"1.0\"?><propfind/>",
        "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:nonsense/></D:propfind>",
    ] {
        let req = client()
            .request(propfind(), job.clone())
            .header("Depth", "1")
            .body(body);
        let (status, _, answer) = send(&m, req);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(text(&answer).starts_with("weaverfs: "), "{body}");
    }
    // A well-formed one names the properties asked for.
    let req = client().request(propfind(), job).header("Depth", "0").body(
        "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/>\
         <D:getlastmodified/></D:prop></D:propfind>",
    );
    let (status, _, body) = send(&m, req);
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(text(&body).contains("<D:collection"));
}

#[test]
fn many_ranges_get_a_clear_error_and_a_few_a_multipart_answer() {
    let (m, gw) = setup(&[]);
    let url = gw.at(&format!("{}/output_bin.bin", jobs::FILES));
    let many: Vec<String> = (0..1000)
        .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
        .collect();
    let (status, _, body) = send(
        &m,
        client()
            .get(url.clone())
            .header(header::RANGE, format!("bytes={}", many.join(","))),
    );
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        text(&body),
        "weaverfs: at most 16 ranges in one request (1000 asked)\n"
    );
    let (status, headers, body) = send(
        &m,
        client()
            .get(url.clone())
            .header(header::RANGE, "bytes=0-9,100-109"),
    );
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("multipart/byteranges"));
    let truth = std::fs::read(m.path(&format!("{}/output_bin.bin", jobs::FILES))).unwrap();
    let body = body.as_slice();
    for part in [&truth[0..10], &truth[100..110]] {
        assert!(body.windows(10).any(|w| w == part));
    }
    // Past the end: 416 with the size.
    let (status, headers, _) = send(
        &m,
        client().get(url).header(header::RANGE, "bytes=999999999-"),
    );
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers[header::CONTENT_RANGE], "bytes */102400");
}

/// The index page of the FILES job links to its outputs.
fn assert_links_to_the_files_job(html: &str) {
    for name in [
        "output_text.txt",
        "output_big.dat",
        "output_netcdf.nc",
        "files/",
    ] {
        let href = format!("href=\"/{}/{name}\"", jobs::FILES);
        assert!(html.contains(&href), "{href} in {html}");
    }
}

#[test]
fn a_browser_gets_an_html_index_with_links() {
    let (m, gw) = setup(&[]);
    let (status, headers, body) = send(
        &m,
        client()
            .get(gw.dir(jobs::FILES))
            .header(header::ACCEPT, "text/html"),
    );
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_links_to_the_files_job(&text(&body));
    // A collection without its slash is redirected to it.
    let (status, headers, _) = send(&m, client().get(gw.at(jobs::FILES)));
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        headers[header::LOCATION],
        format!("/{}/", jobs::FILES).as_str()
    );
}

#[test]
fn missing_paths_are_404_with_a_reason() {
    let (m, gw) = setup(&[]);
    for rel in [
        "no-such-job".to_owned(),
        format!("{}/nothing.txt", jobs::FILES),
        format!("{}/output_text.txt/below", jobs::FILES),
    ] {
        let (status, _, body) = send(&m, client().get(gw.at(&rel)));
        assert_eq!(status, StatusCode::NOT_FOUND, "{rel}");
        assert!(text(&body).starts_with("weaverfs: "), "{rel}");
    }
}

/// Short timeouts and few retries, so that failures come fast.
const FAST: &[&str] = &[
    "--block-size",
    "256K",
    "--read-ahead-blocks",
    "0",
    "--read-timeout",
    "1",
    "--retries",
    "1",
    "--retry-max-time",
    "5",
];

#[test]
fn an_origin_failure_before_the_headers_is_a_502_with_its_reason() {
    let (m, gw) = setup(FAST);
    let url = big_url();
    m.server.inject_times(
        &url,
        Fault::Status {
            code: 500,
            retry_after: None,
        },
        10,
    );
    let (status, _, body) = send(
        &m,
        client()
            .get(gw.at(&big_rel()))
            .header(header::RANGE, "bytes=0-99"),
    );
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{}", text(&body));
    let line = text(&body);
    assert!(line.starts_with("weaverfs: ") && line.ends_with('\n') && line.lines().count() == 1);
    assert!(line.contains("500"), "{line}");
    m.server.clear_faults();
    // Not cached: the next request reads.
    let (status, _, body) = send(
        &m,
        client()
            .get(gw.at(&big_rel()))
            .header(header::RANGE, "bytes=0-99"),
    );
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(body == m.server.file_bytes(&url, 0, 100).unwrap());
}

#[test]
fn a_stalled_origin_before_the_headers_is_a_504() {
    let (m, gw) = setup(FAST);
    m.server.inject_times(
        &big_url(),
        Fault::SlowFirstByte(std::time::Duration::from_secs(3)),
        10,
    );
    let (status, _, body) = send(
        &m,
        client()
            .get(gw.at(&big_rel()))
            .header(header::RANGE, "bytes=0-99"),
    );
    assert!(
        status == StatusCode::GATEWAY_TIMEOUT || status == StatusCode::BAD_GATEWAY,
        "{status} {}",
        text(&body)
    );
    assert!(text(&body).starts_with("weaverfs: "));
}

/// Reads the body of a GET of the big output: the first chunk, then `fault` is injected,
/// then the rest. Returns the Content-Length, the bytes received and whether the body failed.
fn read_with_fault_after_headers(
    m: &Mounted,
    gw: &Gateway,
    fault: impl FnOnce(),
) -> (u64, Vec<u8>, bool) {
    m.rt.block_on(async {
        let mut res = client().get(gw.at(&big_rel())).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let length = res.content_length().unwrap();
        let mut got = res.chunk().await.unwrap().unwrap().to_vec();
        fault();
        loop {
            match res.chunk().await {
                Ok(Some(c)) => got.extend_from_slice(&c),
                Ok(None) => return (length, got, false),
                Err(_) => return (length, got, true),
            }
        }
    })
}

#[test]
fn a_file_changed_during_a_read_cuts_the_body_short() {
    let (m, gw) = setup(FAST);
    let old = m.server.file_bytes(&big_url(), 0, u64::MAX).unwrap();
    let (length, got, failed) =
        read_with_fault_after_headers(&m, &gw, || m.server.inject(&big_url(), Fault::ChangeFile));
    assert_eq!(length, BIG);
    assert!(failed, "the body fails");
    assert!((got.len() as u64) < length, "short of its Content-Length");
    assert!(got == old[..got.len()], "what came is the old version's");
}

#[test]
fn an_origin_outage_during_a_read_cuts_the_body_short() {
    let (m, gw) = setup(FAST);
    let old = m.server.file_bytes(&big_url(), 0, u64::MAX).unwrap();
    let (length, got, failed) = read_with_fault_after_headers(&m, &gw, || m.server.set_down(true));
    m.server.set_down(false);
    assert!(failed, "the body fails");
    assert!((got.len() as u64) < length);
    assert!(got == old[..got.len()]);
}

#[test]
fn views_are_collections_and_a_walk_of_the_tree_ends() {
    let (m, gw) = setup(&[]);
    // Every view link of the mount is a collection listing its job's entries.
    let views = m.path("views");
    if views.is_dir() {
        let mut seen = 0;
        let mut stack = vec!["views".to_owned()];
        while let Some(rel) = stack.pop() {
            for entry in std::fs::read_dir(m.path(&rel)).unwrap() {
                let entry = entry.unwrap();
                let child = format!("{rel}/{}", entry.file_name().into_string().unwrap());
                if entry.file_type().unwrap().is_symlink() && seen < 3 {
                    seen += 1;
                    let (status, _, body) = send(
                        &m,
                        client()
                            .request(propfind(), gw.dir(&child))
                            .header("Depth", "1"),
                    );
                    assert_eq!(status, StatusCode::MULTI_STATUS, "{child}");
                    let names = hrefs(&text(&body)).len() - 1;
                    let target = std::fs::read_dir(m.path(&child)).unwrap().count();
                    assert_eq!(names, target, "{child}: as many entries as its job");
                } else if entry.file_type().unwrap().is_dir() {
                    stack.push(child);
                }
            }
        }
        assert!(seen > 0, "some view links");
    }
    // A walk of the whole tree through the gateway ends (each real directory once per path).
    let mut all = BTreeMap::new();
    gateway_files(&m, &gw, "", &mut all);
    assert!(all.contains_key(&big_rel()));
}

#[test]
fn clients_sign_in_and_their_credentials_stay_at_the_gateway() {
    let m = Mounted::start(server(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, "ann:open sesame\n").unwrap();
    let gw = Gateway::start(
        &m.server.api_url(),
        &["--htpasswd", users.to_str().unwrap()],
    );
    let url = gw.at(&format!("{}/output_text.txt", jobs::FILES));
    let (status, headers, _) = send(&m, client().get(url.clone()));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let (status, _, _) = send(
        &m,
        client().get(url.clone()).basic_auth("ann", Some("wrong")),
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    m.server.clear_requests();
    let (status, _, body) = send(&m, client().get(url).basic_auth("ann", Some("open sesame")));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), 79);
    assert!(
        m.server
            .requests()
            .iter()
            .all(|r| r.headers.get(header::AUTHORIZATION).is_none()),
        "no client credentials upstream"
    );
    // Off loopback, sign-in is required.
    let err = Gateway::start_fails(&m.server.api_url(), &["--addr", "0.0.0.0:0"]);
    assert!(err.contains("--htpasswd"), "{err}");
}

// Real clients. Installed by scripts/test-deps.sh: Debian's davfs2, litmus, chromium and GDAL;
// webdav4 (fsspec), xarray and rclone in the venv `dav-clients` under $WEAVERFS_TEST_SERVERS.

/// A program of the `dav-clients` venv.
fn venv_bin(name: &str) -> std::path::PathBuf {
    let root = std::env::var("WEAVERFS_TEST_SERVERS")
        .ok()
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| format!("{}/target/test-servers", env!("CARGO_MANIFEST_DIR")));
    let bin = Path::new(&root).join("dav-clients/bin").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test-deps.sh",
        bin.display()
    );
    bin
}

/// `diff -r` of two trees (both must exist and be equal).
fn same_tree(a: &Path, b: &Path) {
    let out = std::process::Command::new("diff")
        .arg("-r")
        .args([a, b])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} and {} differ: {}",
        a.display(),
        b.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn davfs2_mounts_the_gateway_and_copies_a_job_byte_for_byte() {
    let (m, gw) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (mnt, conf, cache) = (
        dir.path().join("mnt"),
        dir.path().join("davfs2.conf"),
        dir.path().join("cache"),
    );
    std::fs::create_dir_all(&mnt).unwrap();
    // mount.davfs drops to its own user, which must be able to write its cache.
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::write(
        &conf,
        format!("ask_auth 0\nuse_locks 0\ncache_dir {}\n", cache.display()),
    )
    .unwrap();
    let status = std::process::Command::new("mount.davfs")
        .arg(gw.url.as_str())
        .arg(&mnt)
        .args(["-o", &format!("ro,conf={}", conf.display())])
        .stdin(std::process::Stdio::null())
        .status()
        .expect("mount.davfs runs");
    assert!(status.success(), "mount.davfs");
    // davfs2 1.6.1 on this kernel fails readdir (EINVAL) on its own mount, so files are read
    // by the names the FUSE mount lists: every file of the job, byte for byte.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut files = BTreeMap::new();
        mount_files(m.root(), jobs::FILES, &mut files);
        assert!(files.len() > 5);
        for rel in files.keys() {
            let rel = rel.trim_start_matches('/');
            common::run(
                "cmp",
                &[
                    mnt.join(rel).to_str().unwrap(),
                    m.path(rel).to_str().unwrap(),
                ],
            );
        }
        let big = mnt.join(big_rel());
        let du = common::run("du", &["-b", big.to_str().unwrap()]);
        assert_eq!(du.split_whitespace().next(), Some(BIG.to_string().as_str()));
    }));
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    result.unwrap();
}

#[test]
fn webdav4_lists_and_reads_ranges_and_xarray_opens_the_netcdf_output() {
    let (m, gw) = setup(&[]);
    let script = r#"
import sys, fsspec, xarray
from webdav4.fsspec import WebdavFileSystem
url, job, mount = sys.argv[1:4]
fs = WebdavFileSystem(url)
names = sorted(e["name"].rsplit("/", 1)[-1] for e in fs.ls(job, detail=True))
print("names", ",".join(names))
for name in ["output_text.txt", "output_bin.bin", "output_netcdf.nc"]:
    want = open(f"{mount}/{job}/{name}", "rb").read()
    assert fs.cat_file(f"{job}/{name}") == want, name
    assert fs.info(f"{job}/{name}")["size"] == len(want), name
    assert fs.cat_file(f"{job}/{name}", start=5, end=25) == want[5:25], name
big = f"{job}/output_big.dat"
want = open(f"{mount}/{big}", "rb")
for start in [0, 12345, 30_000_000, fs.info(big)["size"] - 10]:
    want.seek(start)
    assert fs.cat_file(big, start=start, end=start + 4096) == want.read(4096), start
with fs.open(f"{job}/output_netcdf.nc") as f:
    ds = xarray.open_dataset(f, engine="scipy")
    ref = xarray.open_dataset(f"{mount}/{job}/output_netcdf.nc", engine="scipy")
    assert ds.identical(ref), (ds, ref)
    print("variables", ",".join(sorted(ds.variables)))
print("ok")
"#;
    let out = common::run(
        venv_bin("python").to_str().unwrap(),
        &[
            "-c",
            script,
            gw.url.as_str(),
            jobs::FILES,
            m.root().to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("names .job,files,output_big.dat,output_bin.bin,output_dir,output_netcdf.nc"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("ok"), "{out}");
}

#[test]
fn gdal_reads_a_geotiff_output_by_range() {
    let jobs_dir = tempfile::tempdir().unwrap();
    let job = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    let out_dir = jobs_dir.path().join(job).join("raster");
    std::fs::create_dir_all(&out_dir).unwrap();
    let tif = out_dir.join("dem.tif");
    common::run(
        "gdal_create",
        &[
            "-of",
            "GTiff",
            "-outsize",
            "300",
            "200",
            "-bands",
            "1",
            "-ot",
            "Int16",
            "-burn",
            "42",
            "-a_srs",
            "EPSG:4326",
            "-a_ullr",
            "0",
            "2",
            "3",
            "0",
            "-co",
            "TILED=YES",
            tif.to_str().unwrap(),
        ],
    );
    let cfg = ServerConfig {
        jobs_dir: Some(jobs_dir.path().to_owned()),
        ..server()
    };
    let m = Mounted::start(cfg, &[]);
    let gw = Gateway::start(&m.server.api_url(), &[]);
    let mut files = BTreeMap::new();
    mount_files(m.root(), job, &mut files);
    let rel = files
        .keys()
        .find(|k| k.ends_with(".tif"))
        .expect("a .tif output")
        .clone();
    let rel = rel.trim_start_matches('/');
    let remote = format!("/vsicurl/{}", gw.at(rel));
    let local = m.path(rel);
    let info = |path: &str| {
        let out = std::process::Command::new("gdalinfo")
            .args(["-checksum", path])
            .env("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
            .env("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".tif")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .filter(|l| l.starts_with("Size is") || l.contains("Checksum="))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let want = info(local.to_str().unwrap());
    assert!(want.contains("Size is 300, 200"), "{want}");
    assert_eq!(info(&remote), want);
}

#[test]
fn rclone_copies_a_job() {
    let (m, gw) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(jobs::FILES);
    common::run(
        venv_bin("rclone").to_str().unwrap(),
        &[
            "copy",
            "--config",
            "/dev/null",
            "--webdav-url",
            gw.url.as_str(),
            &format!(":webdav:{}", jobs::FILES),
            out.to_str().unwrap(),
        ],
    );
    same_tree(&out, &m.path(jobs::FILES));
}

#[test]
fn litmus_runs_what_applies_to_a_read_only_server() {
    let (_m, gw) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("litmus")
        .arg(gw.url.as_str())
        .current_dir(dir.path())
        .output()
        .expect("litmus runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Every suite starts by creating a collection to work in (MKCOL): on a read-only server
    // only `init` applies, and the refusal is the read-only answer.
    assert!(text.contains("init.................. pass"), "{text}");
    assert!(text.contains("405 Method Not Allowed"), "{text}");
}

#[test]
fn headless_chromium_loads_a_jobs_index_with_links() {
    let (_m, gw) = setup(&[]);
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(gw.dir(jobs::FILES).as_str())
        .output()
        .expect("chromium runs");
    assert_links_to_the_files_job(&String::from_utf8_lossy(&out.stdout));
}
