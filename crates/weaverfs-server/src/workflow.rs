//! Sample jobs for the views and workflow steps: the process `subset` with an older and a
//! newer successful job and one still running, and workflows (`chain`) whose steps are jobs of
//! this server and of a second one (a remote ADES, `TestServer::set_remote_ades`).
//!
//! Weaver logs each step it dispatches as
//! `[provider: HOST, step: NAME] - Monitoring job on remote ADES: [URL]` and writes those lines
//! to `/logs` only when the workflow ends; step names may carry a counter suffix (`subset_2`).

use serde_json::json;

use super::clock::{utc, Micros};
use super::content::Source;
use super::jobs::{file, href, log_line, successful, FileDef, JobDef, Status};

/// `subset`, successful, the older one.
pub const SUBSET_OLD: &str = "f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b16";
/// A workflow (`chain`), successful; its steps are `stage_in`, `subset_2` and `remote_step`.
pub const WORKFLOW: &str = "9eafb0c1-d2e3-4f4a-9b5c-6d7e8f9a0b10";
/// The `stage_in` step of WORKFLOW (process `stage-in`).
pub const STEP_STAGE: &str = "a0b1c2d3-e4f5-4a6b-8c7d-8e9f0a1b2c11";
/// The `subset_2` step of WORKFLOW (process `subset`), the newest successful `subset` job.
pub const STEP_SUBSET: &str = "b1c2d3e4-f5a6-4b7c-9d8e-9f0a1b2c3d12";
/// `subset`, newer than all others, still running: `set_job_status` can make it the latest.
pub const SUBSET_NEW: &str = "c2d3e4f5-a6b7-4c8d-ae9f-0a1b2c3d4e13";
/// A workflow still running: its step lines reach the log when it ends.
pub const WORKFLOW_RUNNING: &str = "d3e4f5a6-b7c8-4d9e-bf0a-1b2c3d4e5f14";
/// The remote step of WORKFLOW: a job of the remote ADES (unlisted here, served by any
/// instance of this server).
pub const REMOTE_STEP: &str = "e4f5a6b7-c8d9-4eaf-8a1b-2c3d4e5f6a15";

/// Where a step's job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepRef {
    /// A job of this server.
    Here(&'static str),
    /// A job of the remote ADES.
    Remote(&'static str),
}

/// The remote ADES's API URL when no test set one (never contacted by weaverfs).
pub(crate) const DEFAULT_REMOTE_ADES: &str = "https://ades.example.org/weaver";

fn data_job(
    id: &str,
    process: &'static str,
    created: Micros,
    finished: Micros,
    seed: u64,
) -> JobDef {
    let mut job = successful(
        id.into(),
        process,
        created,
        finished,
        vec![("data", href("data/data.bin", "application/octet-stream"))],
    );
    job.inputs = json!({"bbox": [-74, 45, -70, 47]});
    job.files = vec![FileDef {
        path: "data/data.bin",
        source: Source::Seeded {
            seed,
            len: 64 * 1024 + 3,
        },
    }];
    job
}

/// A workflow's log before its step lines (Weaver adds them, and the final line, at the end).
fn workflow_logs(started: Micros) -> Vec<String> {
    vec![
        log_line(started, started, 1, "running", "Job task setup initiated."),
        log_line(
            started,
            started,
            2,
            "running",
            "Starting workflow execution.",
        ),
    ]
}

pub(crate) fn jobs() -> Vec<JobDef> {
    let day = |h, m, s| utc(2026, 11, 1, h, m, s, 0);
    let subset_old = data_job(
        SUBSET_OLD,
        "subset",
        day(14, 0, 0),
        day(14, 0, 20),
        0x5B_0001,
    );
    let stage = {
        let mut job = successful(
            STEP_STAGE.into(),
            "stage-in",
            day(15, 0, 5),
            day(15, 1, 0),
            vec![("data", href("data/data.bin", "application/octet-stream"))],
        );
        job.files = vec![file("data/data.bin", "staged input data\n")];
        job
    };
    let step_subset = data_job(
        STEP_SUBSET,
        "subset",
        day(15, 1, 5),
        day(15, 4, 50),
        0x5B_0002,
    );
    let mut remote = data_job(
        REMOTE_STEP,
        "subset",
        day(15, 2, 0),
        day(15, 3, 0),
        0x5B_0003,
    );
    remote.listed = false;

    let mut workflow = successful(
        WORKFLOW.into(),
        "chain",
        day(15, 0, 0),
        day(15, 5, 0),
        vec![("result", href("result/result.txt", "text/plain"))],
    );
    workflow.files = vec![file("result/result.txt", "chain: 3 steps\n")];
    workflow.logs = workflow_logs(day(15, 0, 1));
    workflow.steps = vec![
        ("stage_in", StepRef::Here(STEP_STAGE)),
        ("subset_2", StepRef::Here(STEP_SUBSET)),
        ("remote_step", StepRef::Remote(REMOTE_STEP)),
    ];

    let mut subset_new = data_job(
        SUBSET_NEW,
        "subset",
        day(16, 0, 0),
        day(16, 0, 30),
        0x5B_0004,
    );
    (subset_new.status, subset_new.finished) = (Status::Running, None);
    subset_new.updated = day(16, 0, 5);

    let mut running = successful(
        WORKFLOW_RUNNING.into(),
        "chain",
        day(17, 0, 0),
        day(17, 9, 0),
        vec![("result", href("result/result.txt", "text/plain"))],
    );
    running.files = vec![file("result/result.txt", "chain: 1 step\n")];
    (running.status, running.finished) = (Status::Running, None);
    running.updated = day(17, 0, 30);
    running.logs = workflow_logs(day(17, 0, 1));
    running.steps = vec![("stage_in", StepRef::Here(STEP_STAGE))];
    vec![
        subset_old,
        workflow,
        stage,
        step_subset,
        subset_new,
        running,
        remote,
    ]
}
