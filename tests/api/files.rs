//! The storage suite: every test runs against the local store and against a
//! real S3 server (Garage, started by scripts/test.sh).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{assert_problem, bytes, fields, id, program, TestApp, PART};

const MIB: usize = 1024 * 1024;

storage_suite!(
    round_trip_across_several_parts,
    byte_ranges_are_exact,
    ranges_to_the_end_of_64_bits_are_clamped,
    conditional_requests,
    file_names_come_from_the_query_too,
    digest_mismatch_stores_nothing,
    oversized_uploads_store_nothing,
    a_client_that_disconnects_leaves_nothing,
    the_same_bytes_are_stored_once,
    shared_objects_outlive_one_of_their_files,
    replacing_a_file_releases_the_old_object,
    deleting_a_draft_removes_its_objects,
    the_sweeper_removes_leftovers,
    scrub_finds_a_corrupted_object,
    uploads_are_checked_before_a_byte_is_stored,
    downloads_follow_the_rights,
    answers_on_one_connection_keep_their_bounds,
);

fn digest_header(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

impl TestApp {
    async fn upload_master(&self, token: &str, program_id: &str, body: Vec<u8>) -> Value {
        let r = self
            .put_file(token, program_id, "master", "video/mp4", "Thời sự tối.mp4", body)
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    async fn download(&self, token: &str, program_id: &str, role: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self.request(
            Method::GET,
            Some(token),
            &format!("/api/v1/programs/{program_id}/files/{role}"),
        );
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }

    /// Waits (a few seconds at most) for the store to hold exactly `n` objects.
    async fn settle_to(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let keys = self.stored_keys().await;
            if keys.len() == n && self.count("media_uploads") == 0 {
                return keys;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the store holds {:?}, {} uploads pending; expected {n} objects",
            self.stored_keys().await,
            self.count("media_uploads")
        );
    }
}

async fn round_trip_across_several_parts(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Thời sự tối")).await;
    let body = bytes(2 * PART + 12_345, 1);
    let sha = hex::encode(Sha256::digest(&body));
    let r = app
        .request(
            Method::PUT,
            Some(&tn),
            &format!("/api/v1/programs/{}/files/master", id(&p)),
        )
        .header("Content-Type", "video/mp4")
        .header(
            "Content-Disposition",
            "attachment; filename=\"Thoi su toi.mp4\"; filename*=UTF-8''Th%E1%BB%9Di%20s%E1%BB%B1%20t%E1%BB%91i.mp4",
        )
        .header("Content-Digest", digest_header(&body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let record: Value = r.json().await.unwrap();
    assert_eq!(
        record,
        json!({"role": "master", "filename": "Thời sự tối.mp4", "media_type": "video/mp4", "size": body.len(), "sha256": sha,
            "analysis": {"state": "pending"}})
    );
    let got = app.program_json(&tn, &p).await;
    assert_eq!(got["files"], json!([record]));

    let cb = app.station("cao-bang", "provincial").await;
    let r = app
        .post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.download(&cb, id(&p), "master", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["etag"], format!("\"{sha}\"").as_str());
    assert_eq!(h["content-type"], "video/mp4");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-length"], body.len().to_string().as_str());
    assert_eq!(h["repr-digest"], digest_header(&body).as_str());
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"Thoi su toi.mp4\"; filename*=UTF-8''Th%E1%BB%9Di%20s%E1%BB%B1%20t%E1%BB%91i.mp4"
    );
    assert!(r.bytes().await.unwrap() == body, "the bytes come back exactly");

    let r = app
        .request(
            Method::HEAD,
            Some(&cb),
            &format!("/api/v1/programs/{}/files/master", id(&p)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], body.len().to_string().as_str());
    assert_eq!(r.headers()["etag"], format!("\"{sha}\"").as_str());
    assert!(r.bytes().await.unwrap().is_empty());

    let metrics = app.text("/metrics").await;
    assert!(
        metrics.contains(&format!("pxhub_bytes_received_total {}", body.len())),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("pxhub_bytes_sent_total {}", body.len())),
        "{metrics}"
    );
    assert!(metrics.contains("pxhub_uploads_in_progress 0"), "{metrics}");
    assert!(
        metrics.contains("pxhub_http_requests_total{method=\"PUT\",status=\"201\"} 1"),
        "{metrics}"
    );
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

async fn byte_ranges_are_exact(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Phóng sự")).await;
    let body = bytes(PART + 1000, 2);
    let n = body.len();
    app.upload_master(&tn, id(&p), body.clone()).await;
    let cases: Vec<(String, std::ops::Range<usize>)> = vec![
        ("bytes=0-99".into(), 0..100),
        (format!("bytes={}-{}", PART - 10, PART + 9), PART - 10..PART + 10),
        (format!("bytes={}-", n - 300), n - 300..n),
        ("bytes=-500".into(), n - 500..n),
        (format!("bytes={}-{}", n - 1, n + 5000), n - 1..n),
        ("bytes=0-0".into(), 0..1),
    ];
    for (range, expected) in cases {
        let r = app.download(&tn, id(&p), "master", &[("Range", &range)]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {}-{}/{n}", expected.start, expected.end - 1).as_str(),
            "{range}"
        );
        assert_eq!(r.headers()["content-length"], expected.len().to_string().as_str());
        assert!(r.headers().get("repr-digest").is_none());
        assert!(r.bytes().await.unwrap() == body[expected.clone()], "{range}");
    }
    for range in [
        format!("bytes={n}-"),
        format!("bytes={}-{}", n + 10, n + 20),
        "bytes=-0".into(),
    ] {
        let r = app.download(&tn, id(&p), "master", &[("Range", &range)]).await;
        assert_eq!(r.headers()["content-range"], format!("bytes */{n}").as_str());
        assert_problem(r, StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable").await;
    }
    // Several ranges, or nonsense: the whole file.
    for range in ["bytes=0-1,5-9", "lines=1-2", "bytes=9-1"] {
        let r = app.download(&tn, id(&p), "master", &[("Range", range)]).await;
        assert_eq!(r.status(), StatusCode::OK, "{range}");
        assert_eq!(r.bytes().await.unwrap().len(), n);
    }
}

async fn ranges_to_the_end_of_64_bits_are_clamped(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Phóng sự")).await;
    let body = bytes(3000, 4);
    let n = body.len();
    app.upload_master(&tn, id(&p), body.clone()).await;
    // RFC 9110: a last-byte-pos past the end means the last byte; the
    // largest u64 used to overflow (500 on GET, a bogus length on HEAD).
    for (range, from) in [
        ("bytes=0-18446744073709551615", 0),
        ("bytes=5-18446744073709551615", 5),
        ("bytes=5-184467440737095516150000", 5),
        ("bytes=-18446744073709551615", 0),
    ] {
        for method in [Method::GET, Method::HEAD] {
            let r = app
                .request(
                    method.clone(),
                    Some(&tn),
                    &format!("/api/v1/programs/{}/files/master", id(&p)),
                )
                .header("Range", range)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{method} {range}");
            assert_eq!(
                r.headers()["content-range"],
                format!("bytes {from}-{}/{n}", n - 1).as_str(),
                "{method} {range}"
            );
            assert_eq!(r.headers()["content-length"], (n - from).to_string().as_str());
            let got = r.bytes().await.unwrap();
            if method == Method::GET {
                assert!(got == body[from..], "{range}");
            } else {
                assert!(got.is_empty());
            }
        }
    }
    let r = app
        .download(&tn, id(&p), "master", &[("Range", "bytes=18446744073709551615-")])
        .await;
    assert_eq!(r.headers()["content-range"], format!("bytes */{n}").as_str());
    assert_problem(r, StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable").await;
}

async fn conditional_requests(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Phóng sự")).await;
    let body = bytes(100_000, 3);
    let record = app.upload_master(&tn, id(&p), body.clone()).await;
    let etag = format!("\"{}\"", record["sha256"].as_str().unwrap());
    let r = app.download(&tn, id(&p), "master", &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()["etag"], etag.as_str());
    let r = app
        .download(&tn, id(&p), "master", &[("If-None-Match", "\"something-else\"")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // If-Range: the range only while the file is the same.
    let r = app
        .download(&tn, id(&p), "master", &[("Range", "bytes=10-19"), ("If-Range", &etag)])
        .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert!(r.bytes().await.unwrap() == body[10..20]);
    let r = app
        .download(
            &tn,
            id(&p),
            "master",
            &[("Range", "bytes=10-19"), ("If-Range", "\"an-older-file\"")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().len(), body.len());
}

async fn file_names_come_from_the_query_too(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Bìa")).await;
    let r = app
        .request(
            Method::PUT,
            Some(&tn),
            &format!(
                "/api/v1/programs/{}/files/artwork?filename=%E1%BA%A2nh%20b%C3%ACa%20%C4%90%C3%A0i.png",
                id(&p)
            ),
        )
        .header("Content-Type", "image/png")
        .body(bytes(5000, 4))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["filename"], "Ảnh bìa Đài.png");
    let r = app.download(&tn, id(&p), "artwork", &[]).await;
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"Anh bia Dai.png\"; filename*=UTF-8''%E1%BA%A2nh%20b%C3%ACa%20%C4%90%C3%A0i.png"
    );
    // A path in the name keeps only its last part.
    let r = app
        .put_file(
            &tn,
            id(&p),
            "script",
            "application/pdf",
            "../../etc/kịch bản.pdf",
            bytes(100, 5),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["filename"], "kịch bản.pdf");
}

async fn digest_mismatch_stores_nothing(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Sai")).await;
    let body = bytes(PART + 7, 6);
    let r = app
        .request(
            Method::PUT,
            Some(&tn),
            &format!("/api/v1/programs/{}/files/master?filename=a.mp4", id(&p)),
        )
        .header("Content-Type", "video/mp4")
        .header("Content-Digest", digest_header(b"something else"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "digest_mismatch").await;
    for bad in ["sha-256=:bm90IDMyIGJ5dGVz:", "sha-256=nope"] {
        let r = app
            .request(
                Method::PUT,
                Some(&tn),
                &format!("/api/v1/programs/{}/files/master?filename=a.mp4", id(&p)),
            )
            .header("Content-Type", "video/mp4")
            .header("Content-Digest", bad)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "invalid_digest").await;
    }
    app.settle_to(0).await;
    assert_eq!(app.count("media_objects"), 0);
    assert_eq!(app.count("program_files"), 0);
    let got = app.program_json(&tn, &p).await;
    assert_eq!(got["files"], json!([]));
}

async fn oversized_uploads_store_nothing(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Quá lớn")).await;
    let limit = app.settings.max_upload_bytes as usize;
    // Announced too large: refused before a byte is stored.
    let r = app
        .put_file(&tn, id(&p), "master", "video/mp4", "big.mp4", bytes(limit + 1, 7))
        .await;
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Not announced (chunked): refused as the bytes arrive.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..(limit / MIB + 2)).map(|i| Ok(bytes(MIB, i as u32))).collect();
    let r = app
        .request(
            Method::PUT,
            Some(&tn),
            &format!("/api/v1/programs/{}/files/master?filename=big.mp4", id(&p)),
        )
        .header("Content-Type", "video/mp4")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await;
    // The hub may answer before the client has sent everything and close.
    if let Ok(r) = r {
        assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    app.settle_to(0).await;
    assert_eq!(app.count("program_files"), 0);
    assert_eq!(app.count("media_objects"), 0);
}

async fn a_client_that_disconnects_leaves_nothing(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Mất kết nối")).await;
    for sent in [1, PART / 2, PART + 3, 2 * PART] {
        let addr = app.address.trim_start_matches("http://").to_owned();
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "PUT /api/v1/programs/{}/files/master?filename=a.mp4 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tn}\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\n\r\n",
            id(&p),
            3 * PART
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&bytes(sent, 8)).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(s);
        app.settle_to(0).await;
        assert_eq!(app.count("program_files"), 0, "after {sent} bytes");
        assert_eq!(app.count("media_objects"), 0, "after {sent} bytes");
    }
    if let Some(root) = app.settings.media_path() {
        let blobs = root.join("blobs");
        let left: Vec<_> = std::fs::read_dir(&blobs)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "staging files left: {left:?}");
    }
}

async fn the_same_bytes_are_stored_once(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let a = app.create_program(&tn, &program("Một")).await;
    let b = app.create_program(&cb, &program("Hai")).await;
    let body = bytes(PART + 99, 9);
    let ra = app.upload_master(&tn, id(&a), body.clone()).await;
    let rb = app.upload_master(&cb, id(&b), body.clone()).await;
    assert_eq!(ra["sha256"], rb["sha256"]);
    // Also the same bytes in another role of the same program.
    let r = app
        .put_file(&tn, id(&a), "preview", "video/mp4", "xem thử.mp4", body.clone())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.settle_to(1).await.len(), 1);
    assert_eq!(app.count("media_objects"), 1);
    for (t, p) in [(&tn, &a), (&cb, &b)] {
        assert!(app.download(t, id(p), "master", &[]).await.bytes().await.unwrap() == body);
    }
}

async fn shared_objects_outlive_one_of_their_files(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let a = app.create_program(&tn, &program("Một")).await;
    let b = app.create_program(&tn, &program("Hai")).await;
    let body = bytes(20_000, 10);
    app.upload_master(&tn, id(&a), body.clone()).await;
    app.upload_master(&tn, id(&b), body.clone()).await;
    let r = app
        .delete(&tn, &format!("/api/v1/programs/{}/files/master", id(&a)))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.download(&tn, id(&a), "master", &[]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.settle_to(1).await;
    assert!(app.download(&tn, id(&b), "master", &[]).await.bytes().await.unwrap() == body);
    let r = app
        .delete(&tn, &format!("/api/v1/programs/{}/files/master", id(&b)))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    app.settle_to(0).await;
    assert_eq!(app.count("media_objects"), 0);
    let r = app
        .delete(&tn, &format!("/api/v1/programs/{}/files/master", id(&b)))
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

async fn replacing_a_file_releases_the_old_object(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Bản mới")).await;
    app.upload_master(&tn, id(&p), bytes(10_000, 11)).await;
    let newer = bytes(12_000, 12);
    let r = app
        .put_file(&tn, id(&p), "master", "audio/mpeg", "bản mới.mp3", newer.clone())
        .await;
    assert_eq!(r.status(), StatusCode::OK, "a replacement answers 200");
    assert_eq!(r.json::<Value>().await.unwrap()["filename"], "bản mới.mp3");
    app.settle_to(1).await;
    assert!(app.download(&tn, id(&p), "master", &[]).await.bytes().await.unwrap() == newer);
    // Published programs take new files too; only drafts lose them.
    let r = app
        .post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .delete(&tn, &format!("/api/v1/programs/{}/files/master", id(&p)))
        .await;
    assert_problem(r, StatusCode::CONFLICT, "not_a_draft").await;
    let r = app
        .put_file(&tn, id(&p), "master", "audio/mpeg", "bản sửa.mp3", bytes(13_000, 13))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.settle_to(1).await;
}

async fn deleting_a_draft_removes_its_objects(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Xoá")).await;
    app.upload_master(&tn, id(&p), bytes(10_000, 14)).await;
    app.put_file(
        &tn,
        id(&p),
        "subtitle",
        "text/vtt",
        "phụ đề.vtt",
        "WEBVTT\n\n00:00.000 --> 00:01.000\nXin chào\n".as_bytes().to_vec(),
    )
    .await;
    app.settle_to(2).await;
    let r = app.delete(&tn, &format!("/api/v1/programs/{}", id(&p))).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    app.settle_to(0).await;
    assert_eq!(app.count("media_objects"), 0);
}

async fn the_sweeper_removes_leftovers(mut app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Giữ lại")).await;
    let kept = bytes(10_000, 15);
    app.upload_master(&tn, id(&p), kept.clone()).await;
    let media = app.media();
    // An object no record points to, and one a crashed upload left.
    let mut orphan = media.writer(&pxhub::media::MediaStore::new_key()).await.unwrap();
    orphan.write(bytes(1000, 16).into()).await.unwrap();
    orphan.finish().await.unwrap();
    let crashed = pxhub::media::MediaStore::new_key();
    let mut w = media.writer(&crashed).await.unwrap();
    w.write(bytes(1000, 17).into()).await.unwrap();
    w.finish().await.unwrap();
    rusqlite::Connection::open(app.catalog_path())
        .unwrap()
        .execute("INSERT INTO media_uploads (key, started_at) VALUES (?1, 0)", [&crashed])
        .unwrap();
    // A local staging file of a write that never completed.
    let staging = app.settings.media_path().map(|root| {
        let path = root.join("blobs").join("0123456789abcdef#1");
        std::fs::write(&path, b"half").unwrap();
        path
    });
    assert_eq!(app.stored_keys().await.len(), 3);

    app.restart().await;
    app.settle_to(1).await;
    if let Some(path) = staging {
        for _ in 0..100 {
            if !path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!path.exists(), "the staging file is swept");
    }
    assert!(app.download(&tn, id(&p), "master", &[]).await.bytes().await.unwrap() == kept);
}

async fn scrub_finds_a_corrupted_object(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Kiểm tra")).await;
    let body = bytes(PART + 10, 18);
    app.upload_master(&tn, id(&p), body.clone()).await;
    let scrub = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"));
        cmd.arg("--data-dir").arg(&app.settings.data_dir).arg("scrub");
        cmd.envs(crate::helpers::storage_env(&app.settings.storage));
        cmd.output().unwrap()
    };
    let o = scrub();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("checked 1 objects"));

    // Flip one byte in the middle of the stored object.
    let key = app.stored_keys().await.remove(0);
    let mut corrupt = body.clone();
    corrupt[PART / 2] ^= 0xff;
    let mut w = app.media().writer(&key).await.unwrap();
    w.write(corrupt.into()).await.unwrap();
    w.finish().await.unwrap();
    let o = scrub();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&key) && out.contains("SHA-256"), "{out}");

    app.media().delete(&key).await.unwrap();
    let o = scrub();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("missing"));
}

