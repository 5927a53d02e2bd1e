//! Hostile input through a real mount: unsafe output ids and file names, odd value shapes, and
//! job listings that lie. Every name the kernel sees must be valid and unique, every lookup must
//! work, contents must be right, the mount must survive, and the log must name the problem.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::{is_mounted, Mounted};
use weaverfs_server::hostile::{self, ListingMode, HOSTILE, LONG_ID, LONG_JOB_ID};
use weaverfs_server::jobs::{extra_job_id, LITERALS, UNLISTED};
use weaverfs_server::ServerConfig;

fn small_server() -> ServerConfig {
    ServerConfig {
        big_file_size: 1 << 20,
        ..ServerConfig::default()
    }
}

/// A name Linux accepts in a directory.
fn assert_valid(name: &[u8], dir: &Path) {
    assert!(!name.is_empty(), "empty name in {dir:?}");
    assert!(name.len() <= 255, "{} bytes in {dir:?}", name.len());
    assert!(
        !name.contains(&b'/') && !name.contains(&0),
        "{name:?} in {dir:?}"
    );
    assert!(name != b"." && name != b"..", "{name:?} in {dir:?}");
}

/// The entries of `dir` (checked valid and unique), each looked up by `stat`.
fn entries(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        assert_valid(name.as_bytes(), dir);
        let name = name.into_string().expect("names are UTF-8");
        fs::metadata(dir.join(&name)).unwrap_or_else(|err| panic!("stat {name:?}: {err}"));
        assert!(names.insert(name.clone()), "{name:?} twice in {dir:?}");
    }
    names
}

fn text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Every file under `dir` with its text, keyed by path relative to `dir`; the canonical path
/// of each stays inside `root`.
fn tree(root: &Path, dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in entries(dir) {
        let path = dir.join(&name);
        let canonical = fs::canonicalize(&path).unwrap();
        assert!(
            canonical.starts_with(root),
            "{canonical:?} escapes {root:?}"
        );
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            out.extend(tree(root, &path));
        } else {
            out.insert(rel, text(&path));
        }
    }
    out
}

