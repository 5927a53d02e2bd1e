//! Lists a job's directory through the same filesystem operations the mount serves, so the
//! names, sizes and times are the ones a mount shows.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, WeaverFs};
use crate::tree::ROOT_INO;

/// A file or directory under the job's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the job's directory.
    pub rel: PathBuf,
    pub ino: u64,
    pub is_dir: bool,
    pub size: u64,
    pub mtime: SystemTime,
}

/// What the walk found: entries in walk order (a directory before its contents), and the
/// entries it could not look at, with why.
#[derive(Debug, Default)]
pub struct Walked {
    pub job_mtime: Option<SystemTime>,
    pub entries: Vec<Entry>,
    pub failed: Vec<(PathBuf, FsError)>,
}

/// Walks job `job`; fails only when the job itself cannot be found or listed.
pub async fn walk_job(fs: &WeaverFs, job: &str) -> Result<Walked> {
    let attr = fs.lookup(ROOT_INO, job).await.map_err(|e| match e {
        FsError::NotFound(_) => FsError::NotFound(format!("no job {job} on the server")),
        e => e,
    })?;
    if !attr.is_dir {
        return Err(FsError::NotDir);
    }
    // Listing the job's own directory must work; deeper failures are per entry.
    let top = list(fs, attr.ino).await?;
    // Now that the job's status is known, its directory shows the job's time.
    let mut walked = Walked {
        job_mtime: fs.getattr(attr.ino).await.ok().map(|a| a.mtime),
        ..Default::default()
    };
    let mut pending: Vec<(PathBuf, Vec<DirEntry>)> = vec![(PathBuf::new(), top)];
    while let Some((dir, children)) = pending.pop() {
        for DirEntry {
            name,
            ino,
            is_dir,
            is_link,
        } in children
        {
            let rel = dir.join(&*name);
            if is_link {
                // A workflow step's link leads out of the job: the step is a job of its own.
                tracing::debug!("{}: a link to another job, not copied", rel.display());
                continue;
            }
            if !is_plain_name(&name) {
                let why = FsError::Io(format!("unsafe entry name {name:?}"));
                walked.failed.push((rel, why));
                continue;
            }
            let attr = match fs.getattr(ino).await {
                Ok(a) => a,
                Err(e) => {
                    walked.failed.push((rel, e));
                    continue;
                }
            };
            walked.entries.push(Entry {
                rel: rel.clone(),
                ino,
                is_dir,
                size: attr.size,
                mtime: attr.mtime,
            });
            if is_dir {
                match list(fs, ino).await {
                    Ok(children) => pending.push((rel, children)),
                    Err(e) => walked.failed.push((rel, e)),
                }
            }
        }
    }
    Ok(walked)
}

/// The entries of a directory, without `.` and `..`.
async fn list(fs: &WeaverFs, ino: u64) -> Result<Vec<DirEntry>> {
    let fh = fs.opendir(ino).await?;
    let entries = fs.readdir(fh);
    fs.release(fh);
    Ok(entries?
        .iter()
        .filter(|e| &*e.name != "." && &*e.name != "..")
        .cloned()
        .collect())
}

/// A name that stays inside its directory when joined to it. The tree already makes names
/// safe; this guards the local disk against any that are not.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        assert!(is_plain_name("a.json"));
        assert!(is_plain_name(".job"));
        assert!(!is_plain_name(".."));
        assert!(!is_plain_name("a/b"));
        assert!(!is_plain_name(""));
    }
}