async fn uploads_are_checked_before_a_byte_is_stored(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Kiểm tra")).await;
    let path = format!("/api/v1/programs/{}/files/master", id(&p));
    let put = |token: &str, path: &str, media_type: Option<&str>, disposition: Option<&str>| {
        let mut r = app.request(Method::PUT, Some(token), path).body(bytes(1000, 19));
        if let Some(m) = media_type {
            r = r.header("Content-Type", m);
        }
        if let Some(d) = disposition {
            r = r.header("Content-Disposition", d);
        }
        r.send()
    };
    let named = Some("attachment; filename=\"a.mp4\"");
    for media_type in [
        None,
        Some("image/png"),
        Some("application/octet-stream"),
        Some("nonsense"),
    ] {
        let r = put(&tn, &path, media_type, named).await.unwrap();
        assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    }
    let r = put(&tn, &path, Some("video/mp4"), None).await.unwrap();
    let prob = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&prob), ["filename"]);
    let r = put(
        &tn,
        &format!("/api/v1/programs/{}/files/poster", id(&p)),
        Some("image/png"),
        named,
    )
    .await
    .unwrap();
    let prob = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&prob), ["role"]);
    let r = put(&tn, &format!("{path}?name=a.mp4"), Some("video/mp4"), None)
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = app
        .request(Method::PUT, Some(&tn), &format!("{path}?filename=empty.mp4"))
        .header("Content-Type", "video/mp4")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // Someone else's draft: not found; someone else's published program: forbidden.
    let r = put(&cb, &path, Some("video/mp4"), named).await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = put(
        &tn,
        "/api/v1/programs/6f9619ff-8b86-4011-b42d-00c04fc964ff/files/master",
        Some("video/mp4"),
        named,
    )
    .await
    .unwrap();
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.request(Method::PUT, None, &path).body("x").send().await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.upload_master(&tn, id(&p), bytes(1000, 20)).await;
    app.post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
        .await;
    let r = put(&cb, &path, Some("video/mp4"), named).await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", id(&p)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = put(&tn, &path, Some("video/mp4"), named).await.unwrap();
    assert_problem(r, StatusCode::CONFLICT, "invalid_status").await;
    app.settle_to(1).await;
    assert_eq!(app.count("program_files"), 1);
}

