//! The tus 1.0.0 protocol: every header rule and status code, on the local
//! store and on S3; a real tus client (tuspy) killed and resumed; a server
//! killed mid-upload and started again.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::helpers::{assert_problem, bytes, id, program, strict, TestApp, PART};

storage_suite!(
    a_file_arrives_in_chunks_across_parts,
    options_tell_the_capabilities,
    creation_needs_tus_1_0_0,
    creation_headers_are_checked,
    only_its_station_sees_an_upload,
    patch_rules_are_enforced,
    checksums_guard_each_chunk,
    creation_with_upload_and_deferred_length,
    a_refused_creation_with_upload_leaves_nothing,
    termination_removes_everything,
    expired_uploads_answer_410_and_are_swept,
    one_writer_at_a_time,
    a_writer_gone_silent_gives_way_to_a_new_one,
    an_upload_being_written_is_still_not_found_by_others,
    a_broken_chunk_counts_up_to_where_it_stopped,
    tuspy_killed_and_resumed,
);

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

fn metadata(program: &str, role: &str, filename: &str) -> String {
    format!("program {},role {},filename {}", b64(program), b64(role), b64(filename))
}

impl TestApp {
    pub(crate) fn tus(&self, method: Method, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.request(method, Some(token), path).header("Tus-Resumable", "1.0.0")
    }

