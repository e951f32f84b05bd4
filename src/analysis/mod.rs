//! The engine that learns what a file is: FFmpeg as a subprocess (probe,
//! decode, previews) and the loudness measurement in Rust (EBU R128 with the
//! `ebur128` crate). Bytes in (a local file the hub names), figures and
//! preview files out; it knows nothing of stations, programs or rights.
//!
//! Every argument given to FFmpeg is built here: paths the hub chose and
//! fixed options, never text a client sent. FFmpeg runs at low priority
//! (`nice`), with no shell, and is killed when its job times out.

mod loudness;
mod preview;
mod probe;
pub mod render;
mod truepeak;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::process::Command;

pub use loudness::{Measured, Waveform};
pub use probe::Probe;

use crate::domain::analysis::container_fits;
use crate::domain::finding::Finding;
use crate::domain::{Findings, Qc, QcProfile, Verdict};

/// The demuxers FFmpeg may use on a stored file: media formats only, none
/// that follows references to other files or URLs (playlists, concat lists).
const DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,mp3,wav,w64,flac,ogg,matroska,webm,mpegts,mxf,aac,aiff,avi,\
mpeg,mpegps,ac3,eac3,wv,caf,asf,amr,au,dts,m4v,h264,hevc,mpegvideo,ape,tta,opus";

/// Added to FFmpeg's niceness. Not a setting: analysis always yields to the
/// hub's own work (uploads, downloads), and an operator who wants it slower
/// lowers the workers instead.
pub const FFMPEG_NICENESS: i32 = 10;

/// How the engine runs FFmpeg.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// How long one file's analysis may take, previews included.
    pub timeout: Duration,
    pub profile: QcProfile,
    /// Added to FFmpeg's niceness (0: none).
    pub niceness: i32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            timeout: Duration::from_secs(3600),
            profile: QcProfile::default(),
            niceness: FFMPEG_NICENESS,
        }
    }
}

/// What can stop an analysis other than the file itself (a bad file is a
/// finding, not an error).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("FFmpeg is not installed (ffmpeg and ffprobe are needed to analyse files)")]
    Unavailable,
    #[error("the analysis took longer than {0:?}")]
    Timeout(Duration),
    #[error("running FFmpeg: {0}")]
    Io(#[from] std::io::Error),
    #[error("FFmpeg failed: {0}")]
    Failed(String),
    /// The file cannot be made into what was asked, for a reason the
    /// owner and the taker may read (no paths, no internals); trying again
    /// changes nothing.
    #[error("{0}")]
    Refused(String),
}

/// What an analysis made: the findings, and preview files in the work folder.
#[derive(Debug)]
pub struct Report {
    pub findings: Findings,
    /// Loudness over time and peaks, as JSON, for drawing.
    pub waveform: Option<Vec<u8>>,
    /// The listening or viewing copy, and its media type.
    pub preview: Option<(PathBuf, &'static str)>,
    /// A JPEG frame of a video.
    pub poster: Option<PathBuf>,
}

/// The FFmpeg engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    settings: Arc<EngineSettings>,
    version: Arc<RwLock<Option<String>>>,
}

