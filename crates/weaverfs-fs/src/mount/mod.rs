//! The mount layer: the fuser adapter ([`fuse`]), the mountpoint's state ([`mountpoint`]),
//! running in the background ([`daemon`]), the `mount.weaverfs` helper for mount(8) ([`helper`])
//! and where logs go ([`logging`]).
//!
//! This module itself mounts: it builds the core from the options, mounts it with fuser, tunes
//! the kernel's read-ahead for the mount, and unmounts on SIGINT, SIGTERM, SIGHUP or an external
//! unmount.

pub mod daemon;
pub mod fuse;
pub mod helper;
pub mod logging;
pub mod mountpoint;
pub mod passthrough;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::api::ApiClient;
use crate::cache::{block_cache, BlockCache};
use crate::client::http::{HttpClient, HttpOptions};
use crate::error::FsError;
use crate::fs::WeaverFs;
use crate::mount::fuse::{FuseAdapter, Ownership, MAX_READ};
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
    /// The persistent block cache: its directory and limits.
    pub disk_cache: Option<(PathBuf, crate::cache::DiskLimits)>,
    /// Files complete in the disk cache are read by the kernel directly (FUSE passthrough,
    /// where the kernel and privileges allow it).
    pub passthrough: bool,
    pub uid: u32,
    pub gid: u32,
    pub access: Access,
    /// Permission bits shown for files and directories (0644, 0755 by default).
    pub file_mode: u16,
    pub dir_mode: u16,
    /// Mount even when the server cannot be reached or does not look like an OGC API –
    /// Processes server (nodes that mount before the network is up).
    pub lazy_connect: bool,
}

/// Who may use the mount besides the user who mounted it (FUSE's allow_root / allow_other).
/// The kernel still checks file modes (default_permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    #[default]
    Owner,
    OwnerAndRoot,
    Everyone,
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
            read_ahead_blocks: 256,
            disk_cache: None,
            passthrough: true,
            uid,
            gid,
            access: Access::Owner,
            file_mode: 0o644,
            dir_mode: 0o755,
            lazy_connect: false,
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
    // The cache's budget pays for the connections' receive buffers too: they are most of
    // the daemon's memory outside its blocks (docs/read-path.md, Memory).
    let blocks =
        block_cache::blocks_budget(cfg.cache_size, cfg.block_size, cfg.http.receive_buffers());
    let cache = BlockCache::new(blocks);
    let disk = match &cfg.disk_cache {
        Some((dir, limits)) => Some(
            crate::cache::DiskCache::open(dir, *limits)
                .map_err(|e| format!("cache directory {}: {e}", dir.display()))?,
        ),
        None => None,
    };
    let through_cache = cfg.http.proxy.goes_through_caches();
    let reader = Reader::new(http, cache, cfg.block_size, cfg.read_ahead_blocks)
        .with_disk(disk)
        .whole_blocks_only(through_cache);
    Ok(WeaverFs::new(Tree::new(api, cfg.tree.clone()), reader).with_passthrough(cfg.passthrough))
}

/// Threads reading requests from the kernel.
const FUSE_THREADS: usize = 2;

