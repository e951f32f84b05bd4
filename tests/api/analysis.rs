//! Analysis and previews through the API: jobs run in the background, their
//! figures show under each file, previews are served like files (ranged,
//! ETag'd) to whoever may see the program, a master that is no media cannot
//! be published, and a job survives a `kill -9` of the hub.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, id, program, strict, TestApp};

/// Whether FFmpeg is here; in strict runs its absence fails the test.
pub(crate) fn ffmpeg_or_skip() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok || !strict(), "ffmpeg is missing: scripts/test.sh installs it");
    if !ok {
        eprintln!("ffmpeg not installed: skipping an analysis test (scripts/test.sh installs it)");
    }
    ok
}

/// Makes a file with FFmpeg's generators: `ffmpeg -v error -y <args> <out>`.
pub(crate) fn make(dir: &Path, name: &str, args: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(out).unwrap()
}

/// A 6-second stereo WAV: a 1 kHz tone at -23 dBFS per channel (-23 LUFS).
pub(crate) fn wav(dir: &Path) -> Vec<u8> {
    make(
        dir,
        "tone.wav",
        &[
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=pow(10\\,-23/20)*sin(2*PI*1000*t):s=48000:d=6",
            "-af",
            "pan=stereo|c0=c0|c1=c0",
            "-c:a",
            "pcm_s16le",
        ],
    )
}

