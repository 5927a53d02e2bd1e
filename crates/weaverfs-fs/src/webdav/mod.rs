//! `weaverfs serve webdav`: the same tree as the mount, over read-only WebDAV (class 1), for
//! machines without FUSE (macOS and Windows desktops, notebook containers) and browsers.
//! dav-server speaks the protocol; [`davfs`] translates its calls to the core as `fuse.rs`
//! does the kernel's; [`gate`] adds what dav-server does not decide (sign-in, read-only
//! answers, Depth and Range limits, errors with their reasons).

mod auth;
mod davfs;
mod errors;
mod file;
mod gate;
mod paths;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::Router;
use tokio::net::TcpListener;

pub use auth::Users;
pub use gate::{Gateway, ALLOW, MAX_RANGES};

use crate::error::FsError;
use crate::fs::WeaverFs;
use crate::mount::{build_fs, MountConfig};

/// Serves `fs` on `listener` until `shutdown` completes.
pub async fn serve(
    fs: Arc<WeaverFs>,
    listener: TcpListener,
    users: Option<Users>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gateway = Arc::new(Gateway::new(fs, users));
    let app = Router::new().fallback(move |req: Request| {
        let gateway = gateway.clone();
        async move { gateway.handle(req).await }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The command: checks the server as `mount` does, listens on `addr` (loopback unless
/// `users` must sign in), prints the URL to open, and serves until SIGINT or SIGTERM.
pub fn run(
    cfg: &MountConfig,
    addr: SocketAddr,
    users: Option<Users>,
    rt: &tokio::runtime::Runtime,
) -> Result<(), String> {
    if !addr.ip().is_loopback() && users.is_none() {
        return Err(format!(
            "{addr} is reachable from other machines: give --htpasswd FILE so that clients \
             must sign in (each reads with this gateway's own server credentials)"
        ));
    }
    // Size probes are HEADs: desktop clients send PROPFIND of whole folders again and again, and
    // a listing must not fetch the first 64 KiB of every file each time (a GET reads its own
    // range, not the head the mount's probes bring for `cat *` and `cp -r`).
    let fs = Arc::new(build_fs(cfg)?.with_head_probes());
    rt.block_on(fs.tree().api().http().authenticate())
        .map_err(|e| e.to_string())?;
    if let Err(e) = rt.block_on(fs.tree().api().check()) {
        if !matches!(e, FsError::Denied(_)) {
            return Err(rt.block_on(fs.tree().api().explain(&e)));
        }
        tracing::warn!("the server does not list jobs: {e}");
    }
    rt.block_on(async {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let url = format!("http://{local}/");
        println!("{url}");
        eprintln!(
            "weaverfs: WebDAV gateway to {} at {url} (Ctrl-C to stop)",
            cfg.api_url
        );
        serve(fs, listener, users, end_signal())
            .await
            .map_err(|e| format!("WebDAV gateway: {e}"))
    })
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn end_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => s.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
