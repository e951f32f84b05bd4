//! The ledger: downloads that complete become takes; stations that took a
//! program report its rebroadcasts; owners see both.

use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use crate::domain::text::tidy;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use super::files::Download;
use super::programs::{owned_or_operated, visible, IfMatch};
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::ledger;
use crate::catalog::DbError;
use crate::catalog::{self, programs};
use crate::domain::{ActionKind, FieldError, ProgramId, Rebroadcast, Take};
use crate::media::{LocalFile, MediaError};

/// A rebroadcast as a station reports it.
#[derive(Debug, Clone)]
pub struct NewRebroadcast {
    pub aired_at: DateTime<Utc>,
    pub channel: String,
    pub note: Option<String>,
}

/// Who took a program, and who rebroadcast it.
#[derive(Debug, Clone)]
pub struct Takes {
    pub takes: Vec<Take>,
    pub rebroadcasts: Vec<Rebroadcast>,
    /// Takes and rebroadcasts by the stations of peer hubs, as they reported.
    pub other_clusters: Vec<crate::domain::PeerUse>,
}

/// A take seen from one station.
#[derive(Debug, Clone)]
pub struct StationTake {
    pub program: ProgramId,
    pub title: String,
    /// The taker of ours, or the owner of what we took.
    pub other: crate::domain::StationId,
    pub taken_at: DateTime<Utc>,
}

/// How the bytes of a download reach the caller.
pub enum Sending {
    /// Through the hub, counted into the ledger as they go.
    Stream(BoxStream<'static, Result<Bytes, MediaError>>),
    /// From the local store, counted into the ledger as they go.
    File(Box<FileSend>),
    /// Straight from the store, at this short-lived address (presigned
    /// downloads); the ledger counted the take when it was handed out.
    Redirect(String),
    /// By nginx, from the internal location at this path (the settings'
    /// `accel_redirect` and the object's key); the ledger counted what was
    /// asked for when the path was handed out.
    Accel(String),
}

/// How long a presigned download address lives.
const PRESIGNED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

impl Hub {
    /// The bytes of `download` (all, or `range`). Behind nginx
    /// (`accel_redirect`), nginx sends them from the local store; with
    /// presigned downloads, a whole file goes from the store by redirect;
    /// both count as taken when the address is handed out. Otherwise the
    /// hub sends them and they count as they go: a local file opened for
    /// the server to send ([`FileSend`]), or a stream from S3
    /// ([`Hub::open`]).
    #[tracing::instrument(skip_all)]
    pub async fn send(&self, download: &Download, range: Option<Range<u64>>) -> Result<Sending, ExchangeError> {
        if let (Some(prefix), true) = (&self.settings.accel_redirect, self.media.is_local()) {
            let asked = range.clone().unwrap_or(0..download.file.size);
            self.record_received(download.clone(), asked).await?;
            // Object keys are the hub's own (`blobs/<hex>`), never a client's text.
            return Ok(Sending::Accel(format!("{prefix}{}", download.key)));
        }
        if self.settings.presign_downloads && range.is_none() {
            if let Some(url) = self.media.presigned_url(&download.key, PRESIGNED_FOR).await? {
                self.record_received(download.clone(), 0..download.file.size).await?;
                return Ok(Sending::Redirect(url.to_string()));
            }
        }
        if let Some(local) = self.media.local_file(&download.key, range.clone()).await? {
            let tally = self.tally(download, range.as_ref());
            return Ok(Sending::File(Box::new(FileSend { local, tally })));
        }
        Ok(Sending::Stream(Box::pin(self.open(download, range).await?)))
    }

    /// The bytes of `download` in `range`, streamed. What the caller receives
    /// is counted; once a station has received every byte of a file, in one
    /// request or several ranged ones, the ledger records one take.
    #[tracing::instrument(skip_all)]
    pub async fn open(
        &self,
        download: &Download,
        range: Option<Range<u64>>,
    ) -> Result<impl Stream<Item = Result<Bytes, MediaError>> + 'static, ExchangeError> {
        let tally = self.tally(download, range.as_ref());
        let inner = self.media.read(&download.key, range).await?;
        Ok(Counted { inner, tally })
    }

