//! The release that scripts/release.sh builds into dist/ (scripts/test.sh runs it once, before
//! the tests; `WEAVERFS_DIST` names another directory): the tarball's binary needs no glibc
//! newer than 2.17, mounts the sample server here, and fetches a job and mounts on an older real
//! glibc (a Debian 11 root made by debootstrap); the .deb installs, mounts through `mount -t weaverfs` and its
//! helper link, and removes without a trace; the .rpm lists the same files and requires fuse3;
//! scripts/install.sh installs the tarball into a user's home with no root, and names the line an
//! admin must run, for apt-get, dnf, yum and zypper.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{is_mounted, start_server};
use weaverfs_server::{jobs, ServerConfig, TestServer};

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The glibc the release binary is linked against (scripts/release.sh).
const GLIBC: (u32, u32) = (2, 17);
/// The unprivileged user scripts/test.sh adds for the run.
const USER: &str = "weaverfs-test";

fn dist() -> PathBuf {
    std::env::var_os("WEAVERFS_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("dist"))
}

/// A file of this version's release, or a failure that says how to make it.
fn artefact(name: &str) -> PathBuf {
    let path = dist().join(name);
    assert!(
        path.is_file(),
        "no {}: run scripts/release.sh (scripts/test.sh runs it before the tests)",
        path.display()
    );
    path
}

fn tarball_name() -> String {
    format!("weaverfs-{VERSION}-x86_64-linux.tar.gz")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    ok(cmd.stdin(Stdio::null()).output().expect("runs"), &what)
}

/// The sample server's text output: its path in a mount (or a `get` directory) and its bytes.
fn text_file(server: &TestServer) -> (String, Vec<u8>) {
    let served = format!("/wpsoutputs/{}/output_text/result.txt", jobs::FILES);
    let size = server.file_size(&served).unwrap();
    (
        format!("{}/output_text.txt", jobs::FILES),
        server.file_bytes(&served, 0, size).unwrap(),
    )
}

/// Unmounts (lazily) whatever is still mounted at the path when a test ends, failed or not.
struct UnmountOnDrop(PathBuf);

impl Drop for UnmountOnDrop {
    fn drop(&mut self) {
        if is_mounted(&self.0) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// The tarball, checked against its .sha256 and unpacked into a temporary directory.
fn unpacked_tarball() -> tempfile::TempDir {
    let tarball = artefact(&tarball_name());
    run(Command::new("sha256sum")
        .args(["--quiet", "-c"])
        .arg(format!("{}.sha256", tarball_name()))
        .current_dir(dist()));
    let dir = tempfile::tempdir().unwrap();
    run(Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        .args(["--strip-components=1", "-xzf"])
        .arg(&tarball));
    dir
}

/// Every glibc version the binary's dynamic symbols ask for (`GLIBC_2.14` → (2, 14)).
fn glibc_versions(bin: &Path) -> BTreeSet<(u32, u32)> {
    let table = run(Command::new("objdump").arg("-T").arg(bin));
    table
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .collect()
}

#[test]
fn the_tarball_has_the_binary_man_page_completions_and_docs() {
    let dir = unpacked_tarball();
    for rel in [
        "bin/weaverfs",
        "share/man/man1/weaverfs.1.gz",
        "share/bash-completion/completions/weaverfs",
        "share/zsh/site-functions/_weaverfs",
        "share/fish/vendor_completions.d/weaverfs.fish",
        "share/doc/weaverfs/README.md",
        "share/doc/weaverfs/LICENSE",
    ] {
        let meta = fs::metadata(dir.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(meta.len() > 0, "{rel} is empty");
    }
    let bin = dir.path().join("bin/weaverfs");
    assert_eq!(
        fs::metadata(&bin).unwrap().permissions().mode() & 0o755,
        0o755
    );
    let version = run(Command::new(&bin).arg("--version"));
    assert!(
        version.starts_with(&format!("weaverfs {VERSION} ")),
        "{version}"
    );
    // The man page is this binary's, not a stale one.
    let man = run(Command::new("zcat").arg(dir.path().join("share/man/man1/weaverfs.1.gz")));
    assert_eq!(man, run(Command::new(&bin).arg("man")));
}

#[test]
fn the_tarball_binary_needs_glibc_2_17_at_most_and_mounts_reads_and_unmounts_here() {
    let dir = unpacked_tarball();
    let bin = dir.path().join("bin/weaverfs");
    let versions = glibc_versions(&bin);
    assert!(!versions.is_empty(), "objdump -T found no GLIBC_ symbol");
    let newest = *versions.last().unwrap();
    assert!(
        newest <= GLIBC,
        "the release binary needs GLIBC_{}.{}: {versions:?}",
        newest.0,
        newest.1
    );

    let (_rt, server) = start_server(ServerConfig::default());
    let (rel, bytes) = text_file(&server);
    let mnt = tempfile::tempdir().unwrap();
    let _cleanup = UnmountOnDrop(mnt.path().to_path_buf());
    // Returns once mounted (the daemon serves in the background).
    run(Command::new(&bin)
        .arg("mount")
        .arg(server.api_url())
        .arg(mnt.path()));
    assert!(is_mounted(mnt.path()));
    assert_eq!(fs::read(mnt.path().join(&rel)).unwrap(), bytes);
    run(Command::new(&bin).arg("unmount").arg(mnt.path()));
    assert!(!is_mounted(mnt.path()));
}

// ---- a real old glibc ------------------------------------------------------------------------

/// A Debian 11 root (glibc 2.31, older than the 2.36 of the machine that builds) made by
/// debootstrap from Debian's mirror once (signatures checked), kept under target/old-glibc/.
fn old_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/old-glibc/bullseye");
    // ca-certificates: the HTTP client loads the system's CA roots when it is built, as it
    // would on any real machine.
    if !root.join("etc/ssl/certs/ca-certificates.crt").exists() {
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.parent().unwrap()).unwrap();
        run(Command::new("debootstrap")
            .args(["--variant=minbase", "--include=ca-certificates", "bullseye"])
            .arg(&root));
    }
    root
}

#[test]
fn the_tarball_binary_gets_a_job_and_mounts_on_an_older_glibc_system() {
    let dir = unpacked_tarball();
    let root = old_root();
    let ldd = run(Command::new("chroot").arg(&root).args(["ldd", "--version"]));
    assert!(ldd.contains("2.31"), "{ldd}");

    // The binary and an output directory inside the root; the server on this machine's loopback,
    // which the chroot shares.
    let work = tempfile::tempdir_in(root.join("tmp")).unwrap();
    let inside = |p: &Path| Path::new("/").join(p.strip_prefix(&root).unwrap());
    fs::copy(
        dir.path().join("bin/weaverfs"),
        work.path().join("weaverfs"),
    )
    .unwrap();
    let (_rt, server) = start_server(ServerConfig::default());
    let (rel, bytes) = text_file(&server);
    let version = run(Command::new("chroot")
        .arg(&root)
        .arg(inside(&work.path().join("weaverfs")))
        .arg("--version"));
    assert!(
        version.starts_with(&format!("weaverfs {VERSION} ")),
        "{version}"
    );
    run(Command::new("chroot")
        .arg(&root)
        .arg(inside(&work.path().join("weaverfs")))
        .args(["get", "-q", &server.api_url(), jobs::FILES, "-o"])
        .arg(inside(&work.path().join("out"))));
    let got = rel.strip_prefix(&format!("{}/", jobs::FILES)).unwrap();
    assert_eq!(fs::read(work.path().join("out").join(got)).unwrap(), bytes);

    // And it mounts there: the FUSE session, from a process that sees only the old root.
    let _dev = ChrootDevices::set_up(&root);
    let mnt = work.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let _cleanup = UnmountOnDrop(mnt.clone());
    let w = inside(&work.path().join("weaverfs"));
    run(Command::new("chroot")
        .arg(&root)
        .arg(&w)
        .args(["mount", &server.api_url()])
        .arg(inside(&mnt)));
    assert!(is_mounted(&mnt));
    assert_eq!(fs::read(mnt.join(&rel)).unwrap(), bytes);
    run(Command::new("chroot")
        .arg(&root)
        .arg(&w)
        .arg("unmount")
        .arg(inside(&mnt)));
    assert!(!is_mounted(&mnt));
}

/// /proc and /dev/fuse in the old root for one test (debootstrap leaves neither), removed after.
struct ChrootDevices(PathBuf);

impl ChrootDevices {
    fn set_up(root: &Path) -> ChrootDevices {
        let dev = ChrootDevices(root.to_path_buf());
        run(Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(root.join("proc")));
        let _ = fs::remove_file(root.join("dev/fuse"));
        run(Command::new("mknod")
            .args(["-m", "666"])
            .arg(root.join("dev/fuse"))
            .args(["c", "10", "229"]));
        dev
    }
}

impl Drop for ChrootDevices {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.0.join("proc"))
            .status();
        let _ = fs::remove_file(self.0.join("dev/fuse"));
    }
}

