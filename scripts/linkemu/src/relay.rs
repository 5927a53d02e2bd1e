//! One proxied connection: each direction read as it comes, held for the one-way delay (and the
//! bottleneck's turn), written on, and counted in flight until its acknowledgement would be back.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{sleep_until, Instant};

use crate::shape::{self, Bottleneck};

/// The link every connection crosses.
pub struct Link {
    pub rtt: Duration,
    /// Bytes one connection may have in flight in one direction.
    pub window: usize,
    /// Longest queue at a bottleneck before senders hold back.
    pub queue: Duration,
    /// The shared rate caps, client to origin and origin to client (none: uncapped).
    pub up: Option<Mutex<Bottleneck>>,
    pub down: Option<Mutex<Bottleneck>>,
    pub stats: Stats,
}

#[derive(Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

/// A chunk on the wire (the first `len` bytes of `buf`), or the end of the stream (`None`),
/// due at the far end at `due`.
struct Segment {
    due: Instant,
    data: Option<(Vec<u8>, usize)>,
}

/// A delivered chunk's buffer, back to its sender with the acknowledgement of its `len` bytes
/// (reused: a fresh 256 KiB buffer per chunk costs more than the copy).
struct Ack {
    due: Instant,
    len: usize,
    buf: Vec<u8>,
}

/// Relays `client` to a new connection to `origin` until both directions end or one fails.
pub async fn connection(client: TcpStream, origin: &str, link: Arc<Link>) -> io::Result<()> {
    let accepted = Instant::now();
    let server = TcpStream::connect(origin).await?;
    link.stats.connections.fetch_add(1, Ordering::Relaxed);
    // The delay is ours to add: Nagle's algorithm would add its own.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_rx, client_tx) = client.into_split();
    let (server_rx, server_tx) = server.into_split();
    // A failure either way drops both sockets, as a reset would.
    tokio::try_join!(
        direction(
            client_rx,
            server_tx,
            &link,
            link.up.as_ref(),
            accepted,
            &link.stats.bytes_up
        ),
        direction(
            server_rx,
            client_tx,
            &link,
            link.down.as_ref(),
            accepted,
            &link.stats.bytes_down
        ),
    )?;
    Ok(())
}

async fn direction(
    from: impl AsyncRead + Unpin,
    to: impl AsyncWrite + Unpin,
    link: &Link,
    bottleneck: Option<&Mutex<Bottleneck>>,
    accepted: Instant,
    bytes: &AtomicU64,
) -> io::Result<()> {
    let window = Semaphore::new(link.window);
    let (wire_tx, wire_rx) = mpsc::unbounded_channel();
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let (spare_tx, spare_rx) = mpsc::unbounded_channel();
    tokio::try_join!(
        send(from, link, bottleneck, accepted, &window, wire_tx, spare_rx),
        deliver(to, link, wire_rx, ack_tx, bytes),
        acknowledge(ack_rx, &window, spare_tx),
    )?;
    Ok(())
}

/// Reads what the window lets through and puts it on the wire with the time it is due.
async fn send(
    mut from: impl AsyncRead + Unpin,
    link: &Link,
    bottleneck: Option<&Mutex<Bottleneck>>,
    accepted: Instant,
    window: &Semaphore,
    wire: mpsc::UnboundedSender<Segment>,
    mut spare: mpsc::UnboundedReceiver<Vec<u8>>,
) -> io::Result<()> {
    let one_way = shape::one_way(link.rtt);
    loop {
        // Wait for room, then take all there is (only this task takes permits: no race).
        window.acquire().await.expect("never closed").forget();
        let extra = shape::next_read(1 + window.available_permits()) - 1;
        if extra > 0 {
            window
                .try_acquire_many(extra as u32)
                .expect("room just seen")
                .forget();
        }
        let want = 1 + extra;
        let mut buf = spare.try_recv().unwrap_or_else(|_| vec![0; shape::CHUNK]);
        let n = from.read(&mut buf[..want]).await?;
        window.add_permits(want - n);
        let sent = shape::send_at(Instant::now().into_std(), accepted.into_std(), link.rtt);
        if n == 0 {
            let _ = wire.send(Segment {
                due: Instant::from_std(sent) + one_way,
                data: None,
            });
            return Ok(());
        }
        let left = match bottleneck {
            Some(b) => b.lock().expect("bottleneck lock").reserve(sent, n),
            None => sent,
        };
        let due = Instant::from_std(left) + one_way;
        if wire
            .send(Segment {
                due,
                data: Some((buf, n)),
            })
            .is_err()
        {
            return Ok(()); // the far end failed; `deliver` reports it
        }
        if bottleneck.is_some() {
            if let Some(t) = shape::pace_until(left, link.queue, Instant::now().into_std()) {
                sleep_until(Instant::from_std(t)).await;
            }
        }
    }
}

/// Writes each segment when it is due; its acknowledgement is due one way later.
async fn deliver(
    mut to: impl AsyncWrite + Unpin,
    link: &Link,
    mut wire: mpsc::UnboundedReceiver<Segment>,
    acks: mpsc::UnboundedSender<Ack>,
    bytes: &AtomicU64,
) -> io::Result<()> {
    let one_way = shape::one_way(link.rtt);
    while let Some(segment) = wire.recv().await {
        if segment.due > Instant::now() {
            sleep_until(segment.due).await;
        }
        match segment.data {
            Some((buf, len)) => {
                to.write_all(&buf[..len]).await?;
                bytes.fetch_add(len as u64, Ordering::Relaxed);
                let _ = acks.send(Ack {
                    due: Instant::now() + one_way,
                    len,
                    buf,
                });
            }
            None => {
                to.shutdown().await?;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Gives the window its bytes back when their acknowledgement arrives.
async fn acknowledge(
    mut acks: mpsc::UnboundedReceiver<Ack>,
    window: &Semaphore,
    spare: mpsc::UnboundedSender<Vec<u8>>,
) -> io::Result<()> {
    while let Some(ack) = acks.recv().await {
        if ack.due > Instant::now() {
            sleep_until(ack.due).await;
        }
        window.add_permits(ack.len);
        let _ = spare.send(ack.buf);
    }
    Ok(())
}
