//! How fast an upload must go, and how many one station may run at once, so
//! that a client sending a byte every few seconds, or a thousand uploads at
//! once, cannot hold the hub's connections and disk for everyone else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::{ExchangeError, Hub};
use crate::domain::StationId;
use crate::exchange::error::code;

/// The bytes one request has brought so far, and since when.
pub(crate) struct Pace {
    started: Instant,
    received: u64,
}

/// Why an upload's body was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stalled {
    /// No byte for `upload_idle`.
    Idle,
    /// Past the grace period, slower on average than `upload_min_rate`.
    TooSlow,
}

impl Pace {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            received: 0,
        }
    }

    /// How long the next chunk may take: never more than `idle`, and never
    /// past the moment the average rate falls below `min_rate` (which, in the
    /// first `grace`, it may).
    fn wait(&self, idle: Duration, min_rate: u64, grace: Duration) -> (Duration, Stalled) {
        if min_rate == 0 {
            return (idle, Stalled::Idle);
        }
        let floor = Duration::from_secs_f64(self.received as f64 / min_rate as f64).max(grace);
        let left = floor.saturating_sub(self.started.elapsed());
        if left < idle {
            (left, Stalled::TooSlow)
        } else {
            (idle, Stalled::Idle)
        }
    }
}

/// Uploads (single requests and tus PATCHes) running now, per station.
#[derive(Clone, Default)]
pub(crate) struct UploadSlots(Arc<Mutex<HashMap<StationId, usize>>>);

/// One running upload of a station; dropping it frees the slot.
pub(crate) struct Slot {
    slots: UploadSlots,
    station: StationId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.station) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.station);
            }
        }
    }
}

/// The seconds a client refused for too many uploads is told to wait.
pub const RETRY_AFTER_SECS: u64 = 10;

impl Hub {
    /// The next chunk of an upload's body, counted in `pace`; `Err` when none
    /// came in time.
    pub(crate) async fn next_chunk<S, E>(
        &self,
        body: &mut S,
        pace: &mut Pace,
    ) -> Result<Option<Result<Bytes, E>>, Stalled>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let (wait, why) = pace.wait(
            self.settings.upload_idle,
            self.settings.upload_min_rate,
            self.settings.upload_rate_grace,
        );
        let item = tokio::time::timeout(wait, body.next()).await.map_err(|_| why)?;
        if let Some(Ok(chunk)) = &item {
            pace.received += chunk.len() as u64;
        }
        Ok(item)
    }

    /// A slot for one more upload of `station`, or 429 when it runs
    /// `max_uploads_per_station` already.
    pub(crate) fn upload_slot(&self, station: &StationId) -> Result<Slot, ExchangeError> {
        let cap = self.settings.max_uploads_per_station;
        let mut held = self.upload_slots.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(station.clone()).or_insert(0);
        if cap > 0 && *n >= cap {
            return Err(ExchangeError::TooManyRequests {
                code: code::TOO_MANY_UPLOADS,
                detail: format!("a station may send {cap} uploads at once; retry when one has finished"),
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        *n += 1;
        Ok(Slot {
            slots: self.upload_slots.clone(),
            station: station.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_shrinks_as_the_average_falls() {
        let idle = Duration::from_secs(120);
        let grace = Duration::from_secs(60);
        let mut pace = Pace::new();
        // Nothing yet: the grace period, then the floor.
        let (wait, why) = pace.wait(idle, 1024, grace);
        assert!(wait <= grace && wait > grace - Duration::from_secs(1), "{wait:?}");
        assert_eq!(why, Stalled::TooSlow);
        // A megabyte in: at 1 KiB/s it may wait up to ~1024 s, so idle rules.
        pace.received = 1 << 20;
        assert_eq!(pace.wait(idle, 1024, grace), (idle, Stalled::Idle));
        // Behind the floor already: no wait at all.
        pace.started -= Duration::from_secs(2000);
        assert_eq!(pace.wait(idle, 1024, grace).0, Duration::ZERO);
        // No floor set: only idle.
        assert_eq!(pace.wait(idle, 0, grace), (idle, Stalled::Idle));
    }
}
