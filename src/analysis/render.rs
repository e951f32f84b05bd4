//! Renditions: the master made over to a delivery profile by FFmpeg, its
//! loudness corrected from the analysis's measurement (a plain gain where
//! the true peak allows it, else FFmpeg's two-pass `loudnorm` fed the
//! measured values), then measured again by the hub's own meter: a
//! rendition that misses its target fails, saying why.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{Engine, EngineError};
use crate::domain::profile::{Container, LoudnessTarget, Profile};
use crate::domain::{Findings, Loudness, Verdict};

/// How far the rendition's integrated loudness may land from the target.
pub const TOLERANCE_LU: f64 = 0.5;

/// What a rendition made: the file in the work folder and its measurement.
#[derive(Debug)]
pub struct Rendered {
    pub path: PathBuf,
    pub loudness: Option<Loudness>,
    /// Seconds of audio the hub's meter decoded of it.
    pub seconds: f64,
}

/// How the loudness is brought to the target.
#[derive(Debug, Clone, PartialEq)]
pub enum Correction {
    None,
    /// A plain gain, dB.
    Gain(f64),
    /// FFmpeg's `loudnorm` (linear where it can) with the values its first
    /// pass measured.
    Loudnorm(String),
}

/// The headroom a lossy encoder is given under the true-peak ceiling: its
/// decoded peaks overshoot the samples it was fed.
fn headroom(profile: &Profile) -> f64 {
    match profile.audio_codec.as_deref() {
        Some("pcm") | None => 0.1,
        _ => 0.6,
    }
}

/// Whether the master can be made into `profile`, from its analysis.
pub fn refuse(profile: &Profile, findings: Option<&Findings>) -> Option<String> {
    let Some(f) = findings.filter(|f| f.media) else {
        return Some("FFmpeg cannot decode the master: it holds no audio or video the hub can read".into());
    };
    if let Some(qc) = f.qc.as_ref().filter(|q| q.verdict == Verdict::Fail) {
        let why = qc.reasons.first().cloned().unwrap_or_default();
        return Some(format!("the master failed its analysis: {why}"));
    }
    if !f.has_audio() {
        return Some("the master has no audio".into());
    }
    if profile.container.is_video() && !f.has_video() {
        return Some(format!(
            "the master has no video to make {} of",
            profile.container.as_str()
        ));
    }
    if profile.loudness.is_some() && f.loudness.as_ref().and_then(|l| l.integrated_lufs).is_none() {
        return Some("the master is silent: its loudness cannot be brought to a target".into());
    }
    None
}

/// The output options of `profile` (after the input and filters; the
/// output's name follows).
pub fn output_args(p: &Profile) -> Vec<String> {
    let rate = p.sample_rate.unwrap_or(48000).to_string();
    let channels = p.channels.unwrap_or(2);
    let lossy = |stereo: &str, mono: &str| if channels == 1 { mono } else { stereo }.to_owned();
    let pcm = if p.bit_depth == Some(16) {
        "pcm_s16le"
    } else {
        "pcm_s24le"
    };
    let mut a: Vec<String> = vec!["-ar".into(), rate, "-ac".into(), channels.to_string()];
    let mut add = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    match (p.container, p.audio_codec.as_deref()) {
        (Container::Bwf, Some("mp2")) => {
            add(&["-c:a", "mp2", "-b:a", &lossy("256k", "128k"), "-f", "wav"]);
        }
        (Container::Bwf, _) => add(&["-c:a", pcm, "-f", "wav"]),
        (Container::Mp3, _) => add(&["-c:a", "libmp3lame", "-b:a", &lossy("192k", "96k"), "-f", "mp3"]),
        (Container::M4a, _) => add(&[
            "-c:a",
            "aac",
            "-b:a",
            &lossy("192k", "96k"),
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ]),
        (Container::Mp4, _) => add(&[
            "-c:v",
            "libx264",
            "-preset",
            "medium",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            &lossy("192k", "96k"),
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ]),
        // XDCAM HD422: 1080i25, MPEG-2 4:2:2 at 50 Mbit/s constant, long GOP
        // of 12, top field first; PCM audio, in MXF OP1a.
        (Container::Mxf, _) => add(&[
            "-vf",
            "scale=1920:1080,fps=25,format=yuv422p",
            "-c:v",
            "mpeg2video",
            "-pix_fmt",
            "yuv422p",
            "-b:v",
            "50M",
            "-minrate",
            "50M",
            "-maxrate",
            "50M",
            "-bufsize",
            "17825792",
            "-rc_init_occupancy",
            "17825792",
            "-g",
            "12",
            "-bf",
            "2",
            "-flags",
            "+ildct+ilme",
            "-top",
            "1",
            "-dc",
            "10",
            "-intra_vlc",
            "1",
            "-non_linear_quant",
            "1",
            "-qmin",
            "1",
            "-qmax",
            "12",
            "-c:a",
            pcm,
            "-f",
            "mxf",
        ]),
        (Container::Keep, _) => {}
    }
    a
}

