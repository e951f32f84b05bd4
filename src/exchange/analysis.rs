//! Looking inside stored files: workers claim analysis jobs from the catalog,
//! open the bytes from the media store, run the engine, store the previews
//! and record what was found. Previews are shown to whoever may see the
//! program, and are never a take.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::delivery::emit;
use super::programs::visible;
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::analysis::{EngineError, Report};
use crate::catalog::analysis::{self as jobs, Claimed, Classes, PreviewObject, Previews};
use crate::catalog::{self, media, programs};
use crate::catalog::{Connection, DbError, DbResult};
use crate::domain::analysis::PreviewKind;
use crate::domain::{EventType, FileRole, Findings, Program, ProgramId, ProgramStatus, Viewer};

/// Attempts before a job is given up. Not a setting: a file that fails five
/// times in a row (doubling waits) fails for what it is, not for the moment.
pub const MAX_ATTEMPTS: i64 = 5;
/// The first wait before a failed attempt is retried. Not a setting: long
/// enough for a store or a disk to come back, short enough not to be noticed.
pub const RETRY: Duration = Duration::from_secs(30);

/// How the queue runs.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSettings {
    /// Jobs run at once (0: none, the hub only queues).
    pub workers: usize,
    /// Of those, at most this many audio (not video) files at once.
    pub audio_workers: usize,
    /// Of those, at most this many video files at once.
    pub video_workers: usize,
    /// How long a claim holds without renewal; a worker renews it every
    /// third of that while it runs.
    pub lease: Duration,
    /// Where files are copied for FFmpeg (from S3) and previews are made.
    pub work_dir: PathBuf,
    /// Attempts before a job is given up.
    pub max_attempts: i64,
    /// The first wait before a failed attempt is retried (doubling).
    pub retry: Duration,
}

/// The seconds a publisher is told to wait for a master's analysis.
pub const ANALYSIS_RETRY_AFTER_SECS: u64 = 10;

/// Which preview a request names.
pub use crate::domain::analysis::PreviewKind as Preview;

/// How many analyses of each kind run now.
#[derive(Debug, Default)]
pub(super) struct Running {
    audio: usize,
    video: usize,
}

impl Running {
    /// Whether an audio job, and a video job, may start now.
    pub(super) fn free(&self, settings: &AnalysisSettings) -> (bool, bool) {
        (self.audio < settings.audio_workers, self.video < settings.video_workers)
    }

    pub(super) fn take(&mut self, video: bool) {
        if video {
            self.video += 1;
        } else {
            self.audio += 1;
        }
    }

    pub(super) fn give(&mut self, video: bool) {
        if video {
            self.video -= 1;
        } else {
            self.audio -= 1;
        }
    }
}

/// Whether a preview is heard or seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewMedia {
    Audio,
    Video,
}

/// What the results list shows of a program's master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListPreview {
    pub kind: PreviewMedia,
    pub poster: bool,
    pub waveform: bool,
}

/// Why `viewer`, who may see `program`, may not hear its previews at `now`:
/// withdrawn, or its rights window closed (before it opens, hearing before
/// taking is the point; the owner and the operator always may).
fn preview_refused(viewer: &Viewer, program: &Program, now: chrono::DateTime<chrono::Utc>) -> Option<ExchangeError> {
    if program.status == ProgramStatus::Withdrawn {
        return Some(ExchangeError::Gone);
    }
    (super::rights::may_take(viewer, program, now) == Err(super::rights::NotNow::NoLongerAvailable))
        .then_some(ExchangeError::RightsWindowClosed)
}

/// A preview the caller may fetch.
#[derive(Debug, Clone)]
pub struct PreviewDownload {
    pub key: String,
    pub media_type: String,
    pub sha256: crate::domain::Sha256,
    pub size: u64,
}

impl Hub {
    pub(super) fn wake_analysis(&self) {
        self.analysis_wake.notify_waiters();
    }

    /// FFmpeg's version, when it is installed.
    pub fn ffmpeg_version(&self) -> Option<String> {
        self.engine.version()
    }

    /// Checks FFmpeg (again).
    pub async fn check_ffmpeg(&self) -> Option<String> {
        self.engine.check().await
    }