// ---- the .deb ----------------------------------------------------------------------------------

/// dpkg, waiting while another dpkg or apt holds the lock (the machine may be shared).
fn dpkg(args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = Command::new("dpkg").args(args).output().expect("dpkg runs");
        let locked = String::from_utf8_lossy(&out.stderr).contains("lock");
        if out.status.success() || !locked || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn deb_installed(name: &str) -> bool {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", name])
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout) == "installed"
}

/// The package's files (not its directories), as installed paths: `dpkg-deb -c` lines end in
/// `./usr/bin/weaverfs` or `./sbin/mount.weaverfs -> /usr/bin/weaverfs`.
fn deb_files(deb: &Path) -> Vec<PathBuf> {
    run(Command::new("dpkg-deb").arg("-c").arg(deb))
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| Path::new("/").join(p.trim_start_matches("./")))
        .collect()
}

/// Installs the .deb for one test, and puts the machine back as it was: the package removed
/// if the test did not, and files it replaced (the mount helper links tests/lifecycle.rs
/// leaves in /sbin) restored.
struct InstalledDeb {
    moved: Vec<(PathBuf, PathBuf)>,
}

impl InstalledDeb {
    fn install(deb: &Path) -> InstalledDeb {
        assert!(
            !deb_installed("weaverfs"),
            "a weaverfs package is installed on this machine; this test installs and removes \
             its own: dpkg -r weaverfs first"
        );
        let mut moved = Vec::new();
        for path in deb_files(deb) {
            if path.symlink_metadata().is_ok() {
                let aside = path.with_file_name(format!(
                    ".{}.before-release-test",
                    path.file_name().unwrap().to_string_lossy()
                ));
                fs::rename(&path, &aside).unwrap();
                moved.push((aside, path));
            }
        }
        let guard = InstalledDeb { moved };
        ok(dpkg(&["-i", deb.to_str().unwrap()]), "dpkg -i");
        guard
    }
}

