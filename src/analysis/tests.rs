//! The engine against media FFmpeg's generators make: EBU Tech 3341's
//! loudness cases, a true-peak case, mono, formats, damaged files, previews.

use std::path::Path;

use super::testing::{ffmpeg_or_skip, make};
use super::*;
use crate::domain::Verdict;

fn engine() -> Engine {
    Engine::new(EngineSettings::default())
}

async fn checked() -> Engine {
    let e = engine();
    assert!(e.check().await.is_some(), "ffmpeg -version");
    e
}

/// A 1 kHz sine whose level (dBFS, peak) changes at the given times:
/// `[(until_seconds, dbfs)]`, made stereo by copying the one channel.
fn stepped_sine(dir: &Path, name: &str, steps: &[(f64, f64)]) -> std::path::PathBuf {
    let mut level = String::from("0");
    for (until, dbfs) in steps.iter().rev() {
        level = format!("if(lt(t\\,{until})\\,pow(10\\,{dbfs}/20)\\,{level})");
    }
    let total = steps.last().unwrap().0;
    let src = format!("aevalsrc={level}*sin(2*PI*1000*t):s=48000:d={total}");
    make(
        dir,
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-af",
            "pan=stereo|c0=c0|c1=c0",
            "-c:a",
            "flac",
        ],
    )
}

/// FFmpeg arguments written as one line (no argument holds a space).
fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test]
async fn tech_3341_cases_1_to_5_read_their_loudness() {
    if !ffmpeg_or_skip() {
        return;
    }
    let e = checked().await;
    let dir = tempfile::tempdir().unwrap();
    // EBU Tech 3341, table 1: stereo 1 kHz sine, levels in dBFS per channel.
    type Case<'a> = (&'a str, &'a [(f64, f64)], f64);
    let cases: [Case; 5] = [
        ("1", &[(20.0, -23.0)], -23.0),
        ("2", &[(20.0, -33.0)], -33.0),
        ("3", &[(10.0, -36.0), (70.0, -23.0), (80.0, -36.0)], -23.0),
        (
            "4",
            &[
                (10.0, -72.0),
                (20.0, -36.0),
                (80.0, -23.0),
                (90.0, -36.0),
                (100.0, -72.0),
            ],
            -23.0,
        ),
        ("5", &[(20.0, -26.0), (40.1, -20.0), (60.1, -26.0)], -23.0),
    ];
    for (case, steps, want) in cases {
        let file = stepped_sine(dir.path(), &format!("case{case}.flac"), steps);
        let m = e.measure(&file, 2, None).await.unwrap();
        let got = m.loudness.integrated_lufs.unwrap();
        assert!((got - want).abs() <= 0.1, "case {case}: {got} LUFS, want {want}");
        assert!(m.decoded_cleanly);
    }
}

#[tokio::test]
async fn true_peak_between_samples_is_found() {
    if !ffmpeg_or_skip() {
        return;
    }
    let e = checked().await;
    let dir = tempfile::tempdir().unwrap();
    // A 12 kHz sine at -6.02 dBFS sampled 45° off its peaks (Tech 3341's
    // inter-sample case): samples reach only -9 dBFS, the signal -6 dBTP.
    let file = make(
        dir.path(),
        "tp.wav",
        &args("-f lavfi -i aevalsrc=0.5*sin(2*PI*12000*t+PI/4):s=48000:d=5 -af pan=stereo|c0=c0|c1=c0 -c:a pcm_f32le"),
    );
    let m = e.measure(&file, 2, None).await.unwrap();
    let tp = m.loudness.true_peak_dbtp.unwrap();
    let want = 20.0 * 0.5f64.log10();
    assert!(tp <= want + 0.2 && tp >= want - 0.4, "{tp} dBTP, want {want:.2}");
    let sample_peak = 20.0 * f64::from(*m.waveform.peaks.iter().max_by(|a, b| a.total_cmp(b)).unwrap()).log10();
    assert!(
        sample_peak < want - 2.0,
        "the sample peak {sample_peak} should be well below"
    );
}

#[tokio::test]
async fn mono_counts_as_dual_mono() {
    if !ffmpeg_or_skip() {
        return;
    }
    let e = checked().await;
    let dir = tempfile::tempdir().unwrap();
    let file = make(
        dir.path(),
        "mono.flac",
        &args("-f lavfi -i aevalsrc=pow(10\\,-23/20)*sin(2*PI*1000*t):s=48000:d=20 -c:a flac"),
    );
    let probe = e.probe(&file).await.unwrap().unwrap();
    assert_eq!(probe.streams[0].channels, Some(1));
    let m = e.measure(&file, 1, None).await.unwrap();
    let got = m.loudness.integrated_lufs.unwrap();
    // Counted once it would read -26.0.
    assert!((got + 23.0).abs() <= 0.1, "{got}");
}

fn stream<'a>(r: &'a Report, kind: &str) -> &'a StreamInfo {
    r.findings.streams.iter().find(|s| s.kind == kind).unwrap()
}

use crate::domain::StreamInfo;