/// FFmpeg's name of the usual layout of `n` channels.
fn layout(n: u32) -> Option<&'static str> {
    match n {
        1 => Some("mono"),
        2 => Some("stereo"),
        3 => Some("2.1"),
        4 => Some("quad"),
        6 => Some("5.1"),
        8 => Some("7.1"),
        _ => None,
    }
}

/// The demuxer that reads `profile`'s output as FFmpeg streams it, for the
/// containers written front to back (no seeking back).
fn streamed(p: &Profile) -> Option<&'static str> {
    match p.container {
        Container::Bwf => Some("wav"),
        Container::Mp3 => Some("mp3"),
        _ => None,
    }
}

/// The decoder that reads `profile`'s audio back fastest, where FFmpeg's
/// default is slower: its floating-point MPEG audio decoder takes 60 % of
/// the time of the fixed-point one it picks for MP2 (1.0 s against 1.7 s
/// for 30 minutes), and the meter wants floats anyway.
fn fast_decoder(p: &Profile) -> Option<&'static str> {
    match p.audio_codec.as_deref() {
        Some("mp2") => Some("mp2float"),
        _ => None,
    }
}

/// Copies the encoder's output into `path` and into the decoder, in 1 MiB
/// blocks, to its end.
fn tee(mut from: std::fs::File, path: &Path, mut decoder: std::fs::File) -> Result<(), EngineError> {
    use std::io::{Read, Write};
    let mut file = std::fs::File::create(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        file.write_all(&buf[..n])?;
        decoder
            .write_all(&buf[..n])
            .map_err(|e| EngineError::Failed(format!("the rendition's decoder stopped: {e}")))?;
    }
    Ok(())
}

/// How the rendition's bytes are read back as they are written.
struct Reader {
    demuxer: &'static str,
    /// A decoder to use instead of FFmpeg's default.
    decoder: Option<&'static str>,
}

/// The file name (in the work folder) of `profile`'s output.
fn output_name(p: &Profile) -> String {
    format!("rendition.{}", p.container.media_type().1)
}

impl Engine {
    /// Makes `input` (whose analysis found `findings`) into `profile`, in
    /// `workdir`, within the engine's timeout.
    pub async fn render(
        &self,
        input: &Path,
        profile: &Profile,
        findings: Option<&Findings>,
        workdir: &Path,
    ) -> Result<Rendered, EngineError> {
        if self.version().is_none() {
            return Err(EngineError::Unavailable);
        }
        if let Some(why) = refuse(profile, findings) {
            return Err(EngineError::Refused(why));
        }
        let timeout = self.settings.timeout;
        tokio::time::timeout(timeout, self.render_now(input, profile, findings, workdir))
            .await
            .map_err(|_| EngineError::Timeout(timeout))?
    }

