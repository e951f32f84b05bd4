//! What keeps one client from holding the hub: upload pace and caps, the
//! size of a request's head, and the headers every answer carries.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{assert_problem, bytes, id, program, TestApp};

/// A raw single-request upload of `length` bytes, of which `first` are sent
/// at once; the caller decides what happens next.
async fn raw_put(app: &TestApp, token: &str, program: &str, length: usize, first: usize) -> tokio::net::TcpStream {
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/programs/{program}/files/master?filename=a.mp4 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: video/mp4\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&bytes(first, 3)).await.unwrap();
    s.flush().await.unwrap();
    s
}

async fn wait_for_uploads(app: &TestApp, n: u64) {
    app.wait_for_metric("pxhub_uploads_in_progress", n).await;
}

/// A byte every fraction of a second passes the idle limit; the average-rate
/// floor ends it after the grace period.
#[tokio::test]
async fn a_trickling_upload_is_dropped_after_its_grace() {
    let app = TestApp::spawn_with(|s| {
        s.upload_idle_secs = 60;
        s.upload_min_rate = 10_000;
        s.upload_rate_grace_secs = 1;
    })
    .await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Nhỏ giọt")).await;
    let s = raw_put(&app, &tn, id(&p), 300_000, 1000).await;
    let (mut read, mut write) = s.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..300 {
            if write.write_all(&[7]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), read.read(&mut answer))
        .await
        .expect("an answer well before the trickle ends")
        .unwrap();
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"upload_incomplete\""), "{answer}");
    wait_for_uploads(&app, 0).await;
    assert_eq!(app.count("program_files"), 0);
}

