//! linkemu: a long link on loopback, for scripts/bench.sh (the kernel here has no netem).

mod relay;
mod shape;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use relay::{Link, Stats};
use shape::Bottleneck;

/// A TCP proxy that makes loopback look like a long link: each direction held for half the
/// round trip, one round trip before a new connection's first byte (the handshake), at most
/// --window bytes in flight per connection and direction (so one stream tops out at
/// window/RTT, as a real TCP stream's buffers bound it), and an optional bandwidth cap shared by
/// all connections and routes (each direction its own). Not modelled: loss, slow start,
/// congestion control beyond a short queue at the cap, packet and header overhead.
///
/// Prints the address each route listens on, one line per route in order (port 0 picks one),
/// then serves until SIGTERM or SIGINT, when it prints what it carried to stderr.
///
/// Example: linkemu --rtt-ms 100 --rate 1gbit 127.0.0.1:0=127.0.0.1:8080
#[derive(Parser, Debug)]
#[command(version, verbatim_doc_comment)]
struct Args {
    /// Round-trip time in milliseconds; each direction is delayed by half of it
    #[arg(long, default_value_t = 0.0, value_parser = parse_ms)]
    rtt_ms: f64,
    /// Bytes in flight per connection and direction (K, M, G: binary). 4M is about what a Linux
    /// TCP stream's autotuned buffers allow
    #[arg(long, default_value = "4M", value_parser = shape::parse_size)]
    window: u64,
    /// Bandwidth shared by every connection, each direction: 1gbit, 500mbit (bits/s) or 125MB
    /// (bytes/s). Default: no cap
    #[arg(long, value_parser = shape::parse_rate)]
    rate: Option<u64>,
    /// With --rate: the longest queue at the cap, in milliseconds, before senders hold back
    #[arg(long, default_value_t = 10.0, value_parser = parse_ms)]
    queue_ms: f64,
    /// LISTEN=ORIGIN, e.g. 127.0.0.1:0=127.0.0.1:8080 (several: one cap shared by all)
    #[arg(required = true, value_parser = shape::parse_route)]
    routes: Vec<(String, String)>,
}

fn parse_ms(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=600_000.0).contains(&v) => Ok(v),
        _ => Err(format!("{text:?}: milliseconds, 0 to 600000")),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let link = Arc::new(Link {
        rtt: Duration::from_secs_f64(args.rtt_ms / 1000.0),
        window: usize::try_from(args.window)
            .unwrap_or(usize::MAX >> 4)
            .min(usize::MAX >> 4),
        queue: Duration::from_secs_f64(args.queue_ms / 1000.0),
        up: args.rate.map(|r| Mutex::new(Bottleneck::new(r))),
        down: args.rate.map(|r| Mutex::new(Bottleneck::new(r))),
        stats: Stats::default(),
    });
    let mut listeners = Vec::new();
    for (listen, origin) in &args.routes {
        let listener = TcpListener::bind(listen).await.unwrap_or_else(|e| {
            eprintln!("linkemu: cannot listen on {listen}: {e}");
            std::process::exit(2);
        });
        let addr = listener.local_addr().expect("a bound address");
        println!("{addr}");
        listeners.push((listener, origin.clone()));
    }
    std::io::stdout().flush().expect("stdout");
    for (listener, origin) in listeners {
        tokio::spawn(serve(listener, origin, link.clone()));
    }
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let s = &link.stats;
    eprintln!(
        "linkemu: {} connections, {} bytes to the origins, {} bytes back",
        s.connections.load(Ordering::Relaxed),
        s.bytes_up.load(Ordering::Relaxed),
        s.bytes_down.load(Ordering::Relaxed)
    );
}

async fn serve(listener: TcpListener, origin: String, link: Arc<Link>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                let origin = origin.clone();
                let link = link.clone();
                tokio::spawn(async move {
                    // A reset or a refused origin ends this connection only; the client sees it closed.
                    let _ = relay::connection(client, &origin, link).await;
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: say so, and keep serving.
                eprintln!("linkemu: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
