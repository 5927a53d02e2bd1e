//! Hostile data for robustness tests: a job whose output ids and file names are unsafe as file
//! names (`/`, `..`, NUL, control characters, over 255 bytes, invalid UTF-8, collisions after
//! cleaning, odd value shapes), and job listings that lie (`TestServer::set_listing_mode`).

use serde_json::{json, Value};

use super::clock::utc;
use super::content::Source;
use super::jobs::{file, href, successful, FileDef, JobDef, Output};

/// The hostile job: successful, unlisted unless the listing mode is [`ListingMode::Hostile`].
pub const HOSTILE: &str = "8d9eafb0-c1d2-4e3f-8a4b-5c6d7e8f9a09";

/// Six copies of a literal: 50 bytes make 300, over the 255-byte name limit.
macro_rules! six {
    ($s:literal) => {
        concat!($s, $s, $s, $s, $s, $s)
    };
}

/// An output id of 300 ASCII bytes.
pub const LONG_ID: &str = six!("long-output-id-long-output-id-long-output-id-0123-");
/// An output id of 300 bytes of two-byte characters, for an href output (`.txt`).
pub const LONG_UTF8_ID: &str = six!("éééééééééééééééééééééééé--");
/// A file name of 304 bytes in the array output `files`.
pub const LONG_FILE: &str = concat!(
    six!("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"),
    ".txt"
);
/// A job id of 300 bytes in the hostile listing.
pub const LONG_JOB_ID: &str = six!("jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj");

/// How `GET /jobs` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListingMode {
    /// Like Weaver.
    #[default]
    Honest,
    /// One page: the listed jobs, [`HOSTILE`], ids that are no safe path segment
    /// ([`HOSTILE_LISTING_IDS`]), duplicates, and entries that are not ids at all.
    Hostile,
    /// Weaver's pages, without links, with a `total` far above the real count.
    TotalTooHigh,
    /// Weaver's pages, without links, with a `total` of 1.
    TotalTooLow,
    /// Page 0 again for every page, with a `next` link and a huge `total`, forever.
    Repeating,
    /// Weaver's pages, then the last page again with a `next` link, forever.
    Endless,
}

/// Ids in the hostile listing besides the real jobs (the first four cannot be asked for
/// safely; the long one can, under a shortened name).
pub const HOSTILE_LISTING_IDS: [&str; 8] = [
    "../escape",
    "a/b",
    "",
    ".",
    "..",
    "ctl\u{1}id",
    "back\\slash",
    LONG_JOB_ID,
];

/// The body of one listing page in a lying `mode`; None for a page past the end (a 400).
pub(crate) fn listing_page(
    mode: ListingMode,
    ids: &[String],
    page: u64,
    limit: u64,
    jobs_url: &str,
) -> Option<Value> {
    let limit = limit as usize;
    let slice = |p: u64| {
        let start = (p as usize).saturating_mul(limit);
        (start < ids.len() || p == 0)
            .then(|| &ids[start.min(ids.len())..(start + limit).min(ids.len())])
    };
    let last_page = ids.len().div_ceil(limit).saturating_sub(1) as u64;
    let next =
        json!([{"href": format!("{jobs_url}?page={}&limit={limit}", page + 1), "rel": "next"}]);
    Some(match mode {
        ListingMode::Honest => return None,
        ListingMode::Hostile => {
            if page > 0 {
                return None;
            }
            let mut jobs: Vec<Value> = ids.iter().map(|i| json!(i)).collect();
            jobs.push(json!(HOSTILE));
            jobs.extend(HOSTILE_LISTING_IDS.iter().map(|i| json!(i)));
            jobs.extend([
                json!(ids.first()),
                json!(42),
                Value::Null,
                json!({"jobID": 7}),
                json!({"id": ids.last()}),
                json!([HOSTILE]),
            ]);
            json!({"jobs": jobs, "total": jobs.len(), "links": "not a list"})
        }
        ListingMode::TotalTooHigh => {
            json!({"jobs": slice(page)?, "total": ids.len() * 3 + 7, "links": []})
        }
        ListingMode::TotalTooLow => json!({"jobs": slice(page)?, "total": 1}),
        ListingMode::Repeating => json!({"jobs": slice(0)?, "total": u32::MAX, "links": next}),
        ListingMode::Endless => {
            json!({"jobs": slice(page.min(last_page))?, "total": -1, "links": next})
        }
    })
}

