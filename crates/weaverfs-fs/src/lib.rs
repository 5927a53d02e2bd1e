//! weaverfs: the jobs of an OGC API - Processes server (Weaver first) as a read-only filesystem.
//!
//! The crate is a core that runs without a kernel, and a thin FUSE adapter over it. Its folders
//! are its layers, from the network up:
//! - [`client`]: the HTTP client, credentials, TLS and the retry policy;
//! - [`api`]: the job API (listing, status, results in every shape) and its data model;
//! - [`tree`]: the namespace: inodes, names, directory listings and their TTLs;
//! - [`cache`]: the block arithmetic and the byte-bounded LRU block cache;
//! - [`read`]: remote files: size probing, validated range requests, read-ahead;
//! - [`fs`]: the filesystem operations as plain async functions returning plain structs;
//! - [`mount`]: the fuser adapter (which only translates requests and replies), mounting,
//!   unmounting, running in the background, the `mount.weaverfs` helper, and where logs go;
//! - [`get`]: `weaverfs get`, a job's tree written to disk through the same core;
//! - `webdav`: `weaverfs serve webdav`, the same core over WebDAV (cargo feature `webdav`, which
//!   the binary turns on and the Python module leaves off);
//! - [`stats`]: the mount's counters, shown at `.weaverfs/stats.json`;
//! - [`error`]: the core's error type and its errno.
//!
//! The sample server that the demo and the tests run is another crate, `weaverfs-server`, which
//! shares no code with this one.

pub mod api;
pub mod cache;
pub mod client;
pub mod error;
pub mod fs;
pub mod get;
pub mod mount;
pub mod read;
pub mod stats;
pub mod tree;
#[cfg(feature = "webdav")]
pub mod webdav;
