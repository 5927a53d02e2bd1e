//! The views (`@process/`, `@status/`, `@date/`, `@latest`), states and times from the
//! listing, and workflow steps, through a real mount of the built-in server.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{run, Mounted};
use serde_json::Value;
use weaverfs_fs::tree::could_be_job_id;
use weaverfs_server::jobs::{
    FAILED, FILES, LITERALS, REMOTE_STEP, RUNNING, STEP_STAGE, STEP_SUBSET, SUBSET_NEW, WORKFLOW,
    WORKFLOW_RUNNING,
};
use weaverfs_server::ServerConfig;

/// The server's own listing, with status objects, as a test reads it.
fn server_listing(m: &Mounted) -> Vec<Value> {
    let url = format!("{}/jobs?limit=1000&detail=true", m.server.api_url());
    let body =
        m.rt.block_on(async { reqwest::get(&url).await.unwrap().bytes().await.unwrap() });
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["total"].as_u64().unwrap() <= 1000, "one page");
    body["jobs"].as_array().unwrap().clone()
}

fn state_of(job: &Value) -> String {
    match job["status"].as_str().unwrap() {
        "succeeded" => "successful".into(),
        s => s.into(),
    }
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Waits until `check` holds, for up to 20 s (the listing TTL of these mounts is 1 s).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: never");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn link(path: &Path) -> String {
    fs::read_link(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_os_string()
        .into_string()
        .unwrap()
}

fn small() -> ServerConfig {
    ServerConfig {
        big_file_size: 1 << 20,
        extra_jobs: 40,
        ..ServerConfig::default()
    }
}

#[test]
fn every_view_lists_exactly_the_jobs_the_server_lists() {
    let m = Mounted::start(small(), &[]);
    let jobs = server_listing(&m);
    let mut by: [BTreeMap<String, BTreeSet<String>>; 3] = Default::default();
    for job in &jobs {
        let id = job["jobID"].as_str().unwrap().to_string();
        let created = job["created"].as_str().unwrap();
        assert!(created.ends_with("+00:00"), "UTC times: {created}");
        let keys = [
            job["processID"].as_str().unwrap().to_string(),
            state_of(job),
            created[..10].to_string(),
        ];
        for (view, key) in by.iter_mut().zip(keys) {
            view.entry(key).or_default().insert(id.clone());
        }
    }
    let all: BTreeSet<String> = jobs
        .iter()
        .map(|j| j["jobID"].as_str().unwrap().into())
        .collect();
    let views = ["@process", "@status", "@date"];
    let mut root = all.clone();
    root.extend(views.iter().map(|v| v.to_string()));
    assert_eq!(
        names(m.root()),
        root,
        "the root: the listed jobs and the views"
    );
    for (view, expected) in views.iter().zip(&by) {
        let dir = m.path(view);
        let mut buckets: BTreeSet<String> = expected.keys().cloned().collect();
        if *view == "@status" {
            // Every standard state is there, empty or not.
            for s in [
                "created",
                "accepted",
                "running",
                "successful",
                "failed",
                "dismissed",
            ] {
                buckets.insert(s.into());
            }
        }
        assert_eq!(names(&dir), buckets, "{view}");
        let mut seen = 0;
        for bucket in &buckets {
            let mut listed = names(&dir.join(bucket));
            let latest = listed.remove("@latest");
            let want = expected.get(bucket).cloned().unwrap_or_default();
            assert_eq!(listed, want, "{view}/{bucket}");
            seen += listed.len();
            for id in &listed {
                let entry = dir.join(bucket).join(id);
                assert_eq!(link(&entry), format!("../../{id}"));
                assert_eq!(
                    fs::canonicalize(&entry).unwrap(),
                    fs::canonicalize(m.path(id)).unwrap()
                );
            }
            assert_eq!(
                latest,
                *view == "@process" && bucket_has_success(&jobs, bucket)
            );
        }
        assert_eq!(seen, all.len(), "{view}: every job once");
    }
    m.unmount();
}

fn bucket_has_success(jobs: &[Value], process: &str) -> bool {
    jobs.iter()
        .any(|j| j["processID"] == process && state_of(j) == "successful")
}

#[test]
fn nothing_in_a_view_collides_with_a_job_id() {
    let m = Mounted::start(small(), &[]);
    let ids: BTreeSet<String> = server_listing(&m)
        .iter()
        .map(|j| j["jobID"].as_str().unwrap().into())
        .collect();
    // Directories where job names live: the root, and each bucket of each view.
    let mut dirs = vec![m.root().to_path_buf()];
    for view in ["@process", "@status", "@date"] {
        for bucket in names(&m.path(view)) {
            dirs.push(m.path(view).join(bucket));
        }
    }
    for dir in dirs {
        for name in names(&dir) {
            if ids.contains(&name) {
                continue;
            }
            assert!(name.starts_with('@'), "{}/{name}", dir.display());
            assert!(
                !could_be_job_id(&name),
                "{}/{name} could be a job id",
                dir.display()
            );
        }
    }
    m.unmount();
}

#[test]
fn latest_follows_a_new_successful_job_and_states_move() {
    let m = Mounted::start(small(), &["--listing-ttl", "1"]);
    let latest = m.path("@process/subset/@latest");
    assert_eq!(link(&latest), format!("../../{STEP_SUBSET}"));
    assert!(m
        .path(&format!("@status/running/{SUBSET_NEW}"))
        .is_symlink());
    let before = fs::read(latest.join("data.bin")).unwrap();
    m.server.set_job_status(SUBSET_NEW, "successful");
    eventually("@latest moves to the new job", || {
        fs::read_link(&latest).is_ok_and(|l| l == Path::new(&format!("../../{SUBSET_NEW}")))
    });
    assert!(m
        .path(&format!("@status/successful/{SUBSET_NEW}"))
        .is_symlink());
    assert!(!m.path(&format!("@status/running/{SUBSET_NEW}")).exists());
    let after = fs::read(latest.join("data.bin")).unwrap();
    assert_ne!(before, after, "the new job's own file");
    let url = format!("{}/{SUBSET_NEW}/data/data.bin", m.server.files_url());
    assert_eq!(after, m.server.file_bytes(&url, 0, u64::MAX).unwrap());
    m.unmount();
}

#[test]
fn find_and_cp_through_a_view_give_the_job_directory() {
    let m = Mounted::start(small(), &[]);
    let out = tempfile::tempdir().unwrap();
    for (via, job) in [
        ("@process/subset/@latest".to_string(), STEP_SUBSET),
        (format!("@status/successful/{FILES}"), FILES),
        (format!("@date/2026-11-01/{LITERALS}"), LITERALS),
    ] {
        let through = m.path(&via);
        let direct = m.path(job);
        let found = |dir: &Path| {
            let listed = run("find", &["-L", dir.to_str().unwrap(), "-type", "f"]);
            let prefix = format!("{}/", dir.display());
            let mut rel: Vec<String> = listed
                .lines()
                .map(|l| l.strip_prefix(&prefix).unwrap().to_string())
                .collect();
            rel.sort();
            rel
        };
        assert_eq!(found(&through), found(&direct), "{via}");
        let (a, b) = (out.path().join(format!("{job}-via")), out.path().join(job));
        run(
            "cp",
            &["-rL", through.to_str().unwrap(), a.to_str().unwrap()],
        );
        run("cp", &["-r", direct.to_str().unwrap(), b.to_str().unwrap()]);
        run("diff", &["-r", a.to_str().unwrap(), b.to_str().unwrap()]);
        assert!(
            fs::read_dir(&a).unwrap().count() > 1,
            "{via}: something copied"
        );
    }
    m.unmount();
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

/// `2026-11-01T11:02:30.750000+00:00` as a time.
fn at(rfc3339: &str) -> SystemTime {
    let t = weaverfs_fs::api::status::parse_time(rfc3339).unwrap();
    assert!(t > UNIX_EPOCH);
    t
}

#[test]
fn times_and_states_come_from_the_listing() {
    let m = Mounted::start(small(), &[]);
    let jobs = server_listing(&m);
    m.server.clear_requests();
    // `ls -lt` of the root: every job directory has the listing's time at once.
    let listed = run(
        "ls",
        &["-lt", "--time-style=+%s", m.root().to_str().unwrap()],
    );
    assert!(listed.lines().count() > jobs.len());
    for job in &jobs {
        let id = job["jobID"].as_str().unwrap();
        let time = ["finished", "updated", "created"]
            .iter()
            .find_map(|k| job[k].as_str())
            .unwrap();
        assert_eq!(mtime(&m.path(id)), at(time), "{id}");
    }
    let per_job: Vec<String> = m
        .server
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| !p.starts_with("/weaver/jobs?"))
        .collect();
    assert!(per_job.is_empty(), "requests per job: {per_job:?}");
    // A job's state as plain text, and visible in `ls -l` of a job without outputs.
    let state = |id: &str| fs::read_to_string(m.path(&format!("{id}/.job/state"))).unwrap();
    assert_eq!(state(RUNNING), "running\n");
    assert_eq!(state(FILES), "successful\n");
    assert_eq!(
        names(&m.path(RUNNING)),
        BTreeSet::from([".job", "@running"].map(String::from))
    );
    let ls = run("ls", &["-l", m.path(FAILED).to_str().unwrap()]);
    assert!(ls.contains("@failed"), "{ls}");
    assert_eq!(
        fs::read_to_string(m.path(&format!("{FAILED}/@failed"))).unwrap(),
        "failed: Failed package execution (MissingParameterValue): input.\n"
    );
    assert!(!names(&m.path(FILES)).iter().any(|n| n.starts_with('@')));
    m.server.set_job_status(RUNNING, "successful");
    eventually("the finished job shows its outputs", || {
        let n = names(&m.path(RUNNING));
        n.contains("message") && !n.contains("@running")
    });
    m.unmount();
}

#[test]
fn workflow_steps_lead_to_their_jobs() {
    let (rt2, remote) = common::start_server(small());
    let mut m = Mounted::serve(small());
    m.server.set_remote_ades(Some(remote.api_url()));
    let url = m.server.api_url();
    m.mount(&url, &["--active-ttl", "1"], &[]);
    let steps = m.path(&format!("{WORKFLOW}/.job/steps"));
    assert_eq!(
        names(&steps),
        BTreeSet::from(["remote_step", "stage_in", "subset_2"].map(String::from))
    );
    assert_eq!(
        link(&steps.join("stage_in")),
        format!("../../../{STEP_STAGE}")
    );
    assert_eq!(
        link(&steps.join("subset_2")),
        format!("../../../{STEP_SUBSET}")
    );
    assert_eq!(
        fs::read_to_string(steps.join("stage_in/data.bin")).unwrap(),
        "staged input data\n"
    );
    let direct = fs::read(m.path(&format!("{STEP_SUBSET}/data.bin"))).unwrap();
    assert_eq!(fs::read(steps.join("subset_2/data.bin")).unwrap(), direct);
    let remote_file = steps.join("remote_step");
    assert!(remote_file.is_file() && !remote_file.is_symlink());
    let remote_url = format!("{}/processes/subset/jobs/{REMOTE_STEP}\n", remote.api_url());
    assert_eq!(fs::read_to_string(&remote_file).unwrap(), remote_url);
    // The remote job is real, and weaverfs never asked the second server anything.
    let status = rt2.block_on(async { reqwest::get(remote_url.trim()).await.unwrap().status() });
    assert!(status.is_success());
    let reached: Vec<String> = remote
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| !p.contains(REMOTE_STEP) || p.contains("?"))
        .collect();
    assert!(
        reached.is_empty(),
        "weaverfs reached the second server: {reached:?}"
    );
    assert_eq!(remote.requests().len(), 1, "only the test's own request");
    // No steps for a job that is not a workflow, nor yet for a running workflow.
    assert!(!m.path(&format!("{LITERALS}/.job/steps")).exists());
    let running = m.path(&format!("{WORKFLOW_RUNNING}/.job"));
    assert!(!names(&running).contains("steps"));
    m.server.set_job_status(WORKFLOW_RUNNING, "successful");
    eventually("the steps appear once the workflow ends", || {
        names(&running).contains("steps")
    });
    assert_eq!(
        link(&running.join("steps/stage_in")),
        format!("../../../{STEP_STAGE}")
    );
    m.unmount();
    drop(remote);
    drop(rt2);
}