impl Drop for InstalledDeb {
    fn drop(&mut self) {
        if deb_installed("weaverfs") {
            let _ = dpkg(&["-r", "weaverfs"]);
        }
        for (aside, path) in &self.moved {
            let _ = fs::rename(aside, path);
        }
    }
}

#[test]
fn the_deb_installs_mounts_with_mount_t_weaverfs_and_removes_cleanly() {
    let deb = artefact(&format!("weaverfs_{VERSION}-1_amd64.deb"));
    let files = deb_files(&deb);
    for want in [
        "/usr/bin/weaverfs",
        "/sbin/mount.weaverfs",
        "/sbin/mount.fuse.weaverfs",
        "/usr/share/man/man1/weaverfs.1.gz",
        "/usr/share/bash-completion/completions/weaverfs",
        "/usr/share/zsh/vendor-completions/_weaverfs",
        "/usr/share/fish/vendor_completions.d/weaverfs.fish",
    ] {
        assert!(
            files.contains(&PathBuf::from(want)),
            "{want} not in {files:?}"
        );
    }
    let fields = run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Depends"));
    assert!(fields.contains("fuse3"), "Depends: {fields}");

    let installed = InstalledDeb::install(&deb);
    assert_eq!(
        fs::read_link("/sbin/mount.weaverfs").unwrap(),
        Path::new("/usr/bin/weaverfs")
    );
    // The packaged binary is the release's glibc-2.17 one.
    let tar = unpacked_tarball();
    assert_eq!(
        fs::read("/usr/bin/weaverfs").unwrap(),
        fs::read(tar.path().join("bin/weaverfs")).unwrap()
    );

    let (_rt, server) = start_server(ServerConfig::default());
    let (rel, bytes) = text_file(&server);
    let mnt = tempfile::tempdir().unwrap();
    let _cleanup = UnmountOnDrop(mnt.path().to_path_buf());
    run(Command::new("mount")
        .args(["-t", "weaverfs", &server.api_url()])
        .arg(mnt.path())
        .args(["-o", "allow_other,cache_size=64M"]));
    assert!(is_mounted(mnt.path()));
    assert_eq!(fs::read(mnt.path().join(&rel)).unwrap(), bytes);
    run(Command::new("umount").arg(mnt.path()));
    assert!(!is_mounted(mnt.path()));

    ok(dpkg(&["-r", "weaverfs"]), "dpkg -r");
    let left: Vec<_> = files
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    assert!(left.is_empty(), "dpkg -r left {left:?}");
    assert!(!deb_installed("weaverfs"));
    drop(installed);
}