    async fn render_now(
        &self,
        input: &Path,
        profile: &Profile,
        findings: Option<&Findings>,
        workdir: &Path,
    ) -> Result<Rendered, EngineError> {
        let (filters, correction) = self.plan(input, profile, findings).await?;
        let out = workdir.join(output_name(profile));
        let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-v", "error", "-y"]
            .map(Into::into)
            .to_vec();
        args.extend(Self::input_args(input));
        // Video first: MXF OP1a wants it so.
        if profile.container.is_video() {
            args.extend(["-map", "0:v:0"].map(Into::into));
        } else {
            args.push("-vn".into());
        }
        args.extend(["-map", "0:a:0", "-sn", "-dn", "-map_metadata", "-1"].map(Into::into));
        if !filters.is_empty() {
            args.extend(["-af".into(), filters.join(",").into()]);
        }
        args.extend(output_args(profile).into_iter().map(Into::into));
        let channels = u32::from(profile.channels.unwrap_or(2));
        let seconds = findings.and_then(|f| f.duration_seconds);
        let m = match streamed(profile) {
            // Written as a stream: measured as it is made, from the bytes
            // the encoder writes.
            Some(demuxer) => {
                let reader = Reader {
                    demuxer,
                    decoder: fast_decoder(profile),
                };
                self.encode_measuring(args, reader, &out, channels, seconds).await?
            }
            // Containers that seek back (MP4's index, MXF's footer): made,
            // then measured.
            None => {
                args.push(super::preview::output(&out));
                self.run(&args, "make the rendition").await?;
                self.measure(&out, channels, seconds).await?
            }
        };
        if let Some(t) = &profile.loudness {
            judge(t, &m.loudness)?;
        }
        tracing::info!(?correction, loudness = ?m.loudness, "rendition made");
        Ok(Rendered {
            path: out,
            loudness: Some(m.loudness),
            seconds: m.decoded_seconds,
        })
    }

    /// The audio filters of the rendition (channels, then loudness), and the
    /// loudness correction among them.
    async fn plan(
        &self,
        input: &Path,
        profile: &Profile,
        findings: Option<&Findings>,
    ) -> Result<(Vec<String>, Correction), EngineError> {
        let from = findings
            .and_then(|f| f.streams.iter().find(|s| s.is_audio()))
            .and_then(|s| s.channels)
            .unwrap_or(2);
        let to = u32::from(profile.channels.unwrap_or(2));
        let mut filters = Vec::new();
        let mut measured = findings.and_then(|f| f.loudness.clone());
        match (from, to) {
            _ if from == to => {}
            // Mono heard on both loudspeakers, as BS.1770 measured it
            // (FFmpeg's own upmix would lower it by 3 dB).
            (1, 2) => filters.push("pan=stereo|c0=c0|c1=c0".to_owned()),
            // A downmix changes the loudness by what the channels hold:
            // measured as it will be made.
            _ => {
                if let Some(layout) = layout(to) {
                    filters.push(format!("aformat=channel_layouts={layout}"));
                }
                if profile.loudness.is_some() {
                    let seconds = findings.and_then(|f| f.duration_seconds);
                    measured = Some(self.measure(input, to, seconds).await?.loudness);
                }
            }
        }
        let correction = match (&profile.loudness, &measured) {
            (Some(t), Some(m)) => self.correction(input, profile, &filters, t, m).await?,
            _ => Correction::None,
        };
        match &correction {
            Correction::None => {}
            Correction::Gain(db) => filters.push(format!("volume={db:.2}dB")),
            Correction::Loudnorm(filter) => filters.push(filter.clone()),
        }
        Ok((filters, correction))
    }

    /// How to bring the master (measured `m`, after `filters`) to target `t`.
    async fn correction(
        &self,
        input: &Path,
        profile: &Profile,
        filters: &[String],
        t: &LoudnessTarget,
        m: &Loudness,
    ) -> Result<Correction, EngineError> {
        let Some(i) = m.integrated_lufs else {
            return Ok(Correction::None);
        };
        let gain = t.target_lufs - i;
        let ceiling = t.max_true_peak_dbtp - headroom(profile);
        if m.true_peak_dbtp.is_none_or(|tp| tp + gain <= ceiling) {
            return Ok(Correction::Gain(gain));
        }
        // The gain would push the peaks over the ceiling: loudnorm, given
        // what its own first pass measures.
        let lra = m.range_lu.unwrap_or(7.0).clamp(7.0, 19.0) + 1.0;
        let mut first: Vec<String> = filters.to_vec();
        first.push(format!(
            "loudnorm=I={:.1}:TP={ceiling:.1}:LRA={lra:.1}:print_format=json",
            t.target_lufs
        ));
        let first = first.join(",");
        let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-v", "info"].map(Into::into).to_vec();
        args.extend(Self::input_args(input));
        args.extend(["-map", "0:a:0", "-vn", "-sn", "-dn", "-af", &first, "-f", "null", "-"].map(Into::into));
        let stderr = self.run(&args, "measure the master for loudnorm").await?;
        let p = LoudnormPass::parse(&stderr)
            .ok_or_else(|| EngineError::Failed("loudnorm's first pass printed no measurement".into()))?;
        Ok(Correction::Loudnorm(format!(
            "loudnorm=I={:.1}:TP={ceiling:.1}:LRA={lra:.1}:measured_I={}:measured_TP={}:measured_LRA={}:\
             measured_thresh={}:offset={}:linear=true:print_format=none",
            t.target_lufs, p.input_i, p.input_tp, p.input_lra, p.input_thresh, p.target_offset
        )))
    }

