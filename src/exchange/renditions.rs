//! Delivery profiles and renditions: the operator keeps the profiles
//! stations' playouts take; a rendition of a file to a profile is made once
//! per (content, profile) by the analysis workers, on first request, stored
//! beside the previews, and served like the master (rights, ranges, a take).
//!
//! The push channel asks [`Hub::source`] what to send, and reads it with
//! [`Hub::rendition_raw`] (its take is recorded once the file is whole on
//! the station's server).

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::StreamExt;

use super::error::code;
use super::files::Download;
use super::programs::visible;
use super::rights::{may_take, NotNow};
use super::tokens::{require_admin, Caller};
use super::{ExchangeError, Hub, Sending};
use crate::analysis::render::relayout_wav;
use crate::analysis::EngineError;
use crate::catalog::renditions::{self as jobs, Claimed, Found, Made};
use crate::catalog::{self, follows, stations, Connection};
use crate::domain::bwf::{self, BroadcastMeta};
use crate::domain::profile::{Container, Profile, ProfileInput};
use crate::domain::{AnalysisState, FileRecord, FileRole, PersonId, ProgramId, Sha256, StationId, Viewer};
use crate::media::sha256::ResumableSha256;

/// The seconds a client is told to wait for a rendition being made.
pub const RENDITION_RETRY_AFTER_SECS: u64 = 10;

/// A rendition as a request finds it.
pub enum Rendition {
    /// Queued (`pending`) or being made (`running`).
    Making(AnalysisState),
    Ready(Box<RenditionFile>),
}

/// A rendition the caller may take: the bytes of the object at
/// `download.key`, then `trailer` (a broadcast WAV's `bext` and `cart`,
/// written for the taker); `download.file` describes the whole.
#[derive(Debug, Clone)]
pub struct RenditionFile {
    pub download: Download,
    pub object_size: u64,
    pub trailer: Vec<u8>,
}

impl Hub {
    /// The hub's delivery profiles (anyone signed in may read them).
    pub async fn profiles(&self, _caller: &Caller) -> Result<Vec<Profile>, ExchangeError> {
        Ok(self.catalog.read(jobs::profiles).await?)
    }

    /// Adds a profile (the operator).
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn create_profile(&self, caller: &Caller, input: ProfileInput) -> Result<Profile, ExchangeError> {
        require_admin(caller)?;
        let profile = input.parse().map_err(ExchangeError::Invalid)?;
        let p = profile.clone();
        self.catalog
            .write(move |tx| {
                if !jobs::insert_profile(tx, &p)? {
                    return Err(ExchangeError::conflict(code::PROFILE_EXISTS, "a profile has this id"));
                }
                Ok(())
            })
            .await?;
        Ok(profile)
    }

    /// Removes a profile no follow and no station's default names (the
    /// operator).
    pub async fn remove_profile(&self, caller: &Caller, id: &str) -> Result<(), ExchangeError> {
        require_admin(caller)?;
        let id = id.to_owned();
        self.catalog
            .write(move |tx| {
                jobs::profile(tx, &id)?.ok_or(ExchangeError::NotFound)?;
                if jobs::profile_in_use(tx, &id)? {
                    return Err(ExchangeError::conflict(
                        code::PROFILE_IN_USE,
                        "a follow, a station's default or a push target uses this profile",
                    ));
                }
                jobs::delete_profile(tx, &id)?;
                Ok(())
            })
            .await
        // The renditions' objects are no one's now: the sweep removes them.
    }

    /// Sets (or clears, `None`) station `id`'s default profile: the station's
    /// editors, or the operator.
    pub async fn set_default_profile(
        &self,
        caller: &Caller,
        id: StationId,
        profile: Option<String>,
    ) -> Result<Option<String>, ExchangeError> {
        let own = caller.station.as_ref() == Some(&id) && caller.may_offer();
        if !own && !caller.is_admin() {
            return Err(ExchangeError::Forbidden(
                "a station's default profile is set by its editors or the operator",
            ));
        }
        self.catalog
            .write(move |tx| {
                if let Some(p) = &profile {
                    if jobs::profile(tx, p)?.is_none() {
                        return Err(ExchangeError::invalid("default_profile", "no profile has this id"));
                    }
                }
                if !jobs::set_default_profile(tx, &id, profile.as_deref())? {
                    return Err(ExchangeError::NotFound);
                }
                Ok(profile)
            })
            .await
    }

