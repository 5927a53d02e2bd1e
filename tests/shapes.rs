//! The results shapes of OGC API - Processes servers other than Weaver, through a real mount of
//! the built-in server's `/ogc` API: raw bodies, multipart parts, JSON values and lists, 204
//! links, failures, relative next links, and `.job/` without phantom entries.

mod common;

use std::collections::BTreeSet;

use common::Mounted;
use weaverfs_server::ogc;

fn names(m: &Mounted, rel: &str) -> BTreeSet<String> {
    std::fs::read_dir(m.path(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}\n{}", m.log()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn read(m: &Mounted, rel: &str) -> Vec<u8> {
    std::fs::read(m.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}\n{}", m.log()))
}

fn mount() -> Mounted {
    let mut m = Mounted::serve(Default::default());
    let url = m.server.ogc_url();
    m.mount(&url, &[], &[]);
    m
}

#[test]
fn every_shape_reads_back() {
    let m = mount();
    // Pages of 3 with relative next links: every job is listed.
    let root = names(&m, "");
    let jobs = root.iter().filter(|n| !n.starts_with('@')).count();
    assert_eq!(jobs, 11, "every listed job: {root:?}\n{}", m.log());
    assert_eq!(
        root.len() - jobs,
        3,
        "the three views beside the jobs: {root:?}"
    );
    assert_eq!(names(&m, "ogc-text"), set(&[".job", "greeting.txt"]));
    assert_eq!(read(&m, "ogc-text/greeting.txt"), ogc::TEXT.as_bytes());
    assert_eq!(read(&m, "ogc-bytes/data"), ogc::sample_bytes());
    assert_eq!(names(&m, "ogc-named"), set(&[".job", "map.png"]));
    assert_eq!(
        read(&m, "ogc-named/map.png"),
        b"\x89PNG\r\n\x1a\nnot really"
    );
    assert_eq!(
        names(&m, "ogc-multipart"),
        set(&[".job", "message", "table.csv"])
    );
    assert_eq!(read(&m, "ogc-multipart/message"), b"three rows\n");
    assert_eq!(read(&m, "ogc-multipart/table.csv"), b"k,v\n1,1\n2,4\n");
    assert_eq!(read(&m, "ogc-value/values.json"), b"[1, 2, 3]");
    assert_eq!(names(&m, "ogc-list"), set(&[".job", "echo"]));
    assert_eq!(read(&m, "ogc-list/echo"), b"Hello\n");
    assert_eq!(
        names(&m, "ogc-document"),
        set(&[".job", "count", "mode.json"])
    );
    let mode: serde_json::Value =
        serde_json::from_slice(&read(&m, "ogc-document/mode.json")).unwrap();
    assert_eq!(mode, serde_json::json!("sync"));
    assert_eq!(read(&m, "ogc-link/greeting.txt"), ogc::TEXT.as_bytes());
    assert_eq!(names(&m, "ogc-running"), set(&[".job", "@running"]));
}

#[test]
fn job_dirs_never_fail_and_show_no_phantoms() {
    let m = mount();
    // No /inputs, /logs, /exceptions on this server: .job/ holds what exists.
    assert_eq!(names(&m, "ogc-text/.job"), set(&["status.json", "state"]));
    assert_eq!(
        names(&m, "ogc-value/.job"),
        set(&["status.json", "state", "results.json"])
    );
    // A failed job's cause: the error body /results answered.
    assert_eq!(
        names(&m, "ogc-failed/.job"),
        set(&["status.json", "state", "exceptions.json"])
    );
    let cause = String::from_utf8(read(&m, "ogc-failed/.job/exceptions.json")).unwrap();
    assert!(cause.contains("boom: the sample job failed"), "{cause}");
    // Results that cannot be read: .job/ only, the status readable, the reason logged, and
    // /results asked once per TTL, not at every listing.
    let asked = || {
        m.server
            .requests()
            .iter()
            .filter(|r| r.path == "/ogc/jobs/ogc-broken/results")
            .count()
    };
    assert_eq!(names(&m, "ogc-broken"), set(&[".job", "@successful"]));
    let note = String::from_utf8(read(&m, "ogc-broken/@successful")).unwrap();
    assert!(
        note.starts_with("successful") && note.contains("results could not be read"),
        "{note}"
    );
    let first = asked();
    assert!(first >= 1);
    for _ in 0..5 {
        assert_eq!(names(&m, "ogc-broken"), set(&[".job", "@successful"]));
        assert!(!read(&m, "ogc-broken/.job/status.json").is_empty());
    }
    assert_eq!(asked(), first, "/results asked again within the TTL");
    let log = m.log();
    assert!(
        log.contains("/ogc/jobs/ogc-broken/results")
            && log.contains("500")
            && log.contains("the results store is down"),
        "{log}"
    );
    // The tools that walk a tree exit 0.
    let root = m.root().to_str().unwrap().to_string();
    let out = tempfile::tempdir().unwrap();
    for cmd in [
        vec!["cp", "-r", &root, out.path().to_str().unwrap()],
        vec!["du", "-sb", &root],
        vec!["tar", "cf", "/dev/null", &root],
        vec!["find", &root],
    ] {
        common::run(cmd[0], &cmd[1..]);
    }
    for job in ["ogc-broken", "ogc-failed", "ogc-running", "ogc-multipart"] {
        let dest = out.path().join("get").join(job);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weaverfs"))
            .args(["get", &m.server.ogc_url(), job, "-q", "-o"])
            .arg(&dest)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        // A job that has not succeeded: its .job/ is written and get exits 1 naming its state.
        match job {
            "ogc-failed" | "ogc-running" => {
                let state = job.trim_start_matches("ogc-");
                assert!(!out.status.success(), "weaverfs get {job}: {said}");
                assert!(said.contains(&format!("is {state}")), "{job}: {said}");
                assert!(dest.join(".job/status.json").exists(), "{job}: {said}");
            }
            _ => assert!(out.status.success(), "weaverfs get {job}: {said}"),
        }
    }
}

#[test]
fn weaver_job_documents_are_listed_only_when_served() {
    use weaverfs_server::jobs;
    let mut m = Mounted::serve(weaverfs_server::ServerConfig {
        big_file_size: 1 << 20,
        ..Default::default()
    });
    let url = m.server.api_url();
    m.mount(&url, &[], &[]);
    let ok = names(&m, &format!("{}/.job", jobs::LITERALS));
    for doc in [
        "status.json",
        "inputs.json",
        "logs.txt",
        "results.json",
        "statistics.json",
        "provenance.json",
    ] {
        assert!(ok.contains(doc), "{doc} missing: {ok:?}");
        assert!(!read(&m, &format!("{}/.job/{doc}", jobs::LITERALS)).is_empty());
    }
    // The old imitation has no /statistics or /prov; a dismissed job's logs are 410.
    let old = names(&m, &format!("{}/.job", jobs::OLD));
    assert!(
        !old.contains("statistics.json") && !old.contains("provenance.json"),
        "{old:?}"
    );
    let dismissed = names(&m, &format!("{}/.job", jobs::DISMISSED));
    assert!(!dismissed.contains("logs.txt"), "{dismissed:?}");
    for name in &dismissed {
        read(&m, &format!("{}/.job/{name}", jobs::DISMISSED));
    }
}
