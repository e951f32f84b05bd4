//! A loopback TCP proxy between the hub and its S3 store that breaks on
//! command: the store goes away (connections refused, open ones cut), hangs
//! (takes connections and never answers), answers slowly (added latency), or
//! fails a share of requests (503, chosen by a seeded generator, so a run is
//! reproducible). Only ever binds and dials loopback.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Bytes pass untouched.
    Pass,
    /// Nothing listens: connections are refused, open ones were cut.
    Down,
    /// Connections are taken, requests read, and never answered.
    Hang,
    /// Each chunk of an answer waits this long before it goes on.
    Slow(Duration),
    /// Each request fails with `503` with this probability (per mille).
    Flaky(u32),
}

struct State {
    mode: Mode,
    rng: rand::rngs::StdRng,
    /// Requests answered 503 by the proxy itself.
    failed: u64,
    /// Connections being served, to cut when the store goes down.
    conns: Vec<JoinHandle<()>>,
}

pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (loopback).
    pub async fn start(upstream: SocketAddr, seed: u64) -> Arc<Self> {
        assert!(upstream.ip().is_loopback(), "the proxy only dials loopback");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Arc::new(Self {
            addr: listener.local_addr().unwrap(),
            upstream,
            state: Arc::new(Mutex::new(State {
                mode: Mode::Pass,
                rng: rand::rngs::StdRng::seed_from_u64(seed),
                failed: 0,
                conns: Vec::new(),
            })),
            acceptor: Mutex::new(None),
        });
        proxy.accept_on(listener);
        proxy
    }

    /// `http://127.0.0.1:<port>`, for the hub's S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests the proxy failed itself so far.
    pub fn failed(&self) -> u64 {
        self.state.lock().unwrap().failed
    }

    pub async fn set(&self, mode: Mode) {
        let was = {
            let mut s = self.state.lock().unwrap();
            std::mem::replace(&mut s.mode, mode)
        };
        match (was == Mode::Down, mode == Mode::Down) {
            (false, true) => {
                if let Some(a) = self.acceptor.lock().unwrap().take() {
                    a.abort();
                }
                for c in self.state.lock().unwrap().conns.drain(..) {
                    c.abort();
                }
                // The listener is dropped with its task: wait until the
                // port refuses.
                for _ in 0..100 {
                    if TcpStream::connect(self.addr).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            (true, false) => {
                let mut listener = None;
                for _ in 0..200 {
                    match TcpListener::bind(self.addr).await {
                        Ok(l) => {
                            listener = Some(l);
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
                    }
                }
                self.accept_on(listener.expect("the proxy's port is free again"));
            }
            _ => {}
        }
    }

    fn accept_on(&self, listener: TcpListener) {
        let (state, upstream) = (self.state.clone(), self.upstream);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let conn = tokio::spawn(serve(client, upstream, state.clone()));
                let mut s = state.lock().unwrap();
                s.conns.retain(|c| !c.is_finished());
                s.conns.push(conn);
            }
        });
        *self.acceptor.lock().unwrap() = Some(task);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(a) = self.acceptor.lock().unwrap().take() {
            a.abort();
        }
        for c in self.state.lock().unwrap().conns.drain(..) {
            c.abort();
        }
    }
}

fn mode(state: &Mutex<State>) -> Mode {
    state.lock().unwrap().mode
}

/// Whether the request starting now fails (in [`Mode::Flaky`]).
fn fails_now(state: &Mutex<State>) -> bool {
    let mut s = state.lock().unwrap();
    let Mode::Flaky(per_mille) = s.mode else {
        return false;
    };
    let fail = s.rng.gen_range(0..1000) < per_mille;
    if fail {
        s.failed += 1;
    }
    fail
}

const FAILED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Carries one connection both ways. A request starts with the first bytes
/// the client sends after an answer (or on a new connection): that is
/// where a flaky store fails it.
async fn serve(mut client: TcpStream, upstream: SocketAddr, state: Arc<Mutex<State>>) {
    if mode(&state) == Mode::Hang {
        let mut sink = [0u8; 64 * 1024];
        while let Ok(n) = client.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Whether the server has answered since the client last sent.
    let turn = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (turn_up, st_up) = (turn.clone(), state.clone());
    let (fail_tx, mut fail_rx) = tokio::sync::mpsc::channel::<()>(1);
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if mode(&st_up) == Mode::Hang {
                // The store takes the request and never answers.
                continue;
            }
            if turn_up.swap(false, std::sync::atomic::Ordering::SeqCst) && fails_now(&st_up) {
                let _ = fail_tx.send(()).await;
                break;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = sw.shutdown().await;
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = tokio::select! {
                r = sr.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                _ = fail_rx.recv() => {
                    let _ = cw.write_all(FAILED).await;
                    break;
                }
            };
            if let Mode::Slow(d) = mode(&state) {
                tokio::time::sleep(d).await;
            }
            turn.store(true, std::sync::atomic::Ordering::SeqCst);
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}
