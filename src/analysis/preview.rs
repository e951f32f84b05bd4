//! Previews: an AAC 64 kbit/s listening copy (`.m4a`), a 360p H.264 + AAC
//! viewing copy, both with the index first (fast start), and a JPEG poster.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

use super::{Engine, EngineError};

pub(super) fn output(path: &Path) -> OsString {
    let mut s = OsString::from("file:");
    s.push(path.as_os_str());
    s
}

impl Engine {
    /// Runs FFmpeg with `args` after the input; whether it made `out`.
    async fn make(&self, input: &Path, before_input: &[&str], args: &[&str], out: &Path) -> Result<bool, EngineError> {
        let mut cmd = self.command(&self.settings.ffmpeg);
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
            .args(before_input)
            .args(Self::input_args(input))
            .args(args)
            .arg(output(out))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let result = cmd.output().await?;
        if !result.status.success() {
            let stderr = &result.stderr[..result.stderr.len().min(2000)];
            tracing::info!(stderr = %String::from_utf8_lossy(stderr), "ffmpeg could not make a preview");
            let _ = tokio::fs::remove_file(out).await;
            return Ok(false);
        }
        Ok(tokio::fs::metadata(out).await.is_ok_and(|m| m.len() > 0))
    }

    /// The listening copy of the first audio stream.
    pub async fn audio_preview(&self, input: &Path, out: &Path) -> Result<bool, EngineError> {
        let args = [
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-ac",
            "2",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ];
        self.make(input, &[], &args, out).await
    }

    /// The 360p viewing copy of the first video stream (and first audio).
    pub async fn video_preview(&self, input: &Path, out: &Path, with_audio: bool) -> Result<bool, EngineError> {
        let mut args = vec![
            "-map",
            "0:v:0",
            "-sn",
            "-dn",
            "-vf",
            "scale=-2:360",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "28",
            "-pix_fmt",
            "yuv420p",
        ];
        if with_audio {
            args.extend(["-map", "0:a:0", "-c:a", "aac", "-b:a", "64k", "-ac", "2"]);
        }
        args.extend(["-movflags", "+faststart", "-f", "mp4"]);
        self.make(input, &[], &args, out).await
    }

    /// A JPEG of the frame at `at_seconds`.
    pub async fn poster(&self, input: &Path, out: &Path, at_seconds: f64) -> Result<bool, EngineError> {
        let at = format!("{at_seconds:.3}");
        let args = [
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-vf",
            "scale=-2:360",
            "-c:v",
            "mjpeg",
            "-q:v",
            "4",
            "-f",
            "image2",
        ];
        self.make(input, &["-ss", &at], &args, out).await
    }
}