    /// A tally of what one response sends of `download` from `range`.
    fn tally(&self, download: &Download, range: Option<&Range<u64>>) -> Tally {
        Tally {
            hub: self.clone(),
            download: download.clone(),
            start: range.map_or(0, |r| r.start),
            sent: 0,
        }
    }

    /// Records that `download.taker` received `range` of the file.
    #[tracing::instrument(skip_all)]
    pub async fn record_received(&self, download: Download, range: Range<u64>) -> Result<(), ExchangeError> {
        let Some(taker) = download.taker.clone() else {
            return Ok(());
        };
        let (program, file) = (download.program, download.file.clone());
        let person = download.taker_person.clone();
        let taken = self
            .catalog
            .write(move |tx| {
                let Some(seq) = programs::seq(tx, program)? else {
                    return Ok(false);
                };
                let now = catalog::now();
                let taken = ledger::receive(tx, &taker, seq, &file, range.start, range.end, now)?;
                if taken {
                    // A mirrored program's take goes back to its origin.
                    super::delivery::peer_reports::queue_take(tx, program, &taker, &file)?;
                    super::programs::record_action(
                        tx,
                        seq,
                        person.as_ref(),
                        ActionKind::Took,
                        Some(file.role.as_str()),
                        now,
                    )?;
                }
                Ok::<_, ExchangeError>(taken)
            })
            .await?;
        if taken {
            tracing::info!(program = %download.program, role = download.file.role.as_str(), "take recorded");
            self.wake_peers();
        }
        Ok(())
    }