    /// Runs the encoder (`args`, its output a pipe) into `out` and, from the
    /// same bytes, a decoder into the meter, side by side: one pass over the
    /// master, and the rendition's own audio measured.
    async fn encode_measuring(
        &self,
        mut args: Vec<OsString>,
        reader: Reader,
        out: &Path,
        channels: u32,
        expected: Option<f64>,
    ) -> Result<super::Measured, EngineError> {
        let mut decoder = self.command(&self.settings.ffmpeg);
        decoder
            .args([
                "-nostdin",
                "-hide_banner",
                "-v",
                "error",
                "-protocol_whitelist",
                "pipe",
                "-f",
                reader.demuxer,
            ])
            .args(reader.decoder.into_iter().flat_map(|d| ["-c:a", d]))
            .args(["-i", "pipe:0"])
            .args(Self::decode_args(channels))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut decoder = decoder.spawn()?;
        let to_decoder = decoder
            .stdin
            .take()
            .ok_or_else(|| EngineError::Failed("no stdin".into()))?;
        // FFmpeg flushes a pipe after every packet by default: an MPEG
        // audio packet is under a kilobyte, and 75,000 writes that each wake
        // the reader cost a quarter of the encode (1.25× FFmpeg writing a
        // file, against 1.0× with whole buffers). The end is flushed anyway.
        args.extend(["-flush_packets", "0", "pipe:1"].map(Into::into));
        let mut encoder = self
            .command(&self.settings.ffmpeg)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let from = encoder
            .stdout
            .take()
            .ok_or_else(|| EngineError::Failed("no stdout".into()))?;
        let stderr = encoder
            .stderr
            .take()
            .ok_or_else(|| EngineError::Failed("no stderr".into()))?;
        let complaints = tokio::spawn(super::loudness::first_bytes(stderr, 4096));
        let from = std::fs::File::from(from.into_owned_fd()?);
        let to_decoder = std::fs::File::from(to_decoder.into_owned_fd()?);
        let path = out.to_owned();
        let teeing = tokio::task::spawn_blocking(move || tee(from, &path, to_decoder));
        let (teed, measured) = tokio::join!(teeing, self.measure_child(decoder, channels, expected));
        let status = encoder.wait().await?;
        let complaints = complaints.await.unwrap_or_default();
        if !status.success() {
            let text = String::from_utf8_lossy(&complaints);
            tracing::info!(stderr = %text, "ffmpeg could not make the rendition");
            return Err(EngineError::Refused(
                "FFmpeg could not make the rendition from the master".into(),
            ));
        }
        teed.map_err(|e| EngineError::Failed(e.to_string()))??;
        measured
    }

    /// Runs FFmpeg with `args`; its standard error when it succeeds.
    async fn run(&self, args: &[OsString], what: &str) -> Result<String, EngineError> {
        let out = self
            .command(&self.settings.ffmpeg)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            let tail: String = stderr
                .chars()
                .rev()
                .take(2000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            tracing::info!(stderr = %tail, "ffmpeg could not {what}");
            return Err(EngineError::Refused(format!("FFmpeg could not {what} from the master")));
        }
        Ok(stderr)
    }
}

