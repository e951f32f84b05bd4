//! Delivery profiles and renditions through the API: the operator's profiles
//! (bad ones change nothing), follows and stations naming them, renditions
//! made once per (content, profile) on first request (202 while made), at
//! the profile's loudness as the hub's meter and FFmpeg's `ebur128` read it,
//! broadcast WAV with `bext` and `cart` as `wavinfo` reads them, XDCAM MXF
//! as `mediainfo` recognises it, and a master FFmpeg cannot decode failing
//! with its reason.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Digest;

use crate::analysis::{analysed_app, analysis_of, ffmpeg_or_skip, upload};
use crate::helpers::{assert_problem, fields, program, strict, TestApp};

/// Uploads the WAV `bytes` named `name` as the master of a new program
/// `body`, waits for its analysis and publishes it: the program's id.
async fn published(app: &TestApp, owner: &str, body: &Value, name: &str, bytes: Vec<u8>) -> String {
    let p = upload(app, owner, body, "audio/wav", name, bytes).await;
    assert_eq!(analysis_of(app, owner, &p, "master").await["state"], "done");
    let r = app
        .post(owner, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    p
}

storage_suite!(a_rendition_is_made_and_served_from_either_store);

/// On the local store and on S3: the master copied out for FFmpeg, the
/// rendition stored, served whole and in ranges across its chunks.
async fn a_rendition_is_made_and_served_from_either_store(app: TestApp) {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|s| {
        s.storage = app.settings.storage.clone();
        s.part_size = app.settings.part_size;
        s.max_upload_bytes = app.settings.max_upload_bytes;
    })
    .await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let taker = app.station("cao-bang", "provincial").await;
    add_profile(&app, &r128("bwf-mp2-r128", "bwf", "mp2")).await;
    let p = published(
        &app,
        &owner,
        &program("Tin sáng"),
        "tin.wav",
        tone(dir.path(), "t.wav", -3.0, 5),
    )
    .await;
    let r = rendition(&app, &taker, &p, "bwf-mp2-r128").await;
    assert_eq!(r.status(), StatusCode::OK);
    let digest = r.headers()["content-digest"].to_str().unwrap().to_owned();
    let whole = r.bytes().await.unwrap().to_vec();
    assert_eq!(digest, format!("sha-256=:{}:", sha256_b64(&whole)));
    let (i, tp) = ebur128(dir.path(), &whole);
    assert!((i + 23.0).abs() <= 0.5 && tp <= -1.0, "{i} LUFS, {tp} dBTP");
    let n = whole.len();
    let path = format!("/api/v1/programs/{p}/files/master/renditions/bwf-mp2-r128");
    let r = app
        .request(Method::GET, Some(&taker), &path)
        .header("Range", format!("bytes={}-", n - 3000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap(), whole[n - 3000..]);
    assert_eq!(renditions_stored(&app).await.len(), 1);
}

pub(crate) fn r128(id: &str, container: &str, audio_codec: &str) -> Value {
    json!({"id": id, "name": format!("{id} R128"), "container": container, "audio_codec": audio_codec,
        "loudness": {"target_lufs": -23, "max_true_peak_dbtp": -1}})
}

pub(crate) async fn add_profile(app: &TestApp, body: &Value) {
    let r = app.post(&app.admin, "/api/v1/profiles", body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn profiles_are_the_operators_and_bad_ones_change_nothing() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let good = r128("bwf-r128", "bwf", "pcm");
    assert_problem(
        app.post(&tn, "/api/v1/profiles", &good).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    add_profile(&app, &good).await;
    let listed: Value = app.get(&tn, "/api/v1/profiles").await.json().await.unwrap();
    let p = &listed["items"][0];
    assert_eq!(
        (
            &p["id"],
            &p["container"],
            &p["audio_codec"],
            &p["sample_rate"],
            &p["bit_depth"],
            &p["channels"]
        ),
        (
            &json!("bwf-r128"),
            &json!("bwf"),
            &json!("pcm"),
            &json!(48000),
            &json!(24),
            &json!(2)
        ),
        "{listed}"
    );
    assert_eq!(p["loudness"], json!({"target_lufs": -23.0, "max_true_peak_dbtp": -1.0}));
    assert_problem(
        app.post(&app.admin, "/api/v1/profiles", &good).await,
        StatusCode::CONFLICT,
        "profile_exists",
    )
    .await;

    // What FFmpeg cannot make: each refused by field, nothing kept.
    let bad = [
        (
            json!({"id": "x1", "name": "X", "container": "bwf", "audio_codec": "opus"}),
            "audio_codec",
        ),
        (
            json!({"id": "x2", "name": "X", "container": "bwf", "audio_codec": "mp2", "sample_rate": 96000}),
            "sample_rate",
        ),
        (
            json!({"id": "x3", "name": "X", "container": "mxf", "sample_rate": 44100}),
            "sample_rate",
        ),
        (json!({"id": "x4", "name": "X", "container": "flac"}), "container"),
        (
            json!({"id": "x5", "name": "X", "container": "mp3", "channels": 6}),
            "channels",
        ),
        (
            json!({"id": "x6", "name": "X", "container": "m4a", "bit_depth": 24}),
            "bit_depth",
        ),
        (
            json!({"id": "x7", "name": "X", "container": "m4a", "video_codec": "h264"}),
            "video_codec",
        ),
        (json!({"id": "X 8", "name": "X", "container": "keep"}), "id"),
        (
            json!({"id": "x9", "name": "X", "container": "keep", "loudness": {"target_lufs": -23, "max_true_peak_dbtp": -1}}),
            "loudness",
        ),
        (
            json!({"id": "x10", "name": "X", "container": "bwf", "loudness": {"target_lufs": 5, "max_true_peak_dbtp": -1}}),
            "loudness.target_lufs",
        ),
    ];
    for (body, field) in bad {
        let r = app.post(&app.admin, "/api/v1/profiles", &body).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&problem), [field], "{body}: {problem}");
    }
    // A name is refused with its reason.
    for (name, why) in [
        (
            "Đài\u{200B}",
            "must not contain invisible or direction-changing characters",
        ),
        ("Đài\u{7}", "must not contain control characters"),
        (" ", "must be 1 to 200 characters"),
    ] {
        let body = json!({"id": "x11", "name": name, "container": "keep"});
        let r = app.post(&app.admin, "/api/v1/profiles", &body).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(
            problem["errors"],
            json!([{"field": "name", "message": why}]),
            "{name:?}"
        );
    }
    assert_eq!(app.count("profiles"), 1);

    // Follows name a profile and a cut ID.
    let follow = |profile: &str, cut: &str| json!({"kind": "series", "value": "Nông nghiệp xanh", "profile": profile, "cut_id": cut});
    let r = app.post(&tn, "/api/v1/follows", &follow("nope", "4501")).await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&problem), ["profile"]);
    let r = app.post(&tn, "/api/v1/follows", &follow("bwf-r128", "45a1")).await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&problem), ["cut_id"]);
    assert_eq!(app.count("follows"), 0);
    let r = app.post(&tn, "/api/v1/follows", &follow("bwf-r128", "4501")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let f: Value = r.json().await.unwrap();
    assert_eq!((&f["profile"], &f["cut_id"]), (&json!("bwf-r128"), &json!("4501")));

    // A profile in use stays.
    assert_problem(
        app.delete(&app.admin, "/api/v1/profiles/bwf-r128").await,
        StatusCode::CONFLICT,
        "profile_in_use",
    )
    .await;
    assert_eq!(
        app.delete(&tn, &format!("/api/v1/follows/{}", f["id"].as_str().unwrap()))
            .await
            .status(),
        204
    );

    // A station's default profile: its own editors or the operator set it.
    let r = app
        .patch(&tn, "/api/v1/stations/thai-nguyen", &json!({"default_profile": "nope"}))
        .await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&problem), ["default_profile"]);
    assert_problem(
        app.patch(
            &cb,
            "/api/v1/stations/thai-nguyen",
            &json!({"default_profile": "bwf-r128"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.patch(
            &app.admin,
            "/api/v1/stations/ha-giang",
            &json!({"default_profile": "bwf-r128"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r = app
        .patch(
            &tn,
            "/api/v1/stations/thai-nguyen",
            &json!({"default_profile": "bwf-r128"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["default_profile"], "bwf-r128");
    assert_problem(
        app.delete(&app.admin, "/api/v1/profiles/bwf-r128").await,
        StatusCode::CONFLICT,
        "profile_in_use",
    )
    .await;
    let r = app
        .patch(&tn, "/api/v1/stations/thai-nguyen", &json!({"default_profile": null}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_problem(
        app.delete(&tn, "/api/v1/profiles/bwf-r128").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(app.delete(&app.admin, "/api/v1/profiles/bwf-r128").await.status(), 204);
    assert_problem(
        app.delete(&app.admin, "/api/v1/profiles/bwf-r128").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(app.count("profiles"), 0);
}

/// A Tech 3341-style stereo 1 kHz tone (lavfi's sine is −18.06 dBFS; the
/// same signal on both channels reads that in LUFS), `gain_db` louder.
pub(crate) fn tone(dir: &Path, name: &str, gain_db: f64, seconds: u32) -> Vec<u8> {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=f=1000:r=48000:d={seconds}"))
        .arg("-af")
        .arg(format!("pan=stereo|c0=c0|c1=c0,volume={gain_db}dB"))
        .args(["-c:a", "pcm_s24le"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// FFmpeg's `ebur128` reading of `bytes`: (integrated LUFS, true peak dBTP);
/// mono as heard on two loudspeakers (`dualmono`, as BS.1770 and the hub count it).
pub(crate) fn ebur128(dir: &Path, bytes: &[u8]) -> (f64, f64) {
    let path = dir.join(format!("m-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-nostats", "-i"])
        .arg(&path)
        .args([
            "-af",
            "ebur128=peak=true:dualmono=true:framelog=verbose",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text.rsplit("Summary:").next().unwrap();
    let value = |label: &str| -> f64 {
        let line = summary.lines().find(|l| l.trim_start().starts_with(label)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

/// Asks for a rendition until it is made (a minute at most); the answer.
pub(crate) async fn rendition(app: &TestApp, token: &str, program: &str, profile: &str) -> reqwest::Response {
    let path = format!("/api/v1/programs/{program}/files/master/renditions/{profile}");
    for _ in 0..600 {
        let r = app.get(token, &path).await;
        if r.status() != StatusCode::ACCEPTED {
            return r;
        }
        assert_eq!(r.headers()["retry-after"], "10");
        let state: Value = r.json().await.unwrap();
        assert!(state["state"] == "pending" || state["state"] == "running", "{state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the rendition was not made");
}

/// The Python with wavinfo that the test command installed.
pub(crate) fn python() -> Option<String> {
    let p = std::env::var("PXHUB_TEST_PYTHON").ok();
    assert!(p.is_some() || !strict(), "scripts/test.sh installs wavinfo");
    if p.is_none() {
        eprintln!("PXHUB_TEST_PYTHON not set: skipping the wavinfo reading (scripts/test.sh runs it)");
    }
    p
}

/// `bext` as wavinfo reads it, and the `cart` chunk's fields (wavinfo finds
/// the chunk; AES46's fixed layout is read here).
pub(crate) fn wavinfo(python: &str, path: &Path) -> Value {
    let script = r#"
import json, sys, struct, wavinfo
from wavinfo.riff_parser import parse_chunk
w = wavinfo.WavInfoReader(sys.argv[1])
with open(sys.argv[1], 'rb') as f:
    riff = parse_chunk(f)
    cart = next(c for c in riff.children if c.ident == b'cart')
    data = cart.read_data(f)
text = lambda b: b.split(b'\0')[0].decode('ascii')
fields = struct.unpack('<4s64s64s64s64s64s64s64s10s8s10s8s', data[:4 + 64 * 7 + 36])
print(json.dumps({
    'bext': w.bext.to_dict() | {'umid': None},
    'fmt': {'channels': w.fmt.channel_count, 'rate': w.fmt.sample_rate, 'bits': w.fmt.bits_per_sample},
    'frames': w.data.frame_count,
    'cart': {'version': text(fields[0]), 'title': text(fields[1]), 'artist': text(fields[2]),
             'cut_id': text(fields[3]), 'start_date': text(fields[8]), 'start_time': text(fields[9]),
             'end_date': text(fields[10]), 'end_time': text(fields[11])},
}))
"#;
    let out = Command::new(python).arg("-c").arg(script).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The keys of the rendition objects in the store.
async fn renditions_stored(app: &TestApp) -> Vec<String> {
    let keys = app.media().preview_keys().await.unwrap();
    keys.into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains("/rendition-"))
        .collect()
}

fn sha256_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn quiet_and_loud_masters_are_rendered_to_r128_broadcast_wav_with_bext_and_cart() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let taker = app.station("cao-bang", "provincial").await;
    add_profile(&app, &r128("bwf-r128", "bwf", "pcm")).await;
    add_profile(&app, &r128("bwf-mp2-r128", "bwf", "mp2")).await;
    let r = app
        .post(
            &taker,
            "/api/v1/follows",
            &json!({"kind": "series", "value": "Nông nghiệp xanh", "profile": "bwf-r128", "cut_id": "4501"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let until = "2027-06-30T16:59:59Z";
    let from = "2026-12-01T00:00:00Z";
    // −30 and −16 LUFS masters (−18.06 dBFS sine moved by −11.94 and +2.06 dB).
    for (gain, title) in [(-11.94, "Nông nghiệp xanh số 1"), (2.06, "Nông nghiệp xanh số 2")] {
        let mut body = program(title);
        body["series"] = json!("Nông nghiệp xanh");
        body["rights"] = json!({"audience": "cluster", "available_from": from, "available_until": until});
        let master = tone(dir.path(), "m.wav", gain, 12);
        let p = upload(&app, &owner, &body, "audio/wav", "nong-nghiep.wav", master).await;
        let a = analysis_of(&app, &owner, &p, "master").await;
        let measured = a["loudness"]["integrated_lufs"].as_f64().unwrap();
        assert!((measured - (-18.06 + gain)).abs() < 0.3, "{a}");
        let r = app
            .post(&owner, &format!("/api/v1/programs/{p}/publish"), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

        for profile in ["bwf-r128", "bwf-mp2-r128"] {
            let r = rendition(&app, &taker, &p, profile).await;
            assert_eq!(r.status(), StatusCode::OK, "{profile}: {}", r.text().await.unwrap());
            let h = r.headers().clone();
            assert_eq!(h["content-type"], "audio/wav");
            assert!(
                h["content-disposition"].to_str().unwrap().contains("nong-nghiep.wav"),
                "{h:?}"
            );
            let bytes = r.bytes().await.unwrap().to_vec();
            let digest = format!("sha-256=:{}:", sha256_b64(&bytes));
            assert_eq!(h["content-digest"], digest.as_str());
            let hex = hex::encode(sha2::Sha256::digest(&bytes));
            assert_eq!(h["etag"], format!("\"{hex}\"").as_str());

            // FFmpeg's meter: −23 ± 0.5 LUFS, true peak at most −1 dBTP.
            let (i, tp) = ebur128(dir.path(), &bytes);
            assert!((i + 23.0).abs() <= 0.5, "{title} {profile}: {i} LUFS");
            assert!(tp <= -1.0, "{title} {profile}: {tp} dBTP");
            let path = dir.path().join(format!("{profile}.wav"));
            std::fs::write(&path, &bytes).unwrap();
            let codec = Command::new("ffprobe")
                .args(["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0"])
                .arg(&path)
                .output()
                .unwrap();
            let want = if profile == "bwf-r128" { "pcm_s24le" } else { "mp2" };
            assert_eq!(String::from_utf8_lossy(&codec.stdout).trim(), want);

            let Some(python) = python() else { continue };
            let w = wavinfo(&python, &path);
            let bext = &w["bext"];
            // The hub's own meter, as the bext loudness fields carry it.
            let hub_i = bext["loudness_value"].as_f64().unwrap();
            assert!((hub_i + 23.0).abs() <= 0.5, "{w}");
            assert!(bext["max_true_peak"].as_f64().unwrap() <= -1.0, "{w}");
            assert_eq!(bext["version"], 2);
            let ascii = title.replace("ô", "o").replace("ệ", "e").replace("ố", "o");
            assert_eq!(bext["description"], ascii.as_str(), "{w}");
            assert_eq!(bext["originator"], "Dai thai-nguyen", "{w}");
            assert_eq!(bext["originator_date"].as_str().unwrap().len(), 10, "{w}");
            let cart = &w["cart"];
            assert_eq!(
                (&cart["version"], &cart["title"], &cart["artist"], &cart["cut_id"]),
                (&json!("0101"), &json!(ascii), &json!("Dai thai-nguyen"), &json!("4501")),
                "{w}"
            );
            assert_eq!(
                (
                    &cart["start_date"],
                    &cart["start_time"],
                    &cart["end_date"],
                    &cart["end_time"]
                ),
                (
                    &json!("2026-12-01"),
                    &json!("00:00:00"),
                    &json!("2027-06-30"),
                    &json!("16:59:59")
                ),
                "{w}"
            );
            if profile == "bwf-r128" {
                assert_eq!(w["fmt"], json!({"channels": 2, "rate": 48000, "bits": 24}), "{w}");
                assert_eq!(w["frames"], 12 * 48000, "{w}");
            }
        }
    }
    // Each download of each rendition is a take of the program.
    assert!(app.count("takes") >= 2);
}

#[tokio::test]
async fn a_rendition_is_ranged_and_one_encode_serves_twenty_stations() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    add_profile(&app, &r128("bwf-r128", "bwf", "pcm")).await;
    let mut body = program("Bản tin nông thôn");
    body["series"] = json!("Bản tin nông thôn");
    let p = published(&app, &owner, &body, "ban-tin.wav", tone(dir.path(), "m.wav", -5.0, 6)).await;

    let mut stations = Vec::new();
    for n in 0..20 {
        let token = app.station(&format!("tram-{n:02}"), "provincial").await;
        let r = app
            .post(
                &token,
                "/api/v1/follows",
                &json!({"kind": "series", "value": "Bản tin nông thôn", "profile": "bwf-r128", "cut_id": format!("{}", 7000 + n)}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        stations.push(token);
    }
    // All twenty ask at once, before anything is made.
    let path = format!("/api/v1/programs/{p}/files/master/renditions/bwf-r128");
    for token in &stations {
        let r = app.get(token, &path).await;
        assert!(r.status() == StatusCode::ACCEPTED || r.status() == StatusCode::OK);
    }
    let mut bodies = Vec::new();
    for token in &stations {
        let r = rendition(&app, token, &p, "bwf-r128").await;
        assert_eq!(r.status(), StatusCode::OK);
        bodies.push(r.bytes().await.unwrap().to_vec());
    }
    // One rendition, made in one attempt, one object; each station's copy
    // differs only in its chunks after the audio (its cut ID).
    assert_eq!(app.count("renditions"), 1);
    let conn = rusqlite::Connection::open(app.catalog_path()).unwrap();
    let (attempts, size): (i64, usize) = conn
        .query_row("SELECT attempts, size FROM renditions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(attempts, 1);
    let made = renditions_stored(&app).await;
    assert_eq!(made.len(), 1, "{made:?}");
    for (n, b) in bodies.iter().enumerate() {
        assert_eq!(b[..size], bodies[0][..size]);
        let cut = format!("{}", 7000 + n);
        let found = b[size..].windows(4).any(|w| w == cut.as_bytes());
        assert!(found, "station {n}'s cut ID is in its cart chunk");
    }

    // Ranges, across the stored audio and the chunks written after it.
    let whole = &bodies[3];
    let etag = format!("\"{}\"", hex::encode(sha2::Sha256::digest(whole)));
    for (first, last) in [(0, 99), (size - 10, size + 20), (whole.len() - 5, whole.len() - 1)] {
        let r = app
            .request(Method::GET, Some(&stations[3]), &path)
            .header("Range", format!("bytes={first}-{last}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {first}-{last}/{}", whole.len()).as_str()
        );
        assert!(r.headers().get("content-digest").is_none());
        assert_eq!(r.bytes().await.unwrap(), whole[first..=last]);
    }
    let r = app
        .request(Method::GET, Some(&stations[3]), &path)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = app
        .request(Method::HEAD, Some(&stations[3]), &path)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], whole.len().to_string().as_str());
    assert_eq!(r.headers()["etag"], etag.as_str());
    let r = app
        .request(Method::GET, Some(&stations[3]), &path)
        .header("Range", format!("bytes={}-", whole.len()))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable").await;
    // Every station took it once.
    assert_eq!(app.count("takes"), 20);
    // An unknown profile, a role without a file: nothing there.
    for what in ["master/renditions/nope", "script/renditions/bwf-r128"] {
        assert_problem(
            app.get(&stations[0], &format!("/api/v1/programs/{p}/files/{what}"))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_eq!(app.count("renditions"), 1);

    // A new master: the old one's rendition goes with it, object and row,
    // and the new one is made afresh.
    let r = app
        .put_file(
            &owner,
            &p,
            "master",
            "audio/wav",
            "ban-tin.wav",
            tone(dir.path(), "n.wav", -8.0, 4),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.count("renditions"), 0);
    assert_eq!(renditions_stored(&app).await, Vec::<String>::new());
    let r = app.get(&stations[0], &path).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = rendition(&app, &stations[0], &p, "bwf-r128").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().len() < whole.len());
}

#[tokio::test]
async fn rights_and_a_master_ffmpeg_cannot_decode_are_answered() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let outside = app.station("lang-son", "provincial").await;
    let early = app.station("cao-bang", "provincial").await;
    add_profile(&app, &r128("bwf-r128", "bwf", "pcm")).await;
    add_profile(&app, &json!({"id": "mp4-h264", "name": "MP4", "container": "mp4"})).await;
    add_profile(
        &app,
        &json!({"id": "mp3-mono", "name": "MP3", "container": "mp3", "channels": 1, "sample_rate": 44100}),
    )
    .await;
    add_profile(&app, &json!({"id": "as-is", "name": "The master", "container": "keep"})).await;

    // Not media at all: the analysis finds nothing, the rendition fails
    // saying so, and nothing is stored for it.
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let p = upload(&app, &owner, &program("Hỏng"), "audio/wav", "hong.wav", junk).await;
    assert_eq!(analysis_of(&app, &owner, &p, "master").await["state"], "done");
    let r = rendition(&app, &owner, &p, "bwf-r128").await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "rendition_failed").await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("FFmpeg cannot decode the master"), "{problem}");
    assert!(!detail.contains('/'), "no paths: {problem}");
    let r = app
        .request(
            Method::HEAD,
            Some(&owner),
            &format!("/api/v1/programs/{p}/files/master/renditions/bwf-r128"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Audio asked to be video: refused with the reason.
    let mut body = program("Tin");
    body["rights"] = json!({"audience": "stations", "stations": ["cao-bang"],
        "available_from": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339()});
    let q = upload(
        &app,
        &owner,
        &body,
        "audio/wav",
        "tin.wav",
        tone(dir.path(), "t.wav", -5.0, 3),
    )
    .await;
    assert_eq!(analysis_of(&app, &owner, &q, "master").await["state"], "done");
    let r = rendition(&app, &owner, &q, "mp4-h264").await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "rendition_failed").await;
    assert!(problem["detail"].as_str().unwrap().contains("no video"), "{problem}");
    assert_eq!(renditions_stored(&app).await, Vec::<String>::new());
    // `pxhub analyze` (once the cause is mended) queues a failed rendition
    // again: the running hub makes it again (and here it fails again, as it
    // must); the other program's stays as it was.
    let when = |program: &str| -> (i64, String) {
        let conn = rusqlite::Connection::open(app.catalog_path()).unwrap();
        conn.query_row(
            "SELECT r.updated_at, r.state FROM renditions r JOIN program_files f ON f.sha256 = r.sha256
             JOIN programs p ON p.seq = f.program_seq WHERE p.id = ?1",
            [program],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (before, _) = when(&q);
    let junk_before = when(&p);
    let out = Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .args(["analyze", "--program", &q])
        .env("PXHUB_DATA_DIR", app.catalog_path().parent().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut again = false;
    for _ in 0..600 {
        let (at, state) = when(&q);
        if at > before && state == "failed" {
            again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again, "the failed rendition was not made again");
    assert_eq!(when(&p), junk_before);
    // The owner takes its own: an MP3 as the profile says (no loudness target).
    let r = rendition(&app, &owner, &q, "mp3-mono").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    let mp3 = dir.path().join("q.mp3");
    std::fs::write(&mp3, r.bytes().await.unwrap()).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,channels,sample_rate",
            "-of",
            "csv=p=0",
        ])
        .arg(&mp3)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "mp3,44100,1");
    // `keep`: the master itself, as it was uploaded, nothing made.
    let r = app
        .get(&owner, &format!("/api/v1/programs/{q}/files/master/renditions/as-is"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let master = app.get(&owner, &format!("/api/v1/programs/{q}/files/master")).await;
    assert_eq!(r.headers()["etag"], master.headers()["etag"]);
    assert!(r.bytes().await.unwrap() == master.bytes().await.unwrap());
    let r = app
        .post(&owner, &format!("/api/v1/programs/{q}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Rights as for the master: outside the audience nothing is there;
    // before the window opens, not yet; and asking starts nothing.
    let path = format!("/api/v1/programs/{q}/files/master/renditions/bwf-r128");
    assert_problem(app.get(&outside, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        app.get(&early, &path).await,
        StatusCode::FORBIDDEN,
        "rights_window_closed",
    )
    .await;
    assert_eq!(app.count("renditions"), 3);
}

#[tokio::test]
async fn a_video_master_becomes_xdcam_hd422_mxf() {
    if !ffmpeg_or_skip() {
        return;
    }
    let mediainfo = Command::new("mediainfo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(mediainfo || !strict(), "scripts/test.sh installs mediainfo");
    if !mediainfo {
        eprintln!("mediainfo not installed: skipping the MXF test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|s| s.analysis_video_workers = 1).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    add_profile(
        &app,
        &json!({"id": "xdcam", "name": "XDCAM HD422", "container": "mxf", "bit_depth": 24, "channels": 2,
            "loudness": {"target_lufs": -23, "max_true_peak_dbtp": -1}}),
    )
    .await;
    let src = dir.path().join("src.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:d=3",
            "-f",
            "lavfi",
            "-i",
            "sine=f=1000:r=48000:d=3",
            "-af",
            "pan=stereo|c0=c0|c1=c0",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    let p = upload(
        &app,
        &owner,
        &program("Phóng sự"),
        "video/mp4",
        "ps.mp4",
        std::fs::read(&src).unwrap(),
    )
    .await;
    assert_eq!(analysis_of(&app, &owner, &p, "master").await["state"], "done");
    let r = rendition(&app, &owner, &p, "xdcam").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["content-type"], "application/mxf");
    let bytes = r.bytes().await.unwrap().to_vec();
    let path = dir.path().join("out.mxf");
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new("mediainfo")
        .arg("--Output=JSON")
        .arg(&path)
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tracks = info["media"]["track"].as_array().unwrap();
    let of = |kind: &str| tracks.iter().find(|t| t["@type"] == kind).unwrap();
    assert_eq!(of("General")["Format"], "MXF", "{info}");
    let v = of("Video");
    assert_eq!(
        (&v["Format"], &v["Width"], &v["Height"]),
        (&json!("MPEG Video"), &json!("1920"), &json!("1080")),
        "{info}"
    );
    assert!(v["Format_Profile"].as_str().unwrap().starts_with("4:2:2"), "{info}");
    assert_eq!(v["ChromaSubsampling"], "4:2:2", "{info}");
    assert_eq!(of("Audio")["Format"], "PCM", "{info}");
    let (i, tp) = ebur128(dir.path(), &bytes);
    assert!((i + 23.0).abs() <= 0.5 && tp <= -1.0, "{i} LUFS, {tp} dBTP");
}

#[tokio::test]
async fn peaks_that_a_plain_gain_would_clip_go_through_loudnorm() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    add_profile(&app, &r128("bwf-r128", "bwf", "pcm")).await;
    // A quiet tone with a loud burst each second: −26.4 LUFS, −4.2 dBTP;
    // +3.4 dB would put its peaks over −1 dBTP.
    let out = dir.path().join("peaky.wav");
    let status = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=0.03*sin(2*PI*1000*t)+if(lt(mod(t\\,1)\\,0.002)\\,0.6*sin(2*PI*3000*t)\\,0):s=48000:d=20",
            "-af",
            "pan=stereo|c0=c0|c1=c0",
            "-c:a",
            "pcm_s24le",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let p = upload(
        &app,
        &owner,
        &program("Âm"),
        "audio/wav",
        "am.wav",
        std::fs::read(&out).unwrap(),
    )
    .await;
    let a = analysis_of(&app, &owner, &p, "master").await;
    let (i, tp) = (
        a["loudness"]["integrated_lufs"].as_f64().unwrap(),
        a["loudness"]["true_peak_dbtp"].as_f64().unwrap(),
    );
    assert!(
        tp + (-23.0 - i) > -1.0,
        "the test signal must need more than a gain: {a}"
    );
    let r = rendition(&app, &owner, &p, "bwf-r128").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let (i, tp) = ebur128(dir.path(), &r.bytes().await.unwrap());
    assert!((i + 23.0).abs() <= 0.5, "{i} LUFS");
    assert!(tp <= -1.0, "{tp} dBTP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pull_agent_fetches_the_followed_rendition_named_by_cut_id() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let taker = app.station("cao-bang", "provincial").await;
    add_profile(&app, &r128("bwf-r128", "bwf", "pcm")).await;
    // The station's default profile; the follow names only its cut ID.
    let r = app
        .patch(
            &taker,
            "/api/v1/stations/cao-bang",
            &json!({"default_profile": "bwf-r128"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = app.get(&taker, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["default_profile"], "bwf-r128");
    let r = app
        .post(
            &taker,
            "/api/v1/follows",
            &json!({"kind": "series", "value": "Nông nghiệp xanh", "deliver": true, "cut_id": "4501"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut body = program("Số 12");
    body["series"] = json!("Nông nghiệp xanh");
    let p = published(&app, &owner, &body, "so-12.wav", tone(dir.path(), "m.wav", -11.94, 6)).await;

    let into = dir.path().join("playout");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .args([
            "pull",
            "--hub",
            &app.address,
            "--template",
            "{cut_id}/{profile} {title}.{ext}",
            "--into",
        ])
        .arg(&into)
        .env("PXHUB_TOKEN", &taker)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let delivered = std::fs::read(into.join("4501").join("bwf-r128 Số 12.wav")).unwrap();
    let served = rendition(&app, &taker, &p, "bwf-r128").await.bytes().await.unwrap();
    assert!(delivered == served, "the agent delivered the rendition, byte for byte");
    let (i, _) = ebur128(dir.path(), &delivered);
    assert!((i + 23.0).abs() <= 0.5, "{i}");
    assert!(
        delivered.windows(4).any(|w| w == b"4501"),
        "the cart chunk carries the cut ID"
    );

    // What the push channel asks for: the same file, the same bytes; a
    // station outside the audience gets nothing.
    let hub = pxhub::app::open_hub(&app.settings).unwrap();
    let station = pxhub::domain::StationId::parse("cao-bang").unwrap();
    let id = pxhub::domain::ProgramId::parse(&p).unwrap();
    let master = pxhub::domain::FileRole::Master;
    let source = hub.source(&station, id, master, Some("bwf-r128")).await.unwrap();
    let pxhub::exchange::renditions::Rendition::Ready(r) = source else {
        panic!("made already");
    };
    assert_eq!(r.download.file.size, delivered.len() as u64);
    assert_eq!(
        r.download.file.sha256.hex(),
        hex::encode(sha2::Sha256::digest(&delivered))
    );
    let mut stream = hub.rendition_bytes(&r, None).await.unwrap();
    let mut pushed = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        pushed.extend_from_slice(&chunk.unwrap());
    }
    assert!(pushed == delivered);
    let mut body = program("Riêng");
    body["rights"] = json!({"audience": "stations", "stations": ["thai-nguyen"]});
    let q = upload(
        &app,
        &owner,
        &body,
        "audio/wav",
        "r.wav",
        tone(dir.path(), "r.wav", -5.0, 2),
    )
    .await;
    let q = pxhub::domain::ProgramId::parse(&q).unwrap();
    assert!(hub.source(&station, q, master, Some("bwf-r128")).await.is_err());
}

#[tokio::test]
async fn a_mono_master_keeps_its_loudness_in_stereo_and_a_downmix_is_measured() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    add_profile(&app, &r128("bwf-r128", "bwf", "pcm")).await;
    let mut mono = r128("bwf-mono-r128", "bwf", "pcm");
    mono["channels"] = json!(1);
    add_profile(&app, &mono).await;
    // A mono master (−18.06 dBFS, as BS.1770 hears it on two loudspeakers:
    // −18.06 LUFS) made stereo; a stereo master of one signal on both
    // channels made mono (FFmpeg's downmix adds them: 3 dB louder).
    let masters = [
        ("mono.wav", "sine=f=1000:r=48000:d=8", "anull", "bwf-r128"),
        (
            "both.wav",
            "sine=f=1000:r=48000:d=8",
            "pan=stereo|c0=c0|c1=c0",
            "bwf-mono-r128",
        ),
    ];
    for (name, source, filter, profile) in masters {
        let out = dir.path().join(name);
        let status = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                source,
                "-af",
                filter,
                "-c:a",
                "pcm_s16le",
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let p = upload(
            &app,
            &owner,
            &program(name),
            "audio/wav",
            name,
            std::fs::read(&out).unwrap(),
        )
        .await;
        assert_eq!(analysis_of(&app, &owner, &p, "master").await["state"], "done");
        let r = rendition(&app, &owner, &p, profile).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}: {}", r.text().await.unwrap());
        let (i, tp) = ebur128(dir.path(), &r.bytes().await.unwrap());
        assert!((i + 23.0).abs() <= 0.5 && tp <= -1.0, "{name}: {i} LUFS, {tp} dBTP");
    }
}

#[tokio::test]
async fn the_sweeper_keeps_renditions_in_use_and_removes_a_removed_profiles() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    add_profile(&app, &r128("bwf-r128", "bwf", "pcm")).await;
    let p = upload(
        &app,
        &owner,
        &program("Giữ"),
        "audio/wav",
        "g.wav",
        tone(dir.path(), "g.wav", -5.0, 2),
    )
    .await;
    assert_eq!(analysis_of(&app, &owner, &p, "master").await["state"], "done");
    assert_eq!(rendition(&app, &owner, &p, "bwf-r128").await.status(), StatusCode::OK);
    let made = renditions_stored(&app).await;
    assert_eq!(made.len(), 1);
    let hub = pxhub::app::open_hub(&app.settings).unwrap();
    hub.sweep(Duration::ZERO).await.unwrap();
    assert_eq!(renditions_stored(&app).await, made, "a rendition a row names stays");
    assert_eq!(app.delete(&app.admin, "/api/v1/profiles/bwf-r128").await.status(), 204);
    hub.sweep(Duration::ZERO).await.unwrap();
    assert_eq!(renditions_stored(&app).await, Vec::<String>::new());
}
