//! End-to-end tests: a real server on loopback, hit with reqwest.

use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, StatusCode};
use serde_json::Value;

use super::jobs::{self, extra_job_id};
use super::{ServerConfig, TestServer};

const PROFILE: &str = "https://www.opengis.net/def/profile/OGC/0/ogc-results";

async fn server(cfg: ServerConfig) -> (TestServer, Client) {
    let srv = TestServer::start(cfg).await.expect("server starts");
    (srv, Client::new())
}

fn small() -> ServerConfig {
    ServerConfig {
        big_file_size: 3 * 1024 * 1024 + 5,
        ..ServerConfig::default()
    }
}

async fn get_json(c: &Client, url: &str) -> (StatusCode, Value) {
    let resp = c.get(url).send().await.unwrap();
    let status = resp.status();
    (status, json(resp).await)
}

/// reqwest is built without its `json` feature here.
async fn json(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).expect("JSON body")
}

fn text(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name).map_or("", |v| v.to_str().unwrap())
}

fn rels(doc: &Value) -> Vec<String> {
    doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listing_pages_and_rejects_pages_past_the_end() {
    let (srv, c) = server(ServerConfig {
        extra_jobs: 25,
        ..small()
    })
    .await;
    let api = srv.api_url();

    let (st, doc) = get_json(&c, &format!("{api}/jobs")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (doc["page"].as_u64(), doc["limit"].as_u64()),
        (Some(0), Some(10))
    );
    assert_eq!(doc["total"], jobs::LISTED_SAMPLES + 25);
    assert_eq!(doc["count"], 10);
    assert_eq!(doc["jobs"][0], jobs::RUNNING);
    let links = rels(&doc);
    assert!(links.contains(&"next".into()) && !links.contains(&"prev".into()));
    let next = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap();
    assert_eq!(next["href"], format!("{api}/jobs?page=1&limit=10"));

    // Walk every page: all listed ids once, UNLISTED never.
    let mut seen = Vec::new();
    for page in 0..4 {
        let (st, doc) = get_json(&c, &format!("{api}/jobs?page={page}&limit=10")).await;
        assert_eq!(st, StatusCode::OK);
        seen.extend(
            doc["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned()),
        );
        assert_eq!(rels(&doc).contains(&"next".into()), page < 3);
        assert_eq!(rels(&doc).contains(&"prev".into()), page > 0);
    }
    assert_eq!(seen.len(), jobs::LISTED_SAMPLES + 25);
    assert!(seen.contains(&extra_job_id(24)) && !seen.iter().any(|i| i == jobs::UNLISTED));

    let (st, doc) = get_json(&c, &format!("{api}/jobs?page=4&limit=10")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(doc["code"], "JobInvalidParameter");
    assert_eq!(
        doc["description"],
        "Page index 4 is out of range from [0,3]."
    );
    for bad in ["limit=0", "limit=1001", "page=-1", "page=x"] {
        let (st, doc) = get_json(&c, &format!("{api}/jobs?{bad}")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(doc["code"], "JobInvalidParameter");
    }

    let (_, doc) = get_json(&c, &format!("{api}/jobs/{}/results", extra_job_id(3))).await;
    assert_eq!(doc["value"], 3);
    srv.shutdown().await;
}

#[tokio::test]
async fn status_documents_and_job_errors() {
    let (srv, c) = server(small()).await;
    let api = srv.api_url();

    let resp = c
        .get(format!("{api}/jobs/{}", jobs::LITERALS))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        text(resp.headers(), header::CONTENT_TYPE),
        "application/json; profile=ogc"
    );
    let doc = json(resp).await;
    assert_eq!(doc["jobID"], jobs::LITERALS);
    assert_eq!(doc["status"], "successful");

    let (st, doc) = get_json(&c, &format!("{api}/jobs/not-a-uuid")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(doc["title"], "NoSuchJob");
    let (st, doc) = get_json(
        &c,
        &format!("{api}/jobs/00000000-0000-4000-8000-000000000000"),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(doc["title"], "NoSuchJob");

    // The process-scoped form used by Weaver's own links.
    let status_href = doc_link(&c, &api, jobs::FILES, "status").await;
    let (st, doc) = get_json(&c, &status_href).await;
    assert_eq!(
        (st, doc["jobID"].as_str()),
        (StatusCode::OK, Some(jobs::FILES))
    );

    let (st, doc) = get_json(&c, &format!("{api}/nothing/here")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(doc["code"], "NotFound");
    let resp = c
        .delete(format!("{api}/jobs/{}", jobs::FILES))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(resp).await["code"], "MethodNotAllowed");
    let file = format!("{}/{}/output_text/result.txt", srv.files_url(), jobs::FILES);
    let resp = c.post(&file).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    srv.shutdown().await;
}

async fn doc_link(c: &Client, api: &str, job: &str, rel: &str) -> String {
    let (_, doc) = get_json(c, &format!("{api}/jobs/{job}")).await;
    doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == rel)
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn results_are_gated_by_status() {
    let (srv, c) = server(small()).await;
    let api = srv.api_url();
    let cases = [
        (jobs::RUNNING, StatusCode::NOT_FOUND, "JobResultsNotReady"),
        (jobs::FAILED, StatusCode::BAD_REQUEST, "JobResultsFailed"),
        (jobs::DISMISSED, StatusCode::GONE, "JobDismissed"),
    ];
    for (job, code, title) in cases {
        for ep in ["results", "outputs"] {
            let (st, doc) = get_json(&c, &format!("{api}/jobs/{job}/{ep}")).await;
            assert_eq!(
                (st, doc["title"].as_str()),
                (code, Some(title)),
                "{job} {ep}"
            );
        }
    }
    for ep in ["logs", "exceptions"] {
        let (st, _) = get_json(&c, &format!("{api}/jobs/{}/{ep}", jobs::DISMISSED)).await;
        assert_eq!(st, StatusCode::GONE);
    }
    let (st, doc) = get_json(&c, &format!("{api}/jobs/{}/inputs", jobs::DISMISSED)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(doc["response"], "document");

    let (_, exc) = get_json(&c, &format!("{api}/jobs/{}/exceptions", jobs::FAILED)).await;
    assert_eq!(exc[0]["Code"], "MissingParameterValue");
    let (_, exc) = get_json(&c, &format!("{api}/jobs/{}/exceptions", jobs::LITERALS)).await;
    assert_eq!(exc, serde_json::json!([]));
    srv.shutdown().await;
}

#[tokio::test]
async fn results_shapes_by_submission() {
    let (srv, c) = server(small()).await;
    let api = srv.api_url();

    let resp = c
        .get(format!("{api}/jobs/{}/results", jobs::LITERALS))
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(resp.headers(), header::CONTENT_TYPE),
        "application/json"
    );
    let doc = json(resp).await;
    assert_eq!(doc["count"], 42);
    assert!(doc.get("links").is_none());

    // RAW: 204 + Link without the profile, the document with it.
    let url = format!("{api}/jobs/{}/results", jobs::RAW);
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let href = format!("{}/{}/output_raw/raw.txt", srv.files_url(), jobs::RAW);
    let links: Vec<&str> = resp
        .headers()
        .get_all(header::LINK)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(links.contains(&format!("<{href}>; rel=\"output_raw\"; type=\"text/plain\"").as_str()));
    for profile in [
        PROFILE,
        "http://www.opengis.net/def/profile/OGC/0/ogc-results",
    ] {
        let resp = c.get(&url).header("Accept-Profile", profile).send().await;
        let doc = json(resp.unwrap()).await;
        assert_eq!(doc["output_raw"]["href"], href);
    }
    let (st, doc) = get_json(&c, &format!("{api}/jobs/{}/outputs", jobs::RAW)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(doc["outputs"]["output_raw"]["href"], href);

    // OLD: multipart whatever is asked; list outputs whatever the schema.
    let resp = c
        .get(format!("{api}/jobs/{}/results", jobs::OLD))
        .header("Accept-Profile", PROFILE)
        .send()
        .await
        .unwrap();
    assert!(text(resp.headers(), header::CONTENT_TYPE).starts_with("multipart/mixed; boundary="));
    assert!(resp.text().await.unwrap().contains("old style"));
    let (_, doc) = get_json(&c, &format!("{api}/jobs/{}/outputs?schema=OGC", jobs::OLD)).await;
    assert_eq!(doc["outputs"].as_array().unwrap().len(), 3);
    let (_, doc) = get_json(&c, &format!("{api}/jobs/{}", jobs::OLD)).await;
    assert_eq!(doc["status"], "succeeded");

    // Schema selection on a current job.
    let (_, doc) = get_json(
        &c,
        &format!("{api}/jobs/{}/outputs?schema=old", jobs::FILES),
    )
    .await;
    assert!(doc["outputs"].is_array());
    let (_, doc) = get_json(
        &c,
        &format!("{api}/jobs/{}/outputs?schema=OGC%2Bstrict", jobs::FILES),
    )
    .await;
    assert!(doc["outputs"]["output_text"].get("format").is_none());
    let (st, _) = get_json(
        &c,
        &format!("{api}/jobs/{}/outputs?schema=bad", jobs::FILES),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    let (_, doc) = get_json(&c, &format!("{api}/jobs/{}/results", jobs::UNLISTED)).await;
    assert_eq!(doc["secret"], "found me");
    srv.shutdown().await;
}

#[tokio::test]
async fn running_job_logs_grow_then_it_succeeds() {
    let (srv, c) = server(small()).await;
    let api = srv.api_url();
    let logs = format!("{api}/jobs/{}/logs", jobs::RUNNING);
    let (_, a) = get_json(&c, &logs).await;
    let (_, b) = get_json(&c, &logs).await;
    assert_eq!(b.as_array().unwrap().len(), a.as_array().unwrap().len() + 1);
    let plain = c
        .get(&logs)
        .header(header::ACCEPT, "text/plain")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(plain.lines().count(), a.as_array().unwrap().len() + 2);

    let report = format!("{}/{}/report/report.txt", srv.files_url(), jobs::RUNNING);
    assert_eq!(
        c.get(&report).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    srv.set_job_status(jobs::RUNNING, "successful");
    let (_, st) = get_json(&c, &format!("{api}/jobs/{}", jobs::RUNNING)).await;
    assert_eq!(st["status"], "successful");
    assert!(st["finished"].is_string());
    let (code, doc) = get_json(&c, &format!("{api}/jobs/{}/results", jobs::RUNNING)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(doc["message"], "done");
    assert_eq!(doc["report"]["href"], report);
    let body = c.get(&report).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(Some(body.to_vec()), srv.file_bytes(&report, 0, u64::MAX));
    srv.shutdown().await;
}

#[tokio::test]
async fn file_host_ranges_and_validators() {
    let (srv, c) = server(small()).await;
    let url = format!("{}/{}/output_big/big.dat", srv.files_url(), jobs::FILES);
    let size = srv.file_size(&url).unwrap();
    assert_eq!(size, 3 * 1024 * 1024 + 5);

    let head = c.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let h = head.headers().clone();
    assert_eq!(text(&h, header::CONTENT_LENGTH), size.to_string());
    assert_eq!(text(&h, header::ACCEPT_RANGES), "bytes");
    assert_eq!(text(&h, header::CONTENT_TYPE), "application/octet-stream");
    let etag = text(&h, header::ETAG).to_owned();
    let modified = text(&h, header::LAST_MODIFIED).to_owned();
    assert!(etag.starts_with('"') && etag.ends_with(&format!("-{size:x}\"")));
    assert!(httpdate::parse_http_date(&modified).is_ok());

    let range = |r: &str| c.get(&url).header(header::RANGE, r.to_owned()).send();
    let resp = range("bytes=1000-1999").await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        text(resp.headers(), header::CONTENT_RANGE),
        format!("bytes 1000-1999/{size}")
    );
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        srv.file_bytes(&url, 1000, 2000).unwrap()
    );

    let resp = range("bytes=-10").await.unwrap();
    assert_eq!(
        text(resp.headers(), header::CONTENT_RANGE),
        format!("bytes {}-{}/{size}", size - 10, size - 1)
    );
    assert_eq!(resp.bytes().await.unwrap().len(), 10);

    // A long open range streams exactly the right bytes.
    let resp = range("bytes=7-").await.unwrap();
    assert_eq!(resp.content_length(), Some(size - 7));
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len() as u64, size - 7);
    assert_eq!(body[..100], srv.file_bytes(&url, 7, 107).unwrap()[..]);
    assert_eq!(
        body[body.len() - 3..],
        srv.file_bytes(&url, size - 3, size).unwrap()[..]
    );

    let resp = range(&format!("bytes={size}-")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        text(resp.headers(), header::CONTENT_RANGE),
        format!("bytes */{size}")
    );

    // HEAD with Range: the GET headers, no body.
    let resp = c
        .head(&url)
        .header(header::RANGE, "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(text(resp.headers(), header::CONTENT_LENGTH), "10");
    assert_eq!(
        text(resp.headers(), header::CONTENT_RANGE),
        format!("bytes 0-9/{size}")
    );

    // If-Range: honoured with the current ETag or date, ignored otherwise.
    for (validator, code) in [
        (etag.as_str(), StatusCode::PARTIAL_CONTENT),
        (modified.as_str(), StatusCode::PARTIAL_CONTENT),
        ("\"0-0\"", StatusCode::OK),
    ] {
        let resp = c
            .head(&url)
            .header(header::RANGE, "bytes=0-9")
            .header(header::IF_RANGE, validator)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), code, "{validator}");
    }
    let resp = c
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // A replaced file: new validators and bytes, old If-Range gets 200.
    let before = srv.file_bytes(&url, 0, 64).unwrap();
    srv.bump_file_version(&url);
    assert_ne!(srv.file_bytes(&url, 0, 64).unwrap(), before);
    assert_eq!(srv.file_size(&url), Some(size));
    let resp = c
        .get(&url)
        .header(header::RANGE, "bytes=0-63")
        .header(header::IF_RANGE, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_ne!(text(resp.headers(), header::ETAG), etag);
    assert_ne!(text(resp.headers(), header::LAST_MODIFIED), modified);
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len() as u64, size);
    assert_eq!(body[..64], srv.file_bytes(&url, 0, 64).unwrap()[..]);

    // The ignore_range knob.
    srv.set_ignore_range(true);
    let resp = range("bytes=0-9").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.content_length(), Some(size));
    srv.set_ignore_range(false);

    let log = srv.requests();
    assert!(log
        .iter()
        .any(|r| r.method == "HEAD" && r.range.as_deref() == Some("bytes=0-9")));
    srv.shutdown().await;
}

#[tokio::test]
async fn file_host_small_files_and_directories() {
    let (srv, c) = server(small()).await;
    let files = format!("{}/{}", srv.files_url(), jobs::FILES);

    let resp = c
        .get(format!("{files}/output_netcdf/sample.nc"))
        .send()
        .await
        .unwrap();
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), 820);
    assert_eq!(&body[..4], b"CDF\x01");

    let a = c.get(format!("{files}/files/a.json")).send().await.unwrap();
    assert_eq!(text(a.headers(), header::CONTENT_TYPE), "application/json");
    let a = json(a).await;
    let sub = json(
        c.get(format!("{files}/files/sub/a.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(a, sub);

    let resp = c.get(format!("{files}/output_dir/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(text(resp.headers(), header::CONTENT_TYPE), "text/html");
    let html = resp.text().await.unwrap();
    let first = html.find("<a href=").unwrap();
    assert_eq!(&html[first..first + 18], "<a href=\"../\">../<");
    assert!(
        html.contains("<a href=\"x.txt\">x.txt</a>")
            && html.contains("<a href=\"y.txt\">y.txt</a>")
    );
    let x = c
        .get(format!("{files}/output_dir/x.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(x.text().await.unwrap(), "x marks the spot\n");

    let no_redirect = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirect
        .get(format!("{files}/output_dir"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
    assert!(text(resp.headers(), header::LOCATION).ends_with("/output_dir/"));
    assert_eq!(
        c.get(format!("{files}/files/"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get(format!("{files}/missing.txt"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let dismissed = format!(
        "{}/{}/output_text/result.txt",
        srv.files_url(),
        jobs::DISMISSED
    );
    assert_eq!(
        c.get(&dismissed).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(srv.file_size(&dismissed), None);
    srv.shutdown().await;
}

#[tokio::test]
async fn latency_knob_delays_responses() {
    let (srv, c) = server(small()).await;
    let url = format!("{}/jobs/{}", srv.api_url(), jobs::LITERALS);
    srv.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    c.get(&url).send().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    srv.set_latency(Duration::ZERO);
    srv.clear_requests();
    c.get(format!("{url}?f=json")).send().await.unwrap();
    let log = srv.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].path,
        format!("/weaver/jobs/{}?f=json", jobs::LITERALS)
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_prompt_even_with_a_stream_open() {
    let (srv, c) = server(ServerConfig::default()).await;
    let url = format!("{}/{}/output_big/big.dat", srv.files_url(), jobs::FILES);
    let mut resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.content_length(), Some(256 * 1024 * 1024));
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    let t = Instant::now();
    srv.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn protection_like_twitcher_and_magpie() {
    let (srv, c) = server(ServerConfig {
        auth: super::ServerAuth {
            bearer: Some("t1".into()),
            basic: Some(("bob".into(), "pw".into())),
            magpie: Some(("alice".into(), "secret".into())),
        },
        ..small()
    })
    .await;
    let jobs = format!("{}/jobs", srv.api_url());
    let file = format!("{}/{}/output_text/result.txt", srv.files_url(), jobs::FILES);
    for url in [&jobs, &file] {
        let resp = c.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{url}");
        let ok = c.get(url).bearer_auth("t1").send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{url}");
        let bad = c.get(url).bearer_auth("t2").send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED, "{url}");
        let basic = c.get(url).basic_auth("bob", Some("pw")).send().await;
        assert_eq!(basic.unwrap().status(), StatusCode::OK, "{url}");
    }
    let signin = format!("{}/signin", srv.magpie_url());
    let wrong = c
        .post(&signin)
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"user_name":"alice","password":"nope"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let resp = c
        .post(&signin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("user_name=alice&password=secret&provider_name=ziggurat")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(srv.signins(), 1);
    let set_cookie = text(resp.headers(), header::SET_COOKIE).to_string();
    let pair = set_cookie.split(';').next().unwrap().to_string();
    assert!(pair.starts_with("auth_tkt=\""), "{pair}");
    let with_ticket = |url: &str| c.get(url).header(header::COOKIE, format!("x=1; {pair}"));
    assert_eq!(
        with_ticket(&jobs).send().await.unwrap().status(),
        StatusCode::OK
    );
    srv.expire_tickets();
    assert_eq!(
        with_ticket(&file).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    srv.set_auth(super::ServerAuth::default());
    assert_eq!(c.get(&jobs).send().await.unwrap().status(), StatusCode::OK);
}