    /// Runs the configured number of analysis workers until the task is
    /// dropped.
    pub async fn run_analysis(self) {
        let workers = self.analysis.workers;
        // What a killed hub left in the work folder (one hub per data folder).
        if workers > 0 {
            if let Err(e) = tokio::fs::remove_dir_all(&self.analysis.work_dir).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, "could not clear the analysis work folder");
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..workers {
            let hub = self.clone();
            tasks.spawn(async move { hub.analysis_worker(n).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn analysis_worker(self, n: usize) {
        let idle = Duration::from_secs(5);
        let mut waited = Duration::ZERO;
        loop {
            let woken = self.analysis_wake.notified();
            if self.engine.version().is_none() {
                // Files wait, and say why; FFmpeg is looked for again each minute.
                let reason = EngineError::Unavailable.to_string();
                if let Err(e) = self
                    .catalog
                    .write(move |tx| jobs::set_waiting_reason(tx, Some(&reason)))
                    .await
                {
                    tracing::warn!(error = %e, "could not note why analyses wait");
                }
                let _ = tokio::time::timeout(idle, woken).await;
                waited += idle;
                if n == 0 && waited >= Duration::from_secs(60) {
                    waited = Duration::ZERO;
                    if self.engine.check().await.is_some() {
                        let _ = self.catalog.write(|tx| jobs::set_waiting_reason(tx, None)).await;
                    }
                }
                continue;
            }
            match self.analyze_next().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "analysis worker"),
            }
            // No analysis due: a rendition, if one waits.
            match self.render_next().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "rendition worker"),
            }
            let _ = tokio::time::timeout(idle, woken).await;
        }
    }

    /// Claims one due job and runs it; `false` when none was due (of a
    /// kind of file with a worker free: audio and video are capped apart).
    pub async fn analyze_next(&self) -> Result<bool, ExchangeError> {
        let lease = self.analysis.lease;
        let job = {
            // Held while claiming, so that two workers cannot both take
            // the last free place of a kind.
            let mut running = self.analysis_running.lock().await;
            let classes = Classes {
                audio: running.audio < self.analysis.audio_workers,
                video: running.video < self.analysis.video_workers,
            };
            let job = self
                .catalog
                .write(move |tx| {
                    let now = catalog::now();
                    jobs::claim(tx, now, now + lease, classes)
                })
                .await?;
            match &job {
                Some(j) if j.video => running.video += 1,
                Some(_) => running.audio += 1,
                None => {}
            }
            job
        };
        let Some(job) = job else {
            return Ok(false);
        };
        let outcome = self.analyze_claimed(&job).await;
        let mut running = self.analysis_running.lock().await;
        if job.video {
            running.video -= 1;
        } else {
            running.audio -= 1;
        }
        drop(running);
        // A place of this kind is free again: a worker waiting for one may go.
        self.wake_analysis();
        outcome
    }

    async fn analyze_claimed(&self, job: &Claimed) -> Result<bool, ExchangeError> {
        let job = job.clone();
        tracing::info!(sha256 = %job.sha256, attempt = job.attempt, "analysis started");
        self.metrics.analyses_running.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let outcome = {
            let renewing = self.keep_lease(&job);
            tokio::pin!(renewing);
            tokio::select! {
                r = self.run_job(&job) => Some(r),
                lost = &mut renewing => { let _: () = lost; None }
            }
        };
        self.metrics.analyses_running.fetch_sub(1, Ordering::Relaxed);
        match outcome {
            None => tracing::warn!(sha256 = %job.sha256, "analysis lease lost; another worker has the job"),
            Some(Ok(report)) => {
                tracing::info!(
                    sha256 = %job.sha256,
                    secs = started.elapsed().as_secs_f64(),
                    verdict = ?report.findings.qc.as_ref().map(|q| q.verdict),
                    "analysis done"
                );
                self.metrics.analyses_done.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(e)) => {
                let (count, retry_at) = match &e {
                    JobError::Engine(EngineError::Unavailable) => (false, Some(catalog::now() + self.analysis.retry)),
                    _ if job.attempt >= self.analysis.max_attempts => (true, None),
                    _ => {
                        let doublings = (job.attempt.clamp(1, 16) - 1) as u32;
                        let wait = self.analysis.retry * 2u32.saturating_pow(doublings);
                        (true, Some(catalog::now() + wait))
                    }
                };
                tracing::warn!(sha256 = %job.sha256, attempt = job.attempt, error = %e, "analysis failed");
                let (job, error) = (job.clone(), e.public());
                self.catalog
                    .write(move |tx| jobs::give_back(tx, &job, &error, retry_at, count))
                    .await?;
            }
        }
        Ok(true)
    }

