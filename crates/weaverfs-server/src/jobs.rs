//! The sample jobs: their ids, statuses, outputs and the files behind them.
//!
//! This module is data and plain types only; `render` turns a job into the
//! JSON Weaver would send and `files` serves the files.

use std::sync::Arc;

use serde_json::{json, Value};

use super::clock::{self, utc, Micros};
use super::content::Source;

/// Successful job whose outputs are all literals (strings, numbers, JSON, bbox, arrays).
pub const LITERALS: &str = "0d6c1a2e-3b4f-4c5d-8e6f-7a8b9c0d1e01";
/// Successful job with file outputs: text, binary, big, NetCDF, an array, a directory.
pub const FILES: &str = "1f2e3d4c-5b6a-4978-8a69-5b4c3d2e1f02";
/// Failed job: results give 400, exceptions are non-empty.
pub const FAILED: &str = "2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7a03";
/// Running job whose logs grow; `TestServer::set_job_status` can finish it.
pub const RUNNING: &str = "3c4d5e6f-7a8b-4c9d-a0e1-f2a3b4c5d604";
/// Dismissed job: artefacts give 410, inputs still work.
pub const DISMISSED: &str = "4e5f6a7b-8c9d-4eaf-b0c1-d2e3f4a5b605";
/// Successful job submitted with `response: raw`: `/results` is 204 + `Link`.
pub const RAW: &str = "5a6b7c8d-9eaf-4b0c-8d1e-2f3a4b5c6d06";
/// Job as an old Weaver (≤ 6.1) reports it: `succeeded`, multipart results, list outputs.
pub const OLD: &str = "6b7c8d9e-afb0-4c1d-9e2f-3a4b5c6d7e07";
/// Successful job that the listing does not show (another user's, say).
pub const UNLISTED: &str = "7c8d9eaf-b0c1-4d2e-af3a-4b5c6d7e8f08";

pub use super::workflow::{
    REMOTE_STEP, STEP_STAGE, STEP_SUBSET, SUBSET_NEW, SUBSET_OLD, WORKFLOW, WORKFLOW_RUNNING,
};

/// Every sample job id, in no particular order.
pub const ALL: [&str; 15] = [
    LITERALS,
    FILES,
    FAILED,
    RUNNING,
    DISMISSED,
    RAW,
    OLD,
    UNLISTED,
    SUBSET_OLD,
    WORKFLOW,
    STEP_STAGE,
    STEP_SUBSET,
    SUBSET_NEW,
    WORKFLOW_RUNNING,
    REMOTE_STEP,
];

/// The sample jobs the listing does not show.
pub const UNLISTED_IDS: [&str; 2] = [UNLISTED, REMOTE_STEP];

/// How many sample jobs the listing shows.
pub const LISTED_SAMPLES: usize = ALL.len() - UNLISTED_IDS.len();

/// Id of the `index`-th synthetic job added by `ServerConfig::extra_jobs`.
pub fn extra_job_id(index: usize) -> String {
    format!("e7a1c0de-0000-4000-8000-{index:012x}")
}

/// Job status as stored; `as_str` is what the API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Created,
    Accepted,
    Running,
    Successful,
    /// Pre-6.2 spelling of `Successful`.
    Succeeded,
    Failed,
    Dismissed,
}

impl Status {
    pub(crate) fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "created" => Status::Created,
            "accepted" => Status::Accepted,
            "running" => Status::Running,
            "successful" => Status::Successful,
            "succeeded" => Status::Succeeded,
            "failed" => Status::Failed,
            "dismissed" => Status::Dismissed,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Accepted => "accepted",
            Status::Running => "running",
            Status::Successful => "successful",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Dismissed => "dismissed",
        }
    }

    pub(crate) fn is_success(self) -> bool {
        matches!(self, Status::Successful | Status::Succeeded)
    }

    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Successful | Status::Succeeded | Status::Failed | Status::Dismissed
        )
    }

    pub(crate) fn default_message(self) -> &'static str {
        match self {
            Status::Created => "Job created.",
            Status::Accepted => "Job task submitted for execution.",
            Status::Running => "Job is running.",
            Status::Successful => "Job successful.",
            Status::Succeeded => "Job succeeded.",
            Status::Failed => "Job failed.",
            Status::Dismissed => "Job dismissed.",
        }
    }
}

