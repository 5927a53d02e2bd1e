//! Mounting like mount(8), through real mounts: the daemon returns once the mount is ready,
//! `weaverfs unmount` and signals unmount cleanly even with reads in flight, a killed daemon's
//! dead mount is cleaned up, ownership and allow_other, the mount.weaverfs helper with
//! `mount -t` and fstab, and unprivileged mounts through fusermount3.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{is_mounted, start_server, Mounted};
use weaverfs_server::{jobs, ServerConfig, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_weaverfs");
/// A user for the unprivileged tests (created if absent).
const TEST_USER: &str = "weaverfs-test";

fn small_server() -> ServerConfig {
    ServerConfig {
        big_file_size: 8 << 20,
        ..ServerConfig::default()
    }
}

/// The text output's mount path and its served bytes.
fn text_file(server: &TestServer) -> (String, Vec<u8>) {
    let served = format!("/wpsoutputs/{}/output_text/result.txt", jobs::FILES);
    let size = server.file_size(&served).unwrap();
    let bytes = server.file_bytes(&served, 0, size).unwrap();
    (format!("{}/output_text.txt", jobs::FILES), bytes)
}

fn big_file(server: &TestServer) -> (String, Vec<u8>) {
    let served = format!("/wpsoutputs/{}/output_big/big.dat", jobs::FILES);
    let size = server.file_size(&served).unwrap();
    let bytes = server.file_bytes(&served, 0, size).unwrap();
    (format!("{}/output_big.dat", jobs::FILES), bytes)
}

fn weaverfs(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("weaverfs runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}", stderr(out));
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Pids of processes whose command line mentions `dir` (the daemons serving it).
fn daemons_of(dir: &Path) -> Vec<u32> {
    let want = s(dir).as_bytes();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(want.len()).any(|w| w == want))
        })
        .collect()
}

