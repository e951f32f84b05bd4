//! What the hub learns by looking inside a file: technical metadata, loudness
//! (EBU R128) and the quality-control verdict those figures give.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a file's analysis stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisState {
    /// Waiting for a worker (or for FFmpeg: `error` then says why).
    Pending,
    Running,
    Done,
    /// Given up after several attempts; `error` says why.
    Failed,
}

impl AnalysisState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Running, Self::Done, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One stream of a file, as the probe found it. Absent figures are omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamInfo {
    /// `audio`, `video`, `subtitle`, `data` or `attachment`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Bits per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Frames per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    /// `progressive`, `tff`, `bff`… as the probe reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_type: Option<String>,
    /// A still picture attached to an audio file (cover art), not video.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attached_picture: bool,
}

impl StreamInfo {
    pub fn is_audio(&self) -> bool {
        self.kind == "audio"
    }

    /// Moving pictures (cover art does not count).
    pub fn is_video(&self) -> bool {
        self.kind == "video" && !self.attached_picture
    }
}

/// EBU R128 / ITU-R BS.1770 figures of the first audio stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Loudness {
    /// Integrated loudness, LUFS; `null` for silence.
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub range_lu: Option<f64>,
    /// Highest true peak over all channels, dBTP; `null` for silence.
    pub true_peak_dbtp: Option<f64>,
}

/// The quality-control verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Qc {
    pub verdict: Verdict,
    /// Why, in words; empty on `pass`.
    pub reasons: Vec<String>,
}

impl Qc {
    pub fn pass() -> Self {
        Self {
            verdict: Verdict::Pass,
            reasons: Vec::new(),
        }
    }

    /// Adds a reason, raising the verdict to at least `level`.
    pub fn flag(&mut self, level: Verdict, reason: impl Into<String>) {
        self.verdict = self.verdict.max(level);
        self.reasons.push(reason.into());
    }
}

/// Which of a file's previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewKind {
    /// The listening or viewing copy.
    Media,
    /// A JPEG frame of a video.
    Poster,
    /// Loudness over time and peaks, as JSON.
    Waveform,
}

/// What QC holds loudness to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QcProfile {
    pub target_lufs: f64,
    pub tolerance_lu: f64,
    pub max_true_peak_dbtp: f64,
}

impl Default for QcProfile {
    /// EBU R128: −23 LUFS ±1 LU, true peak at most −1 dBTP.
    fn default() -> Self {
        Self {
            target_lufs: -23.0,
            tolerance_lu: 1.0,
            max_true_peak_dbtp: -1.0,
        }
    }
}

/// What the analysis of some content found: the same for every file with
/// those bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Findings {
    /// Whether the file holds audio or video the hub could decode.
    pub media: bool,
    pub container: Option<String>,
    pub duration_seconds: Option<f64>,
    pub streams: Vec<StreamInfo>,
    pub loudness: Option<Loudness>,
    pub qc: Option<Qc>,
}

impl Findings {
    pub fn has_video(&self) -> bool {
        self.streams.iter().any(StreamInfo::is_video)
    }

    pub fn has_audio(&self) -> bool {
        self.streams.iter().any(StreamInfo::is_audio)
    }
}

/// A file's analysis as the program shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FileAnalysis {
    pub state: AnalysisState,
    /// Why it is waiting or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The container format(s) the probe names, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Measured duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loudness: Option<Loudness>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qc: Option<Qc>,
}

/// How far a declared duration may stray from the measured one.
pub const DURATION_SLACK_SECONDS: f64 = 5.0;

impl FileAnalysis {
    pub fn new(state: AnalysisState, error: Option<String>, findings: Option<Findings>) -> Self {
        let f = findings.unwrap_or_default();
        Self {
            state,
            error,
            container: f.container,
            duration_seconds: f.duration_seconds,
            streams: f.streams,
            loudness: f.loudness,
            qc: f.qc,
        }
    }

    /// Flags a master whose measured duration differs from the program's
    /// declared one by more than [`DURATION_SLACK_SECONDS`].
    pub fn check_declared_duration(&mut self, declared: Option<u32>) {
        let (Some(declared), Some(measured), Some(qc)) = (declared, self.duration_seconds, self.qc.as_mut()) else {
            return;
        };
        if (measured - f64::from(declared)).abs() > DURATION_SLACK_SECONDS {
            qc.flag(
                Verdict::Warn,
                super::finding::Finding::Duration { declared, measured }.text(),
            );
        }
    }
}

/// Whether the container the probe found fits the declared media type; `None`
/// when the hub has no opinion about that type.
pub fn container_fits(media_type: &str, container: &str) -> Option<bool> {
    let names: Vec<&str> = container.split(',').collect();
    let any = |want: &[&str]| names.iter().any(|n| want.contains(n));
    Some(match media_type {
        "audio/mpeg" | "audio/mp3" => any(&["mp3"]),
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => any(&["wav", "w64"]),
        "audio/flac" | "audio/x-flac" => any(&["flac"]),
        "audio/ogg" | "video/ogg" => any(&["ogg"]),
        "audio/mp4" | "video/mp4" | "video/quicktime" | "audio/x-m4a" => any(&["mov", "mp4", "m4a"]),
        "video/x-matroska" | "audio/x-matroska" | "video/webm" | "audio/webm" => any(&["matroska", "webm"]),
        "video/mp2t" => any(&["mpegts"]),
        "application/mxf" => any(&["mxf"]),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_only_rise() {
        let mut qc = Qc::pass();
        qc.flag(Verdict::Fail, "a");
        qc.flag(Verdict::Warn, "b");
        assert_eq!(qc.verdict, Verdict::Fail);
        assert_eq!(qc.reasons, ["a", "b"]);
    }

    #[test]
    fn containers_fit_their_types() {
        assert_eq!(container_fits("audio/mpeg", "mp3"), Some(true));
        assert_eq!(container_fits("audio/mpeg", "wav"), Some(false));
        assert_eq!(container_fits("video/mp4", "mov,mp4,m4a,3gp,3g2,mj2"), Some(true));
        assert_eq!(container_fits("video/x-matroska", "matroska,webm"), Some(true));
        assert_eq!(container_fits("application/x-unknown", "mp3"), None);
    }

    #[test]
    fn a_declared_duration_far_off_is_flagged() {
        let findings = Findings {
            media: true,
            duration_seconds: Some(600.0),
            qc: Some(Qc::pass()),
            ..Default::default()
        };
        let mut a = FileAnalysis::new(AnalysisState::Done, None, Some(findings));
        let mut near = a.clone();
        near.check_declared_duration(Some(603));
        assert_eq!(near.qc.as_ref().unwrap().verdict, Verdict::Pass);
        a.check_declared_duration(Some(900));
        let qc = a.qc.unwrap();
        assert_eq!(qc.verdict, Verdict::Warn);
        assert!(qc.reasons[0].contains("900"), "{:?}", qc.reasons);
    }
}
