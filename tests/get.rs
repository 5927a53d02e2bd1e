//! `weaverfs get`: real runs of the binary against the built-in server, compared with a real
//! mount and with the server's own bytes.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use common::{start_server, wait_for, Mounted};
use weaverfs_server::jobs::{FILES, LITERALS};
use weaverfs_server::{Digests, ServerConfig, TestServer};

const BIG: &str = "output_big/big.dat";
const BIN: &str = "output_bin/data.bin";

fn file_url(job: &str, rel: &str) -> String {
    format!("/wpsoutputs/{job}/{rel}")
}

fn get_command(server: &TestServer, job: &str, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weaverfs"));
    cmd.arg("get")
        .arg(server.api_url())
        .arg(job)
        .arg("-o")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null());
    cmd
}

fn get(server: &TestServer, job: &str, out: &Path, extra: &[&str]) -> Output {
    get_command(server, job, out, extra)
        .output()
        .expect("weaverfs runs")
}

/// Every entry under `root`: relative path → file bytes and mtime (seconds), or None for a
/// directory.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<(Vec<u8>, u64)>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                found.insert(rel, None);
                pending.push(path);
            } else {
                let secs = meta
                    .modified()
                    .unwrap()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                found.insert(rel, Some((std::fs::read(&path).unwrap(), secs)));
            }
        }
    }
    found
}

#[test]
fn the_written_tree_is_the_mounts_tree_and_a_script_sees_no_output() {
    let m = Mounted::start(
        ServerConfig {
            big_file_size: 3 << 20,
            ..Default::default()
        },
        &[],
    );
    for job in [FILES, LITERALS] {
        let out = tempfile::tempdir().unwrap();
        let run = get(&m.server, job, out.path(), &[]);
        assert!(run.status.success(), "{job}: {run:?}");
        assert!(run.stdout.is_empty() && run.stderr.is_empty(), "{run:?}");
        let mounted = snapshot(&m.path(job));
        let written = snapshot(out.path());
        assert!(mounted.contains_key(Path::new(".job/status.json")));
        assert_eq!(
            mounted.keys().collect::<Vec<_>>(),
            written.keys().collect::<Vec<_>>(),
            "{job}: names"
        );
        for (rel, want) in &mounted {
            assert_eq!(&written[rel], want, "{job}: {}", rel.display());
        }
        // Once the kernel's 1 s attribute TTL from the root listing is over, the mount shows
        // the job's own time for its directory, as the written directory has.
        std::thread::sleep(Duration::from_millis(1100));
        let mounted_job = std::fs::metadata(m.path(job)).unwrap().modified().unwrap();
        let written_job = std::fs::metadata(out.path()).unwrap().modified().unwrap();
        assert_eq!(mounted_job, written_job, "{job}: the job directory's mtime");
    }
    let big = std::fs::read(m.path(FILES).join("output_big.dat")).unwrap();
    let served = m.server.file_bytes(&file_url(FILES, BIG), 0, u64::MAX);
    assert_eq!(Some(big), served);
    m.unmount();
}

/// `(start, end)` of each GET of `path` with a Range header, end exclusive.
fn ranges_of(server: &TestServer, path: &str) -> Vec<(u64, u64)> {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .map(|r| {
            let range = r
                .range
                .as_deref()
                .expect("every GET of the file is a range");
            let (a, b) = range
                .strip_prefix("bytes=")
                .and_then(|r| r.split_once('-'))
                .expect("bytes=A-B");
            (a.parse().unwrap(), b.parse::<u64>().unwrap() + 1)
        })
        .collect()
}

fn gets_of(server: &TestServer, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .count()
}