#[tokio::test]
async fn formats_get_duration_codec_and_channels() {
    if !ffmpeg_or_skip() {
        return;
    }
    let e = checked().await;
    let dir = tempfile::tempdir().unwrap();
    let tone = "sine=frequency=440:sample_rate=44100:duration=6";
    let video = "testsrc2=size=320x240:rate=25:duration=6";
    let wav = make(
        dir.path(),
        "a.wav",
        &args(&format!("-f lavfi -i {tone} -ac 2 -c:a pcm_s16le")),
    );
    let mp3 = make(
        dir.path(),
        "a.mp3",
        &args(&format!("-f lavfi -i {tone} -ac 1 -c:a libmp3lame -b:a 64k")),
    );
    let with_video = format!("-f lavfi -i {video} -f lavfi -i {tone} -ac 2 -c:v libx264 -preset ultrafast");
    let mp4 = make(
        dir.path(),
        "v.mp4",
        &args(&format!("{with_video} -pix_fmt yuv420p -c:a aac -shortest")),
    );
    let mkv = make(
        dir.path(),
        "v.mkv",
        &args(&format!("{with_video} -c:a libopus -shortest")),
    );
    let cases = [
        (&wav, "audio/wav", "wav", "pcm_s16le", 2, false),
        (&mp3, "audio/mpeg", "mp3", "mp3", 1, false),
        (&mp4, "video/mp4", "mov", "aac", 2, true),
        (&mkv, "video/x-matroska", "matroska", "opus", 2, true),
    ];
    for (file, declared, container, codec, channels, video) in cases {
        let work = tempfile::tempdir().unwrap();
        let r = e.analyze(file, declared, work.path()).await.unwrap();
        let f = &r.findings;
        assert!(f.media, "{declared}");
        assert!(
            f.container.as_deref().unwrap().split(',').any(|c| c == container),
            "{f:?}"
        );
        let d = f.duration_seconds.unwrap();
        assert!((d - 6.0).abs() < 0.1, "{declared}: {d} s");
        let a = stream(&r, "audio");
        assert_eq!(a.codec.as_deref(), Some(codec), "{declared}");
        assert_eq!(a.channels, Some(channels), "{declared}");
        assert_eq!(f.has_video(), video, "{declared}");
        if video {
            let v = stream(&r, "video");
            assert_eq!(v.codec.as_deref(), Some("h264"));
            assert_eq!((v.width, v.height, v.frame_rate), (Some(320), Some(240), Some(25.0)));
        }
        // A 440 Hz sine at -18 dBFS is far louder than -23 LUFS.
        let qc = f.qc.as_ref().unwrap();
        assert_eq!(qc.verdict, Verdict::Warn, "{qc:?}");
        assert!(qc.reasons.iter().any(|r| r.contains("LUFS")), "{qc:?}");
    }
}

/// Probes a preview and checks what it holds.
async fn probe_preview(e: &Engine, path: &Path, master_seconds: f64) -> Probe {
    let p = e.probe(path).await.unwrap().expect("the preview probes");
    let d = p.duration_seconds.unwrap();
    assert!(
        (d - master_seconds).abs() <= 0.1,
        "preview {d} s, master {master_seconds} s"
    );
    p
}

#[tokio::test]
async fn previews_play() {
    if !ffmpeg_or_skip() {
        return;
    }
    let e = checked().await;
    let dir = tempfile::tempdir().unwrap();
    let mp4 = make(
        dir.path(),
        "v.mp4",
        &args("-f lavfi -i testsrc2=size=640x480:rate=25:duration=8 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=8 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest"),
    );
    let work = tempfile::tempdir().unwrap();
    let r = e.analyze(&mp4, "video/mp4", work.path()).await.unwrap();
    let master = r.findings.duration_seconds.unwrap();
    let (preview, media_type) = r.preview.as_ref().unwrap();
    assert_eq!(*media_type, "video/mp4");
    let p = probe_preview(&e, preview, master).await;
    let v = p.streams.iter().find(|s| s.is_video()).unwrap();
    assert_eq!(
        (v.codec.as_deref(), v.width, v.height),
        (Some("h264"), Some(480), Some(360))
    );
    let a = p.streams.iter().find(|s| s.is_audio()).unwrap();
    assert_eq!(a.codec.as_deref(), Some("aac"));
    // The hub's own probe reads media only, not pictures: ask ffprobe.
    let poster = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(r.poster.as_ref().unwrap())
        .output()
        .unwrap();
    let poster = probe::parse(&poster.stdout).unwrap();
    assert_eq!(poster.streams[0].codec.as_deref(), Some("mjpeg"));
    assert_eq!(poster.streams[0].height, Some(360));
    let w: serde_json::Value = serde_json::from_slice(r.waveform.as_ref().unwrap()).unwrap();
    assert!(w["peaks"].as_array().unwrap().len() >= 70, "{w}");

    let wav = make(
        dir.path(),
        "a.wav",
        &args("-f lavfi -i sine=frequency=440:sample_rate=44100:duration=7.5 -c:a pcm_s16le"),
    );
    let work = tempfile::tempdir().unwrap();
    let r = e.analyze(&wav, "audio/wav", work.path()).await.unwrap();
    let (preview, media_type) = r.preview.as_ref().unwrap();
    assert_eq!(*media_type, "audio/mp4");
    let p = probe_preview(&e, preview, r.findings.duration_seconds.unwrap()).await;
    assert_eq!(p.streams.len(), 1);
    assert_eq!(p.streams[0].codec.as_deref(), Some("aac"));
    let rate = p.streams[0].bit_rate.unwrap();
    assert!((40_000..=80_000).contains(&rate), "{rate} bit/s");
    assert!(r.poster.is_none());
}

