//! A mirrored program's file, fetched from its origin hub on first need:
//! through the peer's public API with this hub's peer token, resumed with
//! ranges when the link drops, held to the size and SHA-256 the peer
//! declared, and stored in this hub's content-addressed store. Takes that
//! ask at the same time wait on one fetch; later ones are served here.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::peers::{describe, join};
use crate::catalog::{analysis, media, peers};
use crate::domain::{Peer, Sha256};
use crate::exchange::files::{UploadGuard, Wanted};
use crate::exchange::{ExchangeError, Hub};

/// Tries in a row that bring no byte before a fetch gives up: before its
/// first byte (the origin is likely down: the taker hears so soon)…
const ATTEMPTS: u32 = 6;
/// …and once bytes came (a broken link, the origin restarting: worth
/// waiting for, about 13 s in all, to go on from where it broke).
const RESUME_ATTEMPTS: u32 = 12;
/// How long one request to the origin may go without finishing.
const TIMEOUT: Duration = Duration::from_secs(3600);
/// How often a fetch under way looks whether its program was withdrawn.
const CHECK_EVERY: Duration = Duration::from_millis(300);

/// One fetch per content at a time: takers of the same file wait on it.
pub(in crate::exchange) type Fetches =
    Arc<std::sync::Mutex<std::collections::HashMap<Sha256, Arc<tokio::sync::Mutex<()>>>>>;

/// Why a fetch from the origin stored nothing (logged; the taker reads
/// `origin_unavailable`).
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the hub no longer follows this peer")]
    NoPeer,
    #[error("the peer's address is refused")]
    Address,
    #[error("the peer refused this hub's token ({0})")]
    Refused(u16),
    #[error("the peer answered {0}")]
    Status(u16),
    #[error("the peer could not be reached: {0}")]
    Unreachable(String),
    #[error("the peer sent more than the {0} bytes it declared")]
    Larger(u64),
    #[error("the peer's file ended at {got} of the {want} bytes it declared")]
    Shorter { got: u64, want: u64 },
    #[error("the peer's bytes do not match the SHA-256 it declared")]
    Mismatch,
    #[error("the peer did not resume at byte {0}")]
    NoResume(u64),
    #[error("the program was withdrawn while its file was fetched")]
    Withdrawn,
    #[error(transparent)]
    Local(#[from] ExchangeError),
}

impl From<crate::media::MediaError> for FetchError {
    fn from(e: crate::media::MediaError) -> Self {
        Self::Local(e.into())
    }
}

impl From<crate::catalog::DbError> for FetchError {
    fn from(e: crate::catalog::DbError) -> Self {
        Self::Local(e.into())
    }
}

/// The GET of `w`'s file at its origin, from byte `from` on (then only
/// while it is the same file, by its SHA-256 as ETag).
fn request(client: &reqwest::Client, url: &url::Url, peer: &Peer, w: &Wanted, from: u64) -> reqwest::RequestBuilder {
    let req = client.get(url.clone()).bearer_auth(peer.token.expose());
    match from {
        0 => req,
        from => req
            .header(reqwest::header::RANGE, format!("bytes={from}-"))
            .header(reqwest::header::IF_RANGE, format!("\"{}\"", w.file.sha256.hex())),
    }
}

impl Hub {
    /// Fetches `w` from its origin unless it is stored here already; once
    /// at a time per content.
    pub(in crate::exchange) async fn fetch_from_origin(&self, w: &Wanted) -> Result<(), ExchangeError> {
        let sha = w.file.sha256;
        let lock = {
            let mut fetches = self.peer_fetches.lock().unwrap_or_else(|e| e.into_inner());
            fetches.entry(sha).or_default().clone()
        };
        let _one = lock.lock().await;
        if self.catalog.read(move |c| media::object(c, &sha)).await?.is_some() {
            return Ok(());
        }
        let id = w.origin.peer.clone();
        let result = match self.catalog.read(move |c| peers::get(c, &id)).await? {
            Some(peer) => self.fetch_file(&peer, w).await,
            None => Err(FetchError::NoPeer),
        };
        self.peer_fetches.lock().unwrap_or_else(|e| e.into_inner()).remove(&sha);
        match result {
            Ok(()) => Ok(()),
            Err(FetchError::Local(e)) => Err(e),
            Err(FetchError::Withdrawn) => {
                tracing::info!(peer = %w.origin.peer, program = %w.origin.program_id, "stopped fetching a mirrored file: its program was withdrawn");
                Err(ExchangeError::Gone)
            }
            Err(e) => {
                self.record_wait(w, matches!(e, FetchError::NoPeer)).await;
                tracing::warn!(
                    peer = %w.origin.peer,
                    program = %w.origin.program_id,
                    role = w.file.role.as_str(),
                    "could not fetch a mirrored file from its origin; nothing stored: {e}"
                );
                Err(ExchangeError::OriginUnavailable)
            }
        }
    }

    /// Notes that `w` waits for its origin (its page says so, with when it
    /// was tried), unless the hub no longer follows its peer.
    async fn record_wait(&self, w: &Wanted, no_peer: bool) {
        if no_peer {
            return;
        }
        let (sha, peer) = (w.file.sha256, w.origin.peer.clone());
        let at = crate::catalog::now();
        if let Err(e) = self.catalog.write(move |tx| peers::set_wait(tx, &sha, &peer, at)).await {
            tracing::error!(error = %e, "could not record that a mirrored file waits for its origin");
        }
    }