/// How long an unmounted daemon waits for reads still in flight before it exits anyway (its
/// exit closes /dev/fuse, which fails those reads with ENOTCONN).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Mounts at `mountpoint` and serves until SIGINT, SIGTERM, SIGHUP or an external unmount.
pub fn mount_and_serve(
    cfg: &MountConfig,
    mountpoint: &Path,
    rt: &tokio::runtime::Runtime,
) -> Result<(), String> {
    mountpoint::check_fuse_available(cfg.access != Access::Owner)?;
    mountpoint::prepare(mountpoint)?;
    let mountpoint = mountpoint
        .canonicalize()
        .map_err(|e| format!("mountpoint {}: {e}", mountpoint.display()))?;
    let fs = Arc::new(build_fs(cfg)?);
    let http = fs.tree().api().http();
    rt.block_on(http.authenticate())
        .map_err(|e| e.to_string())?;
    if let Err(e) = rt.block_on(fs.tree().api().check()) {
        if e.to_string().contains(crate::client::tls::UNTRUSTED) {
            return Err(e.to_string());
        }
        // A listing can be forbidden while jobs stay readable by id: that mounts, with a word.
        // Anything else is a wrong URL or no server, unless asked to mount before the network.
        if !matches!(e, FsError::Denied(_)) && !cfg.lazy_connect {
            let why = rt.block_on(fs.tree().api().explain(&e));
            return Err(format!(
                "{why} (--lazy-connect mounts anyway, for nodes that mount before the network)"
            ));
        }
        let note = format!("warning: the server does not list jobs: {e}");
        tracing::warn!("{note}");
        crate::mount::daemon::report_note(&note);
    }
    let owner = Ownership {
        uid: cfg.uid,
        gid: cfg.gid,
        blksize: cfg.block_size.min(u32::MAX as u64) as u32,
        file_mode: cfg.file_mode,
        dir_mode: cfg.dir_mode,
    };
    let adapter = FuseAdapter::new(fs, rt.handle().clone(), owner)
        .with_op_timeout(cfg.http.op_timeout())
        .with_passthrough(cfg.passthrough && cfg.disk_cache.is_some());
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
    // Two threads take requests from the kernel, each on its own cloned /dev/fuse fd: while one
    // is in a read(2) or copying a request, the other can take the next (work itself runs on
    // the tokio runtime, see fuse.rs).
    options.n_threads = Some(FUSE_THREADS);
    options.clone_fd = true;
    options.acl = match cfg.access {
        Access::Owner => fuser::SessionACL::Owner,
        Access::OwnerAndRoot => fuser::SessionACL::RootAndOwner,
        Access::Everyone => fuser::SessionACL::All,
    };
    // Listen before mounting: a signal sent as soon as the mount appears must unmount it too.
    let signals = {
        let _in_runtime = rt.enter();
        end_signals()
    };
    let session = fuser::spawn_mount(adapter, &mountpoint, &options)
        .map_err(|e| format!("cannot mount at {}: {e}", mountpoint.display()))?;
    let dev = std::fs::metadata(&mountpoint)
        .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
        .map_err(|e| format!("mountpoint {} after mounting: {e}", mountpoint.display()))?;
    raise_read_ahead(dev);
    tracing::info!("{} mounted at {}", cfg.api_url, mountpoint.display());
    crate::mount::daemon::report_ready();
    match rt.block_on(wait_for_end(&session, dev, signals)) {
        End::SessionEnded => return session.join().map_err(|e| e.to_string()),
        End::Signal => {
            tracing::info!("unmounting {}", mountpoint.display());
            if let Err(e) = mountpoint::unmount(&mountpoint, false) {
                tracing::info!("{e}; detaching it lazily");
                mountpoint::unmount(&mountpoint, true)?;
            }
        }
        End::Detached => tracing::info!("{} was unmounted lazily", mountpoint.display()),
    }
    let deadline = std::time::Instant::now() + DRAIN_TIMEOUT;
    while !session.guard.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if session.guard.is_finished() {
        return session.join().map_err(|e| e.to_string());
    }
    tracing::warn!(
        "files are still open in the unmounted {}; exiting (their reads fail with ENOTCONN)",
        mountpoint.display()
    );
    // Dropping the session would try to unmount the path again, which may by now hold another
    // mount; the process exit closes /dev/fuse instead.
    std::mem::forget(session);
    Ok(())
}

/// Why serving stopped.
enum End {
    /// SIGINT, SIGTERM or SIGHUP: we unmount.
    Signal,
    /// The kernel ended the session: someone unmounted it and nothing was open.
    SessionEnded,
    /// Someone unmounted it lazily while files stay open: the session lives on detached.
    Detached,
}

type Signals = [Option<tokio::signal::unix::Signal>; 3];

/// Listeners for SIGINT (Ctrl-C), SIGTERM and SIGHUP.
fn end_signals() -> Signals {
    use tokio::signal::unix::{signal, SignalKind};
    [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ]
    .map(|kind| signal(kind).ok())
}

/// Returns on one of `signals`, when the session ends (someone ran `fusermount3 -u` with nothing
/// open), or when the mount is detached lazily.
async fn wait_for_end(session: &fuser::BackgroundSession, dev: u64, signals: Signals) -> End {
    let ended = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if session.guard.is_finished() {
                return End::SessionEnded;
            }
            if !mountpoint::device_attached(dev) {
                return End::Detached;
            }
        }
    };
    let waits: Vec<_> = signals
        .into_iter()
        .flatten()
        .map(|mut s| Box::pin(async move { s.recv().await }))
        .collect();
    let any_signal = async move {
        match waits.is_empty() {
            true => std::future::pending().await,
            false => futures::future::select_all(waits).await.0,
        }
    };
    tokio::select! {
        _ = any_signal => End::Signal,
        end = ended => end,
    }
}

/// Lets the kernel send reads of up to 1 MiB, by raising the mount's bdi read_ahead_kb from
/// 128. Best effort: it needs write access to sysfs (root).
fn raise_read_ahead(dev: u64) {
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