/// Waits (at most 15 s) until no daemon serves `dir` and it is not mounted.
fn assert_daemon_gone(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !daemons_of(dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the daemon for {} is still running",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!is_mounted(dir), "{} is still mounted", dir.display());
}

/// Lazily unmounts a test's mountpoint if the test failed before unmounting it.
struct UnmountOnDrop(PathBuf);

impl Drop for UnmountOnDrop {
    fn drop(&mut self) {
        if is_mounted(&self.0) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// A daemon-mode mount (the default) of `server` at `dir`, logging to `log`.
fn mount_daemon(server: &TestServer, dir: &Path, log: &Path, extra: &[&str]) -> Output {
    let url = server.api_url();
    let mut args = vec!["mount", &url, s(dir), "--log-file", s(log)];
    args.extend_from_slice(extra);
    weaverfs(&args)
}

#[test]
fn mount_returns_once_ready_and_unmount_ends_the_daemon() {
    let (_rt, server) = start_server(small_server());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = UnmountOnDrop(dir.path().to_path_buf());
    let log = dir.path().with_extension("log");
    let out = mount_daemon(&server, dir.path(), &log, &[]);
    assert_ok(&out, "mount");
    // Ready when the command returns: no waiting.
    assert!(is_mounted(dir.path()));
    let (rel, bytes) = text_file(&server);
    assert_eq!(fs::read(dir.path().join(&rel)).unwrap(), bytes);
    assert_eq!(daemons_of(dir.path()).len(), 1, "one daemon serves it");

    assert_ok(&weaverfs(&["unmount", s(dir.path())]), "unmount");
    assert!(!is_mounted(dir.path()));
    assert_daemon_gone(dir.path());
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("mounted at"), "log: {text}");
    let again = weaverfs(&["unmount", s(dir.path())]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not mounted"), "{}", stderr(&again));
    fs::remove_file(log).unwrap();
}

#[test]
fn failures_are_reported_by_the_mount_command() {
    let (_rt, server) = start_server(small_server());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = UnmountOnDrop(dir.path().to_path_buf());
    let log = dir.path().with_extension("log");

    let missing = dir.path().join("missing");
    let out = mount_daemon(&server, &missing, &log, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("missing: No such file or directory"),
        "{}",
        stderr(&out)
    );

    assert_ok(&mount_daemon(&server, dir.path(), &log, &[]), "mount");
    let busy = mount_daemon(&server, dir.path(), &log, &[]);
    assert!(!busy.status.success());
    assert!(
        stderr(&busy).contains("already a mountpoint"),
        "{}",
        stderr(&busy)
    );
    // The refused mount left the first one serving.
    let (rel, bytes) = text_file(&server);
    assert_eq!(fs::read(dir.path().join(&rel)).unwrap(), bytes);
    assert_ok(&weaverfs(&["unmount", s(dir.path())]), "unmount");
    assert_daemon_gone(dir.path());
    let _ = fs::remove_file(log);
}

/// Reads `rel` in another thread; the result is the bytes or the error.
fn reader(dir: &Path, rel: &str) -> std::thread::JoinHandle<std::io::Result<Vec<u8>>> {
    let path = dir.join(rel);
    std::thread::spawn(move || fs::read(path))
}

/// Waits until the reader's first block request has reached the server, which holds it for
/// its latency: the file is open and a read is in flight, however slowly the reader started.
fn wait_read_in_flight(server: &TestServer) {
    let served = format!("/wpsoutputs/{}/output_big/big.dat", jobs::FILES);
    common::wait_for("the read to reach the server", || {
        server
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == served)
    });
}

/// A read in flight may finish or fail when its mount goes away, but never with wrong bytes.
fn assert_not_wrong(result: std::io::Result<Vec<u8>>, expected: &[u8]) {
    if let Ok(got) = result {
        assert!(got == expected, "a read returned wrong bytes");
    }
}

#[test]
fn sigterm_with_a_read_in_flight_exits_and_unmounts() {
    let mut m = Mounted::start(small_server(), &["--read-ahead-blocks", "0"]);
    let (rel, bytes) = big_file(&m.server);
    m.server.set_latency(Duration::from_millis(1500));
    let read = reader(m.root(), &rel);
    wait_read_in_flight(&m.server);
    let root = m.root().to_path_buf();
    let started = Instant::now();
    let status = m.signal_stop(libc::SIGTERM);
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(!is_mounted(&root));
    assert_not_wrong(read.join().unwrap(), &bytes);
}

#[test]
fn unmount_with_a_read_in_flight_is_busy_unless_lazy() {
    let (_rt, server) = start_server(small_server());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = UnmountOnDrop(dir.path().to_path_buf());
    let log = dir.path().with_extension("log");
    assert_ok(
        &mount_daemon(&server, dir.path(), &log, &["--read-ahead-blocks", "0"]),
        "mount",
    );
    let (rel, bytes) = big_file(&server);
    server.set_latency(Duration::from_millis(1500));
    let read = reader(dir.path(), &rel);
    wait_read_in_flight(&server);

    let busy = weaverfs(&["unmount", s(dir.path())]);
    assert!(!busy.status.success());
    assert!(stderr(&busy).contains("busy"), "{}", stderr(&busy));
    assert!(is_mounted(dir.path()));

    assert_ok(&weaverfs(&["unmount", "--lazy", s(dir.path())]), "lazy");
    assert!(!is_mounted(dir.path()));
    assert_daemon_gone(dir.path());
    assert_not_wrong(read.join().unwrap(), &bytes);
    let _ = fs::remove_file(log);
}

#[test]
fn a_killed_daemons_dead_mount_is_cleaned_up_by_the_next_mount() {
    let m = Mounted::start(small_server(), &[]);
    let (rel, bytes) = text_file(&m.server);
    let (_rt2, server2) = start_server(small_server());
    let dir = m.kill_leaving_mount();
    let _cleanup = UnmountOnDrop(dir.path().to_path_buf());
    let err = fs::read_dir(dir.path()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");

    let log = dir.path().with_extension("log");
    let out = mount_daemon(&server2, dir.path(), &log, &[]);
    assert_ok(&out, "mount");
    assert!(stderr(&out).contains("dead mount"), "{}", stderr(&out));
    assert_eq!(fs::read(dir.path().join(&rel)).unwrap(), bytes);
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("dead mount"), "log: {text}");
    assert_ok(&weaverfs(&["unmount", s(dir.path())]), "unmount");
    assert_daemon_gone(dir.path());
    let _ = fs::remove_file(log);
}

#[test]
fn uid_and_gid_set_the_owner_of_every_file() {
    let m = Mounted::start(small_server(), &["--uid", "4321", "--gid", "8765"]);
    let (rel, _) = text_file(&m.server);
    for path in [m.root().to_path_buf(), m.path(jobs::FILES), m.path(&rel)] {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4321, 8765), "{}", path.display());
    }
    m.unmount();
}