async fn downloads_follow_the_rights(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let with_window = |from: &str, until: Option<&str>| {
        let mut p = program("Cửa sổ");
        p["rights"] = json!({"available_from": from, "available_until": until});
        p
    };
    let body = bytes(3000, 21);
    let mut ids = Vec::new();
    for p in [
        with_window("2020-01-01T00:00:00Z", Some("2021-01-01T00:00:00Z")),
        with_window("2999-01-01T00:00:00Z", None),
    ] {
        let p = app.create_program(&tn, &p).await;
        app.upload_master(&tn, id(&p), body.clone()).await;
        app.post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
            .await;
        ids.push(id(&p).to_owned());
    }
    for p in &ids {
        assert_problem(
            app.download(&cb, p, "master", &[]).await,
            StatusCode::FORBIDDEN,
            "rights_window_closed",
        )
        .await;
        // The origin station and the admin always may.
        assert!(app.download(&tn, p, "master", &[]).await.bytes().await.unwrap() == body);
        assert_eq!(
            app.download(&app.admin, p, "master", &[]).await.status(),
            StatusCode::OK
        );
    }
    let open = app.create_program(&tn, &program("Mở")).await;
    app.upload_master(&tn, id(&open), body.clone()).await;
    // A draft is nobody else's business.
    assert_problem(
        app.download(&cb, id(&open), "master", &[]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.post(&tn, &format!("/api/v1/programs/{}/publish", id(&open)), &json!({}))
        .await;
    assert_eq!(
        app.download(&cb, id(&open), "master", &[]).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.download(&cb, id(&open), "preview", &[]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.download(&cb, id(&open), "poster", &[]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.post(
        &tn,
        &format!("/api/v1/programs/{}/withdraw", id(&open)),
        &json!({"reason": "rút"}),
    )
    .await;
    assert_problem(
        app.download(&cb, id(&open), "master", &[]).await,
        StatusCode::GONE,
        "withdrawn",
    )
    .await;
    let r = app
        .request(
            Method::HEAD,
            Some(&cb),
            &format!("/api/v1/programs/{}/files/master", id(&open)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(
        app.download(&tn, id(&open), "master", &[]).await.status(),
        StatusCode::OK
    );
}

/// A link that goes silent mid-upload (no reset): the hub gives up after
/// `upload_idle_secs`, answers `upload_incomplete` and stores nothing.
#[tokio::test]
async fn a_silent_upload_is_answered_incomplete_and_stores_nothing() {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn_with(|s| s.upload_idle_secs = 1).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Im lặng")).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/programs/{}/files/master?filename=a.mp4 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tn}\r\nContent-Type: video/mp4\r\nContent-Length: 300000\r\n\r\n",
        id(&p)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&bytes(100_000, 12)).await.unwrap();
    s.flush().await.unwrap();
    // The connection stays open and says nothing more; the answer comes.
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut answer))
        .await
        .expect("an answer within the idle limit")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"upload_incomplete\""), "{answer}");
    drop(s);
    app.settle_to(0).await;
    assert_eq!(app.count("program_files"), 0);
    assert_eq!(app.count("media_objects"), 0);
    assert_eq!(app.program_json(&tn, &p).await["files"], json!([]));
}

/// The head of an answer read off a connection: its status and `Content-Length`.
async fn answer_head(conn: &mut BufReader<tokio::net::TcpStream>) -> (u16, usize) {
    let mut status = String::new();
    conn.read_line(&mut status).await.unwrap();
    let code = status
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{status:?}"));
    let mut length = 0;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            return (code, length);
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
}

/// One answer read off a connection: its status and body (none for a `HEAD`).
async fn answer(conn: &mut BufReader<tokio::net::TcpStream>, head_only: bool) -> (u16, Vec<u8>) {
    let (code, length) = answer_head(conn).await;
    let mut body = vec![0; if head_only { 0 } else { length }];
    conn.read_exact(&mut body).await.unwrap();
    (code, body)
}

/// Downloads sent straight from the file to the socket leave the connection
/// as actix-http's own answers do: answers asked for together (pipelined)
/// come whole and in order, and the connection serves the next requests (a
/// HEAD among them, which carries no body; actix-http cannot answer a HEAD
/// pipelined with another request, so it comes alone).
async fn answers_on_one_connection_keep_their_bounds(app: TestApp) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Cùng một kết nối")).await;
    let body = bytes(PART + 1000, 21);
    app.upload_master(&tn, id(&p), body.clone()).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let path = format!("/api/v1/programs/{}/files/master", id(&p));
    let ask = |method: &str, range: &str| {
        let range = if range.is_empty() {
            String::new()
        } else {
            format!("Range: {range}\r\n")
        };
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tn}\r\n{range}\r\n")
    };
    let mut conn = BufReader::new(tokio::net::TcpStream::connect(&addr).await.unwrap());
    let asked = [
        ask("GET", ""),
        ask("GET", "bytes=10-99"),
        ask("GET", ""),
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned(),
    ];
    conn.get_mut().write_all(asked.concat().as_bytes()).await.unwrap();
    let (code, got) = answer(&mut conn, false).await;
    assert!(code == 200 && got == body, "{code}, {} bytes", got.len());
    let (code, got) = answer(&mut conn, false).await;
    assert!(code == 206 && got == body[10..100], "{code}, {} bytes", got.len());
    let (code, got) = answer(&mut conn, false).await;
    assert!(code == 200 && got == body, "{code}, {} bytes", got.len());
    assert_eq!(answer(&mut conn, false).await.0, 200);
    // And after a pause, more on the same connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.get_mut().write_all(ask("HEAD", "").as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, true).await.0, 200);
    conn.get_mut()
        .write_all(ask("GET", "bytes=-5").as_bytes())
        .await
        .unwrap();
    let (code, got) = answer(&mut conn, false).await;
    assert!(code == 206 && got == body[body.len() - 5..], "{code}, {got:?}");
}

