//! The fuser adapter. It only translates: each request is handed to a tokio task that calls the
//! core ([`WeaverFs`]) and replies, so a slow read never holds up an `ls`.

use std::ffi::OsStr;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, Request,
};
use tokio::runtime::Handle;

use crate::error::FsError;
use crate::fs::WeaverFs;
use crate::mount::passthrough::{Decision, Passthrough};
use crate::tree::Attr;

/// Largest read the kernel is asked to send (it also needs the bdi read_ahead_kb raised).
pub const MAX_READ: u32 = 1 << 20;
/// Requests the kernel may have in flight at once (its default is 12).
const MAX_BACKGROUND: u16 = 64;
/// Entries whose attributes are gathered per `readdirplus` call (about what one reply holds).
const READDIRPLUS_BATCH: usize = 64;

/// Who owns the files, their permission bits, and the block size `stat` reports.
#[derive(Debug, Clone, Copy)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    pub blksize: u32,
    /// Permission bits of files and directories. The mount is read-only at the VFS level
    /// (writes fail with EROFS), so the write bits only make copies (`cp -r`) writable.
    pub file_mode: u16,
    pub dir_mode: u16,
}

pub struct FuseAdapter {
    fs: Arc<WeaverFs>,
    rt: Handle,
    owner: Ownership,
    /// No request waits longer than this for its answer (ETIMEDOUT past it), so a stalled
    /// server never hangs `cat`, `ls` or an unmount.
    op_timeout: Duration,
    /// Ask the kernel for FUSE passthrough at init.
    want_passthrough: bool,
    passthrough: Arc<Passthrough>,
}

impl FuseAdapter {
    pub fn new(fs: Arc<WeaverFs>, rt: Handle, owner: Ownership) -> Self {
        FuseAdapter {
            fs,
            rt,
            owner,
            op_timeout: Duration::from_secs(60),
            want_passthrough: false,
            passthrough: Arc::default(),
        }
    }

    pub fn with_passthrough(mut self, on: bool) -> Self {
        self.want_passthrough = on;
        self
    }

    pub fn with_op_timeout(mut self, limit: Duration) -> Self {
        self.op_timeout = limit;
        self
    }

    /// Runs `op` on the runtime and hands its result to `reply`.
    fn spawn<T, Fut, R>(&self, op: impl FnOnce(Arc<WeaverFs>) -> Fut, reply: R)
    where
        Fut: std::future::Future<Output = Result<T, FsError>> + Send + 'static,
        T: Send + 'static,
        R: FnOnce(Result<T, Errno>) + Send + 'static,
    {
        let fut = op(self.fs.clone());
        let stats = self.fs.stats().clone();
        let limit = self.op_timeout;
        self.rt.spawn(async move {
            let result = tokio::time::timeout(limit, fut)
                .await
                .unwrap_or_else(|_| Err(FsError::TimedOut(format!("no answer within {limit:?}"))));
            let result = result.map_err(|e| {
                log_error(&e);
                stats.error(e.errno());
                Errno::from_i32(e.errno())
            });
            reply(result);
        });
    }
}

fn log_error(e: &FsError) {
    match e {
        FsError::NotFound(_) | FsError::NotDir | FsError::IsDir => tracing::debug!("{e}"),
        _ => tracing::warn!("{e}"),
    }
}

