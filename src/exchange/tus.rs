//! Resumable uploads (the tus 1.0.0 protocol's use-cases): create, resume,
//! append, terminate. On the last byte the file is attached to its program
//! exactly as a single-request upload would be.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::files::{writable, IncomingFile};
use super::pace::Pace;
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog;
use crate::catalog::tus;
use crate::domain::file::guess_media_type;
use crate::domain::{FileRecord, FileRole, ProgramId};
use crate::exchange::error::code;
use crate::media::sha256::ResumableSha256;
use crate::media::{SinkState, SinkWriter, StoredObject};

/// An upload's row, with where its bytes wait.
type TusRow = tus::TusRow<SinkState>;

/// How long an unfinished upload waits for its next byte.
pub const EXPIRY: chrono::Duration = chrono::Duration::hours(24);

/// An upload as a client asks to create it.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// `None`: deferred (creation-defer-length).
    pub length: Option<u64>,
    /// `Upload-Metadata` as sent, echoed back by HEAD.
    pub metadata_raw: String,
    /// The decoded metadata: `program`, `role`, `filename`, optional `filetype`.
    pub metadata: BTreeMap<String, String>,
}

/// The state of an upload, as the protocol's headers show it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    pub offset: u64,
    pub length: Option<u64>,
    pub metadata: String,
    pub expires_at: DateTime<Utc>,
    /// The file record, once the last byte arrived.
    pub file: Option<FileRecord>,
}

/// A chunk's announced digest (`Upload-Checksum`).
#[derive(Debug, Clone)]
pub enum Checksum {
    Sha1([u8; 20]),
    Sha256([u8; 32]),
}

/// One PATCH's request.
pub struct Append {
    pub offset: u64,
    /// `Upload-Length`, for an upload whose length was deferred.
    pub length: Option<u64>,
    pub checksum: Option<Checksum>,
}

/// A writer silent this long (no byte of its body) gives its upload up to a
/// new PATCH: the link it came by has most likely dropped without a word
/// (a mountain link's NAT forgets it), and its client is back by another.
const TAKE_OVER_AFTER: Duration = Duration::from_secs(5);
/// How long a new PATCH waits for a silent writer to let go.
const TAKE_OVER_WAIT: Duration = Duration::from_secs(10);

/// Uploads being written now: one writer at a time.
#[derive(Clone, Default)]
pub struct Locks(Arc<Mutex<HashMap<String, Arc<Holder>>>>);

/// The writer holding an upload.
struct Holder {
    /// When it last received a byte (ms since `since`).
    heard: AtomicU64,
    since: Instant,
    /// Asks it to stop reading, keep what arrived and let go.
    release: tokio::sync::Notify,
}

impl Holder {
    fn silent_for(&self) -> Duration {
        self.since
            .elapsed()
            .saturating_sub(Duration::from_millis(self.heard.load(Ordering::Relaxed)))
    }
}

pub(super) struct Lock {
    locks: Locks,
    id: String,
    holder: Arc<Holder>,
}

impl Lock {
    /// Notes that a byte arrived.
    fn heard(&self) {
        let now = self.holder.since.elapsed().as_millis() as u64;
        self.holder.heard.store(now, Ordering::Relaxed);
    }

    /// Resolves when a newer writer asks for the upload.
    async fn asked_to_let_go(&self) {
        self.holder.release.notified().await
    }
}

