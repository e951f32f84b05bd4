//! A program's files: ingest (hash while streaming, verify, commit the
//! object, then record it), download, removal.

use std::collections::HashSet;
use std::fmt::Display;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::Utc;
use futures_util::Stream;

use super::delivery::emit;
use super::pace::Pace;
use super::programs::{owned, visible, IfMatch};
use super::rights::{may_take, owns, NotNow};
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::{self, analysis, media, programs};
use crate::catalog::{Connection, DbResult};
use crate::domain::file::{parse_filename, parse_media_type};
use crate::domain::{ActionKind, EventType, PersonId};
use crate::domain::{FileRecord, FileRole, ProgramId, ProgramStatus, Sha256, StationId, Viewer};
use crate::exchange::error::code;
use crate::media::{MediaStore, StoredObject};

/// What a request says about the file it carries.
#[derive(Debug, Clone, Default)]
pub struct IncomingFile {
    pub filename: Option<String>,
    pub media_type: Option<String>,
    /// `Content-Length`, when announced.
    pub length: Option<u64>,
    /// The SHA-256 a `Content-Digest` announced.
    pub sha256: Option<Sha256>,
}

/// A checked upload, before any byte is read.
pub(super) struct Accepted {
    pub(super) filename: String,
    pub(super) media_type: String,
    pub(super) sha256: Option<Sha256>,
}

/// The object keys being written by this process, which sweeps leave alone.
#[derive(Clone, Default)]
pub struct ActiveUploads(Arc<Mutex<HashSet<String>>>);

impl ActiveUploads {
    pub fn contains(&self, key: &str) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).contains(key)
    }

    /// Whether `key` is being written now or, for a key that ends in `/`,
    /// anything under it.
    pub fn is_writing(&self, key: &str) -> bool {
        let keys = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match key.ends_with('/') {
            true => keys.iter().any(|k| k.starts_with(key)),
            false => keys.contains(key),
        }
    }

    /// Marks `key` as being written until the guard is dropped.
    pub(super) fn hold(&self, key: &str) -> ActiveKey {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_owned());
        ActiveKey {
            active: self.clone(),
            key: key.to_owned(),
        }
    }
}

/// A key marked as being written (see [`ActiveUploads::hold`]).
pub(super) struct ActiveKey {
    active: ActiveUploads,
    key: String,
}

impl Drop for ActiveKey {
    fn drop(&mut self) {
        self.active
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

/// Marks a key as being written; dropped before [`UploadGuard::done`], it
/// removes the object (and aborts its S3 multipart upload), then its catalog
/// row, so a failed or interrupted upload leaves nothing behind. When the
/// store cannot be reached, the row stays: it names the key and the
/// multipart upload, and the sweeper tries again.
pub(super) struct UploadGuard {
    hub: Hub,
    pub(super) key: String,
    /// The S3 multipart upload writing the key, once there is one.
    pub(super) multipart: Option<String>,
    done: bool,
}

impl UploadGuard {
    pub(super) async fn start(hub: &Hub) -> Result<Self, ExchangeError> {
        let key = MediaStore::new_key();
        hub.active
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone());
        hub.metrics.uploads_in_progress.fetch_add(1, Ordering::Relaxed);
        let guard = Self {
            hub: hub.clone(),
            key: key.clone(),
            multipart: None,
            done: false,
        };
        hub.catalog.write(move |tx| media::begin_upload(tx, &key)).await?;
        Ok(guard)
    }

    pub(super) fn done(mut self) {
        self.done = true;
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        self.hub.metrics.uploads_in_progress.fetch_sub(1, Ordering::Relaxed);
        let key = std::mem::take(&mut self.key);
        if self.done {
            self.hub.active.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
            return;
        }
        let hub = self.hub.clone();
        let multipart = self.multipart.take();
        let what = key.clone();
        let cleanup = async move {
            match hub.discard_upload(&key, multipart.as_deref()).await {
                Ok(()) => {
                    let k = key.clone();
                    if let Err(e) = hub.catalog.write(move |tx| media::end_upload(tx, &k)).await {
                        tracing::warn!(%key, error = %e, "could not forget an interrupted upload; the sweeper will");
                    }
                }
                // The row stays, with the multipart upload's id: the sweeper
                // (every `sweep_interval_secs`, and at start) tries again.
                Err(e) => {
                    tracing::warn!(%key, error = %e, "could not remove an interrupted upload; its catalog row stays for the sweeper")
                }
            }
            hub.active.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(cleanup)),
            Err(_) => {
                tracing::warn!(key = %what, "no runtime to clean an interrupted upload; its catalog row stays for the sweeper")
            }
        }
    }
}

