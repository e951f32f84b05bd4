//! Analysis benchmark.
//!
//! ```text
//! cargo bench --bench analysis -- [--quick]
//! ```
//!
//! 1. The hub's analysis of a stereo MP3 (30 minutes): probe,
//!    decode to 48 kHz floats and the EBU R128 measurement in Rust, against
//!    the same FFmpeg decode alone (its samples thrown away), in the same
//!    run, rounds alternating. Target: at most 1.3× (the loudness pass must
//!    not dominate).
//! 2. Search while a video preview is made: `Hub::search` p99 on a catalog
//!    of 100k programs (drafts made through `Hub::create_program`, searched
//!    by their owner for a common word) while FFmpeg makes one 360p preview of
//!    a 60-second 1080p video (as the hub runs it: `nice`), against its p99
//!    with no job, same run. Target: at most 2× (jobs must not starve the
//!    server). `--quick`: 2k programs, 20 seconds of video, a 2-minute MP3.
//!
//! Media is made by FFmpeg's generators; a Markdown table goes to stdout.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{print_problems, print_table, Row};
use pxhub::analysis::{Engine, EngineSettings};
use pxhub::catalog::Catalog;
use pxhub::config::Settings;
use pxhub::domain::{ProgramStatus, Role, StationId, StationKind};
use pxhub::exchange::{Caller, Hub, NewStation, SearchRequest};
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

/// The decode the hub does, alone: FFmpeg to 48 kHz float samples, discarded,
/// at the niceness the hub gives it (`nice -n 10`), so that other work on the
/// machine weighs on both sides alike.
fn decode_alone(file: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("nice")
        .args(["-n", "10", "ffmpeg", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:a:0",
            "-ac",
            "2",
            "-ar",
            "48000",
            "-c:a",
            "pcm_f32le",
            "-f",
            "f32le",
            "pipe:1",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    started.elapsed()
}

fn percentile(mut ms: Vec<f64>, p: f64) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1]
}

fn at_most(scenario: String, hub: String, baseline: String, ratio: f64, max: f64) -> Row {
    Row {
        scenario,
        hub,
        baseline,
        ratio: Some(ratio),
        target: format!("≤ {max:.2}"),
        result: if ratio <= max { "PASS" } else { "MISS" }.into(),
    }
}

fn loudness(root: &Path, rt: &tokio::runtime::Runtime, minutes: u32, rows: &mut Vec<Row>, problems: &mut Vec<String>) {
    let mp3 = root.join("program.mp3");
    eprintln!("making a {minutes}-minute stereo MP3…");
    let d = (minutes * 60).to_string();
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("anoisesrc=color=pink:amplitude=0.1:sample_rate=44100:duration={d}"),
            "-af",
            "pan=stereo|c0=c0|c1=0.8*c0",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
        ],
        &mp3,
    );
    let engine = rt.block_on(Engine::start(EngineSettings::default()));
    if engine.version().is_none() {
        problems.push("FFmpeg not found".into());
        return;
    }
    let (mut hub, mut base) = (Vec::new(), Vec::new());
    for round in 0..3 {
        base.push(decode_alone(&mp3).as_secs_f64());
        let started = Instant::now();
        let probe = rt.block_on(engine.probe(&mp3)).expect("probe").expect("media");
        let m = rt
            .block_on(engine.measure(&mp3, 2, probe.duration_seconds))
            .expect("measure");
        hub.push(started.elapsed().as_secs_f64());
        eprintln!(
            "round {round}: hub {:.2} s, decode alone {:.2} s",
            hub[round], base[round]
        );
        if m.loudness.integrated_lufs.is_none() || (m.decoded_seconds - f64::from(minutes * 60)).abs() > 1.0 {
            problems.push(format!(
                "the measurement is wrong: {:?}, {} s",
                m.loudness, m.decoded_seconds
            ));
        }
    }
    let ratios: Vec<f64> = hub.iter().zip(&base).map(|(h, b)| h / b).collect();
    rows.push(at_most(
        format!("analysis of a {minutes}-min stereo MP3 (probe + decode + R128) vs the decode alone"),
        format!("{:.2} s", common::median(hub)),
        format!("{:.2} s", common::median(base)),
        common::median(ratios),
        1.3,
    ));
}

