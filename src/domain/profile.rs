//! Delivery profiles: what a station's playout takes (container, codecs,
//! sample rate, bit depth, channels, a loudness target). A profile parses
//! only into something FFmpeg can make; what it cannot (an unknown codec, a
//! rate the codec cannot take) is refused field by field.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldError;

/// The file a profile makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    /// The master as it was uploaded.
    Keep,
    /// Broadcast WAV (PCM or MPEG-1 Layer II), with `bext` and `cart`.
    Bwf,
    /// MP3, constant bit rate.
    Mp3,
    /// AAC in MPEG-4 audio.
    M4a,
    /// H.264 and AAC in MPEG-4.
    Mp4,
    /// MPEG-2 4:2:2 (XDCAM HD422) and PCM in MXF OP1a.
    Mxf,
}

impl Container {
    pub const ALL: [Container; 6] = [Self::Keep, Self::Bwf, Self::Mp3, Self::M4a, Self::Mp4, Self::Mxf];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Bwf => "bwf",
            Self::Mp3 => "mp3",
            Self::M4a => "m4a",
            Self::Mp4 => "mp4",
            Self::Mxf => "mxf",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the container carries video.
    pub fn is_video(self) -> bool {
        matches!(self, Self::Mp4 | Self::Mxf)
    }

    /// The name of what it makes of a file named `original`: the same
    /// stem with its own extension (`keep`: the name as it is).
    pub fn file_name(self, original: &str) -> String {
        if self == Self::Keep {
            return original.to_owned();
        }
        let stem = original.rsplit_once('.').map_or(original, |(s, _)| s);
        format!("{stem}.{}", self.media_type().1)
    }

    /// The media type and file extension of what it makes.
    pub fn media_type(self) -> (&'static str, &'static str) {
        match self {
            Self::Keep => ("application/octet-stream", ""),
            Self::Bwf => ("audio/wav", "wav"),
            Self::Mp3 => ("audio/mpeg", "mp3"),
            Self::M4a => ("audio/mp4", "m4a"),
            Self::Mp4 => ("video/mp4", "mp4"),
            Self::Mxf => ("application/mxf", "mxf"),
        }
    }
}

/// A loudness target (EBU R128: −23 LUFS, true peak ≤ −1 dBTP).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoudnessTarget {
    /// Integrated loudness, LUFS (−40 to −5).
    #[schema(minimum = -40, maximum = -5)]
    pub target_lufs: f64,
    /// The highest true peak allowed, dBTP (−9 to 0).
    #[schema(minimum = -9, maximum = 0)]
    pub max_true_peak_dbtp: f64,
}

/// A delivery profile, complete (the defaults of its container filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    /// A slug (`bwf-mp2-r128`).
    pub id: String,
    pub name: String,
    pub container: Container,
    /// `pcm`, `mp2`, `mp3` or `aac`; `null` for `keep`.
    pub audio_codec: Option<String>,
    /// `h264` or `mpeg2`; `null` for audio containers and `keep`.
    pub video_codec: Option<String>,
    /// Hz; `null` for `keep`.
    pub sample_rate: Option<u32>,
    /// 16 or 24 for PCM; `null` otherwise.
    pub bit_depth: Option<u8>,
    /// `null` for `keep`.
    pub channels: Option<u8>,
    /// `null`: the loudness is left as it is.
    pub loudness: Option<LoudnessTarget>,
}

/// A profile as the operator asks for it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// A slug (`bwf-mp2-r128`), as a station's id is.
    #[schema(value_type = super::StationId, inline)]
    pub id: String,
    #[schema(value_type = ProfileName, inline)]
    pub name: String,
    /// `keep`, `bwf`, `mp3`, `m4a`, `mp4` or `mxf`.
    #[schema(value_type = Container)]
    pub container: String,
    /// Which of them a container takes, and the rates, depths and channels
    /// each codec takes, the hub says field by field (422).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(pcm|mp2|mp3|aac)$")]
    pub audio_codec: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(h264|mpeg2)$")]
    pub video_codec: Option<String>,
    /// Hz: one of the rates its codec takes.
    #[serde(default)]
    #[schema(minimum = 8000, maximum = 96000)]
    pub sample_rate: Option<u32>,
    /// 16 or 24, for PCM only.
    #[serde(default)]
    #[schema(minimum = 16, maximum = 24)]
    pub bit_depth: Option<u8>,
    /// 1 to 8 (MPEG audio: 1 or 2).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 8)]
    pub channels: Option<u8>,
    #[serde(default)]
    pub loudness: Option<LoudnessTarget>,
}

