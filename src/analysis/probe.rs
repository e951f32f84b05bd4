//! `ffprobe`: container, duration and streams.

use std::path::Path;
use std::process::Stdio;

use serde::Deserialize;

use super::{Engine, EngineError};
use crate::domain::StreamInfo;

/// What the probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// FFmpeg's demuxer name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    pub duration_seconds: Option<f64>,
    pub streams: Vec<StreamInfo>,
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    format: Option<Format>,
    #[serde(default)]
    streams: Vec<Stream>,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    bit_rate: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    channel_layout: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    field_order: Option<String>,
    #[serde(default)]
    disposition: Option<Disposition>,
}

#[derive(Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

/// `"30000/1001"` → 29.97; `"0/0"` → `None`.
fn rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then(|| (n / d * 1000.0).round() / 1000.0)
}

/// Parses ffprobe's JSON; `None` when it found no format.
pub(super) fn parse(json: &[u8]) -> Option<Probe> {
    let out: Output = serde_json::from_slice(json).ok()?;
    let format = out.format?;
    let streams = out
        .streams
        .into_iter()
        .map(|s| {
            let kind = s.codec_type.unwrap_or_else(|| "data".into());
            let video = kind == "video";
            StreamInfo {
                codec: s.codec_name,
                bit_rate: s.bit_rate.and_then(|b| b.parse().ok()),
                sample_rate: s.sample_rate.and_then(|r| r.parse().ok()),
                channels: s.channels.filter(|c| *c > 0),
                channel_layout: s.channel_layout.filter(|l| !l.is_empty()),
                width: s.width.filter(|_| video),
                height: s.height.filter(|_| video),
                frame_rate: video
                    .then(|| s.avg_frame_rate.as_deref().and_then(rate))
                    .flatten()
                    .or_else(|| video.then(|| s.r_frame_rate.as_deref().and_then(rate)).flatten()),
                scan_type: s.field_order.filter(|o| video && o != "unknown"),
                attached_picture: s.disposition.is_some_and(|d| d.attached_pic == 1),
                kind,
            }
        })
        .collect();
    Some(Probe {
        container: format.format_name?,
        duration_seconds: format
            .duration
            .and_then(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| (d * 1000.0).round() / 1000.0),
        streams,
    })
}

impl Engine {
    /// Probes `input`; `None` when FFmpeg cannot read it as media.
    pub async fn probe(&self, input: &Path) -> Result<Option<Probe>, EngineError> {
        let mut cmd = self.command(&self.settings.ffprobe);
        cmd.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
            .args(Self::input_args(input))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = cmd.output().await?;
        if !out.status.success() {
            tracing::info!(
                stderr = %String::from_utf8_lossy(&out.stderr[..out.stderr.len().min(2000)]),
                "ffprobe could not read a file"
            );
            return Ok(None);
        }
        Ok(parse(&out.stdout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ffprobe_json() {
        let json = br#"{"streams":[
            {"codec_type":"video","codec_name":"h264","width":640,"height":360,"avg_frame_rate":"25/1","field_order":"progressive","bit_rate":"100000"},
            {"codec_type":"audio","codec_name":"aac","sample_rate":"48000","channels":2,"channel_layout":"stereo","bit_rate":"64000"},
            {"codec_type":"video","codec_name":"mjpeg","width":1,"height":1,"avg_frame_rate":"0/0","disposition":{"attached_pic":1}}],
            "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"10.023000"}}"#;
        let p = parse(json).unwrap();
        assert_eq!(p.container, "mov,mp4,m4a,3gp,3g2,mj2");
        assert_eq!(p.duration_seconds, Some(10.023));
        assert_eq!(p.streams[0].frame_rate, Some(25.0));
        assert_eq!(p.streams[0].scan_type.as_deref(), Some("progressive"));
        assert!(p.streams[0].is_video());
        assert_eq!(p.streams[1].sample_rate, Some(48000));
        assert_eq!(p.streams[1].channels, Some(2));
        assert_eq!(p.streams[1].width, None);
        assert!(!p.streams[2].is_video());
        assert_eq!(rate("30000/1001"), Some(29.97));
        assert!(parse(b"{}").is_none());
        assert!(parse(b"not json").is_none());
    }
}