// ---- mount(8) and fstab -------------------------------------------------------------------

/// Installs this build as /sbin/mount.weaverfs and /sbin/mount.fuse.weaverfs (where mount(8)
/// looks for helpers), replacing any older link atomically.
fn install_helpers() {
    for name in ["mount.weaverfs", "mount.fuse.weaverfs"] {
        let tmp = PathBuf::from(format!("/sbin/.{name}.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(BIN, &tmp).unwrap();
        fs::rename(&tmp, format!("/sbin/{name}")).unwrap();
    }
}

fn run_checked(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert_ok(&out, &format!("{cmd} {args:?}"));
}

#[test]
fn mount_t_weaverfs_and_fstab_lines_mount_through_the_helper() {
    install_helpers();
    let (_rt, server) = start_server(small_server());
    let (rel, bytes) = text_file(&server);
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = UnmountOnDrop(dir.path().to_path_buf());
    let log = dir.path().with_extension("log");
    let opts = format!(
        "ro,_netdev,noauto,users,cache_size=64M,block_size=256K,listing_ttl=5,uid=4321,\
         log_file={}",
        s(&log)
    );
    run_checked(
        "mount",
        &[
            "-t",
            "weaverfs",
            &server.api_url(),
            s(dir.path()),
            "-o",
            &opts,
        ],
    );
    assert!(is_mounted(dir.path()));
    let file = dir.path().join(&rel);
    assert_eq!(fs::read(&file).unwrap(), bytes);
    assert_eq!(fs::metadata(&file).unwrap().uid(), 4321);
    assert_eq!(fs::metadata(&file).unwrap().blksize(), 256 << 10);
    run_checked("umount", &[s(dir.path())]);
    assert_daemon_gone(dir.path());

    // An fstab line, with the fuse.TYPE spelling; `mount -T` reads another fstab.
    let fstab = dir.path().with_extension("fstab");
    fs::write(
        &fstab,
        format!(
            "# weaverfs test\n{} {} fuse.weaverfs noauto,_netdev,allow_other,gid=77,\
             x-systemd.automount,nofail,log_file={} 0 0\n",
            server.api_url(),
            s(dir.path()),
            s(&log)
        ),
    )
    .unwrap();
    run_checked("mount", &["-T", s(&fstab), s(dir.path())]);
    assert_eq!(fs::read(&file).unwrap(), bytes);
    assert_eq!(fs::metadata(&file).unwrap().gid(), 77);
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info
        .lines()
        .find(|l| l.contains(s(dir.path())))
        .expect("in mountinfo");
    assert!(
        line.contains(&format!("weaverfs:{}", server.api_url())),
        "{line}"
    );
    assert!(line.contains("allow_other"), "{line}");
    run_checked("umount", &[s(dir.path())]);
    assert_daemon_gone(dir.path());

    // A mistyped option fails the mount with a message naming it.
    let out = Command::new("mount")
        .args(["-t", "weaverfs", &server.api_url(), s(dir.path())])
        .args(["-o", "cache_sise=1M"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Named as it was written, in -o terms.
    assert!(
        stderr(&out).contains("-o cache_sise=1M"),
        "{}",
        stderr(&out)
    );
    assert!(!is_mounted(dir.path()));
    let _ = fs::remove_file(log);
    let _ = fs::remove_file(fstab);
}

// ---- unprivileged mounts ------------------------------------------------------------------

/// Makes what an unprivileged mount needs, as Debian's fuse3 package sets it up: a user, and
/// /dev/fuse readable and writable by all (fusermount3 is setuid root).
fn ensure_unprivileged_setup() -> (u32, u32) {
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, TEST_USER])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
    };
    if id("-u").is_none() {
        // scripts/test.sh makes the user first and removes it afterwards; run alone, say so.
        eprintln!("note: adding system user {TEST_USER} for the unprivileged-mount tests (userdel {TEST_USER} removes it)");
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(TEST_USER)
            .output()
            .unwrap();
        // Another test may have created it meanwhile.
        assert!(id("-u").is_some(), "useradd: {}", stderr(&out));
    }
    let mode = fs::metadata("/dev/fuse").unwrap().permissions().mode();
    if mode & 0o666 != 0o666 {
        eprintln!(
            "note: /dev/fuse was mode {:o}; making it 0666 for the unprivileged-mount tests",
            mode & 0o7777
        );
        fs::set_permissions("/dev/fuse", fs::Permissions::from_mode(0o666)).unwrap();
    }
    (id("-u").unwrap(), id("-g").unwrap())
}

/// A copy of the binary that any user can run (the build tree may be under a private home).
fn public_binary() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("weaverfs");
    fs::copy(BIN, &bin).unwrap();
    (dir, bin)
}