/// Starts a `get` of FILES and kills it (SIGKILL) once its sidecar records at least `at_least`
/// bytes (a multiple of the block size) of the big file and the small file is done. The server
/// holds the big file's ranges from a point that moves on one block at a time, so the get can
/// neither finish first nor run far ahead, however fast or slow the machine. Returns what the
/// sidecar recorded.
fn interrupted_get(server: &TestServer, out: &Path, at_least: u64) -> u64 {
    let big = file_url(FILES, BIG);
    let mut held_from = at_least;
    server.hold_ranges_from(&big, held_from);
    let mut child = get_command(server, FILES, out, &["--parallel-ranges", "2"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sidecar = out.join("output_big.dat.part.json");
    let done = |text: &[u8]| -> u64 {
        let v: serde_json::Value = serde_json::from_slice(text).unwrap();
        v["done"].as_u64().unwrap()
    };
    loop {
        // Both ranges in flight wait at the hold: every block below it is fetched, and, the
        // next range being asked only after the last completion was handled, recorded if due.
        wait_for("the get's two ranges to wait at the hold", || {
            assert!(child.try_wait().unwrap().is_none(), "get ended too soon");
            let held = ranges_of(server, &big);
            held.iter().filter(|&&(a, _)| a >= held_from).count() >= 2
        });
        let recorded = std::fs::read(&sidecar).is_ok_and(|text| done(&text) >= at_least);
        if recorded && out.join("output_bin.bin").exists() {
            break;
        }
        // The get records its progress when a block completes at least 500 ms after its last
        // record (SAVE_EVERY in get/download.rs): after this wait, the next block is recorded.
        std::thread::sleep(Duration::from_millis(600));
        held_from += 1 << 20;
        server.hold_ranges_from(&big, held_from);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    server.release_ranges();
    assert!(
        !out.join("output_big.dat").exists(),
        "no file before it is whole"
    );
    assert!(out.join("output_big.dat.part").exists());
    done(&std::fs::read(&sidecar).unwrap())
}

#[test]
fn an_interrupted_get_resumes_with_only_the_missing_bytes() {
    let size = 24u64 << 20;
    let (_rt, server) = start_server(ServerConfig {
        big_file_size: size,
        ..Default::default()
    });
    let out = tempfile::tempdir().unwrap();
    let kept = interrupted_get(&server, out.path(), 3 << 20);
    assert!(kept < size, "interrupted before the end ({kept})");

    server.clear_requests();
    let run = get(&server, FILES, out.path(), &[]);
    assert!(run.status.success(), "{run:?}");
    let big = file_url(FILES, BIG);
    let mut ranges = ranges_of(&server, &big);
    ranges.sort();
    assert!(!ranges.is_empty());
    assert!(
        ranges.iter().all(|&(a, _)| a >= kept),
        "a range before the {kept} bytes kept: {ranges:?}"
    );
    let asked: u64 = ranges.iter().map(|(a, b)| b - a).sum();
    assert_eq!(asked, size - kept, "only the rest was fetched, once");
    assert_eq!(
        std::fs::read(out.path().join("output_big.dat")).unwrap(),
        server.file_bytes(&big, 0, size).unwrap()
    );
    // Files completed by the first run are not fetched again.
    assert_eq!(gets_of(&server, &file_url(FILES, BIN)), 0);
    assert!(!out.path().join("output_big.dat.part").exists());
    assert!(!out.path().join("output_big.dat.part.json").exists());
}

#[test]
fn a_file_changed_between_runs_is_fetched_whole() {
    let size = 16u64 << 20;
    let (_rt, server) = start_server(ServerConfig {
        big_file_size: size,
        ..Default::default()
    });
    let out = tempfile::tempdir().unwrap();
    let big = file_url(FILES, BIG);
    let old = server.file_bytes(&big, 0, size).unwrap();
    let kept = interrupted_get(&server, out.path(), 2 << 20);
    assert!(kept > 0);

    // The partial download's version is gone: the rerun starts that file from byte 0.
    server.bump_file_version(&big);
    server.clear_requests();
    let run = get(&server, FILES, out.path(), &[]);
    assert!(run.status.success(), "{run:?}");
    let ranges = ranges_of(&server, &big);
    assert!(ranges.iter().any(|&(a, _)| a == 0), "{ranges:?}");
    assert_eq!(ranges.iter().map(|(a, b)| b - a).sum::<u64>(), size);
    let new = server.file_bytes(&big, 0, size).unwrap();
    assert_ne!(old, new);
    assert_eq!(
        std::fs::read(out.path().join("output_big.dat")).unwrap(),
        new
    );

    // A complete file that changed is fetched again; unchanged ones are not.
    let bin = file_url(FILES, BIN);
    server.bump_file_version(&bin);
    server.clear_requests();
    let run = get(&server, FILES, out.path(), &[]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(gets_of(&server, &big), 0);
    assert!(gets_of(&server, &bin) > 0);
    assert_eq!(
        std::fs::read(out.path().join("output_bin.bin")).unwrap(),
        server.file_bytes(&bin, 0, u64::MAX).unwrap()
    );
}

#[test]
fn failures_exit_non_zero_and_are_named() {
    let (_rt, server) = start_server(ServerConfig {
        big_file_size: 1 << 20,
        ..Default::default()
    });
    let out = tempfile::tempdir().unwrap();
    let run = get(&server, "no-such-job", &out.path().join("x"), &[]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no job no-such-job"), "{stderr}");
    assert!(
        !out.path().join("x").exists(),
        "nothing made for an unknown job"
    );

    // Every href now points where the host answers 404.
    server.set_files_url(Some(format!("{}/moved", server.base_url())));
    let run = get(&server, FILES, out.path(), &[]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    for name in ["output_big.dat", "output_text.txt", "files/a.json"] {
        assert!(last.contains(name), "{name} not named in {last:?}");
    }
    assert!(last.contains("not found"), "{last}");
    // What could be written was written.
    assert!(out.path().join(".job/status.json").is_file());
    assert_eq!(
        std::fs::read(out.path().join("summary")).unwrap(),
        b"2 files\n"
    );
    assert!(!out.path().join("output_big.dat").exists());
}

#[test]
fn progress_is_drawn_when_asked_and_a_rerun_skips_complete_files() {
    let (_rt, server) = start_server(ServerConfig {
        big_file_size: 2 << 20,
        ..Default::default()
    });
    let out = tempfile::tempdir().unwrap();
    let run = get(&server, FILES, out.path(), &["--progress"]);
    assert!(run.status.success(), "{run:?}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("total"), "{stderr}");
    assert!(stderr.contains("2.00 MiB"), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("0 already there"), "{last}");

    let run = get(&server, FILES, out.path(), &["--progress"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    // The nine href files are there; literals and .job/ documents are written again.
    assert!(last.contains(" 9 already there"), "{last}");
}

#[test]
fn a_download_is_checked_against_the_servers_digest() {
    let (_rt, server) = start_server(ServerConfig {
        big_file_size: 3 << 20,
        ..Default::default()
    });
    server.set_digests(Digests::Correct);
    let out = tempfile::tempdir().unwrap();
    let run = get(&server, FILES, out.path(), &[]);
    assert!(run.status.success(), "{run:?}");
    let big = std::fs::read(out.path().join("output_big.dat")).unwrap();
    assert!(
        big == server
            .file_bytes(&file_url(FILES, BIG), 0, u64::MAX)
            .unwrap()
    );
    // A digest the bytes do not have: the run fails naming it, and keeps no such file.
    server.set_digests(Digests::Wrong);
    let out = tempfile::tempdir().unwrap();
    let run = get(&server, FILES, out.path(), &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{run:?}");
    assert!(stderr.contains("digest mismatch"), "{stderr}");
    assert!(!out.path().join("output_big.dat").exists());
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("output_big"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