/// A stored file cut short while it is being sent (by hand, or by a failing
/// disk) breaks the download off: the connection closes, and the client
/// never takes a short file, or the next answer's bytes, for a whole one.
#[tokio::test]
async fn a_file_cut_short_while_sent_breaks_the_download_off() {
    let app = crate::helpers::local_app().await.unwrap();
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Cắt ngắn")).await;
    let size = 48 * MIB;
    app.upload_master(&tn, id(&p), bytes(size, 22)).await;
    let key = app.settle_to(1).await.remove(0);
    let stored = app.settings.media_path().unwrap().join(key);

    // The download and, behind it on the same connection, another request.
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut conn = BufReader::new(tokio::net::TcpStream::connect(&addr).await.unwrap());
    let asked = format!(
        "GET /api/v1/programs/{}/files/master HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tn}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        id(&p)
    );
    conn.get_mut().write_all(asked.as_bytes()).await.unwrap();
    assert_eq!(answer_head(&mut conn).await, (200, size));
    let mut block = vec![0; 64 * 1024];
    let mut got = 0;
    while got < MIB {
        got += conn.read(&mut block).await.unwrap();
    }
    // At most a few MiB are on their way (socket buffers): the hub is still sending.
    let cut = 24 * MIB;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&stored)
        .unwrap()
        .set_len(cut as u64)
        .unwrap();
    let rest = async {
        loop {
            match conn.read(&mut block).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), rest)
        .await
        .expect("the connection stayed open");
    assert!(got <= cut, "{got} bytes came where the file had {cut}");

    // A new download of the short file fails too; the hub still serves.
    let r = app.download(&tn, id(&p), "master", &[]).await;
    assert!(r.bytes().await.is_err());
    assert_eq!(app.get(&tn, "/healthz").await.status(), StatusCode::OK);
}
