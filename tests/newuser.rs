//! The mount as a new user meets it, with the tools and habits people bring from sshfs, rclone
//! and mount-s3: `tail -f` of a running job's log, `cp -r` of a job, a wrong URL, `get` in a
//! script, `-o` options, `umount`, durations and sizes with units, logs without colour or
//! syslog, completions, the man page and `--version`.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{is_mounted, run, start_server, Mounted};
use weaverfs_server::jobs::{FAILED, FILES, LITERALS, RUNNING};
use weaverfs_server::ServerConfig;

const BIN: &str = env!("CARGO_BIN_EXE_weaverfs");

fn weaverfs(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits up to 30 s for `cond`; the machine is shared, so never a tight deadline.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_open_log_follows_a_running_job() {
    let m = Mounted::start(ServerConfig::default(), &["--active-ttl", "1"]);
    let log = m.path(&format!("{RUNNING}/.job/logs.txt"));
    let mut f = std::fs::File::open(&log).unwrap();
    let mut first = String::new();
    f.read_to_string(&mut first).unwrap();
    assert!(!first.is_empty());
    // The same handle, read on at its offset: what the job wrote since, as tail -f reads.
    let mut more = String::new();
    eventually("new lines on the open handle", || {
        f.read_to_string(&mut more).unwrap();
        !more.is_empty()
    });
    assert!(more.ends_with('\n'), "{more:?}");
    eventually("the size grows through fstat", || {
        f.metadata().unwrap().len() > (first.len() + more.len()) as u64
    });
    // Reading from 0 again gives the same beginning: the log only grows.
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut again = vec![0; first.len()];
    f.read_exact(&mut again).unwrap();
    assert_eq!(again, first.as_bytes());

    // The real tool: tail -f prints lines past the ones that were there when it started.
    let before = std::fs::read_to_string(&log).unwrap().lines().count();
    let out = Command::new("timeout")
        .args(["6", "tail", "-n", "+1", "-f"])
        .arg(&log)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(
        shown > before,
        "tail -f showed {shown} lines, {before} were there"
    );
}

#[test]
fn the_log_is_fetched_at_most_once_per_ttl() {
    let m = Mounted::start(ServerConfig::default(), &["--active-ttl", "1"]);
    let log = m.path(&format!("{RUNNING}/.job/logs.txt"));
    let mut f = std::fs::File::open(&log).unwrap();
    let logs_requests = || {
        m.server
            .requests()
            .iter()
            .filter(|r| r.path.contains(&format!("{RUNNING}/logs")))
            .count()
    };
    let started = Instant::now();
    let before = logs_requests();
    let mut buf = Vec::new();
    // A reader polling in a tight loop, as a careless follower might.
    while started.elapsed() < Duration::from_secs(3) {
        f.read_to_end(&mut buf).unwrap();
        f.metadata().unwrap();
    }
    let made = logs_requests() - before;
    let secs = started.elapsed().as_secs() + 1;
    assert!(made as u64 <= secs + 1, "{made} log requests in {secs} s");
}

#[test]
fn modes_let_copies_be_changed_and_writes_fail_with_erofs() {
    let m = Mounted::start(ServerConfig::default(), &[]);
    let job = m.path(LITERALS);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&job), 0o755);
    assert_eq!(mode(&job.join(".job/status.json")), 0o644);
    let err = std::fs::write(job.join("new"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(job.join(".job/status.json"))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));

    let copy = tempfile::tempdir().unwrap();
    run(
        "cp",
        &["-r", job.to_str().unwrap(), copy.path().to_str().unwrap()],
    );
    let copied = copy.path().join(LITERALS);
    assert_eq!(mode(&copied), 0o755);
    assert_eq!(mode(&copied.join(".job")), 0o755);
    assert_eq!(mode(&copied.join(".job/status.json")), 0o644);
    run("rm", &["-r", copied.to_str().unwrap()]);
    assert!(!copied.exists());
}