/// Where a file the caller may download is.
enum Found {
    Here(Download),
    /// At the origin of a mirrored program, not fetched yet.
    AtOrigin(Wanted),
}

/// A mirrored program's file, to fetch from its origin.
#[derive(Debug, Clone)]
pub(super) struct Wanted {
    pub(super) origin: crate::domain::Origin,
    pub(super) file: FileRecord,
}

/// A file the caller may download, and where its bytes are.
#[derive(Debug, Clone)]
pub struct Download {
    pub file: FileRecord,
    pub key: String,
    pub program: ProgramId,
    /// The station whose download counts in the ledger (not the owner's,
    /// not the admin's).
    pub taker: Option<StationId>,
    /// The person taking it, if a person is.
    pub taker_person: Option<PersonId>,
}

impl Hub {
    pub(super) fn accept(&self, role: FileRole, incoming: &IncomingFile) -> Result<Accepted, ExchangeError> {
        if incoming.length.is_some_and(|n| n > self.settings.max_upload_bytes) {
            return Err(ExchangeError::TooLarge {
                limit: self.settings.max_upload_bytes,
            });
        }
        let media_type = incoming
            .media_type
            .as_deref()
            .and_then(parse_media_type)
            .filter(|m| role.accepts(m))
            .ok_or_else(|| {
                ExchangeError::UnsupportedMediaType(format!(
                    "a {} file's Content-Type must be {}",
                    role.as_str(),
                    role.expects()
                ))
            })?;
        let filename = match incoming.filename.as_deref() {
            Some(raw) => parse_filename(raw).map_err(|e| ExchangeError::invalid("filename", e))?,
            None => {
                return Err(ExchangeError::invalid(
                    "filename",
                    "name the file in Content-Disposition (filename*=UTF-8''…) or ?filename=",
                ))
            }
        };
        Ok(Accepted {
            filename,
            media_type,
            sha256: incoming.sha256,
        })
    }

