//! weaverfs: the jobs of a Weaver (OGC API - Processes) server as a read-only filesystem.
//!
//! The crate is a core that runs without a kernel, and a thin FUSE adapter over it:
//! - [`http`]: the HTTP client, with credentials kept to the origins they belong to;
//! - [`auth`]: credentials (headers, token, cookies, Basic, Magpie), the config file;
//! - [`tls`]: certificate verification settings;
//! - [`retry`]: which failed requests are tried again, when, and for how long;
//! - [`api`]: the job API (listing, status, results in every shape) and its data model;
//! - [`tree`]: the namespace: inodes, names, directory listings and their TTLs;
//! - [`cache`]: the block arithmetic and the byte-bounded LRU block cache;
//! - [`read`]: remote files: size probing, validated range requests, read-ahead;
//! - [`fs`]: the filesystem operations as plain async functions returning plain structs;
//! - [`fuse`]: the fuser adapter, which only translates requests and replies;
//! - [`mount`], [`mountpoint`], [`daemon`], [`mount_helper`], [`logging`]: mounting, unmounting,
//!   running in the background, the `mount.weaverfs` helper for mount(8), and where logs go;
//! - [`get`]: `weaverfs get`, a job's tree written to disk through the same core;
//! - [`stats`]: the mount's counters, shown at `.weaverfs/stats.json`;
//! - [`server`]: the built-in sample server used by `weaverfs demo` and the tests.

pub mod api;
pub mod auth;
pub mod cache;
pub mod daemon;
pub mod error;
pub mod fs;
pub mod fuse;
pub mod get;
pub mod http;
pub mod logging;
pub mod mount;
pub mod mount_helper;
pub mod mountpoint;
pub mod read;
pub mod retry;
pub mod server;
pub mod stats;
pub mod tls;
pub mod tree;