/// `response` of the execute request, which decides the `/results` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    Document,
    Raw,
}

/// One job output, independent of how a given endpoint renders it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// A plain-text literal (string, number, bool): unwrapped in `/results`.
    Literal(Value),
    /// A literal with a media type and maybe an encoding: `{value, mediaType[, encoding]}`.
    Qualified {
        value: Value,
        media_type: &'static str,
        encoding: Option<&'static str>,
    },
    BBox {
        bbox: [f64; 4],
        crs: &'static str,
    },
    /// A file (or directory, when `path` ends in `/`) under `{files}/{job}/`.
    Href {
        path: &'static str,
        media_type: &'static str,
    },
    Array(Vec<Output>),
}

/// A file published under `/wpsoutputs/{job}/`.
#[derive(Debug, Clone)]
pub(crate) struct FileDef {
    /// Path relative to the job directory, e.g. `output_text/result.txt`.
    pub path: &'static str,
    pub source: Source,
}

/// A job as initially stored. Runtime changes (status, file versions) live in
/// `state::Shared`.
#[derive(Debug, Clone)]
pub(crate) struct JobDef {
    pub id: String,
    pub process: &'static str,
    pub status: Status,
    /// Message for the initial status; later statuses use the default.
    pub message: Option<&'static str>,
    pub created: Micros,
    pub started: Option<Micros>,
    pub finished: Option<Micros>,
    pub updated: Micros,
    /// Imitates Weaver ≤ 6.1 (no `id` field, multipart `/results`, list `/outputs`).
    pub legacy: bool,
    pub listed: bool,
    pub response: ResponseMode,
    /// Submitted inputs (the `/inputs` document).
    pub inputs: Value,
    /// Submitted `outputs`; `null` means all outputs were requested.
    pub requested: Value,
    /// Outputs, visible once the job is successful.
    pub outputs: Vec<(&'static str, Output)>,
    pub files: Vec<FileDef>,
    /// Directories (ending in `/`) for which the host has an autoindex page.
    pub listable_dirs: Vec<&'static str>,
    pub logs: Vec<String>,
    /// The running job gains one log line per `/logs` request.
    pub growing_logs: bool,
    /// A workflow's steps: their lines reach the log when the workflow ends, as Weaver writes
    /// them (see `state::Shared::read_logs`).
    pub steps: Vec<(&'static str, super::workflow::StepRef)>,
    pub exceptions: Value,
}

impl JobDef {
    pub(crate) fn file(&self, path: &str) -> Option<&FileDef> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// All jobs the server knows: the fixed samples plus `extra` synthetic ones
/// built on demand (so thousands of them cost nothing until asked for).
#[derive(Debug)]
pub(crate) struct Catalog {
    samples: Vec<Arc<JobDef>>,
    extra: usize,
    /// Size of the `data` file output of each extra job (none when 0).
    extra_file_size: u64,
    /// Listing order never changes (statuses do not affect it), so sort once.
    listed: Vec<String>,
}

impl Catalog {
    pub(crate) fn new(big_file_size: u64, extra: usize) -> Self {
        let samples = vec![
            literals(),
            files(big_file_size),
            failed(),
            running(),
            dismissed(),
            raw(),
            old(),
            unlisted(),
            super::hostile::job(),
        ];
        let samples: Vec<JobDef> = samples.into_iter().chain(super::workflow::jobs()).collect();
        let samples: Vec<Arc<JobDef>> = samples.into_iter().map(Arc::new).collect();
        let listed = listing_order(&samples, extra);
        Catalog {
            samples,
            extra,
            extra_file_size: 0,
            listed,
        }
    }

    /// Adds jobs (from `serve --jobs-dir`) to the samples and the listing.
    pub(crate) fn add_jobs(&mut self, jobs: Vec<JobDef>) {
        self.samples.extend(jobs.into_iter().map(Arc::new));
        self.listed = listing_order(&self.samples, self.extra);
    }

    /// Gives each extra job a `data` output: a seeded file of `size` bytes of its own.
    pub(crate) fn with_extra_file_size(mut self, size: u64) -> Self {
        self.extra_file_size = size;
        self
    }

    /// Looks a job up by canonical (lowercase, hyphenated) id.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<JobDef>> {
        if let Some(job) = self.samples.iter().find(|j| j.id == id) {
            return Some(job.clone());
        }
        let index = extra_index(id)?;
        (index < self.extra).then(|| Arc::new(extra_job(index, self.extra_file_size)))
    }

    /// Ids of the listed jobs, newest `created` first (Weaver's default sort).
    pub(crate) fn listed_ids(&self) -> &[String] {
        &self.listed
    }
}

fn listing_order(samples: &[Arc<JobDef>], extra: usize) -> Vec<String> {
    let mut all: Vec<(Micros, String)> = samples
        .iter()
        .filter(|j| j.listed)
        .map(|j| (j.created, j.id.clone()))
        .chain((0..extra).map(|i| (extra_created(i), extra_job_id(i))))
        .collect();
    all.sort_by(|a, b| b.cmp(a));
    all.into_iter().map(|(_, id)| id).collect()
}

/// Normalises a job reference the way Weaver validates it: 32 hex digits,
/// hyphens optional but only at the UUID positions, any case.
pub(crate) fn canonical_uuid(s: &str) -> Option<String> {
    let groups = [8, 4, 4, 4, 12];
    let mut rest = s;
    let mut parts = Vec::with_capacity(5);
    for (i, len) in groups.into_iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('-').unwrap_or(rest);
        }
        let part = rest.get(..len)?;
        if !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        parts.push(part.to_ascii_lowercase());
        rest = &rest[len..];
    }
    rest.is_empty().then(|| parts.join("-"))
}