    /// Creates an upload of `length` bytes for the program's master; returns its path.
    async fn tus_create(&self, token: &str, program: &str, length: usize) -> String {
        let r = self
            .tus(Method::POST, token, "/api/v1/uploads")
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", metadata(program, "master", "Thời sự tối.mp4"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        assert_eq!(r.headers()["tus-resumable"], "1.0.0");
        assert!(r.headers().contains_key("upload-expires"));
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    pub(crate) async fn tus_patch(&self, token: &str, upload: &str, offset: usize, body: Vec<u8>) -> Response {
        self.tus(Method::PATCH, token, upload)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn tus_offset(&self, token: &str, upload: &str) -> Response {
        self.tus(Method::HEAD, token, upload).send().await.unwrap()
    }

    async fn master(&self, token: &str, program: &str) -> Vec<u8> {
        let r = self
            .get(token, &format!("/api/v1/programs/{program}/files/master"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.bytes().await.unwrap().to_vec()
    }

    async fn settle_uploads(&self) {
        for _ in 0..100 {
            if self.count("tus_uploads") == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("tus uploads left: {}", self.count("tus_uploads"));
    }
}

fn offset_of(r: &Response) -> usize {
    r.headers()["upload-offset"].to_str().unwrap().parse().unwrap()
}

async fn a_file_arrives_in_chunks_across_parts(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Thời sự tối")).await;
    let body = bytes(2 * PART + 3 * 1024 * 1024 + 17, 1);
    let upload = app.tus_create(&tn, id(&p), body.len()).await;
    let r = app.tus_offset(&tn, &upload).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(offset_of(&r), 0);
    assert_eq!(r.headers()["upload-length"], body.len().to_string().as_str());
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(
        r.headers()["upload-metadata"],
        metadata(id(&p), "master", "Thời sự tối.mp4").as_str()
    );

    let chunk = 3 * 1024 * 1024;
    let mut offset = 0;
    while offset < body.len() {
        let end = (offset + chunk).min(body.len());
        // Nothing is visible before the last byte.
        let got = app.program_json(&tn, &p).await;
        assert_eq!(got["files"], json!([]));
        let r = app.tus_patch(&tn, &upload, offset, body[offset..end].to_vec()).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", r.text().await.unwrap());
        assert_eq!(offset_of(&r), end);
        offset = end;
        assert_eq!(offset_of(&app.tus_offset(&tn, &upload).await), end);
    }
    let got = app.program_json(&tn, &p).await;
    assert_eq!(
        got["files"],
        json!([{"role": "master", "filename": "Thời sự tối.mp4", "media_type": "video/mp4", "size": body.len(),
                "sha256": hex::encode(Sha256::digest(&body)), "analysis": {"state": "pending"}}])
    );
    assert!(app.master(&tn, id(&p)).await == body);
    // Exactly as a single-request upload: the same bytes are stored once.
    let other = app.create_program(&tn, &program("Bản sao")).await;
    let r = app
        .request(
            Method::PUT,
            Some(&tn),
            &format!("/api/v1/programs/{}/files/master?filename=x.mp4", id(&other)),
        )
        .header("Content-Type", "video/mp4")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.count("media_objects"), 1);
    assert_eq!(app.stored_keys().await.len(), 1);
    // A finished upload takes no more bytes.
    let r = app.tus_patch(&tn, &upload, body.len(), vec![1]).await;
    assert_problem(r, StatusCode::CONFLICT, "offset_mismatch").await;
}

/// OPTIONS needs no token, tells the capabilities, and answers CORS.
async fn options_tell_the_capabilities(app: TestApp) {
    // OPTIONS needs no token and tells the capabilities, and answers CORS.
    let r = app
        .request(Method::OPTIONS, None, "/api/v1/uploads")
        .header("Origin", "https://tram.example")
        .header("Access-Control-Request-Method", "PATCH")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let h = r.headers();
    assert_eq!(h["tus-version"], "1.0.0");
    assert_eq!(
        h["tus-extension"],
        "creation,creation-with-upload,creation-defer-length,expiration,checksum,termination"
    );
    assert_eq!(h["tus-max-size"], app.settings.max_upload_bytes.to_string().as_str());
    assert_eq!(h["tus-checksum-algorithm"], "sha256,sha1");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h["access-control-allow-methods"].to_str().unwrap().contains("PATCH"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("Upload-Offset"));
    assert!(h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("Upload-Offset"));
}

/// Tus-Resumable is required, and must be 1.0.0.
async fn creation_needs_tus_1_0_0(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Luật")).await;
    // Tus-Resumable is required, and must be 1.0.0.
    for version in [None, Some("0.2.2")] {
        let mut r = app
            .request(Method::POST, Some(&tn), "/api/v1/uploads")
            .header("Upload-Length", "10");
        if let Some(v) = version {
            r = r.header("Tus-Resumable", v);
        }
        let r = r
            .header("Upload-Metadata", metadata(id(&p), "master", "a.mp3"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["tus-version"], "1.0.0");
        assert_problem(r, StatusCode::PRECONDITION_FAILED, "unsupported_tus_version").await;
    }
}

/// Each bad creation header gets its status and code; someone else's draft
/// is not found; no token is 401.
async fn creation_headers_are_checked(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Luật")).await;
    let create = |headers: Vec<(&'static str, String)>, token: &str| {
        let mut r = app.tus(Method::POST, token, "/api/v1/uploads");
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let meta = metadata(id(&p), "master", "a.mp3");
    type Case = (Vec<(&'static str, String)>, StatusCode, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec![("Upload-Metadata", meta.clone())],
            StatusCode::BAD_REQUEST,
            "invalid_header",
        ),
        (
            vec![("Upload-Length", "-1".into()), ("Upload-Metadata", meta.clone())],
            StatusCode::BAD_REQUEST,
            "invalid_header",
        ),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Defer-Length", "1".into()),
                ("Upload-Metadata", meta.clone()),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_header",
        ),
        (
            vec![
                ("Upload-Length", (app.settings.max_upload_bytes + 1).to_string()),
                ("Upload-Metadata", meta.clone()),
            ],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            vec![("Upload-Length", "0".into()), ("Upload-Metadata", meta.clone())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Metadata", "program !!!".into()),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Metadata", format!("role {}", b64("master"))),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Metadata", metadata(id(&p), "poster", "a.mp3")),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Metadata", metadata(id(&p), "master", "a.png")),
            ],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            vec![
                ("Upload-Length", "10".into()),
                (
                    "Upload-Metadata",
                    metadata("6f9619ff-8b86-4011-b42d-00c04fc964ff", "master", "a.mp3"),
                ),
            ],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (headers, status, code) in cases {
        let shown = format!("{headers:?}");
        let r = create(headers, &tn).await.unwrap();
        assert_eq!(r.status(), status, "{shown}");
        assert_problem(r, status, code).await;
    }
    // Someone else's draft is not found; no token is 401.
    assert_problem(
        create(
            vec![("Upload-Length", "10".into()), ("Upload-Metadata", meta.clone())],
            &cb,
        )
        .await
        .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r = app
        .request(Method::POST, None, "/api/v1/uploads")
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// Only its station may see or write an upload.
async fn only_its_station_sees_an_upload(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Luật")).await;
    let upload = app.tus_create(&tn, id(&p), 100).await;
    // Only its station may see or write it.
    assert_eq!(app.tus_offset(&cb, &upload).await.status(), StatusCode::NOT_FOUND);
    assert_problem(
        app.tus_patch(&cb, &upload, 0, vec![0; 10]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.tus_offset(&tn, "/api/v1/uploads/nothing-here").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// PATCH rules: content type 415, offset 409, no offset 400, past the
/// length 400, a changed length 400, no Tus-Resumable 412; none moves the
/// offset, and a good chunk completes the file.
async fn patch_rules_are_enforced(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Luật")).await;
    let upload = app.tus_create(&tn, id(&p), 100).await;
    let r = app
        .tus(Method::PATCH, &tn, &upload)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/octet-stream")
        .body(vec![0; 10])
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    assert_problem(
        app.tus_patch(&tn, &upload, 5, vec![0; 10]).await,
        StatusCode::CONFLICT,
        "offset_mismatch",
    )
    .await;
    let r = app
        .tus(Method::PATCH, &tn, &upload)
        .header("Content-Type", "application/offset+octet-stream")
        .body(vec![0; 10])
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "invalid_header").await;
    assert_problem(
        app.tus_patch(&tn, &upload, 0, vec![0; 101]).await,
        StatusCode::BAD_REQUEST,
        "length_exceeded",
    )
    .await;
    let r = app
        .tus(Method::PATCH, &tn, &upload)
        .header("Upload-Offset", "0")
        .header("Upload-Length", "50")
        .header("Content-Type", "application/offset+octet-stream")
        .body(vec![0; 10])
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "length_mismatch").await;
    let r = app
        .request(Method::PATCH, Some(&tn), &upload)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(vec![0; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        offset_of(&app.tus_offset(&tn, &upload).await),
        0,
        "no rule breach moved the offset"
    );
    let r = app.tus_patch(&tn, &upload, 0, vec![7; 100]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let got = app.program_json(&tn, &p).await;
    assert_eq!(got["files"][0]["filename"], "Thời sự tối.mp4");
    assert_eq!(got["files"][0]["media_type"], "video/mp4", "guessed from the file name");
}

async fn checksums_guard_each_chunk(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Kiểm tổng")).await;
    let body = bytes(PART + 4096, 2);
    let upload = app.tus_create(&tn, id(&p), body.len()).await;
    let patch = |offset: usize, chunk: Vec<u8>, checksum: String| {
        app.tus(Method::PATCH, &tn, &upload)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Checksum", checksum)
            .body(chunk)
            .send()
    };
    let first = body[..PART].to_vec();
    let r = patch(
        0,
        first.clone(),
        format!("sha256 {}", STANDARD.encode(Sha256::digest(b"other bytes"))),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 460);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "checksum_mismatch");
    assert_eq!(
        offset_of(&app.tus_offset(&tn, &upload).await),
        0,
        "a bad chunk does not move the offset"
    );
    for (bad, code) in [
        ("md5 AAAA", "checksum_algorithm_unsupported"),
        ("sha256 !!!", "invalid_checksum"),
        ("sha256 AAAA", "invalid_checksum"),
        ("sha256", "invalid_checksum"),
    ] {
        let r = patch(0, first.clone(), bad.into()).await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, code).await;
    }
    let r = patch(
        0,
        first.clone(),
        format!("sha256 {}", STANDARD.encode(Sha256::digest(&first))),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let rest = body[PART..].to_vec();
    let r = patch(
        PART,
        rest.clone(),
        format!("sha1 {}", STANDARD.encode(Sha1::digest(&rest))),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(app.master(&tn, id(&p)).await == body);
}

async fn creation_with_upload_and_deferred_length(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Hoãn")).await;
    let body = bytes(3000, 3);
    let r = app
        .tus(Method::POST, &tn, "/api/v1/uploads")
        .header("Upload-Defer-Length", "1")
        .header("Upload-Metadata", metadata(id(&p), "master", "hoãn.mp3"))
        .header("Content-Type", "application/offset+octet-stream")
        .body(body[..1000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(offset_of(&r), 1000);
    let upload = r.headers()["location"].to_str().unwrap().to_owned();
    let r = app.tus_offset(&tn, &upload).await;
    assert_eq!(r.headers()["upload-defer-length"], "1");
    assert!(r.headers().get("upload-length").is_none());
    let r = app
        .tus(Method::PATCH, &tn, &upload)
        .header("Upload-Offset", "1000")
        .header("Upload-Length", "3000")
        .header("Content-Type", "application/offset+octet-stream")
        .body(body[1000..2000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["upload-length"], "3000");
    assert_eq!(
        app.tus_patch(&tn, &upload, 2000, body[2000..].to_vec()).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.master(&tn, id(&p)).await == body);
}

/// The client learns an upload's address only from the creation's answer:
/// when its first bytes are refused, nothing of it may stay.
async fn a_refused_creation_with_upload_leaves_nothing(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Quá dài")).await;
    let create = |body: Vec<u8>, checksum: Option<&str>| {
        let mut r = app
            .tus(Method::POST, &tn, "/api/v1/uploads")
            .header("Upload-Length", "1000")
            .header("Upload-Metadata", metadata(id(&p), "master", "a.mp4"))
            .header("Content-Type", "application/offset+octet-stream");
        if let Some(c) = checksum {
            r = r.header("Upload-Checksum", c);
        }
        r.body(body).send()
    };
    assert_problem(
        create(bytes(2000, 7), None).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "length_exceeded",
    )
    .await;
    let wrong = format!("sha256 {}", STANDARD.encode([0u8; 32]));
    let r = create(bytes(500, 7), Some(&wrong)).await.unwrap();
    assert_eq!(r.status().as_u16(), 460);
    let r = create(bytes(500, 7), Some("md5 AAAA")).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("tus_uploads"), 0);
    app.settle_uploads().await;
    assert!(app.stored_keys().await.is_empty());
    assert_spool_empty(&app);
}

async fn termination_removes_everything(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Huỷ")).await;
    let upload = app.tus_create(&tn, id(&p), 2 * PART).await;
    assert_eq!(
        app.tus_patch(&tn, &upload, 0, bytes(PART + 10, 4)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.tus(Method::DELETE, &cb, &upload).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let r = app.tus(Method::DELETE, &tn, &upload).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.tus_offset(&tn, &upload).await.status(), StatusCode::NOT_FOUND);
    assert_problem(
        app.tus_patch(&tn, &upload, PART + 10, vec![1]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.settle_uploads().await;
    assert!(app.stored_keys().await.is_empty());
    assert_spool_empty(&app);
}

/// No spool file is left for any upload.
fn assert_spool_empty(app: &TestApp) {
    let dir = match app.settings.media_path() {
        Some(root) => root.join("uploads"),
        None => app.settings.data_dir.join("uploads"),
    };
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spool files left: {left:?}");
}

async fn expired_uploads_answer_410_and_are_swept(mut app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Hết hạn")).await;
    let upload = app.tus_create(&tn, id(&p), 1000).await;
    assert_eq!(
        app.tus_patch(&tn, &upload, 0, bytes(500, 5)).await.status(),
        StatusCode::NO_CONTENT
    );
    let expires = app.tus_offset(&tn, &upload).await.headers()["upload-expires"]
        .to_str()
        .unwrap()
        .to_owned();
    let expires = chrono::DateTime::parse_from_rfc2822(&expires).unwrap();
    assert!(expires > chrono::Utc::now() + chrono::Duration::hours(23));
    rusqlite::Connection::open(app.catalog_path())
        .unwrap()
        .execute("UPDATE tus_uploads SET expires_at = 0", [])
        .unwrap();
    assert_eq!(app.tus_offset(&tn, &upload).await.status(), StatusCode::GONE);
    assert_problem(
        app.tus_patch(&tn, &upload, 500, bytes(500, 6)).await,
        StatusCode::GONE,
        "upload_expired",
    )
    .await;
    // Old enough for the sweeper's grace, too.
    let ancient = filetime_ago();
    for entry in std::fs::read_dir(spool_dir(&app))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let _ = std::fs::File::options()
            .write(true)
            .open(entry.path())
            .and_then(|f| f.set_modified(ancient));
    }
    app.restart().await;
    app.settle_uploads().await;
    assert_eq!(app.tus_offset(&tn, &upload).await.status(), StatusCode::NOT_FOUND);
    assert_spool_empty(&app);
    assert!(app.stored_keys().await.is_empty());
}

fn spool_dir(app: &TestApp) -> std::path::PathBuf {
    match app.settings.media_path() {
        Some(root) => root.join("uploads"),
        None => app.settings.data_dir.join("uploads"),
    }
}

fn filetime_ago() -> std::time::SystemTime {
    std::time::SystemTime::now() - Duration::from_secs(3600)
}

async fn one_writer_at_a_time(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Một người ghi")).await;
    let body = bytes(4000, 7);
    let upload = app.tus_create(&tn, id(&p), body.len()).await;
    // A PATCH whose body trickles in holds the upload...
    let (tx, slow) = trickling_patch(&app, &tn, &upload, 2000);
    tx.send(Ok(body[..1000].to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...so another is refused, not interleaved.
    assert_problem(
        app.tus_patch(&tn, &upload, 0, body[..2000].to_vec()).await,
        StatusCode::LOCKED,
        "locked",
    )
    .await;
    tx.send(Ok(body[1000..2000].to_vec())).await.unwrap();
    drop(tx);
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(offset_of(&r), 2000);
    assert_eq!(
        app.tus_patch(&tn, &upload, 2000, body[2000..].to_vec()).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.master(&tn, id(&p)).await == body);
}

/// A link that drops without a word (no FIN, no RST: a NAT forgot it)
/// leaves its PATCH waiting for bytes that never come. Once it has been
/// silent a few seconds, the client's new PATCH takes the upload over: the
/// silent one keeps what it received and lets go, the new one is told the
/// offset (409), and the upload goes on from there, byte-exact. Without
/// this, the client would meet 423 until the hub's idle limit (minutes).
async fn a_writer_gone_silent_gives_way_to_a_new_one(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Mất sóng")).await;
    let body = bytes(4000, 9);
    let upload = app.tus_create(&tn, id(&p), body.len()).await;
    let (tx, silent) = trickling_patch(&app, &tn, &upload, 3000);
    tx.send(Ok(body[..1000].to_vec())).await.unwrap();
    received(&app, 1000).await;
    // Still receiving a moment ago: a second writer waits its turn.
    assert_problem(
        app.tus_patch(&tn, &upload, 0, body[..2000].to_vec()).await,
        StatusCode::LOCKED,
        "locked",
    )
    .await;
    // Silent past the limit (the sender is kept, so the link stays open).
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let started = std::time::Instant::now();
    assert_problem(
        app.tus_patch(&tn, &upload, 0, body[..2000].to_vec()).await,
        StatusCode::CONFLICT,
        "offset_mismatch",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let r = app.tus_offset(&tn, &upload).await;
    assert_eq!(offset_of(&r), 1000, "what the silent writer received is kept");
    let r = app.tus_patch(&tn, &upload, 1000, body[1000..].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(app.master(&tn, id(&p)).await == body);
    // The silent request, when its link finally ends, changed nothing.
    drop(tx);
    let _ = silent.await.unwrap();
    assert!(app.master(&tn, id(&p)).await == body);
}

/// Waits until the hub has received `n` file bytes in all: a PATCH whose
/// first bytes arrived holds its upload's lock.
async fn received(app: &TestApp, n: usize) {
    app.wait_for_metric("pxhub_bytes_received_total", n as u64).await;
}

async fn an_upload_being_written_is_still_not_found_by_others(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Của riêng")).await;
    let body = bytes(2000, 8);
    let upload = app.tus_create(&tn, id(&p), body.len()).await;
    // The owner's PATCH holds the upload while its body trickles in...
    let (tx, slow) = trickling_patch(&app, &tn, &upload, body.len());
    tx.send(Ok(body[..1000].to_vec())).await.unwrap();
    received(&app, 1000).await;
    // ...and another station learns nothing of it: not "locked", not found.
    assert_problem(
        app.tus_patch(&cb, &upload, 0, body.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r = app.tus(Method::DELETE, &cb, &upload).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.tus_offset(&cb, &upload).await.status(), StatusCode::NOT_FOUND);
    // The owner's own second writer is the one that is told to wait.
    assert_problem(
        app.tus_patch(&tn, &upload, 0, body.clone()).await,
        StatusCode::LOCKED,
        "locked",
    )
    .await;
    tx.send(Ok(body[1000..].to_vec())).await.unwrap();
    drop(tx);
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(app.master(&tn, id(&p)).await == body);
}

/// Where a test sends a request body, piece by piece.
type BodySender = tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>;

/// A PATCH from offset 0 announcing `length` bytes, whose body is what the
/// test sends down the returned channel, when it likes.
fn trickling_patch(
    app: &TestApp,
    token: &str,
    upload: &str,
    length: usize,
) -> (BodySender, tokio::task::JoinHandle<reqwest::Result<Response>>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let patch = app
        .tus(Method::PATCH, token, upload)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Content-Length", length.to_string())
        .body(reqwest::Body::wrap_stream(tokio_stream(rx)))
        .send();
    (tx, tokio::spawn(patch))
}

fn tokio_stream<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn a_broken_chunk_counts_up_to_where_it_stopped(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Đứt")).await;
    let body = bytes(3 * PART, 8);
    let upload = app.tus_create(&tn, id(&p), body.len()).await;
    let sent = PART + PART / 2;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PATCH {upload} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tn}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..sent]).await.unwrap();
    s.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s);
    let mut offset = 0;
    for _ in 0..100 {
        let r = app.tus_offset(&tn, &upload).await;
        offset = offset_of(&r);
        if offset > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(offset > 0 && offset <= sent, "kept {offset} of {sent} bytes sent");
    let r = app.tus_patch(&tn, &upload, offset, body[offset..].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(app.master(&tn, id(&p)).await == body);
}

/// The Python with tuspy that the test command installed.
fn python() -> Option<String> {
    match std::env::var("PXHUB_TEST_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                !strict(),
                "the tus interop test must run here: scripts/test.sh installs tuspy"
            );
            eprintln!("PXHUB_TEST_PYTHON not set: skipping the tuspy test (scripts/test.sh runs it)");
            None
        }
    }
}

fn tus_client(python: &str, args: &[&str]) -> Child {
    Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tus/client.py"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs")
}

async fn tuspy_killed_and_resumed(app: TestApp) {
    let Some(python) = python() else { return };
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Thời sự tối")).await;
    let body = bytes(2 * PART + 777, 9);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("thoi-su.mp4");
    std::fs::write(&file, &body).unwrap();
    let endpoint = format!("{}/api/v1/uploads", app.address);
    let chunk = (1024 * 1024).to_string();
    let kill_at = (PART + 1).to_string();
    let out = tus_client(
        &python,
        &[
            "start",
            &endpoint,
            &tn,
            file.to_str().unwrap(),
            id(&p),
            &chunk,
            &kill_at,
        ],
    )
    .wait_with_output()
    .unwrap();
    assert!(!out.status.success(), "the client killed itself mid-way");
    let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        url.contains("/api/v1/uploads/"),
        "{url} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = url.trim_start_matches(&app.address).to_owned();
    let offset = offset_of(&app.tus_offset(&tn, &path).await);
    assert!(offset > PART && offset < body.len(), "stopped at {offset}");

    let out = tus_client(
        &python,
        &["resume", &endpoint, &tn, file.to_str().unwrap(), &url, &chunk],
    )
    .wait_with_output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = app.program_json(&tn, &p).await;
    assert_eq!(got["files"][0]["sha256"], hex::encode(Sha256::digest(&body)));
    assert_eq!(got["files"][0]["filename"], "Thời sự tối.mp4");
    assert!(app.master(&tn, id(&p)).await == body);
}

/// A `pxhub serve` process of its own, to be killed like a crashing server.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    async fn start(data_dir: &std::path::Path, storage: &Option<pxhub::config::StorageSettings>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pxhub"));
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        let log = data_dir.with_extension(format!("{port}.log"));
        cmd.args([
            "--part-size",
            &PART.to_string(),
            "--max-upload-bytes",
            "1073741824",
            "--log",
            "warn",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        if let Some(storage) = storage {
            cmd.envs(crate::helpers::storage_env(storage));
        }
        let server = Self {
            child: cmd.spawn().expect("pxhub serve starts"),
            address: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", server.address))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(server);
        panic!(
            "pxhub serve did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Kills the server at once (SIGKILL), as a crash or a power cut would.
    fn kill(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn survives_a_server_killed_mid_upload(storage: Option<pxhub::config::StorageSettings>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_pxhub"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    cli(&[
        "station",
        "add",
        "--id",
        "thai-nguyen",
        "--name",
        "Đài Thái Nguyên",
        "--province",
        "Thái Nguyên",
    ]);
    let token = cli(&["token", "issue", "--station", "thai-nguyen"]);
    let client = reqwest::Client::new();
    let body = bytes(2 * PART + 123_456, 10);
    let half = PART + 1000;

    let server = Server::start(&data, &storage).await;
    let p: Value = client
        .post(format!("{}/api/v1/programs", server.address))
        .bearer_auth(&token)
        .json(&program("Khởi động lại"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tus = |method: Method, url: String| {
        client
            .request(method, url)
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
    };
    let r = tus(Method::POST, format!("{}/api/v1/uploads", server.address))
        .header("Upload-Length", body.len().to_string())
        .header("Upload-Metadata", metadata(id(&p), "master", "khởi động.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = r.headers()["location"].to_str().unwrap().to_owned();
    let patch = |address: &str, offset: usize, chunk: &[u8]| {
        tus(Method::PATCH, format!("{address}{upload}"))
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(chunk.to_vec())
            .send()
    };
    assert_eq!(
        patch(&server.address, 0, &body[..half]).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    server.kill();

    let server = Server::start(&data, &storage).await;
    let r = tus(Method::HEAD, format!("{}{upload}", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(offset_of(&r), half, "what was acknowledged survived the crash");
    assert_eq!(
        patch(&server.address, half, &body[half..]).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let got: Value = client
        .get(format!("{}/api/v1/programs/{}", server.address, id(&p)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["files"][0]["sha256"], hex::encode(Sha256::digest(&body)));
    let downloaded = client
        .get(format!("{}/api/v1/programs/{}/files/master", server.address, id(&p)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(downloaded == body, "byte-identical after a restart");
    server.kill();
}

#[tokio::test]
async fn local_survives_a_server_killed_mid_upload() {
    survives_a_server_killed_mid_upload(None).await;
}

#[tokio::test]
async fn s3_survives_a_server_killed_mid_upload() {
    if let Some(storage) = crate::helpers::s3_storage() {
        survives_a_server_killed_mid_upload(Some(storage)).await;
    }
}

/// A link that goes silent (no reset, as behind a NAT that forgot it): the
/// hub gives up on the request, keeps what arrived and frees the upload.
#[tokio::test]
async fn a_silent_link_frees_the_upload() {
    let app = TestApp::spawn_with(|s| s.upload_idle_secs = 1).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Im lặng")).await;
    let body = bytes(300_000, 11);
    let upload = app.tus_create(&tn, id(&p), body.len()).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PATCH {upload} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tn}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..100_000]).await.unwrap();
    s.flush().await.unwrap();
    // The connection stays open and says nothing more.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let r = app.tus_offset(&tn, &upload).await;
    assert_eq!(offset_of(&r), 100_000, "what arrived is kept");
    let r = app.tus_patch(&tn, &upload, 100_000, body[100_000..].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "not locked by the silent request");
    assert!(app.master(&tn, id(&p)).await == body);
    drop(s);
}

/// A station cannot reserve the hub with unfinished uploads: past
/// `max_open_uploads_per_station` creations are refused, and finishing or
/// terminating one makes room.
#[tokio::test]
async fn open_uploads_are_capped_per_station() {
    let app = TestApp::spawn_with(|s| s.max_open_uploads_per_station = 3).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Nhiều")).await;
    let q = app.create_program(&cb, &program("Khác")).await;
    let mut uploads = Vec::new();
    for _ in 0..3 {
        uploads.push(app.tus_create(&tn, id(&p), 1000).await);
    }
    let r = app
        .tus(Method::POST, &tn, "/api/v1/uploads")
        .header("Upload-Length", "1000")
        .header("Upload-Metadata", metadata(id(&p), "master", "a.mp4"))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::CONFLICT, "too_many_open_uploads").await;
    assert_eq!(app.count("tus_uploads"), 3);
    // Another station is not held up by this one.
    app.tus_create(&cb, id(&q), 1000).await;
    // A finished upload and a terminated one free their places.
    assert_eq!(
        app.tus_patch(&tn, &uploads[0], 0, bytes(1000, 1)).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = app.tus(Method::DELETE, &tn, &uploads[1]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    app.tus_create(&tn, id(&p), 1000).await;
    app.tus_create(&tn, id(&p), 1000).await;
}