/// ffprobe's view of `bytes`: (codec of the first stream, duration).
fn probe(dir: &Path, bytes: &[u8]) -> (String, f64) {
    let path = dir.join(format!("probe-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(&path)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["streams"][0]["codec_name"].as_str().unwrap().to_owned(),
        v["format"]["duration"].as_str().unwrap().parse().unwrap(),
    )
}

pub(crate) async fn analysed_app(configure: impl FnOnce(&mut pxhub::config::Settings)) -> TestApp {
    TestApp::spawn_with(|s| {
        s.analysis_workers = 1;
        configure(s);
    })
    .await
}

/// The program's `role` file's analysis once its state is `done` or
/// `failed` (a minute at most).
pub(crate) async fn analysis_of(app: &TestApp, token: &str, program_id: &str, role: &str) -> Value {
    for _ in 0..600 {
        let p: Value = app
            .get(token, &format!("/api/v1/programs/{program_id}"))
            .await
            .json()
            .await
            .unwrap();
        let file = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["role"] == role)
            .cloned();
        let a = file.map(|f| f["analysis"].clone()).unwrap_or(Value::Null);
        if a["state"] == "done" || a["state"] == "failed" {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the analysis did not finish");
}

/// An MP4 of 4 s: a test picture and a tone.
pub(crate) fn mp4(dir: &Path) -> Vec<u8> {
    make(
        dir,
        "v.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ],
    )
}

pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    body: &Value,
    media_type: &str,
    name: &str,
    bytes: Vec<u8>,
) -> String {
    let p = app.create_program(token, body).await;
    let r = app.put_file(token, id(&p), "master", media_type, name, bytes).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    id(&p).to_owned()
}

storage_suite!(a_file_is_analysed_and_its_preview_heard_before_taking);

async fn a_file_is_analysed_and_its_preview_heard_before_taking(app: TestApp) {
    if !ffmpeg_or_skip() {
        return;
    }
    // The app of the suite has no workers: previews are not ready.
    let dir = tempfile::tempdir().unwrap();
    let owner = app.station("thai-nguyen", "provincial").await;
    let p = upload(
        &app,
        &owner,
        &program("Bản tin"),
        "audio/wav",
        "tin.wav",
        wav(dir.path()),
    )
    .await;
    let shown = app.program_json(&owner, &json!({"id": p})).await;
    assert_eq!(shown["files"][0]["analysis"]["state"], "pending", "{shown}");
    let r = app
        .get(&owner, &format!("/api/v1/programs/{p}/files/master/preview"))
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "preview_not_ready").await;

    // The same store, now with a worker.
    let app = analysed_app(|s| {
        s.storage = app.settings.storage.clone();
        s.part_size = app.settings.part_size;
        s.max_upload_bytes = app.settings.max_upload_bytes;
    })
    .await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let heard = app.station("cao-bang", "provincial").await;
    let outside = app.station("lang-son", "provincial").await;
    let mut body = program("Phóng sự");
    body["rights"] = json!({
        "audience": "stations", "stations": ["cao-bang"],
        "available_from": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
    });
    let p = upload(&app, &owner, &body, "audio/wav", "phong-su.wav", wav(dir.path())).await;
    let a = analysis_of(&app, &owner, &p, "master").await;
    assert_eq!(a["state"], "done", "{a}");
    let r = app
        .post(&owner, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    assert!(a["container"].as_str().unwrap().contains("wav"), "{a}");
    assert!((a["duration_seconds"].as_f64().unwrap() - 6.0).abs() < 0.05, "{a}");
    let s = &a["streams"][0];
    assert_eq!(
        (s["kind"].as_str(), s["codec"].as_str()),
        (Some("audio"), Some("pcm_s16le")),
        "{a}"
    );
    assert_eq!(
        (s["channels"].as_u64(), s["sample_rate"].as_u64()),
        (Some(2), Some(48000))
    );
    assert!(s.get("width").is_none(), "absent fields are omitted: {s}");
    let lufs = a["loudness"]["integrated_lufs"].as_f64().unwrap();
    assert!((lufs + 23.0).abs() <= 0.1, "{a}");
    assert!(a["loudness"]["true_peak_dbtp"].as_f64().is_some());
    assert_eq!(a["qc"]["verdict"], "pass", "{a}");
    // The uploader named no duration: the master's is taken.
    let shown = app.program_json(&owner, &json!({"id": p})).await;
    assert_eq!(shown["duration_seconds"], 6, "{shown}");

    // A station of the audience hears it before the window opens; the
    // master itself it may not take yet.
    let path = format!("/api/v1/programs/{p}/files/master");
    assert_problem(
        app.get(&heard, &path).await,
        StatusCode::FORBIDDEN,
        "rights_window_closed",
    )
    .await;
    let r = app.get(&heard, &format!("{path}/preview")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "audio/mp4");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let preview = r.bytes().await.unwrap().to_vec();
    let (codec, seconds) = probe(dir.path(), &preview);
    assert_eq!(codec, "aac");
    assert!((seconds - 6.0).abs() <= 0.1, "{seconds}");
    // Ranged and ETag'd like a file.
    let r = app
        .request(Method::GET, Some(&heard), &format!("{path}/preview"))
        .header("Range", "bytes=10-109")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 10-109/{}", preview.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), preview[10..110]);
    let r = app
        .request(Method::GET, Some(&heard), &format!("{path}/preview"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = app
        .request(Method::GET, Some(&heard), &format!("{path}/preview"))
        .header("Range", format!("bytes={}-", preview.len()))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable").await;
    let r = app
        .request(Method::HEAD, Some(&heard), &format!("{path}/preview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], preview.len().to_string().as_str());
    let w: Value = app
        .get(&heard, &format!("{path}/waveform.json"))
        .await
        .json()
        .await
        .unwrap();
    assert!(w["peaks"].as_array().unwrap().len() >= 50, "{w}");
    assert_problem(
        app.get(&heard, &format!("{path}/poster.jpg")).await,
        StatusCode::NOT_FOUND,
        "preview_not_ready",
    )
    .await;
    // A station outside the audience: as for the master, nothing is there.
    for what in ["", "/preview", "/waveform.json"] {
        assert_problem(
            app.get(&outside, &format!("{path}{what}")).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // Hearing is not taking.
    let takes: Value = app
        .get(&owner, &format!("/api/v1/programs/{p}/takes"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(takes["takes"].as_array().unwrap().len(), 0, "{takes}");
}

#[tokio::test]
async fn the_feed_tells_of_analyses_with_their_verdict() {
    if !ffmpeg_or_skip() {
        return;
    }
    let app = analysed_app(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = app.station("thai-nguyen", "provincial").await;
    let national = app.station("vtv", "national").await;
    let mut body = program("Dân ca");
    body["duration_seconds"] = json!(600);
    let p = upload(&app, &owner, &body, "audio/wav", "dan-ca.wav", wav(dir.path())).await;
    let a = analysis_of(&app, &owner, &p, "master").await;
    let r = app
        .post(&owner, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Declared 600 s, measured 6 s: flagged, not blocked.
    assert_eq!(a["qc"]["verdict"], "warn", "{a}");
    assert!(a["qc"]["reasons"][0].as_str().unwrap().contains("600"), "{a}");
    // Publishing waited for the analysis: partners learn of the program
    // with its verdict (its `file.analyzed` came while it was a draft).
    let feed: Value = app.get(&national, "/api/v1/feed?limit=100").await.json().await.unwrap();
    let events: Vec<&Value> = feed["items"].as_array().unwrap().iter().collect();
    assert_eq!(events.len(), 1, "{feed}");
    assert_eq!(events[0]["type"], "program.published");
    assert_eq!(events[0]["program"]["files"][0]["analysis"]["qc"]["verdict"], "warn");
}

#[tokio::test]
async fn random_bytes_sent_as_mp3_fail_and_cannot_be_published() {
    if !ffmpeg_or_skip() {
        return;
    }
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let noise: Vec<u8> = (0..1_000_000u32).map(|_| rand::random::<u8>()).collect();
    let p = upload(&app, &owner, &program("Tiếng ồn"), "audio/mpeg", "noise.mp3", noise).await;
    let a = analysis_of(&app, &owner, &p, "master").await;
    assert_eq!(a["state"], "done");
    assert_eq!(a["qc"]["verdict"], "fail", "{a}");
    assert!(!a["qc"]["reasons"].as_array().unwrap().is_empty());
    let r = app
        .post(&owner, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_problem(r, StatusCode::CONFLICT, "master_not_media").await;
    assert_problem(
        app.get(&owner, &format!("/api/v1/programs/{p}/files/master/preview"))
            .await,
        StatusCode::NOT_FOUND,
        "preview_not_ready",
    )
    .await;
}

#[tokio::test]
async fn the_same_content_uploaded_twice_is_analysed_once() {
    if !ffmpeg_or_skip() {
        return;
    }
    let app = analysed_app(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = app.station("thai-nguyen", "provincial").await;
    let other = app.station("cao-bang", "provincial").await;
    let bytes = wav(dir.path());
    let a = upload(&app, &owner, &program("Một"), "audio/wav", "a.wav", bytes.clone()).await;
    let b = upload(&app, &other, &program("Hai"), "audio/wav", "b.wav", bytes).await;
    let first = analysis_of(&app, &owner, &a, "master").await;
    let second = analysis_of(&app, &other, &b, "master").await;
    assert_eq!(first, second);
    assert_eq!(app.count("analysis_jobs"), 1);
    app.wait_for_metric("pxhub_analyses_done_total", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.metric("pxhub_analyses_done_total").await, 1);

    // The previews go with the last file of that content.
    let previews = app.settings.data_dir.join("media/previews");
    let count = || walk(&previews);
    assert_eq!(count(), 2, "the listening copy and the waveform");
    let r = app.delete(&owner, &format!("/api/v1/programs/{a}/files/master")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!((app.count("analysis_jobs"), count()), (1, 2), "still used");
    let r = app.delete(&other, &format!("/api/v1/programs/{b}/files/master")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!((app.count("analysis_jobs"), count()), (0, 0));
}

/// Audio and video have caps of their own: with no place for video, a
/// video file waits while audio files behind it are analysed; with no place
/// for audio, the reverse.
#[tokio::test]
async fn audio_and_video_are_capped_apart() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bytes = wav(dir.path());
    for (audio, video) in [(1, 0), (0, 1)] {
        let app = analysed_app(|s| {
            s.analysis_workers = 2;
            s.analysis_audio_workers = audio;
            s.analysis_video_workers = video;
        })
        .await;
        let owner = app.station("thai-nguyen", "provincial").await;
        // The video first: it is due first.
        // (Other bytes than the WAV's: one content is one job.)
        let not_media = format!("không phải video {audio}{video}").into_bytes();
        let v = upload(&app, &owner, &program("Hình"), "video/mp4", "v.mp4", not_media).await;
        let a = upload(&app, &owner, &program("Tiếng"), "audio/wav", "a.wav", bytes.clone()).await;
        let (done, waits) = if audio == 1 { (&a, &v) } else { (&v, &a) };
        let finished = analysis_of(&app, &owner, done, "master").await;
        assert!(
            finished["state"] == "done" || finished["state"] == "failed",
            "{finished}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let shown = app.program_json(&owner, &json!({"id": waits})).await;
        assert_eq!(
            shown["files"][0]["analysis"]["state"], "pending",
            "{audio} {video}: {shown}"
        );
    }
}

/// Files under `dir`, at any depth.
fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 })
            .sum()
    })
}

#[tokio::test]
async fn without_ffmpeg_the_hub_runs_and_files_wait_saying_why() {
    let app = analysed_app(|s| {
        s.ffmpeg = "/nonexistent/ffmpeg".into();
        s.ffprobe = "/nonexistent/ffprobe".into();
    })
    .await;
    let ready: Value = app.get(&app.admin, "/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["ffmpeg"], Value::Null);
    assert!(app.text("/metrics").await.contains("pxhub_ffmpeg_info{version=\"\"} 0"));
    let owner = app.station("thai-nguyen", "provincial").await;
    let p = upload(&app, &owner, &program("Chờ"), "audio/mpeg", "a.mp3", b"abc".to_vec()).await;
    for _ in 0..100 {
        let shown = app.program_json(&owner, &json!({"id": p})).await;
        let a = &shown["files"][0]["analysis"];
        assert_eq!(a["state"], "pending");
        if a["error"].as_str().is_some_and(|e| e.contains("FFmpeg")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the waiting file does not say why");
}

#[tokio::test]
async fn readyz_and_metrics_name_the_ffmpeg_version() {
    if !ffmpeg_or_skip() {
        return;
    }
    let app = TestApp::spawn().await;
    let ready: Value = app.get(&app.admin, "/readyz").await.json().await.unwrap();
    let version = ready["ffmpeg"].as_str().expect("a version");
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()) || version.starts_with('n'),
        "{version}"
    );
    assert!(app
        .text("/metrics")
        .await
        .contains(&format!("pxhub_ffmpeg_info{{version=\"{version}\"}} 1")));
}

// ---- `pxhub serve` as a process: kill -9 mid-analysis, `pxhub analyze`

fn pxhub(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pxhub"));
    c.arg("--data-dir").arg(data).env_remove("PXHUB_DATA_DIR");
    c
}

fn output(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is waited for by `Server`'s drop; a failed start panics the test.
#[allow(clippy::zombie_processes)]
async fn serve(data: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = pxhub(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log", "warn"])
        .env("PXHUB_ANALYSIS_WORKERS", "1")
        .env("PXHUB_ANALYSIS_LEASE_SECS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("pxhub serve did not start");
}

async fn get(server: &Server, token: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn state(server: &Server, token: &str, p: &str) -> String {
    let shown = get(server, token, &format!("/api/v1/programs/{p}")).await;
    shown["files"][0]["analysis"]["state"].as_str().unwrap_or("").to_owned()
}

fn db(data: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(data.join("catalog.db")).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn a_job_cut_by_kill_9_is_finished_after_restart_once() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    output(pxhub(&data).args([
        "station",
        "add",
        "--id",
        "thai-nguyen",
        "--name",
        "TN",
        "--province",
        "Thái Nguyên",
    ]));
    output(pxhub(&data).args([
        "station",
        "add",
        "--id",
        "vtv",
        "--name",
        "VTV",
        "--province",
        "Hà Nội",
        "--kind",
        "national",
    ]));
    let token = output(pxhub(&data).args(["token", "issue", "--station", "thai-nguyen"]));
    let national = output(pxhub(&data).args(["token", "issue", "--station", "vtv"]));
    // Long enough to be caught running: five minutes of stereo tone.
    let master = make(
        dir.path(),
        "long.flac",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=48000:duration=300",
            "-ac",
            "2",
            "-c:a",
            "flac",
        ],
    );

    let flac_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&master));
    let job = |sql: &str| db(&data, &sql.replace("JOB", &format!("sha256 = '{flac_sha}'")));

    let mut server = serve(&data).await;
    let client = reqwest::Client::new();
    let p: Value = client
        .post(format!("{}/api/v1/programs", server.base))
        .bearer_auth(&token)
        .json(&program("Dài"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = id(&p).to_owned();
    let put_master = |name: &str, media_type: &str, body: Vec<u8>| {
        client
            .put(format!(
                "{}/api/v1/programs/{p}/files/master?filename={name}",
                server.base
            ))
            .bearer_auth(&token)
            .header("Content-Type", media_type.to_owned())
            .body(body)
            .send()
    };
    // Published with a short master (publishing waits for its analysis)…
    let r = put_master("short.wav", "audio/wav", wav(dir.path())).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let publish = || {
        client
            .post(format!("{}/api/v1/programs/{p}/publish", server.base))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
    };
    let r = publish().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "not before its analysis has ended");
    assert!(r.headers().contains_key("retry-after"));
    for _ in 0..600 {
        if state(&server, &token, &p).await == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(publish().await.unwrap().status(), StatusCode::OK);
    // …then the long one in its place, whose analysis partners hear of.
    let r = put_master("long.flac", "audio/flac", master).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut caught = false;
    for _ in 0..400 {
        match state(&server, &token, &p).await.as_str() {
            "running" => {
                caught = true;
                break;
            }
            "done" => break,
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    assert!(caught, "the job was not seen running");
    // SIGKILL: no clean-up of any kind.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert_eq!(
        job("SELECT count(*) FROM analysis_jobs WHERE JOB AND state = 'running'"),
        1
    );

    let server = serve(&data).await;
    // Upper bounds only: five minutes of audio on a loaded machine.
    let mut done = false;
    for _ in 0..3000 {
        if state(&server, &token, &p).await == "done" {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the job was not finished after the restart");
    assert_eq!(job("SELECT attempts FROM analysis_jobs WHERE JOB"), 2);
    let feed = get(&server, &national, "/api/v1/feed?limit=100").await;
    let analysed = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "file.analyzed")
        .count();
    assert_eq!(analysed, 1, "{feed}");

    // `pxhub analyze` queues it again; the running hub picks it up.
    output(pxhub(&data).args(["analyze", "--program", &p]));
    assert_eq!(
        job("SELECT count(*) FROM analysis_jobs WHERE JOB AND state = 'done'"),
        0
    );
    for _ in 0..3000 {
        if job("SELECT count(*) FROM analysis_jobs WHERE JOB AND state = 'done'") == 1 {
            let o = pxhub(&data).args(["analyze"]).output().unwrap();
            assert!(!o.status.success(), "--program or --all is required");
            output(pxhub(&data).args(["analyze", "--all"]));
            assert_eq!(
                job("SELECT count(*) FROM analysis_jobs WHERE JOB AND state = 'pending'"),
                1
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the queued job did not run again");
}

#[tokio::test]
async fn search_filters_on_what_was_measured() {
    if !ffmpeg_or_skip() {
        return;
    }
    let app = analysed_app(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = app.station("thai-nguyen", "provincial").await;
    let mut body = program("Tiếng");
    // Declared ten minutes; the master lasts six seconds.
    body["duration_seconds"] = json!(600);
    let audio = upload(&app, &owner, &body, "audio/wav", "a.wav", wav(dir.path())).await;
    let video_bytes = mp4(dir.path());
    let mut body = program("Hình");
    body["kind"] = json!("tv");
    let video = upload(&app, &owner, &body, "video/mp4", "v.mp4", video_bytes).await;
    for p in [&audio, &video] {
        assert_eq!(analysis_of(&app, &owner, p, "master").await["state"], "done");
        let r = app
            .post(&owner, &format!("/api/v1/programs/{p}/publish"), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let a = analysis_of(&app, &owner, &video, "master").await;
    let v = a["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "video")
        .unwrap();
    assert_eq!(
        (v["codec"].as_str(), v["width"].as_u64(), v["frame_rate"].as_f64()),
        (Some("h264"), Some(320), Some(25.0))
    );
    assert_eq!(app.find(&owner, "has_video=true").await, [video.as_str()]);
    assert_eq!(app.find(&owner, "has_video=false").await, [audio.as_str()]);
    assert_eq!(app.find(&owner, "codec=pcm_s16le").await, [audio.as_str()]);
    let mut both = app.find(&owner, "codec=h264&codec=pcm_s16le").await;
    both.sort();
    let mut want = vec![audio.clone(), video.clone()];
    want.sort();
    assert_eq!(both, want);
    // Duration ranges use the measured duration.
    assert_eq!(app.find(&owner, "max_duration=5").await, [video.as_str()]);
    assert_eq!(
        app.find(&owner, "min_duration=5&max_duration=10").await,
        [audio.as_str()]
    );
    assert!(app.find(&owner, "min_duration=500").await.is_empty());
    // The EBUCore sidecar carries the technical figures.
    let xml = app
        .get(&owner, &format!("/api/v1/programs/{video}/ebucore.xml"))
        .await
        .text()
        .await
        .unwrap();
    crate::probes::assert_valid_ebucore(&xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let text = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    let label = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.attribute("typeLabel"))
            .map(str::to_owned)
    };
    assert_eq!(text("width").as_deref(), Some("320"), "{xml}");
    assert_eq!(text("height").as_deref(), Some("240"));
    assert_eq!(text("frameRate").as_deref(), Some("25"));
    assert_eq!(label("videoEncoding").as_deref(), Some("h264"));
    assert_eq!(label("audioEncoding").as_deref(), Some("aac"));
    assert_eq!(text("channels").as_deref(), Some("1"));
    let format_label = doc
        .descendants()
        .find(|n| n.tag_name().name() == "containerEncoding")
        .and_then(|n| n.attribute("formatLabel"));
    assert!(format_label.unwrap().contains("mp4"));
    // The loudness, in EBUCore's own loudness elements.
    let loudness = doc
        .descendants()
        .find(|n| n.tag_name().name() == "loudnessMetadata")
        .unwrap();
    for figure in ["integratedLoudness", "maxTruePeak"] {
        let v = loudness.children().find(|n| n.tag_name().name() == figure).unwrap();
        assert!(v.text().unwrap().parse::<f64>().unwrap() < 0.0, "{figure}");
    }
    // Elements in the order of EBUCore's formatType.
    let format = doc.descendants().find(|n| n.tag_name().name() == "format").unwrap();
    let order: Vec<&str> = format
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    let pos = |n: &str| order.iter().position(|x| *x == n).unwrap();
    assert!(pos("videoFormat") < pos("audioFormat") && pos("audioFormat") < pos("containerFormat"));
    assert!(pos("containerFormat") < pos("fileSize"), "{order:?}");

    let r = app.get(&owner, "/api/v1/programs?codec=h264;rm").await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}