pub fn file_attr(a: &Attr, owner: Ownership) -> FileAttr {
    let (kind, perm, nlink) = if a.is_dir {
        (FileType::Directory, owner.dir_mode, 2)
    } else if a.is_link {
        (FileType::Symlink, 0o777, 1)
    } else {
        (FileType::RegularFile, owner.file_mode, 1)
    };
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.mtime,
        crtime: a.mtime,
        kind,
        perm,
        nlink,
        uid: owner.uid,
        gid: owner.gid,
        rdev: 0,
        blksize: owner.blksize,
        flags: 0,
    }
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // The kernel caps read-ahead at what it offered (128 KiB by default); max_write raises
        // max_pages, which lets reads reach 1 MiB once the bdi read_ahead_kb allows it.
        let _ = config.set_max_readahead(MAX_READ);
        let _ = config.set_max_write(MAX_READ);
        let _ = config.set_max_background(MAX_BACKGROUND);
        let _ = config.set_congestion_threshold(MAX_BACKGROUND * 3 / 4);
        // Listings carry attributes, so `ls -l` needs no lookup per entry.
        let _ = config
            .add_capabilities(InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO);
        // Files complete in the disk cache are read by the kernel from there (it also needs
        // CAP_SYS_ADMIN at open; without it, reads go through weaverfs as before).
        if self.want_passthrough {
            let granted = config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
                && config.set_max_stack_depth(1).is_ok();
            if !granted {
                tracing::info!("the kernel offers no FUSE passthrough: reads go through weaverfs");
            }
            self.passthrough.set_available(granted);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str().map(str::to_string) else {
            return reply.error(Errno::ENOENT);
        };
        let owner = self.owner;
        self.spawn(
            move |fs| async move { fs.lookup(parent.0, &name).await },
            move |r| match r {
                Ok(a) => reply.entry(&a.ttl, &file_attr(&a, owner), Generation(0)),
                Err(e) => reply.error(e),
            },
        );
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let owner = self.owner;
        self.spawn(
            move |fs| async move { fs.getattr(ino.0).await },
            move |r| match r {
                Ok(a) => reply.attr(&a.ttl, &file_attr(&a, owner)),
                Err(e) => reply.error(e),
            },
        );
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.fs.readlink(ino.0) {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => {
                log_error(&e);
                reply.error(Errno::from_i32(e.errno()))
            }
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if !matches!(flags.acc_mode(), OpenAccMode::O_RDONLY) {
            return reply.error(Errno::from_i32(libc::EROFS));
        }
        let passthrough = self.passthrough.clone();
        let stats = self.fs.stats().clone();
        self.spawn(
            move |fs| async move { fs.open(ino.0).await },
            move |r| match r {
                Ok(o) => {
                    let file = o.passthrough.as_deref();
                    let register = |f: &std::fs::File| reply.open_backing(f);
                    match passthrough.open(ino.0, o.fh, file, o.direct_io, register) {
                        Decision::Passthrough(backing) => {
                            stats.passthrough_opened();
                            reply.opened_passthrough(
                                FileHandle(o.fh),
                                FopenFlags::empty(),
                                &backing,
                            )
                        }
                        Decision::Normal { force_direct } => {
                            let mut flags = FopenFlags::empty();
                            flags.set(FopenFlags::FOPEN_DIRECT_IO, o.direct_io || force_direct);
                            flags.set(FopenFlags::FOPEN_KEEP_CACHE, o.keep_cache && !force_direct);
                            reply.opened(FileHandle(o.fh), flags)
                        }
                    }
                }
                Err(e) => reply.error(e),
            },
        );
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.spawn(
            move |fs| async move {
                let read = fs.read(fh.0, offset, size).await;
                read.inspect(|bytes| fs.stats().served(bytes.len()))
            },
            move |r| match r {
                Ok(bytes) => reply.data(&bytes),
                Err(e) => reply.error(e),
            },
        );
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.fs.release(fh.0);
        self.passthrough.release(fh.0);
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.spawn(
            move |fs| async move { fs.opendir(ino.0).await },
            move |r| match r {
                Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
                Err(e) => reply.error(e),
            },
        );
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.fs.readdir(fh.0) {
            Ok(entries) => entries,
            Err(e) => return reply.error(Errno::from_i32(e.errno())),
        };
        for (i, e) in entries.iter().enumerate().skip(offset as usize) {
            let kind = if e.is_dir {
                FileType::Directory
            } else if e.is_link {
                FileType::Symlink
            } else {
                FileType::RegularFile
            };
            // The offset of an entry is the position of the next one.
            if reply.add(INodeNo(e.ino), i as u64 + 1, kind, &*e.name) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let owner = self.owner;
        self.spawn(
            move |fs| async move {
                fs.readdir_attrs(fh.0, offset as usize, READDIRPLUS_BATCH)
                    .await
            },
            move |r| match r {
                Ok(entries) => {
                    for (i, e, attr) in entries {
                        let fattr = file_attr(&attr, owner);
                        // The offset of an entry is the position of the next one.
                        if reply.add(
                            INodeNo(e.ino),
                            i as u64 + 1,
                            &*e.name,
                            &attr.ttl,
                            &fattr,
                            Generation(0),
                        ) {
                            break;
                        }
                    }
                    reply.ok();
                }
                Err(e) => reply.error(e),
            },
        );
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.fs.release(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, self.owner.blksize, 255, self.owner.blksize);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, mask: fuser::AccessFlags, reply: ReplyEmpty) {
        if mask.bits() & libc::W_OK != 0 {
            reply.error(Errno::from_i32(libc::EROFS));
        } else {
            reply.ok();
        }
    }
}
