//! The gate every Argon2id check and hash goes through. Each takes ~19 MiB
//! and a core for a while, so only as many run at once as the machine has
//! cores but one (at least one, at most [`MAX_RUNNING`]); a few more wait their turn (at most
//! [`MAX_WAITING`]) and anything beyond is refused at once with 429 and
//! `Retry-After`, so that a burst of sign-ins can neither exhaust memory nor
//! starve the rest of the hub. On glibc the big blocks are also made to be
//! given back to the system when freed (see [`give_big_blocks_back`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ExchangeError;

/// The most checks running at once, whatever the core count.
pub const MAX_RUNNING: usize = 4;
/// The most checks waiting for a turn; more are refused.
pub const MAX_WAITING: usize = 16;
/// The seconds a refused sign-in is told to wait.
pub const RETRY_AFTER_SECS: u64 = 2;

/// Bounds the password checks running and waiting.
#[derive(Debug, Clone)]
pub struct PasswordGate {
    running: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

impl Default for PasswordGate {
    fn default() -> Self {
        // One core is left to the rest of the hub (searches, downloads).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores.saturating_sub(1).clamp(1, MAX_RUNNING), MAX_WAITING)
    }
}

/// A turn to check a password; the next waiting one goes when it is dropped.
#[derive(Debug)]
pub struct Turn(#[allow(dead_code)] OwnedSemaphorePermit);

/// Counts one waiter while it lives (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordGate {
    pub fn new(running: usize, max_waiting: usize) -> Self {
        give_big_blocks_back();
        Self {
            running: Arc::new(Semaphore::new(running.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
        }
    }

    /// A turn at once, or after waiting in a queue that is not full;
    /// `TooManyRequests` (code `busy`) when it is.
    pub async fn turn(&self) -> Result<Turn, ExchangeError> {
        if let Ok(p) = self.running.clone().try_acquire_owned() {
            return Ok(Turn(p));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            tracing::info!("password checks busy; refused");
            return Err(busy());
        }
        let _waiting = Waiting(&self.waiting);
        let p = self.running.clone().acquire_owned().await.map_err(|_| busy())?;
        Ok(Turn(p))
    }

    /// Runs `f` (an Argon2id check or hash) on a blocking thread in its turn.
    pub async fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Result<R, ExchangeError> {
        let turn = self.turn().await?;
        Ok(Self::run_in(turn, f).await)
    }

    /// Runs `f` on a blocking thread in `turn`, which ends when `f` does
    /// (even if the caller stops waiting).
    pub async fn run_in<R: Send + 'static>(turn: Turn, f: impl FnOnce() -> R + Send + 'static) -> R {
        let r = tokio::task::spawn_blocking(move || {
            let r = f();
            drop(turn);
            r
        })
        .await;
        match r {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// The answer when too many checks are running and waiting.
pub fn busy() -> ExchangeError {
    ExchangeError::TooManyRequests {
        code: super::error::code::BUSY,
        detail: "too many sign-ins at once; try again in a moment".into(),
        retry_after_secs: RETRY_AFTER_SECS,
    }
}

/// glibc's malloc raises its mmap threshold to the size of the last large
/// block freed, so after the first Argon2 check its 19 MiB blocks come from
/// the per-thread arenas and stay in the process after they are freed (the
/// probe saw 2.5 GB kept idle). A fixed threshold keeps every block above
/// 1 MiB in its own mapping, unmapped when freed.
fn give_big_blocks_back() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets a malloc tunable; setting it while other
        // threads allocate is allowed (glibc takes its own lock).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn beyond_the_running_and_the_waiting_it_refuses_with_retry_after() {
        let gate = PasswordGate::new(1, 2);
        let first = gate.turn().await.unwrap();
        let g1 = gate.clone();
        let g2 = gate.clone();
        let w1 = tokio::spawn(async move { g1.turn().await.map(|_| ()) });
        let w2 = tokio::spawn(async move { g2.turn().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(gate.waiting.load(Ordering::Acquire), 2);
        match gate.turn().await {
            Err(ExchangeError::TooManyRequests {
                code, retry_after_secs, ..
            }) => {
                assert_eq!(code, "busy");
                assert!(retry_after_secs > 0);
            }
            other => panic!("{other:?}"),
        }
        // The refused one is not counted as waiting.
        assert_eq!(gate.waiting.load(Ordering::Acquire), 2);
        drop(first);
        w1.await.unwrap().unwrap();
        w2.await.unwrap().unwrap();
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
        assert!(gate.turn().await.is_ok());
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_queue() {
        let gate = PasswordGate::new(1, 1);
        let _first = gate.turn().await.unwrap();
        let g = gate.clone();
        let gave_up = tokio::time::timeout(Duration::from_millis(20), async move { g.turn().await }).await;
        assert!(gave_up.is_err());
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn run_runs_at_most_the_bound_at_once() {
        let gate = PasswordGate::new(2, 100);
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (gate, now, peak) = (gate.clone(), now.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                gate.run(move || {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    now.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