fn as_user(cmd: &Path, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", TEST_USER, "--"])
        .arg(cmd)
        .args(args)
        .output()
        .unwrap()
}

/// A directory the test user owns, for mountpoints and logs.
fn user_dir(uid: u32, gid: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    dir
}

#[test]
fn an_unprivileged_user_mounts_reads_and_unmounts() {
    let (uid, gid) = ensure_unprivileged_setup();
    let (_bin_dir, bin) = public_binary();
    let (_rt, server) = start_server(small_server());
    let (rel, bytes) = text_file(&server);
    let home = user_dir(uid, gid);
    let mnt = home.path().join("mnt");
    let _cleanup = UnmountOnDrop(mnt.clone());
    let log = home.path().join("log");
    fs::create_dir(&mnt).unwrap();
    std::os::unix::fs::chown(&mnt, Some(uid), Some(gid)).unwrap();

    let out = as_user(
        &bin,
        &["mount", &server.api_url(), s(&mnt), "--log-file", s(&log)],
    );
    assert_ok(&out, "unprivileged mount");
    assert!(is_mounted(&mnt));
    let cat = as_user(Path::new("/bin/cat"), &[s(&mnt.join(&rel))]);
    assert_ok(&cat, "cat as the user");
    assert!(cat.stdout == bytes, "the user read wrong bytes");
    // Files belong to the user who mounted; without allow_root even root is refused.
    let meta = as_user(
        Path::new("/usr/bin/stat"),
        &["-c", "%u %g", s(&mnt.join(&rel))],
    );
    assert_eq!(
        String::from_utf8_lossy(&meta.stdout).trim(),
        format!("{uid} {gid}")
    );
    assert_eq!(
        fs::metadata(mnt.join(&rel)).unwrap_err().raw_os_error(),
        Some(libc::EACCES)
    );

    // allow_other needs user_allow_other in /etc/fuse.conf: a clear message when it is off.
    let conf = fs::read_to_string("/etc/fuse.conf").unwrap_or_default();
    if !conf.lines().any(|l| l.trim() == "user_allow_other") {
        let other = home.path().join("other");
        fs::create_dir(&other).unwrap();
        std::os::unix::fs::chown(&other, Some(uid), Some(gid)).unwrap();
        let out = as_user(
            &bin,
            &["mount", &server.api_url(), s(&other), "--allow-other", "-f"],
        );
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("user_allow_other"),
            "{}",
            stderr(&out)
        );
        assert!(!is_mounted(&other));
    }

    assert_ok(
        &as_user(&bin, &["unmount", s(&mnt)]),
        "unprivileged unmount",
    );
    assert!(!is_mounted(&mnt));
    assert_daemon_gone(&mnt);
}