    /// Stores the body as the program's `role` file. Returns the record and
    /// whether it replaced an earlier file.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn put_file<S, E>(
        &self,
        caller: &Caller,
        id: ProgramId,
        role: FileRole,
        incoming: IncomingFile,
        mut body: S,
    ) -> Result<(FileRecord, bool), ExchangeError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        super::programs::require_offer(caller)?;
        let viewer = caller.viewer();
        let v = viewer.clone();
        self.catalog.read(move |c| writable(c, &v, id).map(drop)).await?;
        let accepted = self.accept(role, &incoming)?;
        let _slot = match &caller.station {
            Some(station) => Some(self.upload_slot(station)?),
            None => None,
        };

        let mut guard = UploadGuard::start(self).await?;
        let mut writer = self.media.writer(&guard.key).await?;
        if let Some(id) = writer.multipart_id().map(str::to_owned) {
            guard.multipart = Some(id.clone());
            let key = guard.key.clone();
            self.catalog
                .write(move |tx| media::set_multipart_id(tx, &key, &id))
                .await?;
        }
        let started = std::time::Instant::now();
        let mut pace = Pace::new();
        loop {
            let chunk = match self.next_chunk(&mut body, &mut pace).await {
                Ok(None) => break,
                Ok(Some(Ok(c))) => c,
                // Broken off, a link gone silent for too long, or one too slow.
                Ok(Some(Err(_))) | Err(_) => {
                    tracing::info!(key = %guard.key, received = writer.size(), "upload interrupted");
                    writer.abort().await;
                    return Err(ExchangeError::bad_request(
                        code::UPLOAD_INCOMPLETE,
                        "the upload ended before its last byte",
                    ));
                }
            };
            if writer.size() + chunk.len() as u64 > self.settings.max_upload_bytes {
                writer.abort().await;
                return Err(ExchangeError::TooLarge {
                    limit: self.settings.max_upload_bytes,
                });
            }
            self.metrics.bytes_in.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            writer.write(chunk).await?;
        }
        if writer.size() == 0 {
            writer.abort().await;
            return Err(ExchangeError::invalid("body", "the file is empty"));
        }
        let received = started.elapsed();
        let stored = writer.finish().await?;
        if accepted.sha256.is_some_and(|want| want != stored.sha256) {
            return Err(ExchangeError::DigestMismatch);
        }
        let (record, replaced, unused) = self
            .record(viewer, caller.person_id(), id, role, accepted, stored)
            .await?;
        tracing::info!(
            program = %id,
            role = role.as_str(),
            size = record.size,
            receive_secs = received.as_secs_f64(),
            total_secs = started.elapsed().as_secs_f64(),
            "file stored"
        );
        guard.done();
        self.delete_objects(unused).await;
        Ok((record, replaced))
    }

    /// Records a stored, verified object as the program's file, in one
    /// transaction. Returns the keys no longer needed.
    pub(super) async fn record(
        &self,
        viewer: Viewer,
        person: Option<PersonId>,
        id: ProgramId,
        role: FileRole,
        accepted: Accepted,
        stored: StoredObject,
    ) -> Result<(FileRecord, bool, Vec<String>), ExchangeError> {
        self.record_with(viewer, person, id, role, accepted, stored, |_| Ok(()))
            .await
    }

    /// [`Hub::record`], and `also` in the same transaction (a resumable
    /// upload marked complete with its file, so that a crash between the
    /// two cannot leave a file whose upload still waits for its last bytes).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_with(
        &self,
        viewer: Viewer,
        person: Option<PersonId>,
        id: ProgramId,
        role: FileRole,
        accepted: Accepted,
        stored: StoredObject,
        also: impl FnOnce(&Connection) -> DbResult<()> + Send + 'static,
    ) -> Result<(FileRecord, bool, Vec<String>), ExchangeError> {
        let index = self.index.clone();
        let done = self
            .catalog
            .write(move |tx| {
                let seq = writable(tx, &viewer, id)?;
                let published = programs::get(tx, id)?.is_some_and(|s| s.program.status == ProgramStatus::Published);
                let sha256 = stored.sha256;
                let mut unused = Vec::new();
                match media::object(tx, &sha256)? {
                    // The same bytes are stored already: keep one copy.
                    Some(_) => unused.push(stored.key.clone()),
                    None => media::insert_object(
                        tx,
                        &media::MediaObject {
                            sha256,
                            key: stored.key.clone(),
                            size: stored.size,
                        },
                    )?,
                }
                media::end_upload(tx, &stored.key)?;
                let previous = programs::files(tx, seq)?.into_iter().find(|f| f.role == role);
                let record = FileRecord {
                    role,
                    filename: accepted.filename,
                    media_type: accepted.media_type,
                    size: stored.size,
                    sha256,
                    analysis: None,
                };
                programs::put_file(tx, seq, &record)?;
                super::programs::record_action(
                    tx,
                    seq,
                    person.as_ref(),
                    ActionKind::Uploaded,
                    Some(role.as_str()),
                    catalog::now(),
                )?;
                if role == FileRole::Master {
                    // Search's measured duration, video and codecs follow the master.
                    index.refresh(tx, seq)?;
                }
                let record = FileRecord {
                    analysis: analysis::of(tx, &sha256)?,
                    ..record
                };
                if published {
                    emit(tx, EventType::FileReplaced, id)?;
                }
                if let Some(old) = &previous {
                    unused.extend(media::release(tx, &old.sha256)?);
                }
                also(tx)?;
                Ok((record, previous.is_some(), unused))
            })
            .await;
        if done.is_ok() {
            self.delivered().await;
            self.wake_analysis();
        }
        done
    }

    pub(super) async fn delete_objects(&self, keys: Vec<String>) {
        for key in keys {
            if let Err(e) = self.media.delete(&key).await {
                // No row names it any more: the sweeper's listing finds it.
                tracing::warn!(%key, error = %e, "could not remove an unused object; the sweeper removes it once older than sweep_grace_secs");
            }
        }
    }

    /// Removes what an unfinished upload of `key` stored: its S3 multipart
    /// upload, and the object should it exist.
    pub(super) async fn discard_upload(&self, key: &str, multipart: Option<&str>) -> Result<(), ExchangeError> {
        if let Some(id) = multipart {
            self.media.abort_multipart(key, id).await?;
        }
        self.media.delete(key).await?;
        Ok(())
    }

    /// Removes a draft's file; its object goes too unless another file shares it.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn delete_file(&self, caller: &Caller, id: ProgramId, role: FileRole) -> Result<(), ExchangeError> {
        super::programs::require_offer(caller)?;
        let viewer = caller.viewer();
        let unused = self
            .catalog
            .write(move |tx| {
                let s = owned(tx, &viewer, id, &IfMatch::default())?;
                if s.program.status != ProgramStatus::Draft {
                    return Err(ExchangeError::conflict(
                        code::NOT_A_DRAFT,
                        "files of a published program cannot be removed",
                    ));
                }
                let file = s
                    .program
                    .files
                    .iter()
                    .find(|f| f.role == role)
                    .ok_or(ExchangeError::NotFound)?;
                programs::delete_file(tx, s.seq, role)?;
                Ok(media::release(tx, &file.sha256)?.into_iter().collect())
            })
            .await?;
        self.delete_objects(unused).await;
        Ok(())
    }

    /// The file `role` of program `id`, if the caller may take it now. A
    /// program mirrored from a peer hub has its file fetched from its
    /// origin on first need (once, whoever asks at the same time).
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn download(&self, caller: &Caller, id: ProgramId, role: FileRole) -> Result<Download, ExchangeError> {
        match self.find_download(caller, id, role).await? {
            Found::Here(d) => Ok(d),
            Found::AtOrigin(wanted) => {
                self.fetch_from_origin(&wanted).await?;
                match self.find_download(caller, id, role).await? {
                    Found::Here(d) => Ok(d),
                    Found::AtOrigin(_) => Err(ExchangeError::Broken("a file fetched from its origin is not recorded")),
                }
            }
        }
    }

    async fn find_download(&self, caller: &Caller, id: ProgramId, role: FileRole) -> Result<Found, ExchangeError> {
        let viewer = caller.viewer();
        let person = caller.person_id();
        self.catalog
            .read(move |c| {
                let s = visible(c, &viewer, id)?;
                let file = s
                    .program
                    .files
                    .iter()
                    .find(|f| f.role == role)
                    .cloned()
                    .ok_or(ExchangeError::NotFound)?;
                match may_take(&viewer, &s.program, Utc::now()) {
                    Ok(()) => {}
                    Err(NotNow::Withdrawn) => return Err(ExchangeError::Gone),
                    Err(NotNow::NotYetAvailable | NotNow::NoLongerAvailable) => {
                        return Err(ExchangeError::RightsWindowClosed)
                    }
                }
                // A file row always has its object (same transaction), but
                // a mirror's, whose object is fetched from its origin.
                let object = match (media::object(c, &file.sha256)?, &s.program.origin) {
                    (Some(o), _) => o,
                    (None, Some(origin)) => {
                        return Ok(Found::AtOrigin(Wanted {
                            origin: origin.clone(),
                            file,
                        }))
                    }
                    (None, None) => return Err(ExchangeError::Broken("a file row without its object")),
                };
                // Downloads by other stations go to the ledger.
                let taker = match viewer {
                    Viewer::Station { id, .. } if id != s.program.station => Some(id),
                    _ => None,
                };
                Ok(Found::Here(Download {
                    file,
                    key: object.key,
                    program: id,
                    taker_person: taker.as_ref().and(person),
                    taker,
                }))
            })
            .await
    }
}

/// The rowid of a program the viewer may add files to: its own, not withdrawn.
pub(super) fn writable(c: &Connection, viewer: &Viewer, id: ProgramId) -> Result<i64, ExchangeError> {
    let s = visible(c, viewer, id)?;
    if !owns(viewer, &s.program) {
        return Err(ExchangeError::Forbidden(
            "only the station that owns a program may change its files",
        ));
    }
    if s.program.status == ProgramStatus::Withdrawn {
        return Err(ExchangeError::conflict(
            code::INVALID_STATUS,
            "a withdrawn program takes no new files",
        ));
    }
    Ok(s.seq)
}