    /// Whether the mirror `w` belongs to is still published here (its
    /// origin's withdrawal reaches it with the next read of the peer's feed).
    async fn still_wanted(&self, w: &Wanted) -> Result<bool, FetchError> {
        let (peer, remote) = (w.origin.peer.clone(), w.origin.program_id.clone());
        let mirror = self.catalog.read(move |c| peers::mirror(c, &peer, &remote)).await?;
        Ok(mirror.is_some_and(|s| s.program.status == crate::domain::ProgramStatus::Published))
    }

    /// Streams the file from the peer into a new object, resuming with a
    /// range after a broken link; records it once its size and SHA-256 are
    /// the declared ones (else the guard removes what was written).
    async fn fetch_file(&self, peer: &Peer, w: &Wanted) -> Result<(), FetchError> {
        let base = url::Url::parse(&peer.url).map_err(|_| FetchError::Address)?;
        if let Some(Err(_)) = self.webhook_guard.judge_literal(&base) {
            return Err(FetchError::Address);
        }
        let path = format!("api/v1/programs/{}/files/{}", w.origin.program_id, w.file.role.as_str());
        let url = join(&base, &path).map_err(|_| FetchError::Address)?;
        if !self.still_wanted(w).await? {
            return Err(FetchError::Withdrawn);
        }
        let client = self.peer_client();
        let mut guard = UploadGuard::start(self).await?;
        let mut writer = self.media.writer(&guard.key).await?;
        if let Some(id) = writer.multipart_id().map(str::to_owned) {
            guard.multipart = Some(id.clone());
            let key = guard.key.clone();
            self.catalog
                .write(move |tx| media::set_multipart_id(tx, &key, &id))
                .await?;
        }
        let want = w.file.size;
        let mut tries = 0;
        let mut checked = tokio::time::Instant::now();
        loop {
            tries += 1;
            let from = writer.size();
            let limit = if from > 0 { RESUME_ATTEMPTS } else { ATTEMPTS };
            let mut r = match request(&client, &url, peer, w, from).send().await {
                Ok(r) => r,
                Err(e) if tries < limit => {
                    tracing::info!(peer = %peer.id, "fetching from the origin: {}; trying again", describe(&e));
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(tries.min(10)))).await;
                    continue;
                }
                Err(e) => return Err(FetchError::Unreachable(describe(&e))),
            };
            match (r.status().as_u16(), from) {
                (200, 0) | (206, 1..) => {}
                (200, from) => return Err(FetchError::NoResume(from)),
                (s @ (401 | 403), _) => return Err(FetchError::Refused(s)),
                (s, _) => return Err(FetchError::Status(s)),
            }
            let broken = match self.read_body(&mut r, &mut writer, w, &mut checked).await {
                Ok(broken) => broken,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            };
            if writer.size() > from {
                // Bytes came: the tries in a row start again.
                tries = 0;
            }
            match broken {
                None => break,
                Some(why) if tries < RESUME_ATTEMPTS => {
                    tracing::info!(peer = %peer.id, at = writer.size(), "fetching from the origin: {why}; resuming");
                }
                Some(why) => return Err(FetchError::Unreachable(why)),
            }
        }
        if writer.size() != want {
            let got = writer.size();
            writer.abort().await;
            return Err(FetchError::Shorter { got, want });
        }
        let stored = writer.finish().await?;
        if stored.sha256 != w.file.sha256 {
            return Err(FetchError::Mismatch);
        }
        self.metrics.bytes_in.fetch_add(stored.size, Ordering::Relaxed);
        let unused = self.record_fetched(stored).await?;
        tracing::info!(peer = %peer.id, program = %w.origin.program_id, size = want, "fetched a mirrored file from its origin");
        guard.done();
        self.delete_objects(unused).await;
        self.wake_analysis();
        Ok(())
    }

    /// Writes the answer's body on; `Some(why)` when the link broke before
    /// its end. Stops (the caller aborts the object) when the file turns out larger
    /// than declared, or its program was withdrawn meanwhile.
    async fn read_body(
        &self,
        r: &mut reqwest::Response,
        writer: &mut crate::media::ObjectWriter,
        w: &Wanted,
        checked: &mut tokio::time::Instant,
    ) -> Result<Option<String>, FetchError> {
        loop {
            match r.chunk().await {
                Ok(Some(chunk)) => {
                    if writer.size() + chunk.len() as u64 > w.file.size {
                        return Err(FetchError::Larger(w.file.size));
                    }
                    writer.write(chunk).await?;
                    if checked.elapsed() >= CHECK_EVERY {
                        *checked = tokio::time::Instant::now();
                        if !self.still_wanted(w).await? {
                            return Err(FetchError::Withdrawn);
                        }
                    }
                }
                Ok(None) => return Ok(None),
                Err(e) => return Ok(Some(describe(&e))),
            }
        }
    }

    /// Records a fetched object (unless the same content came meanwhile);
    /// returns the keys no longer needed.
    async fn record_fetched(&self, stored: crate::media::StoredObject) -> Result<Vec<String>, ExchangeError> {
        self.catalog
            .write(move |tx| {
                let mut unused = Vec::new();
                match media::object(tx, &stored.sha256)? {
                    Some(_) => unused.push(stored.key.clone()),
                    None => media::insert_object(
                        tx,
                        &media::MediaObject {
                            sha256: stored.sha256,
                            key: stored.key.clone(),
                            size: stored.size,
                        },
                    )?,
                }
                media::end_upload(tx, &stored.key)?;
                peers::clear_wait(tx, &stored.sha256)?;
                // Looked into here too: previews, loudness, the search's facts.
                analysis::enqueue(tx, &stored.sha256)?;
                Ok(unused)
            })
            .await
    }

    /// The client every call to a peer goes through: the webhook address
    /// guard resolves its names; no redirects, no proxy.
    pub(super) fn peer_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(self.webhook_guard.clone()))
            .user_agent(concat!("pxhub/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client")
    }
}
