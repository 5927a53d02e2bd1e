//! Real-mount tests against real OGC API - Processes servers from PyPI: pygeoapi 0.24 and
//! fastprocesses 0.24 (with Redis and a Celery worker), running the tests' own processes
//! (scripts/test-servers/). Every file of every job is compared with what the server itself
//! answers; `.job/` holds no phantom entries; the usual tools and `weaverfs get` walk the whole
//! mount and exit 0.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::real_servers::RealServer;
use common::Mounted;
use serde_json::{json, Value};

/// What a file of a job must hold.
enum Want {
    /// The body `/results` answers.
    Results,
    /// These bytes.
    Text(&'static str),
    /// This JSON value.
    Json(Value),
    /// The bytes of the href at this JSON pointer of the `/results` document.
    HrefAt(&'static str),
    /// The bytes of the link of the 204 that `/results` answers.
    Link,
    /// The `/results` body of the first job of another kind.
    ResultsOf(&'static str),
}

use Want::*;

fn mount(server: &RealServer) -> Mounted {
    let mut m = Mounted::serve(Default::default());
    m.mount(&server.url, &[], &[]);
    m
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Checks every job of `kind`: its outputs are exactly `want`, byte for byte.
fn check_kind(server: &RealServer, m: &Mounted, kind: &str, want: &[(&str, Want)]) {
    let ids = server.jobs_of(kind);
    assert!(!ids.is_empty(), "no {kind} job");
    for id in ids {
        let dir = m.path(&id);
        let mut expected: BTreeSet<String> = want.iter().map(|(n, _)| n.to_string()).collect();
        expected.insert(".job".into());
        // A job that has not succeeded shows its state as an `@STATE` note.
        let state = std::fs::read_to_string(dir.join(".job/state")).unwrap();
        let state = state.trim();
        match kind {
            "failed" => assert_eq!(state, "failed", "{kind} job {id}"),
            "running" => assert!(["accepted", "running"].contains(&state), "{id}: {state}"),
            _ => assert_eq!(state, "successful", "{kind} job {id}"),
        }
        if state != "successful" {
            expected.insert(format!("@{state}"));
        }
        assert_eq!(names(&dir), expected, "{kind} job {id}: {}", m.log());
        let (status, _, results) = server.get(&format!("/jobs/{id}/results"));
        for (name, w) in want {
            let got = std::fs::read(dir.join(name))
                .unwrap_or_else(|e| panic!("{kind} job {id}: {name}: {e}\n{}", m.log()));
            let what = format!("{kind} job {id}: {name}");
            match w {
                Results => {
                    assert_eq!(status, 200, "{what}");
                    assert!(
                        got == results,
                        "{what}: {} bytes, the server's {}",
                        got.len(),
                        results.len()
                    );
                }
                Text(t) => assert_eq!(String::from_utf8_lossy(&got), *t, "{what}"),
                Json(v) => {
                    let parsed: Value = serde_json::from_slice(&got)
                        .unwrap_or_else(|e| panic!("{what} is not JSON: {e}"));
                    assert_eq!(&parsed, v, "{what}");
                }
                HrefAt(pointer) => {
                    let doc: Value = serde_json::from_slice(&results).unwrap();
                    let href = doc.pointer(pointer).and_then(Value::as_str).unwrap();
                    let url = url::Url::parse(&format!("{}/jobs/{id}/results", server.url))
                        .unwrap()
                        .join(href)
                        .unwrap();
                    let (s, _, body) = server.get(url.as_str());
                    assert_eq!(s, 200, "{what}: {url}");
                    assert!(
                        !body.is_empty() && got == body,
                        "{what}: not the bytes of {url}"
                    );
                }
                Link => {
                    assert_eq!(status, 204, "{what}");
                    let link = String::from_utf8(results.clone()).unwrap();
                    let href = link.split(['<', '>']).nth(1).unwrap();
                    let (s, _, body) = server.get(href);
                    assert_eq!(s, 200, "{what}: {href}");
                    assert!(
                        !body.is_empty() && got == body,
                        "{what}: not the bytes of {href}"
                    );
                }
                ResultsOf(other) => {
                    let other = &server.jobs_of(other)[0];
                    let (_, _, body) = server.get(&format!("/jobs/{other}/results"));
                    assert!(
                        got == body,
                        "{what}: not the bytes of job {other}'s results"
                    );
                }
            }
        }
        check_job_dir(server, m, &id);
    }
}

/// `.job/`: status.json as served; exceptions.json of a failed job holds the cause; every
/// listed entry can be read.
fn check_job_dir(server: &RealServer, m: &Mounted, id: &str) {
    let meta = m.path(&format!("{id}/.job"));
    let listed = names(&meta);
    for name in &listed {
        std::fs::read(meta.join(name))
            .unwrap_or_else(|e| panic!("job {id}: .job/{name} is listed but: {e}\n{}", m.log()));
    }
    let job = server.jobs.iter().find(|j| j["id"] == id).unwrap();
    let (_, _, status) = server.get(&format!("/jobs/{id}"));
    if job["kind"] != "running" {
        assert_eq!(
            std::fs::read(meta.join("status.json")).unwrap(),
            status,
            "job {id}"
        );
    }
    if job["kind"] == "failed" {
        let (code, _, body) = server.get(&format!("/jobs/{id}/results"));
        assert!(code >= 400, "a failed job's results answer {code}");
        let cause = std::fs::read(meta.join("exceptions.json")).unwrap();
        assert_eq!(
            cause, body,
            "job {id}: exceptions.json is /results' error body"
        );
        serde_json::from_slice::<Value>(&cause).expect("exceptions.json is JSON");
    }
    for name in listed.iter().filter(|n| n.ends_with(".json")) {
        let bytes = std::fs::read(meta.join(name)).unwrap();
        serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|e| panic!("job {id}: .job/{name} is not JSON: {e}"));
    }
}

/// The root lists every job; `cp -r`, `du`, `tar`, `find` of the whole mount and `weaverfs get`
/// of each job exit 0, and `get` writes what the mount shows.
fn check_tools(server: &RealServer, m: &Mounted) {
    let root = names(m.root());
    for job in &server.jobs {
        let id = job["id"].as_str().unwrap();
        assert!(
            root.contains(id),
            "job {id} ({}) is not listed",
            job["kind"]
        );
    }
    let out = tempfile::tempdir().unwrap();
    let ok = |cmd: &mut Command| {
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{cmd:?}: {}{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            m.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let root = m.root().to_str().unwrap();
    ok(Command::new("cp")
        .args(["-r", root])
        .arg(out.path().join("copy")));
    ok(Command::new("du").args(["-sb", root]));
    ok(Command::new("tar").args(["cf", "/dev/null", root]));
    ok(Command::new("find").args([root, "-type", "f"]));
    ok(Command::new("rsync")
        .args(["-a", &format!("{root}/")])
        .arg(out.path().join("rsync")));
    ok(Command::new("diff")
        .args(["-r", root])
        .arg(out.path().join("copy")));
    for job in &server.jobs {
        let id = job["id"].as_str().unwrap();
        let dest = out.path().join("get").join(id);
        let mut get = Command::new(env!("CARGO_BIN_EXE_weaverfs"));
        get.args(["get", &server.url, id, "-q", "-o"]).arg(&dest);
        if matches!(job["kind"].as_str(), Some("running" | "failed")) {
            // A job that has not succeeded: get writes its .job/ and exits 1 naming its state,
            // as a script expects (the state may have moved on from the manifest's).
            let o = get.output().unwrap();
            let said = String::from_utf8_lossy(&o.stderr);
            assert!(
                !o.status.success() || job["kind"] == "running",
                "{get:?}: {said}"
            );
            assert!(
                o.status.success() || said.contains(" is "),
                "{get:?}: {said}"
            );
            assert!(dest.join(".job/status.json").exists(), "{get:?}: {said}");
            continue;
        }
        ok(&mut get);
        // A running job's status changes between two reads; the others must match, but for
        // results.json: fastprocesses names its href files anew at each GET of /results.
        if job["kind"] != "running" {
            ok(Command::new("diff")
                .args(["-r", "--exclude=results.json"])
                .arg(m.path(id))
                .arg(&dest));
        }
    }
}

#[test]
fn pygeoapi_jobs_read_back_exactly() {
    let server = RealServer::start("pygeoapi");
    let m = mount(&server);
    // pygeoapi sends raw bodies; named by the single declared output, else `result`.
    check_kind(&server, &m, "text", &[("greeting.txt", Results)]);
    check_kind(&server, &m, "binary", &[("data", Results)]);
    check_kind(&server, &m, "large", &[("data", Results)]);
    check_kind(&server, &m, "two-outputs-raw", &[("result.png", Results)]);
    check_kind(&server, &m, "text-document", &[("greeting.txt", Results)]);
    // JSON that is not a results document: the single output's value as served.
    check_kind(&server, &m, "json-object", &[("summary.json", Results)]);
    check_kind(&server, &m, "json-array", &[("values.json", Results)]);
    // A mapping of the declared output ids: a results document.
    check_kind(
        &server,
        &m,
        "several",
        &[
            ("message", Text("3 rows\n")),
            ("count", Text("3\n")),
            ("config.json", Json(json!({"a": 1, "b": [1, 2]}))),
            ("mode.json", Json(json!("sync"))),
        ],
    );
    // An absolute href and one relative to the results URL.
    check_kind(
        &server,
        &m,
        "reference",
        &[
            ("logo.png", HrefAt("/logo/href")),
            ("sheet.css", HrefAt("/sheet/href")),
        ],
    );
    check_kind(
        &server,
        &m,
        "multipart",
        &[
            ("message", Text("parts ahoy\n")),
            ("table.csv", Text("k,v\n1,2\n")),
        ],
    );
    // `{"outputs": [{"id": ..., "value": ...}]}`.
    let echo = server.jobs.iter().filter(|j| j["kind"] == "outputs-list");
    for job in echo {
        let id = job["id"].as_str().unwrap();
        let want = if job["process"] == "echo" {
            ("echoOutput", "Hello\n")
        } else {
            ("echo", "Hello weaverfs!\n")
        };
        assert_eq!(
            names(&m.path(id)),
            BTreeSet::from([".job".into(), want.0.into()])
        );
        assert_eq!(
            std::fs::read_to_string(m.path(id).join(want.0)).unwrap(),
            want.1
        );
    }
    check_kind(&server, &m, "failed", &[]);
    check_kind(&server, &m, "running", &[]);
    // pygeoapi has no /inputs, /logs, /exceptions: none is listed.
    let failed = &server.jobs_of("failed")[0];
    assert_eq!(
        names(&m.path(&format!("{failed}/.job"))),
        BTreeSet::from([
            "status.json".into(),
            "state".into(),
            "exceptions.json".into()
        ])
    );
    let text = &server.jobs_of("text")[0];
    assert_eq!(
        names(&m.path(&format!("{text}/.job"))),
        BTreeSet::from(["status.json".into(), "state".into()])
    );
    check_tools(&server, &m);
}

#[test]
fn fastprocesses_jobs_read_back_exactly() {
    let server = RealServer::start("fastprocesses");
    let m = mount(&server);
    check_kind(&server, &m, "text", &[("greeting.txt", Results)]);
    check_kind(&server, &m, "binary", &[("data", Results)]);
    check_kind(&server, &m, "large", &[("data", Results)]);
    check_kind(&server, &m, "json-object", &[("summary.json", Results)]);
    check_kind(&server, &m, "json-array", &[("values.json", Results)]);
    // Documents of qualified values, base64 for text and binary.
    check_kind(
        &server,
        &m,
        "text-document",
        &[("greeting.txt", Text("Hello, doc!\n"))],
    );
    check_kind(
        &server,
        &m,
        "binary-document",
        &[("data", ResultsOf("binary"))],
    );
    check_kind(
        &server,
        &m,
        "several",
        &[
            ("message.txt", Text("3 rows\n")),
            ("count", Text("3\n")),
            ("table.csv", Text("k,square\n0,0\n1,1\n2,4\n")),
        ],
    );
    // fastprocesses' raw answer for several outputs: multipart/related.
    check_kind(
        &server,
        &m,
        "multipart",
        &[
            ("message", Text("3 rows\n")),
            ("count", Text("3\n")),
            ("table.csv", Text("k,square\n0,0\n1,1\n2,4\n")),
        ],
    );
    // References: a 204 with a relative Link, and a relative href in a document.
    check_kind(&server, &m, "reference-raw", &[("data.bin", Link)]);
    check_kind(
        &server,
        &m,
        "reference",
        &[
            ("table.csv", HrefAt("/table/href")),
            ("message.txt", Text("5 rows\n")),
        ],
    );
    check_kind(&server, &m, "failed", &[]);
    check_kind(&server, &m, "running", &[]);
    let failed = &server.jobs_of("failed")[0];
    let cause = std::fs::read_to_string(m.path(&format!("{failed}/.job/exceptions.json"))).unwrap();
    assert!(cause.contains("the input was bad on purpose"), "{cause}");
    check_tools(&server, &m);
}