// ---- the .rpm ----------------------------------------------------------------------------------

fn rpm_query(rpm: &Path, args: &[&str]) -> String {
    run(Command::new("rpm").arg("-qp").args(args).arg(rpm))
}

#[test]
fn the_rpm_lists_the_binary_links_man_page_completions_and_requires_fuse3() {
    let rpm = artefact(&format!("weaverfs-{VERSION}-1.x86_64.rpm"));
    // Every file with what it links to ("" for none) and its SHA-256.
    let listing = rpm_query(
        &rpm,
        &["--qf", "[%{FILENAMES}\t%{FILELINKTOS}\t%{FILEDIGESTS}\n]"],
    );
    let files: Vec<(&str, &str, &str)> = listing
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, f.next()?, f.next()?))
        })
        .collect();
    let names: BTreeSet<&str> = files.iter().map(|f| f.0).collect();
    assert_eq!(
        names,
        run(Command::new("rpm").arg("-qlp").arg(&rpm))
            .lines()
            .collect()
    );
    for want in [
        "/usr/bin/weaverfs",
        "/usr/sbin/mount.weaverfs",
        "/usr/sbin/mount.fuse.weaverfs",
        "/usr/share/man/man1/weaverfs.1.gz",
        "/usr/share/bash-completion/completions/weaverfs",
        "/usr/share/zsh/site-functions/_weaverfs",
        "/usr/share/fish/vendor_completions.d/weaverfs.fish",
    ] {
        assert!(names.contains(want), "{want} not in {names:?}");
    }
    for link in ["/usr/sbin/mount.weaverfs", "/usr/sbin/mount.fuse.weaverfs"] {
        let target = files.iter().find(|f| f.0 == link).unwrap().1;
        assert_eq!(target, "../bin/weaverfs", "{link}");
    }
    // The packaged binary is the release's glibc-2.17 one.
    let tar = unpacked_tarball();
    let digest = run(Command::new("sha256sum").arg(tar.path().join("bin/weaverfs")));
    let packaged = files.iter().find(|f| f.0 == "/usr/bin/weaverfs").unwrap().2;
    assert_eq!(digest.split_whitespace().next(), Some(packaged));

    let requires = rpm_query(&rpm, &["--requires"]);
    assert!(requires.lines().any(|l| l.trim() == "fuse3"), "{requires}");
    // rpmbuild's own scan of the binary: no libc requirement newer than 2.17 either.
    for line in requires.lines().filter(|l| l.contains("GLIBC_")) {
        let v = line
            .split("GLIBC_")
            .nth(1)
            .unwrap()
            .trim_end_matches(")(64bit)");
        let mut parts = v.split('.').map(|n| n.parse::<u32>().unwrap());
        let version = (parts.next().unwrap(), parts.next().unwrap_or(0));
        assert!(version <= GLIBC, "the rpm requires {line}");
    }
}

