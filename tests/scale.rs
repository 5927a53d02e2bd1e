//! A large root through a real mount: 100,000 jobs list once each, their views list with no
//! request per job, and a sample of them reads.
//! (`scripts/measure-listing.sh` times it and reports the daemon's memory.)

mod common;

use std::collections::HashSet;
use std::fs;

use common::Mounted;
use weaverfs_server::jobs::{extra_job_id, LISTED_SAMPLES, LITERALS};
use weaverfs_server::ServerConfig;

#[test]
fn a_hundred_thousand_jobs_list_once_each() {
    let n = 100_000;
    let m = Mounted::start(
        ServerConfig {
            extra_jobs: n,
            big_file_size: 1 << 20,
            ..ServerConfig::default()
        },
        &[],
    );
    let mut names = HashSet::new();
    for e in fs::read_dir(m.root()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(names.insert(name.clone()), "{name} twice");
    }
    assert_eq!(
        names.len(),
        n + LISTED_SAMPLES + 3,
        "the synthetic jobs, the listed samples and the 3 views"
    );
    // The views come from the same listing: listing them asks nothing per job.
    let before = m.server.requests().len();
    let count = |rel: &str| fs::read_dir(m.path(rel)).unwrap().count();
    assert_eq!(
        count("@process/echo"),
        n + 1,
        "every synthetic job and @latest"
    );
    assert!(count("@status/successful") >= n);
    let days: usize = fs::read_dir(m.path("@date"))
        .unwrap()
        .map(|d| fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(days, names.len() - 3, "each listed job under its day");
    let latest = fs::read_link(m.path("@process/echo/@latest")).unwrap();
    assert_eq!(
        latest.to_str().unwrap(),
        format!("../../{}", extra_job_id(n - 1))
    );
    let asked: Vec<String> = m.server.requests()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(
        asked.iter().all(|p| p.starts_with("/weaver/jobs?")),
        "only listing pages (a refresh) while listing the views: {:?}",
        asked.iter().take(5).collect::<Vec<_>>()
    );
    for i in [0, 1, n / 2, n - 1] {
        let id = extra_job_id(i);
        assert!(names.contains(&id), "{id}");
        assert_eq!(
            fs::read_to_string(m.path(&format!("{id}/value"))).unwrap(),
            format!("{i}\n")
        );
    }
    assert!(m.path(LITERALS).is_dir());
    m.unmount();
}
