//! A large root through a real mount: 100,000 jobs list once each; a sample of them reads.
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
