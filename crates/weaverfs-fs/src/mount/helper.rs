//! `mount.weaverfs`: the helper mount(8) runs for `mount -t weaverfs` (and `fuse.weaverfs`) and
//! for fstab lines, as `mount.weaverfs SOURCE DIR [-sfnv] [-o opts] [-t type]`. It is the
//! weaverfs binary under another name (a symlink); the arguments become a `weaverfs mount`
//! command line, each `-o name=value` becoming `--name value`.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The names mount(8) looks for: `mount.TYPE`, with TYPE `weaverfs` or `fuse.weaverfs`.
pub fn is_helper_name(argv0: &OsStr) -> bool {
    let name = Path::new(argv0).file_name().unwrap_or(argv0);
    name == "mount.weaverfs" || name == "mount.fuse.weaverfs"
}

/// What mount(8) asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Run `weaverfs` with these arguments (`argv[0]` included).
    Mount(Vec<OsString>),
    /// `-f` (fake): do everything but mount, i.e. nothing.
    Fake,
    /// `-h`, `--help`: print the helper's usage.
    Help,
}

/// What the `weaverfs mount` option behind an `-o NAME` is: `Some(true)` if it takes a value,
/// `Some(false)` for a flag, `None` if there is none.
pub type KnownOption<'a> = &'a dyn Fn(&str) -> Option<bool>;

/// `-o` options (`allow_other,cache_size=1G`) as `weaverfs mount` flags (`--allow-other
/// --cache-size 1G`), checked against `known` so that a mistake is named in `-o` terms.
pub fn option_flags(opts: &str, known: KnownOption) -> Result<Vec<OsString>, String> {
    let mut argv = Vec::new();
    for opt in opts.split(',') {
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v)),
            None => (opt.trim(), None),
        };
        if name.is_empty() || ignored(name) {
            continue;
        }
        let flag = name.replace('_', "-");
        match (known(&flag), value) {
            (None, _) => {
                let squashed = |s: &str| s.replace(['_', '-'], "");
                let hint = [
                    "cache-size",
                    "block-size",
                    "allow-other",
                    "log-file",
                    "file-mode",
                ]
                .into_iter()
                .find(|k| squashed(k) == squashed(name) && known(k).is_some())
                .map(|k| format!("; did you mean {}?", k.replace('-', "_")))
                .unwrap_or_default();
                return Err(format!("unknown mount option -o {opt}{hint}"));
            }
            (Some(true), None) => {
                return Err(format!("mount option -o {name} needs a value ({name}=...)"))
            }
            (Some(false), Some(_)) => {
                return Err(format!("mount option -o {name} takes no value (-o {name})"))
            }
            _ => {}
        }
        argv.push(format!("--{flag}").into());
        if let Some(value) = value {
            argv.push(value.into());
        }
    }
    Ok(argv)
}

/// Options mount(8), fstab or systemd pass that mean nothing here: they are for mount(8) itself
/// (`noauto`, `user`, `_netdev`, `nofail`, `x-systemd.*`...), or VFS flags the mount already
/// has or cannot have (it is always read-only, nodev, nosuid, noatime, default_permissions).
fn ignored(name: &str) -> bool {
    const IGNORED: &[&str] = &[
        "_netdev",
        "noauto",
        "auto",
        "user",
        "users",
        "nouser",
        "owner",
        "group",
        "nofail",
        "defaults",
        "ro",
        "rw",
        "atime",
        "noatime",
        "relatime",
        "strictatime",
        "nodiratime",
        "dev",
        "nodev",
        "suid",
        "nosuid",
        "exec",
        "noexec",
        "sync",
        "async",
        "default_permissions",
        "comment",
        "fsname",
        "subtype",
    ];
    IGNORED.contains(&name) || name.starts_with("x-")
}

