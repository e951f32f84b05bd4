//! Where a resumable (tus) upload's bytes wait between requests, durably.
//!
//! Local store: one spool file per upload, beside the objects (same file
//! system), appended to and renamed into place at the end. S3: the bytes go
//! into a multipart upload part by part as they come; only the tail short of
//! a part waits in a small local file, one per generation (number of parts
//! sent), so that a crash between writing a tail and recording it in the
//! catalog never leaves the catalog pointing at the wrong bytes.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use object_store::multipart::{MultipartStore, PartId};
use object_store::PutPayload;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::local_file::sync_file_and_dir;
use super::writer::PartBuffer;
use super::{Backend, MediaError, MediaStore};

/// What the catalog keeps of a sink between requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkState {
    /// The object the upload becomes.
    pub key: String,
    /// S3: the multipart upload, and the ETags of the parts sent.
    pub multipart_id: Option<String>,
    pub parts: Vec<String>,
    /// Bytes in the local spool: the whole upload so far (local), or the
    /// tail not yet sent as a part (S3).
    pub spooled: u64,
}

/// Appends to a sink during one request. Nothing it wrote counts until
/// [`SinkWriter::commit`] returns the new state and the caller records it.
pub struct SinkWriter {
    store: MediaStore,
    id: String,
    state: SinkState,
    /// The local spool's length when opened: what the catalog records.
    recorded: u64,
    local: Option<BufWriter<tokio::fs::File>>,
    tail: PartBuffer,
}

impl MediaStore {
    fn spool_dir(&self) -> PathBuf {
        match &self.backend {
            Backend::Local { root } => root.join("uploads"),
            Backend::S3 { .. } => self.spool_root.clone(),
        }
    }

    fn spool(&self, id: &str) -> PathBuf {
        self.spool_dir().join(id)
    }

    fn tail_file(&self, id: &str, generation: usize) -> PathBuf {
        self.spool_dir().join(format!("{id}.tail.{generation}"))
    }

    /// Starts the sink of upload `id` (an id the hub generated).
    pub async fn sink_create(&self, id: &str) -> Result<SinkState, MediaError> {
        tokio::fs::create_dir_all(self.spool_dir()).await?;
        let key = MediaStore::new_key();
        let multipart_id = match &self.backend {
            Backend::Local { .. } => {
                tokio::fs::File::create(self.spool(id)).await?.sync_all().await?;
                None
            }
            Backend::S3 { signer, .. } => Some(signer.create_multipart(&self.full_path(&key)).await?),
        };
        Ok(SinkState {
            key,
            multipart_id,
            parts: Vec::new(),
            spooled: 0,
        })
    }