// ---- scripts/install.sh ------------------------------------------------------------------------

/// A copy of scripts/install.sh and the release tarball where `USER` can read them, and a home
/// that user owns.
struct UserSandbox {
    dir: tempfile::TempDir,
}

impl UserSandbox {
    fn new() -> UserSandbox {
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        fs::create_dir_all(dir.path().join("repo/scripts")).unwrap();
        fs::copy(
            repo.join("scripts/install.sh"),
            dir.path().join("repo/scripts/install.sh"),
        )
        .unwrap();
        for name in [tarball_name(), format!("{}.sha256", tarball_name())] {
            fs::copy(artefact(&name), dir.path().join(&name)).unwrap();
        }
        fs::create_dir_all(dir.path().join("home")).unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        run(Command::new("chown")
            .args(["-R", &format!("{USER}:")])
            .arg(dir.path()));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        UserSandbox { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A directory for the PATH of the run: `tools` linked from this machine, and `fakes`
    /// (name, shell script) standing in for the rest.
    fn bin_dir(&self, tools: &[&str], fakes: &[(&str, &str)]) -> PathBuf {
        let bin = self.dir.path().join("bin");
        for tool in tools {
            let real = run(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
            std::os::unix::fs::symlink(real.trim(), bin.join(tool)).unwrap();
        }
        for (name, script) in fakes {
            fs::write(bin.join(name), format!("#!/bin/sh\n{script}\n")).unwrap();
            fs::set_permissions(bin.join(name), fs::Permissions::from_mode(0o755)).unwrap();
        }
        bin
    }

    /// scripts/install.sh --from-tarball as `USER`, with this PATH.
    fn install(&self, path: &str) -> Output {
        Command::new("runuser")
            .args(["-u", USER, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home().display()))
            .arg(format!("PATH={path}"))
            .arg("/bin/bash")
            .arg(self.dir.path().join("repo/scripts/install.sh"))
            .arg("--from-tarball")
            .arg(self.dir.path().join(tarball_name()))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// A command as `USER`, with the sandbox's home as HOME.
    fn as_user(&self, args: &[&str]) -> Output {
        Command::new("runuser")
            .args(["-u", USER, "--", "env"])
            .arg(format!("HOME={}", self.home().display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// What scripts/install.sh runs, besides what the test fakes.
const INSTALL_TOOLS: &[&str] = &[
    "bash",
    "dirname",
    "basename",
    "id",
    "mktemp",
    "tar",
    "gzip",
    "sha256sum",
    "cp",
    "mkdir",
    "rm",
    "sed",
];

#[test]
fn install_sh_puts_the_tarball_in_a_users_home_without_root_and_it_mounts() {
    let sb = UserSandbox::new();
    // This machine has fusermount3; sudo is a fake that leaves a mark if anything calls it.
    let mark = sb.dir.path().join("sudo-was-called");
    let bin = sb.bin_dir(
        &[],
        &[("sudo", &format!("touch {}; exit 1", mark.display()))],
    );
    let out = sb.install(&format!("{}:/usr/bin:/bin", bin.display()));
    let stderr = ok(out.clone(), "install.sh --from-tarball as a user")
        + &String::from_utf8_lossy(&out.stderr);
    assert!(!mark.exists(), "install.sh called sudo: {stderr}");
    let local = sb.home().join(".local");
    assert!(
        stderr.contains(&format!("export PATH=\"{}/bin:$PATH\"", local.display())),
        "no PATH line: {stderr}"
    );
    for rel in [
        "bin/weaverfs",
        "share/man/man1/weaverfs.1.gz",
        "share/bash-completion/completions/weaverfs",
    ] {
        let meta = fs::metadata(local.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(meta.uid(), uid_of(USER), "{rel} is not the user's");
    }

    // The user mounts with it, through fusermount3, and unmounts.
    let (_rt, server) = start_server(ServerConfig::default());
    let (rel, bytes) = text_file(&server);
    let mnt = sb.home().join("mnt");
    let weaverfs = local.join("bin/weaverfs");
    ok(sb.as_user(&["mkdir", mnt.to_str().unwrap()]), "mkdir");
    let _cleanup = UnmountOnDrop(mnt.clone());
    let w = weaverfs.to_str().unwrap();
    ok(
        sb.as_user(&[w, "mount", &server.api_url(), mnt.to_str().unwrap()]),
        "mount as the user",
    );
    let cat = ok(
        sb.as_user(&["cat", mnt.join(&rel).to_str().unwrap()]),
        "cat as the user",
    );
    assert_eq!(cat.as_bytes(), bytes);
    ok(
        sb.as_user(&[w, "unmount", mnt.to_str().unwrap()]),
        "unmount as the user",
    );
    assert!(!is_mounted(&mnt));
}

fn uid_of(user: &str) -> u32 {
    run(Command::new("id").args(["-u", user]))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn install_sh_without_root_or_sudo_names_the_admin_line_and_installs_what_it_can() {
    let sb = UserSandbox::new();
    // A dnf machine without fuse3 (no fusermount3 on the PATH) and without sudo.
    let bin = sb.bin_dir(INSTALL_TOOLS, &[("dnf", "exit 0")]);
    let out = sb.install(bin.to_str().unwrap());
    let stderr = ok(out.clone(), "install.sh") + &String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("an admin must run (as root): dnf install -y fuse3"),
        "{stderr}"
    );
    let weaverfs = sb.home().join(".local/bin/weaverfs");
    let version = ok(
        sb.as_user(&[weaverfs.to_str().unwrap(), "--version"]),
        "--version",
    );
    assert!(
        version.starts_with(&format!("weaverfs {VERSION} ")),
        "{version}"
    );
}

#[test]
fn install_sh_names_each_package_managers_line() {
    let tools = ["bash", "dirname", "id"];
    let cases = [
        (
            "apt-get",
            "apt-get update && apt-get install -y fuse3 gcc libc6-dev",
        ),
        ("dnf", "dnf install -y fuse3 gcc"),
        ("yum", "yum install -y fuse3 gcc"),
        ("zypper", "zypper --non-interactive install fuse3 gcc"),
    ];
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh");
    let line = |bin: &Path| {
        run(Command::new("/bin/bash")
            .arg(&script)
            .arg("--print-admin-line")
            .env_clear()
            .env("PATH", bin))
    };
    for (manager, want) in cases {
        let bin = tempfile::tempdir().unwrap();
        // cargo is there (a build from source), a compiler and fusermount3 are not.
        for fake in [manager, "cargo"] {
            fs::write(bin.path().join(fake), "#!/bin/sh\n").unwrap();
            fs::set_permissions(bin.path().join(fake), fs::Permissions::from_mode(0o755)).unwrap();
        }
        for tool in tools {
            let real = run(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
            std::os::unix::fs::symlink(real.trim(), bin.path().join(tool)).unwrap();
        }
        assert_eq!(line(bin.path()).trim(), want, "{manager}");
        // With a compiler and fusermount, nothing to install: no root needed.
        for present in ["cc", "fusermount"] {
            fs::write(bin.path().join(present), "#!/bin/sh\n").unwrap();
            fs::set_permissions(bin.path().join(present), fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        assert_eq!(
            line(bin.path()).trim(),
            "",
            "{manager} with cc and fusermount"
        );
    }
}
