//! Loudness (EBU R128 / ITU-R BS.1770): FFmpeg decodes the first audio
//! stream to 48 kHz 32-bit float samples on a pipe, read as a stream (constant
//! memory however long the file), and the `ebur128` crate measures them.
//! FFmpeg's own true-peak reading is not used: it is off by about half a dB.

use std::path::Path;
use std::process::Stdio;

use ebur128::{Channel, EbuR128, Mode};
use serde::Serialize;
use tokio::io::AsyncReadExt;

use super::truepeak::TruePeak;
use super::{Engine, EngineError};
use crate::domain::Loudness;

const RATE: u32 = 48_000;
/// At most this many points in a waveform, however long the file.
const MAX_POINTS: f64 = 1000.0;
/// A point covers at least 0.1 s.
const MIN_BUCKET_FRAMES: usize = 4800;

/// Loudness over time and sample peaks, for drawing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waveform {
    /// Seconds each point covers.
    pub seconds_per_point: f64,
    /// Highest absolute sample value (0…1) in each point's span.
    pub peaks: Vec<f32>,
    /// Momentary loudness (400 ms window) at the end of each span, LUFS;
    /// `null` in silence.
    pub loudness: Vec<Option<f64>>,
}

impl Waveform {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What decoding and measuring found.
#[derive(Debug, Clone)]
pub struct Measured {
    pub loudness: Loudness,
    pub waveform: Waveform,
    /// Seconds of audio decoded.
    pub decoded_seconds: f64,
    /// Whether FFmpeg decoded to the end without complaint.
    pub decoded_cleanly: bool,
}

/// The BS.1770 channel weights for `n` channels in FFmpeg's default order.
fn channel_map(n: u32) -> Vec<Channel> {
    use Channel::*;
    match n {
        // A mono programme is heard on both loudspeakers: counted twice.
        1 => vec![DualMono],
        2 => vec![Left, Right],
        3 => vec![Left, Right, Center],
        // 5.1: FL FR FC LFE BL/SL BR/SR; the LFE does not count.
        6 => vec![Left, Right, Center, Unused, LeftSurround, RightSurround],
        n => (0..n)
            .map(|i| match i {
                0 => Left,
                1 => Right,
                2 => Center,
                _ => Unused,
            })
            .collect(),
    }
}

/// Rounds to a hundredth (of a dB or LU); infinities (silence) become `None`.
fn tenth(v: Result<f64, ebur128::Error>) -> Option<f64> {
    v.ok().filter(|x| x.is_finite()).map(|x| (x * 100.0).round() / 100.0)
}

/// The meter and the waveform, fed whole frames.
pub(super) struct Meter {
    ebu: EbuR128,
    /// The true peak, measured apart (see `truepeak`): the crate's own
    /// oversamples every sample, which cost more than decoding.
    true_peak: TruePeak,
    channels: usize,
    bucket_frames: usize,
    in_bucket: usize,
    peak: f32,
    frames: u64,
    waveform: Waveform,
}

impl Meter {
    pub(super) fn new(channels: u32, expected_seconds: Option<f64>) -> Result<Self, ebur128::Error> {
        let mut ebu = EbuR128::new(channels, RATE, Mode::I | Mode::LRA | Mode::SAMPLE_PEAK)?;
        ebu.set_channel_map(&channel_map(channels))?;
        let expected_frames = expected_seconds.unwrap_or(0.0) * f64::from(RATE);
        let bucket_frames = ((expected_frames / MAX_POINTS).ceil() as usize).max(MIN_BUCKET_FRAMES);
        Ok(Self {
            ebu,
            true_peak: TruePeak::new(channels as usize),
            channels: channels as usize,
            bucket_frames,
            in_bucket: 0,
            peak: 0.0,
            frames: 0,
            waveform: Waveform {
                seconds_per_point: bucket_frames as f64 / f64::from(RATE),
                peaks: Vec::new(),
                loudness: Vec::new(),
            },
        })
    }

    /// Adds interleaved samples (a whole number of frames).
    pub(super) fn add(&mut self, mut samples: &[f32]) -> Result<(), ebur128::Error> {
        self.true_peak.add(samples);
        while !samples.is_empty() {
            let frames = (samples.len() / self.channels).min(self.bucket_frames - self.in_bucket);
            let (now, rest) = samples.split_at(frames * self.channels);
            self.ebu.add_frames_f32(now)?;
            for c in 0..self.channels as u32 {
                self.peak = self.peak.max(self.ebu.prev_sample_peak(c)? as f32);
            }
            self.in_bucket += frames;
            self.frames += frames as u64;
            if self.in_bucket == self.bucket_frames {
                self.close_bucket();
            }
            samples = rest;
        }
        Ok(())
    }

