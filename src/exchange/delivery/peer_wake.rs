//! A peer's webhooks wake this hub's peer worker, so that a change there is
//! read here at once rather than at the next poll. Nothing new on the wire:
//! this hub subscribes to the peer's webhooks through the peer's public API
//! with the peer token it holds (so the peer sends only events of programs
//! a peer may see), naming `<this hub>/api/v1/peers/<id>/wake` and a secret
//! made here. A delivery that arrives there is judged by its signature
//! alone and only wakes the worker: its body is never read, the worker reads
//! the peer's feed as always. Polling goes on, and catches up on whatever a
//! lost webhook missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;

use super::peers::{describe, join};
use crate::catalog::peers;
use crate::domain::{EventType, Peer, Secret, StationId};
use crate::exchange::{ExchangeError, Hub};

/// When a subscription to each peer's webhooks last failed: tried again
/// after [`RETRY`], not at every poll.
pub type Tries = Arc<Mutex<HashMap<StationId, Instant>>>;

/// How long after a failed subscription it is tried again.
const RETRY: Duration = Duration::from_secs(600);
/// How long the peer has to answer a subscription or its end.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Subscribed {
    id: String,
}

impl Hub {
    /// This hub's address as its peers reach it, once it listens.
    pub fn set_public_base(&self, base: String) {
        let _ = self.public_base.set(base.trim_end_matches('/').to_owned());
    }

    /// Subscribes to `peer`'s webhooks unless subscribed already (or off,
    /// or failed lately). A failure is one log line; polling goes on.
    pub(super) async fn ensure_wake(&self, client: &reqwest::Client, peer: &Peer) {
        if !self.settings.delivery.peers.wake || peer.wake_hook.is_some() {
            return;
        }
        let Some(base) = self.public_base.get().cloned() else {
            return;
        };
        {
            let tries = self.peer_wake_tries.lock().unwrap_or_else(|e| e.into_inner());
            if tries.get(&peer.id).is_some_and(|t| t.elapsed() < RETRY) {
                return;
            }
        }
        match self.subscribe_at(client, peer, &base).await {
            Ok(()) => {
                tracing::info!(peer = %peer.id, "the peer's webhooks wake this hub");
                self.peer_wake_tries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&peer.id);
            }
            Err(why) => {
                tracing::warn!(peer = %peer.id, "the peer's webhooks cannot wake this hub ({why}); its feed is read every poll");
                self.peer_wake_tries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(peer.id.clone(), Instant::now());
            }
        }
    }

    async fn subscribe_at(&self, client: &reqwest::Client, peer: &Peer, base: &str) -> Result<(), String> {
        let secret = match &peer.wake_secret {
            Some(s) => s.clone(),
            None => {
                // Kept before it is given: a retry gives the same one.
                let mut b = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut b);
                let secret = Secret::new(hex::encode(b));
                let (id, s) = (peer.id.clone(), secret.clone());
                self.catalog
                    .write(move |tx| peers::set_wake(tx, &id, &s, None))
                    .await
                    .map_err(|e| e.to_string())?;
                secret
            }
        };
        let peer_base = url::Url::parse(&peer.url).map_err(|_| "not a URL".to_owned())?;
        let url = join(&peer_base, "api/v1/webhooks").map_err(|e| e.to_string())?;
        // The four of the contract: what changes a mirror.
        let events: Vec<&str> = [
            EventType::Published,
            EventType::Updated,
            EventType::Withdrawn,
            EventType::FileReplaced,
        ]
        .iter()
        .map(|t| t.as_str())
        .collect();
        let body = serde_json::json!({
            "url": format!("{base}/api/v1/peers/{}/wake", peer.id),
            "events": events,
            "secret": secret.expose(),
        });
        let r = client
            .post(url)
            .timeout(TIMEOUT)
            .bearer_auth(peer.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        if r.status().as_u16() != 201 {
            return Err(format!("the peer answered {}", r.status().as_u16()));
        }
        let made: Subscribed = r.json().await.map_err(|_| "the peer's answer is not JSON".to_owned())?;
        let id = peer.id.clone();
        self.catalog
            .write(move |tx| peers::set_wake(tx, &id, &secret, Some(&made.id)))
            .await
            .map_err(|e| e.to_string())
    }

    /// Ends the subscription at a peer no longer followed, as far as the
    /// peer answers soon; else its deliveries here are refused, and it
    /// gives them up.
    pub(super) async fn end_wake(&self, peer: &Peer) {
        let Some(hook) = &peer.wake_hook else {
            return;
        };
        let Ok(base) = url::Url::parse(&peer.url) else {
            return;
        };
        let Ok(url) = join(&base, &format!("api/v1/webhooks/{hook}")) else {
            return;
        };
        let sent = self
            .peer_client()
            .delete(url)
            .timeout(TIMEOUT)
            .bearer_auth(peer.token.expose())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {}
            Ok(r) => {
                tracing::warn!(peer = %peer.id, "could not end this hub's webhook at the peer (it answered {})", r.status().as_u16())
            }
            Err(e) => tracing::warn!(peer = %peer.id, "could not end this hub's webhook at the peer: {}", describe(&e)),
        }
    }

    /// A delivery of peer `id`'s webhook: when it is signed with the secret
    /// this hub gave that peer, the peer worker reads the peers' feeds now.
    /// Anything else is refused alike (`Unauthorized`), whether the peer
    /// exists or not.
    pub async fn peer_woken(&self, id: &str, signature: Option<&str>, body: &[u8]) -> Result<(), ExchangeError> {
        let id = StationId::parse(id).map_err(|_| ExchangeError::Unauthorized)?;
        let peer = self.catalog.read(move |c| peers::get(c, &id)).await?;
        let secret = peer.and_then(|p| p.wake_secret).ok_or(ExchangeError::Unauthorized)?;
        let given = signature
            .and_then(|s| s.strip_prefix("sha256="))
            .and_then(|h| hex::decode(h.trim()).ok())
            .ok_or(ExchangeError::Unauthorized)?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
            .map_err(|_| ExchangeError::Unauthorized)?;
        mac.update(body);
        mac.verify_slice(&given).map_err(|_| ExchangeError::Unauthorized)?;
        self.peer_wake.notify_one();
        Ok(())
    }
}
