//! Keeping the store and the catalog in step: the sweeper removes what
//! interrupted uploads left, `scrub` proves every object is intact.

use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::{analysis, media};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads a dead process left half-written.
    pub stale_uploads: usize,
    /// Staging files of the local store.
    pub staging_files: usize,
    /// Objects no record points to.
    pub orphans: usize,
    /// Preview objects no analysis owns (their file was removed while its
    /// job ran, or a killed job stored them and its file went since).
    pub previews: usize,
    /// Resumable uploads past their expiry.
    pub expired_uploads: usize,
    /// S3 multipart uploads no row names (a process killed between
    /// beginning one and recording its id).
    pub multipart_uploads: usize,
    /// Leftovers that could not be removed this time (the store did not
    /// answer); their rows stay and the next sweep tries again.
    pub failed: usize,
}

#[derive(Debug, Default)]
pub struct ScrubReport {
    pub checked: usize,
    pub bytes: u64,
    /// `(key, what is wrong)`.
    pub problems: Vec<(String, String)>,
}

impl Hub {
    /// Removes what no upload of this process is writing and no record points
    /// to, once it is older than `grace`.
    #[tracing::instrument(skip(self))]
    pub async fn sweep(&self, grace: Duration) -> Result<SweepReport, ExchangeError> {
        let mut report = SweepReport::default();
        let uploads = self.catalog.read(media::uploads).await?;
        for (key, multipart) in uploads.into_iter().filter(|(k, _)| !self.active.contains(k)) {
            // The row goes only once its leftovers are gone, so that a store
            // that is down now is tried again at the next sweep.
            if let Err(e) = self.discard_upload(&key, multipart.as_deref()).await {
                tracing::warn!(%key, error = %e, "could not remove an interrupted upload yet; next sweep");
                report.failed += 1;
                continue;
            }
            let k = key.clone();
            self.catalog.write(move |tx| media::end_upload(tx, &k)).await?;
            report.stale_uploads += 1;
        }
        let active = self.active.clone();
        report.staging_files = self
            .media
            .sweep_local_staging(grace, move |key| active.is_writing(key))
            .await?;
        // A store that cannot list multipart uploads (or is away) does not
        // hold up the rest of the sweep.
        match self.sweep_multiparts(grace).await {
            Ok(n) => report.multipart_uploads = n,
            Err(e) => {
                tracing::warn!(error = %e, "could not sweep incomplete multipart uploads; next sweep");
                report.failed += 1;
            }
        }
        let (expired, failed) = self.sweep_tus(grace).await?;
        report.expired_uploads = expired;
        report.failed += failed;
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        for (key, modified) in self.media.keys().await? {
            if modified > cutoff || self.active.contains(&key) {
                continue;
            }
            let k = key.clone();
            if !self.catalog.read(move |c| media::is_known_key(c, &k)).await? {
                self.media.delete(&key).await?;
                report.orphans += 1;
            }
        }
        for (key, modified) in self.media.preview_keys().await? {
            if modified > cutoff || self.active.contains(&key) {
                continue;
            }
            let k = key.clone();
            if !self.catalog.read(move |c| analysis::owns_preview(c, &k)).await? {
                self.media.delete(&key).await?;
                report.previews += 1;
            }
        }
        if report != SweepReport::default() {
            tracing::info!(?report, "swept the media store");
        }
        Ok(report)
    }

    /// Aborts the S3 multipart uploads under the hub's prefix that no
    /// catalog row names and no upload of this process is writing, once
    /// older than `grace`.
    async fn sweep_multiparts(&self, grace: Duration) -> Result<usize, ExchangeError> {
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let mut aborted = 0;
        for m in self.media.pending_multiparts().await? {
            if m.initiated > cutoff || self.active.contains(&m.key) {
                continue;
            }
            let id = m.upload_id.clone();
            if self.catalog.read(move |c| media::is_known_multipart(c, &id)).await? {
                continue;
            }
            self.media.abort_multipart(&m.key, &m.upload_id).await?;
            aborted += 1;
        }
        Ok(aborted)
    }

    /// Re-reads every object and checks its size and SHA-256 against the catalog.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn scrub(&self, caller: &Caller) -> Result<ScrubReport, ExchangeError> {
        super::tokens::require_admin(caller)?;
        let objects = self.catalog.read(media::all_objects).await?;
        let mut report = ScrubReport::default();
        for o in objects {
            report.checked += 1;
            let mut stream = match self.media.read(&o.key, None).await {
                Ok(s) => s,
                Err(crate::media::MediaError::NotFound) => {
                    report.problems.push((o.key, "missing from the store".into()));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let (mut hasher, mut size) = (Sha256::new(), 0u64);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
            }
            report.bytes += size;
            let sha256 = crate::domain::Sha256::from_bytes(hasher.finalize().into());
            if size != o.size {
                report
                    .problems
                    .push((o.key, format!("size {size}, catalog says {}", o.size)));
            } else if sha256 != o.sha256 {
                report
                    .problems
                    .push((o.key, format!("SHA-256 {sha256}, catalog says {}", o.sha256)));
            }
        }
        Ok(report)
    }
}
