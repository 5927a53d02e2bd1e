//! `weaverfs get`: a job's results written to a local directory, without FUSE.
//!
//! The job is walked through the same [`WeaverFs`] core as a mount, so the tree on disk has the
//! mount's names, bytes and mtimes (outputs and `.job/`). Files are fetched a few at a time,
//! each by several range reads in flight, into `NAME.part` files that a rerun resumes.

pub mod download;
pub mod partial;
pub mod progress;
pub mod walk;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::HumanBytes;

use crate::api::JobState;
use crate::error::FsError;
use crate::fs::WeaverFs;
use crate::mount::{build_fs, MountConfig};
use download::{Downloader, Outcome};
use progress::Progress;
pub use progress::ProgressMode;

/// What to get, where, and how many requests at once.
#[derive(Debug, Clone)]
pub struct GetOptions {
    pub job: String,
    /// The directory that receives the job's tree (created if missing).
    pub out_dir: PathBuf,
    /// Files fetched at once.
    pub files: usize,
    /// Range reads in flight per file.
    pub ranges: usize,
    pub progress: ProgressMode,
    /// Wait for a job that has not finished, checking its status this often.
    pub wait: Option<Duration>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub written: usize,
    pub skipped: usize,
    pub fetched_bytes: u64,
    pub kept_bytes: u64,
    /// Paths (relative to the output directory) that failed, and why.
    pub failed: Vec<(PathBuf, FsError)>,
}

/// Runs `weaverfs get` on a new core built from `cfg`; an error names what failed. A job that
/// has not succeeded is an error naming its state, after its `.job/` documents are written.
pub fn run(
    cfg: &MountConfig,
    opts: &GetOptions,
    rt: &tokio::runtime::Runtime,
) -> Result<(), String> {
    let fs = build_fs(cfg)?.with_head_probes();
    let started = Instant::now();
    let work = async {
        let state = job_state(&fs, opts).await?;
        Ok::<_, String>((state, get_job(&fs, opts).await?))
    };
    let (state, report) = rt.block_on(async {
        tokio::select! {
            done = work => done,
            _ = tokio::signal::ctrl_c() => Err(format!(
                "interrupted: the complete files, and the bytes fetched of the others (as \
                 NAME.part), are kept in {}; run the same command again to resume",
                opts.out_dir.display()
            )),
        }
    })?;
    for (path, why) in &report.failed {
        eprintln!("weaverfs: failed: {}: {why}", path.display());
    }
    if !report.failed.is_empty() {
        let names: Vec<String> = report
            .failed
            .iter()
            .map(|(p, why)| format!("{} ({why})", p.display()))
            .collect();
        return Err(format!(
            "get of job {} is incomplete: {} failed: {}",
            opts.job,
            report.failed.len(),
            names.join("; ")
        ));
    }
    if state.state != JobState::Successful {
        let hint = match state.state.is_terminal() {
            true => "it has no results",
            false => "it has not finished; --wait waits for it",
        };
        return Err(format!(
            "job {} is {}: {hint} (its .job/ documents are in {})",
            opts.job,
            state.word,
            opts.out_dir.display()
        ));
    }
    if opts.progress.enabled() {
        eprintln!(
            "weaverfs: job {} in {}: {} files written ({} fetched, {} resumed), {} already there, in {:.1}s",
            opts.job,
            opts.out_dir.display(),
            report.written,
            HumanBytes(report.fetched_bytes),
            HumanBytes(report.kept_bytes),
            report.skipped,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A job's state, and the word the server used for it.
struct State {
    state: JobState,
    word: String,
}

/// The job's state now; with `--wait`, once it has finished.
async fn job_state(fs: &WeaverFs, opts: &GetOptions) -> Result<State, String> {
    let mut said = None;
    loop {
        let status = fs
            .tree()
            .api()
            .status(&opts.job)
            .await
            .map_err(|e| match e {
                FsError::NotFound(_) => format!("no job {} on the server", opts.job),
                e => format!("job {}: {e}", opts.job),
            })?;
        let word = serde_json::from_slice::<serde_json::Value>(&status.raw)
            .ok()
            .and_then(|d| d.get("status")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{:?}", status.state).to_lowercase());
        let state = State {
            state: status.state,
            word,
        };
        let Some(every) = opts.wait.filter(|_| !state.state.is_terminal()) else {
            return Ok(state);
        };
        if said.as_ref() != Some(&state.word) {
            eprintln!(
                "weaverfs: job {} is {}; waiting for it to finish",
                opts.job, state.word
            );
            said = Some(state.word);
        }
        tokio::time::sleep(every).await;
    }
}

/// Writes the job's tree under `opts.out_dir`. Fails as a whole only when the job cannot be
/// listed or the directory not made; each file's failure is in the report.
pub async fn get_job(fs: &WeaverFs, opts: &GetOptions) -> Result<Report, String> {
    let walked = walk::walk_job(fs, &opts.job)
        .await
        .map_err(|e| format!("job {}: {e}", opts.job))?;
    let out = &opts.out_dir;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut report = Report {
        failed: walked.failed,
        ..Default::default()
    };
    let (dirs, files): (Vec<_>, Vec<_>) = walked.entries.into_iter().partition(|e| e.is_dir);
    let mut made = Vec::new();
    for dir in dirs {
        match std::fs::create_dir_all(out.join(&dir.rel)) {
            Ok(()) => made.push(dir),
            Err(e) => report
                .failed
                .push((dir.rel.clone(), FsError::Io(e.to_string()))),
        }
    }
    let progress = Progress::new(opts.progress);
    progress.expect(files.iter().map(|f| f.size).sum());
    let downloader = Downloader {
        fs,
        chunk: fs.reader().block_size(),
        ranges: opts.ranges,
    };
    let results: Vec<_> = futures::stream::iter(files)
        .map(|file| {
            let progress = &progress;
            let downloader = &downloader;
            async move {
                let dest = out.join(&file.rel);
                let bar = progress.file(&file.rel.to_string_lossy(), file.size);
                let outcome = downloader.fetch(file.ino, file.mtime, &dest, &bar).await;
                (file.rel, outcome)
            }
        })
        .buffer_unordered(opts.files.max(1))
        .collect()
        .await;
    progress.finish();
    for (rel, outcome) in results {
        match outcome {
            Ok(Outcome::Skipped) => report.skipped += 1,
            Ok(Outcome::Written { kept, fetched }) => {
                report.written += 1;
                report.kept_bytes += kept;
                report.fetched_bytes += fetched;
            }
            Err(e) => report.failed.push((rel, e)),
        }
    }
    // Directory times last, deepest first, since writing into a directory changes its mtime.
    made.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
    for dir in &made {
        set_dir_mtime(&out.join(&dir.rel), dir.mtime);
    }
    if let Some(mtime) = walked.job_mtime {
        set_dir_mtime(out, mtime);
    }
    report.failed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(report)
}

fn set_dir_mtime(dir: &Path, mtime: std::time::SystemTime) {
    let set = std::fs::File::open(dir).and_then(|d| d.set_modified(mtime));
    if let Err(e) = set {
        tracing::debug!("mtime of {}: {e}", dir.display());
    }
}
