//! A poor link on loopback: a TCP proxy that paces each connection to a rate
//! in each direction and resets it (no flush, no FIN) a fixed time after it
//! opened (or when the test takes the link down), counting the bytes it
//! carried each way. The tus bench uploads through it, the pull bench and
//! the pull agent's test download through it, pushes go through it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub struct Link {
    pub addr: SocketAddr,
    /// Bytes carried client → upstream.
    pub forwarded: Arc<AtomicU64>,
    /// Bytes carried upstream → client.
    pub returned: Arc<AtomicU64>,
    pub connections: Arc<AtomicU64>,
    /// Connections the link reset.
    pub cuts: Arc<AtomicU64>,
    /// While set, the link is down: its connections are reset and new ones
    /// refused (accepted and reset at once).
    pub down: Arc<AtomicBool>,
}

/// Resolves once `down` is set (polled).
async fn went_down(down: &AtomicBool) {
    while !down.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How far ahead of its rate a connection may send after it sat idle: a
/// connection kept alive across a pause must not make up for it in a burst.
const BURST: Duration = Duration::from_millis(50);

/// Copies `from` to `to` at most `rate` bytes per second since `opened`,
/// idle time not saved up beyond [`BURST`].
async fn paced(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    rate: f64,
    opened: tokio::time::Instant,
    count: &AtomicU64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    // When the bytes sent so far may have left at the rate.
    let mut due = opened;
    loop {
        // Small reads at low rates, so that pacing stays smooth.
        let want = buf.len().min((rate / 50.0).max(1024.0) as usize);
        let n = match from.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        count.fetch_add(n as u64, Ordering::Relaxed);
        let now = tokio::time::Instant::now();
        due = due.max(now.checked_sub(BURST).unwrap_or(now)) + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due).await;
    }
}

/// A link to `upstream` at `rate_bytes` per second each way, each
/// connection reset `cut` after it opened.
pub async fn start_link(upstream: SocketAddr, rate_bytes: f64, cut: Duration) -> Link {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let link = Link {
        addr: listener.local_addr().expect("proxy address"),
        forwarded: Arc::default(),
        returned: Arc::default(),
        connections: Arc::default(),
        cuts: Arc::default(),
        down: Arc::default(),
    };
    let (forwarded, returned, connections, cuts, is_down) = (
        link.forwarded.clone(),
        link.returned.clone(),
        link.connections.clone(),
        link.cuts.clone(),
        link.down.clone(),
    );
    tokio::spawn(async move {
        loop {
            let Ok((down, _)) = listener.accept().await else {
                continue;
            };
            if is_down.load(Ordering::Relaxed) {
                let _ = down.set_zero_linger();
                continue;
            }
            let (forwarded, returned, cuts, is_down) =
                (forwarded.clone(), returned.clone(), cuts.clone(), is_down.clone());
            connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let Ok(up) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = down.set_nodelay(true);
                let _ = up.set_nodelay(true);
                // Reset, not close: the link is gone, nothing is flushed.
                let _ = down.set_zero_linger();
                let _ = up.set_zero_linger();
                let (down_r, down_w) = down.into_split();
                let (up_r, up_w) = up.into_split();
                let opened = tokio::time::Instant::now();
                let to_hub = paced(down_r, up_w, rate_bytes, opened, &forwarded);
                let to_client = paced(up_r, down_w, rate_bytes, opened, &returned);
                tokio::select! {
                    _ = async { tokio::join!(to_hub, to_client) } => {}
                    _ = tokio::time::sleep_until(opened + cut) => { cuts.fetch_add(1, Ordering::Relaxed); }
                    _ = went_down(&is_down) => { cuts.fetch_add(1, Ordering::Relaxed); }
                }
                // Dropping the halves resets both connections.
            });
        }
    });
    link
}