impl Engine {
    /// An engine over `settings`; FFmpeg counts as missing until
    /// [`Engine::check`] finds it.
    pub fn new(settings: EngineSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            version: Default::default(),
        }
    }

    /// An engine over `settings`, with FFmpeg's version checked.
    pub async fn start(settings: EngineSettings) -> Self {
        let engine = Self::new(settings);
        engine.check().await;
        engine
    }

    /// Asks FFmpeg and FFprobe for their version again (one may have been
    /// installed since); `None` when either is missing.
    pub async fn check(&self) -> Option<String> {
        let ffmpeg = self.version_of(&self.settings.ffmpeg).await;
        let ffprobe = self.version_of(&self.settings.ffprobe).await;
        let found = match (ffmpeg, ffprobe) {
            (Some(v), Some(_)) => Some(v),
            _ => None,
        };
        match &found {
            Some(v) => tracing::info!(version = %v, "FFmpeg found"),
            None => tracing::warn!(
                ffmpeg = %self.settings.ffmpeg.display(),
                "FFmpeg not found: files wait for analysis until it is installed"
            ),
        }
        *self.version.write().unwrap_or_else(|e| e.into_inner()) = found.clone();
        found
    }

    async fn version_of(&self, program: &Path) -> Option<String> {
        let out = Command::new(program)
            .arg("-version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(10), out).await.ok()?.ok()?;
        if !out.status.success() {
            return None;
        }
        // "ffmpeg version 5.1.9-0+deb12u1 Copyright …"
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.lines().next()?.split_whitespace().nth(2)?;
        Some(version.chars().filter(|c| !c.is_control()).take(64).collect())
    }

    /// FFmpeg's version, when it is there.
    pub fn version(&self) -> Option<String> {
        self.version.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// A command for FFmpeg or FFprobe: no stdin, low priority, killed when
    /// dropped.
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.stdin(Stdio::null()).kill_on_drop(true);
        let niceness = self.settings.niceness;
        if niceness != 0 {
            // SAFETY: nice(2) is async-signal-safe and touches no memory of
            // the parent.
            unsafe {
                c.pre_exec(move || {
                    libc::nice(niceness);
                    Ok(())
                });
            }
        }
        c
    }

    /// The options that keep FFmpeg to plain local media files.
    fn input_args(input: &Path) -> Vec<std::ffi::OsString> {
        let mut file = std::ffi::OsString::from("file:");
        file.push(input.as_os_str());
        vec![
            "-protocol_whitelist".into(),
            "file".into(),
            "-format_whitelist".into(),
            DEMUXERS.into(),
            "-i".into(),
            file,
        ]
    }

    /// Probes, measures and makes previews of `input`, whose uploader said it
    /// is `declared_type`; previews are written into `workdir`.
    pub async fn analyze(&self, input: &Path, declared_type: &str, workdir: &Path) -> Result<Report, EngineError> {
        if self.version().is_none() {
            return Err(EngineError::Unavailable);
        }
        let timeout = self.settings.timeout;
        tokio::time::timeout(timeout, self.analyze_now(input, declared_type, workdir))
            .await
            .map_err(|_| EngineError::Timeout(timeout))?
    }

    async fn analyze_now(&self, input: &Path, declared_type: &str, workdir: &Path) -> Result<Report, EngineError> {
        let mut report = Report {
            findings: Findings::default(),
            waveform: None,
            preview: None,
            poster: None,
        };
        let mut qc = Qc::pass();
        let probe = match self.probe(input).await? {
            Some(p) => p,
            None => {
                qc.flag(Verdict::Fail, Finding::NotMedia.text());
                report.findings.qc = Some(qc);
                return Ok(report);
            }
        };
        let f = &mut report.findings;
        f.container = Some(probe.container.clone());
        f.duration_seconds = probe.duration_seconds;
        f.streams = probe.streams.clone();
        if !f.has_audio() && !f.has_video() {
            qc.flag(Verdict::Fail, Finding::NoStreams.text());
            f.qc = Some(qc);
            return Ok(report);
        }
        f.media = true;
        judge_declared_type(declared_type, &probe.container, f.has_video(), &mut qc);

        // Measuring and preview making run side by side (two FFmpegs); a
        // preview of a file that then fails QC is thrown away.
        let audio = probe.streams.iter().find(|s| s.is_audio()).cloned();
        let (has_video, has_audio) = (f.has_video(), f.has_audio());
        let wanted = qc.verdict != Verdict::Fail;
        let measuring = async {
            match &audio {
                Some(a) => {
                    let channels = a.channels.unwrap_or(2).clamp(1, 8);
                    self.measure(input, channels, probe.duration_seconds).await.map(Some)
                }
                None => Ok(None),
            }
        };
        let previewing = async {
            if wanted {
                self.previews(input, has_video, has_audio, probe.duration_seconds, workdir)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let (measured, previews) = tokio::join!(measuring, previewing);
        let (measured, previews) = (measured?, previews?);

        if let Some(measured) = measured {
            report.waveform = Some(self.take_measures(measured, probe.duration_seconds, has_video, f, &mut qc));
        }

        if let Some((preview, poster)) = previews.filter(|_| f.media && qc.verdict != Verdict::Fail) {
            if preview.is_none() {
                qc.flag(Verdict::Warn, Finding::NoPreview.text());
            }
            report.preview = preview;
            report.poster = poster;
        }
        report.findings.qc = Some(qc);
        Ok(report)
    }
}

impl Engine {
    /// The preview (and, of a video, the poster) of `input`, in `workdir`.
    async fn previews(
        &self,
        input: &Path,
        has_video: bool,
        has_audio: bool,
        duration: Option<f64>,
        workdir: &Path,
    ) -> Result<(Option<(PathBuf, &'static str)>, Option<PathBuf>), EngineError> {
        if has_video {
            let poster = workdir.join("poster.jpg");
            let at = duration.map_or(0.0, |d| (d * 0.1).min(10.0));
            let poster = self.poster(input, &poster, at).await?.then_some(poster);
            let out = workdir.join("preview.mp4");
            let made = self.video_preview(input, &out, has_audio).await?;
            Ok((made.then_some((out, "video/mp4")), poster))
        } else {
            let out = workdir.join("preview.m4a");
            Ok((
                self.audio_preview(input, &out).await?.then_some((out, "audio/mp4")),
                None,
            ))
        }
    }
}

/// Holds the figures to the profile.
/// The container or the streams differ from the type the file was sent as.
fn judge_declared_type(declared_type: &str, container: &str, has_video: bool, qc: &mut Qc) {
    if container_fits(declared_type, container) == Some(false) {
        qc.flag(
            Verdict::Fail,
            Finding::SentAs {
                declared: declared_type.to_owned(),
                actual: container.split(',').next().unwrap_or("").to_owned(),
            }
            .text(),
        );
    }
    if declared_type.starts_with("video/") && !has_video {
        qc.flag(
            Verdict::Fail,
            Finding::SentAsVideoWithout {
                declared: declared_type.to_owned(),
            }
            .text(),
        );
    }
}

impl Engine {
    /// What the decoded audio tells: damage and truncation, silence (a file
    /// without decodable audio or video is no media), the duration when the
    /// container did not say it, the loudness; returns the waveform's JSON.
    fn take_measures(
        &self,
        measured: loudness::Measured,
        announced: Option<f64>,
        has_video: bool,
        f: &mut Findings,
        qc: &mut Qc,
    ) -> Vec<u8> {
        let decoded = measured.decoded_seconds;
        let expected = announced.unwrap_or(decoded);
        if !measured.decoded_cleanly {
            qc.flag(Verdict::Fail, Finding::Damaged.text());
        } else if decoded + 1.0 < expected * 0.98 {
            qc.flag(
                Verdict::Fail,
                Finding::Truncated {
                    decoded,
                    announced: expected,
                }
                .text(),
            );
        }
        if decoded == 0.0 && !has_video {
            f.media = false;
        }
        if announced.is_none() && decoded > 0.0 {
            f.duration_seconds = Some(decoded);
        }
        judge_loudness(&self.settings.profile, &measured.loudness, qc);
        f.loudness = Some(measured.loudness);
        measured.waveform.to_json()
    }
}

fn judge_loudness(profile: &QcProfile, l: &crate::domain::Loudness, qc: &mut Qc) {
    match l.integrated_lufs {
        None => qc.flag(Verdict::Warn, Finding::Silent.text()),
        Some(i) if (i - profile.target_lufs).abs() > profile.tolerance_lu => qc.flag(
            Verdict::Warn,
            Finding::Loudness {
                integrated: i,
                target: profile.target_lufs,
                tolerance: profile.tolerance_lu,
            }
            .text(),
        ),
        Some(_) => {}
    }
    if let Some(tp) = l.true_peak_dbtp.filter(|tp| *tp > profile.max_true_peak_dbtp) {
        qc.flag(
            Verdict::Warn,
            Finding::TruePeak {
                peak: tp,
                max: profile.max_true_peak_dbtp,
            }
            .text(),
        );
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Media made by FFmpeg's own generators, for the engine's tests.

    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Whether FFmpeg is here; under `PXHUB_TEST_STRICT` its absence fails.
    pub fn ffmpeg_or_skip() -> bool {
        let ok = Command::new("ffmpeg")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok && std::env::var_os("PXHUB_TEST_STRICT").is_some() {
            panic!("ffmpeg is missing and PXHUB_TEST_STRICT is set (scripts/test.sh installs it)");
        }
        if !ok {
            eprintln!("skipped: ffmpeg is not installed");
        }
        ok
    }

    /// Runs `ffmpeg -v error -y <args…> <out>`.
    pub fn make(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
        let out = dir.join(name);
        let status = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y"])
            .args(args)
            .arg(&out)
            .status()
            .expect("running ffmpeg");
        assert!(status.success(), "ffmpeg {args:?}");
        out
    }
}

#[cfg(test)]
mod tests;