/// Turns the helper's arguments (after `argv[0]`) into a `weaverfs mount` command line.
pub fn translate(args: &[OsString], known: KnownOption) -> Result<Request, String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Request::Help);
    }
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut verbose = false;
    let mut fake = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.to_str() {
            Some("-o") => {
                let opts = it.next().ok_or("-o needs a value")?;
                options.push(opts.to_str().ok_or("mount options must be UTF-8")?);
            }
            Some("-t") => {
                it.next().ok_or("-t needs a value")?;
            }
            Some(flags) if flags.starts_with('-') && flags.len() > 1 => {
                for flag in flags[1..].chars() {
                    match flag {
                        'v' => verbose = true,
                        'f' => fake = true,
                        's' | 'n' => {} // sloppy, no mtab: nothing to do
                        _ => {
                            return Err(format!(
                                "unknown flag -{flag} (mount.weaverfs URL DIR [-sfnv] [-o \
                                 options]; --help lists the options)"
                            ))
                        }
                    }
                }
            }
            _ => positional.push(arg.clone()),
        }
    }
    let [source, dir] = <[OsString; 2]>::try_from(positional)
        .map_err(|_| "usage: mount.weaverfs URL MOUNTPOINT [-o options]".to_string())?;
    if fake {
        return Ok(Request::Fake);
    }
    let mut argv: Vec<OsString> = vec!["weaverfs".into(), "mount".into(), source, dir];
    if verbose {
        argv.push("-v".into());
    }
    for opts in options {
        argv.extend(option_flags(opts, known)?);
    }
    Ok(Request::Mount(argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    /// The options of `weaverfs mount` these tests use: name, takes a value.
    fn known(name: &str) -> Option<bool> {
        let flags = ["allow-other", "plain-names"];
        let valued = [
            "uid",
            "gid",
            "cache-size",
            "read-ahead-blocks",
            "listing-ttl",
        ];
        (flags.contains(&name) || valued.contains(&name)).then(|| valued.contains(&name))
    }

    fn translate(args: &[OsString]) -> Result<Request, String> {
        super::translate(args, &known)
    }

    fn mount(s: &str) -> Vec<String> {
        match translate(&args(s)).unwrap() {
            Request::Mount(argv) => argv.into_iter().map(|a| a.into_string().unwrap()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn option_mistakes_are_named_in_option_terms() {
        let err = |s: &str| translate(&args(s)).unwrap_err();
        assert_eq!(
            err("u /m -o cachesize=64M"),
            "unknown mount option -o cachesize=64M; did you mean cache_size?"
        );
        assert!(err("u /m -o cache_size").contains("needs a value"));
        assert!(err("u /m -o allow_other=1").contains("takes no value"));
        assert_eq!(translate(&args("--help")), Ok(Request::Help));
        assert_eq!(translate(&args("u /m -h")), Ok(Request::Help));
    }

    #[test]
    fn options_become_long_flags_and_mount_only_options_are_dropped() {
        assert_eq!(
            mount(
                "https://h/w /mnt/w -o rw,noauto,_netdev,user,users,x-systemd.automount,\
                 allow_other,uid=1000,gid=100,cache_size=64M,read_ahead_blocks=4,plain_names"
            ),
            [
                "weaverfs",
                "mount",
                "https://h/w",
                "/mnt/w",
                "--allow-other",
                "--uid",
                "1000",
                "--gid",
                "100",
                "--cache-size",
                "64M",
                "--read-ahead-blocks",
                "4",
                "--plain-names"
            ]
        );
    }

    #[test]
    fn flags_and_types_are_understood() {
        assert_eq!(
            mount("-n -t fuse.weaverfs -sv https://h/w /m -o ro -o listing_ttl=5"),
            [
                "weaverfs",
                "mount",
                "https://h/w",
                "/m",
                "-v",
                "--listing-ttl",
                "5"
            ]
        );
        assert_eq!(translate(&args("https://h/w /m -f")), Ok(Request::Fake));
    }

    #[test]
    fn bad_calls_are_refused() {
        assert!(translate(&args("https://h/w")).is_err());
        assert!(translate(&args("a b c")).is_err());
        assert!(translate(&args("a b -o")).is_err());
        assert!(translate(&args("a b -q")).is_err());
    }

    #[test]
    fn helper_names() {
        assert!(is_helper_name(OsStr::new("/sbin/mount.weaverfs")));
        assert!(is_helper_name(OsStr::new("mount.fuse.weaverfs")));
        assert!(!is_helper_name(OsStr::new("/usr/bin/weaverfs")));
    }
}