#[test]
fn file_and_dir_modes_are_options() {
    let m = Mounted::start(
        ServerConfig::default(),
        &["--file-mode", "0444", "-o", "dir_mode=0550"],
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&m.path(LITERALS)), 0o550);
    assert_eq!(
        mode(&m.path(&format!("{LITERALS}/.job/status.json"))),
        0o444
    );
}

#[test]
fn a_wrong_url_fails_the_mount_and_says_what_to_try() {
    let m = Mounted::serve(ServerConfig::default());
    let base = m.server.api_url();
    let err = m.mount_fails(&format!("{base}/jobs"), &[], &[]);
    assert!(err.contains(&format!("did you mean {base} ?")), "{err}");
    let err = m.mount_fails(&format!("{base}/jobs/{LITERALS}"), &[], &[]);
    assert!(err.contains(&format!("did you mean {base} ?")), "{err}");
    assert!(err.contains("weaverfs get"), "{err}");

    // A plain web server (nginx with an index page).
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("index.html"),
        "<html><body>hello</body></html>",
    )
    .unwrap();
    let nginx = common::nginx::Nginx::serve(site.path());
    let err = m.mount_fails(&nginx.url(), &[], &[]);
    assert!(err.contains("is a web page"), "{err}");
    assert!(err.contains("/jobs is served"), "{err}");

    // A closed port: say so, and how to mount anyway.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}/weaver");
    let err = m.mount_fails(&url, &["--retries", "0"], &[]);
    assert!(err.contains("cannot reach"), "{err}");
    assert!(err.contains("--lazy-connect"), "{err}");
}

#[test]
fn lazy_connect_mounts_before_the_server_is_up() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut m = Mounted::serve(ServerConfig::default());
    m.mount(
        &format!("http://127.0.0.1:{closed}/weaver"),
        &["--lazy-connect", "--retries", "0"],
        &[],
    );
    assert!(is_mounted(m.root()));
    assert!(m.log().contains("does not list jobs"), "{}", m.log());
}

/// Requests the server has had for the running job's status.
fn status_requests(server: &weaverfs_server::TestServer) -> usize {
    let status = format!("/jobs/{RUNNING}");
    server
        .requests()
        .iter()
        .filter(|r| r.path.split('?').next().unwrap().ends_with(&status))
        .count()
}