fn search_under_a_job(
    root: &Path,
    rt: &tokio::runtime::Runtime,
    programs: usize,
    video_seconds: u32,
    rows: &mut Vec<Row>,
    problems: &mut Vec<String>,
) {
    let settings = Settings {
        data_dir: root.join("data"),
        ..Settings::default()
    };
    std::fs::create_dir_all(&settings.data_dir).unwrap();
    let catalog = Catalog::open(&settings.catalog_path()).expect("catalog");
    let media = MediaStore::open(&settings.media()).expect("media");
    let hub = Hub::new(catalog, media, settings.exchange().expect("settings")).expect("hub");
    let station = StationId::parse("cao-bang").unwrap();
    rt.block_on(hub.create_station(
        &Caller::operator(),
        NewStation {
            id: station.to_string(),
            name: "Cao Bằng".into(),
            province: "Cao Bằng".into(),
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
    eprintln!("making {programs} programs…");
    let words = [
        "tin", "tức", "thời", "sự", "nông", "nghiệp", "văn", "hóa", "dân", "ca", "miền", "núi", "chợ", "phiên",
    ];
    for i in 0..programs {
        let title = format!(
            "{} {} {} {i}",
            words[i % 14],
            words[(i / 14) % 14],
            words[(i / 196) % 14]
        );
        let input = pxhub::exchange::programs::from_json(serde_json::json!({
            "title": title, "kind": "radio", "genre": "news", "languages": ["vi"]
        }))
        .expect("input");
        rt.block_on(hub.create_program(&caller, input)).expect("program");
    }
    let request = SearchRequest {
        q: Some("tin".into()),
        statuses: vec![ProgramStatus::Draft],
        limit: 20,
        ..Default::default()
    };
    let run = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| {
                let started = Instant::now();
                let page = rt.block_on(hub.search(&caller, request.clone())).expect("search");
                assert!(page.total > 0);
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect()
    };
    let _ = run(20);
    let count = 300;
    let quiet = run(count);

    eprintln!("making a 1080p video to preview…");
    let video = root.join("video.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=1920x1080:rate=25:duration={video_seconds}"),
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:sample_rate=48000:duration={video_seconds}"),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
        ],
        &video,
    );
    let engine = rt.block_on(Engine::start(EngineSettings::default()));
    let out = root.join("preview.mp4");
    let job = {
        let (engine, video, out) = (engine.clone(), video.clone(), out.clone());
        rt.spawn(async move { engine.video_preview(&video, &out, true).await })
    };
    // Let FFmpeg get going, then search while it works.
    std::thread::sleep(Duration::from_millis(500));
    let mut busy = Vec::new();
    while busy.len() < count && !job.is_finished() {
        busy.extend(run(10));
    }
    if busy.len() < count / 2 {
        problems.push(format!(
            "the preview finished after {} searches; the video is too short",
            busy.len()
        ));
    }
    match rt.block_on(job) {
        Ok(Ok(true)) => {}
        other => problems.push(format!("the preview was not made: {other:?}")),
    }
    let (p_quiet, p_busy) = (percentile(quiet, 0.99), percentile(busy, 0.99));
    rows.push(at_most(
        format!("search p99, {programs} programs, while a 1080p video preview is made vs no job"),
        format!("{p_busy:.2} ms"),
        format!("{p_quiet:.2} ms"),
        p_busy / p_quiet,
        2.0,
    ));
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    common::main_with("bench-analysis", false, |root, rt| {
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        loudness(root, rt, if quick { 2 } else { 30 }, &mut rows, &mut problems);
        let (programs, video_seconds) = if quick { (2_000, 20) } else { (100_000, 60) };
        search_under_a_job(root, rt, programs, video_seconds, &mut rows, &mut problems);
        print_table("Analysis", &rows);
        print_problems(&problems);
        problems
    });
}
