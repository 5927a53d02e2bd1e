//! Running a mount in the background like mount(8) expects: the command forks, the child
//! mounts and serves in its own session, and the parent exits only once the child reports the
//! mount ready (exit 0) or its error (exit 1), over a socket pair.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the parent waits for the mount before giving up (and stopping the child).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The child's end of the readiness channel; `None` in the foreground or once reported.
static READY: Mutex<Option<UnixStream>> = Mutex::new(None);

/// Forks. Returns in the child (now a session leader with stdin and stdout on /dev/null);
/// the parent waits for the child's report and exits with its outcome.
///
/// Call it before any thread starts (before the tokio runtime): fork copies only the caller.
pub fn detach() -> Result<(), String> {
    let (parent_end, child_end) =
        UnixStream::pair().map_err(|e| format!("cannot create a socket pair: {e}"))?;
    // SAFETY: the process has one thread here, so the child is a full copy of it.
    match unsafe { libc::fork() } {
        -1 => Err(format!("cannot fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(parent_end);
            // SAFETY: setsid has no memory effects; it fails only for a group leader, which a
            // fresh child is not.
            unsafe { libc::setsid() };
            redirect_to_null(&[0, 1]);
            *READY.lock().unwrap() = Some(child_end);
            Ok(())
        }
        child => {
            drop(child_end);
            std::process::exit(wait_for_child(parent_end, child));
        }
    }
}

/// Reports the mount ready: the parent exits 0. After this the child writes nothing to the
/// terminal, so stderr goes to /dev/null too (logs go to a file or syslog).
pub fn report_ready() {
    if let Some(mut s) = READY.lock().unwrap().take() {
        let _ = s.write_all(b"ready\n");
        redirect_to_null(&[2]);
    }
}

/// Passes a one-line notice to the waiting parent, which prints it (the user sees it although
/// logs go to a file or syslog). Does nothing once the mount is ready or in the foreground.
pub fn report_note(message: &str) {
    if let Some(s) = READY.lock().unwrap().as_mut() {
        let _ = s.write_all(format!("note: {}\n", message.replace('\n', " ")).as_bytes());
    }
}

/// Reports a failure before the mount was ready: the parent prints it and exits 1.
pub fn report_failure(message: &str) {
    if let Some(mut s) = READY.lock().unwrap().take() {
        let _ = s.write_all(format!("error: {}\n", message.replace('\n', " ")).as_bytes());
    }
}

/// Whether this process is the detached child still waiting to report.
pub fn is_detached() -> bool {
    READY.lock().unwrap().is_some()
}

fn wait_for_child(from_child: UnixStream, child: libc::pid_t) -> i32 {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut lines = BufReader::new(from_child);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = lines
            .get_ref()
            .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(0) => {
                eprintln!("weaverfs: the mount daemon exited before the mount was ready");
                return 1;
            }
            Ok(_) if line.starts_with("ready") => return 0,
            Ok(_) => match line.trim_end().split_once(": ") {
                Some(("note", note)) => eprintln!("weaverfs: {note}"),
                Some(("error", message)) => {
                    eprintln!("weaverfs: {message}");
                    return 1;
                }
                _ => eprintln!("weaverfs: {}", line.trim_end()),
            },
            Err(_) => {
                // SAFETY: kill(2) on our own child; SIGTERM makes it unmount if it got that far.
                unsafe { libc::kill(child, libc::SIGTERM) };
                eprintln!(
                    "weaverfs: the mount was not ready after {} s (is the server reachable?); \
                     stopped it",
                    READY_TIMEOUT.as_secs()
                );
                return 1;
            }
        }
    }
}

fn redirect_to_null(fds: &[libc::c_int]) {
    let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    for &fd in fds {
        // SAFETY: dup2 onto a standard descriptor from one we own; it stays open until exit.
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) };
    }
}