    /// Records a rebroadcast by a station that took the program.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn report_rebroadcast(
        &self,
        caller: &Caller,
        id: ProgramId,
        new: NewRebroadcast,
    ) -> Result<Rebroadcast, ExchangeError> {
        let Some(station) = caller.station.clone() else {
            return Err(ExchangeError::Forbidden("rebroadcasts are reported by stations"));
        };
        let mut errors = Vec::new();
        let channel = tidy(&new.channel, false).unwrap_or_default();
        if channel.is_empty() || channel.chars().count() > 200 {
            errors.push(FieldError::new(
                "channel",
                "must be 1 to 200 characters, without control, invisible or direction-changing characters",
            ));
        }
        let note = match new.note.as_deref().map(|n| tidy(n, true)).transpose() {
            Ok(note) => note.filter(|n| !n.is_empty()),
            Err(why) => {
                errors.push(FieldError::new("note", why));
                None
            }
        };
        if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            errors.push(FieldError::new("note", "must be at most 2000 characters"));
        }
        if new.aired_at > Utc::now() + chrono::Duration::days(1) {
            errors.push(FieldError::new(
                "aired_at",
                "a rebroadcast is reported once it has aired",
            ));
        }
        if !errors.is_empty() {
            return Err(ExchangeError::Invalid(errors));
        }
        let viewer = caller.viewer();
        let person = caller.person_id();
        self.catalog
            .write(move |tx| {
                let s = visible(tx, &viewer, id)?;
                if !ledger::has_taken(tx, &station, s.seq)? {
                    return Err(ExchangeError::Forbidden(
                        "a station reports rebroadcasts of programs it has downloaded",
                    ));
                }
                let r = Rebroadcast {
                    id: uuid::Uuid::new_v4().to_string(),
                    station: station.clone(),
                    program_id: id,
                    aired_at: catalog::from_micros(catalog::to_micros(new.aired_at)),
                    channel,
                    note,
                    reported_at: catalog::now(),
                };
                ledger::insert_rebroadcast(tx, s.seq, &r)?;
                // A mirrored program's rebroadcast goes back to its origin.
                super::delivery::peer_reports::queue_rebroadcast(tx, &s.program, &station, &r)?;
                super::programs::record_action(
                    tx,
                    s.seq,
                    person.as_ref(),
                    ActionKind::Rebroadcast,
                    Some(&r.channel),
                    r.reported_at,
                )?;
                Ok(r)
            })
            .await
            .inspect(|_| self.wake_peers())
    }

    /// The latest takes of the caller station's programs by others
    /// (`of_ours`), or by the caller's station of others' programs.
    pub async fn station_takes(
        &self,
        caller: &Caller,
        of_ours: bool,
        limit: usize,
    ) -> Result<Vec<StationTake>, ExchangeError> {
        let Some(station) = caller.station.clone() else {
            return Ok(Vec::new());
        };
        let rows = self
            .catalog
            .read(move |c| ledger::station_takes(c, &station, of_ours, limit.min(500)))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(program, title, other, taken_at)| StationTake {
                program,
                title,
                other,
                taken_at,
            })
            .collect())
    }

    /// Which of `ids` the caller's station has taken (a file of each).
    pub async fn taken_among(
        &self,
        caller: &Caller,
        ids: Vec<ProgramId>,
    ) -> Result<std::collections::HashSet<ProgramId>, ExchangeError> {
        let Some(station) = caller.station.clone() else {
            return Ok(Default::default());
        };
        self.catalog
            .read(move |c| {
                let mut taken = std::collections::HashSet::new();
                for id in ids {
                    if let Some(seq) = programs::seq(c, id)? {
                        if ledger::has_taken(c, &station, seq)? {
                            taken.insert(id);
                        }
                    }
                }
                Ok::<_, DbError>(taken)
            })
            .await
            .map_err(Into::into)
    }

    /// Whether the caller's station has taken program `id` (a file of it).
    pub async fn has_taken(&self, caller: &Caller, id: ProgramId) -> Result<bool, ExchangeError> {
        let Some(station) = caller.station.clone() else {
            return Ok(false);
        };
        self.catalog
            .read(move |c| match programs::seq(c, id)? {
                Some(seq) => ledger::has_taken(c, &station, seq),
                None => Ok(false),
            })
            .await
            .map_err(Into::into)
    }

    /// Who took the program and who rebroadcast it: for its owner and the admin.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn takes(&self, caller: &Caller, id: ProgramId) -> Result<Takes, ExchangeError> {
        let viewer = caller.viewer();
        self.catalog
            .read(move |c| {
                let why = "only the owner and the hub operator see who took a program";
                let s = owned_or_operated(c, &viewer, id, &IfMatch::default(), why)?;
                Ok(Takes {
                    takes: ledger::takes(c, s.seq)?,
                    rebroadcasts: ledger::rebroadcasts(c, s.seq)?,
                    other_clusters: crate::catalog::peers::uses_of(c, s.seq)?,
                })
            })
            .await
    }
}

/// What one response has sent of a download: counted as it goes, told to
/// the ledger when the response ends, completed or not.
pub struct Tally {
    hub: Hub,
    download: Download,
    start: u64,
    sent: u64,
}

impl Tally {
    /// Counts `n` more bytes sent.
    pub fn add(&mut self, n: u64) {
        self.sent += n;
        self.hub.metrics.bytes_out.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        if self.download.taker.is_none() || self.sent == 0 {
            return;
        }
        let (hub, download) = (self.hub.clone(), self.download.clone());
        let range = self.start..self.start + self.sent;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = hub.record_received(download, range).await {
                    tracing::error!(error = %e, "could not record a download in the ledger");
                }
            });
        }
    }
}

/// A local file to send, with its tally: the server hands it to the socket
/// itself when it can (`api::direct_send`), and reads it
/// ([`FileSend::into_stream`]) when it cannot.
pub struct FileSend {
    pub local: LocalFile,
    pub tally: Tally,
}

impl FileSend {
    /// The file's bytes as a stream, counted as they are handed out.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, MediaError>> {
        Counted {
            inner: self.local.into_stream(),
            tally: self.tally,
        }
        .boxed()
    }
}

/// A download stream that counts what it hands out.
struct Counted<S> {
    inner: S,
    tally: Tally,
}

impl<S: Stream<Item = Result<Bytes, MediaError>> + Unpin> Stream for Counted<S> {
    type Item = Result<Bytes, MediaError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.tally.add(chunk.len() as u64);
        }
        polled
    }
}
