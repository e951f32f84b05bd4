//! Rendition benchmark.
//!
//! ```text
//! cargo bench --bench render -- [--quick] [--audio-minutes M] [--video-seconds S] [--video-rounds R]
//! ```
//!
//! The hub's rendition job, whole (`Hub::render_next`: claim, the loudness
//! correction planned from the analysis, FFmpeg's encode, the rendition's
//! own measurement, the broadcast WAV's layout, storing it content-addressed
//! with its SHA-256), against FFmpeg alone doing the same encode (the same
//! options, the same gain, at the same niceness), rounds alternating, in the
//! same run. Target: at most 1.15×.
//!
//! 1. A 30-minute stereo MP3 master to MPEG-1 Layer II broadcast WAV at
//!    −23 LUFS (`--quick`: 2 minutes); five rounds.
//! 2. A 720p H.264 master to XDCAM HD422 MXF (1080i25 MPEG-2 4:2:2 at
//!    50 Mbit/s, PCM) at −23 LUFS: 60 seconds (`--quick`: 10). Thirty
//!    minutes of XDCAM is 11 GB per copy (the baseline's output, the hub's
//!    work file and its stored rendition: 34 GB free at the peak) and about
//!    nine minutes of encoding per side on two cores: `--video-seconds 1800
//!    --video-rounds 1` asks for it when the disk and the time are there.
//!
//! Media is made by FFmpeg's generators; a Markdown table goes to stdout.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{print_problems, print_table, Row};
use pxhub::catalog::Catalog;
use pxhub::config::Settings;
use pxhub::domain::profile::{LoudnessTarget, ProfileInput};
use pxhub::domain::{FileRole, ProgramId, Role, StationId, StationKind};
use pxhub::exchange::renditions::Rendition;
use pxhub::exchange::{Caller, Hub, IncomingFile, NewStation};
use pxhub::media::MediaStore;

fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// The hub, on a local store in `root`, with FFmpeg found.
fn hub(root: &Path, rt: &tokio::runtime::Runtime) -> (Hub, Caller) {
    let settings = Settings {
        data_dir: root.join("data"),
        ..Settings::default()
    };
    std::fs::create_dir_all(&settings.data_dir).unwrap();
    let catalog = Catalog::open(&settings.catalog_path()).expect("catalog");
    let media = MediaStore::open(&settings.media()).expect("media");
    let hub = Hub::new(catalog, media, settings.exchange().expect("settings")).expect("hub");
    assert!(rt.block_on(hub.check_ffmpeg()).is_some(), "FFmpeg not found");
    let station = StationId::parse("thai-nguyen").unwrap();
    rt.block_on(hub.create_station(
        &Caller::operator(),
        NewStation {
            id: station.to_string(),
            name: "Thái Nguyên".into(),
            province: "Thái Nguyên".into(),
            kind: StationKind::Provincial,
        },
    ))
    .expect("station");
    let caller = Caller {
        token_id: "bench".into(),
        role: Role::Station,
        station: Some(station),
        station_kind: Some(StationKind::Provincial),
        person: None,
    };
    (hub, caller)
}

/// A program with `master` as its master, analysed.
fn program(hub: &Hub, caller: &Caller, rt: &tokio::runtime::Runtime, master: &Path, media_type: &str) -> ProgramId {
    let input = pxhub::exchange::programs::from_json(serde_json::json!({
        "title": "Nông nghiệp xanh", "kind": "radio", "genre": "news", "languages": ["vi"]
    }))
    .expect("input");
    let p = rt.block_on(hub.create_program(caller, input)).expect("program");
    let incoming = IncomingFile {
        filename: master.file_name().map(|n| n.to_string_lossy().into_owned()),
        media_type: Some(media_type.into()),
        length: Some(std::fs::metadata(master).unwrap().len()),
        sha256: None,
    };
    // Streamed from the file (a 30-minute XDCAM master is 1.5 GB).
    rt.block_on(async {
        let file = tokio::fs::File::open(master).await.unwrap();
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20);
        hub.put_file(caller, p.id, FileRole::Master, incoming, chunks).await
    })
    .expect("master stored");
    eprintln!("analysing the master…");
    while rt.block_on(hub.analyze_next()).expect("analysis") {}
    p.id
}

/// The profile again, its earlier rendition forgotten: the next request
/// queues a new one.
fn fresh_profile(hub: &Hub, rt: &tokio::runtime::Runtime, input: &ProfileInput) {
    let _ = rt.block_on(hub.remove_profile(&Caller::operator(), &input.id));
    rt.block_on(hub.create_profile(&Caller::operator(), input.clone()))
        .expect("profile");
}

/// One rendition made by the hub: seconds, and the stored size.
fn hub_round(
    hub: &Hub,
    caller: &Caller,
    rt: &tokio::runtime::Runtime,
    id: ProgramId,
    input: &ProfileInput,
) -> (f64, u64) {
    fresh_profile(hub, rt, input);
    let station = caller.station.clone().unwrap();
    let asked = rt
        .block_on(hub.source(&station, id, FileRole::Master, Some(&input.id)))
        .expect("asked");
    assert!(matches!(asked, Rendition::Making(_)));
    let started = Instant::now();
    assert!(
        rt.block_on(hub.render_next()).expect("rendition"),
        "a rendition was due"
    );
    let secs = started.elapsed().as_secs_f64();
    match rt.block_on(hub.source(&station, id, FileRole::Master, Some(&input.id))) {
        Ok(Rendition::Ready(r)) => (secs, r.download.file.size),
        Ok(Rendition::Making(s)) => panic!("not made: {s:?}"),
        Err(e) => panic!("not made: {e}"),
    }
}

