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
pub fn translate(args: &[OsString]) -> Result<Request, String> {
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
                        _ => return Err(format!("unknown mount helper flag -{flag}")),
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
    for opt in options.iter().flat_map(|o| o.split(',')) {
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v)),
            None => (opt.trim(), None),
        };
        if name.is_empty() || ignored(name) {
            continue;
        }
        argv.push(format!("--{}", name.replace('_', "-")).into());
        if let Some(value) = value {
            argv.push(value.into());
        }
    }
    Ok(Request::Mount(argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    fn mount(s: &str) -> Vec<String> {
        match translate(&args(s)).unwrap() {
            Request::Mount(argv) => argv.into_iter().map(|a| a.into_string().unwrap()).collect(),
            Request::Fake => panic!("fake"),
        }
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
