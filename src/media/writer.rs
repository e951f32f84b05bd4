//! Writing one object: hashed as it streams, sent in parts, durable when
//! finished, gone when aborted.

use std::path::PathBuf;

use bytes::Bytes;
use object_store::{MultipartUpload, PutPayloadMut, UploadPart};
use sha2::{Digest, Sha256};

use super::MediaError;

/// What a finished write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub sha256: [u8; 32],
    pub size: u64,
}

/// A write in progress. Chunks are hashed as they arrive and gathered into
/// parts of `part_size`; at most one part is in flight while the next fills,
/// so memory stays at about two parts and a slow store slows the writer down.
/// Dropped without [`ObjectWriter::finish`], the partial object is removed
/// (local staging file) or its multipart upload aborted (S3).
pub struct ObjectWriter {
    key: String,
    upload: Option<Box<dyn MultipartUpload>>,
    part: PutPayloadMut,
    in_flight: Option<UploadPart>,
    part_size: usize,
    hasher: Sha256,
    size: u64,
    /// The local file to fsync once complete.
    durable_path: Option<PathBuf>,
}

impl ObjectWriter {
    pub(super) fn new(
        key: String,
        upload: Box<dyn MultipartUpload>,
        part_size: usize,
        durable_path: Option<PathBuf>,
    ) -> Self {
        Self {
            key,
            upload: Some(upload),
            part: PutPayloadMut::new(),
            in_flight: None,
            part_size,
            hasher: Sha256::new(),
            size: 0,
            durable_path,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: Bytes) -> Result<(), MediaError> {
        self.hasher.update(&chunk);
        self.size += chunk.len() as u64;
        self.part.push(chunk);
        if self.part.content_length() >= self.part_size {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn send_part(&mut self) -> Result<(), MediaError> {
        if let Some(previous) = self.in_flight.take() {
            previous.await?;
        }
        let part = std::mem::take(&mut self.part).freeze();
        let upload = self.upload.as_mut().expect("a writer is used only until finished");
        self.in_flight = Some(upload.put_part(part));
        Ok(())
    }

    /// Completes the object and makes it durable; returns its digest and size.
    pub async fn finish(mut self) -> Result<StoredObject, MediaError> {
        if self.part.content_length() > 0 || self.size == 0 {
            self.send_part().await?;
        }
        if let Some(last) = self.in_flight.take() {
            last.await?;
        }
        let mut upload = self.upload.take().expect("finished once");
        if let Err(e) = upload.complete().await {
            let _ = upload.abort().await;
            return Err(e.into());
        }
        if let Some(path) = self.durable_path.take() {
            // The data, then the directory entry that names it.
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&path)?.sync_all()?;
                if let Some(dir) = path.parent() {
                    std::fs::File::open(dir)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .expect("fsync does not panic")?;
        }
        Ok(StoredObject {
            key: std::mem::take(&mut self.key),
            sha256: std::mem::take(&mut self.hasher).finalize().into(),
            size: self.size,
        })
    }

    /// Gives up the write and removes what it stored so far.
    pub async fn abort(mut self) {
        self.in_flight = None;
        if let Some(mut upload) = self.upload.take() {
            if let Err(e) = upload.abort().await {
                tracing::warn!(key = %self.key, error = %e, "could not abort an upload; the sweeper will");
            }
        }
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        // Dropped mid-stream (the client went away and the request with it):
        // abort in the background. A local upload also removes its own
        // staging file on drop.
        if let Some(mut upload) = self.upload.take() {
            self.in_flight = None;
            let key = std::mem::take(&mut self.key);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if let Err(e) = upload.abort().await {
                        tracing::debug!(%key, error = %e, "abort after drop");
                    }
                });
            }
        }
    }
}