/// Past `max_uploads_per_station` uploads at once, a station gets 429 with
/// `Retry-After`; other stations are not held up, and a finished upload
/// frees its place.
#[tokio::test]
async fn concurrent_uploads_are_capped_per_station() {
    let app = TestApp::spawn_with(|s| s.max_uploads_per_station = 2).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Một")).await;
    let q = app.create_program(&cb, &program("Hai")).await;
    let held = [
        raw_put(&app, &tn, id(&p), 100_000, 10).await,
        raw_put(&app, &tn, id(&p), 100_000, 10).await,
    ];
    wait_for_uploads(&app, 2).await;
    let r = app.put_master(&tn, id(&p), "b.mp4", bytes(1000, 1)).await;
    assert_eq!(r.headers()["retry-after"], "10");
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "too_many_uploads").await;
    let r = app.put_master(&cb, id(&q), "c.mp4", bytes(1000, 2)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    drop(held);
    wait_for_uploads(&app, 0).await;
    let r = app.put_master(&tn, id(&p), "b.mp4", bytes(1000, 1)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Overlong targets and headers get a problem document, not an empty body.
#[tokio::test]
async fn an_oversized_head_gets_a_problem_document() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let long = "a".repeat(20 * 1024);
    let r = app.get(&tn, &format!("/api/v1/programs?q={long}")).await;
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_problem(r, StatusCode::URI_TOO_LONG, "uri_too_long").await;
    let mut req = app.request(Method::GET, Some(&tn), "/api/v1/me");
    for i in 0..8 {
        req = req.header(format!("x-filler-{i}"), "b".repeat(10 * 1024));
    }
    let r = req.send().await.unwrap();
    assert_problem(r, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large").await;
    // Just under the limits: answered as usual.
    let r = app.get(&tn, &format!("/api/v1/programs?q={}", "a".repeat(400))).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Sends `head` raw on a new connection (after `before`, a request answered
/// first on the same connection) and reads every answer until the hub closes.
async fn raw_exchange(app: &TestApp, before: &str, head: &[u8]) -> String {
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(before.as_bytes()).await.unwrap();
    // The whole head may not be read before the answer: a write cut short
    // by the hub's close is part of the test.
    let _ = s.write_all(head).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Heads that actix-http would refuse on its own, with a bare status and no
/// body, are refused with a problem document, after the answers before them.
#[tokio::test]
async fn heads_past_the_http_layer_get_problem_documents() {
    let app = TestApp::spawn().await;
    let first = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        // A request line of 80 KB: actix-http's URI type holds 64 KiB.
        (
            format!(
                "GET /api/v1/programs?q={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
                "a".repeat(80_000)
            )
            .into_bytes(),
            "414",
            "uri_too_long",
        ),
        // 130 KB of headers: past actix-http's 128 KiB buffer.
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nx-filler: {}\r\n\r\n",
                "b".repeat(130_000)
            )
            .into_bytes(),
            "431",
            "headers_too_large",
        ),
        // 120 headers: actix-http reads 96.
        (
            format!(
                "GET /healthz HTTP/1.1\r\n{}\r\n",
                (0..120).map(|i| format!("x-{i}: 1\r\n")).collect::<String>()
            )
            .into_bytes(),
            "431",
            "headers_too_large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nno colon\r\n\r\n".to_vec(),
            "400",
            "bad_request",
        ),
        (
            b"G\x01T /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            "400",
            "bad_request",
        ),
        // HTTP/1.1 without Host, which actix-http refuses on its own.
        (b"GET /healthz HTTP/1.1\r\n\r\n".to_vec(), "400", "bad_request"),
    ];
    for (head, status, code) in cases {
        let answer = raw_exchange(&app, first, &head).await;
        let (ok, refusal) = answer.split_once("\r\n\r\n").expect("two answers");
        assert!(ok.starts_with("HTTP/1.1 200"), "{answer}");
        let refusal = &refusal[refusal.find("HTTP/1.1").expect("a second answer")..];
        assert!(refusal.starts_with(&format!("HTTP/1.1 {status}")), "{refusal}");
        assert!(refusal.contains("application/problem+json"), "{refusal}");
        assert!(refusal.contains(&format!("\"code\":\"{code}\"")), "{refusal}");
        assert!(refusal.contains("x-content-type-options: nosniff"), "{refusal}");
    }
    // The guard lets a body that looks like a head pass as bytes.
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Đầu giả")).await;
    let body = format!("GET /{} HTTP/1.1\r\n\r\n", "c".repeat(100_000)).into_bytes();
    let r = app.put_master(&tn, id(&p), "a.mp4", body.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get(&tn, &format!("/api/v1/programs/{}/files/master", id(&p))).await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), body);
}

/// Downloads (and every other answer) tell browsers not to guess types.
#[tokio::test]
async fn answers_carry_nosniff() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Tệp")).await;
    let r = app.put_master(&tn, id(&p), "a.mp4", bytes(1000, 1)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get(&tn, &format!("/api/v1/programs/{}/files/master", id(&p))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r = app.get(&tn, "/api/v1/nowhere").await;
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

/// With a metrics token, `/metrics` answers only to it.
#[tokio::test]
async fn metrics_can_be_guarded_by_a_token() {
    let app = TestApp::spawn_with(|s| s.metrics_token = pxhub::config::Secret::new("m3tr1cs-s3cret")).await;
    let url = format!("{}/metrics", app.address);
    let r = app.client.get(&url).send().await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = app.client.get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.client.get(&url).bearer_auth(&app.admin).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "an API token is not the metrics token"
    );
    let r = app.client.get(&url).bearer_auth("m3tr1cs-s3cret").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("pxhub_uploads_in_progress"));
}

/// Feed links name the configured address, whatever Host or
/// X-Forwarded-* a client sends.
#[tokio::test]
async fn feed_links_never_come_from_the_request() {
    for public in [None, Some("https://hub.example.vn")] {
        let app = TestApp::spawn_with(|s| {
            if let Some(p) = public {
                s.public_url = p.to_owned();
            }
        })
        .await;
        let vtv = app.station("vtv", "national").await;
        let r = app
            .request(Method::GET, Some(&vtv), "/api/v1/feed.atom")
            .header("Host", "evil.example")
            .header("X-Forwarded-Host", "evil.example")
            .header("X-Forwarded-Proto", "https")
            .header("Forwarded", "host=evil.example;proto=https")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert!(!text.contains("evil.example"), "{text}");
        let base = public.map_or(app.address.clone(), str::to_owned);
        assert!(text.contains(&format!("href=\"{base}/api/v1/feed.atom\"")), "{text}");
    }
}
