//! Follows, and the feed, Atom and webhooks of every station.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::feed::{start_receiver, wait_for, Receiver};
use crate::helpers::{assert_problem, fields, id, program, TestApp};
use crate::webhooks::refused_webhook;

async fn follow(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post(token, "/api/v1/follows", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{body}: {}", r.text().await.unwrap());
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/api/v1/follows/"));
    r.json().await.unwrap()
}

async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get(token, "/api/v1/follows").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

/// Every event of `token`'s feed, a page of `limit` at a time.
async fn drain(app: &TestApp, token: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let r = app
            .get(token, &format!("/api/v1/feed?limit={limit}{query}{after}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        let items = page["items"].as_array().unwrap().clone();
        after = format!("&after={}", page["next_cursor"].as_str().unwrap());
        if items.is_empty() {
            return out;
        }
        out.extend(items);
    }
}

fn episode(title: &str, series: &str) -> Value {
    let mut p = program(title);
    p["series"] = json!(series);
    p["genre"] = json!("agriculture");
    p
}

#[tokio::test]
async fn a_station_follows_unfollows_and_bad_follows_change_nothing() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;

    let f = follow(&app, &cb, json!({"kind": "series", "value": "Nông nghiệp xanh"})).await;
    assert_eq!(f["kind"], "series");
    assert_eq!(f["value"], "Nông nghiệp xanh");
    assert_eq!(f["deliver"], false);
    assert_eq!(f["roles"], json!(["master"]));
    assert!(f["created_at"].is_string() && f["id"].is_string());
    let s = follow(
        &app,
        &cb,
        json!({"kind": "search", "value": "q=phong+su&genre=report", "deliver": true, "roles": ["master", "script"]}),
    )
    .await;
    assert_eq!(s["roles"], json!(["master", "script"]));
    follow(&app, &cb, json!({"kind": "station", "value": "thai-nguyen"})).await;
    follow(&app, &cb, json!({"kind": "genre", "value": "news"})).await;

    // The same series however it is written: once.
    let r = app
        .post(
            &cb,
            "/api/v1/follows",
            &json!({"kind": "series", "value": "NONG NGHIEP  xanh"}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT, "already_following").await;

    let long = format!("q={}", "a".repeat(1000));
    for (body, field) in [
        (json!({"kind": "station", "value": "ha-giang"}), "value"),
        (json!({"kind": "station", "value": "Hà Giang"}), "value"),
        (json!({"kind": "search", "value": ""}), "value"),
        (json!({"kind": "search", "value": "   "}), "value"),
        (json!({"kind": "search", "value": long}), "value"),
        (json!({"kind": "search", "value": "colour=red"}), "value"),
        (json!({"kind": "search", "value": "sort=newest"}), "value"),
        (json!({"kind": "search", "value": "genre=gardening"}), "value"),
        (json!({"kind": "genre", "value": "gardening"}), "value"),
        (json!({"kind": "series", "value": "!!!"}), "value"),
        (json!({"kind": "series", "value": "a\u{202E}b"}), "value"),
        (json!({"kind": "program", "value": "x"}), "kind"),
        (json!({"kind": "series", "value": "x", "roles": ["poster"]}), "roles[0]"),
        (json!({"kind": "series", "value": "x", "roles": []}), "roles"),
        (json!({"kind": "series", "value": "x", "backfill": 51}), "backfill"),
    ] {
        let r = app.post(&cb, "/api/v1/follows", &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    assert_eq!(list(&app, &cb).await.len(), 4, "nothing changed");
    assert!(list(&app, &tn).await.is_empty(), "each station sees its own");

    // Someone else's follow is not found, and stays.
    let r = app.delete(&tn, &format!("/api/v1/follows/{}", id(&f))).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.delete(&cb, &format!("/api/v1/follows/{}", id(&f))).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(list(&app, &cb).await.len(), 3);
    let r = app.delete(&cb, &format!("/api/v1/follows/{}", id(&f))).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    // The operator follows nothing.
    let r = app
        .post(
            &app.admin,
            "/api/v1/follows",
            &json!({"kind": "genre", "value": "news"}),
        )
        .await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    // Nor has a feed of follows: refused as a station asking for the whole
    // feed is.
    let r = app.get(&app.admin, "/api/v1/feed?scope=follows").await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_stations_feed_holds_what_it_follows_and_may_see() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    app.station("lang-son", "provincial").await;
    let f = follow(&app, &cb, json!({"kind": "series", "value": "nong nghiep XANH"})).await;

    let one = app.published(&tn, &episode("Số 1", "Nông nghiệp xanh")).await;
    app.published(&tn, &episode("Khác", "Thời sự")).await;
    let mut hidden = episode("Chỉ Lạng Sơn", "Nông nghiệp xanh");
    hidden["rights"] = json!({"audience": "stations", "stations": ["lang-son"]});
    app.published(&tn, &hidden).await;
    let mut later = episode("Số 2", "Nông  nghiệp xanh!");
    later["rights"] = json!({"available_from": "2999-01-01T00:00:00Z"});
    let two = app.published(&tn, &later).await;
    let r = app
        .patch(
            &tn,
            &format!("/api/v1/programs/{}", id(&one)),
            &json!({"summary": "sửa"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Each followed event once, in order, a page of one at a time; never
    // the program outside the audience; the closed window with its date.
    let events = drain(&app, &cb, "", 1).await;
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["program_id"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            (id(&one), "program.published"),
            (id(&two), "program.published"),
            (id(&one), "program.updated")
        ]
    );
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(events[0]["follows"], json!([id(&f)]));
    assert_eq!(events[1]["program"]["can_download"], false);
    assert_eq!(events[1]["program"]["unavailable_reason"], "not_yet_available");
    assert_eq!(events[1]["program"]["rights"]["available_from"], "2999-01-01T00:00:00Z");

    // A station that follows nothing has an empty feed; the broadcaster
    // sees every event it may see, or what it follows when it asks.
    assert!(drain(&app, &tn, "", 20).await.is_empty());
    assert_eq!(drain(&app, &vtv, "", 20).await.len(), 4);
    assert!(drain(&app, &vtv, "&scope=follows", 20).await.is_empty());

    // The Atom feed holds the same programs, newest first.
    let r = app.get(&cb, "/api/v1/feed.atom").await;
    assert_eq!(r.status(), StatusCode::OK);
    let feed = atom_syndication::Feed::read_from(&r.bytes().await.unwrap()[..]).unwrap();
    let titles: Vec<&str> = feed.entries().iter().map(|e| e.title().as_str()).collect();
    assert_eq!(titles, ["Số 1", "Số 2", "Số 1"]);

    // Unfollowed: nothing more.
    app.delete(&cb, &format!("/api/v1/follows/{}", id(&f))).await;
    assert!(drain(&app, &cb, "", 20).await.is_empty());
}

#[tokio::test]
async fn a_late_joiner_back_fills_what_is_still_available() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let mut ids = Vec::new();
    for (n, rights) in [
        (1, json!({})),
        (2, json!({})),
        (3, json!({"available_until": "2001-01-01T00:00:00Z"})),
        (4, json!({"available_from": "2999-01-01T00:00:00Z"})),
    ] {
        let mut p = episode(&format!("Số {n}"), "Đường lên Mẫu Sơn");
        p["first_aired_at"] = json!(format!("2024-03-0{n}T11:00:00Z"));
        p["rights"] = rights;
        ids.push(app.published(&tn, &p).await["id"].as_str().unwrap().to_owned());
    }
    app.published(&tn, &program("Đường lên Mẫu Sơn (không phải chuyên mục)"))
        .await;
    let f = follow(
        &app,
        &cb,
        json!({"kind": "series", "value": "duong len mau son", "deliver": true, "backfill": 2}),
    )
    .await;
    assert_eq!(f["backfill"], 2);
    let r = app
        .get(&cb, &format!("/api/v1/follows/{}/programs?limit=2", id(&f)))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let got: Value = r.json().await.unwrap();
    let got: Vec<&str> = got["items"].as_array().unwrap().iter().map(id).collect();
    // Latest first aired first; the closed window left out, the one not
    // yet open kept (the agent waits for it).
    assert_eq!(got, [ids[3].as_str(), ids[1].as_str()]);
    let r = app.get(&tn, &format!("/api/v1/follows/{}/programs", id(&f))).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_stations_webhook_hears_only_what_it_follows_signed() {
    let app = TestApp::spawn_with(|s| s.webhook_retry_ms = 100).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    follow(&app, &cb, json!({"kind": "genre", "value": "agriculture"})).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    start_receiver(listener, receiver.clone());
    let secret = "bí mật của Cao Bằng, đủ dài";
    let r = app
        .post(
            &cb,
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["program.published"], "secret": secret}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    app.published(&tn, &program("Thời sự, không theo dõi")).await;
    let mut hidden = episode("Chỉ Lạng Sơn", "x");
    hidden["rights"] = json!({"audience": "stations", "stations": ["thai-nguyen"]});
    app.published(&tn, &hidden).await;
    let wanted = app.published(&tn, &episode("Nông nghiệp", "x")).await;
    wait_for(|| !receiver.got.lock().unwrap().is_empty()).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "only the followed program it may see");
    let (signature, _, kind, body) = &got[0];
    assert_eq!(kind, "program.published");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    assert_eq!(
        *signature,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["event"]["program_id"], wanted["id"]);
}

#[tokio::test]
async fn a_stations_webhook_to_loopback_is_refused_by_default() {
    let app = TestApp::spawn_with(|s| s.webhook_allow = String::new()).await;
    let cb = app.station("cao-bang", "provincial").await;
    for url in ["http://127.0.0.1:1/", "http://localhost:1/", "http://[::1]:1/"] {
        refused_webhook(&app, &cb, url).await;
    }
    let list: Value = app.get(&cb, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn a_station_that_stops_following_is_not_told_what_was_pending() {
    // A first attempt that fails, and a retry 3 s later: time to unfollow.
    let app = TestApp::spawn_with(|s| s.webhook_retry_ms = 3000).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let f = follow(&app, &cb, json!({"kind": "genre", "value": "agriculture"})).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    *receiver.fail.lock().unwrap() = 1;
    start_receiver(listener, receiver.clone());
    let hook: Value = app
        .post(
            &cb,
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["program.published"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    app.published(&tn, &episode("Nông nghiệp", "x")).await;
    let path = format!("/api/v1/webhooks/{}", id(&hook));
    let state = || async {
        let d: Value = app.get(&cb, &path).await.json().await.unwrap();
        d["deliveries"][0].clone()
    };
    for _ in 0..200 {
        if state().await["attempts"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state().await["state"], "pending");
    let r = app.delete(&cb, &format!("/api/v1/follows/{}", id(&f))).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for _ in 0..200 {
        if state().await["state"] != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let d = state().await;
    assert_eq!(d["state"], "failed", "{d}");
    assert!(receiver.got.lock().unwrap().is_empty());
}
