//! The mountpoint's state before a mount (free, a live mount, or the dead mount a killed daemon
//! left behind), the checks that turn FUSE's terse failures into clear messages, and unmounting
//! (umount2 as root, fusermount3 for users).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What is at a mountpoint now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A directory that is not a FUSE mount (another filesystem's root can be mounted over).
    Free,
    /// A FUSE mount whose filesystem answers.
    Live,
    /// A FUSE mount whose daemon is gone: accesses fail with ENOTCONN ("Transport endpoint is
    /// not connected").
    Dead,
}

/// Whether the process runs as root (and so mounts and unmounts without fusermount3).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// The state of `path`; an error if it is missing or not a directory.
pub fn state(path: &Path) -> Result<State, String> {
    match std::fs::metadata(path) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(State::Dead),
        Err(e) => Err(format!("mountpoint {}: {e}", path.display())),
        Ok(meta) if !meta.is_dir() => {
            Err(format!("mountpoint {} is not a directory", path.display()))
        }
        Ok(_) if !is_fuse_mount(path) => Ok(State::Free),
        // stat may answer from the kernel's attribute cache; opening asks the daemon.
        Ok(_) => match std::fs::read_dir(path) {
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(State::Dead),
            _ => Ok(State::Live),
        },
    }
}

/// Readies `path` for a mount: cleans up a dead mount (lazily, since its daemon is gone) and
/// refuses a live one. A non-empty directory is accepted, as mount(8) does.
pub fn prepare(path: &Path) -> Result<(), String> {
    match state(path)? {
        State::Free => Ok(()),
        State::Live => Err(format!(
            "{} is already a mountpoint (a FUSE mount); unmount it first (weaverfs unmount {0})",
            path.display()
        )),
        State::Dead => {
            let note = format!(
                "{} is a dead mount (its daemon is gone); unmounting it lazily",
                path.display()
            );
            tracing::warn!("{note}");
            crate::mount::daemon::report_note(&note);
            unmount(path, true)?;
            match state(path)? {
                State::Free => Ok(()),
                _ => Err(format!(
                    "{} is still a mountpoint after cleaning up a dead mount",
                    path.display()
                )),
            }
        }
    }
}

/// Where to turn when this machine cannot mount FUSE at all.
const WITHOUT_FUSE: &str =
    "without FUSE, `weaverfs get URL JOB` writes a job's results to a directory";

/// Checks what a FUSE mount needs, for a clear message instead of a bare EACCES or ENOENT.
pub fn check_fuse_available(allow_other: bool) -> Result<(), String> {
    let dev = Path::new("/dev/fuse");
    if !dev.exists() {
        return Err(format!(
            "/dev/fuse is missing: load the fuse module (modprobe fuse), or in a container pass \
             the device (docker run --device /dev/fuse); {WITHOUT_FUSE}"
        ));
    }
    if is_root() {
        return Ok(());
    }
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(dev) {
        return Err(format!(
            "cannot open /dev/fuse ({e}): unprivileged mounts need it readable and writable by \
             you (sudo chmod 0666 /dev/fuse; udev sets it so on most machines, containers may \
             not); {WITHOUT_FUSE}"
        ));
    }
    let fusermount = find_fusermount()
        .ok_or("fusermount3 is not installed: unprivileged mounts need it (apt install fuse3)")?;
    let mode = std::fs::metadata(&fusermount)
        .map_err(|e| format!("{}: {e}", fusermount.display()))?
        .permissions()
        .mode();
    if mode & 0o4000 == 0 {
        return Err(format!(
            "{} is not setuid root, so it cannot mount for you (chmod u+s it, or reinstall fuse3)",
            fusermount.display()
        ));
    }
    if allow_other && !user_allow_other() {
        return Err("--allow-other and --allow-root need `user_allow_other` in \
                    /etc/fuse.conf when you are not root (ask your administrator)"
            .into());
    }
    Ok(())
}

/// Whether /etc/fuse.conf lets users mount with allow_other.
fn user_allow_other() -> bool {
    std::fs::read_to_string("/etc/fuse.conf")
        .map(|conf| conf.lines().any(|l| l.trim() == "user_allow_other"))
        .unwrap_or(false)
}

fn find_fusermount() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/bin".into(), "/sbin".into()])
        .map(|dir| dir.join("fusermount3"))
        .find(|p| p.is_file())
}

/// Unmounts `path`: umount2 as root, `fusermount3 -u` otherwise. `lazy` detaches it even while
/// files are open (MNT_DETACH, `-z`).
pub fn unmount(path: &Path, lazy: bool) -> Result<(), String> {
    if is_root() {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| format!("{}: path holds a NUL byte", path.display()))?;
        let flags = if lazy { libc::MNT_DETACH } else { 0 };
        // SAFETY: umount2 reads a NUL-terminated string we own.
        if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EBUSY) => format!(
                "{} is busy (files are open in it): close them, or unmount with --lazy",
                path.display()
            ),
            Some(libc::EINVAL) => format!("{} is not mounted", path.display()),
            _ => format!("cannot unmount {}: {e}", path.display()),
        });
    }
    let fusermount = find_fusermount()
        .ok_or("fusermount3 is not installed: users unmount through it (apt install fuse3)")?;
    let mut cmd = Command::new(fusermount);
    cmd.arg(if lazy { "-uz" } else { "-u" }).arg("--").arg(path);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run fusermount3: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot unmount {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether a FUSE filesystem is mounted at `path` in this process's namespace.
pub fn is_fuse_mount(path: &Path) -> bool {
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    mountinfo().iter().any(|m| {
        Path::new(&m.mountpoint) == path.as_path()
            && (m.fstype == "fuse" || m.fstype.starts_with("fuse."))
    })
}

/// Whether a mount with device number `major:minor` is still attached (a lazy unmount removes
/// it from mountinfo at once, while open files keep the FUSE connection alive).
pub fn device_attached(dev: u64) -> bool {
    let want = format!("{}:{}", libc::major(dev), libc::minor(dev));
    mountinfo().iter().any(|m| m.device == want)
}

struct MountInfo {
    device: String,
    mountpoint: String,
    fstype: String,
}

fn mountinfo() -> Vec<MountInfo> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split(' ');
            let device = fields.nth(2)?.to_string();
            let mountpoint = unescape_octal(fields.nth(1)?);
            // Optional fields end at " - ", then the filesystem type.
            let fstype = fields.skip_while(|f| *f != "-").nth(1)?.to_string();
            Some(MountInfo {
                device,
                mountpoint,
                fstype,
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape_octal(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(unescape_octal(r"/mnt/tab\011x\134"), "/mnt/tab\tx\\");
        assert_eq!(unescape_octal(r"/plain\12"), r"/plain\12");
    }

    #[test]
    fn a_plain_directory_is_free_and_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(state(dir.path()), Ok(State::Free));
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(state(&file).unwrap_err().contains("not a directory"));
        assert!(state(&dir.path().join("missing")).is_err());
        // Another filesystem's root is no obstacle (mounts stack).
        assert_eq!(state(Path::new("/proc")), Ok(State::Free));
    }
}
