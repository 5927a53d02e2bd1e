//! `nullfs MNT [SIZE_BYTES]`: mounts a read-only directory holding `zeros`, a file of SIZE bytes
//! (1 GiB by default) that reads as zeros from memory, and two directories of small zero files
//! for the listing and first-read limits: `many/` (1000 files `f000`..) and `some/` (100 files
//! `f00`..), each SMALL bytes. The benchmark's FUSE limit: the
//! same kernel knobs as weaverfs (`crates/weaverfs-fs/src/mount/`) and no work per read. Opens
//! keep the page cache (FOPEN_KEEP_CACHE), so a warm re-read shows page-cache reuse. Stays in
//! the foreground until `fusermount3 -u MNT`.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry,
    ReplyOpen, Request,
};

/// As weaverfs: reads of up to 1 MiB, 64 background requests.
const MAX_READ: u32 = 1 << 20;
const MAX_BACKGROUND: u16 = 64;
const ROOT: u64 = 1;
const FILE: u64 = 2;
const NAME: &str = "zeros";
/// The directories of small files: name, inode, how many files, first file inode.
const DIRS: [(&str, u64, u64, u64); 2] = [("many", 3, 1000, 1000), ("some", 4, 100, 3000)];
/// Size of each small file.
const SMALL: u64 = 8192;
/// Nothing ever changes, so the kernel may keep attributes for as long as it likes.
const TTL: Duration = Duration::from_secs(3600);
static ZEROS: [u8; MAX_READ as usize] = [0; MAX_READ as usize];

struct NullFs {
    size: u64,
}

impl NullFs {
    fn attr(&self, ino: u64) -> FileAttr {
        let (kind, perm, size) = if ino == ROOT || DIRS.iter().any(|d| d.1 == ino) {
            (FileType::Directory, 0o555, 0)
        } else if ino == FILE {
            (FileType::RegularFile, 0o444, self.size)
        } else {
            (FileType::RegularFile, 0o444, SMALL)
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind,
            perm,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: MAX_READ,
            flags: 0,
        }
    }
}

impl Filesystem for NullFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let _ = config.set_max_readahead(MAX_READ);
        let _ = config.set_max_write(MAX_READ);
        let _ = config.set_max_background(MAX_BACKGROUND);
        let _ = config.set_congestion_threshold(MAX_BACKGROUND * 3 / 4);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match find(parent.0, name.to_str().unwrap_or("")) {
            Some(ino) => reply.entry(&TTL, &self.attr(ino), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match ino.0 {
            ino if ino <= 4 || file_name(ino).is_some() => reply.attr(&TTL, &self.attr(ino)),
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE);
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let file_size = if ino.0 == FILE { self.size } else { SMALL };
        let len = (size as u64).min(file_size.saturating_sub(offset)) as usize;
        reply.data(&ZEROS[..len.min(ZEROS.len())]);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut entries = vec![
            (ino.0, FileType::Directory, ".".to_string()),
            (ROOT, FileType::Directory, "..".to_string()),
        ];
        if ino.0 == ROOT {
            entries.push((FILE, FileType::RegularFile, NAME.to_string()));
            entries.extend(
                DIRS.iter()
                    .map(|d| (d.1, FileType::Directory, d.0.to_string())),
            );
        } else if let Some(&(_, _, count, first)) = DIRS.iter().find(|d| d.1 == ino.0) {
            entries.extend(
                (first..first + count)
                    .filter_map(|i| file_name(i).map(|n| (i, FileType::RegularFile, n))),
            );
        }
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// The inode of `name` in directory `parent`.
fn find(parent: u64, name: &str) -> Option<u64> {
    if parent == ROOT {
        if name == NAME {
            return Some(FILE);
        }
        return DIRS.iter().find(|d| d.0 == name).map(|d| d.1);
    }
    let &(_, _, count, first) = DIRS.iter().find(|d| d.1 == parent)?;
    let ino = first + name.strip_prefix('f')?.parse::<u64>().ok()?;
    (ino < first + count && file_name(ino).as_deref() == Some(name)).then_some(ino)
}

/// The name of small file `ino`: `f000`.. in `many/`, `f00`.. in `some/`.
fn file_name(ino: u64) -> Option<String> {
    let &(_, _, count, first) = DIRS.iter().find(|d| (d.3..d.3 + d.2).contains(&ino))?;
    let width = if count > 100 { 3 } else { 2 };
    Some(format!("f{:0width$}", ino - first))
}

/// As crates/weaverfs-fs/src/mount/mod.rs: the kernel sends reads of up to 1 MiB only once the mount's bdi
/// read_ahead_kb is raised from 128.
fn raise_read_ahead(mountpoint: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(mountpoint)?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let path = format!("/sys/class/bdi/{major}:{minor}/read_ahead_kb");
    std::fs::write(path, (MAX_READ / 1024).to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(mountpoint) = args.get(1) else {
        eprintln!("usage: nullfs MOUNTPOINT [SIZE_BYTES]");
        std::process::exit(2);
    };
    let size = match args.get(2).map(|s| s.parse::<u64>()) {
        None => 1 << 30,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("nullfs: bad size: {e}");
            std::process::exit(2);
        }
    };
    let mut options = fuser::Config::default();
    options.mount_options = vec![
        fuser::MountOption::FSName("nullfs".into()),
        fuser::MountOption::RO,
        fuser::MountOption::NoAtime,
    ];
    let session = match fuser::spawn_mount(NullFs { size }, mountpoint, &options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nullfs: cannot mount at {mountpoint}: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = raise_read_ahead(Path::new(mountpoint)) {
        eprintln!("nullfs: warning: read_ahead_kb not raised ({e}); reads stay at 128 KiB");
    }
    // Serve until someone runs `fusermount3 -u`.
    while !session.guard.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
    }
}
