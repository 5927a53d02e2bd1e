//! A real mount for tests: the built-in server in this process, the `weaverfs` binary mounting
//! it in a temporary directory.

#![allow(dead_code)]

pub mod gateway;
pub mod nginx;
pub mod real_servers;
pub mod squid;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use weaverfs_server::{ServerConfig, TestServer};

pub struct Mounted {
    pub rt: tokio::runtime::Runtime,
    pub server: TestServer,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// stderr of a mount started with [`Mounted::mount`].
    log: tempfile::NamedTempFile,
}

impl Mounted {
    /// Starts a server with `cfg` and mounts it with the given extra `weaverfs mount` options,
    /// in the foreground (the test owns the process).
    pub fn start(cfg: ServerConfig, args: &[&str]) -> Mounted {
        let mut m = Mounted::serve(cfg);
        let mut cmd = m.command(&m.server.api_url(), args, &[]);
        m.child = Some(cmd.spawn().expect("weaverfs runs"));
        m.wait_mounted();
        m
    }

    /// Like [`Mounted::start`], keeping the daemon's stderr for [`Mounted::log`].
    pub fn start_logged(cfg: ServerConfig, args: &[&str]) -> Mounted {
        let mut m = Mounted::serve(cfg);
        let url = m.server.api_url();
        m.mount(&url, args, &[]);
        m
    }

    /// Starts a server with `cfg` only; [`Mounted::mount`] mounts it.
    pub fn serve(cfg: ServerConfig) -> Mounted {
        let (rt, server) = start_server(cfg);
        Mounted {
            rt,
            server,
            dir: tempfile::tempdir().unwrap(),
            child: None,
            log: tempfile::NamedTempFile::new().unwrap(),
        }
    }

    /// `weaverfs mount SOURCE DIR ARGS` with extra environment variables.
    pub fn command(&self, source: &str, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weaverfs"));
        cmd.arg("mount")
            .arg(source)
            .arg(self.dir.path())
            .arg("--foreground")
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null());
        cmd
    }

    /// Mounts `source` (a URL or a configured name) with options and environment variables,
    /// its stderr going to [`Mounted::log`], and waits for the mount.
    pub fn mount(&mut self, source: &str, args: &[&str], envs: &[(&str, &str)]) {
        let mut cmd = self.command(source, args, envs);
        cmd.stderr(self.log.reopen().unwrap());
        self.child = Some(cmd.spawn().expect("weaverfs runs"));
        self.wait_mounted();
    }

    /// Waits for the mount made by `child` (a `weaverfs mount` run some other way), which is
    /// then ended like any other.
    pub fn adopt(&mut self, child: Child) {
        self.child = Some(child);
        self.wait_mounted();
    }

    /// Runs `weaverfs mount` expecting it to fail at start; returns its stderr.
    pub fn mount_fails(&self, source: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = self.command(source, args, envs);
        let mut child = cmd
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("weaverfs runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if is_mounted(self.root()) || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let _ = Command::new("fusermount3")
                    .arg("-uz")
                    .arg(self.root())
                    .status();
                panic!("the mount started: {}", fs_read(log.path()));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = fs_read(log.path());
        assert!(!status.success(), "weaverfs succeeded: {stderr}");
        stderr
    }

    /// What a mount started with [`Mounted::mount`] wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    /// The running weaverfs process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("mounted").id()
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn wait_mounted(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_mounted(self.root()) {
            let exited = self.child.as_mut().and_then(|c| c.try_wait().unwrap());
            assert!(
                exited.is_none(),
                "weaverfs exited: {exited:?} {}",
                self.log()
            );
            assert!(Instant::now() < deadline, "the mount did not appear");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGINT like Ctrl-C and waits for the process; the mount must be gone.
    pub fn unmount(mut self) -> ExitStatus {
        self.stop()
    }

    /// [`Mounted::unmount`] keeping the server and the log.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal_stop(libc::SIGINT)
    }

    /// Sends `signal` and waits (at most 20 s) for the process; the mount must be gone.
    pub fn signal_stop(&mut self, signal: i32) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "weaverfs did not exit on signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            !is_mounted(self.root()),
            "still mounted after exit ({status}): {}",
            self.log()
        );
        status
    }

    /// Kills the process with SIGKILL, leaving the mount behind (dead), and the directory.
    pub fn kill_leaving_mount(mut self) -> tempfile::TempDir {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(self.dir.path())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn fs_read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A built-in server on its own runtime (which must outlive it).
pub fn start_server(cfg: ServerConfig) -> (tokio::runtime::Runtime, TestServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(TestServer::start(cfg)).expect("server starts");
    (rt, server)
}

/// Whether `path` is a mountpoint now (from /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let want = path.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|mp| mp == want))
}

/// A small deterministic generator for offsets (tests must be repeatable).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Runs a command, returning its stdout; panics with its stderr if it fails.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `done()` holds: for the state a test needs, never for a guessed time. The
/// deadline only turns a hang into a failure naming `what`; a busy machine just waits longer.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