super::text::text_schema!(
    /// How the profile is shown: 1 to 200 characters.
    ProfileName, 1, 200, super::text::LINE_PATTERN
);

/// The rates MPEG audio (Layer II, Layer III) can take.
const MPEG_RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
/// The rates AAC can take.
const AAC_RATES: [u32; 12] = [
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
];
/// The rates the hub writes PCM at.
const PCM_RATES: [u32; 7] = [16000, 22050, 32000, 44100, 48000, 88200, 96000];

fn list(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

impl ProfileInput {
    /// The profile, or each field FFmpeg could not make.
    pub fn parse(self) -> Result<Profile, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut bad = |f: &str, m: String| errors.push(FieldError::new(f, m));
        if let Err(why) = super::StationId::parse(&self.id) {
            bad("id", why.replace("(e.g. thai-nguyen)", "(e.g. bwf-mp2-r128)"));
        }
        let name = match super::text::tidy(&self.name, false) {
            Ok(n) if (1..=200).contains(&n.chars().count()) => n,
            Ok(_) => {
                bad("name", "must be 1 to 200 characters".into());
                String::new()
            }
            Err(why) => {
                bad("name", why.into());
                String::new()
            }
        };
        let Some(container) = Container::parse(&self.container) else {
            let all: Vec<&str> = Container::ALL.iter().map(|c| c.as_str()).collect();
            bad("container", format!("must be one of {}", all.join(", ")));
            return Err(errors);
        };
        if container == Container::Keep {
            let set = [
                ("audio_codec", self.audio_codec.is_some()),
                ("video_codec", self.video_codec.is_some()),
                ("sample_rate", self.sample_rate.is_some()),
                ("bit_depth", self.bit_depth.is_some()),
                ("channels", self.channels.is_some()),
                ("loudness", self.loudness.is_some()),
            ];
            for (field, _) in set.iter().filter(|(_, s)| *s) {
                bad(field, "must be null: `keep` delivers the master as it is".into());
            }
        }
        let (audio_codecs, video_codecs): (&[&str], &[&str]) = match container {
            Container::Keep => (&[], &[]),
            Container::Bwf => (&["pcm", "mp2"], &[]),
            Container::Mp3 => (&["mp3"], &[]),
            Container::M4a => (&["aac"], &[]),
            Container::Mp4 => (&["aac"], &["h264"]),
            Container::Mxf => (&["pcm"], &["mpeg2"]),
        };
        let audio = match (&self.audio_codec, audio_codecs.first()) {
            (None, first) => first.map(|c| c.to_string()),
            (Some(c), _) if audio_codecs.contains(&c.as_str()) => Some(c.clone()),
            (Some(_), _) if container == Container::Keep => None,
            (Some(_), _) => {
                bad(
                    "audio_codec",
                    format!("{} takes {}", container.as_str(), audio_codecs.join(" or ")),
                );
                None
            }
        };
        let video = match (&self.video_codec, video_codecs.first()) {
            (None, first) => first.map(|c| c.to_string()),
            (Some(c), _) if video_codecs.contains(&c.as_str()) => Some(c.clone()),
            (Some(_), _) if container == Container::Keep => None,
            (Some(_), None) => {
                bad("video_codec", format!("{} carries no video", container.as_str()));
                None
            }
            (Some(_), _) => {
                bad(
                    "video_codec",
                    format!("{} takes {}", container.as_str(), video_codecs.join(" or ")),
                );
                None
            }
        };
        let (rates, max_channels, depth): (&[u32], u8, bool) = match (container, audio.as_deref()) {
            (Container::Keep, _) | (_, None) => (&[], 0, false),
            (Container::Mxf, _) => (&[48000], 8, true),
            (_, Some("pcm")) => (&PCM_RATES, 8, true),
            (_, Some("mp2" | "mp3")) => (&MPEG_RATES, 2, false),
            _ => (&AAC_RATES, 8, false),
        };
        let sample_rate = match self.sample_rate {
            _ if rates.is_empty() => None,
            None => Some(48000),
            Some(r) if rates.contains(&r) => Some(r),
            Some(_) => {
                let codec = audio.as_deref().unwrap_or_default();
                bad(
                    "sample_rate",
                    format!("{codec} in {} takes {} Hz", container.as_str(), list(rates)),
                );
                None
            }
        };
        let bit_depth = match self.bit_depth {
            _ if rates.is_empty() => None,
            None if depth => Some(24),
            Some(d @ (16 | 24)) if depth => Some(d),
            Some(_) if depth => {
                bad("bit_depth", "PCM is written at 16 or 24 bits".into());
                None
            }
            None => None,
            Some(_) => {
                bad("bit_depth", "only PCM has a bit depth; leave it null".into());
                None
            }
        };
        let channels = match self.channels {
            _ if rates.is_empty() => None,
            None => Some(2),
            Some(n) if (1..=max_channels).contains(&n) => Some(n),
            Some(_) => {
                let codec = audio.as_deref().unwrap_or_default();
                bad("channels", format!("{codec} takes 1 to {max_channels} channels"));
                None
            }
        };
        if let Some(l) = &self.loudness {
            if !(-40.0..=-5.0).contains(&l.target_lufs) {
                bad("loudness.target_lufs", "must be from -40 to -5 LUFS".into());
            }
            if !(-9.0..=0.0).contains(&l.max_true_peak_dbtp) {
                bad("loudness.max_true_peak_dbtp", "must be from -9 to 0 dBTP".into());
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Profile {
            id: self.id,
            name,
            container,
            audio_codec: audio,
            video_codec: video,
            sample_rate,
            bit_depth,
            channels,
            loudness: self.loudness,
        })
    }
}

impl Profile {
    /// A short hex digest of what the profile makes (not its name): the
    /// name of its renditions' objects, so that a profile removed and made
    /// again differently never serves the old one's files.
    pub fn fingerprint(&self) -> String {
        let made = serde_json::json!([
            self.container.as_str(),
            self.audio_codec,
            self.video_codec,
            self.sample_rate,
            self.bit_depth,
            self.channels,
            self.loudness.map(|l| [l.target_lufs, l.max_true_peak_dbtp]),
        ]);
        let digest = super::Sha256::of(made.to_string().as_bytes());
        digest.hex()[..16].to_owned()
    }
}

/// A cut ID (`4501`): 1 to 12 digits, as playout systems number their cuts.
pub fn parse_cut_id(s: &str) -> Result<String, String> {
    if (1..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("must be 1 to 12 digits (e.g. 4501)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(container: &str) -> ProfileInput {
        ProfileInput {
            id: "house".into(),
            name: "House".into(),
            container: container.into(),
            ..Default::default()
        }
    }

    fn fields(r: Result<Profile, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_container_fills_its_defaults() {
        let p = input("bwf").parse().unwrap();
        assert_eq!(
            (p.audio_codec.as_deref(), p.sample_rate, p.bit_depth, p.channels),
            (Some("pcm"), Some(48000), Some(24), Some(2))
        );
        let p = input("mxf").parse().unwrap();
        assert_eq!(
            (p.video_codec.as_deref(), p.audio_codec.as_deref()),
            (Some("mpeg2"), Some("pcm"))
        );
        let p = input("keep").parse().unwrap();
        assert_eq!((p.audio_codec, p.sample_rate, p.channels), (None, None, None));
    }

    #[test]
    fn what_ffmpeg_cannot_make_is_refused_by_field() {
        let mut i = input("bwf");
        i.audio_codec = Some("opus".into());
        assert_eq!(fields(i.parse()), ["audio_codec"]);
        let mut i = input("bwf");
        i.audio_codec = Some("mp2".into());
        i.sample_rate = Some(96000);
        i.bit_depth = Some(24);
        assert_eq!(fields(i.parse()), ["sample_rate", "bit_depth"]);
        let mut i = input("mp3");
        i.channels = Some(6);
        i.video_codec = Some("h264".into());
        assert_eq!(fields(i.parse()), ["video_codec", "channels"]);
        let mut i = input("mxf");
        i.sample_rate = Some(44100);
        assert_eq!(fields(i.parse()), ["sample_rate"]);
        let mut i = input("keep");
        i.loudness = Some(LoudnessTarget {
            target_lufs: -23.0,
            max_true_peak_dbtp: -1.0,
        });
        assert_eq!(fields(i.parse()), ["loudness"]);
        let mut i = input("flac");
        i.id = "Not A Slug".into();
        assert_eq!(fields(i.parse()), ["id", "container"]);
        let mut i = input("m4a");
        i.loudness = Some(LoudnessTarget {
            target_lufs: 3.0,
            max_true_peak_dbtp: 2.0,
        });
        assert_eq!(
            fields(i.parse()),
            ["loudness.target_lufs", "loudness.max_true_peak_dbtp"]
        );
    }

    #[test]
    fn the_fingerprint_follows_what_is_made_not_the_name() {
        let a = input("bwf").parse().unwrap();
        let mut b = a.clone();
        b.name = "Other".into();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.bit_depth = Some(16);
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn cut_ids_are_digits() {
        assert!(parse_cut_id("4501").is_ok());
        for bad in ["", "45a1", "1234567890123", "-1", "٤٥"] {
            assert!(parse_cut_id(bad).is_err(), "{bad}");
        }
    }
}