/// The hostile job: what each output is named is in the README (tree names) and checked by
/// `tests/hostile.rs`.
pub(crate) fn job() -> JobDef {
    let outputs = vec![
        ("../../etc/passwd", Output::Literal(json!("escape"))),
        ("..", Output::Literal(json!("dotdot"))),
        (".", Output::Literal(json!("dot"))),
        ("", Output::Literal(json!("empty"))),
        (".job", Output::Literal(json!("meta"))),
        ("a/b", Output::Literal(json!("slash"))),
        ("a_b", Output::Literal(json!("underscore"))),
        ("ctl\u{1}\u{7f}x", Output::Literal(json!("control"))),
        ("nul\0x", Output::Literal(json!("nul"))),
        (LONG_ID, Output::Literal(json!("long"))),
        (LONG_UTF8_ID, href("long/data.txt", "text/plain")),
        // Unknown shapes and absurd numbers.
        (
            "weird_href",
            Output::Literal(json!({"href": 42, "type": ["x"], "size": -5})),
        ),
        ("huge", Output::Literal(json!(1.0e308))),
        ("big_int", Output::Literal(json!(u64::MAX))),
        (
            "negative",
            Output::Literal(json!(-9_223_372_036_854_775_808i64)),
        ),
        ("nested", Output::Literal(json!([[[[1]]], {"a": null}]))),
        (
            "files",
            Output::Array(vec![
                href("files/%FF%FE.bin", "application/octet-stream"),
                href("files/%C3%28.bin", "application/octet-stream"),
                href("files/a%2Fb.txt", "text/plain"),
                href("files/a_b.txt", "text/plain"),
                href("files/%00.txt", "text/plain"),
                href("files/ctl%0A.txt", "text/plain"),
                href(
                    concat!(
                        "files/",
                        six!("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"),
                        ".txt"
                    ),
                    "text/plain",
                ),
            ]),
        ),
        ("dir", href("dir/", "application/directory")),
    ];
    let mut job = successful(
        HOSTILE.into(),
        "hostile",
        utc(2026, 10, 15, 8, 0, 0, 0),
        utc(2026, 10, 15, 8, 0, 3, 0),
        outputs,
    );
    job.listed = false;
    job.files = files();
    job.listable_dirs = vec!["dir/"];
    job
}

/// The files behind the hostile job's hrefs, each with its own text. Paths are URL paths as
/// sent (percent-encoded).
fn files() -> Vec<FileDef> {
    vec![
        file("long/data.txt", "long name\n"),
        file("files/%FF%FE.bin", "ff fe\n"),
        file("files/%C3%28.bin", "c3 28\n"),
        file("files/a%2Fb.txt", "encoded slash\n"),
        file("files/a_b.txt", "plain a_b\n"),
        file("files/%00.txt", "nul\n"),
        file("files/ctl%0A.txt", "newline\n"),
        FileDef {
            path: concat!(
                "files/",
                six!("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"),
                ".txt"
            ),
            source: Source::Text("long file\n"),
        },
        file("dir/%FF.bin", "dir ff\n"),
        file("dir/ok.txt", "dir ok\n"),
        file("dir/a%2Fb.txt", "dir encoded slash\n"),
        file("dir/a_b.txt", "dir plain a_b\n"),
        file("dir/%0D.txt", "dir carriage return\n"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_over_the_limit() {
        assert_eq!(LONG_ID.len(), 300);
        assert_eq!(LONG_UTF8_ID.len(), 300);
        assert_eq!(LONG_JOB_ID.len(), 300);
        assert_eq!(LONG_FILE.len(), 304);
        let job = job();
        assert!(job.file(&format!("files/{LONG_FILE}")).is_some());
    }

    #[test]
    fn every_href_is_published() {
        let job = job();
        let mut stack: Vec<&Output> = job.outputs.iter().map(|(_, o)| o).collect();
        while let Some(out) = stack.pop() {
            match out {
                Output::Href { path, .. } if path.ends_with('/') => {
                    assert!(job.listable_dirs.contains(path))
                }
                Output::Href { path, .. } => assert!(job.file(path).is_some(), "{path}"),
                Output::Array(items) => stack.extend(items),
                _ => {}
            }
        }
    }

    #[test]
    fn lying_pages() {
        let ids: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let page = |mode, p| listing_page(mode, &ids, p, 2, "http://h/jobs");
        assert_eq!(page(ListingMode::Honest, 0), None);
        assert_eq!(
            page(ListingMode::TotalTooHigh, 2).unwrap()["jobs"],
            json!(["4"])
        );
        assert_eq!(page(ListingMode::TotalTooHigh, 3), None);
        assert_eq!(
            page(ListingMode::TotalTooLow, 1).unwrap()["total"],
            json!(1)
        );
        assert_eq!(
            page(ListingMode::Repeating, 7).unwrap()["jobs"],
            json!(["0", "1"])
        );
        assert_eq!(page(ListingMode::Endless, 9).unwrap()["jobs"], json!(["4"]));
        let hostile = page(ListingMode::Hostile, 0).unwrap();
        assert!(hostile["jobs"]
            .as_array()
            .unwrap()
            .contains(&json!(HOSTILE)));
        assert_eq!(page(ListingMode::Hostile, 1), None);
    }
}
