//! FUSE passthrough bookkeeping: which open handles the kernel reads from a backing file
//! itself. The kernel allows one backing file per inode at a time, and no cached (page-cache)
//! open beside a passthrough one, so opens are matched to what the inode has open already.
//! Registering a backing file needs CAP_SYS_ADMIN: the first refusal turns passthrough off
//! for the mount (logged once) and every open takes the normal read path.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use fuser::BackingId;

/// How to answer one open.
pub enum Decision {
    /// Reply with `opened_passthrough` and this backing file.
    Passthrough(Arc<BackingId>),
    /// Reply normally; `force_direct` when the inode is open in passthrough with another
    /// backing file (a cached open would be refused then; direct I/O is allowed).
    Normal { force_direct: bool },
}

#[derive(Default)]
pub struct Passthrough {
    available: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    inodes: HashMap<u64, Inode>,
    handles: HashMap<u64, (u64, Mode)>,
}

#[derive(Default)]
struct Inode {
    backing: Weak<BackingId>,
    /// Device and inode of the backing file.
    file: (u64, u64),
    /// Open handles using the page cache.
    cached: usize,
}

enum Mode {
    Backed(#[allow(dead_code)] Arc<BackingId>),
    Cached,
    Direct,
}

impl Passthrough {
    /// Set when the kernel granted passthrough at init.
    pub fn set_available(&self, on: bool) {
        self.available.store(on, Ordering::Relaxed);
    }

    /// Decides how handle `fh` of inode `ino` is opened. `file` is the local file with the
    /// exact bytes when the core offers one; `direct_io` is the core's answer otherwise;
    /// `register` makes a backing id of a file (the kernel ioctl).
    pub fn open(
        &self,
        ino: u64,
        fh: u64,
        file: Option<&File>,
        direct_io: bool,
        register: impl FnOnce(&File) -> io::Result<BackingId>,
    ) -> Decision {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State { inodes, handles } = &mut *st;
        let inode = inodes.entry(ino).or_default();
        let live = inode.backing.upgrade();
        if let (Some(file), true) = (file, self.available.load(Ordering::Relaxed)) {
            let id = file.metadata().map(|m| (m.dev(), m.ino())).ok();
            let backing = match (&live, id) {
                (_, None) => None,
                (_, Some(_)) if inode.cached > 0 => None,
                (Some(b), Some(id)) if inode.file == id => Some(b.clone()),
                (Some(_), Some(_)) => None,
                (None, Some(id)) => match register(file) {
                    Ok(b) => {
                        let b = Arc::new(b);
                        inode.backing = Arc::downgrade(&b);
                        inode.file = id;
                        Some(b)
                    }
                    Err(e) => {
                        if self.available.swap(false, Ordering::Relaxed) {
                            tracing::warn!(
                                "FUSE passthrough refused ({e}; it needs CAP_SYS_ADMIN): \
                                 complete files are read through weaverfs instead"
                            );
                        }
                        None
                    }
                },
            };
            if let Some(b) = backing {
                handles.insert(fh, (ino, Mode::Backed(b.clone())));
                return Decision::Passthrough(b);
            }
        }
        if live.is_some() || direct_io {
            handles.insert(fh, (ino, Mode::Direct));
            Decision::Normal {
                force_direct: live.is_some(),
            }
        } else {
            inode.cached += 1;
            handles.insert(fh, (ino, Mode::Cached));
            Decision::Normal {
                force_direct: false,
            }
        }
    }

    /// Forgets a closed handle (its backing id goes with its last handle).
    pub fn release(&self, fh: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some((ino, mode)) = st.handles.remove(&fh) else {
            return;
        };
        let unused = st.inodes.get_mut(&ino).is_some_and(|inode| {
            if matches!(mode, Mode::Cached) {
                inode.cached = inode.cached.saturating_sub(1);
            }
            drop(mode);
            inode.cached == 0 && inode.backing.strong_count() == 0
        });
        if unused {
            st.inodes.remove(&ino);
        }
    }
}