    /// Station `id`'s default profile.
    pub async fn default_profile(&self, id: &StationId) -> Result<Option<String>, ExchangeError> {
        let id = id.clone();
        Ok(self.catalog.read(move |c| jobs::default_profile(c, &id)).await?)
    }

    /// The rendition of file `role` of program `id` to `profile`, for the
    /// caller: the same rights as the master's download; asking starts it.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn rendition(
        &self,
        caller: &Caller,
        id: ProgramId,
        role: FileRole,
        profile: &str,
    ) -> Result<Rendition, ExchangeError> {
        self.rendition_as(caller.viewer(), caller.person_id(), id, role, Some(profile))
            .await
    }

    /// What to send station `station` for file `role` of program `id` in
    /// `profile` (the push channel; `None`: the file as uploaded):
    /// [`Rendition::Making`] until it is made (asking starts it), then the
    /// file (`download.file`: its name, type, size and SHA-256), its rights
    /// checked as for the station's own download. Its bytes:
    /// [`Hub::rendition_bytes`] (counted into the ledger as a take).
    pub async fn source(
        &self,
        station: &StationId,
        id: ProgramId,
        role: FileRole,
        profile: Option<&str>,
    ) -> Result<Rendition, ExchangeError> {
        let s = station.clone();
        let found = self.catalog.read(move |c| stations::get(c, &s)).await?;
        let national = found.ok_or(ExchangeError::NotFound)?.kind == crate::domain::StationKind::National;
        let viewer = Viewer::Station {
            id: station.clone(),
            national,
        };
        self.rendition_as(viewer, None, id, role, profile).await
    }

    async fn rendition_as(
        &self,
        viewer: Viewer,
        person: Option<PersonId>,
        id: ProgramId,
        role: FileRole,
        profile: Option<&str>,
    ) -> Result<Rendition, ExchangeError> {
        let profile = profile.map(str::to_owned);
        // Read first: a rendition asked for before needs no write.
        let (v, p, pid) = (viewer.clone(), person.clone(), profile.clone());
        let found = self
            .catalog
            .read(move |c| find(c, &v, p, id, role, pid.as_deref(), false))
            .await?;
        let answer = match found {
            Some(answer) => answer,
            None => self
                .catalog
                .write(move |tx| find(tx, &viewer, person, id, role, profile.as_deref(), true))
                .await?
                .ok_or(ExchangeError::Broken("a rendition just queued"))?,
        };
        if matches!(answer, Rendition::Making(_)) {
            // Queued now, perhaps: a worker waiting for work may take it.
            self.wake_analysis();
        }
        Ok(answer)
    }

    /// How the bytes of `r` in `range` (all when `None`) reach the caller of
    /// the API, counted into the ledger as the master's are (nginx or a
    /// presigned address may send what is only stored).
    pub async fn send_rendition(&self, r: &RenditionFile, range: Option<Range<u64>>) -> Result<Sending, ExchangeError> {
        if r.trailer.is_empty() {
            return self.send(&r.download, range).await;
        }
        Ok(Sending::Stream(self.rendition_bytes(r, range).await?))
    }

    /// The bytes of `r` in `range` (all when `None`), always through the
    /// hub; the take is recorded as for a download.
    pub async fn rendition_bytes(
        &self,
        r: &RenditionFile,
        range: Option<Range<u64>>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes, crate::media::MediaError>>, ExchangeError> {
        if r.trailer.is_empty() {
            return Ok(self.open(&r.download, range).await?.boxed());
        }
        // Part stored, part written for the taker: counted when handed out
        // (as nginx's sending is).
        let asked = range.clone().unwrap_or(0..r.download.file.size);
        self.record_received(r.download.clone(), asked.clone()).await?;
        self.metrics
            .bytes_out
            .fetch_add(asked.end - asked.start, Ordering::Relaxed);
        self.rendition_raw(r, range).await
    }

    /// The bytes of `r` in `range` (all when `None`) as the hub holds them,
    /// counting nothing (what a resumed push hashes again of what the
    /// station's server already holds).
    pub(in crate::exchange) async fn rendition_raw(
        &self,
        r: &RenditionFile,
        range: Option<Range<u64>>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes, crate::media::MediaError>>, ExchangeError> {
        let asked = range.unwrap_or(0..r.download.file.size);
        let stored = asked.start.min(r.object_size)..asked.end.min(r.object_size);
        let trailer = asked.start.max(r.object_size) - r.object_size..asked.end.max(r.object_size) - r.object_size;
        let head = if stored.is_empty() {
            futures_util::stream::empty().boxed()
        } else {
            self.media.read(&r.download.key, Some(stored)).await?.boxed()
        };
        let tail = Bytes::copy_from_slice(&r.trailer[trailer.start as usize..trailer.end as usize]);
        let tail = futures_util::stream::iter((!tail.is_empty()).then_some(Ok(tail)));
        Ok(head.chain(tail).boxed())
    }
}

/// The rendition answer; `None` when none was asked for and `queue` is
/// false (with `queue`, in a write transaction, it is queued).
fn find(
    tx: &Connection,
    viewer: &Viewer,
    person: Option<PersonId>,
    id: ProgramId,
    role: FileRole,
    profile_id: Option<&str>,
    queue: bool,
) -> Result<Option<Rendition>, ExchangeError> {
    let s = visible(tx, viewer, id)?;
    let file = s
        .program
        .files
        .iter()
        .find(|f| f.role == role)
        .cloned()
        .ok_or(ExchangeError::NotFound)?;
    match may_take(viewer, &s.program, Utc::now()) {
        Ok(()) => {}
        Err(NotNow::Withdrawn) => return Err(ExchangeError::Gone),
        Err(NotNow::NotYetAvailable | NotNow::NoLongerAvailable) => return Err(ExchangeError::RightsWindowClosed),
    }
    let profile = match profile_id {
        Some(p) => Some(jobs::profile(tx, p)?.ok_or(ExchangeError::NotFound)?),
        None => None,
    };
    let taker = match viewer {
        Viewer::Station { id, .. } if *id != s.program.station => Some(id.clone()),
        _ => None,
    };
    let download = |file: FileRecord, key: String| Download {
        file,
        key,
        program: id,
        taker_person: taker.as_ref().and(person.clone()),
        taker: taker.clone(),
    };
    let Some(profile) = profile.filter(|p| p.container != Container::Keep) else {
        let object =
            catalog::media::object(tx, &file.sha256)?.ok_or(ExchangeError::Broken("a file row without its object"))?;
        let size = file.size;
        return Ok(Some(Rendition::Ready(Box::new(RenditionFile {
            download: download(file, object.key),
            object_size: size,
            trailer: Vec::new(),
        }))));
    };
    let found = match queue {
        true => Some(jobs::find_or_queue(tx, &file.sha256, &profile.id)?),
        false => jobs::find(tx, &file.sha256, &profile.id)?,
    };
    let Some(found) = found else {
        return Ok(None);
    };
    let made = match found {
        Found::Waiting(state) => return Ok(Some(Rendition::Making(state))),
        Found::Failed(why) => return Err(ExchangeError::RenditionFailed(why)),
        Found::Done(made) => made,
    };
    let trailer = match profile.container {
        Container::Bwf => {
            let cut_id = viewer_cut_id(tx, viewer, &s.program, &profile.id)?;
            let station =
                stations::get(tx, &s.program.station)?.map_or_else(|| s.program.station.to_string(), |st| st.name);
            let meta = BroadcastMeta {
                title: s.program.meta.title.clone(),
                station,
                origination: s.program.published_at.unwrap_or(s.program.created_at),
                loudness: made.loudness.clone(),
                cut_id,
                start: s.program.meta.rights.available_from.or(s.program.published_at),
                end: s.program.meta.rights.available_until,
            };
            bwf::trailer(&meta, &history(&profile))
        }
        _ => Vec::new(),
    };
    let mut sha = ResumableSha256::restore(&made.head).ok_or(ExchangeError::Broken("a rendition's hash state"))?;
    sha.update(&trailer);
    let record = FileRecord {
        role,
        filename: profile.container.file_name(&file.filename),
        media_type: profile.container.media_type().0.to_owned(),
        size: made.size + trailer.len() as u64,
        sha256: Sha256::from(sha.finalize()),
        analysis: None,
    };
    Ok(Some(Rendition::Ready(Box::new(RenditionFile {
        download: download(record, made.key),
        object_size: made.size,
        trailer,
    }))))
}

/// The cut ID the viewer's station gives the program: that of its first
/// follow matching it that names this profile, else of any matching one.
fn viewer_cut_id(
    tx: &Connection,
    viewer: &Viewer,
    program: &crate::domain::Program,
    profile: &str,
) -> Result<Option<String>, ExchangeError> {
    let Viewer::Station { id, .. } = viewer else {
        return Ok(None);
    };
    let ids = super::delivery::follows::Following::load(tx, id)?.matching(program);
    let matching: Vec<_> = follows::of_station(tx, id)?
        .into_iter()
        .filter(|f| f.cut_id.is_some() && ids.contains(&f.id))
        .collect();
    let named = matching.iter().find(|f| f.profile.as_deref() == Some(profile));
    Ok(named.or(matching.first()).and_then(|f| f.cut_id.clone()))
}

/// The `bext` coding history of `profile`'s broadcast WAV.
fn history(p: &Profile) -> String {
    bwf::coding_history(
        p.audio_codec.as_deref().unwrap_or("pcm"),
        p.sample_rate.unwrap_or(48000),
        p.bit_depth,
        p.channels.unwrap_or(2),
    )
}

impl Hub {
    /// Claims one due rendition and makes it; `false` when none was due
    /// (of a kind with a worker free).
    pub async fn render_next(&self) -> Result<bool, ExchangeError> {
        let lease = self.analysis.lease;
        let job = {
            let mut running = self.analysis_running.lock().await;
            let (audio, video) = running.free(&self.analysis);
            let job = self
                .catalog
                .write(move |tx| {
                    let now = catalog::now();
                    jobs::claim(tx, now, now + lease, audio, video)
                })
                .await?;
            if let Some(j) = &job {
                running.take(j.profile.container.is_video());
            }
            job
        };
        let Some(job) = job else {
            return Ok(false);
        };
        let outcome = self.render_claimed(&job).await;
        self.analysis_running
            .lock()
            .await
            .give(job.profile.container.is_video());
        self.wake_analysis();
        outcome.map(|()| true)
    }

    async fn render_claimed(&self, job: &Claimed) -> Result<(), ExchangeError> {
        tracing::info!(sha256 = %job.sha256, profile = %job.profile.id, attempt = job.attempt, "rendition started");
        let started = std::time::Instant::now();
        let outcome = {
            let renewing = self.keep_rendition_lease(job);
            tokio::pin!(renewing);
            tokio::select! {
                r = self.make_rendition(job) => Some(r),
                () = &mut renewing => None,
            }
        };
        let (retry_at, error) = match outcome {
            None => {
                tracing::warn!(sha256 = %job.sha256, "rendition lease lost; another worker has the job");
                return Ok(());
            }
            Some(Ok(())) => {
                let secs = started.elapsed().as_secs_f64();
                tracing::info!(sha256 = %job.sha256, profile = %job.profile.id, secs, "rendition done");
                return Ok(());
            }
            Some(Err(RenderError::Engine(EngineError::Refused(why)))) => (None, why),
            Some(Err(RenderError::Engine(EngineError::Unavailable))) => (
                Some(catalog::now() + self.analysis.retry),
                EngineError::Unavailable.to_string(),
            ),
            Some(Err(e)) => {
                tracing::warn!(sha256 = %job.sha256, attempt = job.attempt, error = %e, "rendition failed");
                let public = match &e {
                    RenderError::Engine(EngineError::Timeout(d)) => {
                        format!("the rendition took longer than {} s", d.as_secs())
                    }
                    RenderError::Engine(_) => "FFmpeg could not make the rendition".into(),
                    _ => "the hub could not read or store the rendition".into(),
                };
                let retry = (job.attempt < self.analysis.max_attempts).then(|| {
                    let doublings = (job.attempt.clamp(1, 16) - 1) as u32;
                    catalog::now() + self.analysis.retry * 2u32.saturating_pow(doublings)
                });
                (retry, public)
            }
        };
        tracing::warn!(sha256 = %job.sha256, profile = %job.profile.id, error = %error, "rendition not made");
        let job = job.clone();
        self.catalog
            .write(move |tx| jobs::give_back(tx, &job, &error, retry_at))
            .await?;
        Ok(())
    }

    /// Renews the job's lease until it is lost (then returns).
    async fn keep_rendition_lease(&self, job: &Claimed) {
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
                Err(e) => tracing::warn!(error = %e, "could not renew a rendition lease"),
            }
        }
    }

    async fn make_rendition(&self, job: &Claimed) -> Result<(), RenderError> {
        let dir = self.analysis.work_dir.join(uuid::Uuid::new_v4().simple().to_string());
        tokio::fs::create_dir_all(&dir).await?;
        let result = self.make_rendition_in(job, &dir).await;
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a rendition folder");
        }
        result
    }

    async fn make_rendition_in(&self, job: &Claimed, dir: &Path) -> Result<(), RenderError> {
        let input = match self.media.local_path(&job.key) {
            Some(path) => path,
            None => {
                let path = dir.join("input");
                self.copy_rendition_input(&job.key, &path).await?;
                path
            }
        };
        let rendered = self
            .engine
            .render(&input, &job.profile, job.findings.as_ref(), dir)
            .await?;
        let path = if job.profile.container == Container::Bwf {
            let (from, to) = (rendered.path.clone(), dir.join("served.wav"));
            let trailer = bwf::trailer_len(history(&job.profile).len());
            let to2 = to.clone();
            let rate = f64::from(job.profile.sample_rate.unwrap_or(48000));
            let frames = (rendered.seconds * rate).round() as u64;
            tokio::task::spawn_blocking(move || relayout_wav(&from, &to2, trailer, frames))
                .await
                .map_err(|e| RenderError::Io(std::io::Error::other(e)))??;
            to
        } else {
            rendered.path.clone()
        };
        let key = format!("previews/{}/rendition-{}", job.sha256.hex(), job.profile.fingerprint());
        let (size, head) = self.store_rendition(&key, &path).await?;
        let made = Made {
            key,
            media_type: job.profile.container.media_type().0.to_owned(),
            size,
            head,
            loudness: rendered.loudness,
        };
        let j = job.clone();
        let ours = self.catalog.write(move |tx| jobs::finish(tx, &j, &made)).await?;
        // A push may be waiting for it.
        self.wake_pushes();
        if !ours {
            tracing::warn!("rendition finished after its lease was lost; the other worker's result stands");
        }
        Ok(())
    }

    /// Copies a stored object into a local file for FFmpeg (S3 stores).
    async fn copy_rendition_input(&self, key: &str, path: &Path) -> Result<(), RenderError> {
        use tokio::io::AsyncWriteExt;
        let mut out = tokio::fs::File::create(path).await?;
        let mut bytes = self.media.read(key, None).await.map_err(ExchangeError::from)?;
        while let Some(chunk) = bytes.next().await {
            out.write_all(&chunk.map_err(ExchangeError::from)?).await?;
        }
        out.flush().await?;
        Ok(())
    }

    /// Stores `path` at `key`; its size and the SHA-256 state after it.
    async fn store_rendition(&self, key: &str, path: &Path) -> Result<(u64, Vec<u8>), RenderError> {
        let mut file = tokio::fs::File::open(path).await?;
        let _writing = self.active.hold(key);
        let mut writer = self
            .media
            .rewriter(key)
            .await
            .map_err(|e| RenderError::Store(e.into()))?;
        let mut sha = ResumableSha256::default();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            if let Err(e) = writer.write(Bytes::copy_from_slice(&buf[..n])).await {
                writer.abort().await;
                return Err(RenderError::Store(e.into()));
            }
        }
        let stored = writer.finish().await.map_err(|e| RenderError::Store(e.into()))?;
        Ok((stored.size, sha.save()))
    }
}

/// Why a rendition was not made.
#[derive(Debug, thiserror::Error)]
enum RenderError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(ExchangeError),
    #[error("work folder: {0}")]
    Io(#[from] std::io::Error),
}

impl From<crate::catalog::DbError> for RenderError {
    fn from(e: crate::catalog::DbError) -> Self {
        Self::Store(e.into())
    }
}

impl From<ExchangeError> for RenderError {
    fn from(e: ExchangeError) -> Self {
        Self::Store(e)
    }
}