#[test]
fn allow_other_lets_another_user_read_a_root_mount() {
    let (uid, _) = ensure_unprivileged_setup();
    let (rel, _) = {
        let (_rt, server) = start_server(small_server());
        text_file(&server)
    };
    // Without allow_other the user is refused even where the file modes allow reading.
    let m = Mounted::start(small_server(), &[]);
    let cat = as_user(Path::new("/bin/cat"), &[s(&m.path(&rel))]);
    assert!(!cat.status.success());
    assert!(
        stderr(&cat).contains("Permission denied"),
        "{}",
        stderr(&cat)
    );
    m.unmount();

    let uid_arg = uid.to_string();
    let m = Mounted::start(small_server(), &["--allow-other", "--uid", &uid_arg]);
    let (_, bytes) = text_file(&m.server);
    let cat = as_user(Path::new("/bin/cat"), &[s(&m.path(&rel))]);
    assert_ok(&cat, "cat with allow_other");
    assert!(cat.stdout == bytes, "wrong bytes");
    m.unmount();
}

#[test]
fn a_mount_not_ready_in_30_s_fails_and_stops_its_daemon() {
    // A server that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/weaver", silent.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = UnmountOnDrop(dir.path().to_path_buf());
    let started = Instant::now();
    let out = weaverfs(&[
        "mount",
        &url,
        s(dir.path()),
        "--read-timeout",
        "120",
        // Retries must not give up on the silent server before the 30 s readiness limit.
        "--retry-max-time",
        "120",
        "--log-file",
        "/dev/null",
    ]);
    let took = started.elapsed();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not ready after 30 s"),
        "{}",
        stderr(&out)
    );
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(45),
        "{took:?}"
    );
    assert_daemon_gone(dir.path());
}

/// An unprivileged mount with a disk cache: FUSE passthrough needs CAP_SYS_ADMIN, so the
/// kernel refuses it and a complete file is read through weaverfs instead, every byte right.
#[test]
fn an_unprivileged_mount_reads_complete_files_without_passthrough() {
    let (uid, gid) = ensure_unprivileged_setup();
    let (_bin_dir, bin) = public_binary();
    let (_rt, server) = start_server(small_server());
    let (rel, bytes) = big_file(&server);
    let home = user_dir(uid, gid);
    let mnt = home.path().join("mnt");
    let cache = home.path().join("cache");
    let _cleanup = UnmountOnDrop(mnt.clone());
    let log = home.path().join("log");
    fs::create_dir(&mnt).unwrap();
    std::os::unix::fs::chown(&mnt, Some(uid), Some(gid)).unwrap();
    let args = [
        "mount",
        &server.api_url(),
        s(&mnt),
        "--log-file",
        s(&log),
        "--cache-dir",
        s(&cache),
    ];
    assert_ok(&as_user(&bin, &args), "unprivileged mount");
    let cat = || as_user(Path::new("/bin/cat"), &[s(&mnt.join(&rel))]);
    let first = cat();
    assert_ok(&first, "cat as the user");
    assert!(first.stdout == bytes, "the user read wrong bytes");
    // Complete on disk: assembled in the background into one data file.
    let files = cache.join("weaverfs-v1/files");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_dir(&files)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join("data").exists())
    {
        assert!(Instant::now() < deadline, "no complete file assembled");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Opened again (and again): passthrough is refused, the reads go through weaverfs.
    for _ in 0..2 {
        let again = cat();
        assert_ok(&again, "cat of the complete file");
        assert!(again.stdout == bytes, "wrong bytes from the complete file");
    }
    let stats = as_user(
        Path::new("/bin/cat"),
        &[s(&mnt.join(".weaverfs/stats.json"))],
    );
    let snap: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(snap["passthrough_opens"], 0, "{snap}");
    assert_eq!(snap["errors"], serde_json::json!({}), "{snap}");
    assert_ok(
        &as_user(&bin, &["unmount", s(&mnt)]),
        "unprivileged unmount",
    );
}
