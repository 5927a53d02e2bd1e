//! Scripts run as root in a user's checkout (`sudo scripts/test.sh`, `sudo scripts/install.sh`,
//! `sudo scripts/release.sh`) leave what they make there to the checkout's owner
//! (scripts/checkout-owner.sh). The owner here is `nobody`; the build tools are stand-ins, so
//! each run takes a second and shows only who owns the files.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const NOBODY: u32 = 65534;

/// A checkout owned by `nobody` holding copies of `scripts`, and a directory of stand-in tools.
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    fn new(scripts: &[&str]) -> Checkout {
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        fs::create_dir_all(dir.path().join("repo/scripts")).unwrap();
        for name in scripts.iter().chain(&["checkout-owner.sh"]) {
            let to = dir.path().join("repo/scripts").join(name);
            fs::copy(repo.join("scripts").join(name), to).unwrap();
        }
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        let status = Command::new("chown")
            .args(["-R", &format!("{NOBODY}:{NOBODY}")])
            .arg(dir.path().join("repo"))
            .status()
            .unwrap();
        assert!(status.success());
        Checkout { dir }
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// A stand-in for a tool, first on the PATH of [`Checkout::run`].
    fn tool(&self, name: &str, script: &str) {
        let path = self.dir.path().join("bin").join(name);
        fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `bash -c COMMAND` as root in the checkout, as sudo would run it for its owner.
    fn run(&self, command: &str) -> Output {
        Command::new("env")
            .arg("-i")
            .arg(format!(
                "PATH={}:/usr/bin:/bin",
                self.dir.path().join("bin").display()
            ))
            .arg(format!("HOME={}", self.dir.path().display()))
            .arg(format!(
                "CARGO_HOME={}",
                self.dir.path().join("cargo").display()
            ))
            .args(["SUDO_UID=65534", "SUDO_GID=65534", "SUDO_USER=nobody"])
            .args(["/bin/bash", "-c", command])
            .current_dir(self.repo())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Every path under `rel` (itself included) that `nobody` does not own.
    fn not_the_owners(&self, rel: &str) -> Vec<String> {
        let mut wrong = Vec::new();
        let mut todo = vec![self.repo().join(rel)];
        while let Some(path) = todo.pop() {
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.uid() != NOBODY || meta.gid() != NOBODY {
                wrong.push(format!(
                    "{} ({}:{})",
                    path.display(),
                    meta.uid(),
                    meta.gid()
                ));
            }
            if meta.is_dir() {
                todo.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
        }
        wrong
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn what_root_makes_in_a_users_checkout_goes_back_to_the_user() {
    let c = Checkout::new(&[]);
    let outside = c.dir.path().join("outside");
    fs::write(&outside, "root's").unwrap();
    let out = c.run(&format!(
        ". scripts/checkout-owner.sh && mkdir -p target/release dist && touch target/release/x \
         dist/y && ln -s {} dist/link && give_checkout_back target dist not-made",
        outside.display()
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(c.not_the_owners("target"), Vec::<String>::new());
    assert_eq!(c.not_the_owners("dist"), Vec::<String>::new());
    // A link is given back, not what it points to.
    assert_eq!(fs::metadata(&outside).unwrap().uid(), 0);

    // In root's own checkout nothing changes hands.
    let theirs = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". {}/scripts/checkout-owner.sh && mkdir dist && give_checkout_back dist",
            c.repo().display()
        ))
        .current_dir(theirs.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fs::metadata(theirs.path().join("dist")).unwrap().uid(), 0);
}

#[test]
fn install_sh_from_source_as_root_leaves_target_to_the_checkouts_owner() {
    let c = Checkout::new(&["install.sh"]);
    // fuse3 and a compiler are there, so nothing is installed; cargo builds into target/.
    c.tool("fusermount3", "exit 0");
    c.tool("cc", "exit 0");
    c.tool(
        "cargo",
        r#"mkdir -p target/release/deps "$CARGO_HOME/bin" && touch target/release/deps/lib.rlib &&
           printf '#!/bin/sh\necho weaverfs 0.0.0\n' > "$CARGO_HOME/bin/weaverfs" &&
           chmod +x "$CARGO_HOME/bin/weaverfs""#,
    );
    let out = c.run("scripts/install.sh");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("weaverfs 0.0.0 installed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(c.not_the_owners("target"), Vec::<String>::new());

    // A failed build too.
    c.tool("cargo", "mkdir -p target/release/incremental; exit 101");
    let out = c.run("scripts/install.sh");
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    assert_eq!(c.not_the_owners("target"), Vec::<String>::new());
}

#[test]
fn release_sh_as_root_leaves_target_and_dist_to_the_checkouts_owner_even_when_it_fails() {
    let c = Checkout::new(&["release.sh"]);
    // Its tools already there (the checkout's), the build writes target/ and dist/ and fails.
    let tools = c.repo().join("target/release-tools");
    fs::create_dir_all(tools.join("venv/bin")).unwrap();
    fs::create_dir_all(tools.join("bin")).unwrap();
    for tool in ["venv/bin/cargo-zigbuild", "bin/cargo-deb"] {
        fs::write(tools.join(tool), "#!/bin/sh\n").unwrap();
        fs::set_permissions(tools.join(tool), fs::Permissions::from_mode(0o755)).unwrap();
    }
    Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(c.repo().join("target"))
        .status()
        .unwrap();
    c.tool("rpmbuild", "exit 0");
    c.tool(
        "cargo",
        "mkdir -p target/x86_64-unknown-linux-gnu/release dist && touch dist/partial; exit 101",
    );
    let out = c.run("scripts/release.sh");
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    assert_eq!(c.not_the_owners("target"), Vec::<String>::new());
    assert_eq!(c.not_the_owners("dist"), Vec::<String>::new());
}