#[test]
fn hostile_names_become_safe_unique_entries() {
    let m = Mounted::start_logged(small_server(), &[]);
    m.server.set_listing_mode(ListingMode::Hostile);
    let root = fs::canonicalize(m.root()).unwrap();

    // The root: real jobs, the hostile one, the long id shortened; unsafe ids skipped.
    let jobs = entries(&root);
    assert!(
        jobs.contains(HOSTILE) && jobs.contains(LITERALS),
        "{jobs:?}"
    );
    assert!(jobs.contains(&LONG_JOB_ID[..255]), "{jobs:?}");
    assert!(!jobs.contains(UNLISTED));
    let views: Vec<&String> = jobs.iter().filter(|n| n.starts_with('@')).collect();
    assert_eq!(views, ["@date", "@process", "@status"], "{jobs:?}");
    assert_eq!(
        jobs.len() - views.len(),
        weaverfs_server::jobs::LISTED_SAMPLES + 2,
        "the listed samples, HOSTILE and the long id: {jobs:?}"
    );

    let job = root.join(HOSTILE);
    let all = tree(&root, &job);
    let file = |rel: &str| all.get(&format!("{HOSTILE}/{rel}")).map(String::as_str);
    let expected = [
        (".._.._etc_passwd", "escape\n"),
        ("_..", "dotdot\n"),
        ("_.", "dot\n"),
        ("_", "empty\n"),
        (".job-2", "meta\n"),
        // `a/b` comes first in the document, so the real `a_b` gets the suffix.
        ("a_b", "slash\n"),
        ("a_b-2", "underscore\n"),
        ("ctl__x", "control\n"),
        ("nul_x", "nul\n"),
        (&LONG_ID[..255], "long\n"),
        ("huge", "1e+308\n"),
        ("big_int", "18446744073709551615\n"),
        ("negative", "-9223372036854775808\n"),
        ("files/%FF%FE.bin", "ff fe\n"),
        ("files/%C3%28.bin", "c3 28\n"),
        ("files/a_b.txt", "encoded slash\n"),
        ("files/a_b-2.txt", "plain a_b\n"),
        ("files/_.txt", "nul\n"),
        ("files/ctl_.txt", "newline\n"),
        ("dir/_.txt", "dir carriage return\n"),
        ("dir/%FF.bin", "dir ff\n"),
        ("dir/a_b.txt", "dir encoded slash\n"),
        ("dir/a_b-2.txt", "dir plain a_b\n"),
        ("dir/ok.txt", "dir ok\n"),
    ];
    for (rel, want) in expected {
        assert_eq!(file(rel), Some(want), "{rel:?} in {:?}", all.keys());
    }
    let json = |rel: &str| serde_json::from_str::<serde_json::Value>(file(rel).unwrap()).unwrap();
    assert_eq!(
        json("weird_href.json"),
        serde_json::json!({"href": 42, "type": ["x"], "size": -5})
    );
    assert_eq!(
        json("nested.json"),
        serde_json::json!([[[[1]]], {"a": null}])
    );
    // Long names keep their extension within 255 bytes.
    let long_href = all
        .iter()
        .find(|(k, _)| k.starts_with(&format!("{HOSTILE}/éé")))
        .expect("the long href output");
    assert!(long_href.0.ends_with(".txt") && long_href.1 == "long name\n");
    let long_file = all
        .iter()
        .find(|(k, _)| k.starts_with(&format!("{HOSTILE}/files/nnnn")))
        .expect("the long file name");
    assert!(long_file.0.ends_with(".txt") && long_file.1 == "long file\n");
    assert_eq!(
        all.keys().filter(|k| !k.contains("/.job/")).count(),
        expected.len() + 4,
        "{:?}",
        all.keys()
    );

    // The mount survives, and other jobs still work.
    assert_eq!(text(&root.join(LITERALS).join("message")), "hello world\n");
    assert!(is_mounted(m.root()));

    let log = m.log();
    for needle in [
        format!("job {HOSTILE}: \"../../etc/passwd\" is not a safe file name; shown as \".._.._etc_passwd\""),
        format!("job {HOSTILE}: \"nul\\0x\" is not a safe file name"),
        format!("job {HOSTILE}, output \"files\": \"a/b.txt\" is not a safe file name"),
        "/dir/: \"\\r.txt\" is not a safe file name".to_string(),
        "job listing: skipped job id \"../escape\"".to_string(),
        "job listing: skipped job id \"\"".to_string(),
        "job listing: skipped 4 entries that are not job ids".to_string(),
        format!("job listing: \"{LONG_JOB_ID}\" is not a safe file name"),
    ] {
        assert!(log.contains(&needle), "no {needle:?} in the log:\n{log}");
    }
    for skipped in &hostile::HOSTILE_LISTING_IDS[..7] {
        assert!(
            log.contains(&format!("skipped job id {skipped:?}")),
            "{skipped:?}:\n{log}"
        );
    }
    m.unmount();
}

/// The ids of the honest listing of `extra` synthetic jobs plus the listed samples.
fn honest_ids(extra: usize) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = (0..extra).map(extra_job_id).collect();
    ids.extend(
        weaverfs_server::jobs::ALL
            .iter()
            .filter(|id| !weaverfs_server::jobs::UNLISTED_IDS.contains(id))
            .map(|id| id.to_string()),
    );
    ids
}

#[test]
fn lying_listings_end_and_list_each_job_once() {
    let extra = 2500;
    let cfg = ServerConfig {
        extra_jobs: extra,
        ..small_server()
    };
    let mut honest = honest_ids(extra);
    // The views are listed beside the jobs.
    honest.extend(["@date", "@process", "@status"].map(String::from));
    for (mode, warning) in [
        (
            ListingMode::TotalTooHigh,
            "the server's total says 7546 jobs; 2513 were listed",
        ),
        (
            ListingMode::TotalTooLow,
            "the server's total says 1 jobs; 2513 were listed",
        ),
        (
            ListingMode::Endless,
            "holds no new job; the listing ends there",
        ),
    ] {
        let m = Mounted::start_logged(cfg.clone(), &[]);
        m.server.set_listing_mode(mode);
        assert_eq!(entries(m.root()), honest, "{mode:?}");
        assert!(
            m.log().contains(warning),
            "{mode:?}: no {warning:?} in\n{}",
            m.log()
        );
        m.unmount();
    }

    // Page 0 forever: the listing stops at the first repeat and shows that page.
    let m = Mounted::start_logged(cfg, &[]);
    m.server.set_listing_mode(ListingMode::Repeating);
    let names = entries(m.root());
    assert_eq!(names.len(), 1003, "a page and the views");
    assert!(names.is_subset(&honest));
    assert!(
        m.log()
            .contains("page \"page=1&limit=1000&detail=true\" holds no new job"),
        "{}",
        m.log()
    );
    m.unmount();
}
