//! Eager mirroring: after a good read of a peer's feed, the files of its
//! mirrored programs that the operator wants here ahead of need (`all`, or
//! those a station of this hub follows) are fetched, newest program first,
//! as long as what is stored of that peer's programs stays within its size
//! limit; so that they are served while the peer is down. Each fetch is the
//! one a take would make (resumed, held to size and SHA-256, once per
//! content), and no take: the ledgers count only stations' downloads.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::follows::Following;
use crate::catalog::{peers, programs, stations, Connection};
use crate::domain::{EagerMirror, Peer, Program, StationId, StationKind};
use crate::exchange::files::Wanted;
use crate::exchange::{ExchangeError, Hub};

/// Files looked at in one round (the rest waits for the next read).
const ROUND: usize = 200;

/// Whether `p`'s rights window is open at `now` (its origin serves it).
fn window_open(p: &Program) -> bool {
    let (now, r) = (Utc::now(), &p.meta.rights);
    r.available_from.is_none_or(|f| f <= now) && r.available_until.is_none_or(|u| now < u)
}

/// The follows of every station of this hub (not peers' rows).
fn local_following(c: &Connection) -> Result<Vec<Following>, ExchangeError> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stations::list(c, after.as_deref(), 500)?;
        let Some(last) = page.last().map(|s| s.id.to_string()) else {
            return Ok(all);
        };
        for s in page.iter().filter(|s| s.kind != StationKind::Peer) {
            all.push(Following::load(c, &s.id)?);
        }
        after = Some(last);
    }
}

/// What to fetch now for `peer`, within its limit.
fn picks(c: &Connection, peer: &StationId, mode: EagerMirror, max: u64) -> Result<Vec<Wanted>, ExchangeError> {
    let mut budget = match max {
        0 => u64::MAX,
        max => max.saturating_sub(peers::stored_bytes(c, peer)?),
    };
    let following = match mode {
        EagerMirror::Followed => local_following(c)?,
        _ => Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    for (id, role, size, sha) in peers::unfetched(c, peer, ROUND)? {
        if size > budget || !seen.insert(sha) {
            continue;
        }
        let Some(stored) = programs::get(c, id)? else {
            continue;
        };
        let p = stored.program;
        let followed = || following.iter().any(|f| !f.matching(&p).is_empty());
        if !window_open(&p) || (mode == EagerMirror::Followed && !followed()) {
            continue;
        }
        let (Some(origin), Some(file)) = (p.origin.clone(), p.files.iter().find(|f| f.role == role)) else {
            continue;
        };
        budget -= size;
        wanted.push(Wanted {
            origin,
            file: file.clone(),
        });
    }
    Ok(wanted)
}

/// The peers whose eager round is running: one at a time for each.
pub type Rounds = Arc<Mutex<HashSet<StationId>>>;

/// A running round; its peer is free for the next when it ends (even by a
/// panic).
struct Round {
    rounds: Rounds,
    peer: StationId,
}

impl Drop for Round {
    fn drop(&mut self) {
        self.rounds.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.peer);
    }
}

impl Hub {
    /// Starts a round of `peer`'s eager mirroring beside the worker (a
    /// long fetch must not hold up the reads of the feeds, through which a
    /// withdrawal stops it), unless one is running.
    pub(super) fn mirror_eagerly(&self, peer: &Peer) {
        if peer.eager == EagerMirror::None {
            return;
        }
        let rounds = self.peer_eager_rounds.clone();
        if !rounds.lock().unwrap_or_else(|e| e.into_inner()).insert(peer.id.clone()) {
            return;
        }
        let round = Round {
            rounds,
            peer: peer.id.clone(),
        };
        let (hub, peer) = (self.clone(), peer.clone());
        tokio::spawn(async move {
            hub.eager_round(&peer).await;
            drop(round);
        });
    }

    /// Fetches what `peer`'s eager mirroring wants and lacks; stops at the
    /// first failure (the next good read tries again).
    async fn eager_round(&self, peer: &Peer) {
        let (id, mode, max) = (peer.id.clone(), peer.eager, peer.eager_max_bytes);
        let wanted = match self.catalog.read(move |c| picks(c, &id, mode, max)).await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(peer = %peer.id, error = %e, "could not choose what to mirror eagerly");
                return;
            }
        };
        for w in wanted {
            if self.fetch_from_origin(&w).await.is_err() {
                return;
            }
        }
    }
}