fn extra_index(id: &str) -> Option<usize> {
    let hex = id.strip_prefix("e7a1c0de-0000-4000-8000-")?;
    let index = usize::from_str_radix(hex, 16).ok()?;
    (extra_job_id(index) == id).then_some(index)
}

/// Synthetic jobs are older than the samples (except OLD); higher index = newer.
fn extra_created(index: usize) -> Micros {
    utc(2026, 9, 1, 0, 0, 0, 0) + index as Micros * 60_000_000
}

fn extra_job(index: usize, file_size: u64) -> JobDef {
    let created = extra_created(index);
    let mut outputs = vec![("value", Output::Literal(json!(index)))];
    if file_size > 0 {
        outputs.push(("data", href("data/data.bin", "application/octet-stream")));
    }
    let mut job = successful(
        extra_job_id(index),
        "echo",
        created,
        created + 2_000_000,
        outputs,
    );
    job.inputs = json!({ "value": index });
    if file_size > 0 {
        job.files = vec![FileDef {
            path: "data/data.bin",
            source: Source::Seeded {
                seed: 0xE0_0000_0000 + index as u64,
                len: file_size,
            },
        }];
    }
    job
}

/// Weaver log line, e.g.
/// `[2026-11-01 10:00:00] INFO     [weaver.datatype.Job] 0:00:05  42% running    Step 3`.
pub(crate) fn log_line(
    at: Micros,
    started: Micros,
    progress: u8,
    status: &str,
    msg: &str,
) -> String {
    let elapsed = clock::secs(at - started).max(0);
    let (h, m, s) = (elapsed / 3600, elapsed % 3600 / 60, elapsed % 60);
    format!(
        "[{}] INFO     [weaver.datatype.Job] {h}:{m:02}:{s:02} {progress:>3}% {status:<10} {msg}",
        clock::log_stamp(at)
    )
}