impl Locks {
    fn take(&self, id: &str) -> Result<Lock, ExchangeError> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.contains_key(id) {
            return Err(ExchangeError::Locked);
        }
        let holder = Arc::new(Holder {
            heard: AtomicU64::new(0),
            since: Instant::now(),
            release: tokio::sync::Notify::new(),
        });
        held.insert(id.to_owned(), holder.clone());
        Ok(Lock {
            locks: self.clone(),
            id: id.to_owned(),
            holder,
        })
    }

    /// The lock of `id` for a new writer: a writer that has been silent for
    /// `quiet` is asked to let go (it keeps what it received), and this
    /// waits a little for it; a writer still receiving keeps the upload
    /// (423).
    async fn take_over(&self, id: &str, quiet: Duration) -> Result<Lock, ExchangeError> {
        let deadline = Instant::now() + TAKE_OVER_WAIT;
        let mut asked = false;
        loop {
            match self.take(id) {
                Ok(lock) => return Ok(lock),
                Err(e) => {
                    let holder = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned();
                    match holder {
                        Some(h) if asked || h.silent_for() >= quiet => {
                            if !asked {
                                tracing::info!(upload = %id, silent = ?h.silent_for(), "a silent writer is asked to give its upload to a new one");
                            }
                            h.release.notify_one();
                            asked = true;
                        }
                        Some(_) => return Err(e),
                        None => continue,
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(ExchangeError::Locked);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let mut held = self.locks.0.lock().unwrap_or_else(|e| e.into_inner());
        // Only its own entry (the map is keyed by id; one holder at a time).
        if held.get(&self.id).is_some_and(|h| Arc::ptr_eq(h, &self.holder)) {
            held.remove(&self.id);
        }
    }
}

fn view(row: &TusRow, file: Option<FileRecord>) -> Upload {
    Upload {
        id: row.id.clone(),
        offset: row.received,
        length: row.length,
        metadata: row.metadata.clone(),
        expires_at: row.expires_at,
        file,
    }
}

/// Feeds one chunk's checksum.
enum ChunkHasher {
    None,
    Sha1(Sha1, [u8; 20]),
    Sha256(Sha256, [u8; 32]),
}

impl ChunkHasher {
    fn new(c: Option<Checksum>) -> Self {
        match c {
            None => Self::None,
            Some(Checksum::Sha1(want)) => Self::Sha1(Sha1::new(), want),
            Some(Checksum::Sha256(want)) => Self::Sha256(Sha256::new(), want),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::None => {}
            Self::Sha1(h, _) => h.update(data),
            Self::Sha256(h, _) => h.update(data),
        }
    }

    fn is_some(&self) -> bool {
        !matches!(self, Self::None)
    }

    fn matches(self) -> bool {
        match self {
            Self::None => true,
            Self::Sha1(h, want) => h.finalize()[..] == want[..],
            Self::Sha256(h, want) => h.finalize()[..] == want[..],
        }
    }
}

impl Hub {
    /// The upload `id`, if it belongs to the caller's station.
    async fn tus_row(&self, caller: &Caller, id: &str) -> Result<TusRow, ExchangeError> {
        let station = caller.station.clone().ok_or(ExchangeError::NotFound)?;
        let id = id.to_owned();
        let row = self.catalog.read(move |c| tus::get(c, &id)).await?;
        match row {
            Some(r) if r.station == station => {
                if !r.completed && r.expires_at <= Utc::now() {
                    return Err(ExchangeError::Expired);
                }
                Ok(r)
            }
            _ => Err(ExchangeError::NotFound),
        }
    }

    /// The upload `id` for a write by the caller, with its one-writer lock.
    /// Whose it is comes first: an upload the caller cannot see is not
    /// found, whether or not its owner is writing it (it is not "locked").
    /// Then the row is read again under the lock, as the writer that held
    /// it may have moved it on.
    async fn tus_lock(&self, caller: &Caller, id: &str) -> Result<(Lock, TusRow), ExchangeError> {
        self.tus_row(caller, id).await?;
        let lock = self.tus_locks.take(id)?;
        Ok((lock, self.tus_row(caller, id).await?))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn tus_create(&self, caller: &Caller, new: NewUpload) -> Result<Upload, ExchangeError> {
        let Some(station) = caller.station.clone() else {
            return Err(ExchangeError::Forbidden("uploads are made by stations"));
        };
        super::programs::require_offer(caller)?;
        let meta = |k: &str| new.metadata.get(k).filter(|v| !v.is_empty()).cloned();
        let program = meta("program")
            .ok_or_else(|| ExchangeError::invalid("Upload-Metadata.program", "name the program (its id)"))?;
        let program_id = ProgramId::parse(&program).ok_or(ExchangeError::NotFound)?;
        let role = meta("role").and_then(|r| FileRole::parse(&r)).ok_or_else(|| {
            ExchangeError::invalid(
                "Upload-Metadata.role",
                "must be master, preview, script, artwork or subtitle",
            )
        })?;
        let filename = meta("filename");
        let media_type = meta("filetype").or_else(|| filename.as_deref().and_then(guess_media_type).map(str::to_owned));
        let viewer = caller.viewer();
        self.catalog
            .read(move |c| writable(c, &viewer, program_id).map(drop))
            .await?;
        let accepted = self.accept(
            role,
            &IncomingFile {
                filename,
                media_type,
                length: new.length,
                sha256: None,
            },
        )?;
        if new.length == Some(0) {
            return Err(ExchangeError::invalid("Upload-Length", "the file is empty"));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        // Held until the row exists: the sweeper leaves the spool (and the
        // multipart upload) of an upload being created alone.
        let _creating = self.tus_locks.take(&id)?;
        let sink = self.media.sink_create(&id).await?;
        let row = TusRow {
            id: id.clone(),
            station,
            program_id,
            role,
            filename: accepted.filename,
            media_type: accepted.media_type,
            metadata: new.metadata_raw,
            length: new.length,
            received: 0,
            sink,
            sha256_state: ResumableSha256::default().save(),
            expires_at: catalog::now() + EXPIRY,
            completed: false,
        };
        let stored = row.clone();
        let cap = self.settings.max_open_uploads_per_station;
        let created = self
            .catalog
            .write(move |tx| {
                // Counted in the transaction that inserts, so a burst of
                // creations cannot pass the cap together.
                if cap > 0 && tus::open_count(tx, &stored.station, catalog::now())? >= cap as u64 {
                    return Err(ExchangeError::conflict(
                        code::TOO_MANY_OPEN_UPLOADS,
                        format!("a station may hold {cap} unfinished uploads; finish or terminate (DELETE) some first"),
                    ));
                }
                tus::insert(tx, &stored)?;
                Ok(())
            })
            .await;
        if let Err(e) = created {
            let _ = self.media.sink_abort(&id, &row.sink).await;
            return Err(e);
        }
        Ok(view(&row, None))
    }

    /// Where an upload stands. One whose every byte arrived but whose object
    /// was not finished (the process died, or the store failed, in between)
    /// is finished now: the client that asks sees it complete, or a 503.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, upload = %id))]
    pub async fn tus_status(&self, caller: &Caller, id: &str) -> Result<Upload, ExchangeError> {
        let row = self.tus_row(caller, id).await?;
        if !row.completed && row.length == Some(row.received) {
            let (_lock, row) = self.tus_lock(caller, id).await?;
            if !row.completed {
                let hash = ResumableSha256::restore(&row.sha256_state).ok_or(ExchangeError::Broken(
                    "an upload's saved SHA-256 state does not read back",
                ))?;
                tracing::info!(upload = %id, "finishing an upload whose every byte had arrived");
                let file = self.tus_finish(caller, &row, hash).await?;
                let mut done = row;
                done.completed = true;
                return Ok(view(&done, Some(file)));
            }
            return Ok(view(&row, None));
        }
        Ok(view(&row, None))
    }

    /// Appends a PATCH's body at `append.offset`. A body cut short counts up
    /// to where it stopped, unless it carried a checksum, which only a whole
    /// chunk can match: then, as on a mismatch, the chunk is discarded.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, upload = %id))]
    pub async fn tus_append<S, E>(
        &self,
        caller: &Caller,
        id: &str,
        append: Append,
        mut body: S,
    ) -> Result<Upload, ExchangeError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        // A writer gone silent (its link dropped without a word) gives way.
        self.tus_row(caller, id).await?;
        let quiet = TAKE_OVER_AFTER.min(self.settings.upload_idle);
        let lock = self.tus_locks.take_over(id, quiet).await?;
        let mut row = self.tus_row(caller, id).await?;
        if !row.completed && !self.media.sink_on_disk(id, &row.sink).await {
            // Bytes it had received waited on a disk that is gone (the
            // catalog was restored on a new machine): it cannot go on, and
            // the client starts a new one.
            tracing::warn!(upload = %id, received = row.received, "a resumable upload's spooled bytes are gone; dropping it");
            let _ = self.media.sink_abort(id, &row.sink).await;
            let gone = id.to_owned();
            self.catalog.write(move |tx| tus::delete(tx, &gone)).await?;
            return Err(ExchangeError::Expired);
        }
        self.check_append(&mut row, &append)?;
        let _slot = self.upload_slot(caller.station.as_ref().ok_or(ExchangeError::NotFound)?)?;
        let (hash, received) = self.receive_chunk(&mut row, append.checksum, &mut body, &lock).await?;
        row.received = received;
        row.sha256_state = hash.save();
        row.expires_at = catalog::now() + EXPIRY;
        if row.length == Some(received) {
            // Every byte is in: that is recorded first, so that if the
            // process dies (or the store fails) while the object is being
            // finished, the next HEAD or PATCH finishes it, with nothing to
            // send again.
            let saved = row.clone();
            self.catalog.write(move |tx| tus::advance(tx, &saved, false)).await?;
            SinkWriter::tidy(&self.media, id, &row.sink).await;
            let file = self.tus_finish(caller, &row, hash).await?;
            return Ok(view(&row, Some(file)));
        }
        let saved = row.clone();
        self.catalog.write(move |tx| tus::advance(tx, &saved, false)).await?;
        SinkWriter::tidy(&self.media, id, &row.sink).await;
        Ok(view(&row, None))
    }

    /// The protocol's rules for a PATCH, before any byte is read: the length
    /// may be given once (and not below what arrived, nor above the limit),
    /// and the chunk must start where the upload stands.
    fn check_append(&self, row: &mut TusRow, append: &Append) -> Result<(), ExchangeError> {
        if let Some(length) = append.length {
            match row.length {
                Some(known) if known != length => {
                    return Err(ExchangeError::bad_request(
                        code::LENGTH_MISMATCH,
                        "Upload-Length cannot change",
                    ))
                }
                Some(_) => {}
                None if length < row.received => {
                    return Err(ExchangeError::bad_request(
                        code::LENGTH_MISMATCH,
                        "Upload-Length is below the offset",
                    ))
                }
                None if length > self.settings.max_upload_bytes => {
                    return Err(ExchangeError::TooLarge {
                        limit: self.settings.max_upload_bytes,
                    })
                }
                None => row.length = Some(length),
            }
        }
        if append.offset != row.received || row.completed {
            return Err(ExchangeError::conflict(
                code::OFFSET_MISMATCH,
                format!("the upload is at offset {}; send from there", row.received),
            ));
        }
        Ok(())
    }

    /// Reads one PATCH's body into the upload's sink, hashing as it goes.
    /// A body cut short (or gone silent, or too slow) keeps what arrived,
    /// unless it carried a checksum, which only a whole chunk can match.
    /// Returns the whole file's hash so far and the new offset; `row.sink`
    /// holds the sink's committed state.
    async fn receive_chunk<S, E>(
        &self,
        row: &mut TusRow,
        checksum: Option<Checksum>,
        body: &mut S,
        lock: &Lock,
    ) -> Result<(ResumableSha256, u64), ExchangeError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let id = row.id.clone();
        let limit = row.length.unwrap_or(self.settings.max_upload_bytes);
        let mut hash = ResumableSha256::restore(&row.sha256_state).ok_or(ExchangeError::Broken(
            "an upload's saved SHA-256 state does not read back",
        ))?;
        let mut chunk_hash = ChunkHasher::new(checksum);
        let mut sink = self.media.sink_open(&id, &row.sink).await?;
        let mut received = row.received;
        let mut cut_short = false;
        let mut pace = Pace::new();
        loop {
            let next = tokio::select! {
                biased;
                () = lock.asked_to_let_go() => {
                    tracing::info!(upload = %id, received, "tus chunk given up to a newer writer");
                    cut_short = true;
                    break;
                }
                next = self.next_chunk(body, &mut pace) => next,
            };
            let chunk = match next {
                Ok(None) => break,
                Ok(Some(Ok(c))) => c,
                Ok(Some(Err(e))) => {
                    tracing::info!(upload = %id, error = %e, received, "tus chunk interrupted");
                    cut_short = true;
                    break;
                }
                // A link gone silent or too slow: keep what arrived and free
                // the upload.
                Err(why) => {
                    tracing::info!(upload = %id, received, ?why, "tus chunk given up");
                    cut_short = true;
                    break;
                }
            };
            if received + chunk.len() as u64 > limit {
                return Err(match row.length {
                    Some(_) => ExchangeError::bad_request(code::LENGTH_EXCEEDED, "the body goes past Upload-Length"),
                    None => ExchangeError::TooLarge { limit },
                });
            }
            lock.heard();
            hash.update(&chunk);
            chunk_hash.update(&chunk);
            received += chunk.len() as u64;
            self.metrics
                .bytes_in
                .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = sink.write(chunk).await {
                // What this request wrote past the recorded offset goes now,
                // not at the next request: a full disk gets its room back.
                sink.discard().await;
                return Err(e.into());
            }
        }
        if chunk_hash.is_some() && (cut_short || !chunk_hash.matches()) {
            // Nothing of this chunk is recorded; the next writer truncates it.
            return Err(ExchangeError::ChecksumMismatch);
        }
        row.sink = sink.commit().await?;
        Ok((hash, received))
    }

    /// The first bytes, sent with the creation (creation-with-upload). The
    /// client learns the upload's address only from this answer, so when
    /// they are refused the upload goes with them: nothing is left that no
    /// client could resume.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, upload = %id))]
    pub async fn tus_append_first<S, E>(
        &self,
        caller: &Caller,
        id: &str,
        append: Append,
        body: S,
    ) -> Result<Upload, ExchangeError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let result = self.tus_append(caller, id, append, body).await;
        if result.is_err() {
            if let Err(e) = self.tus_terminate(caller, id).await {
                tracing::warn!(upload = id, error = %e, "could not remove a refused upload; it expires");
            }
        }
        result
    }

    /// The last byte arrived: make the object, attach it, mark the upload done.
    async fn tus_finish(
        &self,
        caller: &Caller,
        row: &TusRow,
        hash: ResumableSha256,
    ) -> Result<FileRecord, ExchangeError> {
        let fail = |hub: &Hub, row: &TusRow| {
            let (hub, id, sink) = (hub.clone(), row.id.clone(), row.sink.clone());
            async move {
                let _ = hub.media.sink_abort(&id, &sink).await;
                let _ = hub.media.delete(&sink.key).await;
                let _ = hub.catalog.write(move |tx| tus::delete(tx, &id)).await;
            }
        };
        if let Err(e) = self.media.sink_finish(&row.id, row.sink.clone(), row.received).await {
            if e.is_unavailable() {
                // The store is away: the upload stays, every byte of it
                // recorded (its parts, its tail), and the next HEAD or PATCH
                // once the store is back finishes it.
                tracing::warn!(upload = %row.id, error = %e, "the store failed while finishing an upload; the next HEAD finishes it");
                return Err(e.into());
            }
            fail(self, row).await;
            return Err(e.into());
        }
        let stored = StoredObject {
            key: row.sink.key.clone(),
            sha256: hash.finalize().into(),
            size: row.received,
        };
        let (program, role) = (row.program_id, row.role);
        let accepted = super::files::Accepted {
            filename: row.filename.clone(),
            media_type: row.media_type.clone(),
            sha256: None,
        };
        let done = row.clone();
        let recorded = self
            .record_with(
                caller.viewer(),
                caller.person_id(),
                program,
                role,
                accepted,
                stored,
                move |tx| tus::advance(tx, &done, true),
            )
            .await;
        let (file, _, unused) = match recorded {
            Ok(r) => r,
            Err(e) => {
                fail(self, row).await;
                return Err(e);
            }
        };
        self.delete_objects(unused).await;
        tracing::info!(upload = %row.id, program = %row.program_id, role = row.role.as_str(), size = row.received, "resumable upload complete");
        Ok(file)
    }

    /// Terminates an upload: what it stored goes.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, upload = %id))]
    pub async fn tus_terminate(&self, caller: &Caller, id: &str) -> Result<(), ExchangeError> {
        let (_lock, row) = match self.tus_lock(caller, id).await {
            Err(ExchangeError::Expired) => return Err(ExchangeError::NotFound),
            other => other?,
        };
        if !row.completed {
            self.media.sink_abort(id, &row.sink).await?;
        }
        let id = id.to_owned();
        self.catalog.write(move |tx| tus::delete(tx, &id)).await?;
        Ok(())
    }

    /// Removes expired uploads, and spool files no upload owns once older
    /// than `grace` (an upload being created has its spool before its row,
    /// and holds its lock meanwhile).
    /// Returns how many were removed, and how many could not be yet (their
    /// rows stay for the next sweep).
    pub(super) async fn sweep_tus(&self, grace: std::time::Duration) -> Result<(usize, usize), ExchangeError> {
        let now = Utc::now();
        let expired = self.catalog.read(move |c| tus::expired(c, now)).await?;
        let (mut removed, mut failed) = (0, 0);
        for row in expired {
            let Ok(_lock) = self.tus_locks.take(&row.id) else {
                continue;
            };
            if !row.completed {
                if let Err(e) = self.media.sink_abort(&row.id, &row.sink).await {
                    tracing::warn!(upload = %row.id, error = %e, "could not remove an expired upload yet; next sweep");
                    failed += 1;
                    continue;
                }
            }
            let id = row.id.clone();
            self.catalog.write(move |tx| tus::delete(tx, &id)).await?;
            removed += 1;
        }
        for (id, path) in self.media.spooled_ids().await? {
            let age = tokio::fs::metadata(&path)
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if age.is_none_or(|a| a < grace) {
                continue;
            }
            let Ok(_lock) = self.tus_locks.take(&id) else {
                continue;
            };
            let i = id.clone();
            if !self.catalog.read(move |c| tus::exists(c, &i)).await? {
                let _ = tokio::fs::remove_file(path).await;
            }
        }
        Ok((removed, failed))
    }
}