    fn close_bucket(&mut self) {
        self.waveform.peaks.push((self.peak * 1000.0).round() / 1000.0);
        self.waveform.loudness.push(tenth(self.ebu.loudness_momentary()));
        self.peak = 0.0;
        self.in_bucket = 0;
    }

    pub(super) fn finish(mut self) -> (Loudness, Waveform, f64) {
        if self.in_bucket > 0 {
            self.close_bucket();
        }
        let peak = f64::from(self.true_peak.peak());
        let true_peak = (peak > 0.0).then(|| ((20.0 * peak.log10()) * 100.0).round() / 100.0);
        let loudness = Loudness {
            integrated_lufs: tenth(self.ebu.loudness_global()),
            range_lu: tenth(self.ebu.loudness_range()),
            true_peak_dbtp: true_peak,
        };
        (loudness, self.waveform, self.frames as f64 / f64::from(RATE))
    }
}

/// The first `keep` bytes of `from`, read to its end.
pub(super) async fn first_bytes(mut from: tokio::process::ChildStderr, keep: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if kept.len() < keep {
            kept.extend_from_slice(&buf[..n.min(keep - kept.len())]);
        }
    }
    kept
}

/// Feeds `meter` the little-endian f32 frames (`frame_bytes` each) read from
/// `pipe` to its end, in blocking reads of up to 1 MiB.
fn meter_pipe(mut pipe: std::fs::File, mut meter: Meter, frame_bytes: usize) -> Result<Meter, EngineError> {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0;
    let mut samples: Vec<f32> = Vec::with_capacity(buf.len() / 4);
    loop {
        let n = match pipe.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        filled += n;
        let whole = filled - filled % frame_bytes;
        samples.clear();
        samples.extend(
            buf[..whole]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        meter.add(&samples).map_err(|e| EngineError::Failed(e.to_string()))?;
        buf.copy_within(whole..filled, 0);
        filled -= whole;
    }
    Ok(meter)
}

impl Engine {
    /// Decodes the first audio stream of `input` (with `channels` channels)
    /// and measures it.
    pub async fn measure(
        &self,
        input: &Path,
        channels: u32,
        expected_seconds: Option<f64>,
    ) -> Result<Measured, EngineError> {
        let mut cmd = self.command(&self.settings.ffmpeg);
        cmd.args(["-nostdin", "-hide_banner", "-v", "error"])
            .args(Self::input_args(input))
            .args(Self::decode_args(channels))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.measure_child(cmd.spawn()?, channels, expected_seconds).await
    }

    /// What FFmpeg is told after its input to decode for the meter.
    pub(super) fn decode_args(channels: u32) -> Vec<String> {
        let mut a: Vec<String> = ["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac"].map(Into::into).to_vec();
        a.push(channels.to_string());
        a.extend(["-ar", "48000", "-c:a", "pcm_f32le", "-f", "f32le", "pipe:1"].map(Into::into));
        a
    }

    /// Measures what `child` (an FFmpeg started with [`Engine::decode_args`],
    /// its stdout and stderr piped) decodes.
    pub(super) async fn measure_child(
        &self,
        mut child: tokio::process::Child,
        channels: u32,
        expected_seconds: Option<f64>,
    ) -> Result<Measured, EngineError> {
        let meter = Meter::new(channels, expected_seconds).map_err(|e| EngineError::Failed(e.to_string()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| EngineError::Failed("no stdout".into()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| EngineError::Failed("no stderr".into()))?;
        // Read what FFmpeg complains about alongside, keeping only the start.
        let complaints = tokio::spawn(first_bytes(stderr, 4096));

        // One thread of its own reads the pipe and measures (blocking
        // reads: no wake-ups between a reader and the meter, and the
        // server's async threads never wait on the measurement); FFmpeg
        // decodes in its own process meanwhile, into a 1 MiB pipe.
        let pipe = std::fs::File::from(stdout.into_owned_fd()?);
        {
            use std::os::fd::AsRawFd;
            // SAFETY: F_SETPIPE_SZ only resizes the pipe behind a descriptor
            // this function owns; a refusal changes nothing.
            unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        }
        let frame_bytes = channels as usize * 4;
        let metering = tokio::task::spawn_blocking(move || meter_pipe(pipe, meter, frame_bytes));
        // (If the meter stops early, the pipe closes and FFmpeg ends.)
        let meter = metering.await.map_err(|e| EngineError::Failed(e.to_string()))??;
        let status = child.wait().await?;
        let complaints = complaints.await.unwrap_or_default();
        if !complaints.is_empty() {
            tracing::info!(stderr = %String::from_utf8_lossy(&complaints), "ffmpeg complained while decoding");
        }
        let (loudness, waveform, decoded_seconds) = meter.finish();
        Ok(Measured {
            loudness,
            waveform,
            decoded_seconds,
            decoded_cleanly: status.success() && complaints.is_empty(),
        })
    }
}
