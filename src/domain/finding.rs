//! What a file's quality check found, as a value: the analysis writes each
//! finding's English sentence into `qc.reasons` (the API's words), and the
//! pages read the sentence back as a finding, to say it in their own
//! language with their own number format. [`Finding::parse`] is the exact
//! inverse of [`Finding::text`] (a test walks every kind).

/// One finding of the quality check.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// FFmpeg cannot read the file as media.
    NotMedia,
    /// The file holds no audio or video stream.
    NoStreams,
    NoPreview,
    /// Sent as one media type, found to be another container.
    SentAs {
        declared: String,
        actual: String,
    },
    /// Sent as video, holds none.
    SentAsVideoWithout {
        declared: String,
    },
    Damaged,
    /// Seconds decoded, seconds announced.
    Truncated {
        decoded: f64,
        announced: f64,
    },
    Silent,
    /// Integrated loudness (LUFS), the target (LUFS) and tolerance (LU).
    Loudness {
        integrated: f64,
        target: f64,
        tolerance: f64,
    },
    /// True peak (dBTP) above the most allowed (dBTP).
    TruePeak {
        peak: f64,
        max: f64,
    },
    /// The program's declared seconds, the master's measured seconds.
    Duration {
        declared: u32,
        measured: f64,
    },
}

const NOT_MEDIA: &str = "the file is not audio or video the hub can read";
const NO_STREAMS: &str = "the file holds no audio or video";
const NO_PREVIEW: &str = "no preview could be made of the file";
const DAMAGED: &str = "the audio cannot be decoded to its end: the file is damaged or truncated";
const SILENT: &str = "the audio is silent";

impl Finding {
    /// The finding in the API's (English) words, as `qc.reasons` keeps it.
    pub fn text(&self) -> String {
        match self {
            Self::NotMedia => NOT_MEDIA.to_owned(),
            Self::NoStreams => NO_STREAMS.to_owned(),
            Self::NoPreview => NO_PREVIEW.to_owned(),
            Self::SentAs { declared, actual } => format!("the file was sent as {declared}, but it is {actual}"),
            Self::SentAsVideoWithout { declared } => format!("the file was sent as {declared}, but it holds no video"),
            Self::Damaged => DAMAGED.to_owned(),
            Self::Truncated { decoded, announced } => {
                format!("the file is truncated: {decoded:.1} s of audio where it announces {announced:.1} s")
            }
            Self::Silent => SILENT.to_owned(),
            Self::Loudness {
                integrated,
                target,
                tolerance,
            } => format!("integrated loudness {integrated:.1} LUFS is outside {target:.1} ±{tolerance:.1} LU"),
            Self::TruePeak { peak, max } => format!("true peak {peak:.1} dBTP is above {max:.1} dBTP"),
            Self::Duration { declared, measured } => {
                format!("the program says it lasts {declared} s, the master lasts {measured:.1} s")
            }
        }
    }

    /// The finding a reason of [`Finding::text`] says; `None` for any other
    /// text (one written by an older hub in other words).
    pub fn parse(s: &str) -> Option<Self> {
        let num = |t: &str| t.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        Some(match s {
            NOT_MEDIA => Self::NotMedia,
            NO_STREAMS => Self::NoStreams,
            NO_PREVIEW => Self::NoPreview,
            DAMAGED => Self::Damaged,
            SILENT => Self::Silent,
            _ => {
                if let Some(rest) = s.strip_prefix("the file was sent as ") {
                    if let Some(declared) = rest.strip_suffix(", but it holds no video") {
                        return Some(Self::SentAsVideoWithout {
                            declared: declared.to_owned(),
                        });
                    }
                    let (declared, actual) = rest.split_once(", but it is ")?;
                    return Some(Self::SentAs {
                        declared: declared.to_owned(),
                        actual: actual.to_owned(),
                    });
                }
                if let Some(rest) = s.strip_prefix("the file is truncated: ") {
                    let (decoded, rest) = rest.split_once(" s of audio where it announces ")?;
                    let announced = rest.strip_suffix(" s")?;
                    return Some(Self::Truncated {
                        decoded: num(decoded)?,
                        announced: num(announced)?,
                    });
                }
                if let Some(rest) = s.strip_prefix("integrated loudness ") {
                    let (integrated, rest) = rest.split_once(" LUFS is outside ")?;
                    let (target, tolerance) = rest.strip_suffix(" LU")?.split_once(" ±")?;
                    return Some(Self::Loudness {
                        integrated: num(integrated)?,
                        target: num(target)?,
                        tolerance: num(tolerance)?,
                    });
                }
                if let Some(rest) = s.strip_prefix("true peak ") {
                    let (peak, max) = rest.split_once(" dBTP is above ")?;
                    return Some(Self::TruePeak {
                        peak: num(peak)?,
                        max: num(max.strip_suffix(" dBTP")?)?,
                    });
                }
                let rest = s.strip_prefix("the program says it lasts ")?;
                let (declared, measured) = rest.split_once(" s, the master lasts ")?;
                Self::Duration {
                    declared: declared.trim().parse().ok()?,
                    measured: num(measured.strip_suffix(" s")?)?,
                }
            }
        })
    }

    /// One of each kind, with figures as the analysis writes them (one
    /// decimal): for the tests that say each one in words.
    pub fn examples() -> Vec<Self> {
        vec![
            Self::NotMedia,
            Self::NoStreams,
            Self::NoPreview,
            Self::SentAs {
                declared: "audio/mpeg".into(),
                actual: "wav".into(),
            },
            Self::SentAsVideoWithout {
                declared: "video/mp4".into(),
            },
            Self::Damaged,
            Self::Truncated {
                decoded: 6.0,
                announced: 600.5,
            },
            Self::Silent,
            Self::Loudness {
                integrated: -19.2,
                target: -23.0,
                tolerance: 1.0,
            },
            Self::TruePeak { peak: 0.3, max: -1.0 },
            Self::Duration {
                declared: 600,
                measured: 6.1,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finding_reads_back_from_its_text() {
        for f in Finding::examples() {
            assert_eq!(Finding::parse(&f.text()), Some(f.clone()), "{}", f.text());
        }
        assert_eq!(
            Finding::examples()[8].text(),
            "integrated loudness -19.2 LUFS is outside -23.0 ±1.0 LU"
        );
        assert_eq!(Finding::parse("something an older hub wrote"), None);
        assert_eq!(Finding::parse("true peak x dBTP is above 1.0 dBTP"), None);
    }
}
