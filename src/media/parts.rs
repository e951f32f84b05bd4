//! A multipart upload kept open across attempts, part by part: what a push
//! into a station's bucket resumes from after a connection is lost for
//! longer than the store client's own retries (S3 only; the caller keeps
//! the upload's id and its parts' ETags).

use bytes::Bytes;
use object_store::multipart::{MultipartStore, PartId};
use object_store::PutPayload;

use super::{Backend, MediaError, MediaStore};

fn not_s3() -> MediaError {
    MediaError::Io(std::io::Error::other("parts are for S3 stores"))
}

impl MediaStore {
    /// Starts a multipart upload to `key`; its id.
    pub async fn parts_start(&self, key: &str) -> Result<String, MediaError> {
        let Backend::S3 { signer, .. } = &self.backend else {
            return Err(not_s3());
        };
        Ok(signer.create_multipart(&self.full_path(key)).await?)
    }

    /// Sends part `index` (from 0) of upload `id` of `key`; its ETag.
    /// `NotFound`: the upload is gone (aborted meanwhile).
    pub async fn parts_put(&self, key: &str, id: &str, index: usize, bytes: Bytes) -> Result<String, MediaError> {
        let Backend::S3 { signer, .. } = &self.backend else {
            return Err(not_s3());
        };
        let part = signer
            .put_part(&self.full_path(key), &id.to_owned(), index, PutPayload::from(bytes))
            .await?;
        Ok(part.content_id)
    }

    /// Makes upload `id` the object `key`, from its parts' ETags in order.
    pub async fn parts_complete(&self, key: &str, id: &str, parts: &[String]) -> Result<(), MediaError> {
        let Backend::S3 { signer, .. } = &self.backend else {
            return Err(not_s3());
        };
        let parts = parts.iter().map(|p| PartId { content_id: p.clone() }).collect();
        signer
            .complete_multipart(&self.full_path(key), &id.to_owned(), parts)
            .await?;
        Ok(())
    }
}