#[test]
fn get_fails_for_a_job_that_has_not_succeeded_and_names_its_state() {
    let (_rt, server) = start_server(ServerConfig::default());
    let url = server.api_url();
    let out = tempfile::tempdir().unwrap();
    for (job, state) in [(RUNNING, "running"), (FAILED, "failed")] {
        let dir = out.path().join(job);
        let res = weaverfs(&["get", &url, job, "-o", dir.to_str().unwrap()]);
        assert!(!res.status.success(), "{job}: {}", stderr(&res));
        assert!(
            stderr(&res).contains(&format!("is {state}")),
            "{}",
            stderr(&res)
        );
        // What it has is written: the job's own documents.
        assert!(dir.join(".job/status.json").exists());
    }
    let res = weaverfs(&["get", &url, RUNNING, "-o", "/dev/null/x", "-q"]);
    assert!(!res.status.success());

    // --wait: the job finishes while get waits for it.
    let before = status_requests(&server);
    let dir = out.path().join("waited");
    let child = Command::new(BIN)
        .args([
            "get",
            &url,
            RUNNING,
            "--wait=0.2s",
            "-o",
            dir.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The job finishes only once get has found it running and asked again (it is waiting).
    common::wait_for("get to wait for the running job", || {
        status_requests(&server) >= before + 3
    });
    server.set_job_status(RUNNING, "successful");
    let res = child.wait_with_output().unwrap();
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(stderr(&res).contains("waiting"), "{}", stderr(&res));
}

#[test]
fn get_takes_job_urls_and_config_names_and_shows_only_its_options() {
    let (_rt, server) = start_server(ServerConfig::default());
    let url = server.api_url();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("by-url");
    let res = weaverfs(&[
        "get",
        &format!("{url}/jobs/{LITERALS}"),
        "-o",
        dir.to_str().unwrap(),
        "--progress",
    ]);
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(dir.join(".job/status.json").exists());
    // Sizes in human units, not raw byte counts.
    assert!(
        stderr(&res).contains(" B fetched") || stderr(&res).contains("iB fetched"),
        "{}",
        stderr(&res)
    );

    let config = out.path().join("config.toml");
    std::fs::write(&config, format!("[servers.demo]\nurl = \"{url}\"\n")).unwrap();
    let dir = out.path().join("by-name");
    let res = weaverfs(&[
        "get",
        "--config",
        config.to_str().unwrap(),
        "demo",
        LITERALS,
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(dir.join(".job/status.json").exists());

    let help = String::from_utf8(weaverfs(&["get", "--help"]).stdout).unwrap();
    for mount_only in [
        "--listing-ttl",
        "--active-ttl",
        "--allow-other",
        "--uid",
        "--foreground",
    ] {
        assert!(!help.contains(mount_only), "get --help shows {mount_only}");
    }
    assert!(
        help.contains("--wait") && help.contains("--block-size"),
        "{help}"
    );
}

#[test]
fn habits_from_sshfs_rclone_and_mount_s3_work() {
    // -o on weaverfs mount itself, ro, sizes with T, durations with units and fractions.
    let mut m = Mounted::serve(ServerConfig::default());
    let url = m.server.api_url();
    m.mount(
        &url,
        &[
            "-o",
            "ro,allow_other,cache_size=1T,listing_ttl=0.5",
            "--read-only",
            "--job-ttl",
            "5m",
            "-d",
        ],
        &[],
    );
    assert!(m.path(LITERALS).is_dir());
    // -d: foreground with debug logs.
    eventually("debug logs", || m.log().contains("DEBUG"));
    // umount, as the command people type.
    let res = weaverfs(&["umount", m.root().to_str().unwrap()]);
    assert!(res.status.success(), "{}", stderr(&res));
    eventually("unmounted", || !is_mounted(m.root()));

    let help = String::from_utf8(weaverfs(&["mount", "--help"]).stdout).unwrap();
    let at = |s: &str| help.find(s).unwrap_or_else(|| panic!("no {s} in {help}"));
    assert!(at("Mounting:") < at("Cache:"), "{help}");
    assert!(at("--foreground") < at("--cache-size"), "{help}");
    assert!(at("Cache:") < at("Credentials and TLS:"), "{help}");
}

#[test]
fn mistakes_are_named_as_typed() {
    let res = weaverfs(&[
        "mount",
        "http://127.0.0.1:9/w",
        "/nonexistent",
        "-o",
        "cachesize=64M",
    ]);
    assert!(!res.status.success());
    assert!(
        stderr(&res).contains("-o cachesize=64M; did you mean cache_size?"),
        "{}",
        stderr(&res)
    );

    let helper = tempfile::tempdir().unwrap();
    let link = helper.path().join("mount.weaverfs");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let out = Command::new(&link)
        .args([
            "http://127.0.0.1:9/w",
            "/nonexistent",
            "-o",
            "cachesize=64M",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("-o cachesize=64M"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("--cachesize"), "{}", stderr(&out));
    let out = Command::new(&link).arg("--help").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let usage = String::from_utf8_lossy(&out.stdout);
    assert!(
        usage.contains("usage: mount.weaverfs") && usage.contains("cache_size="),
        "{usage}"
    );
}

#[test]
fn logs_have_no_colour_off_a_terminal_and_go_somewhere_without_syslog() {
    let m = Mounted::start_logged(ServerConfig::default(), &[]);
    std::fs::read_dir(m.root()).unwrap().count();
    eventually("a log line", || m.log().contains("mounted at"));
    assert!(!m.log().contains('\x1b'), "{:?}", m.log());
    drop(m);

    if Path::new("/dev/log").exists() {
        return; // syslog here: the documented default, nothing to fall back from
    }
    let (_rt, server) = start_server(ServerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let res = Command::new(BIN)
        .args(["mount", &server.api_url()])
        .arg(dir.path())
        .env("XDG_STATE_HOME", state.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let file = state.path().join("weaverfs/weaverfs.log");
    let said = stderr(&res);
    let _ = weaverfs(&["unmount", dir.path().to_str().unwrap()]);
    assert!(res.status.success(), "{said}");
    assert!(
        said.contains(&format!("logs go to {}", file.display())),
        "{said}"
    );
    eventually("the log file has the mount", || {
        std::fs::read_to_string(&file).is_ok_and(|s| s.contains("mounted at"))
    });
}

#[test]
fn version_completions_and_man_page() {
    let out = String::from_utf8(weaverfs(&["--version"]).stdout).unwrap();
    assert!(
        out.starts_with("weaverfs 0.") && out.contains("(commit "),
        "{out}"
    );
    let bash = String::from_utf8(weaverfs(&["completions", "bash"]).stdout).unwrap();
    assert!(
        bash.contains("complete -F") && bash.contains("umount"),
        "{bash}"
    );
    let zsh = weaverfs(&["completions", "zsh"]);
    assert!(zsh.status.success() && String::from_utf8_lossy(&zsh.stdout).contains("#compdef"));
    let man = String::from_utf8(weaverfs(&["man"]).stdout).unwrap();
    assert!(
        man.contains(".TH weaverfs") && man.contains("mount"),
        "{}",
        &man[..200.min(man.len())]
    );
}

#[test]
fn demo_makes_its_mountpoint() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("w");
    let res = weaverfs(&["demo", dir.to_str().unwrap()]);
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(dir.join(LITERALS).is_dir());
    let res = weaverfs(&["unmount", dir.to_str().unwrap()]);
    assert!(res.status.success(), "{}", stderr(&res));
}

#[test]
fn ctrl_c_in_get_says_what_was_kept_and_that_a_rerun_resumes() {
    let (_rt, server) = start_server(ServerConfig {
        big_file_size: 24 << 20,
        ..Default::default()
    });
    server.set_latency(Duration::from_millis(150));
    let out = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["get", &server.api_url(), FILES, "-o"])
        .arg(out.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("a file being fetched", || {
        out.path().join("output_big.dat.part").exists()
    });
    // SAFETY: a plain signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let res = child.wait_with_output().unwrap();
    let said = stderr(&res);
    assert!(!res.status.success(), "{said}");
    assert!(said.contains("interrupted"), "{said}");
    assert!(said.contains(&out.path().display().to_string()), "{said}");
    assert!(
        said.contains("run the same command again to resume"),
        "{said}"
    );
    assert!(out.path().join("output_big.dat.part").exists());
}

/// `weaverfs … | head -1`: output into a pipe nobody reads any more ends the command quietly
/// with success, as coreutils' commands do (not a panic on EPIPE).
#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let cache = tempfile::tempdir().unwrap();
    let limits = weaverfs_fs::cache::DiskLimits {
        max_bytes: 1 << 20,
        min_free: 0.0,
    };
    drop(weaverfs_fs::cache::DiskCache::open(cache.path(), limits).unwrap());
    let dir = cache.path().to_str().unwrap();
    for args in [
        &["cache", dir][..],
        &["completions", "bash"],
        &["man"],
        &["--help"],
    ] {
        // A pipe whose reading end is closed before the command writes: EPIPE at the first
        // write, whatever the size of the output.
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills two descriptors we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both are fresh descriptors owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let out = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(write)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {:?} {}",
            out.status,
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // And through a real `head -1`.
    let out = Command::new("bash")
        .args([
            "-c",
            "set -o pipefail; \"$0\" cache \"$1\" | head -1",
            BIN,
            dir,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}