/// Whether measurement `l` of a rendition meets target `t`.
pub fn judge(t: &LoudnessTarget, l: &Loudness) -> Result<(), EngineError> {
    let i = l.integrated_lufs.unwrap_or(f64::NEG_INFINITY);
    let tp = l.true_peak_dbtp.unwrap_or(f64::NEG_INFINITY);
    if (i - t.target_lufs).abs() > TOLERANCE_LU {
        return Err(EngineError::Refused(format!(
            "the rendition measures {i:.1} LUFS, outside {:.1} ±{TOLERANCE_LU} LU",
            t.target_lufs
        )));
    }
    if tp > t.max_true_peak_dbtp {
        return Err(EngineError::Refused(format!(
            "the rendition's true peak is {tp:.1} dBTP, above {:.1} dBTP",
            t.max_true_peak_dbtp
        )));
    }
    Ok(())
}

/// What loudnorm's first pass prints (as JSON, numbers as strings).
#[derive(Debug, serde::Deserialize)]
struct LoudnormPass {
    input_i: String,
    input_tp: String,
    input_lra: String,
    input_thresh: String,
    target_offset: String,
}

impl LoudnormPass {
    /// The last `{…}` block of `stderr`, read; each value must be a number
    /// (it goes into a filter argument).
    fn parse(stderr: &str) -> Option<Self> {
        let start = stderr.rfind('{')?;
        let end = stderr[start..].find('}')? + start + 1;
        let p: Self = serde_json::from_str(&stderr[start..end]).ok()?;
        let numbers = [&p.input_i, &p.input_tp, &p.input_lra, &p.input_thresh, &p.target_offset];
        numbers
            .iter()
            .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite))
            .then_some(p)
    }
}