/// Builds a successful job with default inputs, logs and no files.
pub(crate) fn successful(
    id: String,
    process: &'static str,
    created: Micros,
    finished: Micros,
    outputs: Vec<(&'static str, Output)>,
) -> JobDef {
    let started = created + 610_000;
    let logs = vec![
        log_line(started, started, 1, "running", "Job task setup initiated."),
        log_line(
            started,
            started,
            5,
            "running",
            "Starting job process execution.",
        ),
        log_line(
            finished,
            started,
            95,
            "running",
            "Job process execution completed.",
        ),
        log_line(finished, started, 100, "successful", "Job successful."),
    ];
    JobDef {
        id,
        process,
        status: Status::Successful,
        message: None,
        created,
        started: Some(started),
        finished: Some(finished),
        updated: finished + 1_000,
        legacy: false,
        listed: true,
        response: ResponseMode::Document,
        inputs: json!({}),
        requested: Value::Null,
        outputs,
        files: Vec::new(),
        listable_dirs: Vec::new(),
        logs,
        growing_logs: false,
        steps: Vec::new(),
        exceptions: json!([]),
    }
}

pub(crate) fn file(path: &'static str, text: &'static str) -> FileDef {
    FileDef {
        path,
        source: Source::Text(text),
    }
}

pub(crate) fn href(path: &'static str, media_type: &'static str) -> Output {
    Output::Href { path, media_type }
}

/// The number output of Weaver's own tests (`number_out`), not π.
#[allow(clippy::approx_constant)]
const RATIO: f64 = 3.1416;

fn literals() -> JobDef {
    let outputs = vec![
        ("message", Output::Literal(json!("hello world"))),
        ("count", Output::Literal(json!(42))),
        ("ratio", Output::Literal(json!(RATIO))),
        ("flag", Output::Literal(json!(true))),
        (
            "config",
            Output::Qualified {
                value: json!({"threshold": 0.5, "bands": [1, 2]}),
                media_type: "application/json",
                encoding: None,
            },
        ),
        (
            "region",
            Output::BBox {
                bbox: [-74.0, 45.0, -70.0, 47.0],
                crs: "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            },
        ),
        (
            "table",
            Output::Qualified {
                // base64 of "a,b\n1,2\n"
                value: json!("YSxiCjEsMgo="),
                media_type: "text/csv",
                encoding: Some("base64"),
            },
        ),
        (
            "ints",
            Output::Array(vec![
                Output::Literal(json!(1)),
                Output::Literal(json!(2)),
                Output::Literal(json!(3)),
            ]),
        ),
        (
            "labels",
            Output::Array(vec![
                Output::Qualified {
                    value: json!("1"),
                    media_type: "text/plain",
                    encoding: None,
                },
                Output::Qualified {
                    value: json!("2"),
                    media_type: "text/special",
                    encoding: None,
                },
            ]),
        ),
    ];
    let mut job = successful(
        LITERALS.into(),
        "literal-maker",
        utc(2026, 11, 1, 9, 59, 50, 120_000),
        utc(2026, 11, 1, 10, 0, 0, 0),
        outputs,
    );
    job.inputs = json!({"message": "hello world", "count": 42});
    job
}

pub(crate) const RESULT_TXT: &str = "Weaver demo output\n\
    line 2: the quick brown fox\n\
    line 3: jumps over the lazy dog\n";

fn files(big_file_size: u64) -> JobDef {
    let outputs = vec![
        ("output_text", href("output_text/result.txt", "text/plain")),
        (
            "output_bin",
            href("output_bin/data.bin", "application/octet-stream"),
        ),
        (
            "output_big",
            href("output_big/big.dat", "application/octet-stream"),
        ),
        (
            "output_netcdf",
            href("output_netcdf/sample.nc", "application/x-netcdf"),
        ),
        (
            "files",
            Output::Array(vec![
                href("files/a.json", "application/json"),
                href("files/b.json", "application/json"),
                href("files/sub/a.json", "application/json"),
            ]),
        ),
        ("output_dir", href("output_dir/", "application/directory")),
        ("summary", Output::Literal(json!("2 files"))),
    ];
    let mut job = successful(
        FILES.into(),
        "file-maker",
        utc(2026, 11, 1, 11, 0, 0, 250_000),
        utc(2026, 11, 1, 11, 2, 30, 750_000),
        outputs,
    );
    job.inputs = json!({
        "size": big_file_size,
        "dataset": {"href": "https://example.org/data/input.nc", "type": "application/x-netcdf"}
    });
    job.files = vec![
        file("output_text/result.txt", RESULT_TXT),
        FileDef {
            path: "output_bin/data.bin",
            source: Source::Seeded {
                seed: 0xB1_0000_0001,
                len: 100 * 1024,
            },
        },
        FileDef {
            path: "output_big/big.dat",
            source: Source::Seeded {
                seed: 0xB1_0000_0002,
                len: big_file_size,
            },
        },
        FileDef {
            path: "output_netcdf/sample.nc",
            source: Source::Binary(include_bytes!("data/sample.nc")),
        },
        file("files/a.json", "{\"name\": \"a\", \"dir\": \"files\"}\n"),
        file("files/b.json", "{\"name\": \"b\", \"dir\": \"files\"}\n"),
        file(
            "files/sub/a.json",
            "{\"name\": \"a\", \"dir\": \"files/sub\", \"nested\": true}\n",
        ),
        file("output_dir/x.txt", "x marks the spot\n"),
        file("output_dir/y.txt", "why not\n"),
    ];
    job.listable_dirs = vec!["output_dir/"];
    job
}

fn failed() -> JobDef {
    let created = utc(2026, 10, 31, 16, 20, 0, 5_000);
    let started = created + 800_000;
    let finished = started + 3_200_000;
    JobDef {
        id: FAILED.into(),
        process: "literal-maker",
        status: Status::Failed,
        message: Some("Failed package execution (MissingParameterValue): input."),
        created,
        started: Some(started),
        finished: Some(finished),
        updated: finished + 1_000,
        legacy: false,
        listed: true,
        response: ResponseMode::Document,
        inputs: json!({"count": 42}),
        requested: Value::Null,
        outputs: Vec::new(),
        files: Vec::new(),
        listable_dirs: Vec::new(),
        logs: vec![
            log_line(started, started, 1, "running", "Job task setup initiated."),
            log_line(
                started,
                started,
                5,
                "running",
                "Starting job process execution.",
            ),
            log_line(
                finished,
                started,
                100,
                "failed",
                "Failed package execution (MissingParameterValue): input.",
            ),
        ],
        growing_logs: false,
        steps: Vec::new(),
        exceptions: json!([{
            "Code": "MissingParameterValue",
            "Locator": "input",
            "Text": "Missing value for required input 'message'."
        }]),
    }
}

fn running() -> JobDef {
    let created = utc(2026, 11, 2, 8, 0, 0, 512_000);
    let started = created + 588_000;
    JobDef {
        id: RUNNING.into(),
        process: "long-runner",
        status: Status::Running,
        message: None,
        created,
        started: Some(started),
        finished: None,
        updated: started + 15_000_000,
        legacy: false,
        listed: true,
        response: ResponseMode::Document,
        inputs: json!({"steps": 100}),
        requested: Value::Null,
        outputs: vec![
            ("message", Output::Literal(json!("done"))),
            ("report", href("report/report.txt", "text/plain")),
        ],
        files: vec![file(
            "report/report.txt",
            "Report of the long running job.\nAll steps completed.\n",
        )],
        listable_dirs: Vec::new(),
        logs: (0..3).map(|k| running_log_line(started, k)).collect(),
        growing_logs: true,
        steps: Vec::new(),
        exceptions: json!([]),
    }
}

/// Line `k` of the running job's log: one step every 5 s.
pub(crate) fn running_log_line(started: Micros, k: usize) -> String {
    let at = started + k as Micros * 5_000_000;
    let progress = (5 + k).min(99) as u8;
    log_line(
        at,
        started,
        progress,
        "running",
        &format!("Processing step {k}."),
    )
}

fn dismissed() -> JobDef {
    let created = utc(2026, 10, 30, 7, 45, 10, 0);
    let started = created + 1_000_000;
    let finished = started + 30_000_000;
    JobDef {
        id: DISMISSED.into(),
        process: "file-maker",
        status: Status::Dismissed,
        message: Some("Job dismissed."),
        created,
        started: Some(started),
        finished: Some(finished),
        updated: finished,
        legacy: false,
        listed: true,
        response: ResponseMode::Document,
        inputs: json!({"size": 1024}),
        requested: json!({"output_text": {"transmissionMode": "reference"}}),
        outputs: vec![("output_text", href("output_text/result.txt", "text/plain"))],
        files: vec![file("output_text/result.txt", RESULT_TXT)],
        listable_dirs: Vec::new(),
        logs: Vec::new(),
        growing_logs: false,
        steps: Vec::new(),
        exceptions: json!([]),
    }
}

fn raw() -> JobDef {
    let mut job = successful(
        RAW.into(),
        "echo-raw",
        utc(2026, 11, 1, 12, 0, 0, 0),
        utc(2026, 11, 1, 12, 0, 4, 300_000),
        vec![("output_raw", href("output_raw/raw.txt", "text/plain"))],
    );
    job.response = ResponseMode::Raw;
    job.inputs = json!({"text": "raw output"});
    job.requested = json!({"output_raw": {"transmissionMode": "reference"}});
    job.files = vec![file("output_raw/raw.txt", "raw output\n")];
    job
}

fn old() -> JobDef {
    let mut job = successful(
        OLD.into(),
        "legacy-process",
        utc(2024, 6, 15, 14, 30, 0, 0),
        utc(2024, 6, 15, 14, 31, 12, 0),
        vec![
            ("text", Output::Literal(json!("old style"))),
            (
                "parts",
                Output::Array(vec![
                    href("parts/p1.txt", "text/plain"),
                    href("parts/p2.txt", "text/plain"),
                ]),
            ),
        ],
    );
    job.status = Status::Succeeded;
    job.legacy = true;
    job.files = vec![
        file("parts/p1.txt", "part one\n"),
        file("parts/p2.txt", "part two\n"),
    ];
    job
}

fn unlisted() -> JobDef {
    let mut job = successful(
        UNLISTED.into(),
        "echo",
        utc(2026, 11, 1, 13, 0, 0, 0),
        utc(2026, 11, 1, 13, 0, 1, 0),
        vec![("secret", Output::Literal(json!("found me")))],
    );
    job.listed = false;
    job
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn sample_ids_are_canonical_uuids() {
        for id in ALL {
            assert_eq!(canonical_uuid(id).as_deref(), Some(id));
        }
        assert_eq!(canonical_uuid(&extra_job_id(7)), Some(extra_job_id(7)));
    }

    #[test]
    fn uuid_validation() {
        let upper = LITERALS.to_ascii_uppercase();
        assert_eq!(canonical_uuid(&upper).as_deref(), Some(LITERALS));
        let compact = LITERALS.replace('-', "");
        assert_eq!(canonical_uuid(&compact).as_deref(), Some(LITERALS));
        for bad in [
            "",
            "nope",
            "0d6c1a2e",
            &format!("{LITERALS}0"),
            "0d6c1a2e-3b4f-4c5d-8e6f-7a8b9c0d1e0g",
        ] {
            assert_eq!(canonical_uuid(bad), None, "{bad}");
        }
    }

    #[test]
    fn listing_hides_unlisted_and_sorts_newest_first() {
        let cat = Catalog::new(1024, 3);
        let ids = cat.listed_ids();
        assert_eq!(
            ids.len(),
            ALL.len() - 2 + 3,
            "all but UNLISTED and REMOTE_STEP"
        );
        assert!(!ids.iter().any(|i| i == UNLISTED));
        assert_eq!(ids[0], RUNNING);
        assert_eq!(ids.last().unwrap(), OLD);
        let created: Vec<Micros> = ids.iter().map(|i| cat.get(i).unwrap().created).collect();
        assert!(created.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn extra_jobs_exist_only_up_to_the_configured_count() {
        let cat = Catalog::new(1024, 2);
        let job = cat.get(&extra_job_id(1)).unwrap();
        assert_eq!(job.outputs, vec![("value", Output::Literal(json!(1)))]);
        assert!(cat.get(&extra_job_id(2)).is_none());
        assert!(cat.get(UNLISTED).is_some());
    }

    #[test]
    fn table_literal_is_base64_csv() {
        let job = literals();
        let (_, table) = job.outputs.iter().find(|(n, _)| *n == "table").unwrap();
        let Output::Qualified { value, .. } = table else {
            panic!("table is qualified")
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, b"a,b\n1,2\n");
    }

    #[test]
    fn href_outputs_point_at_published_files() {
        let cat = Catalog::new(1024, 0);
        for id in ALL {
            let job = cat.get(id).unwrap();
            let mut stack: Vec<&Output> = job.outputs.iter().map(|(_, o)| o).collect();
            while let Some(out) = stack.pop() {
                match out {
                    Output::Href { path, .. } if path.ends_with('/') => {
                        assert!(job.listable_dirs.contains(path), "{id} {path}")
                    }
                    Output::Href { path, .. } => assert!(job.file(path).is_some(), "{id} {path}"),
                    Output::Array(items) => stack.extend(items),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn log_line_format() {
        let t = utc(2021, 3, 2, 3, 32, 43, 0);
        assert_eq!(
            log_line(t, t - 5_000_000, 7, "running", "Starting monitoring..."),
            "[2021-03-02 03:32:43] INFO     [weaver.datatype.Job] 0:00:05   7% running    Starting monitoring..."
        );
    }
}
