//! What every parser must do with any input: return (an error is fine), never panic, and give
//! only safe, unique directory entry names. Shared by the cargo-fuzz targets and by
//! `tests/parsers.rs`, which replays the corpus under `fuzz/corpus/` in a normal `cargo test`.

#![allow(dead_code)]

use std::collections::HashSet;

use weaverfs_fs::api::listing::Page;
use weaverfs_fs::api::results::{parse_outputs_response, parse_results};
use weaverfs_fs::api::JobStatus;
use weaverfs_fs::tree::dir_index::parse_index;
use weaverfs_fs::tree::naming::UniqueNames;
use weaverfs_fs::tree::outputs::output_entries;
use weaverfs_fs::tree::{ChildSpec, Content};

/// A name Linux accepts in a directory.
pub fn assert_safe(name: &str) {
    assert!(!name.is_empty(), "empty name");
    assert!(name.len() <= 255, "{} bytes: {name:?}", name.len());
    assert!(!name.contains('/') && !name.contains('\0'), "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(name != "." && name != "..", "{name:?}");
}

/// Names of one directory (and of the directories inside it) are safe and unique.
pub fn assert_entries(entries: &[ChildSpec]) {
    let mut seen = HashSet::new();
    for e in entries {
        assert_safe(&e.name);
        assert!(seen.insert(e.name.as_str()), "{:?} twice", e.name);
        if let Content::Static(inner) = &e.content {
            assert_entries(inner);
        }
    }
}

/// A results document (`/results`) or an `/outputs` body.
pub fn results(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let parsed = [parse_results(&doc), parse_outputs_response(&doc)];
    for outputs in parsed.iter().flatten() {
        for plain in [false, true] {
            let entries = output_entries("job", outputs, plain);
            assert_entries(&entries);
            assert!(entries.iter().all(|e| e.name != ".job"));
        }
    }
}

/// A job status document.
pub fn status(data: &[u8]) {
    if let Ok(st) = JobStatus::parse(data) {
        assert_eq!(st.raw, data);
    }
}

/// A page of the job listing, and the root names made of its ids.
pub fn listing(data: &[u8]) {
    let url = url::Url::parse("http://h/weaver/jobs?limit=1000&page=0").unwrap();
    if let Ok(page) = Page::parse(data, &url) {
        let mut names = UniqueNames::default();
        let mut seen = HashSet::new();
        for id in page.jobs.iter().map(|j| &j.id) {
            let name = names.claim(id);
            assert_safe(&name);
            assert!(seen.insert(name));
        }
    }
}

/// A directory index page (HTML or a JSON list), as served at a directory output.
pub fn dir_index(data: &[u8]) {
    let dir = url::Url::parse("http://h/wpsoutputs/j/out/").unwrap();
    let body = String::from_utf8_lossy(data);
    let mut names = UniqueNames::default();
    let mut seen = HashSet::new();
    for e in parse_index(&dir, &body) {
        assert!(
            e.url.as_str().starts_with(dir.as_str()),
            "{} escapes",
            e.url
        );
        let name = names.claim(&e.name);
        assert_safe(&name);
        assert!(seen.insert(name));
    }
}