/// Rewrites FFmpeg's WAV `from` as the hub serves it, into `to`: `RIFF`,
/// `fmt ` (and `fact`), `data`, each as FFmpeg wrote it, nothing else; the
/// RIFF size counts `trailer` bytes more, the `bext` and `cart` chunks
/// written after the data for each taker. The audio is copied, never held.
///
/// FFmpeg writing to a pipe leaves the sizes unknown (`0xFFFFFFFF`): the
/// data then runs to the end of the file. Compressed data (MPEG) gets the
/// `fact` chunk it needs, of `frames` samples, when FFmpeg wrote none.
pub fn relayout_wav(from: &Path, to: &Path, trailer: u64, frames: u64) -> Result<(), EngineError> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let bad = |why: &str| EngineError::Failed(format!("FFmpeg's WAV: {why}"));
    let length = std::fs::metadata(from)?.len();
    let mut input = std::io::BufReader::new(std::fs::File::open(from)?);
    let mut riff = [0u8; 12];
    input.read_exact(&mut riff)?;
    if &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
        return Err(bad("not a RIFF WAVE file"));
    }
    let mut kept = Vec::new();
    let mut has_fact = false;
    let data = loop {
        let mut head = [0u8; 8];
        input.read_exact(&mut head).map_err(|_| bad("no data chunk"))?;
        let size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        match &head[..4] {
            b"data" => {
                let rest = length - input.stream_position()?;
                break if size == u64::from(u32::MAX) || size > rest {
                    rest
                } else {
                    size
                };
            }
            b"fmt " | b"fact" => {
                has_fact |= &head[..4] == b"fact";
                kept.extend_from_slice(&head);
                let mut body = vec![0u8; (size + size % 2) as usize];
                input.read_exact(&mut body)?;
                kept.extend_from_slice(&body);
            }
            _ => {
                input.seek(SeekFrom::Current((size + size % 2) as i64))?;
            }
        }
    };
    let pcm = kept.get(8..10).is_some_and(|tag| tag == [1, 0] || tag == [0xFE, 0xFF]);
    if !pcm && !has_fact {
        kept.extend_from_slice(b"fact");
        kept.extend_from_slice(&4u32.to_le_bytes());
        kept.extend_from_slice(&u32::try_from(frames).unwrap_or(u32::MAX).to_le_bytes());
    }
    let padded = data + data % 2;
    let riff_size = 4 + kept.len() as u64 + 8 + padded + trailer;
    let riff_size = u32::try_from(riff_size)
        .map_err(|_| EngineError::Refused("the rendition is longer than a WAV file can hold (4 GiB)".into()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(to)?);
    out.write_all(b"RIFF")?;
    out.write_all(&riff_size.to_le_bytes())?;
    out.write_all(b"WAVE")?;
    out.write_all(&kept)?;
    out.write_all(b"data")?;
    out.write_all(&(data as u32).to_le_bytes())?;
    let copied = std::io::copy(&mut input.take(data), &mut out)?;
    if copied != data {
        return Err(bad("the data chunk is cut short"));
    }
    if data % 2 == 1 {
        out.write_all(&[0])?;
    }
    // Not synced: a work file, read at once into the store, which syncs
    // what it keeps.
    out.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loudnorms_first_pass_is_read_and_only_numbers_pass() {
        let stderr = "[Parsed_loudnorm_0 @ 0x1] \n{\n\t\"input_i\" : \"-30.02\",\n\t\"input_tp\" : \"-4.10\",\n\t\
                      \"input_lra\" : \"0.00\",\n\t\"input_thresh\" : \"-40.02\",\n\t\"output_i\" : \"-23.1\",\n\t\
                      \"target_offset\" : \"0.10\"\n}\n";
        let p = LoudnormPass::parse(stderr).unwrap();
        assert_eq!((p.input_i.as_str(), p.target_offset.as_str()), ("-30.02", "0.10"));
        assert!(LoudnormPass::parse(&stderr.replace("-4.10", "-inf:x=1")).is_none());
        assert!(LoudnormPass::parse("no json").is_none());
    }

    /// A WAV as FFmpeg writes it to a pipe: sizes unknown, a LIST chunk.
    fn piped_wav(tag: u16, data: &[u8]) -> Vec<u8> {
        let mut w = b"RIFF\xff\xff\xff\xffWAVEfmt ".to_vec();
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&tag.to_le_bytes());
        w.extend_from_slice(&[2, 0, 0x80, 0xbb, 0, 0, 0, 0, 0, 0, 4, 0, 16, 0]);
        w.extend_from_slice(b"LIST\x04\0\0\0INFO");
        w.extend_from_slice(b"data\xff\xff\xff\xff");
        w.extend_from_slice(data);
        w
    }

    #[test]
    fn the_served_wav_has_true_sizes_room_for_its_chunks_and_a_fact_when_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("in.wav"), dir.path().join("out.wav"));
        std::fs::write(&from, piped_wav(1, b"abc")).unwrap();
        relayout_wav(&from, &to, 10, 1).unwrap();
        let out = std::fs::read(&to).unwrap();
        let u32_at = |i: usize| u32::from_le_bytes(out[i..i + 4].try_into().unwrap());
        // RIFF, fmt (8 + 16), data (8 + 3 + a pad byte); the trailer counted.
        assert_eq!(out.len(), 12 + 24 + 8 + 4);
        assert_eq!(u32_at(4) as usize, out.len() - 8 + 10);
        assert_eq!(&out[36..40], b"data");
        assert_eq!(u32_at(40), 3);
        assert_eq!(&out[44..], b"abc\0");
        // MPEG (0x50) without a fact chunk gets one, with the frames.
        std::fs::write(&from, piped_wav(0x50, b"abcd")).unwrap();
        relayout_wav(&from, &to, 0, 4242).unwrap();
        let out = std::fs::read(&to).unwrap();
        assert_eq!(&out[36..40], b"fact");
        assert_eq!(u32::from_le_bytes(out[44..48].try_into().unwrap()), 4242);
        assert_eq!(&out[48..52], b"data");
        // Not a WAV: refused.
        std::fs::write(&from, b"ID3 not a wave file at all").unwrap();
        assert!(relayout_wav(&from, &to, 0, 0).is_err());
    }

    #[test]
    fn a_rendition_off_target_fails_saying_why() {
        let t = LoudnessTarget {
            target_lufs: -23.0,
            max_true_peak_dbtp: -1.0,
        };
        let l = |i: f64, tp: f64| Loudness {
            integrated_lufs: Some(i),
            range_lu: None,
            true_peak_dbtp: Some(tp),
        };
        assert!(judge(&t, &l(-23.4, -1.0)).is_ok());
        let e = judge(&t, &l(-22.4, -3.0)).unwrap_err().to_string();
        assert!(e.contains("-22.4 LUFS"), "{e}");
        let e = judge(&t, &l(-23.0, -0.8)).unwrap_err().to_string();
        assert!(e.contains("-0.8 dBTP"), "{e}");
    }
}
