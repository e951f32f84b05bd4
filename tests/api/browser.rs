//! The browser journeys (tests/browser, pytest + Playwright) against a hub
//! started here, in the Debian Chromium. `scripts/test.sh` installs both;
//! under `PXHUB_TEST_STRICT` a missing one fails this test.

use std::process::Command;

use serde_json::json;

use crate::helpers::{id, program, strict, TestApp};
use crate::web::{add_person, person_add};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The Python with Playwright, pytest-playwright and axe-playwright-python,
/// and Chromium, or `None` (skip) outside the test command.
fn tools() -> Option<String> {
    let python = std::env::var("PXHUB_TEST_PYTHON").ok();
    let playwright = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import playwright, pytest_playwright, axe_playwright_python"])
            .status()
            .is_ok_and(|s| s.success())
    });
    let chromium = std::path::Path::new(CHROMIUM).exists();
    if playwright && chromium {
        return python;
    }
    assert!(
        !strict(),
        "the browser tests must run here: scripts/test.sh installs chromium (apt) and playwright (pip); \
         playwright importable: {playwright}, {CHROMIUM}: {chromium}"
    );
    eprintln!("no Playwright or no {CHROMIUM}: skipping the browser journeys (scripts/test.sh runs them)");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journeys_of_station_staff_in_a_real_browser() {
    let Some(python) = tools() else { return };
    let chunk = 1024 * 1024;
    let lock_after = 3;
    let app = TestApp::spawn_with(|s| {
        s.web_upload_chunk_bytes = chunk;
        s.sign_in_lock_after = lock_after;
        // "Mới từ lần trước": a new visit after 2 s away.
        s.visit_gap_secs = 2;
    })
    .await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let r = app
        .post(
            &cb,
            "/api/v1/follows",
            &json!({"kind": "series", "value": "Nông nghiệp xanh"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // A delivery profile: the follows on My station pick it, /admin/profiles lists it.
    let r = app
        .post(
            &app.admin,
            "/api/v1/profiles",
            &json!({"id": "bwf-mp2-r128", "name": "BWF MP2 (R128)", "container": "bwf", "audio_codec": "mp2",
                "loudness": {"target_lufs": -23, "max_true_peak_dbtp": -1}}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let password = "mật khẩu đủ dài 1";
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", password);
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", password);
    add_person(&app, "cao-bang", "khoa", "Khoa", "viewer", password);
    add_person(&app, "cao-bang", "mai", "Đỗ Thị Mai", "viewer", password);
    let (ok, admin, err) = person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");

    let mine = app.published(&tn, &program("Thời sự tối Thái Nguyên")).await;
    let mut closed = program("Đã hết hạn khai thác");
    closed["rights"] = json!({"available_until": "2020-01-01T00:00:00Z"});
    let closed = app.published(&tn, &closed).await;
    let mut national = program("Chỉ cho đài quốc gia");
    national["rights"] = json!({"audience": "national"});
    let national = app.published(&tn, &national).await;
    let script_title = "<script>alert(\"x\")</script> 'Đêm' & \"ngày\"";
    let script = app.published(&tn, &program(script_title)).await;
    let withdrawn = app.published(&tn, &program("Đã thu hồi vì sai số liệu")).await;
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", id(&withdrawn)),
            &json!({"reason": "Sai số liệu"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // A station whose name is longer than the report chart's label room.
    let long_name = "Đài Phát thanh và Truyền hình tỉnh Bắc Kạn – Kênh vùng cao phía Bắc";
    let r = app
        .post(
            &app.admin,
            "/api/v1/stations",
            &json!({"id": "bac-kan", "name": long_name, "province": "Bắc Kạn", "kind": "provincial"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    add_person(&app, "bac-kan", "lan", "Hà Thị Lan", "editor", password);

    let doc = json!({
        "base_url": app.address,
        "admin_token": app.admin,
        "chunk_bytes": chunk,
        "lock_after": lock_after,
        "people": {"hoa": password, "binh": password, "khoa": password, "lan": password, "mai": password,
                   "admin": admin.trim()},
        "tn_token": tn,
        "cb_token": cb,
        "mine": id(&mine),
        "closed": id(&closed),
        "national": id(&national),
        "script": id(&script),
        "script_title": script_title,
        "withdrawn": id(&withdrawn),
        "long_station_name": long_name,
    });
    // The journeys with analysed media have a hub of their own.
    pytest(python, doc, &["--ignore", MEDIA, "--ignore", FIRST_RUN, "."]).await;
}

/// The journeys that need masters analysed (FFmpeg): their hub analyses.
const MEDIA: &str = "test_results_media.py";
/// The first run: a hub with no operator yet.
const FIRST_RUN: &str = "test_first_run.py";

/// Runs pytest with `args` (its last: what to run) in tests/browser against the hub `doc` describes.
async fn pytest(python: String, doc: serde_json::Value, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("hub.json");
    std::fs::write(&fixture, doc.to_string()).unwrap();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--tracing",
                "retain-on-failure",
            ])
            .arg("--output")
            .arg(dir.path().join("traces"))
            .args(&args)
            .env("PXHUB_BROWSER_FIXTURE", &fixture)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"))
            .output()
            .expect("pytest runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(out.status.success(), "the browser journeys failed:\n{text}");
    assert!(text.contains(" passed"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_results_list_plays_previews_in_a_real_browser() {
    let Some(python) = tools() else { return };
    assert!(crate::analysis::ffmpeg_or_skip(), "the media journeys need FFmpeg");
    let dir = tempfile::tempdir().unwrap();
    let app = crate::analysis::analysed_app(|_| {}).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    let password = "mật khẩu đủ dài 1";
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", password);
    let mut body = program("Bản tin nông nghiệp có tiếng");
    body["series"] = json!("Nông nghiệp xanh");
    let audio =
        crate::web_news::analysed_and_published(&app, &tn, body, "audio", crate::analysis::wav(dir.path())).await;
    let video = crate::web_news::analysed_and_published(
        &app,
        &tn,
        program("Phóng sự có hình Mẫu Sơn"),
        "video",
        crate::analysis::mp4(dir.path()),
    )
    .await;
    let doc = json!({
        "base_url": app.address,
        "people": {"binh": password},
        "audio": audio,
        "video": video,
    });
    // Only the media journeys: the others' hub has what they need.
    pytest(python, doc, &[MEDIA]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_makes_the_first_operator_from_the_sign_in_page_in_a_real_browser() {
    let Some(python) = tools() else { return };
    let app = TestApp::spawn_with(|s| s.hub_name = "Kho chương trình cụm Đông Bắc".into()).await;
    let doc = json!({
        "base_url": app.address,
        "pxhub": env!("CARGO_BIN_EXE_pxhub"),
        "data_dir": app.dir.path().join("data"),
    });
    pytest(python, doc, &[FIRST_RUN]).await;
}
