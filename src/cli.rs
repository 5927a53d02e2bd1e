//! Command-line options for how a mount is attached: foreground or daemon, logs, ownership and
//! who may use it. (Part of the `weaverfs` binary, not the library.)

use std::path::PathBuf;

use clap::Args;

use weaverfs_fs::mount::logging::LogTarget;
use weaverfs_fs::mount::{Access, MountConfig};

#[derive(Args, Clone)]
pub struct MountingArgs {
    /// Stay attached to the terminal (logs to stderr) instead of returning once mounted.
    #[arg(short, long)]
    pub foreground: bool,
    /// Append logs here. Default: stderr with --foreground, else syslog (journald).
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Owner of every file and directory (default: the user who mounts).
    #[arg(long)]
    pub uid: Option<u32>,
    /// Group of every file and directory (default: the user's group).
    #[arg(long)]
    pub gid: Option<u32>,
    /// Let other users use the mount (file modes still apply). Users need `user_allow_other`
    /// in /etc/fuse.conf.
    #[arg(long, conflicts_with = "allow_root")]
    pub allow_other: bool,
    /// Let root use the mount as well as its owner.
    #[arg(long)]
    pub allow_root: bool,
}

impl MountingArgs {
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
    }

    pub fn log_target(&self) -> LogTarget<'_> {
        match (&self.log_file, self.foreground) {
            (Some(path), _) => LogTarget::File(path),
            (None, true) => LogTarget::Stderr,
            (None, false) => LogTarget::Syslog,
        }
    }
}
