//! weaverfs: the jobs of a Weaver (OGC API - Processes) server as a read-only filesystem.
//!
//! The crate is a core that runs without a kernel, and a thin FUSE adapter over it:
//! - [`http`]: the HTTP client, with credentials kept to the API's origin;
//! - [`retry`]: which failed requests are tried again, when, and for how long;
//! - [`api`]: the job API (listing, status, results in every shape) and its data model;
//! - [`tree`]: the namespace: inodes, names, directory listings and their TTLs;
//! - [`cache`]: the block arithmetic and the byte-bounded LRU block cache;
//! - [`read`]: remote files: size probing, validated range requests, read-ahead;
//! - [`fs`]: the filesystem operations as plain async functions returning plain structs;
//! - [`fuse`]: the fuser adapter, which only translates requests and replies;
//! - [`server`]: the built-in sample server used by `weaverfs demo` and the tests.

pub mod api;
pub mod cache;
pub mod error;
pub mod fs;
pub mod fuse;
pub mod http;
pub mod mount;
pub mod read;
pub mod retry;
pub mod server;
pub mod tree;
