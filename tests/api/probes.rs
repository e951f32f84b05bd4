//! What probing the running hub found (issue 23), each kept from coming
//! back: text XML forbids or nobody sees, publishing before the analysis,
//! and the other doors the probe got through.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_problem, fields, id, program, strict, TestApp};

/// Validates an EBUCore sidecar against the EBUCore 1.10 schema (kept
/// offline in `../shared/ebucore`) with `xmllint --schema`.
pub fn assert_valid_ebucore(xml: &str) {
    use std::process::{Command, Stdio};
    let have = Command::new("xmllint")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(have || !strict(), "xmllint is missing: scripts/test.sh installs it");
    if !have {
        eprintln!("xmllint not installed: an EBUCore sidecar is not validated (scripts/test.sh installs it)");
        return;
    }
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/ebucore/ebucore.xsd");
    assert!(schema.exists(), "the EBUCore schema is missing: {}", schema.display());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ebucore.xml");
    std::fs::write(&file, xml).unwrap();
    let o = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the sidecar does not validate against EBUCore 1.10:\n{}\n{xml}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Characters XML 1.0 forbids, and invisible ones of whole Unicode
/// categories (Cf, Zl, Zp, noncharacters, default-ignorables).
const REFUSED: [char; 12] = [
    '\u{FFFE}',
    '\u{FFFF}',
    '\u{180B}',
    '\u{17B4}',
    '\u{1BCA0}',
    '\u{1D173}',
    '\u{FE0F}',
    '\u{2028}',
    '\u{2029}',
    '\u{FFFC}',
    '\u{FDD0}',
    '\u{200D}',
];

#[tokio::test]
async fn text_xml_forbids_or_nobody_sees_is_refused_at_the_door_naming_the_field() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    for c in REFUSED {
        let title = format!("Thời sự{c}tối");
        let r = app.post(&tn, "/api/v1/programs", &program(&title)).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), ["title"], "U+{:04X}", c as u32);
        let mut body = program("Thời sự");
        body["summary"] = json!(format!("Dòng một{c}\nhai"));
        let r = app.post(&tn, "/api/v1/programs", &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), ["summary"], "U+{:04X}", c as u32);
    }
    // Nothing was kept.
    let r = app.get(&tn, "/api/v1/programs?station=thai-nguyen").await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 0, "{body}");

    // A file's name too: it reaches the pull agent's file names.
    let p = app.create_program(&tn, &program("Thời sự")).await;
    for c in ['\u{2028}', '\u{FE0F}', '\u{FFFE}'] {
        let r = app
            .put_master(&tn, id(&p), &format!("bản tin{c}.mp3"), b"abc".to_vec())
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "U+{:04X}", c as u32);
    }
    // Vietnamese, precomposed or not, passes.
    let title = "Phóng sự: “Đường lên Mẫu Sơn” – ỹ ự ẵ";
    let nfd: String = unicode_normalization::UnicodeNormalization::nfd(title).collect();
    let made = app.create_program(&tn, &program(&nfd)).await;
    assert_eq!(made["title"], title);
    let r = app
        .request(
            Method::GET,
            Some(&tn),
            &format!("/api/v1/programs/{}/ebucore.xml", id(&made)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_valid_ebucore(&r.text().await.unwrap());
}

#[tokio::test]
async fn publishing_waits_for_the_masters_analysis() {
    // Analysis on, but FFmpeg not found: the master's analysis waits.
    let app = crate::analysis::analysed_app(|s| {
        s.ffmpeg = "/nonexistent/ffmpeg".into();
        s.ffprobe = "/nonexistent/ffprobe".into();
    })
    .await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Tiếng ồn")).await;
    let r = app.put_master(&tn, id(&p), "noise.mp3", b"not an mp3".to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let publish = format!("/api/v1/programs/{}/publish", id(&p));
    let r = app.post(&tn, &publish, &json!({})).await;
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    assert_problem(r, StatusCode::CONFLICT, "analysis_pending").await;
    let again: serde_json::Value = app
        .get(&tn, &format!("/api/v1/programs/{}", id(&p)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "draft", "nothing changed");
}

#[tokio::test]
async fn random_bytes_published_at_once_never_go_out() {
    if !crate::analysis::ffmpeg_or_skip() {
        return;
    }
    let app = crate::analysis::analysed_app(|_| {}).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Tiếng ồn")).await;
    let noise: Vec<u8> = (0..200_000u32).map(|_| rand::random::<u8>()).collect();
    let r = app.put_master(&tn, id(&p), "noise.mp3", noise).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let publish = format!("/api/v1/programs/{}/publish", id(&p));
    // At once, and while the analysis runs, and after: never published.
    for _ in 0..1200 {
        let r = app.post(&tn, &publish, &json!({})).await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let body: serde_json::Value = r.json().await.unwrap();
        match body["code"].as_str().unwrap() {
            "analysis_pending" => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            "master_not_media" => return,
            other => panic!("{other}"),
        }
    }
    panic!("the analysis did not end");
}

#[tokio::test]
async fn a_viewer_follows_but_may_not_set_delivery() {
    use crate::web::{add_person, Browser};
    let app = TestApp::spawn().await;
    app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "xem", "Người xem", "viewer", "mật khẩu thật dài");
    add_person(&app, "cao-bang", "binh", "Bình", "editor", "mật khẩu thật dài");
    let follow = |deliver: bool| json!({"kind": "station", "value": "thai-nguyen", "deliver": deliver});
    let mut viewer = Browser::new(&app);
    viewer.sign_in("xem", "mật khẩu thật dài").await;
    let token = viewer.session_csrf().await;
    let r = viewer
        .api(Method::POST, "/api/v1/follows")
        .header("X-CSRF-Token", &token)
        .json(&follow(true))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = viewer.api(Method::GET, "/api/v1/follows").send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 0, "nothing was kept");
    // A plain follow is the viewer's to make; delivery the editor's.
    let r = viewer
        .api(Method::POST, "/api/v1/follows")
        .header("X-CSRF-Token", &token)
        .json(&follow(false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let mut editor = Browser::new(&app);
    editor.sign_in("binh", "mật khẩu thật dài").await;
    let token = editor.session_csrf().await;
    let r = editor
        .api(Method::POST, "/api/v1/follows")
        .header("X-CSRF-Token", &token)
        .json(&json!({"kind": "series", "value": "Thời sự", "deliver": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

/// Sends `head` and part of the body it announces, then nothing; what the
/// hub answers (it must answer and close within `within`).
async fn stalled_body(app: &TestApp, head: &str, within: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(within, s.read_to_end(&mut answer))
        .await
        .expect("the hub answers a stalled body and closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_form_or_json_body_that_does_not_come_is_answered_408_and_the_connection_closed() {
    let app = TestApp::spawn_with(|s| s.body_timeout_secs = 1).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let within = std::time::Duration::from_secs(10);
    let form = "POST /sign-in HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                Content-Length: 1000\r\n\r\nlogin=a";
    let json = format!(
        "POST /api/v1/programs HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tn}\r\n\
         Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"title\":"
    );
    for head in [form.to_owned(), json] {
        let answer = stalled_body(&app, &head, within).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
    }
    // A body that comes in time is read as ever.
    let r = app.post(&tn, "/api/v1/programs", &program("Đúng giờ")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_api_docs_have_a_content_security_policy_and_cannot_be_framed() {
    let app = TestApp::spawn().await;
    for path in ["/docs/", "/docs/index.html", "/docs/swagger-initializer.js"] {
        let r = app.request(Method::GET, None, path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
    }
    // The page loads no inline script, which the policy would block.
    let page = app.text("/docs/").await;
    let inline = page
        .match_indices("<script")
        .filter(|(at, _)| !page[*at..].split('>').next().unwrap().contains("src="))
        .count();
    assert_eq!(inline, 0, "{page}");
}

#[tokio::test]
async fn previews_stop_once_the_window_has_closed_but_for_the_owner_and_the_operator() {
    use crate::analysis::{analysed_app, analysis_of, ffmpeg_or_skip, upload, wav};
    if !ffmpeg_or_skip() {
        return;
    }
    let app = analysed_app(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = app.station("thai-nguyen", "provincial").await;
    let partner = app.station("cao-bang", "provincial").await;
    let mut body = program("Bản tin cũ");
    body["rights"] = json!({"available_until": "2020-01-01T00:00:00Z"});
    let p = upload(&app, &owner, &body, "audio/wav", "tin.wav", wav(dir.path())).await;
    assert_eq!(analysis_of(&app, &owner, &p, "master").await["state"], "done");
    let r = app
        .post(&owner, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let preview = format!("/api/v1/programs/{p}/files/master/preview");
    let mut ready = false;
    for _ in 0..600 {
        if app.get(&owner, &preview).await.status() == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the preview was not made");
    assert_eq!(app.get(&app.admin, &preview).await.status(), StatusCode::OK);
    // The partner still sees the program, but hears no preview of it.
    assert_eq!(
        app.get(&partner, &format!("/api/v1/programs/{p}")).await.status(),
        StatusCode::OK
    );
    for what in ["preview", "waveform.json"] {
        let r = app
            .get(&partner, &format!("/api/v1/programs/{p}/files/master/{what}"))
            .await;
        assert_problem(r, StatusCode::FORBIDDEN, "rights_window_closed").await;
    }
}

#[tokio::test]
async fn refusals_from_the_framework_are_problem_documents_too() {
    let app = TestApp::spawn_with(|s| s.max_json_bytes = 64 * 1024).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    // A form body over the limit.
    let r = app
        .request(Method::POST, None, "/sign-in")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("login=a&password={}", "x".repeat(200 * 1024)))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // A JSON body over the limit.
    let mut big = program("Lớn");
    big["description"] = json!("x".repeat(200 * 1024));
    let r = app.post(&tn, "/api/v1/programs", &big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}
