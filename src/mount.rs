//! Mounting: builds the core from the options, mounts it with fuser, tunes the kernel's
//! read-ahead for the mount, and unmounts on Ctrl-C, SIGTERM or an external unmount.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::api::ApiClient;
use crate::cache::BlockCache;
use crate::fs::WeaverFs;
use crate::fuse::{FuseAdapter, Ownership, MAX_READ};
use crate::http::{HttpClient, HttpOptions};
use crate::read::Reader;
use crate::tree::{Tree, TreeConfig};

/// Everything a mount is made from.
#[derive(Debug, Clone)]
pub struct MountConfig {
    pub api_url: Url,
    pub http: HttpOptions,
    pub tree: TreeConfig,
    /// Bytes of file blocks kept in memory.
    pub cache_size: u64,
    pub block_size: u64,
    /// Largest read-ahead of a sequential reader, in blocks.
    pub read_ahead_blocks: u64,
    pub uid: u32,
    pub gid: u32,
}

impl MountConfig {
    pub fn new(api_url: Url) -> Self {
        // SAFETY: getuid and getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        MountConfig {
            api_url,
            http: HttpOptions::default(),
            tree: TreeConfig::default(),
            cache_size: 256 << 20,
            block_size: 1 << 20,
            read_ahead_blocks: 8,
            uid,
            gid,
        }
    }
}

/// The kernel-free core for a configuration.
pub fn build_fs(cfg: &MountConfig) -> Result<WeaverFs, String> {
    if cfg.api_url.cannot_be_a_base() || !matches!(cfg.api_url.scheme(), "http" | "https") {
        return Err(format!("{} is not an http(s) URL", cfg.api_url));
    }
    if cfg.block_size == 0 || cfg.block_size > 64 << 20 {
        return Err("the block size must be between 1 byte and 64 MiB".into());
    }
    if cfg.cache_size < cfg.block_size {
        return Err("the cache must hold at least one block".into());
    }
    let http = HttpClient::new(&cfg.api_url, &cfg.http)?;
    let api = ApiClient::new(cfg.api_url.clone(), http.clone());
    let cache = BlockCache::new(cfg.cache_size);
    let reader = Reader::new(http, cache, cfg.block_size, cfg.read_ahead_blocks);
    Ok(WeaverFs::new(Tree::new(api, cfg.tree.clone()), reader))
}

/// Mounts at `mountpoint` and serves until Ctrl-C, SIGTERM or an external unmount.
pub fn mount_and_serve(
    cfg: &MountConfig,
    mountpoint: &Path,
    rt: &tokio::runtime::Runtime,
) -> Result<(), String> {
    let meta = std::fs::metadata(mountpoint)
        .map_err(|e| format!("mountpoint {}: {e}", mountpoint.display()))?;
    if !meta.is_dir() {
        return Err(format!(
            "mountpoint {} is not a directory",
            mountpoint.display()
        ));
    }
    let fs = Arc::new(build_fs(cfg)?);
    if let Err(e) = rt.block_on(fs.tree().api().check()) {
        // Job ids may still resolve (a listing can be forbidden while jobs are readable).
        eprintln!("weaverfs: warning: the server does not list jobs: {e}");
    }
    let owner = Ownership {
        uid: cfg.uid,
        gid: cfg.gid,
        blksize: cfg.block_size.min(u32::MAX as u64) as u32,
    };
    let adapter =
        FuseAdapter::new(fs, rt.handle().clone(), owner).with_op_timeout(cfg.http.op_timeout());
    let mut options = fuser::Config::default();
    options.mount_options = vec![
        fuser::MountOption::FSName(format!("weaverfs:{}", cfg.api_url)),
        fuser::MountOption::Subtype("weaverfs".into()),
        fuser::MountOption::RO,
        fuser::MountOption::NoAtime,
        fuser::MountOption::NoDev,
        fuser::MountOption::NoSuid,
        fuser::MountOption::DefaultPermissions,
    ];
    let session = fuser::spawn_mount(adapter, mountpoint, &options)
        .map_err(|e| format!("cannot mount at {}: {e}", mountpoint.display()))?;
    raise_read_ahead(mountpoint);
    eprintln!(
        "weaverfs: {} mounted at {} (Ctrl-C to unmount)",
        cfg.api_url,
        mountpoint.display()
    );
    rt.block_on(wait_for_end(&session));
    eprintln!("weaverfs: unmounting {}", mountpoint.display());
    if !session.guard.is_finished() {
        if let Err(e) = session.umount_and_join() {
            return Err(format!("unmount of {}: {e}", mountpoint.display()));
        }
    }
    Ok(())
}

/// Returns on Ctrl-C, SIGTERM, or when the session ends (someone ran `fusermount3 -u`).
async fn wait_for_end(session: &fuser::BackgroundSession) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let ended = async {
        while !session.guard.is_finished() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        _ = async { match hup.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        _ = ended => {}
    }
}

/// Lets the kernel send reads of up to 1 MiB, by raising the mount's bdi read_ahead_kb from
/// 128. Best effort: it needs write access to sysfs (root).
fn raise_read_ahead(mountpoint: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(mountpoint) else {
        return;
    };
    let dev = meta.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let path = PathBuf::from(format!("/sys/class/bdi/{major}:{minor}/read_ahead_kb"));
    let kb = MAX_READ / 1024;
    match std::fs::write(&path, kb.to_string()) {
        Ok(()) => tracing::debug!("{} = {kb}", path.display()),
        Err(e) => tracing::info!(
            "could not raise {} to {kb} ({e}); reads stay at 128 KiB",
            path.display()
        ),
    }
}