    /// Whether the bytes `state` says wait on this machine's disk (the
    /// local spool, or an S3 upload's tail short of a part) are there: a
    /// catalog restored on another machine knows of files it does not have.
    pub async fn sink_on_disk(&self, id: &str, state: &SinkState) -> bool {
        let path = match &self.backend {
            Backend::Local { .. } => self.spool(id),
            Backend::S3 { .. } if state.spooled == 0 => return true,
            Backend::S3 { .. } => self.tail_file(id, state.parts.len()),
        };
        tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() >= state.spooled)
    }

    /// Opens the sink to append, dropping whatever a request that was not
    /// committed left after the recorded bytes.
    pub async fn sink_open(&self, id: &str, state: &SinkState) -> Result<SinkWriter, MediaError> {
        let mut writer = SinkWriter {
            store: self.clone(),
            id: id.to_owned(),
            state: state.clone(),
            recorded: state.spooled,
            local: None,
            tail: PartBuffer::new(self.part_size),
        };
        match &self.backend {
            Backend::Local { .. } => {
                let mut file = tokio::fs::OpenOptions::new().write(true).open(self.spool(id)).await?;
                file.set_len(state.spooled).await?;
                file.seek(std::io::SeekFrom::Start(state.spooled)).await?;
                writer.local = Some(BufWriter::with_capacity(super::LOCAL_WRITE_BATCH, file));
            }
            Backend::S3 { .. } => {
                // The spool folder may be new (a hub restored on another
                // machine resumes the uploads whose parts are in the store).
                tokio::fs::create_dir_all(self.spool_dir()).await?;
                writer.tail = PartBuffer::resume(self.part_size, self.read_tail(id, state).await?);
            }
        }
        Ok(writer)
    }

    async fn read_tail(&self, id: &str, state: &SinkState) -> Result<BytesMut, MediaError> {
        if state.spooled == 0 {
            return Ok(BytesMut::new());
        }
        let bytes = tokio::fs::read(self.tail_file(id, state.parts.len())).await?;
        let spooled = state.spooled as usize;
        if bytes.len() < spooled {
            return Err(MediaError::Io(std::io::Error::other(
                "a resumable upload's tail is shorter than recorded",
            )));
        }
        Ok(BytesMut::from(&bytes[..spooled]))
    }

    /// Turns a complete sink into its object, durable. Finishing again a
    /// sink that was finished (by a process that died before recording it)
    /// finds its object and succeeds.
    pub async fn sink_finish(&self, id: &str, state: SinkState, size: u64) -> Result<(), MediaError> {
        match &self.backend {
            Backend::Local { root } => {
                let target = root.join(&state.key);
                if let Some(dir) = target.parent() {
                    tokio::fs::create_dir_all(dir).await?;
                }
                let spool = self.spool(id);
                let file = match tokio::fs::File::open(&spool).await {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        if tokio::fs::metadata(&target).await.is_ok_and(|m| m.len() == size) {
                            return sync_file_and_dir(target).await;
                        }
                        return Err(e.into());
                    }
                    Err(e) => return Err(e.into()),
                };
                file.sync_all().await?;
                tokio::fs::rename(&spool, &target).await?;
                sync_file_and_dir(target).await?;
            }
            Backend::S3 { signer, .. } => {
                match self.size(&state.key).await {
                    Ok(n) if n == size => {
                        self.remove_tails(id, None).await;
                        return Ok(());
                    }
                    Ok(_) | Err(MediaError::NotFound) => {}
                    Err(e) => return Err(e),
                }
                let path = self.full_path(&state.key);
                let upload = state.multipart_id.clone().unwrap_or_default();
                let mut parts: Vec<PartId> = state.parts.iter().map(|p| PartId { content_id: p.clone() }).collect();
                let tail = self.read_tail(id, &state).await?;
                if !tail.is_empty() || parts.is_empty() {
                    parts.push(
                        signer
                            .put_part(&path, &upload, parts.len(), PutPayload::from(tail.freeze()))
                            .await?,
                    );
                }
                signer.complete_multipart(&path, &upload, parts).await?;
                self.remove_tails(id, None).await;
            }
        }
        Ok(())
    }

    /// Gives up the sink: its spool and its multipart upload.
    pub async fn sink_abort(&self, id: &str, state: &SinkState) -> Result<(), MediaError> {
        if let Some(upload) = &state.multipart_id {
            self.abort_multipart(&state.key, upload).await?;
        }
        match tokio::fs::remove_file(self.spool(id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        self.remove_tails(id, None).await;
        Ok(())
    }

    /// Removes the tail files of `id` but generation `keep`.
    async fn remove_tails(&self, id: &str, keep: Option<usize>) {
        let Ok(mut dir) = tokio::fs::read_dir(self.spool_dir()).await else {
            return;
        };
        let prefix = format!("{id}.tail.");
        while let Ok(Some(entry)) = dir.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(generation) = name.strip_prefix(&prefix) else {
                continue;
            };
            if keep.is_none_or(|k| generation != k.to_string()) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }

    /// Spool files (and tails) whose upload id `known` does not recognise.
    pub async fn spooled_ids(&self) -> Result<Vec<(String, PathBuf)>, MediaError> {
        let mut out = Vec::new();
        let mut dir = match tokio::fs::read_dir(self.spool_dir()).await {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.split('.').next().unwrap_or_default().to_owned();
            out.push((id, entry.path()));
        }
        Ok(out)
    }
}

impl SinkWriter {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), MediaError> {
        if let Some(file) = &mut self.local {
            file.write_all(&chunk).await?;
            self.state.spooled += chunk.len() as u64;
            return Ok(());
        }
        // Parts of exactly the part size, as `ObjectWriter` sends them.
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            rest = self.tail.fill(rest);
            if self.tail.is_full() {
                let Backend::S3 { signer, .. } = &self.store.backend else {
                    unreachable!("only S3 keeps a tail")
                };
                let part = self.tail.take();
                let path = self.store.full_path(&self.state.key);
                let upload = self.state.multipart_id.clone().unwrap_or_default();
                let id = signer
                    .put_part(&path, &upload, self.state.parts.len(), PutPayload::from(part))
                    .await?;
                self.state.parts.push(id.content_id);
            }
        }
        Ok(())
    }

    /// Gives up what this writer appended: the local spool goes back to its
    /// recorded length (S3 parts sent past it are overwritten by the next
    /// writer, and its tail was never recorded).
    pub async fn discard(mut self) {
        if let Some(file) = self.local.take() {
            let file = file.into_inner();
            if let Err(e) = file.set_len(self.recorded).await {
                tracing::warn!(upload = %self.id, error = %e, "could not cut a spool back; the next request does");
            }
        }
    }

    /// Bytes appended by this writer and the ones before it, in all.
    pub fn state(&self) -> &SinkState {
        &self.state
    }

    /// Makes what was written durable and returns the state to record.
    pub async fn commit(mut self) -> Result<SinkState, MediaError> {
        if let Some(mut file) = self.local.take() {
            let flushed = async {
                file.flush().await?;
                file.get_mut().sync_data().await
            }
            .await;
            if let Err(e) = flushed {
                // A full disk, say: back to the recorded length, room freed.
                let _ = file.get_mut().set_len(self.recorded).await;
                return Err(e.into());
            }
            return Ok(self.state);
        }
        let generation = self.state.parts.len();
        let path = self.store.tail_file(&self.id, generation);
        write_durably(&path, self.tail.as_bytes()).await?;
        self.state.spooled = self.tail.as_bytes().len() as u64;
        Ok(self.state)
    }

    /// Removes tail files of earlier generations, once the new state is
    /// recorded.
    pub async fn tidy(store: &MediaStore, id: &str, state: &SinkState) {
        if state.multipart_id.is_some() {
            store.remove_tails(id, Some(state.parts.len())).await;
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, fsynced.
async fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), MediaError> {
    let tmp = path.with_extension("tmp");
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(bytes).await?;
    f.sync_all().await?;
    tokio::fs::rename(&tmp, path).await?;
    sync_file_and_dir(path.to_owned()).await
}
