//! The HTTP client layer: everything about talking to servers, and nothing about jobs.
//! - [`http`]: the reqwest client, with credentials kept to the origins they belong to, and
//!   errors mapped to errno kinds;
//! - [`auth`]: credentials (headers, token, cookies, Basic, Magpie), the config file;
//! - [`proxy`]: proxies (`--proxy` lists, the environment) and site caches;
//! - [`tls`]: certificate verification settings;
//! - [`limit`]: the per-origin limit of concurrent requests, with room kept for the
//!   requests a user waits for;
//! - [`retry`]: which failed requests are tried again, when, and for how long.

pub mod auth;
pub mod http;
pub mod limit;
pub mod proxy;
pub mod retry;
pub mod tls;