    /// Renews the job's lease until it is lost (then returns).
    async fn keep_lease(&self, job: &Claimed) {
        let every = (self.analysis.lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let (j, lease) = (job.clone(), self.analysis.lease);
            match self
                .catalog
                .write(move |tx| jobs::renew(tx, &j, catalog::now() + lease))
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "could not renew an analysis lease"),
            }
        }
    }

    async fn run_job(&self, job: &Claimed) -> Result<Report, JobError> {
        let dir = self.analysis.work_dir.join(uuid::Uuid::new_v4().simple().to_string());
        tokio::fs::create_dir_all(&dir).await?;
        let result = self.run_job_in(job, &dir).await;
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove an analysis folder");
        }
        result
    }

    async fn run_job_in(&self, job: &Claimed, dir: &Path) -> Result<Report, JobError> {
        let input = match self.media.local_path(&job.key) {
            Some(path) => path,
            None => {
                let path = dir.join("input");
                self.copy_out(&job.key, &path).await?;
                path
            }
        };
        let report = self.engine.analyze(&input, &job.media_type, dir).await?;
        // Nothing is stored for a job no longer this worker's (its file was
        // removed meanwhile, or its lease passed to another worker).
        let (j, lease) = (job.clone(), self.analysis.lease);
        if !self
            .catalog
            .write(move |tx| jobs::renew(tx, &j, catalog::now() + lease))
            .await?
        {
            return Err(JobError::Lost);
        }
        let mut previews = Previews::default();
        let base = format!("previews/{}", job.sha256.hex());
        if let Some((path, media_type)) = &report.preview {
            previews.preview = Some(self.store_file(&format!("{base}/media"), path, media_type).await?);
        }
        if let Some(path) = &report.poster {
            previews.poster = Some(self.store_file(&format!("{base}/poster"), path, "image/jpeg").await?);
        }
        if let Some(json) = &report.waveform {
            previews.waveform = Some(
                self.store_bytes(&format!("{base}/waveform"), json.clone(), "application/json")
                    .await?,
            );
        }
        self.record_findings(job, report.findings.clone(), previews).await?;
        Ok(report)
    }

    /// Copies a stored object into a local file for FFmpeg (S3 stores).
    async fn copy_out(&self, key: &str, path: &Path) -> Result<(), JobError> {
        let mut out = tokio::fs::File::create(path).await?;
        let mut bytes = self.media.read(key, None).await.map_err(ExchangeError::from)?;
        while let Some(chunk) = bytes.next().await {
            out.write_all(&chunk.map_err(ExchangeError::from)?).await?;
        }
        out.flush().await?;
        Ok(())
    }

    async fn store_file(&self, key: &str, path: &Path, media_type: &str) -> Result<PreviewObject, JobError> {
        let mut file = tokio::fs::File::open(path).await?;
        // Sweeps leave it alone while it is written; a killed worker's
        // leftover of the same key is replaced.
        let _writing = self.active.hold(key);
        let mut writer = self.media.rewriter(key).await.map_err(ExchangeError::from)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
            if n == 0 {
                break;
            }
            if let Err(e) = writer.write(Bytes::copy_from_slice(&buf[..n])).await {
                writer.abort().await;
                return Err(ExchangeError::from(e).into());
            }
        }
        let stored = writer.finish().await.map_err(ExchangeError::from)?;
        Ok(PreviewObject {
            key: key.to_owned(),
            media_type: media_type.to_owned(),
            sha256: stored.sha256,
        })
    }

    async fn store_bytes(&self, key: &str, bytes: Vec<u8>, media_type: &str) -> Result<PreviewObject, JobError> {
        let _writing = self.active.hold(key);
        let mut writer = self.media.rewriter(key).await.map_err(ExchangeError::from)?;
        if let Err(e) = writer.write(Bytes::from(bytes)).await {
            writer.abort().await;
            return Err(ExchangeError::from(e).into());
        }
        let stored = writer.finish().await.map_err(ExchangeError::from)?;
        Ok(PreviewObject {
            key: key.to_owned(),
            media_type: media_type.to_owned(),
            sha256: stored.sha256,
        })
    }

    /// Records the findings, fills in missing program durations, and tells
    /// the feed, all in one transaction.
    async fn record_findings(&self, job: &Claimed, findings: Findings, previews: Previews) -> Result<(), JobError> {
        let stored: Vec<String> = [&previews.preview, &previews.poster, &previews.waveform]
            .into_iter()
            .flatten()
            .map(|p| p.key.clone())
            .collect();
        let job = job.clone();
        let index = self.index.clone();
        let recorded = self
            .catalog
            .write(move |tx| {
                if !jobs::finish(tx, &job, &findings, &previews)? {
                    // No job of this content is left (its files were removed
                    // while it ran): the previews just stored are no one's.
                    if !jobs::exists(tx, &job.sha256)? {
                        return Ok::<_, ExchangeError>(Recorded::Orphaned);
                    }
                    return Ok(Recorded::NotOurs);
                }
                if let Some(d) = findings.duration_seconds.filter(|d| *d >= 0.5) {
                    let seconds = d.round().min(f64::from(u32::MAX)) as u32;
                    jobs::fill_durations(tx, &job.sha256, seconds)?;
                }
                // Search filters on what was measured.
                for seq in jobs::programs_with_master(tx, &job.sha256)? {
                    index.refresh(tx, seq)?;
                }
                for seq in jobs::published_programs_with(tx, &job.sha256)? {
                    if let Some(id) = programs::id_of(tx, seq)? {
                        emit(tx, EventType::FileAnalyzed, id)?;
                    }
                }
                Ok(Recorded::Yes)
            })
            .await?;
        match recorded {
            Recorded::Yes => {}
            Recorded::NotOurs => {
                tracing::warn!("analysis finished after its lease was lost; the other worker's result stands")
            }
            Recorded::Orphaned => {
                tracing::info!("the analysed file was removed meanwhile; its previews go too");
                self.delete_objects(stored).await;
            }
        }
        self.delivered().await;
        Ok(())
    }

    /// Queues the files of program `id` (or of every program) for analysis
    /// again, and their failed renditions. Only the hub operator may.
    pub async fn requeue_analysis(&self, caller: &Caller, id: Option<ProgramId>) -> Result<usize, ExchangeError> {
        if caller.viewer() != Viewer::Admin {
            return Err(ExchangeError::Forbidden("only the hub operator may queue analyses"));
        }
        let n = self
            .catalog
            .write(move |tx| {
                let shas: Vec<String> = match id {
                    Some(id) => {
                        let s = programs::get(tx, id)?.ok_or(ExchangeError::NotFound)?;
                        s.program.files.iter().map(|f| f.sha256.hex()).collect()
                    }
                    None => tx
                        .prepare("SELECT DISTINCT sha256 FROM program_files")?
                        .query_map([], |r| r.get(0))?
                        .collect::<Result<_, _>>()?,
                };
                for hex in &shas {
                    if let Some(sha) = crate::domain::Sha256::parse_hex(hex) {
                        jobs::requeue(tx, &sha)?;
                        crate::catalog::renditions::requeue_failed(tx, &sha)?;
                    }
                }
                Ok::<_, ExchangeError>(shas.len())
            })
            .await?;
        self.wake_analysis();
        Ok(n)
    }

    /// What the analysis made of the masters of `programs` (which the
    /// caller may see: a search's), for the results list: the preview's
    /// media type, and whether there is a poster and a waveform. Only what
    /// [`Hub::preview`] would serve the caller is named.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn list_previews(
        &self,
        caller: &Caller,
        programs: &[Program],
    ) -> Result<HashMap<ProgramId, ListPreview>, ExchangeError> {
        let (viewer, now) = (caller.viewer(), catalog::now());
        let masters: Vec<(ProgramId, String)> = programs
            .iter()
            .filter(|p| preview_refused(&viewer, p, now).is_none())
            .filter_map(|p| {
                let master = p.files.iter().find(|f| f.role == FileRole::Master)?;
                Some((p.id, master.sha256.hex()))
            })
            .collect();
        let shas: Vec<String> = masters.iter().map(|(_, s)| s.clone()).collect();
        let made = self.catalog.read(move |c| jobs::made_previews(c, &shas)).await?;
        Ok(masters
            .into_iter()
            .filter_map(|(id, sha)| {
                let (media_type, poster, waveform) = made.get(&sha)?.clone();
                let kind = match media_type?.split('/').next()? {
                    "video" => PreviewMedia::Video,
                    "audio" => PreviewMedia::Audio,
                    _ => return None,
                };
                Some((id, ListPreview { kind, poster, waveform }))
            })
            .collect())
    }

    /// The preview `kind` of file `role` of program `id`, for anyone who may
    /// see the program, before its rebroadcast window opens too (hearing
    /// before taking is the point), but not once it has closed (the owner
    /// and the operator aside).
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn preview(
        &self,
        caller: &Caller,
        id: ProgramId,
        role: FileRole,
        kind: PreviewKind,
    ) -> Result<PreviewDownload, ExchangeError> {
        let viewer = caller.viewer();
        let found = self
            .catalog
            .read(move |c| {
                let s = visible(c, &viewer, id)?;
                if let Some(refused) = preview_refused(&viewer, &s.program, catalog::now()) {
                    return Err(refused);
                }
                let file = s
                    .program
                    .files
                    .iter()
                    .find(|f| f.role == role)
                    .ok_or(ExchangeError::NotFound)?;
                if let Some(preview) = jobs::preview(c, &file.sha256, kind)? {
                    return Ok(Ok(preview));
                }
                // A mirrored file not fetched yet: fetched now, looked into
                // here, and its preview made.
                Ok(Err(match (&s.program.origin, media::object(c, &file.sha256)?) {
                    (Some(origin), None) => Some(super::files::Wanted {
                        origin: origin.clone(),
                        file: file.clone(),
                    }),
                    _ => None,
                }))
            })
            .await?;
        let object = match found {
            Ok(object) => object,
            Err(wanted) => {
                if let Some(w) = wanted {
                    let hub = self.clone();
                    tokio::spawn(async move {
                        // Its failure is logged where it happens.
                        let _ = hub.fetch_from_origin(&w).await;
                    });
                }
                return Err(ExchangeError::PreviewNotReady);
            }
        };
        let size = self.media.size(&object.key).await?;
        Ok(PreviewDownload {
            key: object.key,
            media_type: object.media_type,
            sha256: object.sha256,
            size,
        })
    }

    /// The bytes of a preview, in `range`.
    pub async fn send_preview(
        &self,
        preview: &PreviewDownload,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>, ExchangeError> {
        let length = range.as_ref().map_or(preview.size, |r| r.end - r.start);
        let stream = self.media.read(&preview.key, range).await?;
        self.metrics.bytes_out.fetch_add(length, Ordering::Relaxed);
        Ok(stream.map(|r| r.map_err(std::io::Error::other)).boxed())
    }

    /// `Ok` when the analysis of the master among `files` has ended (or
    /// the hub analyses nothing: `analysing` false); `AnalysisPending`
    /// while it waits or runs; `master_not_media` when it was given up, as
    /// nothing then says the master is media.
    pub(super) fn master_analysed(
        c: &crate::catalog::Connection,
        files: &[crate::domain::FileRecord],
        analysing: bool,
    ) -> Result<(), ExchangeError> {
        use crate::domain::analysis::AnalysisState;
        let Some(master) = files.iter().find(|f| f.role == FileRole::Master) else {
            return Ok(());
        };
        match jobs::of(c, &master.sha256)?.map(|a| a.state) {
            _ if !analysing => Ok(()),
            Some(AnalysisState::Done) => Ok(()),
            Some(AnalysisState::Failed) => Err(ExchangeError::conflict(
                super::error::code::MASTER_NOT_MEDIA,
                "the master could not be analysed (see files[].analysis.error); upload another",
            )),
            Some(AnalysisState::Pending | AnalysisState::Running) | None => Err(ExchangeError::AnalysisPending {
                retry_after_secs: ANALYSIS_RETRY_AFTER_SECS,
            }),
        }
    }

    /// Whether the master among `files` was found to hold no media.
    pub(super) fn master_not_media(c: &Connection, files: &[crate::domain::FileRecord]) -> DbResult<bool> {
        let Some(master) = files.iter().find(|f| f.role == FileRole::Master) else {
            return Ok(false);
        };
        Ok(jobs::findings(c, &master.sha256)?.is_some_and(|f| !f.media))
    }
}

/// Whether a finished analysis was recorded.
enum Recorded {
    Yes,
    /// Another worker holds the job now.
    NotOurs,
    /// The job is gone: no file has the content any more.
    Orphaned,
}

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("the job is no longer this worker's (its file was removed, or its lease passed)")]
    Lost,
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    #[error("work folder: {0}")]
    Io(#[from] std::io::Error),
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        Self::Exchange(e.into())
    }
}

impl JobError {
    /// What the owner may read: no paths, no internals.
    fn public(&self) -> String {
        match self {
            Self::Lost => self.to_string(),
            Self::Engine(EngineError::Unavailable) => EngineError::Unavailable.to_string(),
            Self::Engine(EngineError::Timeout(d)) => format!("the analysis took longer than {} s", d.as_secs()),
            Self::Engine(_) => "FFmpeg could not run on the file".into(),
            Self::Exchange(_) | Self::Io(_) => "the hub could not read or store the file's data".into(),
        }
    }
}
