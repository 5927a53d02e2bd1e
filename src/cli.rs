//! Command-line options for how a mount is attached: foreground or daemon, logs, ownership,
//! modes and who may use it. (Part of the `weaverfs` binary, not the library.)

use std::path::PathBuf;

use clap::Args;

use weaverfs_fs::mount::logging::LogTarget;
use weaverfs_fs::mount::{Access, MountConfig};

#[derive(Args, Clone)]
#[command(next_help_heading = "Mounting")]
pub struct MountingArgs {
    /// Stay attached to the terminal (logs to stderr) instead of returning once mounted.
    #[arg(short, long)]
    pub foreground: bool,
    /// Debug: --foreground with debug logs (as sshfs -d).
    #[arg(short = 'd', long)]
    pub debug: bool,
    /// Mount options as mount(8), sshfs and mount-s3 take them: `-o allow_other,cache_size=1G`
    /// is `--allow-other --cache-size 1G` (repeatable).
    #[arg(short = 'o', value_name = "OPT[,OPT=VAL]")]
    #[allow(dead_code)] // expanded into the options above before parsing; here for --help
    pub mount_options: Vec<String>,
    /// Append logs here. Default: stderr with --foreground, else syslog (journald), else (no
    /// syslog) a file the mount names.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Let other users use the mount (file modes still apply). Users need `user_allow_other`
    /// in /etc/fuse.conf.
    #[arg(long, conflicts_with = "allow_root")]
    pub allow_other: bool,
    /// Let root use the mount as well as its owner.
    #[arg(long)]
    pub allow_root: bool,
    /// Owner of every file and directory (default: the user who mounts).
    #[arg(long, value_name = "N")]
    pub uid: Option<u32>,
    /// Group of every file and directory (default: the user's group).
    #[arg(long, value_name = "N")]
    pub gid: Option<u32>,
    /// Permission bits of files, in octal. Writes fail with EROFS whatever they say; the write
    /// bit lets copies (`cp -r`) be changed and removed.
    #[arg(long, default_value = "0644", value_parser = parse_mode, value_name = "MODE")]
    pub file_mode: u16,
    /// Permission bits of directories, in octal.
    #[arg(long, default_value = "0755", value_parser = parse_mode, value_name = "MODE")]
    pub dir_mode: u16,
    /// Mount even when the server cannot be reached or does not list jobs (nodes that mount
    /// before the network is up); without it such a mount fails and says why.
    #[arg(long)]
    pub lazy_connect: bool,
    /// Accepted for habit: the mount is always read-only (also `-o ro`).
    #[arg(long)]
    #[allow(dead_code)] // nothing to do: always so
    pub read_only: bool,
}

/// An octal permission mode, `0644` or `644`.
fn parse_mode(s: &str) -> Result<u16, String> {
    match u16::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(format!("bad mode {s:?} (octal, e.g. 0644)")),
    }
}

impl MountingArgs {
    pub fn foreground(&self) -> bool {
        self.foreground || self.debug
    }

    pub fn apply(&self, cfg: &mut MountConfig) {
        if let Some(uid) = self.uid {
            cfg.uid = uid;
        }
        if let Some(gid) = self.gid {
            cfg.gid = gid;
        }
        cfg.access = match (self.allow_other, self.allow_root) {
            (true, _) => Access::Everyone,
            (false, true) => Access::OwnerAndRoot,
            (false, false) => Access::Owner,
        };
        cfg.file_mode = self.file_mode;
        cfg.dir_mode = self.dir_mode;
        cfg.lazy_connect = self.lazy_connect;
    }

    pub fn log_target(&self) -> LogTarget<'_> {
        match (&self.log_file, self.foreground()) {
            (Some(path), _) => LogTarget::File(path),
            (None, true) => LogTarget::Stderr,
            (None, false) => LogTarget::Syslog,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn modes() {
        assert_eq!(super::parse_mode("0644"), Ok(0o644));
        assert_eq!(super::parse_mode("755"), Ok(0o755));
        assert!(super::parse_mode("0999").is_err());
        assert!(super::parse_mode("77777").is_err());
    }
}