#[tokio::test]
async fn bad_files_fail_with_reasons() {
    if !ffmpeg_or_skip() {
        return;
    }
    let e = checked().await;
    let dir = tempfile::tempdir().unwrap();
    // Random bytes sent as MP3.
    let noise = dir.path().join("noise");
    let bytes: Vec<u8> = (0..2_000_000u32).map(|_| rand::random::<u8>()).collect();
    std::fs::write(&noise, &bytes).unwrap();
    let work = tempfile::tempdir().unwrap();
    let r = e.analyze(&noise, "audio/mpeg", work.path()).await.unwrap();
    assert!(!r.findings.media, "{:?}", r.findings);
    let qc = r.findings.qc.unwrap();
    assert_eq!(qc.verdict, Verdict::Fail);
    assert!(!qc.reasons.is_empty());
    assert!(r.preview.is_none());

    // An MP4 (index first) cut in half.
    let mp4 = make(
        dir.path(),
        "v.mp4",
        &args("-f lavfi -i testsrc2=size=320x240:rate=25:duration=10 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=10 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest -movflags +faststart"),
    );
    let all = std::fs::read(&mp4).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &all[..all.len() / 2]).unwrap();
    let r = e.analyze(&cut, "video/mp4", work.path()).await.unwrap();
    let qc = r.findings.qc.unwrap();
    assert_eq!(qc.verdict, Verdict::Fail, "{qc:?}");
    assert!(
        qc.reasons
            .iter()
            .any(|r| r.contains("truncated") || r.contains("damaged")),
        "{qc:?}"
    );

    // The same MP4 with its index last, cut: nothing readable.
    let late = make(
        dir.path(),
        "late.mp4",
        &args("-f lavfi -i sine=frequency=440:sample_rate=48000:duration=10 -c:a aac"),
    );
    let all = std::fs::read(&late).unwrap();
    std::fs::write(&cut, &all[..all.len() / 2]).unwrap();
    let r = e.analyze(&cut, "audio/mp4", work.path()).await.unwrap();
    assert_eq!(r.findings.qc.unwrap().verdict, Verdict::Fail);
    assert!(!r.findings.media);

    // A WAV sent as MP3.
    let wav = make(
        dir.path(),
        "a.wav",
        &args("-f lavfi -i sine=frequency=440:sample_rate=48000:duration=2 -c:a pcm_s16le"),
    );
    let r = e.analyze(&wav, "audio/mpeg", work.path()).await.unwrap();
    let qc = r.findings.qc.unwrap();
    assert_eq!(qc.verdict, Verdict::Fail);
    assert!(qc.reasons.iter().any(|r| r.contains("sent as audio/mpeg")), "{qc:?}");
}

#[tokio::test]
async fn a_forty_minute_file_finishes() {
    if !ffmpeg_or_skip() {
        return;
    }
    let e = checked().await;
    let dir = tempfile::tempdir().unwrap();
    // Silence with a tone every minute, small: 8 kHz mono AAC at 16 kbit/s.
    let file = make(
        dir.path(),
        "long.m4a",
        &args(
            "-f lavfi -i aevalsrc=if(lt(mod(t\\,60)\\,5)\\,0.1*sin(2*PI*1000*t)\\,0):s=8000:d=2400 -c:a aac -b:a 16k",
        ),
    );
    let work = tempfile::tempdir().unwrap();
    let r = e.analyze(&file, "audio/mp4", work.path()).await.unwrap();
    let d = r.findings.duration_seconds.unwrap();
    assert!((d - 2400.0).abs() < 1.0, "{d}");
    assert!(r.findings.loudness.as_ref().unwrap().integrated_lufs.is_some());
    let w: serde_json::Value = serde_json::from_slice(r.waveform.as_ref().unwrap()).unwrap();
    assert!(w["peaks"].as_array().unwrap().len() <= 1001);
    assert!(r.preview.is_some());
}

#[tokio::test]
async fn without_ffmpeg_the_engine_says_so() {
    let e = Engine::new(EngineSettings {
        ffmpeg: "/nonexistent/ffmpeg".into(),
        ffprobe: "/nonexistent/ffprobe".into(),
        ..Default::default()
    });
    assert_eq!(e.check().await, None);
    let dir = tempfile::tempdir().unwrap();
    let err = e
        .analyze(&dir.path().join("x"), "audio/mpeg", dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Unavailable), "{err}");
}
