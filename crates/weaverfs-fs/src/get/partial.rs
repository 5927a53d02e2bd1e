//! An unfinished download: `NAME.part` holds the bytes, `NAME.part.json` says which version of
//! the remote file they belong to and how many leading bytes are complete.
//!
//! A rerun keeps those bytes only when the remote file still has the same size and validator
//! (ETag / Last-Modified), so a finished file never mixes two versions.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::read::RemoteMeta;

/// The sidecar of a `.part` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    pub url: String,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Bytes `[0, done)` of the `.part` file are written and synced.
    pub done: u64,
}

impl PartState {
    pub fn new(url: &str, meta: &RemoteMeta) -> Self {
        PartState {
            url: url.to_string(),
            size: meta.size,
            etag: meta.etag.clone(),
            last_modified: meta.last_modified.clone(),
            done: 0,
        }
    }

    /// Whether the bytes recorded here are of the version `meta` describes. A file without a
    /// validator cannot be told from a new version of the same size, so it never resumes.
    pub fn is_version(&self, url: &str, meta: &RemoteMeta) -> bool {
        meta.validator().is_some()
            && self.url == url
            && self.size == meta.size
            && self.etag == meta.etag
            && self.last_modified == meta.last_modified
            && self.done <= self.size
    }
}

/// `NAME.part` for `NAME`.
pub fn part_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part")
}

/// `NAME.part.json` for `NAME`.
pub fn state_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part.json")
}

fn with_suffix(dest: &Path, suffix: &str) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dest.with_file_name(name)
}

/// The sidecar of `dest`'s `.part`, if there is a readable one.
pub fn load(dest: &Path) -> Option<PartState> {
    let text = std::fs::read(state_path(dest)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes the sidecar atomically (a temporary file renamed over it), so a crash leaves the old
/// or the new state, never half of one.
pub fn save(dest: &Path, state: &PartState) -> std::io::Result<()> {
    let path = state_path(dest);
    let tmp = with_suffix(&path, ".tmp");
    std::fs::write(&tmp, serde_json::to_vec(state)?)?;
    std::fs::rename(&tmp, &path)
}

/// Removes the sidecar (the download finished or is restarted).
pub fn remove(dest: &Path) {
    let _ = std::fs::remove_file(state_path(dest));
}

/// Tracks which chunks finished, out of order, and how far the complete prefix reaches.
#[derive(Debug)]
pub struct Prefix {
    done: u64,
    /// Finished chunks beyond `done`: start → end.
    ahead: std::collections::BTreeMap<u64, u64>,
}

impl Prefix {
    pub fn new(done: u64) -> Self {
        Prefix {
            done,
            ahead: Default::default(),
        }
    }

    pub fn done(&self) -> u64 {
        self.done
    }

    /// Records `[start, end)` as written; returns whether the complete prefix grew.
    pub fn finish(&mut self, start: u64, end: u64) -> bool {
        self.ahead.insert(start, end);
        let before = self.done;
        while let Some(end) = self.ahead.remove(&self.done) {
            self.done = end;
        }
        self.done > before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64, etag: Option<&str>) -> RemoteMeta {
        RemoteMeta {
            size,
            etag: etag.map(str::to_string),
            last_modified: Some("Sun, 01 Nov 2026 10:00:00 GMT".into()),
            accepts_ranges: true,
        }
    }

    #[test]
    fn only_the_same_version_resumes() {
        let m = meta(10, Some("\"a\""));
        let mut s = PartState::new("http://h/f", &m);
        s.done = 4;
        assert!(s.is_version("http://h/f", &m));
        assert!(!s.is_version("http://h/g", &m));
        assert!(!s.is_version("http://h/f", &meta(11, Some("\"a\""))));
        assert!(!s.is_version("http://h/f", &meta(10, Some("\"b\""))));
        s.done = 11;
        assert!(!s.is_version("http://h/f", &m));
    }

    #[test]
    fn no_validator_no_resume() {
        let m = RemoteMeta {
            size: 10,
            etag: None,
            last_modified: None,
            accepts_ranges: true,
        };
        assert!(!PartState::new("http://h/f", &m).is_version("http://h/f", &m));
    }

    #[test]
    fn prefix_grows_only_when_contiguous() {
        let mut p = Prefix::new(0);
        assert!(!p.finish(10, 20));
        assert_eq!(p.done(), 0);
        assert!(p.finish(0, 10));
        assert_eq!(p.done(), 20);
        assert!(!p.finish(30, 35));
        assert!(p.finish(20, 30));
        assert_eq!(p.done(), 35);
    }

    #[test]
    fn sidecar_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("big.dat");
        assert_eq!(part_path(&dest), dir.path().join("big.dat.part"));
        assert_eq!(load(&dest), None);
        let mut s = PartState::new("http://h/big.dat", &meta(10, Some("\"a\"")));
        s.done = 7;
        save(&dest, &s).unwrap();
        assert_eq!(load(&dest), Some(s));
        remove(&dest);
        assert_eq!(load(&dest), None);
    }
}
