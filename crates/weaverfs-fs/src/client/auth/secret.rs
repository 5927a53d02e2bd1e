//! Secrets: a string that never prints, and files of secrets that must be private to their
//! owner (like ssh's keys) and are read again when they change (rotated tokens).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A secret value: `Debug` prints `<redacted>`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Refuses a file that group or others may read or write, as ssh refuses a private key.
pub fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} holds secrets but its permissions {mode:04o} let others read it; \
             run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

/// Reads a file of secrets after checking it is private. Errors name the file, never its
/// content.
pub fn read_private(path: &Path) -> Result<Secret, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    check_private(path, &meta)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Secret(text))
}

/// How often a watched file is checked for a change, at most.
const RECHECK: Duration = Duration::from_secs(1);

/// What identifies one version of a file: a rename over it changes the inode, an edit the
/// modification time or the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Stamp {
            ino: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

#[derive(Debug)]
struct Loaded {
    stamp: Stamp,
    checked: Instant,
    value: Secret,
}

/// A private file of secrets, read again when it changes (checked at most once a second, or at
/// once after the server refused the current value).
#[derive(Debug)]
pub struct WatchedFile {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

impl WatchedFile {
    /// Reads the file now: a missing or too open file is an error at start.
    pub fn open(path: &Path) -> Result<Self, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value = read_private(path)?;
        Ok(WatchedFile {
            path: path.to_path_buf(),
            loaded: Mutex::new(Loaded {
                stamp: Stamp::of(&meta),
                checked: Instant::now(),
                value,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current content, and whether it changed since the last call. `force` checks the file
    /// even if it was checked less than a second ago.
    pub fn current(&self, force: bool) -> (Secret, bool) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if !force && loaded.checked.elapsed() < RECHECK {
            return (loaded.value.clone(), false);
        }
        loaded.checked = Instant::now();
        let changed = match std::fs::metadata(&self.path) {
            Ok(meta) if Stamp::of(&meta) != loaded.stamp => match read_private(&self.path) {
                Ok(value) => {
                    let changed = value != loaded.value;
                    loaded.stamp = Stamp::of(&meta);
                    loaded.value = value;
                    changed
                }
                Err(e) => {
                    // Mid-rotation or made public: keep the last good value, say why.
                    tracing::warn!("keeping the previous secret: {e}");
                    false
                }
            },
            Ok(_) => false,
            Err(e) => {
                tracing::warn!("keeping the previous secret: {}: {e}", self.path.display());
                false
            }
        };
        if changed {
            tracing::info!("{} changed; using its new content", self.path.display());
        }
        (loaded.value.clone(), changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private_file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn open_files_are_refused_without_echoing_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = private_file(dir.path(), "t", "hunter2");
        assert_eq!(read_private(&path).unwrap().expose(), "hunter2");
        for mode in [0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_private(&path).unwrap_err();
            assert!(err.contains("chmod 600"), "{err}");
            assert!(err.contains(&format!("{mode:04o}")), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
            assert!(WatchedFile::open(&path).is_err());
        }
    }

    #[test]
    fn a_watched_file_is_read_again_after_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = private_file(dir.path(), "t", "one");
        let watched = WatchedFile::open(&path).unwrap();
        assert_eq!(watched.current(false), (Secret::new("one"), false));
        // Rotated by rename, as tools that write tokens do.
        let next = private_file(dir.path(), "t.new", "two");
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(watched.current(true), (Secret::new("two"), true));
        assert_eq!(watched.current(true), (Secret::new("two"), false));
        // A rotation to an open file is not used; the last good value stays.
        let next = private_file(dir.path(), "t.new", "three");
        std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(watched.current(true), (Secret::new("two"), false));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(watched.current(true), (Secret::new("two"), false));
    }
}