/// The same encode by FFmpeg alone: the gain the hub applies (a plain gain
/// for these masters), the profile's output options, `nice -n 10`.
fn ffmpeg_round(master: &Path, input: &ProfileInput, gain_db: f64, video: bool, out: &Path) -> f64 {
    let profile = input.clone().parse().expect("profile");
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "10", "ffmpeg", "-nostdin", "-v", "error", "-y", "-i"])
        .arg(master);
    if video {
        cmd.args(["-map", "0:v:0"]);
    } else {
        cmd.arg("-vn");
    }
    cmd.args(["-map", "0:a:0", "-sn", "-dn", "-map_metadata", "-1", "-af"])
        .arg(format!("volume={gain_db:.2}dB"))
        .args(pxhub::analysis::render::output_args(&profile))
        .arg(out);
    let started = Instant::now();
    assert!(cmd.status().expect("ffmpeg").success());
    started.elapsed().as_secs_f64()
}

/// The master's measured loudness, as the hub's analysis found it.
fn measured_lufs(master: &Path, rt: &tokio::runtime::Runtime) -> f64 {
    let engine = rt.block_on(pxhub::analysis::Engine::start(Default::default()));
    let m = rt.block_on(engine.measure(master, 2, None)).expect("measure");
    m.loudness.integrated_lufs.expect("not silent")
}

#[allow(clippy::too_many_arguments)]
fn compare(
    name: &str,
    root: &Path,
    rt: &tokio::runtime::Runtime,
    master: &Path,
    media_type: &str,
    input: &ProfileInput,
    video: bool,
    rounds: usize,
    rows: &mut Vec<Row>,
    problems: &mut Vec<String>,
) {
    let (hub, caller) = hub(&root.join(if video { "video" } else { "audio" }), rt);
    let id = program(&hub, &caller, rt, master, media_type);
    let gain = -23.0 - measured_lufs(master, rt);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let out = root.join(format!("{name}-alone.{}", if video { "mxf" } else { "wav" }));
    for round in 0..rounds {
        let alone = ffmpeg_round(master, input, gain, video, &out);
        let (secs, size) = hub_round(&hub, &caller, rt, id, input);
        let alone_size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "{name} round {round}: hub {secs:.2} s ({size} bytes), FFmpeg alone {alone:.2} s ({alone_size} bytes)"
        );
        // The same encode: sizes within the chunks the hub writes around it.
        if size.abs_diff(alone_size) > 64 * 1024 {
            problems.push(format!("{name}: the hub made {size} bytes, FFmpeg alone {alone_size}"));
        }
        ours.push(secs);
        theirs.push(alone);
        let _ = std::fs::remove_file(&out);
    }
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(h, b)| h / b).collect();
    let ratio = common::median(ratios);
    rows.push(Row {
        scenario: format!("rendition: {name} (the hub's whole job vs FFmpeg alone, same encode)"),
        hub: format!("{:.2} s", common::median(ours)),
        baseline: format!("{:.2} s", common::median(theirs)),
        ratio: Some(ratio),
        target: "≤ 1.15".into(),
        result: if ratio <= 1.15 { "PASS" } else { "MISS" }.into(),
    });
}

fn r128() -> Option<LoudnessTarget> {
    Some(LoudnessTarget {
        target_lufs: -23.0,
        max_true_peak_dbtp: -1.0,
    })
}

/// The number after `flag` on the command line, if given.
fn arg(flag: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == flag)?;
    Some(
        args.get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} N")),
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    common::main_with("bench-render", false, |root, rt| {
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        let minutes = arg("--audio-minutes").unwrap_or(if quick { 2 } else { 30 });
        eprintln!("making a {minutes}-minute stereo MP3…");
        let mp3 = root.join("program.mp3");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                &format!(
                    "anoisesrc=color=pink:amplitude=0.05:sample_rate=48000:duration={}",
                    minutes * 60
                ),
                "-af",
                "pan=stereo|c0=c0|c1=0.8*c0",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "192k",
            ],
            &mp3,
        );
        let bwf = ProfileInput {
            id: "bwf-mp2-r128".into(),
            name: "MP2 broadcast WAV".into(),
            container: "bwf".into(),
            audio_codec: Some("mp2".into()),
            loudness: r128(),
            ..Default::default()
        };
        let name = format!("{minutes}-min stereo MP3 to MP2 broadcast WAV at -23 LUFS");
        compare(
            &name,
            root,
            rt,
            &mp3,
            "audio/mpeg",
            &bwf,
            false,
            5,
            &mut rows,
            &mut problems,
        );

        let seconds = arg("--video-seconds").unwrap_or(if quick { 10 } else { 60 });
        eprintln!("making a {seconds}-second 720p video…");
        let mp4 = root.join("program.mp4");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size=1280x720:rate=25:duration={seconds}"),
                "-f",
                "lavfi",
                "-i",
                &format!("anoisesrc=color=pink:amplitude=0.05:sample_rate=48000:duration={seconds}"),
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-c:a",
                "aac",
                "-shortest",
            ],
            &mp4,
        );
        let mxf = ProfileInput {
            id: "xdcam-hd422".into(),
            name: "XDCAM HD422".into(),
            container: "mxf".into(),
            loudness: r128(),
            ..Default::default()
        };
        let name = format!("{seconds}-s 720p H.264 to XDCAM HD422 MXF at -23 LUFS");
        compare(
            &name,
            root,
            rt,
            &mp4,
            "video/mp4",
            &mxf,
            true,
            arg("--video-rounds").map_or(2, |r| r.max(1) as usize),
            &mut rows,
            &mut problems,
        );
        print_table("Renditions", &rows);
        print_problems(&problems);
        problems
    });
}
