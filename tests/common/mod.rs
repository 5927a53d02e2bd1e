//! A real mount for tests: the built-in server in this process, the `weaverfs` binary mounting
//! it in a temporary directory.

#![allow(dead_code)]

pub mod nginx;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use weaverfs::server::{ServerConfig, TestServer};

pub struct Mounted {
    pub rt: tokio::runtime::Runtime,
    pub server: TestServer,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Mounted {
    /// Starts a server with `cfg` and mounts it with the given extra `weaverfs mount` options,
    /// in the foreground (the test owns the process).
    pub fn start(cfg: ServerConfig, args: &[&str]) -> Mounted {
        let (rt, server) = start_server(cfg);
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_weaverfs"))
            .arg("mount")
            .arg(server.api_url())
            .arg(dir.path())
            .arg("--foreground")
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("weaverfs runs");
        let m = Mounted {
            rt,
            server,
            dir,
            child: Some(child),
        };
        m.wait_mounted();
        m
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn wait_mounted(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_mounted(self.root()) {
            assert!(Instant::now() < deadline, "the mount did not appear");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGINT like Ctrl-C and waits for the process; the mount must be gone.
    pub fn unmount(self) -> ExitStatus {
        self.stop(libc::SIGINT)
    }

    /// Sends `signal` and waits (at most 20 s) for the process; the mount must be gone.
    pub fn stop(mut self, signal: i32) -> ExitStatus {
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
        assert!(!is_mounted(self.root()), "still mounted after exit");
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
